// The cache-invalidation bus over Redis pub/sub, for several API nodes on one database.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "platform/cache/invalidation.h"
#include "platform/result.h"

struct redisContext;

namespace recur::cache {

struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;  // accepted for familiar URLs; pub/sub channels are server-wide, so unused
};

// redis://host[:port][/db] (an IPv6 host in brackets); 422 invalid_redis_url otherwise.
Result<RedisAddress> parse_redis_url(const std::string& url);

// PUBLISH goes out on one shared connection with short timeouts, reconnected on demand: a
// write never waits long on Redis and never fails because Redis is down (a warning is logged
// once per outage). SUBSCRIBE runs on a thread of its own that reconnects with a bounded
// backoff and calls on_resync every time it is subscribed again, since whatever was published
// while it was away is lost. Two deployments on one Redis need different channels.
class RedisInvalidationBus final : public InvalidationBus {
 public:
  static constexpr const char* kDefaultChannel = "recur:cache";
  // Published before anything else once a node can publish again after failing to: every
  // node then drops its whole cache (on_resync), as on a reconnect of its own.
  static constexpr std::string_view kResyncMessage = "*resync*";
  // How long a node that could not publish waits before trying Redis again (meanwhile its
  // writes publish nothing; the resync above makes up for them).
  static constexpr std::chrono::milliseconds kPublishRetry{500};

  // Fails only on a malformed URL: Redis need not be up yet.
  static Result<std::unique_ptr<RedisInvalidationBus>> open(const std::string& url,
                                                            std::string channel = kDefaultChannel);
  RedisInvalidationBus(RedisAddress address, std::string channel);
  ~RedisInvalidationBus() override;  // stops the subscriber thread (within a few hundred ms)
  RedisInvalidationBus(const RedisInvalidationBus&) = delete;
  RedisInvalidationBus& operator=(const RedisInvalidationBus&) = delete;

  void publish(const std::string& key) override;
  // Requires: called at most once. The callbacks run on the subscriber thread.
  void subscribe(std::function<void(const std::string& key)> on_key, std::function<void()> on_resync) override;

  // True from the moment on_resync has run for the current connection until it breaks.
  bool subscribed() const { return subscribed_; }
  bool live() const override { return subscribed_; }

 private:
  struct ContextFree {
    void operator()(redisContext* c) const;
  };
  using Context = std::unique_ptr<redisContext, ContextFree>;

  Context connect(std::string& error) const;
  void run_subscriber();
  // Hands every message to on_key_ until the connection breaks (returns why) or the bus stops.
  std::string receive(redisContext* c);
  bool stopping();
  void pause(std::chrono::milliseconds delay);  // returns early when the bus stops
  std::string where() const;

  const RedisAddress address_;
  const std::string channel_;

  std::mutex publish_mu_;
  Context publisher_;          // guarded by publish_mu_
  bool publisher_down_ = false;  // guarded by publish_mu_; a warning per outage, not per write
  std::chrono::steady_clock::time_point retry_at_{};  // guarded by publish_mu_

  std::function<void(const std::string&)> on_key_;
  std::function<void()> on_resync_;
  std::atomic<bool> subscribed_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // guarded by stop_mu_
  std::thread subscriber_;
};

}  // namespace recur::cache
