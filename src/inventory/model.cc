// Inventory rules: ledger sums, low-stock crossings, shipment statuses, credits, availability.
#include "inventory/model.h"

#include <algorithm>
#include <array>
#include <cstdlib>

namespace recur::inventory {
namespace {

constexpr std::array<std::string_view, 6> kKinds = {"receipt", "adjustment", "reservation", "release", "shipment",
                                                    "return"};
constexpr std::array<std::string_view, 6> kStatuses = {"pending", "backordered", "ready", "shipped", "delivered",
                                                       "canceled"};
constexpr std::array<std::string_view, 4> kChoices = {"wait", "swap", "skip", "cancel_item"};

template <typename E, std::size_t N>
std::optional<E> parse_name(const std::array<std::string_view, N>& names, std::string_view text) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == text) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace

std::string_view to_string(MovementKind k) { return kKinds[static_cast<std::size_t>(k)]; }
std::optional<MovementKind> parse_movement_kind(std::string_view t) { return parse_name<MovementKind>(kKinds, t); }
std::vector<std::string_view> movement_kind_names() { return {kKinds.begin(), kKinds.end()}; }
std::vector<std::string_view> shipment_status_names() { return {kStatuses.begin(), kStatuses.end()}; }
std::string_view to_string(ShipmentStatus s) { return kStatuses[static_cast<std::size_t>(s)]; }
std::optional<ShipmentStatus> parse_shipment_status(std::string_view t) {
  return parse_name<ShipmentStatus>(kStatuses, t);
}
std::string_view to_string(BackorderChoice c) { return kChoices[static_cast<std::size_t>(c)]; }
std::optional<BackorderChoice> parse_backorder_choice(std::string_view t) {
  return parse_name<BackorderChoice>(kChoices, t);
}

LedgerSums sum_ledger(const std::vector<Movement>& movements) {
  LedgerSums sums;
  for (const auto& m : movements) {
    sums.on_hand += m.on_hand_delta;
    sums.reserved += m.reserved_delta;
  }
  return sums;
}

bool is_low(std::int64_t available, std::int64_t threshold) { return threshold > 0 && available <= threshold; }

LowStockStep low_stock_step(bool alerted, std::int64_t available, std::int64_t threshold) {
  bool low = is_low(available, threshold);
  if (low && !alerted) return LowStockStep::kAlert;
  if (!low && alerted) return LowStockStep::kRecovered;
  return LowStockStep::kNone;
}

bool operator_may_move(ShipmentStatus from, ShipmentStatus to) {
  using S = ShipmentStatus;
  switch (to) {
    case S::kReady: return from == S::kPending;
    case S::kShipped: return from == S::kReady || from == S::kPending;
    case S::kDelivered: return from == S::kShipped;
    case S::kCanceled: return from == S::kPending || from == S::kBackordered || from == S::kReady;
    case S::kPending:
    case S::kBackordered: return false;  // reservations decide these
  }
  return false;
}

ShipmentStatus reservation_status(const std::vector<ShipmentItem>& items) {
  bool short_any = std::any_of(items.begin(), items.end(), [](const auto& i) { return i.short_by() > 0; });
  return short_any ? ShipmentStatus::kBackordered : ShipmentStatus::kPending;
}

std::int64_t item_credit(std::int64_t value, const std::vector<ShipmentItem>& items, std::size_t index) {
  std::int64_t units = 0;
  for (const auto& i : items) units += i.quantity;
  if (units <= 0 || index >= items.size() || value <= 0) return 0;
  // 128-bit to be safe: value × quantity of a large box stays exact.
  return static_cast<std::int64_t>(static_cast<__int128>(value) * items[index].quantity / units);
}

Json to_json(const Shipment& s) {
  Json items = Json::array();
  for (const auto& i : s.items) {
    items.push_back({{"product", i.product},
                     {"sku", i.sku},
                     {"name", i.name},
                     {"quantity", i.quantity},
                     {"reserved", i.reserved},
                     {"backordered", i.short_by()},
                     {"tracked", i.tracked},
                     {"swapped_from", to_json_text(i.swapped_from)}});
  }
  Json choice = s.backorder_choice ? Json(std::string(to_string(*s.backorder_choice))) : Json(nullptr);
  return with_envelope(Json{{"id", s.id},
                            {"object", "shipment"},
                            {"subscription", s.subscription},
                            {"customer", s.customer},
                            {"period_seq", s.period_seq},
                            {"period", to_json(s.period)},
                            {"status", to_string(s.status)},
                            {"items", items},
                            {"address", s.address},
                            {"value", s.value},
                            {"currency", s.currency},
                            {"invoice", to_json_text(s.invoice)},
                            {"paid", s.paid},
                            {"backordered_at", to_json_time(s.backordered_at)},
                            {"expected_at", to_json_time(s.expected_at)},
                            {"backorder_choice", choice},
                            {"tracking_number", to_json_text(s.tracking_number)}},
                       s);
}

Shipment shipment_from_doc(const Json& doc) {
  Shipment s;
  s.id = doc.at("id");
  s.subscription = doc.at("subscription");
  s.customer = doc.at("customer");
  s.period_seq = doc.at("period_seq");
  s.period = period_from_json(doc.at("period"));
  s.status = parse_shipment_status(doc.at("status").get<std::string>()).value();
  for (const auto& i : doc.at("items")) {
    ShipmentItem item;
    item.product = i.at("product");
    item.sku = i.at("sku");
    item.name = i.at("name");
    item.quantity = i.at("quantity");
    item.reserved = i.at("reserved");
    item.tracked = i.at("tracked");
    item.swapped_from = doc_text(i, "swapped_from");
    s.items.push_back(std::move(item));
  }
  s.address = doc.at("address");
  s.value = doc.at("value");
  s.currency = doc.at("currency");
  s.invoice = doc_text(doc, "invoice");
  s.paid = doc.at("paid");
  s.backordered_at = doc_time(doc, "backordered_at");
  s.expected_at = doc_time(doc, "expected_at");
  if (const auto& c = doc.at("backorder_choice"); c.is_string()) s.backorder_choice = parse_backorder_choice(c.get<std::string>());
  s.tracking_number = doc_text(doc, "tracking_number");
  read_envelope(doc, s);
  return s;
}

Json to_json(const Movement& m, const std::string& sku) {
  return {{"id", m.id},
          {"object", "stock_movement"},
          {"product", m.product},
          {"sku", sku},
          {"warehouse", m.warehouse},
          {"kind", to_string(m.kind)},
          {"on_hand_delta", m.on_hand_delta},
          {"reserved_delta", m.reserved_delta},
          {"reason", to_json_text(m.reason)},
          {"reference", to_json_text(m.reference)},
          {"actor", events::to_json(m.actor)},
          {"created", format_rfc3339(m.created)}};
}

std::int64_t StockSnapshot::incoming() const {
  std::int64_t total = 0;
  for (const auto& a : arrivals) total += a.quantity;
  return total;
}

Availability availability(const StockSnapshot& stock, std::int64_t quantity, std::optional<Timestamp> date) {
  Availability a;
  a.product = stock.product;
  a.sku = stock.sku;
  a.tracked = stock.tracked;
  a.quantity = quantity;
  a.date = date;
  if (!stock.tracked) {
    a.can_fulfill = stock.active;
    return a;
  }
  a.available = stock.available();
  a.low_stock = is_low(a.available, stock.low_stock_threshold);
  a.available_by_date = a.available;
  // available_on: when expected arrivals first cover `quantity` (null when there is
  // enough now, or no open purchase order brings enough).
  std::int64_t running = a.available;
  for (const auto& arrival : stock.arrivals) {
    if (date && arrival.at <= *date) a.available_by_date += arrival.quantity;
    bool was_short = running < quantity;
    running += arrival.quantity;
    if (was_short && running >= quantity) a.available_on = arrival.at;
  }
  a.can_fulfill = stock.active && a.available_by_date >= quantity;
  return a;
}

Json to_json(const Availability& a) {
  return {{"object", "availability"},
          {"product", a.product},
          {"sku", a.sku},
          {"tracked", a.tracked},
          {"quantity", a.quantity},
          {"date", to_json_time(a.date)},
          {"available", a.tracked ? Json(a.available) : Json(nullptr)},
          {"available_by_date", a.tracked ? Json(a.available_by_date) : Json(nullptr)},
          {"can_fulfill", a.can_fulfill},
          {"low_stock", a.low_stock},
          {"available_on", to_json_time(a.available_on)}};
}

// ------------------------------------------------------------------ alternatives

namespace {
constexpr std::size_t kMaxAlternatives = 5;
}  // namespace

bool may_stand_in(const catalog::Product& wanted, const catalog::Product& other) {
  if (!wanted.category || other.category != wanted.category) return false;
  if (!wanted.price) return true;
  if (!other.price || other.price->currency != wanted.price->currency) return false;
  return std::llabs(other.price->amount - wanted.price->amount) * 3 <= wanted.price->amount;
}

std::vector<Alternative> rank_alternatives(const catalog::Product& wanted, std::int64_t quantity,
                                           const std::vector<Candidate>& candidates) {
  std::vector<std::pair<std::int64_t, const Candidate*>> ranked;
  for (const auto& c : candidates) {
    if (!may_stand_in(wanted, c.product)) continue;
    if (c.available && *c.available < quantity) continue;
    std::int64_t distance =
        wanted.price && c.product.price ? std::llabs(c.product.price->amount - wanted.price->amount) : 0;
    ranked.emplace_back(distance, &c);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<Alternative> out;
  for (std::size_t i = 0; i < ranked.size() && i < kMaxAlternatives; ++i) {
    const catalog::Product& p = ranked[i].second->product;
    out.push_back({p.id, p.name, ranked[i].second->available, p.price, std::nullopt});
  }
  return out;
}

}  // namespace recur::inventory
