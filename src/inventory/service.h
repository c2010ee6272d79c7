// Inventory use cases: stock levels moved only through the ledger, one shipment per billed
// period with its reservation in the same transaction, backorders filled first come first
// served, low-stock alerts once per crossing, and cached availability answers.
#pragma once

#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/model.h"
#include "catalog/store.h"
#include "events/store.h"
#include "inventory/model.h"
#include "notify/service.h"
#include "platform/cache/invalidation.h"
#include "platform/clock.h"
#include "platform/ids.h"
#include "subscriptions/service.h"

namespace recur::inventory {

struct InventoryOptions {
  std::string ops_email;  // operators' address for low-stock alerts ("" : none)
};

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

struct StockSettingsPatch {
  std::optional<std::int64_t> low_stock_threshold;
  std::optional<std::optional<std::string>> alert_email;
};

Json to_json(const Alternative& alternative);

struct AvailabilityAnswer {
  Availability availability;
  std::vector<Alternative> alternatives;  // only when it cannot be fulfilled
};
Json to_json(const AvailabilityAnswer& answer);

struct ChoiceInput {
  BackorderChoice choice = BackorderChoice::kWait;
  std::optional<std::string> item;     // swap / cancel_item: the product of the item
  std::optional<std::string> swap_to;  // swap: the product instead
};

struct ShipmentQuery {
  std::optional<std::string> subscription;
  std::optional<std::string> customer;
  std::optional<std::string> status;
  int limit = 10;
  std::optional<std::string> starting_after;
};

// In-process availability facts per product, dropped after every committed movement.
// A reader notes generation() before reading the database and puts its snapshot only if
// no invalidation happened since (put_if_current), so a snapshot read before a change can
// never be cached after that change's invalidation.
class AvailabilityCache {
 public:
  std::optional<StockSnapshot> get(const std::string& product) const;
  std::uint64_t generation() const;
  void put_if_current(StockSnapshot snapshot, std::uint64_t read_at_generation);
  void invalidate(const std::string& product);
  void clear();

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, StockSnapshot> by_product_;
  std::uint64_t generation_ = 0;  // bumped by every invalidation
};

class InventoryService final : public subscriptions::Fulfilment {
 public:
  InventoryService(db::Database& db, const Clock& clock, IdGenerator& ids, InventoryOptions options = {})
      : db_(db), clock_(clock), ids_(ids), events_(ids, clock), options_(std::move(options)) {}

  void set_notifier(notify::Notifier* notifier) { notifier_ = notifier; }
  // With several API nodes: committed changes are published so every node's cache drops them.
  void set_invalidation_bus(cache::InvalidationBus* bus);
  // Purchasing records receipts against its orders in the receipt's transaction.
  using OrderReceipt = std::function<recur::Status(db::Tx&, const std::string& purchase_order,
                                                   const std::string& product, std::int64_t quantity)>;
  void set_order_receipt(OrderReceipt receipt) { order_receipt_ = std::move(receipt); }
  // Billing answers whether a shipment's period is paid: a box is made ready or shipped
  // only then (409 period_unpaid otherwise).
  using PeriodPaid = std::function<Result<bool>(db::Tx&, const std::string& subscription, std::int64_t period_seq)>;
  void set_period_paid(PeriodPaid paid) { period_paid_ = std::move(paid); }

  // Stock, addressed by SKU.
  Result<StockView> stock(const std::string& sku);
  Result<catalog::Page<StockView>> list_stock(bool low_only, int limit, const std::optional<std::string>& starting_after);
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
  Result<catalog::Page<Movement>> movements(const std::string& sku, const std::optional<std::string>& kind, int limit,
                                            const std::optional<std::string>& starting_after);
  // Records a movement made elsewhere (a purchase order's receipt) inside the caller's
  // transaction, with what every movement brings: backorder fills, the low-stock check and
  // cache invalidation. false when the level would break its rules.
  Result<bool> record_movement(db::Tx& tx, const Movement& movement);
  // Levels as the ledger alone says they are (a rebuild), to compare with the stored ones.
  Result<LedgerSums> ledger_sums(const std::string& sku);

  // Whether `quantity` of a product can be had now or by `date`; from the cache.
  Result<AvailabilityAnswer> availability(const std::string& product, std::int64_t quantity,
                                          std::optional<Timestamp> date);
  AvailabilityCache& cache() { return cache_; }
  // Something outside inventory changed what a product's availability says (its catalogue
  // entry, a purchase order): drops it here and, through the bus, on every node.
  // Requires: called after the change committed.
  void forget(const std::string& product);

  // Shipments.
  Result<Shipment> shipment(const std::string& id);
  Result<catalog::Page<Shipment>> list_shipments(const ShipmentQuery& query);
  Result<Shipment> move_shipment(const std::string& id, ShipmentStatus to, const std::optional<std::string>& tracking,
                                 std::optional<std::int64_t> expected_version, const events::Actor& actor);
  Result<Shipment> choose(const std::string& id, const ChoiceInput& input, const events::Actor& actor);

  // subscriptions::Fulfilment
  recur::Status period_began(db::Tx& tx, const subscriptions::Subscription& sub,
                             const subscriptions::LifecycleEvent& period, bool at_signup) override;
  recur::Status check_first_shipment(db::Tx& tx, const subscriptions::Subscription& sub, const catalog::Plan& plan,
                                     Timestamp ships_at) override;
  recur::Status subscription_ended(db::Tx& tx, const std::string& subscription) override;

 private:
  Result<catalog::Product> product_by_sku(db::Tx& tx, const std::string& sku);
  Result<StockView> view(db::Tx& tx, const catalog::Product& product);
  Result<StockSnapshot> snapshot(db::Tx& tx, const catalog::Product& product);
  // Records a movement, then fills backorders from what it freed and checks the low-stock
  // crossing. false when the level would break its rules.
  Result<bool> move(db::Tx& tx, Movement movement, const catalog::Product& product);
  // An operator's change of what is on hand (adjustment, receipt, return), through move().
  Result<bool> move_on_hand(db::Tx& tx, const catalog::Product& product, MovementKind kind, std::int64_t delta,
                            const std::optional<std::string>& reason, const std::optional<std::string>& reference,
                            const events::Actor& actor);
  recur::Status after_movement(db::Tx& tx, const catalog::Product& product, bool freed_stock);
  // Reserves up to what each item is short, oldest need first; returns units reserved.
  Result<std::int64_t> reserve(db::Tx& tx, ShipmentItem& item, const std::string& shipment, Timestamp at);
  // Gives an item's units back (no backorder filling: the caller stores the shipment, then
  // calls released() so the units go to other backorders first come first served).
  recur::Status release(db::Tx& tx, ShipmentItem& item, const std::string& shipment, Timestamp at);
  recur::Status released(db::Tx& tx, const std::vector<ShipmentItem>& items);
  recur::Status fill_backorders(db::Tx& tx, const std::string& product);
  recur::Status check_low_stock(db::Tx& tx, const catalog::Product& product);
  Result<std::vector<Alternative>> alternatives(db::Tx& tx, const catalog::Product& product, std::int64_t quantity,
                                                const std::optional<Timestamp>& available_on);
  Error out_of_stock(const std::vector<std::string>& skus, const std::vector<Alternative>& alternatives) const;
  Result<std::optional<Timestamp>> expected_fill(db::Tx& tx, const Shipment& shipment);
  void notify_customer(db::Tx& tx, const Shipment& shipment, const std::string& template_name, Json data);
  void invalidate_after_commit(db::Tx& tx, const std::string& product);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
  InventoryOptions options_;
  notify::Notifier* notifier_ = nullptr;
  OrderReceipt order_receipt_;
  PeriodPaid period_paid_;
  cache::InvalidationBus* bus_ = nullptr;
  AvailabilityCache cache_;
};

}  // namespace recur::inventory
