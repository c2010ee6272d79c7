// Inventory use cases.
#include "inventory/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "customers/service.h"
#include "inventory/store.h"
#include "subscriptions/store.h"

namespace recur::inventory {
namespace {

std::string actor_name(const events::Actor& actor) { return actor.id.empty() ? actor.type : actor.id; }

Error not_found_sku(const std::string& sku) {
  return Error::not_found("sku_not_found", "no product with sku '" + sku + "'");
}

Error shipment_not_found(const std::string& id) {
  return Error::not_found("shipment_not_found", "no shipment with id '" + id + "'");
}

// A store's limit + 1 rows as a page of `limit`.
template <typename T>
catalog::Page<T> page_of(std::vector<T> rows, int limit) {
  catalog::Page<T> page;
  page.has_more = static_cast<int>(rows.size()) > limit;
  if (page.has_more) rows.resize(limit);
  page.items = std::move(rows);
  return page;
}

std::string date_text(std::optional<Timestamp> t) {
  return t ? format_rfc3339(*t).substr(0, 10) : std::string("as soon as it is back in stock");
}

}  // namespace

// ------------------------------------------------------------------ JSON

Json to_json(const StockView& v) {
  return {{"object", "inventory_item"},
          {"sku", v.sku},
          {"product", v.product},
          {"name", v.name},
          {"track_inventory", v.tracked},
          {"warehouse", v.level.warehouse},
          {"on_hand", v.level.on_hand},
          {"reserved", v.level.reserved},
          {"available", v.level.available()},
          {"incoming", v.incoming},
          {"low_stock_threshold", v.level.low_stock_threshold},
          {"low_stock", is_low(v.level.available(), v.level.low_stock_threshold)},
          {"alert_email", to_json_text(v.level.alert_email)},
          {"updated", v.level.updated ? Json(format_rfc3339(v.level.updated)) : Json(nullptr)}};
}

Json to_json(const Alternative& a) {
  Json j = {{"product", a.product}};
  if (a.available_on) {
    j["available_on"] = format_rfc3339(*a.available_on);
    return j;
  }
  j["name"] = to_json_text(a.name);
  j["available"] = a.available ? Json(*a.available) : Json(nullptr);
  j["amount"] = a.price ? Json(a.price->amount) : Json(nullptr);
  j["currency"] = a.price ? Json(a.price->currency) : Json(nullptr);
  return j;
}

Json to_json(const AvailabilityAnswer& answer) {
  Json j = to_json(answer.availability);
  Json alternatives = Json::array();
  for (const auto& a : answer.alternatives) alternatives.push_back(to_json(a));
  j["alternatives"] = alternatives;
  return j;
}

// ------------------------------------------------------------------ cache

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

// ------------------------------------------------------------------ plumbing

Result<catalog::Product> InventoryService::product_by_sku(db::Tx& tx, const std::string& sku) {
  catalog::ListFilter filter;
  filter.sku = sku;
  filter.limit = 1;
  RECUR_ASSIGN(auto page, catalog::list_products(tx, filter));
  if (page.items.empty()) return not_found_sku(sku);
  return page.items.front();
}

Result<StockView> InventoryService::view(db::Tx& tx, const catalog::Product& product) {
  StockView v;
  v.sku = product.sku;
  v.product = product.id;
  v.name = product.name;
  v.tracked = product.track_inventory;
  RECUR_ASSIGN(v.level, total_level(tx, product.id));
  RECUR_ASSIGN(auto coming, arrivals(tx, product.id));
  for (const auto& a : coming) v.incoming += a.quantity;
  return v;
}

Result<StockSnapshot> InventoryService::snapshot(db::Tx& tx, const catalog::Product& product) {
  StockSnapshot s;
  s.product = product.id;
  s.sku = product.sku;
  s.name = product.name;
  s.tracked = product.track_inventory;
  s.active = product.active;
  RECUR_ASSIGN(auto level, total_level(tx, product.id));
  s.on_hand = level.on_hand;
  s.reserved = level.reserved;
  s.low_stock_threshold = level.low_stock_threshold;
  RECUR_ASSIGN(s.arrivals, arrivals(tx, product.id));
  return s;
}

void InventoryService::invalidate_after_commit(db::Tx& tx, const std::string& product) {
  cache_.invalidate(product);  // now, and again once the change is visible to readers
  tx.after_commit([this, product] { forget(product); });
}

void InventoryService::forget(const std::string& product) {
  cache_.invalidate(product);
  if (bus_) bus_->publish(product);
}

void InventoryService::set_invalidation_bus(cache::InvalidationBus* bus) {
  bus_ = bus;
  if (bus_) bus_->subscribe([this](const std::string& product) { cache_.invalidate(product); }, [this] { cache_.clear(); });
}

Result<bool> InventoryService::move(db::Tx& tx, Movement m, const catalog::Product& product) {
  if (m.id.empty()) m.id = ids_.next("mv");
  RECUR_ASSIGN(bool applied, apply_movement(tx, m));
  if (!applied) return false;
  invalidate_after_commit(tx, m.product);
  bool freed = m.on_hand_delta - m.reserved_delta > 0;
  RECUR_TRY(after_movement(tx, product, freed));
  return true;
}

Result<bool> InventoryService::record_movement(db::Tx& tx, const Movement& movement) {
  RECUR_ASSIGN(auto product, catalog::find_product(tx, movement.product));
  if (!product) return Error::not_found("product_not_found", "no product with id '" + movement.product + "'");
  return move(tx, movement, *product);
}

Result<bool> InventoryService::move_on_hand(db::Tx& tx, const catalog::Product& product, MovementKind kind,
                                           std::int64_t delta, const std::optional<std::string>& reason,
                                           const std::optional<std::string>& reference, const events::Actor& actor) {
  Movement m;
  m.product = product.id;
  m.kind = kind;
  m.on_hand_delta = delta;
  m.reason = reason;
  m.reference = reference;
  m.actor = actor_name(actor);
  m.created = clock_.now();
  return move(tx, std::move(m), product);
}

recur::Status InventoryService::after_movement(db::Tx& tx, const catalog::Product& product, bool freed_stock) {
  if (freed_stock) RECUR_TRY(fill_backorders(tx, product.id));
  return check_low_stock(tx, product);
}

recur::Status InventoryService::check_low_stock(db::Tx& tx, const catalog::Product& product) {
  RECUR_ASSIGN(auto level, load_level(tx, product.id, std::string(kDefaultWarehouse), true));
  auto step = low_stock_step(level.low_alerted, level.available(), level.low_stock_threshold);
  if (step == LowStockStep::kNone) return Ok{};
  level.low_alerted = step == LowStockStep::kAlert;
  level.updated = clock_.now();
  RECUR_TRY(save_level_settings(tx, level));
  Json details = {{"sku", product.sku},
                  {"on_hand", level.on_hand},
                  {"reserved", level.reserved},
                  {"available", level.available()},
                  {"low_stock_threshold", level.low_stock_threshold}};
  if (step == LowStockStep::kRecovered)
    return events_.record(tx, "inventory.restocked", product.id, events::Actor::system(), nullptr, nullptr, details);
  RECUR_TRY(events_.record(tx, "inventory.low", product.id, events::Actor::system(), nullptr, nullptr, details));
  if (!notifier_) return Ok{};
  std::vector<std::string> recipients;
  if (!options_.ops_email.empty()) recipients.push_back(options_.ops_email);
  if (level.alert_email && *level.alert_email != options_.ops_email) recipients.push_back(*level.alert_email);
  for (const auto& to : recipients) {
    notify::Message m;
    m.template_name = "inventory_low";
    m.to = to;
    m.resource = product.id;
    m.data = {{"product_name", product.name},
              {"sku", product.sku},
              {"on_hand", std::to_string(level.on_hand)},
              {"available", std::to_string(level.available())},
              {"low_stock_threshold", std::to_string(level.low_stock_threshold)}};
    auto queued = notifier_->enqueue(tx, m);
    if (!queued.ok()) spdlog::warn("inventory: could not queue the low-stock alert to {}: {}", to, queued.error().message);
  }
  return Ok{};
}

// ------------------------------------------------------------------ stock

Result<StockView> InventoryService::stock(const std::string& sku) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    return view(tx, product);
  }, db::TxMode::kReadOnly);
}

Result<catalog::Page<StockView>> InventoryService::list_stock(bool low_only, int limit,
                                                              const std::optional<std::string>& starting_after) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<catalog::Page<StockView>> {
    RECUR_ASSIGN(auto tracked, catalog::tracked_products(tx, starting_after));
    catalog::Page<StockView> page;
    for (const auto& product : tracked) {
      RECUR_ASSIGN(auto v, view(tx, product));
      if (low_only && !is_low(v.level.available(), v.level.low_stock_threshold)) continue;
      if (static_cast<int>(page.items.size()) == limit) {
        page.has_more = true;
        break;
      }
      page.items.push_back(std::move(v));
    }
    return page;
  }, db::TxMode::kReadOnly);
}

Result<StockView> InventoryService::update_settings(const std::string& sku, const StockSettingsPatch& patch,
                                                    const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    RECUR_ASSIGN(auto level, load_level(tx, product.id, std::string(kDefaultWarehouse), true));
    RECUR_ASSIGN(auto before, view(tx, product));
    if (patch.low_stock_threshold) level.low_stock_threshold = *patch.low_stock_threshold;
    if (patch.alert_email) level.alert_email = *patch.alert_email;
    level.updated = clock_.now();
    RECUR_TRY(save_level_settings(tx, level));
    invalidate_after_commit(tx, product.id);
    RECUR_TRY(check_low_stock(tx, product));
    RECUR_ASSIGN(auto after, view(tx, product));
    RECUR_TRY(events_.record(tx, "inventory.updated", product.id, actor, to_json(before), to_json(after)));
    return after;
  });
}

Result<StockView> InventoryService::adjust(const std::string& sku, std::int64_t delta, const std::string& reason,
                                           const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    RECUR_ASSIGN(bool applied, move_on_hand(tx, product, MovementKind::kAdjustment, delta, reason, std::nullopt, actor));
    if (!applied) {
      RECUR_ASSIGN(auto level, total_level(tx, product.id));
      return Error::conflict("insufficient_stock",
                             "an adjustment of " + std::to_string(delta) + " would leave " + sku + " with " +
                                 std::to_string(level.on_hand + delta) + " on hand (" + std::to_string(level.reserved) +
                                 " are reserved for shipments)");
    }
    return view(tx, product);
  });
}

Result<StockView> InventoryService::receive(const std::string& sku, std::int64_t quantity,
                                            const std::optional<std::string>& purchase_order,
                                            const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    if (purchase_order) {
      if (!order_receipt_)
        return Error::conflict("purchase_orders_unavailable", "purchase orders are not enabled on this node");
      RECUR_TRY(order_receipt_(tx, *purchase_order, product.id, quantity));
    }
    RECUR_ASSIGN(bool applied,
                 move_on_hand(tx, product, MovementKind::kReceipt, quantity, std::nullopt, purchase_order, actor));
    if (!applied) return Error::internal("a receipt of " + sku + " was refused by the stock level");
    return view(tx, product);
  });
}

Result<StockView> InventoryService::record_return(const std::string& sku, std::int64_t quantity,
                                                  const std::optional<std::string>& shipment,
                                                  const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    if (shipment) {
      RECUR_ASSIGN(auto found, find_shipment(tx, *shipment, false));
      if (!found) return shipment_not_found(*shipment);
    }
    RECUR_ASSIGN(bool applied, move_on_hand(tx, product, MovementKind::kReturn, quantity, std::nullopt, shipment, actor));
    if (!applied) return Error::internal("a return of " + sku + " was refused by the stock level");
    return view(tx, product);
  });
}

Result<catalog::Page<Movement>> InventoryService::movements(const std::string& sku,
                                                            const std::optional<std::string>& kind, int limit,
                                                            const std::optional<std::string>& starting_after) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<catalog::Page<Movement>> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    RECUR_ASSIGN(auto rows, list_movements(tx, {product.id, kind, limit, starting_after}));
    return page_of(std::move(rows), limit);
  }, db::TxMode::kReadOnly);
}

Result<LedgerSums> InventoryService::ledger_sums(const std::string& sku) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<LedgerSums> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    RECUR_ASSIGN(auto all, all_movements(tx, product.id));
    return sum_ledger(all);
  }, db::TxMode::kReadOnly);
}

// ------------------------------------------------------------------ availability

Result<AvailabilityAnswer> InventoryService::availability(const std::string& product_id, std::int64_t quantity,
                                                          std::optional<Timestamp> date) {
  auto cached = cache_.get(product_id);
  if (cached) {
    AvailabilityAnswer answer{inventory::availability(*cached, quantity, date), {}};
    if (answer.availability.can_fulfil) return answer;  // the hot path: no database at all
  }
  std::uint64_t generation = cache_.generation();
  return db::transact(db_, [&](db::Tx& tx) -> Result<AvailabilityAnswer> {
    RECUR_ASSIGN(auto product, catalog::find_product(tx, product_id));
    if (!product) return Error::not_found("product_not_found", "no product with id '" + product_id + "'");
    RECUR_ASSIGN(auto snap, snapshot(tx, *product));
    cache_.put_if_current(snap, generation);
    AvailabilityAnswer answer{inventory::availability(snap, quantity, date), {}};
    if (!answer.availability.can_fulfil) {
      RECUR_ASSIGN(answer.alternatives, alternatives(tx, *product, quantity, answer.availability.available_on));
    }
    return answer;
  }, db::TxMode::kReadOnly);
}

Result<std::vector<Alternative>> InventoryService::alternatives(db::Tx& tx, const catalog::Product& product,
                                                                std::int64_t quantity,
                                                                const std::optional<Timestamp>& available_on) {
  std::vector<Alternative> out;
  if (product.category) {
    RECUR_ASSIGN(auto others, catalog::other_active_products(tx, product.id, 1000));
    std::vector<Candidate> candidates;
    for (auto& other : others) {
      if (!may_stand_in(product, other)) continue;  // only these need their level read
      Candidate c{std::move(other), std::nullopt};
      if (c.product.track_inventory) {
        RECUR_ASSIGN(auto level, total_level(tx, c.product.id));
        c.available = level.available();
      }
      candidates.push_back(std::move(c));
    }
    out = rank_alternatives(product, quantity, candidates);
  }
  if (available_on) out.push_back({product.id, std::nullopt, std::nullopt, std::nullopt, available_on});
  return out;
}

Error InventoryService::out_of_stock(const std::vector<std::string>& skus,
                                     const std::vector<Alternative>& alternatives) const {
  std::string list;
  for (const auto& s : skus) list += (list.empty() ? "" : ", ") + s;
  Error e = Error::conflict("out_of_stock", "not enough stock to ship the first box: " + list);
  Json extra = {{"skus", skus}, {"alternatives", Json::array()}};
  for (const auto& a : alternatives) extra["alternatives"].push_back(to_json(a));
  e.extra_json = extra.dump();
  return e;
}

// ------------------------------------------------------------------ reservations

Result<std::int64_t> InventoryService::reserve(db::Tx& tx, ShipmentItem& item, const std::string& shipment,
                                               Timestamp at) {
  if (!item.tracked || item.short_by() <= 0) {
    if (!item.tracked) item.reserved = item.quantity;
    return std::int64_t{0};
  }
  // The level row is locked first, so what is read is what the UPDATE will see.
  RECUR_ASSIGN(auto level, load_level(tx, item.product, std::string(kDefaultWarehouse), true));
  std::int64_t take = std::min(item.short_by(), std::max<std::int64_t>(level.available(), 0));
  if (take == 0) return std::int64_t{0};
  Movement m;
  m.id = ids_.next("mv");
  m.product = item.product;
  m.kind = MovementKind::kReservation;
  m.reserved_delta = take;
  m.reference = shipment;
  m.actor = "system";
  m.created = at;
  RECUR_ASSIGN(bool applied, apply_movement(tx, m));
  if (!applied) return Error::internal("the reservation of " + item.sku + " was refused under its row lock");
  invalidate_after_commit(tx, item.product);
  item.reserved += take;
  return take;
}

recur::Status InventoryService::release(db::Tx& tx, ShipmentItem& item, const std::string& shipment, Timestamp at) {
  if (!item.tracked || item.reserved <= 0) return Ok{};
  Movement m;
  m.id = ids_.next("mv");
  m.product = item.product;
  m.kind = MovementKind::kRelease;
  m.reserved_delta = -item.reserved;
  m.reference = shipment;
  m.actor = "system";
  m.created = at;
  RECUR_ASSIGN(bool applied, apply_movement(tx, m));
  if (!applied) return Error::internal("the release of " + item.sku + " was refused by the stock level");
  invalidate_after_commit(tx, item.product);
  item.reserved = 0;
  return Ok{};
}

recur::Status InventoryService::released(db::Tx& tx, const std::vector<ShipmentItem>& items) {
  for (const auto& item : items) {
    if (!item.tracked) continue;
    RECUR_ASSIGN(auto product, catalog::find_product(tx, item.product));
    if (!product) return Error::internal("a shipment holds a missing product " + item.product);
    RECUR_TRY(after_movement(tx, *product, true));
  }
  return Ok{};
}

recur::Status InventoryService::fill_backorders(db::Tx& tx, const std::string& product) {
  RECUR_ASSIGN(auto waiting, backorders(tx, true));
  Timestamp now = clock_.now();
  for (auto& s : waiting) {
    bool touched = false;
    bool exhausted = false;
    for (auto& item : s.items) {
      if (item.product != product || item.short_by() <= 0) continue;
      RECUR_ASSIGN(auto took, reserve(tx, item, s.id, now));
      touched = touched || took > 0;
      // First come, first served: a later backorder never jumps an earlier one.
      if (item.short_by() > 0) exhausted = true;
    }
    if (touched) {
      s.status = reservation_status(s.items);
      s.updated = now;
      ++s.version;
      if (s.status == ShipmentStatus::kPending) s.expected_at.reset();
      RECUR_TRY(update_shipment(tx, s));
      if (s.status == ShipmentStatus::kPending) {
        RECUR_TRY(events_.record(tx, "shipment.backorder_filled", s.id, events::Actor::system(), nullptr, to_json(s)));
        notify_customer(tx, s, "backorder_filled", Json::object());
      }
    }
    if (exhausted) break;
  }
  return Ok{};
}

Result<std::optional<Timestamp>> InventoryService::expected_fill(db::Tx& tx, const Shipment& s) {
  std::optional<Timestamp> latest;
  for (const auto& item : s.items) {
    if (item.short_by() <= 0) continue;
    RECUR_ASSIGN(auto coming, arrivals(tx, item.product));
    std::int64_t have = 0;
    std::optional<Timestamp> when;
    for (const auto& a : coming) {
      have += a.quantity;
      if (have >= item.short_by()) {
        when = a.at;
        break;
      }
    }
    if (!when) return std::optional<Timestamp>();  // nothing on order covers it
    latest = std::max(latest.value_or(0), *when);
  }
  return latest;
}

void InventoryService::notify_customer(db::Tx& tx, const Shipment& s, const std::string& template_name, Json data) {
  if (!notifier_) return;
  auto customer = customers::find_customer(tx, s.customer);
  if (!customer.ok() || !*customer) return;
  std::string names;
  for (const auto& item : s.items) {
    if (template_name == "backorder_delay" && item.short_by() <= 0) continue;
    names += (names.empty() ? "" : ", ") + item.name;
  }
  notify::Message m;
  m.template_name = template_name;
  m.to = (*customer)->email;
  m.customer = s.customer;
  m.resource = s.id;
  m.data = Json{{"customer_name", (*customer)->name}, {"product_name", names}, {"shipment_id", s.id}};
  m.data.update(data);
  auto queued = notifier_->enqueue(tx, m);
  if (!queued.ok())
    spdlog::warn("inventory: could not queue the {} message for {}: {}", template_name, s.id, queued.error().message);
}

// ------------------------------------------------------------------ fulfilment (the renewal hook)

recur::Status InventoryService::period_began(db::Tx& tx, const subscriptions::Subscription& sub,
                                             const subscriptions::LifecycleEvent& e, bool at_signup) {
  RECUR_ASSIGN(auto plan, catalog::find_plan(tx, e.plan));
  if (!plan || plan->items.empty()) return Ok{};  // nothing physical to ship
  Shipment s;
  s.id = ids_.next("shp");
  s.subscription = sub.id;
  s.customer = sub.customer;
  s.period_seq = e.sequence;
  s.period = e.period;
  s.value = e.amount;
  s.currency = e.currency;
  s.created = s.updated = e.at;
  if (sub.shipping_address) s.address = customers::to_json(*sub.shipping_address);
  bool any_tracked = false;
  for (const auto& pi : plan->items) {
    RECUR_ASSIGN(auto product, catalog::find_product(tx, pi.product));
    if (!product) return Error::internal("plan " + plan->id + " ships a missing product " + pi.product);
    s.items.push_back({product->id, product->sku, product->name, pi.quantity * e.quantity, 0, product->track_inventory,
                       std::nullopt});
    any_tracked = any_tracked || product->track_inventory;
  }
  if (s.address.is_null()) {
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, sub.customer));
    if (customer && customer->shipping_address) s.address = customers::to_json(*customer->shipping_address);
  }
  // Rows are locked in product order, so two renewals never wait on each other in a cycle.
  std::vector<std::size_t> order(s.items.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return s.items[a].product < s.items[b].product; });
  std::vector<std::string> short_skus;
  for (auto i : order) {
    RECUR_TRY(reserve(tx, s.items[i], s.id, e.at));
    if (s.items[i].short_by() > 0) short_skus.push_back(s.items[i].sku);
  }
  if (at_signup && !short_skus.empty()) {
    std::vector<Alternative> offered;
    for (const auto& item : s.items) {
      if (item.short_by() <= 0) continue;
      RECUR_ASSIGN(auto product, catalog::find_product(tx, item.product));
      RECUR_ASSIGN(auto snap, snapshot(tx, *product));
      auto a = inventory::availability(snap, item.quantity, std::nullopt);
      RECUR_ASSIGN(auto more, alternatives(tx, *product, item.quantity, a.available_on));
      for (auto& m : more) offered.push_back(std::move(m));
    }
    return out_of_stock(short_skus, offered);  // rolls the whole signup back
  }
  s.status = reservation_status(s.items);
  if (s.status == ShipmentStatus::kBackordered) {
    s.backordered_at = e.at;
    RECUR_ASSIGN(s.expected_at, expected_fill(tx, s));
  }
  RECUR_ASSIGN(bool inserted, insert_shipment(tx, s));
  if (!inserted) return Error::internal("period " + std::to_string(e.sequence) + " of " + sub.id + " has a shipment already");
  RECUR_TRY(events_.record(tx, "shipment.created", s.id, events::Actor::system(), nullptr, to_json(s)));
  if (s.status == ShipmentStatus::kBackordered) {
    RECUR_TRY(events_.record(tx, "shipment.backordered", s.id, events::Actor::system(), nullptr, nullptr,
                             {{"skus", short_skus}, {"expected_at", to_json_time(s.expected_at)}}));
    notify_customer(tx, s, "backorder_delay", {{"expected_date", date_text(s.expected_at)}});
  }
  if (any_tracked) {
    for (const auto& item : s.items) {
      if (!item.tracked) continue;
      RECUR_ASSIGN(auto product, catalog::find_product(tx, item.product));
      RECUR_TRY(check_low_stock(tx, *product));
    }
  }
  return Ok{};
}

recur::Status InventoryService::check_first_shipment(db::Tx& tx, const subscriptions::Subscription& sub,
                                                     const catalog::Plan& plan, Timestamp ships_at) {
  std::vector<std::string> short_skus;
  std::vector<Alternative> offered;
  for (const auto& pi : plan.items) {
    RECUR_ASSIGN(auto product, catalog::find_product(tx, pi.product));
    if (!product || !product->track_inventory) continue;
    RECUR_ASSIGN(auto snap, snapshot(tx, *product));
    auto a = inventory::availability(snap, pi.quantity * sub.quantity, ships_at);
    if (a.can_fulfil) continue;
    short_skus.push_back(product->sku);
    RECUR_ASSIGN(auto more, alternatives(tx, *product, pi.quantity * sub.quantity, a.available_on));
    for (auto& m : more) offered.push_back(std::move(m));
  }
  if (short_skus.empty()) return Ok{};
  return out_of_stock(short_skus, offered);
}

recur::Status InventoryService::subscription_ended(db::Tx& tx, const std::string& subscription) {
  RECUR_ASSIGN(auto boxes, inventory::list_shipments(tx, {subscription, std::nullopt, std::nullopt, 1000, std::nullopt}));
  Timestamp now = clock_.now();
  for (auto& s : boxes) {
    bool open = s.status == ShipmentStatus::kPending || s.status == ShipmentStatus::kBackordered ||
                s.status == ShipmentStatus::kReady;
    if (!open) continue;
    if (period_paid_) {
      RECUR_ASSIGN(bool paid, period_paid_(tx, s.subscription, s.period_seq));
      if (paid) continue;  // paid for: it still ships
    }
    RECUR_ASSIGN(auto locked, find_shipment(tx, s.id, true));
    if (!locked) continue;
    Shipment box = std::move(*locked);
    Json before = to_json(box);
    std::vector<ShipmentItem> freed = box.items;
    for (auto& item : box.items) RECUR_TRY(release(tx, item, box.id, now));
    box.status = ShipmentStatus::kCancelled;
    box.expected_at.reset();
    box.updated = now;
    ++box.version;
    RECUR_TRY(update_shipment(tx, box));
    RECUR_TRY(released(tx, freed));
    RECUR_TRY(events_.record(tx, "shipment.cancelled", box.id, events::Actor::system(), std::move(before), to_json(box),
                             {{"reason", "subscription_ended_unpaid"}}));
  }
  return Ok{};
}

// ------------------------------------------------------------------ shipments

Result<Shipment> InventoryService::shipment(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Shipment> {
    RECUR_ASSIGN(auto found, find_shipment(tx, id, false));
    if (!found) return shipment_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<catalog::Page<Shipment>> InventoryService::list_shipments(const ShipmentQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<catalog::Page<Shipment>> {
    RECUR_ASSIGN(auto rows, inventory::list_shipments(tx, {q.subscription, q.customer, q.status, q.limit, q.starting_after}));
    return page_of(std::move(rows), q.limit);
  }, db::TxMode::kReadOnly);
}

Result<Shipment> InventoryService::move_shipment(const std::string& id, ShipmentStatus to,
                                                 const std::optional<std::string>& tracking,
                                                 std::optional<std::int64_t> expected_version,
                                                 const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Shipment> {
    RECUR_ASSIGN(auto found, find_shipment(tx, id, true));
    if (!found) return shipment_not_found(id);
    Shipment s = std::move(*found);
    if (expected_version && *expected_version != s.version) return version_conflict("the shipment", *expected_version, s.version);
    if (s.status == to && !tracking) return s;
    if (s.status != to && !operator_may_move(s.status, to))
      return Error::conflict("invalid_shipment_transition", "a " + std::string(to_string(s.status)) +
                                                                " shipment cannot become " + std::string(to_string(to)));
    if ((to == ShipmentStatus::kReady || to == ShipmentStatus::kShipped) && period_paid_) {
      RECUR_ASSIGN(bool paid, period_paid_(tx, s.subscription, s.period_seq));
      if (!paid)
        return Error::conflict("period_unpaid", "the invoice for this box is not paid yet; it ships once paid");
    }
    Json before = to_json(s);
    Timestamp now = clock_.now();
    if (to == ShipmentStatus::kShipped && s.status != to) {
      for (auto& item : s.items) {
        if (!item.tracked || item.reserved == 0) continue;
        RECUR_ASSIGN(auto product, catalog::find_product(tx, item.product));
        Movement m;
        m.product = item.product;
        m.kind = MovementKind::kShipment;
        m.on_hand_delta = -item.reserved;
        m.reserved_delta = -item.reserved;
        m.reference = s.id;
        m.actor = actor_name(actor);
        m.created = now;
        RECUR_ASSIGN(bool applied, move(tx, m, *product));
        if (!applied) return Error::internal("shipping " + item.sku + " was refused by the stock level");
      }
    }
    std::vector<ShipmentItem> freed;
    if (to == ShipmentStatus::kCancelled && s.status != to) {
      freed = s.items;
      for (auto& item : s.items) RECUR_TRY(release(tx, item, s.id, now));
    }
    s.status = to;
    if (tracking) s.tracking_number = tracking;
    s.updated = now;
    ++s.version;
    RECUR_TRY(update_shipment(tx, s));
    // Stored first: the backorders the freed units fill are others, never this one.
    RECUR_TRY(released(tx, freed));
    RECUR_TRY(events_.record(tx, "shipment." + std::string(to_string(to)), s.id, actor, std::move(before), to_json(s)));
    if (to == ShipmentStatus::kShipped)
      notify_customer(tx, s, "shipment_shipped", {{"tracking_number", s.tracking_number.value_or("not given")}});
    return s;
  });
}

Result<Shipment> InventoryService::choose(const std::string& id, const ChoiceInput& in, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Shipment> {
    RECUR_ASSIGN(auto found, find_shipment(tx, id, true));
    if (!found) return shipment_not_found(id);
    Shipment s = std::move(*found);
    if (s.status != ShipmentStatus::kBackordered)
      return Error::conflict("shipment_not_backordered", "shipment " + id + " is " + std::string(to_string(s.status)) +
                                                             ", not backordered");
    Json before = to_json(s);
    Timestamp now = clock_.now();
    auto item_it = s.items.end();
    if (in.choice == BackorderChoice::kSwap || in.choice == BackorderChoice::kCancelItem) {
      item_it = std::find_if(s.items.begin(), s.items.end(), [&](const auto& i) { return i.product == *in.item; });
      if (item_it == s.items.end())
        return Error::invalid("validation_failed", "the shipment has no item of product " + *in.item,
                              {{"item", "not_found", "not an item of this shipment"}});
      if (item_it->short_by() <= 0)
        return Error::conflict("item_not_backordered", "the item " + item_it->sku + " is not short; only backordered items can be changed");
    }
    std::int64_t credit = 0;
    std::string credit_text;
    std::vector<ShipmentItem> freed;
    switch (in.choice) {
      case BackorderChoice::kWait:
        break;
      case BackorderChoice::kSwap: {
        RECUR_ASSIGN(auto target, catalog::find_product(tx, *in.swap_to));
        if (!target || !target->active)
          return Error::invalid("validation_failed", "no active product with id '" + *in.swap_to + "'",
                                {{"swap_to", "not_found", "no such active product"}});
        ShipmentItem replacement{target->id, target->sku, target->name, item_it->quantity, 0, target->track_inventory,
                                 item_it->product};
        RECUR_TRY(reserve(tx, replacement, s.id, now));
        if (replacement.short_by() > 0) {
          RECUR_ASSIGN(auto product, catalog::find_product(tx, item_it->product));
          RECUR_ASSIGN(auto offered, alternatives(tx, *product, item_it->quantity, std::nullopt));
          return out_of_stock({target->sku}, offered);
        }
        freed.push_back(*item_it);
        RECUR_TRY(release(tx, *item_it, s.id, now));
        *item_it = replacement;
        break;
      }
      case BackorderChoice::kCancelItem: {
        credit = item_credit(s.value, s.items, static_cast<std::size_t>(item_it - s.items.begin()));
        credit_text = "Credit for " + item_it->name + " (backordered, removed from the box)";
        freed.push_back(*item_it);
        RECUR_TRY(release(tx, *item_it, s.id, now));
        s.items.erase(item_it);
        break;
      }
      case BackorderChoice::kSkip: {
        credit = s.value;
        credit_text = "Credit for the skipped box of " + format_rfc3339(s.period.start).substr(0, 10);
        freed = s.items;
        for (auto& item : s.items) RECUR_TRY(release(tx, item, s.id, now));
        break;
      }
    }
    s.backorder_choice = in.choice;
    if (in.choice == BackorderChoice::kSkip || s.items.empty()) s.status = ShipmentStatus::kCancelled;
    else s.status = reservation_status(s.items);
    if (s.status != ShipmentStatus::kBackordered) s.expected_at.reset();
    if (s.status == ShipmentStatus::kBackordered) {
      RECUR_ASSIGN(s.expected_at, expected_fill(tx, s));
    }
    s.value -= credit;
    s.updated = now;
    ++s.version;
    RECUR_TRY(update_shipment(tx, s));
    RECUR_TRY(released(tx, freed));  // after storing: freed units go to other backorders
    if (!freed.empty()) {
      RECUR_ASSIGN(auto again, find_shipment(tx, id, false));  // a fill may have completed it
      if (again) s = std::move(*again);
    }
    if (credit > 0) {
      subscriptions::PendingItem item{ids_.next("ii"), s.subscription, credit_text, -credit, s.currency, 1, s.period,
                                      false};
      RECUR_TRY(subscriptions::insert_pending_item(tx, item, now));
    }
    RECUR_TRY(events_.record(tx, "shipment.backorder_choice", s.id, actor, std::move(before), to_json(s),
                             {{"choice", to_string(in.choice)}, {"credit", credit}}));
    return s;
  });
}

}  // namespace recur::inventory
