// Inventory SQL: stock levels (one row per product and warehouse), the movement ledger,
// shipments, and what open purchase orders will bring.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "inventory/model.h"
#include "platform/db/database.h"
#include "platform/metrics/backlog.h"
#include "platform/page.h"

namespace recur::inventory {

// The level of `product` in `warehouse`; created at zero (with the default settings) when
// the product never had stock there. Requires: inside a write transaction when for_update.
Result<StockLevel> load_level(db::Tx& tx, const std::string& product, const std::string& warehouse, bool for_update);
Result<std::optional<StockLevel>> find_level(db::Tx& tx, const std::string& product, const std::string& warehouse);
// Every warehouse's level of `product` summed (what the API shows per SKU).
Result<StockLevel> total_level(db::Tx& tx, const std::string& product);
recur::Status save_level_settings(db::Tx& tx, const StockLevel& level);

// Appends `movement` and applies its deltas to the level in one conditional UPDATE: false
// (and nothing written) when the result would have on_hand < 0, reserved < 0 or
// reserved > on_hand. This is the only way levels change.
Result<bool> apply_movement(db::Tx& tx, const Movement& movement);

struct MovementFilter {
  std::string product;
  std::vector<std::string> kinds;  // any of them; all when empty
  ListParams page;
};
Result<Page<Movement>> list_movements(db::Tx& tx, const MovementFilter& filter);  // newest first
Result<std::vector<Movement>> all_movements(db::Tx& tx, const std::string& product);    // oldest first

// Units on open purchase orders (sent or partially received) not yet received, and when.
Result<std::vector<Arrival>> arrivals(db::Tx& tx, const std::string& product);

Result<bool> insert_shipment(db::Tx& tx, const Shipment& shipment);  // false: the period has one already
recur::Status update_shipment(db::Tx& tx, const Shipment& shipment);
Result<std::optional<Shipment>> find_shipment(db::Tx& tx, const std::string& id, bool for_update);
struct ShipmentFilter {
  std::optional<std::string> subscription;
  std::optional<std::string> customer;
  std::vector<std::string> statuses;  // any of them; all when empty
  std::optional<std::string> tracking_number;
  std::optional<std::string> invoice;
  std::optional<bool> paid;
  ListParams page;
};
Result<Page<Shipment>> list_shipments(db::Tx& tx, const ShipmentFilter& filter);  // newest first
// The shipments of the period `invoice` billed (one, or none when its plan ships nothing).
// Requires: inside a write transaction when for_update.
Result<std::vector<Shipment>> shipments_of_invoice(db::Tx& tx, const std::string& invoice, bool for_update);
// Backordered shipments, first come first served.
Result<std::vector<Shipment>> backorders(db::Tx& tx, bool for_update);

// Stock at a glance (/metrics): stock rows with nothing left to reserve, and boxes waiting
// for stock (with the oldest one's backorder time).
struct StockHealth {
  std::int64_t stock_outs = 0;
  metrics::Backlog backorders;
};
Result<StockHealth> stock_health(db::Tx& tx);

}  // namespace recur::inventory
