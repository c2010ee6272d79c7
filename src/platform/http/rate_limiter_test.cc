// The in-process rate limiter: one bucket per key, forgotten once full again.
#include "platform/http/rate_limiter.h"

#include <gtest/gtest.h>

namespace recur::http {
namespace {

TEST(LocalRateLimiter, EachKeyHasItsOwnBucket) {
  std::int64_t now = 0;
  LocalRateLimiter limiter([&] { return now; });
  RateLimit two{2};
  EXPECT_TRUE(limiter.admit("key:a", two).allowed);
  EXPECT_TRUE(limiter.admit("key:a", two).allowed);
  Admission refused = limiter.admit("key:a", two);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 30);
  EXPECT_TRUE(limiter.admit("key:b", two).allowed);
  now += 30'000;
  EXPECT_TRUE(limiter.admit("key:a", two).allowed);
}

TEST(LocalRateLimiter, ForgetsBucketsThatAreFullAgain) {
  std::int64_t now = 0;
  LocalRateLimiter limiter([&] { return now; });
  RateLimit limit{10};
  // More than the 16 shards' 4,096 each: a shard past its threshold drops the full buckets.
  for (int i = 0; i < 70'000; ++i) limiter.admit("ip:" + std::to_string(i), limit);
  EXPECT_EQ(limiter.buckets(), 70'000u);  // all in use within the minute: none dropped
  now += 60'000;
  for (int i = 0; i < 70'000; ++i) limiter.admit("ip:new" + std::to_string(i), limit);
  EXPECT_LT(limiter.buckets(), 100'000u);  // most of the first 70,000 were full again: dropped
}

}  // namespace
}  // namespace recur::http
