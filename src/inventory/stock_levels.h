// Stock by SKU, the operators' use cases: levels with what is on order, settings, and the
// changes of what is on hand (adjustments, receipts, returns), each in one transaction
// through StockMovements; the ledger and its sums.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "catalog/model.h"
#include "catalog/store.h"
#include "events/store.h"
#include "inventory/availability_cache.h"
#include "inventory/low_stock_alerts.h"
#include "inventory/model.h"
#include "inventory/stock_movements.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::inventory {

// What GET /v1/inventory/{sku} shows: every warehouse summed.
struct StockView {
  std::string sku;
  std::string product;
  std::string name;
  bool tracked = false;
  StockLevel level;
  std::int64_t incoming = 0;
};
Json to_json(const StockView& view);
// The product's stock as GET /v1/inventory/{sku} shows it (reads its levels and arrivals).
Result<StockView> stock_view(db::Tx& tx, const catalog::Product& product);

struct StockSettingsPatch {
  std::optional<std::int64_t> low_stock_threshold;
  std::optional<std::optional<std::string>> alert_email;
};

class StockLevels {
 public:
  StockLevels(db::Database& db, const Clock& clock, IdGenerator& ids, StockMovements& movements,
              LowStockAlerts& alerts, AvailabilityCache& cache)
      : db_(db), clock_(clock), events_(ids, clock), movements_(movements), alerts_(alerts), cache_(cache) {}

  // Purchasing records receipts against its orders in the receipt's transaction.
  using OrderReceipt = std::function<recur::Status(db::Tx&, const std::string& purchase_order,
                                                   const std::string& product, std::int64_t quantity)>;
  void set_order_receipt(OrderReceipt receipt) { order_receipt_ = std::move(receipt); }

  Result<StockView> stock(const std::string& sku);
  // Tracked products oldest first (by product id); `ending_before` pages backwards.
  Result<Page<StockView>> list_stock(bool low_only, const ListParams& page);
  Result<StockView> update_settings(const std::string& sku, const StockSettingsPatch& patch, const events::Actor& actor);
  // Refused with 409 insufficient_stock when on hand would go below zero (or below what is
  // reserved for shipments).
  Result<StockView> adjust(const std::string& sku, std::int64_t delta, const std::string& reason,
                           const events::Actor& actor);
  Result<StockView> receive(const std::string& sku, std::int64_t quantity,
                            const std::optional<std::string>& purchase_order, const events::Actor& actor);
  Result<StockView> record_return(const std::string& sku, std::int64_t quantity,
                                  const std::optional<std::string>& shipment, const events::Actor& actor);
  // The SKU's movements, newest first.
  Result<Page<Movement>> movements(const std::string& sku, const std::vector<std::string>& kinds, const ListParams& page);
  // Levels as the ledger alone says they are (a rebuild), to compare with the stored ones.
  Result<LedgerSums> ledger_sums(const std::string& sku);

 private:
  Result<catalog::Product> product_by_sku(db::Tx& tx, const std::string& sku);
  Result<StockView> view(db::Tx& tx, const catalog::Product& product) { return stock_view(tx, product); }
  // An operator's change of what is on hand (adjustment, receipt, return), through move().
  Result<bool> move_on_hand(db::Tx& tx, const catalog::Product& product, MovementKind kind, std::int64_t delta,
                            const std::optional<std::string>& reason, const std::optional<std::string>& reference,
                            const events::Actor& actor);

  db::Database& db_;
  const Clock& clock_;
  events::Recorder events_;
  StockMovements& movements_;
  LowStockAlerts& alerts_;
  AvailabilityCache& cache_;
  OrderReceipt order_receipt_;
};

}  // namespace recur::inventory
