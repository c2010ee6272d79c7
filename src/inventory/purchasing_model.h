// Suppliers and purchase orders: their types, the purchase order's status machine, and the
// reordering rules (reorder point, order quantity, the inverse normal for safety stock).
// Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/json.h"
#include "platform/result.h"
#include "platform/time.h"

namespace recur::inventory {

// ------------------------------------------------------------------ suppliers

// A product a supplier sells us, at a unit cost in minor units of `currency`.
struct SuppliedProduct {
  std::string product;  // "prod_..."
  std::int64_t unit_cost = 0;
  std::string currency;  // lower-case ISO 4217; one currency per supplier
};

struct Supplier {
  std::string id;  // "sup_..."
  std::string name;
  std::string email;                       // where purchase orders are e-mailed
  std::optional<std::string> webhook_url;  // where purchase orders are posted (signed, as webhooks)
  // "we_...": the webhook endpoint that posts them (App's SupplierWebhookSync keeps it in
  // step with webhook_url); none without a URL.
  std::optional<std::string> webhook_endpoint;
  std::int64_t lead_time_days = 7;         // from sending an order to its arrival
  std::int64_t minimum_order_quantity = 1; // per line
  std::int64_t pack_size = 1;              // lines are whole packs
  bool automatic = false;                  // reorders are sent at once instead of left as drafts
  bool active = true;                      // inactive suppliers get no automatic orders
  std::vector<SuppliedProduct> products;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;

  const SuppliedProduct* supplies(std::string_view product) const;
};

Json to_json(const Supplier& supplier);
Supplier supplier_from_doc(const Json& doc);

// The supplier automatic orders go to when several sell a product: the shortest lead time,
// then the lowest unit cost, then the oldest supplier. Inactive suppliers never.
const Supplier* choose_supplier(const std::vector<Supplier>& suppliers, std::string_view product);

// ------------------------------------------------------------------ purchase orders

// draft -> sent -> partially_received -> received; canceled from draft, sent, or
// partially_received (closing what has not arrived).
enum class PurchaseOrderStatus { kDraft, kSent, kPartiallyReceived, kReceived, kCanceled };
std::string_view to_string(PurchaseOrderStatus status);
std::optional<PurchaseOrderStatus> parse_purchase_order_status(std::string_view text);
std::vector<std::string_view> purchase_order_status_names();

enum class PurchaseOrderAction { kSend, kCancel, kReceive };
std::string_view to_string(PurchaseOrderAction action);
// The status an action leads to from `from`; nullopt when the action is refused. Receiving
// answers partially_received; status_after_receipt says whether it is all there.
std::optional<PurchaseOrderStatus> transition(PurchaseOrderStatus from, PurchaseOrderAction action);

struct PurchaseOrderLine {
  std::string product;
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t received = 0;
  std::int64_t unit_cost = 0;  // minor units of the order's currency

  std::int64_t outstanding() const { return quantity - received; }
};

struct PurchaseOrder {
  std::string id;      // "po_..."
  std::string number;  // "PO-000001", gapless
  std::string supplier;
  PurchaseOrderStatus status = PurchaseOrderStatus::kDraft;
  std::string currency;
  std::vector<PurchaseOrderLine> lines;
  std::optional<Timestamp> sent_at;
  std::optional<Timestamp> expected_at;  // sent_at + the supplier's lead time
  std::optional<Timestamp> received_at;
  std::optional<Timestamp> canceled_at;
  std::optional<std::string> need_key;  // automatic orders: the need they answer (once each)
  std::string origin = "manual";        // "manual" | "automatic"
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;

  std::int64_t total() const;  // sum of quantity × unit_cost
  PurchaseOrderLine* line_of(std::string_view product);
};

Json to_json(const PurchaseOrder& order);
PurchaseOrder purchase_order_from_doc(const Json& doc);

// received when every line is complete, partially_received otherwise.
PurchaseOrderStatus status_after_receipt(const std::vector<PurchaseOrderLine>& lines);

// Checks `quantity` more units of `product` may be received on `order` (sent or partially
// received, product on it, no more than outstanding) and applies them: the line's received
// count and the order's status. 409 otherwise, and `order` is left as it was.
Status record_receipt(PurchaseOrder& order, std::string_view product, std::int64_t quantity);

// The lines as plain text, one per line ("3 × SKU-1 at 4.50 USD"), for the e-mail.
std::string lines_text(const PurchaseOrder& order);

// ------------------------------------------------------------------ reordering

// The standard normal's inverse CDF (Boost.Math's quantile): the z for a service level,
// e.g. 0.95 -> 1.6449.
// Requires: 0 < p < 1.
double inverse_normal(double p);

// Units to order for `needed` units: at least the minimum order quantity, in whole packs.
// Requires: pack_size >= 1, minimum >= 0. Zero when needed <= 0.
std::int64_t order_quantity(std::int64_t needed, std::int64_t minimum, std::int64_t pack_size);

struct ReorderInputs {
  double lead_time_demand = 0;   // expected units over the supplier's lead time
  double lead_time_stddev = 0;   // its standard deviation
  double review_demand = 0;      // expected units over one review period after the arrival
  double service_level = 0.95;   // the chance of not running out before the order arrives
  std::int64_t available = 0;    // on hand - reserved, every warehouse
  std::int64_t incoming = 0;     // outstanding on sent and partially received orders
  std::int64_t minimum_order_quantity = 1;
  std::int64_t pack_size = 1;
};

struct ReorderDecision {
  std::int64_t safety_stock = 0;   // ceil(z × stddev)
  std::int64_t reorder_point = 0;  // ceil(lead-time demand) + safety stock
  std::int64_t position = 0;       // available + incoming
  bool reorder = false;            // position < reorder point
  std::int64_t quantity = 0;       // what to order (0 unless reorder)
  // Demand over the lead time alone exceeds what is there and coming: operators are told.
  bool high_demand = false;
};

ReorderDecision decide_reorder(const ReorderInputs& in);

// The need an automatic order answers: one per product per review cycle, so neither a
// second run nor a second node orders it again. Requires: review_seconds > 0.
std::string reorder_need_key(std::string_view product, Timestamp now, std::int64_t review_seconds);
std::string replenishment_need_key(std::string_view product, Timestamp now, std::int64_t review_seconds);

}  // namespace recur::inventory
