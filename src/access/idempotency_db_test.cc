// Idempotency keys on both engines: claims, replays, abandoned claims, and answers stored in
// the transaction of the request's effects (decision 0009).
#include <gtest/gtest.h>

#include <future>

#include "access/service.h"
#include "testing/fixtures.h"

namespace recur::access {
namespace {

using testing::at;

http::Response created(const std::string& body) {
  http::Response response;
  response.status = 201;
  response.body = body;
  return response;
}

std::int64_t customers(testing::TestApp& t) {
  auto n = db::transact(t.app->database(), [](db::Tx& tx) { return tx.query("SELECT COUNT(*) FROM customers"); },
                        db::TxMode::kReadOnly);
  return n->at(0).int64(0);
}

TEST(IdempotencyStore, ARequestAbandonedInProgressCanBeRetriedAfterTheLease) {
  auto t = testing::make_app(at("2026-01-01T00:00:00Z"));
  SqlIdempotencyStore store(t.app->database(), *t.clock);
  ASSERT_FALSE(store.claim("key_1/k", "fp")->existing.has_value());  // claimed, then the process dies
  auto busy = store.claim("key_1/k", "fp");
  ASSERT_TRUE(busy->existing.has_value());
  EXPECT_FALSE(busy->existing->complete);  // still in progress: 409 for now
  t.clock->advance(301);
  EXPECT_FALSE(store.claim("key_1/k", "fp")->existing.has_value());  // taken over by the retry
  EXPECT_TRUE(store.claim("key_1/k", "other")->existing.has_value());  // a different request never takes it
}

// The database was down when a failed request (a 5xx) released its key: the node remembers the
// release and does it before its next claim, so the client's retry is not refused for a lease.
TEST(IdempotencyStore, AReleaseTheDatabaseRefusedIsDoneBeforeTheNextClaim) {
  auto t = testing::make_app(at("2026-01-01T00:00:00Z"));
  SqlIdempotencyStore store(t.app->database(), *t.clock);
  auto exec = [&](const char* sql) {
    ASSERT_TRUE(db::transact(t.app->database(), [&](db::Tx& tx) { return tx.exec(sql); }).ok());
  };
  auto claim = store.claim("key_1/k", "fp");
  ASSERT_FALSE(claim->existing.has_value());
  exec("ALTER TABLE idempotency_keys RENAME TO idempotency_keys_away");  // the release fails
  EXPECT_FALSE(store.release("key_1/k", claim->token).ok());
  EXPECT_EQ(store.unreleased(), 1u);
  EXPECT_FALSE(store.claim("key_1/other", "fp").ok());  // still failing: kept for the next claim
  EXPECT_EQ(store.unreleased(), 1u);
  exec("ALTER TABLE idempotency_keys_away RENAME TO idempotency_keys");  // the database is back
  auto retry = store.claim("key_1/k", "fp");
  ASSERT_TRUE(retry.ok());
  EXPECT_FALSE(retry->existing.has_value());  // runs now, not 409 until the lease passes
  EXPECT_EQ(store.unreleased(), 0u);
}

TEST(IdempotencyStore, ACompletedAnswerIsReplayedWithItsHeaders) {
  auto t = testing::make_app(at("2026-01-01T00:00:00Z"));
  SqlIdempotencyStore store(t.app->database(), *t.clock);
  auto claim = store.claim("key_1/k", "fp");
  ASSERT_FALSE(claim->existing.has_value());
  http::Response response = created(R"({"id":"cus_1"})");
  response.set_header("ETag", "\"1\"");
  ASSERT_TRUE(store.complete("key_1/k", claim->token, response).ok());
  t.clock->advance(3600);
  auto stored = store.claim("key_1/k", "fp");
  ASSERT_TRUE(stored->existing.has_value());
  EXPECT_TRUE(stored->existing->complete);
  EXPECT_EQ(stored->existing->status, 201);
  EXPECT_EQ(stored->existing->body, response.body);
  ASSERT_EQ(stored->existing->headers.size(), 1u);
  EXPECT_EQ(stored->existing->headers[0].second, "\"1\"");
}

TEST(IdempotencyStore, TheAnswerCommitsWithTheRequestsEffects) {
  auto t = testing::make_app(at("2026-01-01T00:00:00Z"));
  SqlIdempotencyStore store(t.app->database(), *t.clock, 60);
  auto claim = store.claim("key_1/k", "fp");
  auto answer = store.run_once("key_1/k", claim->token, [&] {
    auto c = testing::make_customer(t);
    // Until the request commits, neither its customer nor its answer is there for anyone.
    auto seen = std::async(std::launch::async, [&] {
                  return db::transact(t.app->database(), [](db::Tx& tx) {
                    return tx.query("SELECT (SELECT COUNT(*) FROM customers),"
                                    " (SELECT COUNT(*) FROM idempotency_keys WHERE status IS NOT NULL)");
                  }, db::TxMode::kReadOnly);
                }).get();
    EXPECT_TRUE(seen.ok() && seen->at(0).int64(0) == 0 && seen->at(0).int64(1) == 0);
    return created(R"({"id":")" + c.id + R"("})");
  });
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(customers(t), 1);
  auto replay = store.claim("key_1/k", "fp");
  ASSERT_TRUE(replay->existing.has_value());
  EXPECT_TRUE(replay->existing->complete);
  EXPECT_EQ(replay->existing->body, answer->body);
}

TEST(IdempotencyStore, ASlowFirstTryOvertakenByARetryAfterTheLeaseCommitsNothing) {
  auto t = testing::make_app(at("2026-01-01T00:00:00Z"));
  SqlIdempotencyStore store(t.app->database(), *t.clock, 60);
  auto first = store.claim("key_1/k", "fp");
  t.clock->advance(61);
  auto retry = store.claim("key_1/k", "fp");  // the first looked dead: the retry takes the key
  ASSERT_FALSE(retry->existing.has_value());
  ASSERT_NE(retry->token, first->token);
  auto retried = store.run_once("key_1/k", retry->token, [&] {
    testing::make_customer(t, "retry@example.com");
    return created("{}");
  });
  ASSERT_TRUE(retried.ok());
  // The first try was only slow: it finishes now, and must not create a second customer.
  auto late = store.run_once("key_1/k", first->token, [&] {
    testing::make_customer(t, "late@example.com");
    return created("{}");
  });
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "idempotency_key_in_use");
  EXPECT_EQ(customers(t), 1);
}

TEST(IdempotencyStore, AServerErrorKeepsNothingAndFreesTheKey) {
  auto t = testing::make_app(at("2026-01-01T00:00:00Z"));
  SqlIdempotencyStore store(t.app->database(), *t.clock, 60);
  auto claim = store.claim("key_1/k", "fp");
  auto answer = store.run_once("key_1/k", claim->token, [&] {
    testing::make_customer(t);
    http::Response failed;
    failed.status = 500;
    return failed;
  });
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status, 500);
  EXPECT_EQ(customers(t), 0);
  EXPECT_FALSE(store.claim("key_1/k", "fp")->existing.has_value());  // free for a retry at once
}

}  // namespace
}  // namespace recur::access
