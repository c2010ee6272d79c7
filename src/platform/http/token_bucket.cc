// Token-bucket arithmetic; see token_bucket.h.
#include "platform/http/token_bucket.h"

#include <algorithm>
#include <charconv>

namespace recur::http {

std::optional<RateLimit> parse_rate_limit(std::string_view text) {
  if (text == "off") return RateLimit{0};
  auto slash = text.find('/');
  std::string_view digits = text.substr(0, slash);
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  // Tokens are counted in millionths in an int64: a billion a minute is plenty.
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || n < 0 || n > 1'000'000'000)
    return std::nullopt;
  std::string_view unit = slash == std::string_view::npos ? "min" : text.substr(slash + 1);
  std::int64_t per_minute;
  if (unit == "s") per_minute = n * 60;
  else if (unit == "min") per_minute = n;
  else if (unit == "h" && n % 60 == 0) per_minute = n / 60;  // whole tokens a minute only
  else return std::nullopt;
  if (per_minute > 1'000'000'000) return std::nullopt;
  return RateLimit{per_minute};
}

std::string describe(RateLimit limit) {
  return limit.off() ? "off" : std::to_string(limit.per_minute) + "/min";
}

std::int64_t refill_ms(RateLimit limit) { return limit.off() ? 0 : 60'000; }

Admission take(Bucket& bucket, RateLimit limit, std::int64_t now_ms) {
  const std::int64_t capacity = limit.per_minute * kMicro;
  // A full refill takes a minute: capping the elapsed time there keeps the product in range.
  std::int64_t elapsed = std::clamp<std::int64_t>(now_ms - bucket.updated_ms, 0, 60'000);
  // per_minute tokens per 60,000 ms: elapsed * per_minute * 10^6 / 60,000 millionths.
  std::int64_t refill = elapsed * limit.per_minute * 50 / 3;
  bucket.micro_tokens = std::min(capacity, bucket.micro_tokens + refill);
  if (now_ms > bucket.updated_ms) bucket.updated_ms = now_ms;
  if (bucket.micro_tokens >= kMicro) {
    bucket.micro_tokens -= kMicro;
    return {true, 0, bucket.micro_tokens / kMicro};
  }
  // Missing millionths at per_minute * 50 / 3 a millisecond, rounded up to whole seconds.
  std::int64_t missing = kMicro - bucket.micro_tokens;
  std::int64_t rate = limit.per_minute * 50;  // millionths per 3 ms
  std::int64_t wait_ms = (missing * 3 + rate - 1) / rate;
  return {false, std::max<std::int64_t>(1, (wait_ms + 999) / 1000), 0};
}

}  // namespace recur::http
