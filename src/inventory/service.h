// Inventory's parts wired together, for the App and tests: each part is a small class that
// takes only what it uses (see the headers named below); InventoryService owns them in
// dependency order and forwards the use cases callers had from one object.
#pragma once

#include <optional>
#include <string>

#include "catalog/store.h"
#include "events/store.h"
#include "inventory/availability.h"
#include "inventory/availability_cache.h"
#include "inventory/backorder_choices.h"
#include "inventory/fulfilment.h"
#include "inventory/low_stock_alerts.h"
#include "inventory/model.h"
#include "inventory/shipment_notices.h"
#include "inventory/shipments.h"
#include "inventory/stock_levels.h"
#include "inventory/stock_movements.h"
#include "notify/outbox.h"
#include "platform/cache/invalidation.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::inventory {

struct InventoryOptions {
  std::string ops_email;  // operators' address for low-stock alerts ("" : none)
};

class InventoryService {
 public:
  // `outbox`: low-stock alerts and customers' shipment messages (notify::NullNotifier: none).
  // `billing`: takes the credit of a skipped backordered box for the next invoice.
  InventoryService(db::Database& db, const Clock& clock, IdGenerator& ids, notify::Outbox& outbox,
                   subscriptions::PeriodBilling& billing, InventoryOptions options = {});
  InventoryService(const InventoryService&) = delete;
  InventoryService& operator=(const InventoryService&) = delete;

  // The parts.
  AvailabilityCache& cache() { return cache_; }
  StockMovements& stock_movements() { return movements_; }
  StockLevels& levels() { return levels_; }
  AvailabilityAnswers& answers() { return answers_; }
  Shipments& shipments() { return shipments_; }
  BackorderChoices& choices() { return choices_; }
  InventoryFulfilment& fulfilment() { return fulfilment_; }

  // Wiring done by the App.
  void set_invalidation_bus(cache::InvalidationBus* bus) { cache_.connect(bus); }
  void set_order_receipt(StockLevels::OrderReceipt receipt) { levels_.set_order_receipt(std::move(receipt)); }
  void set_period_payment(const PeriodPaymentOf& payment) {
    shipments_.set_period_payment(payment);
    fulfilment_.set_period_payment(payment);
  }

  // The use cases, as each part offers them.
  Result<StockView> stock(const std::string& sku) { return levels_.stock(sku); }
  Result<Page<StockView>> list_stock(bool low_only, const ListParams& page) { return levels_.list_stock(low_only, page); }
  Result<StockView> update_settings(const std::string& sku, const StockSettingsPatch& patch,
                                    const events::Actor& actor) {
    return levels_.update_settings(sku, patch, actor);
  }
  Result<StockView> adjust(const std::string& sku, std::int64_t delta, const std::string& reason,
                           const events::Actor& actor) {
    return levels_.adjust(sku, delta, reason, actor);
  }
  Result<StockView> receive(const std::string& sku, std::int64_t quantity,
                            const std::optional<std::string>& purchase_order, const events::Actor& actor) {
    return levels_.receive(sku, quantity, purchase_order, actor);
  }
  Result<StockView> record_return(const std::string& sku, std::int64_t quantity,
                                  const std::optional<std::string>& shipment, const events::Actor& actor) {
    return levels_.record_return(sku, quantity, shipment, actor);
  }
  Result<Page<Movement>> movements(const std::string& sku, const std::vector<std::string>& kinds,
                                   const ListParams& page) {
    return levels_.movements(sku, kinds, page);
  }
  Result<LedgerSums> ledger_sums(const std::string& sku) { return levels_.ledger_sums(sku); }
  // Requires: called inside the caller's transaction.
  Result<bool> record_movement(db::Tx& tx, const Movement& movement) { return movements_.record_movement(tx, movement); }
  Result<AvailabilityAnswer> availability(const std::string& product, std::int64_t quantity,
                                          std::optional<Timestamp> date) {
    return answers_.availability(product, quantity, date);
  }
  // Requires: called after the change committed.
  void forget(const std::string& product) { cache_.forget(product); }
  Result<Shipment> shipment(const std::string& id) { return shipments_.shipment(id); }
  Result<Page<Shipment>> list_shipments(const ShipmentFilter& query) { return shipments_.list_shipments(query); }
  Result<Shipment> move_shipment(const std::string& id, ShipmentStatus to, const std::optional<std::string>& tracking,
                                 std::optional<std::int64_t> expected_version, const events::Actor& actor) {
    return shipments_.move_shipment(id, to, tracking, expected_version, actor);
  }
  Result<Shipment> choose(const std::string& id, const ChoiceInput& input, const events::Actor& actor) {
    return choices_.choose(id, input, actor);
  }

 private:
  // In dependency order: each part refers only to those declared before it.
  AvailabilityCache cache_;
  LowStockAlerts alerts_;
  ShipmentNotices notices_;
  StockMovements movements_;
  StockLevels levels_;
  AvailabilityAnswers answers_;
  Shipments shipments_;
  BackorderChoices choices_;
  InventoryFulfilment fulfilment_;
};

}  // namespace recur::inventory
