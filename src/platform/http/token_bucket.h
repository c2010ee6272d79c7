// Token-bucket arithmetic for the rate limits (docs/SECURITY.md, decision 0019): pure, on
// integers, the same rule the Redis script (platform/cache/redis_rate_limiter.cc) applies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace recur::http {

// N requests a minute, with a burst of N (a full bucket holds one minute's allowance).
// 0: no limit.
struct RateLimit {
  std::int64_t per_minute = 0;
  bool off() const { return per_minute <= 0; }
};

// "600/min", "10/s", "36000/h" or a bare "600" (a minute); "0" or "off" turns the limit off.
std::optional<RateLimit> parse_rate_limit(std::string_view text);
std::string describe(RateLimit limit);  // "600/min" or "off"

// One bucket: tokens in millionths, refilled continuously from the last time it was touched.
struct Bucket {
  std::int64_t micro_tokens = 0;
  std::int64_t updated_ms = 0;
};

constexpr std::int64_t kMicro = 1'000'000;

// A bucket seen for the first time is full.
inline Bucket full_bucket(RateLimit limit, std::int64_t now_ms) { return {limit.per_minute * kMicro, now_ms}; }

struct Admission {
  bool allowed = true;
  std::int64_t retry_after_seconds = 0;  // when refused: until one token is back, rounded up, at least 1
  std::int64_t remaining = 0;            // whole tokens left after this request
};

// Refills `bucket` for the time since it was last touched (a clock that went back refills
// nothing), then takes one token if there is one. Requires: !limit.off().
Admission take(Bucket& bucket, RateLimit limit, std::int64_t now_ms);

// Milliseconds after which an untouched bucket is full again: it can be forgotten then.
std::int64_t refill_ms(RateLimit limit);

}  // namespace recur::http
