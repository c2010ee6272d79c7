// Rate limiting port and its in-process implementation (docs/SECURITY.md; decision 0019).
// The pipeline asks it per API key and, on public routes, per source IP.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "platform/http/token_bucket.h"

namespace recur::http {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Takes a token from the bucket named `key` (a new bucket is full). Requires: !limit.off().
  virtual Admission admit(const std::string& key, RateLimit limit) = 0;
  // True when admit makes a network round trip: the pipeline does not call it on an I/O thread.
  virtual bool blocks() const { return false; }
};

// Milliseconds on a monotonic clock: rate limits follow real time, even when the business
// clock is simulated (--test-mode).
using MonotonicMs = std::function<std::int64_t()>;
std::int64_t steady_ms();

// Buckets in this process's memory, in shards under their own locks. Buckets left untouched
// for longer than a full refill are forgotten (a forgotten bucket is full, as it would be).
class LocalRateLimiter final : public RateLimiter {
 public:
  explicit LocalRateLimiter(MonotonicMs now = steady_ms) : now_(std::move(now)) {}
  Admission admit(const std::string& key, RateLimit limit) override;
  std::size_t buckets() const;  // for tests

 private:
  static constexpr std::size_t kShards = 16;
  // A shard past this many buckets drops the full ones (one source address each at worst).
  static constexpr std::size_t kPruneAbove = 4096;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    std::size_t prune_at = kPruneAbove;
  };
  MonotonicMs now_;
  std::array<Shard, kShards> shards_;
};

}  // namespace recur::http
