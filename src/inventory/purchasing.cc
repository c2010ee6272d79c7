// Purchasing use cases.
#include "inventory/purchasing.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "catalog/store.h"
#include "inventory/stock_levels.h"
#include "inventory/store.h"
#include "platform/money.h"
#include "platform/ids.h"

namespace recur::inventory {
namespace {

// Codes of a reorder that found another run got there first: rolled back, not an error.
constexpr std::string_view kAlreadyOnOrder = "already_on_order";
constexpr std::string_view kNeedAlreadyOrdered = "need_already_ordered";

Error supplier_not_found(const std::string& id) {
  return Error::not_found("supplier_not_found", no_object_message("supplier", "sup", id));
}

Error purchase_order_not_found(const std::string& id) {
  return Error::not_found("purchase_order_not_found", no_object_message("purchase order", "po", id));
}

Error refused(PurchaseOrderAction action, const PurchaseOrder& o) {
  bool send = action == PurchaseOrderAction::kSend;
  return Error::conflict(send ? "purchase_order_not_sendable" : "purchase_order_not_cancellable",
                         "purchase order " + o.number + " is " + std::string(to_string(o.status)) + " and cannot be " +
                             (send ? "sent" : "canceled"));
}

Error unavailable(std::string code, std::string message) {
  return Error::unavailable(std::move(code), std::move(message));
}

std::string date_of(Timestamp t) { return format_rfc3339(t).substr(0, 10); }

}  // namespace

struct PurchasingService::Outcome {
  bool checked = false;
  bool moved = false;  // the supplier's windows are not those the run's forecast was asked for
  bool already_on_order = false;
  bool alerted = false;
  std::optional<PurchaseOrder> order;
};

Json to_json(const ReorderReport& r) {
  return Json{{"object", "reorder_run"},
              {"as_of", format_rfc3339(r.as_of)},
              {"products_checked", r.products_checked},
              {"drafted", r.drafted},
              {"sent", r.sent},
              {"already_on_order", r.already_on_order},
              {"replenishment_alerts", r.replenishment_alerts},
              {"errors", r.errors},
              {"purchase_orders", r.purchase_orders}};
}

PurchasingService::PurchasingService(db::Database& db, const Clock& clock, IdGenerator& ids,
                                     notify::Outbox& outbox, PurchasingOptions options, DemandForecast demand,
                                     StockIntake intake)
    : db_(db), clock_(clock), ids_(ids), outbox_(outbox), options_(std::move(options)),
      demand_(std::move(demand)), intake_(std::move(intake)), events_(ids, clock) {}

// ------------------------------------------------------------------ suppliers

Status PurchasingService::resolve_products(db::Tx& tx, std::vector<SuppliedProduct>& products) {
  std::vector<FieldError> errors;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < products.size(); ++i) {
    std::string field = "products[" + std::to_string(i) + "]";
    auto& p = products[i];
    if (p.currency != products.front().currency)
      errors.push_back({field + ".currency", "currency_mismatch",
                        "a supplier's costs are in one currency (" + products.front().currency + ")"});
    RECUR_ASSIGN(auto product, catalog::find_product_by_key(tx, p.product));
    if (!product) {
      errors.push_back({field + ".product", "not_found", "no product with id or SKU '" + p.product + "'"});
      continue;
    }
    if (!seen.insert(product->id).second)
      errors.push_back({field + ".product", "duplicate", "product " + p.product + " is listed twice"});
    p.product = product->id;
  }
  if (errors.empty()) return Ok{};
  std::string detail = errors.front().message;
  return Error::invalid("validation_failed", detail, std::move(errors));
}

Result<Supplier> PurchasingService::create_supplier(const SupplierInput& in, const events::Actor& actor) {
  Supplier s;
  s.id = ids_.next("sup");
  s.name = in.name;
  s.email = in.email;
  s.webhook_url = in.webhook_url;
  s.lead_time_days = in.lead_time_days;
  s.minimum_order_quantity = in.minimum_order_quantity;
  s.pack_size = in.pack_size;
  s.automatic = in.automatic;
  s.products = in.products;
  s.metadata = in.metadata;
  s.created = s.updated = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Supplier> {
    RECUR_TRY(resolve_products(tx, s.products));
    if (s.webhook_url) RECUR_TRY(sync_webhook(tx, s));
    RECUR_TRY(insert_supplier(tx, s));
    RECUR_TRY(events_.record(tx, "supplier.created", s.id, actor, nullptr, to_json(s)));
    return s;
  });
}

Result<Supplier> PurchasingService::update_supplier(const std::string& id, const SupplierPatch& patch,
                                                    std::int64_t expected_version, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Supplier> {
    RECUR_ASSIGN(auto found, find_supplier(tx, id, true));
    if (!found) return supplier_not_found(id);
    Supplier s = std::move(*found);
    if (s.version != expected_version) return version_conflict("the supplier", expected_version, s.version);
    Json before = to_json(s);
    if (patch.name) s.name = *patch.name;
    if (patch.email) s.email = *patch.email;
    if (patch.webhook_url) s.webhook_url = *patch.webhook_url;
    if (patch.lead_time_days) s.lead_time_days = *patch.lead_time_days;
    if (patch.minimum_order_quantity) s.minimum_order_quantity = *patch.minimum_order_quantity;
    if (patch.pack_size) s.pack_size = *patch.pack_size;
    if (patch.automatic) s.automatic = *patch.automatic;
    if (patch.active) s.active = *patch.active;
    if (patch.products) {
      s.products = *patch.products;
      RECUR_TRY(resolve_products(tx, s.products));
    }
    if (patch.metadata) s.metadata = *patch.metadata;
    if (patch.webhook_url || patch.name) RECUR_TRY(sync_webhook(tx, s));
    s.updated = clock_.now();
    ++s.version;
    RECUR_ASSIGN(bool saved, inventory::update_supplier(tx, s));
    if (!saved) return version_conflict("the supplier", expected_version, s.version);
    RECUR_TRY(events_.record(tx, "supplier.updated", s.id, actor, std::move(before), to_json(s)));
    return s;
  });
}

Status PurchasingService::sync_webhook(db::Tx& tx, Supplier& s) {
  if (!webhook_sync_) return Ok{};
  RECUR_ASSIGN(s.webhook_endpoint, webhook_sync_(tx, s.id, s.name, s.webhook_url));
  return Ok{};
}

Result<Supplier> PurchasingService::get_supplier(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Supplier> {
    RECUR_ASSIGN(auto found, find_supplier(tx, id, false));
    if (!found) return supplier_not_found(id);
    return std::move(*found);
  }, db::TxMode::kReadOnly);
}

Result<Page<Supplier>> PurchasingService::list_suppliers(const SupplierFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return inventory::list_suppliers(tx, filter); }, db::TxMode::kReadOnly);
}

// ------------------------------------------------------------------ purchase orders

Result<PurchaseOrder> PurchasingService::create_purchase_order(const PurchaseOrderInput& in,
                                                               const events::Actor& actor) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<PurchaseOrder> {
    RECUR_ASSIGN(auto supplier, find_supplier(tx, in.supplier, false));
    if (!supplier)
      return Error::invalid("validation_failed", no_object_message("supplier", "sup", in.supplier),
                            {{"supplier", "not_found", no_object_message("supplier", "sup", in.supplier)}});
    PurchaseOrder o;
    std::vector<FieldError> errors;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < in.lines.size(); ++i) {
      const auto& line = in.lines[i];
      std::string field = "lines[" + std::to_string(i) + "].product";
      RECUR_ASSIGN(auto product, catalog::find_product_by_key(tx, line.product));
      if (!product) {
        errors.push_back({field, "not_found", "no product with id or SKU '" + line.product + "'"});
        continue;
      }
      const SuppliedProduct* offer = supplier->supplies(product->id);
      if (!offer) {
        errors.push_back({field, "not_supplied", supplier->name + " does not supply " + line.product});
        continue;
      }
      if (!seen.insert(product->id).second) {
        errors.push_back({field, "duplicate", "product " + line.product + " is on two lines"});
        continue;
      }
      o.currency = offer->currency;
      o.lines.push_back({product->id, product->sku, line.quantity, 0, line.unit_cost.value_or(offer->unit_cost)});
    }
    if (!errors.empty()) {
      std::string detail = errors.front().message;
      return Error::invalid("validation_failed", detail, std::move(errors));
    }
    o.id = ids_.next("po");
    RECUR_ASSIGN(o.number, next_purchase_order_number(tx));
    o.supplier = supplier->id;
    o.metadata = in.metadata;
    o.created = o.updated = now;
    RECUR_ASSIGN(bool inserted, insert_purchase_order(tx, o));
    if (!inserted) return Error::internal("purchase order " + o.id + " was not inserted");
    RECUR_TRY(events_.record(tx, "purchase_order.created", o.id, actor, nullptr, to_json(o)));
    return o;
  });
}

Result<PurchaseOrder> PurchasingService::get_purchase_order(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<PurchaseOrder> {
    RECUR_ASSIGN(auto found, find_purchase_order(tx, id, false));
    if (!found) return purchase_order_not_found(id);
    return std::move(*found);
  }, db::TxMode::kReadOnly);
}

Result<Page<PurchaseOrder>> PurchasingService::list_purchase_orders(const PurchaseOrderFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return inventory::list_purchase_orders(tx, filter); }, db::TxMode::kReadOnly);
}

Result<PurchaseOrder> PurchasingService::load_for_update(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto found, find_purchase_order(tx, id, true));
  if (!found) return purchase_order_not_found(id);
  return std::move(*found);
}

void PurchasingService::arrivals_changed(db::Tx& tx, const PurchaseOrder& o) {
  if (!cache_) return;
  for (const auto& line : o.lines) cache_->invalidate_after_commit(tx, line.product);
}

Status PurchasingService::send_in(db::Tx& tx, PurchaseOrder& o, const Supplier& supplier, Timestamp now,
                                  const events::Actor& actor) {
  Json before = to_json(o);
  o.status = PurchaseOrderStatus::kSent;
  o.sent_at = now;
  o.expected_at = now + supplier.lead_time_days * kSecondsPerDay;
  o.updated = now;
  std::optional<std::string> notification;
  {
    notify::Message m;
    m.template_name = "purchase_order";
    m.to = supplier.email;
    m.resource = o.id;
    m.data = {{"buyer", options_.buyer_name},
              {"supplier_name", supplier.name},
              {"number", o.number},
              {"lines", lines_text(o)},
              {"total", format_amount(o.total(), o.currency)},
              {"expected_date", date_of(*o.expected_at)}};
    RECUR_ASSIGN(std::string queued, outbox_.enqueue(tx, m));
    if (!queued.empty()) notification = std::move(queued);
  }
  ++o.version;
  RECUR_ASSIGN(bool saved, update_purchase_order(tx, o));
  if (!saved) return Error::internal("purchase order " + o.id + " changed while locked");
  arrivals_changed(tx, o);
  // The event is the webhook's body: the order itself, and where it is to be delivered.
  Json delivery = {{"email", supplier.email},
                   {"notification", to_json_text(notification)},
                   {"webhook_url", to_json_text(supplier.webhook_url)}};
  return events_.record(tx, "purchase_order.sent", o.id, actor, std::move(before), to_json(o),
                        {{"delivery", std::move(delivery)}});
}

Result<PurchaseOrder> PurchasingService::send_purchase_order(const std::string& id, const events::Actor& actor) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<PurchaseOrder> {
    RECUR_ASSIGN(PurchaseOrder o, load_for_update(tx, id));
    if (!transition(o.status, PurchaseOrderAction::kSend)) return refused(PurchaseOrderAction::kSend, o);
    RECUR_ASSIGN(auto supplier, find_supplier(tx, o.supplier, false));
    if (!supplier) return Error::internal("purchase order " + o.id + " names a missing supplier");
    RECUR_TRY(send_in(tx, o, *supplier, now, actor));
    return o;
  });
}

Result<PurchaseOrder> PurchasingService::cancel_purchase_order(const std::string& id, const events::Actor& actor) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<PurchaseOrder> {
    RECUR_ASSIGN(PurchaseOrder o, load_for_update(tx, id));
    auto next = transition(o.status, PurchaseOrderAction::kCancel);
    if (!next) return refused(PurchaseOrderAction::kCancel, o);
    Json before = to_json(o);
    o.status = *next;
    o.canceled_at = o.updated = now;
    ++o.version;
    RECUR_ASSIGN(bool saved, update_purchase_order(tx, o));
    if (!saved) return Error::internal("purchase order " + o.id + " changed while locked");
    arrivals_changed(tx, o);
    RECUR_TRY(events_.record(tx, "purchase_order.canceled", o.id, actor, std::move(before), to_json(o)));
    return o;
  });
}

Result<PurchaseOrder> PurchasingService::receive(const std::string& id, std::vector<ReceiptLine> lines,
                                                 const events::Actor& actor) {
  if (!intake_)
    return unavailable("receiving_unavailable", "receiving into stock is not wired in this build; "
                                                "use POST /v1/inventory/{sku}/receipts");
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<PurchaseOrder> {
    RECUR_ASSIGN(PurchaseOrder o, load_for_update(tx, id));
    Json before = to_json(o);
    for (auto& line : lines) {
      // A line names the product by id or SKU; one the catalogue does not know is not on
      // the order either, which record_receipt says.
      RECUR_ASSIGN(auto product, catalog::find_product_by_key(tx, line.product));
      if (product) line.product = product->id;
      RECUR_TRY(record_receipt(o, line.product, line.quantity));
    }
    o.updated = now;
    if (o.status == PurchaseOrderStatus::kReceived) o.received_at = now;
    ++o.version;
    RECUR_ASSIGN(bool saved, update_purchase_order(tx, o));
    if (!saved) return Error::internal("purchase order " + o.id + " changed while locked");
    arrivals_changed(tx, o);
    Json received = Json::array();
    for (const auto& line : lines) {
      Movement m;
      m.id = ids_.next("mv");
      m.product = line.product;
      m.kind = MovementKind::kReceipt;
      m.on_hand_delta = line.quantity;
      m.reference = o.id;
      m.actor = actor;
      m.created = now;
      RECUR_ASSIGN(bool applied, intake_(tx, m));
      if (!applied) return Error::conflict("stock_refused", "the stock ledger refused the receipt of " + line.product);
      received.push_back({{"product", line.product}, {"quantity", line.quantity}});
    }
    RECUR_TRY(events_.record(tx, "purchase_order.received", o.id, actor, std::move(before), to_json(o),
                             {{"lines", std::move(received)}}));
    return o;
  });
}

// ------------------------------------------------------------------ reordering

Result<ReorderReport> PurchasingService::reorder(Timestamp now) {
  if (!demand_) return unavailable("demand_forecast_unset", "no demand forecast is wired for reordering");
  ReorderReport report;
  report.as_of = now;
  RECUR_ASSIGN(auto products, db::transact(
                                  db_, [](db::Tx& tx) { return supplied_products(tx); }, db::TxMode::kReadOnly));
  // The forecast of every product's windows at once; each product's decision then takes a
  // write transaction of its own, which reads nothing of the forecast (nor holds SQLite's
  // write lock while it would). Products whose supplier's windows changed meanwhile are asked
  // for again, together, after the others; one that changed again waits for the next run.
  std::vector<std::string> moved;
  auto decide = [&](const std::vector<std::string>& asked, bool last) -> Status {
    RECUR_ASSIGN(Forecasted forecasted, forecast_windows(asked, now));
    for (const auto& product : asked) {
      auto outcome = reorder_product(product, now, forecasted);
      if (!outcome.ok()) {
        const auto& code = outcome.error().code;
        if (code == kAlreadyOnOrder || code == kNeedAlreadyOrdered) {
          ++report.products_checked;
          ++report.already_on_order;
          continue;
        }
        ++report.errors;
        if (report.first_error.empty()) report.first_error = product + ": " + outcome.error().message;
        spdlog::warn("reorder: {}: {}", product, outcome.error().message);
        continue;
      }
      if (outcome->moved && !last) moved.push_back(product);
      if (!outcome->checked) continue;
      ++report.products_checked;
      if (outcome->already_on_order) ++report.already_on_order;
      if (outcome->alerted) ++report.replenishment_alerts;
      if (outcome->order) {
        ++(outcome->order->status == PurchaseOrderStatus::kSent ? report.sent : report.drafted);
        report.purchase_orders.push_back(outcome->order->id);
      }
    }
    return Ok{};
  };
  RECUR_TRY(decide(products, false));
  if (!moved.empty()) RECUR_TRY(decide(std::vector<std::string>(std::move(moved)), true));
  return report;
}

Result<PurchasingService::Forecasted> PurchasingService::forecast_windows(const std::vector<std::string>& products,
                                                                          Timestamp now) {
  return db::transact(
      db_,
      [&](db::Tx& tx) -> Result<Forecasted> {
        std::vector<LeadTimeWindow> windows;
        for (const auto& product : products) {
          RECUR_ASSIGN(auto supplier, reorder_supplier(tx, product));
          if (supplier) windows.push_back(window_of(*supplier, product, now));
        }
        RECUR_ASSIGN(auto demands, demand_(tx, now, windows));
        if (demands.size() != windows.size())
          return Error::internal("the forecast answered the wrong number of windows");
        Forecasted forecasted;
        for (std::size_t i = 0; i < windows.size(); ++i)
          forecasted.emplace(windows[i].product, std::make_pair(windows[i], demands[i]));
        return forecasted;
      },
      db::TxMode::kReadOnly);
}

Result<std::optional<Supplier>> PurchasingService::reorder_supplier(db::Tx& tx, const std::string& product) {
  RECUR_ASSIGN(auto found, catalog::find_product(tx, product));
  if (!found || !found->track_inventory || !found->active) return std::optional<Supplier>();
  RECUR_ASSIGN(auto suppliers, suppliers_of(tx, product));
  const Supplier* supplier = choose_supplier(suppliers, product);
  if (!supplier) return std::optional<Supplier>();
  return std::optional<Supplier>(*supplier);
}

LeadTimeWindow PurchasingService::window_of(const Supplier& supplier, const std::string& product, Timestamp now) const {
  // Both windows start now: the forecast takes `from` as the moment it looks from.
  Timestamp arrival = now + supplier.lead_time_days * kSecondsPerDay;
  return LeadTimeWindow{product, arrival, arrival + options_.review_period_days * kSecondsPerDay};
}

Result<PurchasingService::Outcome> PurchasingService::reorder_product(const std::string& product, Timestamp now,
                                                                      const Forecasted& forecasted) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Outcome> {
    Outcome out;
    RECUR_ASSIGN(auto chosen, reorder_supplier(tx, product));
    if (!chosen) return out;
    const Supplier* supplier = &*chosen;

    // The run's forecast, unless the supplier or its lead time changed since it was asked:
    // then nothing is decided here, and the run asks again.
    auto it = forecasted.find(product);
    if (it == forecasted.end() || !(it->second.first == window_of(*supplier, product, now))) {
      out.moved = true;
      return out;
    }
    out.checked = true;
    const Demand& lead = it->second.second.lead;
    const Demand& through_review = it->second.second.through_review;
    ReorderInputs in;
    in.lead_time_demand = lead.expected;
    in.lead_time_stddev = lead.stddev;
    in.review_demand = std::max(0.0, through_review.expected - lead.expected);
    in.service_level = options_.service_level;
    RECUR_ASSIGN(StockLevel level, total_level(tx, product));
    in.available = level.available();
    RECUR_ASSIGN(in.incoming, outstanding_on_order(tx, product));
    in.minimum_order_quantity = supplier->minimum_order_quantity;
    in.pack_size = supplier->pack_size;
    ReorderDecision decision = decide_reorder(in);

    std::string action = "No purchase order was needed.";
    if (decision.reorder) {
      RECUR_ASSIGN(out.already_on_order, has_open_order(tx, product));
      if (out.already_on_order) {
        action = "An open purchase order already has this product; check that it covers the demand.";
      } else {
        RECUR_ASSIGN(out.order, order_automatically(tx, *supplier, product, decision.quantity, now));
        action = fmt::format("Purchase order {} for {} units was {} {}.", out.order->number, decision.quantity,
                             supplier->automatic ? "sent to" : "drafted for", supplier->name);
      }
    }
    if (decision.high_demand) {
      RECUR_ASSIGN(out.alerted, claim_replenishment_alert(
                                    tx, replenishment_need_key(product, now, options_.review_period_days * kSecondsPerDay),
                                    product, now));
      if (out.alerted) RECUR_TRY(alert_replenishment(tx, *supplier, product, in, decision, action));
    }
    return out;
  });
}

Result<PurchaseOrder> PurchasingService::order_automatically(db::Tx& tx, const Supplier& supplier,
                                                             const std::string& product, std::int64_t quantity,
                                                             Timestamp now) {
  // The number's row lock comes first: from here on, every other writer's order is committed
  // or waits for us, so the checks below cannot both pass in two runs.
  RECUR_ASSIGN(std::string number, next_purchase_order_number(tx));
  RECUR_ASSIGN(bool open, has_open_order(tx, product));
  if (open) return Error::conflict(std::string(kAlreadyOnOrder), "an open purchase order has " + product);
  RECUR_ASSIGN(auto catalog_product, catalog::find_product(tx, product));
  const SuppliedProduct* offer = supplier.supplies(product);
  PurchaseOrder o;
  o.id = ids_.next("po");
  o.number = std::move(number);
  o.supplier = supplier.id;
  o.currency = offer->currency;
  o.lines.push_back({product, catalog_product ? catalog_product->sku : product, quantity, 0, offer->unit_cost});
  o.need_key = reorder_need_key(product, now, options_.review_period_days * kSecondsPerDay);
  o.origin = "automatic";
  o.created = o.updated = now;
  RECUR_ASSIGN(bool inserted, insert_purchase_order(tx, o));
  if (!inserted)
    return Error::conflict(std::string(kNeedAlreadyOrdered), "need " + *o.need_key + " has a purchase order");
  RECUR_TRY(events_.record(tx, "purchase_order.created", o.id, events::Actor::system(), nullptr, to_json(o)));
  if (supplier.automatic) RECUR_TRY(send_in(tx, o, supplier, now, events::Actor::system()));
  return o;
}

Status PurchasingService::alert_replenishment(db::Tx& tx, const Supplier& supplier, const std::string& product,
                                              const ReorderInputs& in, const ReorderDecision& decision,
                                              const std::string& action) {
  RECUR_ASSIGN(auto found, catalog::find_product(tx, product));
  std::string name = found ? found->name : product;
  std::string sku = found ? found->sku : product;
  Json details = {{"product", product},
                  {"sku", sku},
                  {"supplier", supplier.id},
                  {"lead_time_days", supplier.lead_time_days},
                  {"forecast_demand", in.lead_time_demand},
                  {"available", in.available},
                  {"incoming", in.incoming},
                  {"reorder_point", decision.reorder_point}};
  Json item = nullptr;  // the item as GET /v1/inventory/{sku} shows it (a review's read, not a hot path)
  if (found) {
    RECUR_ASSIGN(auto view, stock_view(tx, *found));
    item = to_json(view);
  }
  RECUR_TRY(events_.record(tx, "inventory.replenishment_needed", product, events::Actor::system(), nullptr,
                           std::move(item), std::move(details)));
  if (options_.ops_email.empty()) return Ok{};
  notify::Message m;
  m.template_name = "replenishment_needed";
  m.to = options_.ops_email;
  m.resource = product;
  m.data = {{"product_name", name},
            {"sku", sku},
            {"lead_time_days", supplier.lead_time_days},
            {"demand", fmt::format("{:.1f}", in.lead_time_demand)},
            {"available", in.available},
            {"incoming", in.incoming},
            {"action", action}};
  RECUR_TRY(outbox_.enqueue(tx, m));
  return Ok{};
}

}  // namespace recur::inventory
