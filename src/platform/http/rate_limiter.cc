// In-process rate limiting; see rate_limiter.h.
#include "platform/http/rate_limiter.h"

#include <chrono>

namespace recur::http {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Admission LocalRateLimiter::admit(const std::string& key, RateLimit limit) {
  const std::int64_t now = now_();
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  std::lock_guard lock(shard.mu);
  if (shard.buckets.size() >= shard.prune_at) {
    std::erase_if(shard.buckets, [&](const auto& entry) { return now - entry.second.updated_ms >= refill_ms(limit); });
    // Everything still there is in use: prune again only when the map has doubled.
    shard.prune_at = std::max(kPruneAbove, 2 * shard.buckets.size());
  }
  auto [it, inserted] = shard.buckets.try_emplace(key);
  if (inserted) it->second = full_bucket(limit, now);
  return take(it->second, limit, now);
}

std::size_t LocalRateLimiter::buckets() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.buckets.size();
  }
  return n;
}

}  // namespace recur::http
