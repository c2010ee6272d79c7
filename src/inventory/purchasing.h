// Purchasing use cases: suppliers, purchase orders (draft, send by e-mail and event,
// cancel, receive into stock) and automatic reordering from the demand forecast. One
// transaction each; the reorder run takes a read-only one for the forecast of every product,
// then one per product.
//
// How an automatic order is placed once per need: each is keyed by product and review cycle
// (purchase_orders.need_key is UNIQUE) and is skipped while an open order has the product.
// Both checks run after taking the purchase-order number counter's row lock, which every
// writer of purchase orders takes first, so two runs (threads or nodes) see each other's
// committed orders; a run that finds it lost rolls back and gives its number back.
#pragma once

#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

#include "events/store.h"
#include "inventory/availability_cache.h"
#include "inventory/forecast.h"
#include "inventory/model.h"
#include "inventory/purchasing_store.h"
#include "notify/outbox.h"
#include "platform/clock.h"
#include "platform/ids.h"

namespace recur::inventory {

// The demand of each product's windows (inventory::lead_time_demands answers, App wires it;
// tests inject a fixed demand, which is the seam for checking the ordering rules alone): one
// answer per window, in order. A reorder run asks for all its products at once, so the
// forecast reads the subscriptions once per run rather than twice per product; `from` is
// always the run's now.
using DemandForecast = std::function<Result<std::vector<LeadTimeDemand>>(db::Tx& tx, Timestamp from,
                                                                         const std::vector<LeadTimeWindow>& windows)>;
// Puts received units on hand inside the caller's transaction (inventory::apply_movement,
// wired by App): false when the ledger refuses the movement.
using StockIntake = std::function<Result<bool>(db::Tx& tx, const Movement& movement)>;

// Keeps the webhook endpoint behind a supplier's webhook_url in step with it, inside the
// caller's transaction (webhooks::WebhookService::sync_supplier_endpoint, wired by App, so
// inventory does not include webhooks): called with the supplier's id, name and URL (none:
// cleared) whenever a supplier is created with a URL or its URL or name changes. Answers the
// endpoint's id (none without a URL), or the URL's refusal (422 on webhook_url).
using SupplierWebhookSync = std::function<Result<std::optional<std::string>>(
    db::Tx& tx, const std::string& supplier, const std::string& name, const std::optional<std::string>& url)>;

struct PurchasingOptions {
  double service_level = 0.95;          // of not running out before an order arrives (0.5 .. 0.9999)
  std::int64_t review_period_days = 7;  // how often stock is reviewed: orders cover one period
  std::string ops_email;                // operators' address for replenishment notices ("" none)
  std::string buyer_name = "Recur";     // who the purchase order e-mail comes from
};

struct SupplierInput {
  std::string name;
  std::string email;
  std::optional<std::string> webhook_url;
  std::int64_t lead_time_days = 7;
  std::int64_t minimum_order_quantity = 1;
  std::int64_t pack_size = 1;
  bool automatic = false;
  std::vector<SuppliedProduct> products;
  Json metadata = Json::object();
};

struct SupplierPatch {
  std::optional<std::string> name;
  std::optional<std::string> email;
  std::optional<std::optional<std::string>> webhook_url;  // set, or clear with null
  std::optional<std::int64_t> lead_time_days;
  std::optional<std::int64_t> minimum_order_quantity;
  std::optional<std::int64_t> pack_size;
  std::optional<bool> automatic;
  std::optional<bool> active;
  std::optional<std::vector<SuppliedProduct>> products;  // replaces the list
  std::optional<Json> metadata;
};

struct OrderLineInput {
  std::string product;
  std::int64_t quantity = 0;
  std::optional<std::int64_t> unit_cost;  // default: the supplier's cost
};

struct PurchaseOrderInput {
  std::string supplier;
  std::vector<OrderLineInput> lines;
  Json metadata = Json::object();
};

struct ReceiptLine {
  std::string product;
  std::int64_t quantity = 0;
};

// What one reorder run did.
struct ReorderReport {
  Timestamp as_of = 0;
  int products_checked = 0;
  int drafted = 0;
  int sent = 0;
  int already_on_order = 0;  // below the reorder point, but an open order has the product
  int replenishment_alerts = 0;
  int errors = 0;
  std::string first_error;
  std::vector<std::string> purchase_orders;  // ids made by this run
};
Json to_json(const ReorderReport& report);

class PurchasingService {
 public:
  PurchasingService(db::Database& db, const Clock& clock, IdGenerator& ids, notify::Outbox& outbox,
                    PurchasingOptions options = {}, DemandForecast demand = {}, StockIntake intake = {});

  void set_demand_forecast(DemandForecast demand) { demand_ = std::move(demand); }
  void set_stock_intake(StockIntake intake) { intake_ = std::move(intake); }
  // None: webhook_url is only stored and recorded on purchase_order.sent (tests of purchasing alone).
  void set_supplier_webhook_sync(SupplierWebhookSync sync) { webhook_sync_ = std::move(sync); }
  // Availability answers count the arrivals of sent orders: sending, canceling or receiving
  // an order drops its products from this cache (here and, through its bus, on every node)
  // once the change commits. None: nothing is cached (tests of purchasing alone).
  void set_availability_cache(AvailabilityCache* cache) { cache_ = cache; }

  Result<Supplier> create_supplier(const SupplierInput& input, const events::Actor& actor);
  Result<Supplier> update_supplier(const std::string& id, const SupplierPatch& patch, std::int64_t expected_version,
                                   const events::Actor& actor);
  Result<Supplier> get_supplier(const std::string& id);
  Result<Page<Supplier>> list_suppliers(const SupplierFilter& filter);

  // A draft, numbered at once (the gapless sequence counts drafts too).
  Result<PurchaseOrder> create_purchase_order(const PurchaseOrderInput& input, const events::Actor& actor);
  Result<PurchaseOrder> get_purchase_order(const std::string& id);
  Result<Page<PurchaseOrder>> list_purchase_orders(const PurchaseOrderFilter& filter);
  // draft -> sent: expected_at = now + lead time; e-mailed to the supplier and recorded as a
  // `purchase_order.sent` event (what webhooks deliver). 409 from any other status.
  Result<PurchaseOrder> send_purchase_order(const std::string& id, const events::Actor& actor);
  // From draft, sent or partially_received (closing what has not arrived). 409 otherwise.
  Result<PurchaseOrder> cancel_purchase_order(const std::string& id, const events::Actor& actor);
  // Receives every line (all or nothing; each names its product by id or SKU) and puts the
  // units on hand through the stock intake.
  Result<PurchaseOrder> receive(const std::string& id, std::vector<ReceiptLine> lines, const events::Actor& actor);

  // For every tracked product some supplier supplies: orders when available + incoming falls
  // below the reorder point, and tells operators when the lead time's demand exceeds it.
  Result<ReorderReport> reorder(Timestamp now);

 private:
  struct Outcome;
  // The product's windows, and their demand as the run's forecast answered it (keyed by product).
  using Forecasted = std::unordered_map<std::string, std::pair<LeadTimeWindow, LeadTimeDemand>>;
  // The supplier a product is reordered from (none: untracked, inactive, or nobody supplies it).
  static Result<std::optional<Supplier>> reorder_supplier(db::Tx& tx, const std::string& product);
  LeadTimeWindow window_of(const Supplier& supplier, const std::string& product, Timestamp now) const;
  // Each product's supplier and windows, and the forecast of them all, in one read-only transaction.
  Result<Forecasted> forecast_windows(const std::vector<std::string>& products, Timestamp now);
  Result<Outcome> reorder_product(const std::string& product, Timestamp now, const Forecasted& forecasted);
  // Drafts (or, for an automatic supplier, sends) an order for the need of this cycle; a
  // conflict (already_on_order, need_already_ordered) when another run answered it first.
  Result<PurchaseOrder> order_automatically(db::Tx& tx, const Supplier& supplier, const std::string& product,
                                            std::int64_t quantity, Timestamp now);
  // An `inventory.replenishment_needed` event, and an e-mail to options_.ops_email.
  Status alert_replenishment(db::Tx& tx, const Supplier& supplier, const std::string& product,
                             const ReorderInputs& in, const ReorderDecision& decision, const std::string& action);
  // Each product, named by id or SKU, must exist, once, in the supplier's one currency;
  // products then name it by id.
  Status resolve_products(db::Tx& tx, std::vector<SuppliedProduct>& products);
  // Marks `order` sent at `now` and delivers it. Requires: order is a draft, inside tx.
  Status send_in(db::Tx& tx, PurchaseOrder& order, const Supplier& supplier, Timestamp now,
                 const events::Actor& actor);
  // The supplier's webhook endpoint follows its webhook_url and name. Requires: inside tx.
  Status sync_webhook(db::Tx& tx, Supplier& supplier);
  Result<PurchaseOrder> load_for_update(db::Tx& tx, const std::string& id);
  // The order's expected arrivals changed: its products' cached availability is dropped
  // once tx commits. Requires: inside tx.
  void arrivals_changed(db::Tx& tx, const PurchaseOrder& order);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  notify::Outbox& outbox_;
  PurchasingOptions options_;
  DemandForecast demand_;
  StockIntake intake_;
  SupplierWebhookSync webhook_sync_;
  AvailabilityCache* cache_ = nullptr;
  events::Recorder events_;
};

}  // namespace recur::inventory
