// The in-process availability cache: per-product stock facts, dropped after every committed
// change, on this node and (through the invalidation bus) on every other.
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "inventory/model.h"
#include "platform/cache/invalidation.h"
#include "platform/db/database.h"

namespace recur::inventory {

// A reader notes generation() before reading the database and puts its snapshot only if no
// invalidation happened since (put_if_current), so a snapshot read before a change can
// never be cached after that change's invalidation.
class AvailabilityCache {
 public:
  std::optional<StockSnapshot> get(const std::string& product) const;
  std::uint64_t generation() const;
  void put_if_current(StockSnapshot snapshot, std::uint64_t read_at_generation);
  void invalidate(const std::string& product);
  void clear();

  // With several API nodes: committed changes are published so every node's cache drops
  // them, and this one drops what the others publish.
  void connect(cache::InvalidationBus* bus);
  // Something changed what a product's availability says: drops it here and, through the
  // bus, on every node. Requires: called after the change committed.
  void forget(const std::string& product);
  // Drops the product now, and everywhere once `tx` commits (when readers can see it).
  void invalidate_after_commit(db::Tx& tx, const std::string& product);

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, StockSnapshot> by_product_;
  std::uint64_t generation_ = 0;  // bumped by every invalidation
  cache::InvalidationBus* bus_ = nullptr;
};

}  // namespace recur::inventory
