// Rate-limit buckets shared by every API node through Redis (`serve --redis-url`): one Lua
// script refills and takes a token atomically, on Redis's clock (decision 0019).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "platform/cache/redis_bus.h"
#include "platform/http/rate_limiter.h"
#include "platform/result.h"

struct redisContext;

namespace recur::cache {

// Fails open to this node's own buckets when Redis does not answer (within 100 ms): a Redis
// outage never refuses a request it would have let through, and the limits still hold per
// node. Redis is asked again a second after a failure; a warning is logged once per outage.
class RedisRateLimiter final : public http::RateLimiter {
 public:
  static constexpr const char* kDefaultPrefix = "recur:rate:";

  // Fails only on a malformed URL: Redis need not be up yet.
  static Result<std::unique_ptr<RedisRateLimiter>> open(const std::string& url, std::string prefix = kDefaultPrefix);
  RedisRateLimiter(RedisAddress address, std::string prefix);
  ~RedisRateLimiter() override;

  http::Admission admit(const std::string& key, http::RateLimit limit) override;
  bool blocks() const override { return true; }
  // True while requests are limited by this node's buckets because Redis did not answer.
  bool failing_open() const;

 private:
  struct ContextFree {
    void operator()(redisContext* c) const;
  };
  using Context = std::unique_ptr<redisContext, ContextFree>;

  Context connect(std::string& error) const;
  std::optional<http::Admission> ask(redisContext* c, const std::string& key, http::RateLimit limit,
                                     std::string& error) const;
  void note_down(const std::string& error);

  const RedisAddress address_;
  const std::string prefix_;
  std::string script_sha_;  // set at construction: SHA-1 of the script, for EVALSHA
  http::LocalRateLimiter fallback_;
  mutable std::mutex mu_;
  std::vector<Context> idle_;  // guarded by mu_: connections not in use
  std::chrono::steady_clock::time_point retry_at_{};  // guarded by mu_: until then, the fallback
  bool down_ = false;  // guarded by mu_
};

}  // namespace recur::cache
