// The keyring's cache of data keys: a key read on a replica that may lag is never cached (it
// may be the key of a customer erased on the primary since), and expired keys leave the
// cache. Two SQLite files stand in for the primary and its replica (db::ReplicaRouter).
#include "privacy/keyring.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "platform/db/engines.h"
#include "platform/db/replica.h"
#include "platform/read_consistency.h"

namespace recur::privacy {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<db::Database> keys_database(const fs::path& path) {
  auto db = db::open_sqlite(path.string(), 2);
  EXPECT_TRUE(db.ok());
  auto made = db::transact(**db, [](db::Tx& tx) -> Result<int> {
    RECUR_TRY(
        tx.exec("CREATE TABLE data_keys (id TEXT PRIMARY KEY, wrapped TEXT, master_id TEXT NOT NULL,"
                " created_at BIGINT NOT NULL, destroyed_at BIGINT)"));
    return 0;
  });
  EXPECT_TRUE(made.ok());
  return std::move(*db);
}

class KeyringCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("recur-keyring-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto primary = keys_database(dir / "primary.db");
    auto replica = keys_database(dir / "replica.db");
    primary_ = primary.get();
    replica_ = replica.get();
    router = std::make_unique<db::ReplicaRouter>(
        std::move(primary), std::move(replica), []() -> Result<std::int64_t> { return 0; },
        db::ReplicaOptions{std::chrono::milliseconds(5000), std::chrono::hours(1), false});
    router->probe_now();
    MasterKeys master;
    master.keys.push_back(crypto::Key::random());
    keyring = std::make_unique<Keyring>(std::move(master), fs::path(), clock);
    router->attach(keyring.get());
  }
  void TearDown() override {
    router.reset();
    fs::remove_all(dir);
  }

  // The owner's key as a transaction of the router sees it (a replica's under a StaleReadsScope).
  std::optional<crypto::Key> key_of(const std::string& owner) {
    auto key = db::transact(
        *router, [&](db::Tx& tx) { return keyring->existing_data_key(tx, owner); }, db::TxMode::kReadOnly);
    EXPECT_TRUE(key.ok()) << key.error().message;
    return key.ok() ? *key : std::nullopt;
  }
  // Copies the primary's data_keys to the replica, as streaming replication would.
  void replicate() {
    auto rows = db::transact(*primary_, [](db::Tx& tx) {
      return tx.query("SELECT id, wrapped, master_id, created_at, destroyed_at FROM data_keys");
    });
    ASSERT_TRUE(rows.ok());
    auto copied = db::transact(*replica_, [&](db::Tx& tx) -> Result<int> {
      RECUR_TRY(tx.exec("DELETE FROM data_keys"));
      for (const auto& r : *rows)
        RECUR_TRY(
            tx.exec("INSERT INTO data_keys VALUES ($1, $2, $3, $4, $5)",
                    {r.text(0), db::nullable(r.opt_text(1)), r.text(2), r.int64(3), db::nullable(r.opt_int64(4))}));
      return 0;
    });
    ASSERT_TRUE(copied.ok());
  }

  fs::path dir;
  SimulatedClock clock{1'800'000'000};
  db::Database* primary_ = nullptr;
  db::Database* replica_ = nullptr;
  std::unique_ptr<db::ReplicaRouter> router;
  std::unique_ptr<Keyring> keyring;
};

TEST_F(KeyringCacheTest, AKeyReadOnALaggingReplicaIsNotCachedSoAnErasureHolds) {
  auto made = db::transact(*router, [&](db::Tx& tx) { return keyring->data_key(tx, "cus_1"); });
  ASSERT_TRUE(made.ok());
  ASSERT_TRUE(made->has_value());
  replicate();
  // Erased on the primary; the replica has not replayed it yet.
  ASSERT_TRUE(db::transact(*router, [&](db::Tx& tx) { return keyring->destroy(tx, "cus_1"); }).ok());
  {
    StaleReadsScope scope;  // a list route: its read goes to the replica, which still has the key
    auto stale = key_of("cus_1");
    ASSERT_TRUE(stale.has_value());
    EXPECT_EQ(stale->bytes(), (*made)->bytes());
  }
  EXPECT_EQ(router->stats().replica_reads, 1u);
  // On the primary the key is gone, and the replica's read did not put it back in the cache.
  EXPECT_FALSE(key_of("cus_1").has_value());
}

TEST_F(KeyringCacheTest, ATransactionThatBeganBeforeAnErasureCommittedDoesNotCacheTheKey) {
  ASSERT_TRUE(db::transact(*router, [&](db::Tx& tx) { return keyring->data_key(tx, "cus_3"); }).ok());
  clock.advance(301);  // the cached key expired: the next read goes to the database
  {
    auto reader = router->begin(db::TxMode::kReadOnly);
    ASSERT_TRUE(reader.ok());
    // Its snapshot is taken here (SQLite: at the first statement), before the erasure...
    ASSERT_TRUE((*reader)->query("SELECT COUNT(*) FROM data_keys").ok());
    ASSERT_TRUE(db::transact(*router, [&](db::Tx& tx) { return keyring->destroy(tx, "cus_3"); }).ok());
    // ...so the key is read after the erasure committed, and still found.
    auto read = keyring->existing_data_key(**reader, "cus_3");
    ASSERT_TRUE(read.ok());
    ASSERT_TRUE(read->has_value());
    ASSERT_TRUE((*reader)->commit().ok());
    (*reader)->run_after_commit();  // as transact() does: would cache what it read
  }
  EXPECT_FALSE(key_of("cus_3").has_value());
}

TEST_F(KeyringCacheTest, AKeyReadOnThePrimaryIsCachedUntilItExpires) {
  auto made = db::transact(*router, [&](db::Tx& tx) { return keyring->data_key(tx, "cus_2"); });
  ASSERT_TRUE(made.ok());
  // Behind the keyring's back (no destroy(), no bus): the cache still answers...
  ASSERT_TRUE(db::transact(*primary_, [](db::Tx& tx) { return tx.exec("DELETE FROM data_keys"); }).ok());
  EXPECT_TRUE(key_of("cus_2").has_value());
  // ...until the entry expires (5 minutes), when the database is read again.
  clock.advance(301);
  EXPECT_FALSE(key_of("cus_2").has_value());
}

}  // namespace
}  // namespace recur::privacy
