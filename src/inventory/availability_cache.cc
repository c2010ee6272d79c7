// The availability cache.
#include "inventory/availability_cache.h"

#include <mutex>

namespace recur::inventory {

std::optional<StockSnapshot> AvailabilityCache::get(const std::string& product) const {
  std::shared_lock lock(mutex_);
  auto it = by_product_.find(product);
  if (it == by_product_.end()) return std::nullopt;
  return it->second;
}

std::uint64_t AvailabilityCache::generation() const {
  std::shared_lock lock(mutex_);
  return generation_;
}

void AvailabilityCache::put_if_current(StockSnapshot snapshot, std::uint64_t read_at_generation) {
  std::unique_lock lock(mutex_);
  if (generation_ != read_at_generation) return;  // something changed while it was read
  by_product_[snapshot.product] = std::move(snapshot);
}

void AvailabilityCache::invalidate(const std::string& product) {
  std::unique_lock lock(mutex_);
  ++generation_;
  by_product_.erase(product);
}

void AvailabilityCache::clear() {
  std::unique_lock lock(mutex_);
  ++generation_;
  by_product_.clear();
}

void AvailabilityCache::connect(cache::InvalidationBus* bus) {
  bus_ = bus;
  if (bus_) bus_->subscribe([this](const std::string& product) { invalidate(product); }, [this] { clear(); });
}

void AvailabilityCache::forget(const std::string& product) {
  invalidate(product);
  if (bus_) bus_->publish(product);
}

void AvailabilityCache::invalidate_after_commit(db::Tx& tx, const std::string& product) {
  invalidate(product);  // now, and again once the change is visible to readers
  tx.after_commit([this, product] { forget(product); });
}

}  // namespace recur::inventory
