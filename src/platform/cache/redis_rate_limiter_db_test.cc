// Rate-limit buckets shared through a real redis-server: two nodes draw on one bucket, and a
// Redis outage falls back to each node's own buckets instead of refusing (decision 0019).
#include "platform/cache/redis_rate_limiter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "testing/local_servers.h"

namespace recur::cache {
namespace {

std::unique_ptr<RedisRateLimiter> node(const testing::RedisServer& redis, const std::string& prefix) {
  auto limiter = RedisRateLimiter::open(redis.url(), prefix);
  if (!limiter.ok()) throw std::runtime_error(limiter.error().message);
  return std::move(*limiter);
}

TEST(RedisRateLimiterTest, TwoNodesShareOneBucket) {
  testing::RedisServer redis;
  const std::string prefix = "test:" + std::to_string(::getpid()) + ":";
  auto a = node(redis, prefix);
  auto b = node(redis, prefix);
  http::RateLimit four{4};
  EXPECT_TRUE(a->admit("key:k1", four).allowed);
  EXPECT_TRUE(b->admit("key:k1", four).allowed);
  EXPECT_TRUE(a->admit("key:k1", four).allowed);
  http::Admission last = b->admit("key:k1", four);
  EXPECT_TRUE(last.allowed);
  EXPECT_EQ(last.remaining, 0);
  http::Admission refused = a->admit("key:k1", four);
  EXPECT_FALSE(refused.allowed);
  EXPECT_GE(refused.retry_after_seconds, 14);  // 4 a minute: a token every 15 s
  EXPECT_LE(refused.retry_after_seconds, 15);
  EXPECT_FALSE(b->admit("key:k1", four).allowed);
  EXPECT_TRUE(b->admit("key:k2", four).allowed);  // another key, another bucket
  EXPECT_FALSE(a->failing_open());
}

TEST(RedisRateLimiterTest, ManyThreadsNeverTakeMoreThanTheBucketHolds) {
  testing::RedisServer redis;
  auto a = node(redis, "test:threads:");
  auto b = node(redis, "test:threads:");
  http::RateLimit limit{100};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      auto& limiter = t % 2 ? *a : *b;
      for (int i = 0; i < 40; ++i) allowed += limiter.admit("ip:1.2.3.4", limit).allowed;
    });
  for (auto& t : threads) t.join();
  // 320 asked of a bucket of 100 refilled at 100/min: 100, plus what a few seconds refill.
  EXPECT_GE(allowed.load(), 100);
  EXPECT_LE(allowed.load(), 105);
}

TEST(RedisRateLimiterTest, WhenRedisIsDownEachNodeLimitsOnItsOwn) {
  testing::RedisServer redis;
  auto a = node(redis, "test:outage:");
  http::RateLimit two{2};
  EXPECT_TRUE(a->admit("key:k", two).allowed);
  redis.stop();
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(a->admit("key:k", two).allowed);  // fails open: this node's own, full bucket
  EXPECT_TRUE(a->failing_open());
  EXPECT_TRUE(a->admit("key:k", two).allowed);
  EXPECT_FALSE(a->admit("key:k", two).allowed);  // still limited, by this node
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  redis.start();
  // Redis is asked again a second after the failure.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (a->failing_open() && std::chrono::steady_clock::now() < deadline) {
    a->admit("key:probe", two);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(a->failing_open());
}

}  // namespace
}  // namespace recur::cache
