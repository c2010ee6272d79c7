// The database port on both engines: transactions, constraint errors, migrations.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "app/schema.h"
#include "platform/db/engines.h"
#include "platform/db/migrate.h"
#include "testing/fixtures.h"
#include "testing/local_servers.h"

namespace recur::db {
namespace {

using testing::at;

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-01T00:00:00Z")); }
  Database& db() { return t.app->database(); }
  bool engine_is_postgres() { return db().engine() == Engine::kPostgres; }
  std::int64_t keys() {
    auto tx = db().begin(TxMode::kReadOnly);
    return (*(*tx)->query("SELECT COUNT(*) FROM api_keys")).at(0).int64(0);
  }
  testing::TestApp t;
};

TEST_F(DatabaseTest, UncommittedTransactionRollsBackWhenItGoesOutOfScope) {
  {
    auto tx = db().begin();
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE((*tx)->exec("INSERT INTO api_keys (id, role, key_hash, prefix, created_at) VALUES ('k1','admin','h1','p',1)").ok());
  }
  EXPECT_EQ(keys(), 0);
}

TEST_F(DatabaseTest, UniqueViolationIsAConflictWithAStableCode) {
  auto tx = db().begin();
  ASSERT_TRUE((*tx)->exec("INSERT INTO api_keys (id, role, key_hash, prefix, created_at) VALUES ('k1','admin','h1','p',1)").ok());
  auto dup = (*tx)->exec("INSERT INTO api_keys (id, role, key_hash, prefix, created_at) VALUES ('k2','admin','h1','p',1)");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, kUniqueViolation);
  EXPECT_EQ(dup.error().kind, ErrorKind::kConflict);
}

TEST_F(DatabaseTest, TransactRollsBackWhenTheWorkFails) {
  auto result = transact(db(), [](Tx& tx) -> Result<int> {
    RECUR_TRY(tx.exec("INSERT INTO api_keys (id, role, key_hash, prefix, created_at) VALUES ('k1','admin','h1','p',1)"));
    return Error::conflict("nope", "refused after writing");
  });
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(keys(), 0);
}

TEST_F(DatabaseTest, BeforeCommitWorkRunsLastAndItsFailureCommitsNothing) {
  // It runs after the work, in the transaction, and sees what the work wrote.
  std::int64_t seen = -1;
  auto ok = transact(db(), [&](Tx& tx) -> Status {
    tx.before_commit([&](Tx& in) -> Status {
      RECUR_ASSIGN(auto rows, in.query("SELECT COUNT(*) FROM api_keys"));
      seen = rows.at(0).int64(0);
      return in.exec_later(testing::kInsertAdminKey, {std::string("k2"), std::string("h2")});
    });
    tx.local<std::vector<int>>().push_back(1);
    EXPECT_EQ(tx.local<std::vector<int>>().size(), 1u);  // one per transaction and type
    return tx.exec_later(testing::kInsertAdminKey, {std::string("k1"), std::string("h1")});
  });
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(keys(), 2);
  // Its error is the commit's: nothing of the transaction stays.
  auto failed = transact(db(), [&](Tx& tx) -> Status {
    tx.before_commit([](Tx&) -> Status { return Error::conflict("late", "refused at commit"); });
    return tx.exec_later(testing::kInsertAdminKey, {std::string("k3"), std::string("h3")});
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, "late");
  EXPECT_EQ(keys(), 2);
  // A transaction that rolls back never runs it.
  bool ran = false;
  {
    auto tx = db().begin();
    ASSERT_TRUE(tx.ok());
    (*tx)->before_commit([&](Tx&) -> Status {
      ran = true;
      return Ok{};
    });
  }
  EXPECT_FALSE(ran);
}

TEST_F(DatabaseTest, ADeferredWriteIsSeenByTheNextStatementAndCommitted) {
  {
    auto tx = db().begin();
    ASSERT_TRUE((*tx)->exec_later(testing::kInsertAdminKey, {std::string("k1"), std::string("h1")}).ok());
    ASSERT_TRUE((*tx)->exec_later(testing::kInsertAdminKey, {std::string("k2"), std::string("h2")}).ok());
    auto seen = (*tx)->query("SELECT id FROM api_keys ORDER BY id");
    ASSERT_TRUE(seen.ok()) << seen.error().message;
    ASSERT_EQ(seen->size(), 2u);
    EXPECT_EQ(seen->at(1).text(0), "k2");
    ASSERT_TRUE((*tx)->exec_later(testing::kInsertAdminKey, {std::string("k3"), std::string("h3")}).ok());
    ASSERT_TRUE((*tx)->commit().ok());  // k3 goes with the COMMIT
  }
  EXPECT_EQ(keys(), 3);
  {
    // Deferred writes alone: BEGIN, them and COMMIT together.
    auto tx = db().begin();
    ASSERT_TRUE((*tx)->exec_later(testing::kInsertAdminKey, {std::string("k4"), std::string("h4")}).ok());
    ASSERT_TRUE((*tx)->commit().ok());
  }
  EXPECT_EQ(keys(), 4);
}

TEST_F(DatabaseTest, ADeferredWriteThatFailsFailsTheNextStatementAndRollsAllBack) {
  {
    auto tx = db().begin();
    ASSERT_TRUE((*tx)->exec(testing::kInsertAdminKey, {std::string("k1"), std::string("h1")}).ok());
    // A duplicate hash: SQLite refuses it at once, PostgreSQL with the next statement.
    auto later = (*tx)->exec_later(testing::kInsertAdminKey, {std::string("k2"), std::string("h1")});
    EXPECT_EQ(later.ok(), engine_is_postgres());
    if (later.ok()) {
      auto next = (*tx)->query("SELECT COUNT(*) FROM api_keys");
      ASSERT_FALSE(next.ok());
      EXPECT_EQ(next.error().code, kUniqueViolation);
    } else {
      EXPECT_EQ(later.error().code, kUniqueViolation);
    }
  }
  EXPECT_EQ(keys(), 0);
  {
    auto tx = db().begin();
    ASSERT_TRUE((*tx)->exec(testing::kInsertAdminKey, {std::string("k1"), std::string("h1")}).ok());
    auto later = (*tx)->exec_later(testing::kInsertAdminKey, {std::string("k2"), std::string("h1")});
    if (later.ok()) {
      auto committed = (*tx)->commit();
      ASSERT_FALSE(committed.ok());
      EXPECT_EQ(committed.error().code, kUniqueViolation);
    }
  }
  EXPECT_EQ(keys(), 0);
  {
    // Never committed: the deferred write is never sent.
    auto tx = db().begin();
    ASSERT_TRUE((*tx)->exec_later(testing::kInsertAdminKey, {std::string("k1"), std::string("h1")}).ok());
  }
  EXPECT_EQ(keys(), 0);
  // The connections are usable afterwards.
  auto ok = transact(db(), [](Tx& tx) -> Result<std::int64_t> {
    return tx.exec(testing::kInsertAdminKey, {std::string("k9"), std::string("h9")});
  });
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(keys(), 1);
}

TEST_F(DatabaseTest, EachHandsOverTheRowsInOrderAfterTheDeferredWritesAndTheTransactionGoesOn) {
  auto tx = db().begin();
  for (int i = 1; i <= 5; ++i)
    ASSERT_TRUE((*tx)->exec_later(testing::kInsertAdminKey, {"k" + std::to_string(i), "h" + std::to_string(i)}).ok());
  std::vector<std::string> seen;
  auto all = (*tx)->each("SELECT id, prefix FROM api_keys WHERE id >= $1 ORDER BY id", {std::string("k2")},
                         [&](const Row& r) -> Status {
                           seen.push_back(r.text(0));
                           return Ok{};
                         });
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"k2", "k3", "k4", "k5"}));
  // The first error stops the calls and is the result; the transaction serves the next statement.
  seen.clear();
  auto stopped = (*tx)->each("SELECT id FROM api_keys ORDER BY id", {}, [&](const Row& r) -> Status {
    seen.push_back(r.text(0));
    if (seen.size() == 2) return Error::conflict("enough", "two are enough");
    return Ok{};
  });
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code, "enough");
  EXPECT_EQ(seen, (std::vector<std::string>{"k1", "k2"}));
  ASSERT_TRUE((*tx)->exec_later(testing::kInsertAdminKey, {std::string("k6"), std::string("h6")}).ok());
  ASSERT_TRUE((*tx)->commit().ok());
  EXPECT_EQ(keys(), 6);
}

TEST_F(DatabaseTest, EachReportsTheQuerysErrorAndTheTransactionRollsBack) {
  {
    auto tx = db().begin();
    ASSERT_TRUE((*tx)->exec_later(testing::kInsertAdminKey, {std::string("k1"), std::string("h1")}).ok());
    int calls = 0;
    auto bad = (*tx)->each("SELECT id FROM no_such_table", {}, [&](const Row&) -> Status {
      ++calls;
      return Ok{};
    });
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(calls, 0);
  }
  EXPECT_EQ(keys(), 0);
  // The connection went back to the pool usable.
  auto tx = db().begin(TxMode::kReadOnly);
  int n = 0;
  ASSERT_TRUE((*tx)
                  ->each("SELECT 1", {},
                         [&](const Row&) -> Status {
                           ++n;
                           return Ok{};
                         })
                  .ok());
  EXPECT_EQ(n, 1);
}

TEST_F(DatabaseTest, AStatementFromInsideEachsCallbackFailsAndTheRowsStillAllCome) {
  auto tx = db().begin();
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE((*tx)->exec_later(testing::kInsertAdminKey, {"k" + std::to_string(i), "h" + std::to_string(i)}).ok());
  std::vector<std::string> seen;
  int refused = 0;
  Tx& in = **tx;
  auto all = in.each("SELECT id FROM api_keys ORDER BY id", {}, [&](const Row& r) -> Status {
    seen.push_back(r.text(0));
    // The same SQL would restart SQLite's statement; on PostgreSQL libpq would drop the rows.
    if (!in.query("SELECT id FROM api_keys ORDER BY id").ok()) ++refused;
    if (!in.exec("DELETE FROM api_keys").ok()) ++refused;
    return Ok{};
  });
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"k1", "k2", "k3"}));
  EXPECT_EQ(refused, 6);
  ASSERT_TRUE(in.commit().ok());
  EXPECT_EQ(keys(), 3);
}

// PostgreSQL runs a read-only transaction's statements one transaction each (one round trip
// apiece, none for commit); what they read is what a block under READ COMMITTED reads.
TEST_F(DatabaseTest, AReadOnlyTransactionReadsWhatOthersCommittedAndWritesNothing) {
  auto ro = db().begin(TxMode::kReadOnly);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ((*(*ro)->query("SELECT COUNT(*) FROM api_keys")).at(0).int64(0), 0);
  {
    auto rw = db().begin();
    ASSERT_TRUE((*rw)->exec(testing::kInsertAdminKey, {std::string("k1"), std::string("h1")}).ok());
    ASSERT_TRUE((*rw)->commit().ok());
  }
  // PostgreSQL reads at READ COMMITTED, in a block as out of one; SQLite keeps the snapshot of
  // the read transaction's first statement.
  EXPECT_EQ((*(*ro)->query("SELECT COUNT(*) FROM api_keys")).at(0).int64(0), engine_is_postgres() ? 1 : 0);
  if (engine_is_postgres()) {
    // A write is refused (the statement's transaction is READ ONLY), and nothing is kept.
    auto w = db().begin(TxMode::kReadOnly);
    EXPECT_FALSE((*w)->exec(testing::kInsertAdminKey, {std::string("k2"), std::string("h2")}).ok());
    // Each statement is a transaction of its own: their start times differ, where a block's
    // are one (the read-write transaction below).
    auto two = db().begin(TxMode::kReadOnly);
    auto first = (*(*two)->query("SELECT transaction_timestamp()::text")).at(0).text(0);
    auto second = (*(*two)->query("SELECT transaction_timestamp()::text")).at(0).text(0);
    EXPECT_NE(first, second);
    ASSERT_TRUE((*two)->commit().ok());
    auto block = db().begin();
    auto b1 = (*(*block)->query("SELECT transaction_timestamp()::text")).at(0).text(0);
    auto b2 = (*(*block)->query("SELECT transaction_timestamp()::text")).at(0).text(0);
    EXPECT_EQ(b1, b2);
  }
  ASSERT_TRUE((*ro)->commit().ok());
  EXPECT_EQ(keys(), 1);
  // each() in a read-only transaction after statements, then a statement again.
  auto tx = db().begin(TxMode::kReadOnly);
  EXPECT_EQ((*(*tx)->query("SELECT COUNT(*) FROM api_keys")).at(0).int64(0), 1);
  int n = 0;
  ASSERT_TRUE((*tx)
                  ->each("SELECT id FROM api_keys", {},
                         [&](const Row&) -> Status {
                           ++n;
                           return Ok{};
                         })
                  .ok());
  EXPECT_EQ(n, 1);
  EXPECT_EQ((*(*tx)->query("SELECT COUNT(*) FROM api_keys")).at(0).int64(0), 1);
  ASSERT_TRUE((*tx)->commit().ok());
}

TEST_F(DatabaseTest, MigratingTwiceChangesNothing) {
  auto again = t.app->migrate();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->applied.empty());
  EXPECT_EQ(again->to_version, app::migrations().back().version);
}

TEST_F(DatabaseTest, ADatabaseNewerThanTheBinaryIsRefused) {
  auto tx = db().begin();
  ASSERT_TRUE((*tx)->exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')").ok());
  ASSERT_TRUE((*tx)->commit().ok());
  auto refused = t.app->migrate();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "schema_too_new");
}

TEST_F(DatabaseTest, TextRoundTripsUnicodeAndNulls) {
  auto tx = db().begin();
  ASSERT_TRUE((*tx)->exec("INSERT INTO api_keys (id, role, key_hash, prefix, created_at, revoked_at) VALUES ($1,$2,$3,$4,$5,$6)",
                          {std::string("k\u00e9"), std::string("admin"), std::string("h \"'; --"), std::string("p"),
                           std::int64_t{-5}, nullptr})
                  .ok());
  auto rows = (*tx)->query("SELECT id, key_hash, created_at, revoked_at FROM api_keys");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->at(0).text(0), "k\u00e9");
  EXPECT_EQ(rows->at(0).text(1), "h \"'; --");
  EXPECT_EQ(rows->at(0).int64(2), -5);
  EXPECT_TRUE(rows->at(0).is_null(3));
}

TEST_F(DatabaseTest, ATextWithANulIsRefusedNeverCutShort) {
  const std::string with_nul("SKU\0junk", 8);
  {
    auto tx = db().begin();
    ASSERT_TRUE((*tx)->exec(testing::kInsertAdminKey, {std::string("SKU"), std::string("h1")}).ok());
    // libpq reads text parameters up to a NUL: "SKU\0junk" would find the row "SKU".
    auto found = (*tx)->query("SELECT id FROM api_keys WHERE id = $1", {with_nul});
    ASSERT_FALSE(found.ok());
    EXPECT_EQ(found.error().code, kInvalidText);
    EXPECT_EQ(found.error().kind, ErrorKind::kBadRequest);
  }
  {
    auto tx = db().begin();
    auto written = (*tx)->exec(testing::kInsertAdminKey, {std::string("k1"), with_nul});
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(written.error().code, kInvalidText);
    auto later = (*tx)->exec_later(testing::kInsertAdminKey, {with_nul, std::string("h2")});
    ASSERT_FALSE(later.ok());
    EXPECT_EQ(later.error().code, kInvalidText);
  }
  EXPECT_EQ(keys(), 0);
}

TEST_F(DatabaseTest, IllFormedUtf8IsABadRequestNotAServerError) {
  auto tx = db().begin();
  auto r = (*tx)->query("SELECT id FROM api_keys WHERE id = $1", {std::string("\xc0\x80")});
  if (engine_is_postgres()) {  // PostgreSQL checks encodings; SQLite stores bytes
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kBadRequest);
    EXPECT_EQ(r.error().code, kInvalidText);
  }
}

std::int64_t synchronous_of(Database& db) {
  auto tx = db.begin(TxMode::kReadOnly);
  return (*(*tx)->query("PRAGMA synchronous")).at(0).int64(0);
}

TEST(SqliteDurability, CommitsAreSyncedInFullUnlessTheUrlAsksForNormal) {
  auto dir = testing::fresh_temp_dir("sqlite-sync");
  auto full = open("sqlite:" + (dir / "a.db").string(), 2);
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(synchronous_of(**full), 2);  // FULL
  auto explicit_full = open("sqlite:" + (dir / "b.db").string() + "?synchronous=full", 2);
  ASSERT_TRUE(explicit_full.ok());
  EXPECT_EQ(synchronous_of(**explicit_full), 2);
  auto normal = open("sqlite:" + (dir / "c.db").string() + "?synchronous=normal", 2);
  ASSERT_TRUE(normal.ok()) << normal.error().message;
  EXPECT_EQ(synchronous_of(**normal), 1);  // NORMAL
  EXPECT_NE((*normal)->describe().find("synchronous=normal"), std::string::npos);
  auto unknown = open("sqlite:" + (dir / "d.db").string() + "?synchronous=off", 2);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "invalid_database_url");
  EXPECT_FALSE(std::filesystem::exists(dir / "d.db"));
  full->reset();
  explicit_full->reset();
  normal->reset();
  std::filesystem::remove_all(dir);
}

// Runs `script` on the SQLite file `path` as the sqlite3 CLI does: statement by statement, an
// error reported and the next statement run. Returns how many failed.
int replay(const std::filesystem::path& path, const std::string& script) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  int failed = 0;
  const char* next = script.c_str();
  while (*next) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db, next, -1, &stmt, &tail) != SQLITE_OK) ++failed;
    if (stmt) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
      }
      if (sqlite3_finalize(stmt) != SQLITE_OK) ++failed;
    }
    if (tail == next || !tail) break;
    next = tail;
  }
  sqlite3_close(db);
  return failed;
}

std::string rows_of(Database& db) {
  auto tx = db.begin(TxMode::kReadOnly);
  std::string out;
  auto rows = (*tx)->query("SELECT id, n, note FROM t ORDER BY id");
  EXPECT_TRUE(rows.ok());
  if (!rows.ok()) return out;
  for (const auto& row : *rows)
    out += row.text(0) + "|" + (row.is_null(1) ? "NULL" : std::to_string(row.int64(1))) + "|" +
           (row.is_null(2) ? "NULL" : row.text(2)) + "\n";
  return out;
}

TEST(SqliteStatementLog, TheLogReplayedOnAnEmptyFileMakesTheSameRowsInCommitOrder) {
  auto dir = testing::fresh_temp_dir("sqlite-log");
  auto log = dir / "statements.sql";
  auto db = open("sqlite:" + (dir / "a.db").string() + "?log_statements=" + log.string(), 2);
  ASSERT_TRUE(db.ok()) << db.error().message;
  {
    auto tx = (*db)->begin();
    ASSERT_TRUE((*tx)->exec("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, note TEXT)", {}).ok());
    ASSERT_TRUE((*tx)->commit().ok());
  }
  // A reader that began before a writer and ends after it: its statements must not land
  // inside the writer's transaction in the file.
  auto reader = (*db)->begin(TxMode::kReadOnly);
  ASSERT_TRUE((*reader)->query("SELECT count(*) FROM t", {}).ok());
  {
    auto tx = (*db)->begin();
    ASSERT_TRUE((*tx)
                    ->exec("INSERT INTO t VALUES ($1, $2, $3)",
                           {std::string("a"), std::int64_t{9223372036854775807}, std::string("it's\n2 lines; ok")})
                    .ok());
    ASSERT_TRUE((*tx)->exec("INSERT INTO t VALUES ($1, $2, $3)", {std::string("b"), nullptr, std::string("é")}).ok());
    ASSERT_TRUE((*tx)->commit().ok());
  }
  ASSERT_TRUE((*reader)->query("SELECT count(*) FROM t", {}).ok());
  reader->reset();
  {  // rolled back, with a statement that failed
    auto tx = (*db)->begin();
    ASSERT_TRUE((*tx)->exec("INSERT INTO t VALUES ($1, $2, $3)", {std::string("c"), std::int64_t{1}, nullptr}).ok());
    EXPECT_FALSE((*tx)->exec("INSERT INTO t VALUES ($1, $2, $3)", {std::string("a"), std::int64_t{1}, nullptr}).ok());
  }
  {  // a savepoint rolled back (as a request's joined transaction is) while a reader ends
    auto tx = (*db)->begin();
    auto other = (*db)->begin(TxMode::kReadOnly);
    ASSERT_TRUE((*tx)->exec("SAVEPOINT joined", {}).ok());
    ASSERT_TRUE((*tx)->exec("INSERT INTO t VALUES ($1, $2, $3)", {std::string("d"), std::int64_t{4}, nullptr}).ok());
    ASSERT_TRUE((*tx)->exec("ROLLBACK TO SAVEPOINT joined", {}).ok());
    ASSERT_TRUE((*tx)->exec("RELEASE SAVEPOINT joined", {}).ok());
    ASSERT_TRUE((*other)->query("SELECT count(*) FROM t", {}).ok());
    other->reset();
    ASSERT_TRUE((*tx)->exec("UPDATE t SET n = n - $1 WHERE id = $2", {std::int64_t{7}, std::string("a")}).ok());
    ASSERT_TRUE((*tx)->commit().ok());
  }
  std::string expected = rows_of(**db);
  EXPECT_EQ(expected, "a|9223372036854775800|it's\n2 lines; ok\nb|NULL|é\n");
  db->reset();

  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  EXPECT_EQ(std::filesystem::status(log).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  EXPECT_EQ(replay(dir / "b.db", text.str()), 1);  // the duplicate insert, as it failed first
  auto copy = open("sqlite:" + (dir / "b.db").string(), 2);
  ASSERT_TRUE(copy.ok()) << copy.error().message;
  EXPECT_EQ(rows_of(**copy), expected);
  copy->reset();

  auto empty = open("sqlite:" + (dir / "c.db").string() + "?log_statements=", 2);
  EXPECT_FALSE(empty.ok());
  std::filesystem::remove_all(dir);
}

TEST(SqliteStatementLog, WritersOnManyThreadsReplayInTheOrderTheyCommitted) {
  auto dir = testing::fresh_temp_dir("sqlite-log-threads");
  auto log = dir / "statements.sql";
  auto db = open("sqlite:" + (dir / "a.db").string() + "?log_statements=" + log.string(), 8);  // 2 a thread
  ASSERT_TRUE(db.ok()) << db.error().message;
  {
    auto tx = (*db)->begin();
    ASSERT_TRUE((*tx)->exec("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, note TEXT)", {}).ok());
    ASSERT_TRUE((*tx)->exec("INSERT INTO t VALUES ('a', 1, '')", {}).ok());
    ASSERT_TRUE((*tx)->commit().ok());
  }
  // Updates whose result depends on their order, from 4 threads, between readers.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      for (int i = 0; i < 40; ++i) {
        auto reader = (*db)->begin(TxMode::kReadOnly);
        if (!reader.ok() || !(*reader)->query("SELECT n FROM t", {}).ok()) ++failures;
        auto tx = (*db)->begin();
        if (!tx.ok()) {
          ++failures;
          continue;
        }
        std::string mark = std::to_string(w) + "." + std::to_string(i) + ",";
        if (!(*tx)
                 ->exec("UPDATE t SET n = (n * 31 + $1) % 1000000007, note = note || $2 WHERE id = 'a'",
                        {std::int64_t{w * 100 + i}, mark})
                 .ok() ||
            !(*tx)->commit().ok())
          ++failures;
        reader->reset();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::string expected = rows_of(**db);
  EXPECT_EQ(std::count(expected.begin(), expected.end(), ','), 160);
  db->reset();

  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  EXPECT_EQ(replay(dir / "b.db", text.str()), 0);
  auto copy = open("sqlite:" + (dir / "b.db").string(), 2);
  ASSERT_TRUE(copy.ok()) << copy.error().message;
  EXPECT_EQ(rows_of(**copy), expected);
  copy->reset();
  std::filesystem::remove_all(dir);
}

// Two processes on one file (two databases here: each has its own writers' turns): a process
// whose writers keep the lock busy, passing it on at once, must not starve the other's writer.
TEST(SqliteWriters, AnotherProcesssWriterGetsTheLockBetweenABusyProcesssWriters) {
  auto dir = testing::fresh_temp_dir("sqlite-two-writers");
  std::string url = "sqlite:" + (dir / "a.db").string();
  auto busy = open(url, 4);
  ASSERT_TRUE(busy.ok()) << busy.error().message;
  {
    auto tx = (*busy)->begin();
    ASSERT_TRUE((*tx)->exec("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)", {}).ok());
    ASSERT_TRUE((*tx)->exec("INSERT INTO t VALUES ('busy', 0), ('other', 0)", {}).ok());
    ASSERT_TRUE((*tx)->commit().ok());
  }
  auto other = open(url, 1);
  ASSERT_TRUE(other.ok()) << other.error().message;
  std::atomic<bool> done{false};
  std::atomic<int> busy_commits{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w)
    writers.emplace_back([&] {
      while (!done) {
        auto tx = (*busy)->begin();
        if (tx.ok() && (*tx)->exec("UPDATE t SET n = n + 1 WHERE id = 'busy'", {}).ok() && (*tx)->commit().ok())
          ++busy_commits;
      }
    });
  int failed = 0;
  for (int i = 0; i < 10; ++i) {
    auto tx = (*other)->begin();
    if (!tx.ok() || !(*tx)->exec("UPDATE t SET n = n + 1 WHERE id = 'other'", {}).ok() || !(*tx)->commit().ok())
      ++failed;
  }
  done = true;
  for (auto& t : writers) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_GT(busy_commits.load(), 0);
  auto tx = (*other)->begin(TxMode::kReadOnly);
  EXPECT_EQ((*(*tx)->query("SELECT n FROM t WHERE id = 'other'", {})).at(0).int64(0), 10);
  tx->reset();
  busy->reset();
  other->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace recur::db
