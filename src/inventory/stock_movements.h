// The one path by which stock moves, inside the caller's transaction: a ledger row and a
// conditional level update (decision 0006), then what every movement brings: backorders
// filled first come first served from what it freed, the low-stock check, and the cache
// entry dropped after commit. Reservations and releases for shipments go through here too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog/model.h"
#include "events/store.h"
#include "inventory/availability_cache.h"
#include "inventory/low_stock_alerts.h"
#include "inventory/model.h"
#include "inventory/shipment_notices.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::inventory {

class StockMovements {
 public:
  StockMovements(const Clock& clock, IdGenerator& ids, AvailabilityCache& cache, LowStockAlerts& alerts,
                 ShipmentNotices& notices)
      : clock_(clock), ids_(ids), events_(ids, clock), cache_(cache), alerts_(alerts), notices_(notices) {}

  // Records a movement (an id is given when it has none), then fills backorders from what
  // it freed and checks the low-stock crossing. false when the level would break its rules.
  Result<bool> move(db::Tx& tx, Movement movement, const catalog::Product& product);
  // The same for a movement made elsewhere (a purchase order's receipt); 404 for an unknown
  // product.
  Result<bool> record_movement(db::Tx& tx, const Movement& movement);

  // Reserves up to what the item is short; returns units reserved. Untracked items count as
  // fully reserved and move nothing.
  Result<std::int64_t> reserve(db::Tx& tx, ShipmentItem& item, const std::string& shipment, Timestamp at);
  // Gives an item's units back (no backorder filling: the caller stores the shipment, then
  // calls released() so the units go to other backorders first come first served).
  recur::Status release(db::Tx& tx, ShipmentItem& item, const std::string& shipment, Timestamp at);
  recur::Status released(db::Tx& tx, const std::vector<ShipmentItem>& items);

 private:
  recur::Status after_movement(db::Tx& tx, const catalog::Product& product, bool freed_stock);
  recur::Status fill_backorders(db::Tx& tx, const std::string& product);

  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
  AvailabilityCache& cache_;
  LowStockAlerts& alerts_;
  ShipmentNotices& notices_;
};

// When a backordered shipment's short items are all expected from open purchase orders (the
// latest of their dates); none when something on order does not cover an item.
Result<std::optional<Timestamp>> expected_fill(db::Tx& tx, const Shipment& shipment);

}  // namespace recur::inventory
