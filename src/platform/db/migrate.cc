// Migration runner shared by SQLite and PostgreSQL.
#include "platform/db/migrate.h"

#include <string_view>

namespace recur::db {
namespace {

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

std::vector<std::string> split_statements(const std::string& sql) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < sql.size()) {
    std::size_t end = sql.find(";\n", start);
    if (end == std::string::npos) end = sql.size();
    std::string stmt = sql.substr(start, end - start);
    if (stmt.find_first_not_of(" \n\t;") != std::string::npos) out.push_back(stmt);
    start = end + 2;
  }
  return out;
}

// Serializes migrators across processes: PostgreSQL by an advisory lock held until
// commit; SQLite by BEGIN IMMEDIATE, which the write transaction already is.
Status lock_migrations(Tx& tx) {
  if (tx.engine() == Engine::kPostgres) RECUR_TRY(tx.query("SELECT pg_advisory_xact_lock(727001)"));
  return Ok{};
}

Result<int> current_version(Tx& tx) {
  RECUR_TRY(tx.exec(kCreateTable));
  RECUR_ASSIGN(auto rows, tx.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  return static_cast<int>(rows.at(0).int64(0));
}

}  // namespace

Result<int> schema_version(Database& db) {
  RECUR_ASSIGN(auto tx, db.begin());
  RECUR_ASSIGN(int version, current_version(*tx));
  RECUR_TRY(tx->commit());
  return version;
}

Result<MigrationReport> migrate(Database& db, const std::vector<Migration>& migrations, Timestamp now) {
  MigrationReport report;
  int latest = migrations.empty() ? 0 : migrations.back().version;
  for (const auto& m : migrations) {
    RECUR_ASSIGN(auto tx, db.begin());
    RECUR_TRY(lock_migrations(*tx));
    RECUR_ASSIGN(int version, current_version(*tx));
    if (&m == &migrations.front()) report.from_version = version;
    if (version > latest)
      return Error::conflict("schema_too_new", "database schema is at version " + std::to_string(version) +
                                                   " but this recur knows only up to " + std::to_string(latest) +
                                                   "; upgrade recur before serving this database");
    if (m.version <= version) continue;
    for (const auto& stmt : split_statements(m.sql)) RECUR_TRY(tx->exec(stmt));
    if (m.rewrite) RECUR_TRY(m.rewrite(*tx));
    tx->rows_rewritten();  // what this process cached from the rows goes (every node's, on the bus)
    RECUR_TRY(tx->exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                       {std::int64_t{m.version}, m.name, format_rfc3339(now)}));
    RECUR_TRY(tx->commit());
    tx->run_after_commit();
    report.applied.push_back(std::to_string(m.version) + " " + m.name);
  }
  RECUR_ASSIGN(report.to_version, schema_version(db));
  return report;
}

}  // namespace recur::db
