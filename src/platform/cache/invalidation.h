// Cache invalidation across API nodes: a node that changes something publishes its key
// after commit; every node (itself included) drops that key from its in-process cache.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace recur::cache {

class InvalidationBus {
 public:
  virtual ~InvalidationBus() = default;
  // Tells every node that `key` changed. Never blocks the caller on the network for long
  // and never throws; a lost message is bounded by the subscriber's resync rule.
  virtual void publish(const std::string& key) = 0;
  // Calls `on_key` (on the bus's own thread) for every key published by any node, and
  // `on_resync` when messages may have been missed (a reconnect): drop everything.
  virtual void subscribe(std::function<void(const std::string& key)> on_key, std::function<void()> on_resync) = 0;
  // Whether messages are being heard now. A cache that must never answer stale (TxCache)
  // is not used while this is false.
  virtual bool live() const { return true; }
};

// One bus shared by several caches in a process (availability, data keys, API keys): each
// subscribes here; the inner bus (subscribed at most once) has one subscriber, this.
class SharedBus final : public InvalidationBus {
 public:
  explicit SharedBus(InvalidationBus& inner) : inner_(inner) {}
  void publish(const std::string& key) override { inner_.publish(key); }
  bool live() const override { return inner_.live(); }
  void subscribe(std::function<void(const std::string& key)> on_key, std::function<void()> on_resync) override {
    bool first = false;
    {
      std::lock_guard lock(mu_);
      first = subscribers_.empty();
      subscribers_.push_back({std::move(on_key), std::move(on_resync)});
    }
    if (!first) return;
    inner_.subscribe(
        [this](const std::string& key) {
          for (auto& s : snapshot()) s.on_key(key);
        },
        [this] {
          for (auto& s : snapshot()) s.on_resync();
        });
  }

 private:
  struct Subscriber {
    std::function<void(const std::string&)> on_key;
    std::function<void()> on_resync;
  };
  std::vector<Subscriber> snapshot() {
    std::lock_guard lock(mu_);
    return subscribers_;
  }
  InvalidationBus& inner_;
  std::mutex mu_;
  std::vector<Subscriber> subscribers_;
};

}  // namespace recur::cache
