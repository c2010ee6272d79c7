// Versioned schema migrations: applied in order at start, each in its own transaction,
// idempotent, and refused when the database is newer than this binary.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "platform/db/database.h"
#include "platform/time.h"

namespace recur::db {

struct Migration {
  int version;
  std::string name;
  // Statements separated by ";\n". Written in the SQL both engines accept.
  std::string sql;
  // Run after `sql`, in the same transaction: a rewrite SQL cannot say in both dialects
  // (reshaping stored JSON documents). Must be idempotent, as `sql` is.
  std::function<Status(Tx&)> rewrite = nullptr;
};

struct MigrationReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;
};

// Requires: `migrations` sorted by version, versions unique and > 0.
Result<MigrationReport> migrate(Database& db, const std::vector<Migration>& migrations, Timestamp now);
// The version the database is at (0 when empty).
Result<int> schema_version(Database& db);

}  // namespace recur::db
