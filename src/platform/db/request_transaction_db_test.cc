// One transaction per request (RequestTransaction) on both engines: joined transactions are
// savepoints, nothing is visible before the request commits, hooks wait for the commit.
#include <gtest/gtest.h>

#include <future>

#include "testing/fixtures.h"

namespace recur::db {
namespace {

using testing::at;
using testing::kInsertAdminKey;

class RequestTransactionTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-01T00:00:00Z")); }
  Database& db() { return t.app->database(); }
  // Counted on another thread, so outside any request transaction of this one.
  std::int64_t keys_seen_by_others() {
    return std::async(std::launch::async, [this] {
             auto tx = db().begin(TxMode::kReadOnly);
             return (*(*tx)->query("SELECT COUNT(*) FROM api_keys")).at(0).int64(0);
           }).get();
  }
  std::vector<std::string> key_ids() {
    auto rows = transact(db(), [](Tx& tx) { return tx.query("SELECT id FROM api_keys ORDER BY id"); }, TxMode::kReadOnly);
    std::vector<std::string> ids;
    for (const auto& row : *rows) ids.push_back(row.text(0));
    return ids;
  }
  static Status insert(Database& db, const std::string& id) {
    return transact(db, [&](Tx& tx) -> Status {
      RECUR_TRY(tx.exec(kInsertAdminKey, {id, "h_" + id}));
      return Ok{};
    });
  }
  testing::TestApp t;
};

TEST_F(RequestTransactionTest, WhatTheRequestCommitsBecomesVisibleOnlyWhenTheRequestCommits) {
  RequestTransaction request(db());
  EXPECT_FALSE(request.started());
  ASSERT_TRUE(insert(db(), "k1").ok());
  ASSERT_TRUE(insert(db(), "k2").ok());
  EXPECT_TRUE(request.started());
  // The request sees its own work; nobody else does yet.
  auto mine = transact(db(), [](Tx& tx) { return tx.query("SELECT COUNT(*) FROM api_keys"); }, TxMode::kReadOnly);
  ASSERT_TRUE(mine.ok()) << mine.error().message;
  EXPECT_EQ(mine->at(0).int64(0), 2);
  EXPECT_EQ(keys_seen_by_others(), 0);
  ASSERT_TRUE(request.commit().ok());
  EXPECT_EQ(keys_seen_by_others(), 2);
}

TEST_F(RequestTransactionTest, AJoinedTransactionThatFailsRollsBackOnlyItsOwnWork) {
  {
    RequestTransaction request(db());
    ASSERT_TRUE(insert(db(), "k1").ok());
    auto failed = transact(db(), [](Tx& tx) -> Result<int> {
      RECUR_TRY(tx.exec(kInsertAdminKey, {std::string("k2"), std::string("h2")}));
      // A constraint error aborts the whole transaction on PostgreSQL; the savepoint undoes it.
      RECUR_TRY(tx.exec(kInsertAdminKey, {std::string("k3"), std::string("h2")}));
      return 1;
    });
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, kUniqueViolation);
    ASSERT_TRUE(insert(db(), "k4").ok());  // the request's transaction is still usable
    EXPECT_FALSE(request.broken());
    ASSERT_TRUE(request.commit().ok());
  }
  EXPECT_EQ(key_ids(), (std::vector<std::string>{"k1", "k4"}));
}

TEST_F(RequestTransactionTest, ARequestThatIsNotCommittedLeavesNothing) {
  {
    RequestTransaction request(db());
    ASSERT_TRUE(insert(db(), "k1").ok());
  }
  EXPECT_EQ(keys_seen_by_others(), 0);
  // And the thread is back to transactions of its own.
  ASSERT_TRUE(insert(db(), "k2").ok());
  EXPECT_EQ(keys_seen_by_others(), 1);
}

TEST_F(RequestTransactionTest, AfterCommitWorkWaitsForTheRequestsCommitAndIsDroppedWithARolledBackPart) {
  std::vector<std::string> ran;
  {
    RequestTransaction request(db());
    ASSERT_TRUE(transact(db(), [&](Tx& tx) -> Status {
                  tx.after_commit([&] { ran.push_back("kept"); });
                  RECUR_TRY(tx.exec(kInsertAdminKey, {std::string("k1"), std::string("h1")}));
                  return Ok{};
                }).ok());
    EXPECT_FALSE(transact(db(), [&](Tx& tx) -> Status {
                   tx.after_commit([&] { ran.push_back("rolled back"); });
                   return Error::conflict("refused", "refused");
                 }).ok());
    EXPECT_TRUE(ran.empty());  // not before the request commits
    ASSERT_TRUE(request.commit().ok());
  }
  EXPECT_EQ(ran, std::vector<std::string>{"kept"});
}

TEST_F(RequestTransactionTest, NestedTransactionsJoinAsNestedSavepoints) {
  RequestTransaction request(db());
  auto outer = transact(db(), [&](Tx& tx) -> Status {
    RECUR_TRY(tx.exec(kInsertAdminKey, {std::string("k1"), std::string("h1")}));
    auto inner = transact(db(), [](Tx& inner_tx) -> Status {
      RECUR_TRY(inner_tx.exec(kInsertAdminKey, {std::string("k2"), std::string("h2")}));
      return Error::conflict("refused", "inner refused");
    });
    EXPECT_FALSE(inner.ok());
    RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*) FROM api_keys"));
    EXPECT_EQ(rows.at(0).int64(0), 1);  // the inner one's row is gone, the outer's is kept
    return Ok{};
  });
  ASSERT_TRUE(outer.ok()) << outer.error().message;
  ASSERT_TRUE(request.commit().ok());
  EXPECT_EQ(keys_seen_by_others(), 1);
}

TEST_F(RequestTransactionTest, AFailedDeferredWriteFailsItsOwnPartAtItsCommitAndSparesTheOthers) {
  {
    RequestTransaction request(db());
    ASSERT_TRUE(insert(db(), "k1").ok());
    // A deferred write (an event, an outbox row) that fails: on PostgreSQL it is sent with
    // the part's commit, which must report it, so that part alone rolls back.
    auto failed = transact(db(), [](Tx& tx) -> Status {
      RECUR_TRY(tx.exec_later(kInsertAdminKey, {std::string("k2"), std::string("h_k1")}));  // duplicate hash
      return Ok{};
    });
    ASSERT_FALSE(failed.ok());
    ASSERT_TRUE(insert(db(), "k3").ok());
    EXPECT_FALSE(request.broken());
    ASSERT_TRUE(request.commit().ok());
  }
  EXPECT_EQ(key_ids(), (std::vector<std::string>{"k1", "k3"}));
}

}  // namespace
}  // namespace recur::db
