// Cache invalidation across API nodes: a node that changes something publishes its key
// after commit; every node (itself included) drops that key from its in-process cache.
#pragma once

#include <functional>
#include <string>

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
};

}  // namespace recur::cache
