// Worked examples of the rate limits' token bucket.
#include "platform/http/token_bucket.h"

#include <gtest/gtest.h>

namespace recur::http {
namespace {

TEST(ParseRateLimit, ReadsCountsPerSecondMinuteOrHour) {
  struct Case {
    std::string_view text;
    std::optional<std::int64_t> per_minute;
  } cases[] = {
      {"600/min", 600}, {"600", 600},  {"10/s", 600},    {"3600/h", 60},       {"0", 0},
      {"off", 0},       {"0/s", 0},    {"90/h", {}},     {"-1/min", {}},       {"", {}},
      {"10/day", {}},   {"ten/min", {}}, {"10 /min", {}}, {"1000000001", {}},  {"20000000/s", {}},
  };
  for (const auto& c : cases) {
    auto parsed = parse_rate_limit(c.text);
    ASSERT_EQ(parsed.has_value(), c.per_minute.has_value()) << c.text;
    if (parsed) {
      EXPECT_EQ(parsed->per_minute, *c.per_minute) << c.text;
    }
  }
}

TEST(TokenBucket, AFullBucketLetsOneMinutesAllowanceThroughAtOnceThenRefuses) {
  RateLimit limit{3};
  Bucket bucket = full_bucket(limit, 1000);
  EXPECT_EQ(take(bucket, limit, 1000).remaining, 2);
  EXPECT_EQ(take(bucket, limit, 1000).remaining, 1);
  EXPECT_TRUE(take(bucket, limit, 1000).allowed);
  Admission refused = take(bucket, limit, 1000);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 20);  // 3 a minute: one token every 20 s
}

TEST(TokenBucket, RefillsInProportionToTheTimeElapsed) {
  struct Case {
    std::int64_t per_minute;
    std::int64_t elapsed_ms;    // after emptying a full bucket
    bool allowed;
    std::int64_t retry_after;  // when refused
  } cases[] = {
      {60, 999, false, 1},      // a token a second: 1 ms short, rounded up to a second
      {60, 1000, true, 0},      // exactly one token back
      {1, 30'000, false, 30},   // half a token: 30 s to go
      {1, 59'999, false, 1},
      {1, 60'000, true, 0},
      {6000, 10, true, 0},      // 100 a second: one every 10 ms
      {6000, 9, false, 1},
      {7, 0, false, 9},         // 60/7 = 8.57 s, rounded up
  };
  for (const auto& c : cases) {
    RateLimit limit{c.per_minute};
    Bucket bucket{0, 5000};
    Admission a = take(bucket, limit, 5000 + c.elapsed_ms);
    EXPECT_EQ(a.allowed, c.allowed) << c.per_minute << "/min after " << c.elapsed_ms << " ms";
    EXPECT_EQ(a.retry_after_seconds, c.retry_after) << c.per_minute << "/min after " << c.elapsed_ms << " ms";
  }
}

TEST(TokenBucket, NeverHoldsMoreThanOneMinutesAllowance) {
  RateLimit limit{2};
  Bucket bucket{0, 0};
  take(bucket, limit, 3'600'000);  // an hour idle: full (2), less the one taken
  EXPECT_EQ(bucket.micro_tokens, 1 * kMicro);
  EXPECT_TRUE(take(bucket, limit, 3'600'000).allowed);
  EXPECT_FALSE(take(bucket, limit, 3'600'000).allowed);
}

TEST(TokenBucket, AClockThatGoesBackRefillsNothing) {
  RateLimit limit{60};
  Bucket bucket{0, 10'000};
  EXPECT_FALSE(take(bucket, limit, 4'000).allowed);
  EXPECT_EQ(bucket.updated_ms, 10'000);
  EXPECT_TRUE(take(bucket, limit, 11'000).allowed);
}

TEST(TokenBucket, AHighLimitDoesNotOverflow) {
  RateLimit limit{1'000'000'000};
  Bucket bucket = full_bucket(limit, 0);
  EXPECT_TRUE(take(bucket, limit, 1'000'000'000'000).allowed);
  EXPECT_EQ(bucket.micro_tokens, (limit.per_minute - 1) * kMicro);
}

}  // namespace
}  // namespace recur::http
