// Idempotency keys on both engines: claims, replays, and abandoned claims.
#include <gtest/gtest.h>

#include "access/service.h"
#include "testing/fixtures.h"

namespace recur::access {
namespace {

using testing::at;

TEST(IdempotencyStore, ARequestAbandonedInProgressCanBeRetriedAfterTheLease) {
  auto t = testing::make_app(at("2026-01-01T00:00:00Z"));
  SqlIdempotencyStore store(t.app->database(), *t.clock);
  ASSERT_FALSE(store.claim("key_1/k", "fp")->has_value());  // claimed, then the process dies
  auto busy = store.claim("key_1/k", "fp");
  ASSERT_TRUE(busy->has_value());
  EXPECT_FALSE((*busy)->complete);  // still in progress: 409 for now
  t.clock->advance(301);
  EXPECT_FALSE(store.claim("key_1/k", "fp")->has_value());  // taken over by the retry
  EXPECT_TRUE(store.claim("key_1/k", "other")->has_value());  // a different request never takes it
}

TEST(IdempotencyStore, ACompletedAnswerIsReplayedWithItsHeaders) {
  auto t = testing::make_app(at("2026-01-01T00:00:00Z"));
  SqlIdempotencyStore store(t.app->database(), *t.clock);
  ASSERT_FALSE(store.claim("key_1/k", "fp")->has_value());
  http::Response response;
  response.status = 201;
  response.body = R"({"id":"cus_1"})";
  response.set_header("ETag", "\"1\"");
  store.complete("key_1/k", response);
  t.clock->advance(3600);
  auto stored = store.claim("key_1/k", "fp");
  ASSERT_TRUE(stored->has_value());
  EXPECT_TRUE((*stored)->complete);
  EXPECT_EQ((*stored)->status, 201);
  EXPECT_EQ((*stored)->body, response.body);
  ASSERT_EQ((*stored)->headers.size(), 1u);
  EXPECT_EQ((*stored)->headers[0].second, "\"1\"");
}

}  // namespace
}  // namespace recur::access
