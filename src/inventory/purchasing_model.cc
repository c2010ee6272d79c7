// Suppliers, purchase orders and the reordering rules.
#include "inventory/purchasing_model.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <boost/math/distributions/normal.hpp>

#include "platform/money.h"

namespace recur::inventory {
namespace {

constexpr std::array<std::string_view, 5> kOrderStatuses = {"draft", "sent", "partially_received", "received",
                                                       "canceled"};
constexpr std::array<std::string_view, 3> kActions = {"send", "cancel", "receive"};

// A whole number of units for an expected amount: up, but not for floating-point dust
// (10.000000001 expected units are 10, not 11).
std::int64_t units_up(double x) {
  if (x <= 0) return 0;
  return static_cast<std::int64_t>(std::ceil(x - 1e-9));
}

std::int64_t cycle_of(Timestamp now, std::int64_t review_seconds) {
  std::int64_t q = now / review_seconds;
  if (now % review_seconds != 0 && now < 0) --q;  // floor, also before 1970
  return q;
}

}  // namespace

// ------------------------------------------------------------------ suppliers

const SuppliedProduct* Supplier::supplies(std::string_view product) const {
  for (const auto& p : products)
    if (p.product == product) return &p;
  return nullptr;
}

Json to_json(const Supplier& s) {
  Json products = Json::array();
  for (const auto& p : s.products)
    products.push_back({{"product", p.product}, {"unit_cost", p.unit_cost}, {"currency", p.currency}});
  Json body = {{"id", s.id},
               {"object", "supplier"},
               {"name", s.name},
               {"email", s.email},
               {"webhook_url", to_json_text(s.webhook_url)},
               {"webhook_endpoint", to_json_text(s.webhook_endpoint)},
               {"lead_time_days", s.lead_time_days},
               {"minimum_order_quantity", s.minimum_order_quantity},
               {"pack_size", s.pack_size},
               {"automatic", s.automatic},
               {"active", s.active},
               {"products", std::move(products)}};
  return with_envelope(std::move(body), s);
}

Supplier supplier_from_doc(const Json& d) {
  Supplier s;
  s.id = d.at("id");
  s.name = d.at("name");
  s.email = d.at("email");
  s.webhook_url = doc_text(d, "webhook_url");
  s.webhook_endpoint = doc_text(d, "webhook_endpoint");
  s.lead_time_days = d.at("lead_time_days");
  s.minimum_order_quantity = d.at("minimum_order_quantity");
  s.pack_size = d.at("pack_size");
  s.automatic = d.at("automatic");
  s.active = d.at("active");
  for (const auto& p : d.at("products")) s.products.push_back({p.at("product"), p.at("unit_cost"), p.at("currency")});
  read_envelope(d, s);
  return s;
}

const Supplier* choose_supplier(const std::vector<Supplier>& suppliers, std::string_view product) {
  const Supplier* best = nullptr;
  for (const auto& s : suppliers) {
    const SuppliedProduct* offer = s.supplies(product);
    if (!s.active || !offer) continue;
    if (!best) {
      best = &s;
      continue;
    }
    auto key = [&](const Supplier& x) {
      return std::make_tuple(x.lead_time_days, x.supplies(product)->unit_cost, x.created, x.id);
    };
    if (key(s) < key(*best)) best = &s;
  }
  return best;
}

// ------------------------------------------------------------------ purchase orders

std::string_view to_string(PurchaseOrderStatus status) { return kOrderStatuses[static_cast<std::size_t>(status)]; }
std::string_view to_string(PurchaseOrderAction action) { return kActions[static_cast<std::size_t>(action)]; }

std::vector<std::string_view> purchase_order_status_names() { return {kOrderStatuses.begin(), kOrderStatuses.end()}; }

std::optional<PurchaseOrderStatus> parse_purchase_order_status(std::string_view text) {
  for (std::size_t i = 0; i < kOrderStatuses.size(); ++i)
    if (kOrderStatuses[i] == text) return static_cast<PurchaseOrderStatus>(i);
  return std::nullopt;
}

std::optional<PurchaseOrderStatus> transition(PurchaseOrderStatus from, PurchaseOrderAction action) {
  using S = PurchaseOrderStatus;
  switch (action) {
    case PurchaseOrderAction::kSend:
      if (from == S::kDraft) return S::kSent;
      return std::nullopt;
    case PurchaseOrderAction::kCancel:
      if (from == S::kDraft || from == S::kSent || from == S::kPartiallyReceived) return S::kCanceled;
      return std::nullopt;
    case PurchaseOrderAction::kReceive:
      if (from == S::kSent || from == S::kPartiallyReceived) return S::kPartiallyReceived;
      return std::nullopt;
  }
  return std::nullopt;
}

std::int64_t PurchaseOrder::total() const {
  std::int64_t sum = 0;
  for (const auto& l : lines) sum += l.quantity * l.unit_cost;
  return sum;
}

PurchaseOrderLine* PurchaseOrder::line_of(std::string_view product) {
  for (auto& l : lines)
    if (l.product == product) return &l;
  return nullptr;
}

Json to_json(const PurchaseOrder& o) {
  Json lines = Json::array();
  for (const auto& l : o.lines)
    lines.push_back({{"product", l.product},
                     {"sku", l.sku},
                     {"quantity", l.quantity},
                     {"received", l.received},
                     {"unit_cost", l.unit_cost}});
  Json body = {{"id", o.id},
               {"object", "purchase_order"},
               {"number", o.number},
               {"supplier", o.supplier},
               {"status", to_string(o.status)},
               {"currency", o.currency},
               {"lines", std::move(lines)},
               {"total", o.total()},
               {"sent_at", to_json_time(o.sent_at)},
               {"expected_at", to_json_time(o.expected_at)},
               {"received_at", to_json_time(o.received_at)},
               {"canceled_at", to_json_time(o.canceled_at)},
               {"origin", o.origin},
               {"need_key", to_json_text(o.need_key)}};
  return with_envelope(std::move(body), o);
}

PurchaseOrder purchase_order_from_doc(const Json& d) {
  PurchaseOrder o;
  o.id = d.at("id");
  o.number = d.at("number");
  o.supplier = d.at("supplier");
  o.status = parse_purchase_order_status(d.at("status").get<std::string>()).value();
  o.currency = d.at("currency");
  for (const auto& l : d.at("lines"))
    o.lines.push_back({l.at("product"), l.at("sku"), l.at("quantity"), l.at("received"), l.at("unit_cost")});
  o.sent_at = doc_time(d, "sent_at");
  o.expected_at = doc_time(d, "expected_at");
  o.received_at = doc_time(d, "received_at");
  o.canceled_at = doc_time(d, "canceled_at");
  o.origin = d.at("origin");
  o.need_key = doc_text(d, "need_key");
  read_envelope(d, o);
  return o;
}

PurchaseOrderStatus status_after_receipt(const std::vector<PurchaseOrderLine>& lines) {
  bool complete = std::all_of(lines.begin(), lines.end(), [](const auto& l) { return l.outstanding() == 0; });
  return complete ? PurchaseOrderStatus::kReceived : PurchaseOrderStatus::kPartiallyReceived;
}

Status record_receipt(PurchaseOrder& order, std::string_view product, std::int64_t quantity) {
  if (!transition(order.status, PurchaseOrderAction::kReceive))
    return Error::conflict("purchase_order_not_receivable", "purchase order " + order.number + " is " +
                                                                std::string(to_string(order.status)) +
                                                                "; only sent orders can be received");
  PurchaseOrderLine* line = order.line_of(product);
  if (!line)
    return Error::conflict("product_not_on_order",
                           "product " + std::string(product) + " is not on purchase order " + order.number);
  if (quantity < 1 || quantity > line->outstanding())
    return Error::conflict("receipt_exceeds_order", "purchase order " + order.number + " has " +
                                                        std::to_string(line->outstanding()) + " of " +
                                                        std::string(product) + " outstanding, not " +
                                                        std::to_string(quantity));
  line->received += quantity;
  order.status = status_after_receipt(order.lines);
  return Ok{};
}

std::string lines_text(const PurchaseOrder& o) {
  std::string out;
  for (const auto& l : o.lines)
    out += std::to_string(l.quantity) + " × " + l.sku + " (" + l.product + ") at " +
           format_amount(l.unit_cost, o.currency) + "\n";
  return out;
}

// ------------------------------------------------------------------ reordering

double inverse_normal(double p) { return boost::math::quantile(boost::math::normal(), p); }

std::int64_t order_quantity(std::int64_t needed, std::int64_t minimum, std::int64_t pack_size) {
  if (needed <= 0) return 0;
  std::int64_t units = std::max(needed, minimum);
  return (units + pack_size - 1) / pack_size * pack_size;
}

ReorderDecision decide_reorder(const ReorderInputs& in) {
  ReorderDecision d;
  d.safety_stock = units_up(inverse_normal(in.service_level) * in.lead_time_stddev);
  d.reorder_point = units_up(in.lead_time_demand) + d.safety_stock;
  d.position = in.available + in.incoming;
  d.high_demand = in.lead_time_demand > static_cast<double>(d.position) + 1e-9;
  d.reorder = d.position < d.reorder_point;
  if (d.reorder) {
    std::int64_t needed = d.reorder_point + units_up(in.review_demand) - d.position;
    d.quantity = order_quantity(needed, in.minimum_order_quantity, in.pack_size);
  }
  return d;
}

std::string reorder_need_key(std::string_view product, Timestamp now, std::int64_t review_seconds) {
  return "reorder:" + std::string(product) + ":" + std::to_string(cycle_of(now, review_seconds));
}

std::string replenishment_need_key(std::string_view product, Timestamp now, std::int64_t review_seconds) {
  return "replenishment:" + std::string(product) + ":" + std::to_string(cycle_of(now, review_seconds));
}

}  // namespace recur::inventory
