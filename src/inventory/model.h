// Inventory's plain types and rules: stock levels derived from an append-only movement
// ledger, shipments with their reservations and backorders, low-stock crossings, and the
// availability answer and the alternatives offered with it. No I/O here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/model.h"
#include "events/model.h"
#include "platform/json.h"
#include "platform/money.h"
#include "platform/time.h"
#include "subscriptions/model.h"

namespace recur::inventory {

// Every product's stock lives in this warehouse unless a movement names another; the model
// (and the tables) keep one level per product and warehouse.
inline constexpr std::string_view kDefaultWarehouse = "main";

// The most units one request may move, order or set as a threshold (the routes' bound).
inline constexpr std::int64_t kMaxUnits = 1'000'000'000;

// What moved stock. Signs: on_hand_delta and reserved_delta as they change the level.
enum class MovementKind { kReceipt, kAdjustment, kReservation, kRelease, kShipment, kReturn };
std::string_view to_string(MovementKind kind);
std::optional<MovementKind> parse_movement_kind(std::string_view text);
std::vector<std::string_view> movement_kind_names();

struct Movement {
  std::string id;  // "mv_...", time-ordered: the ledger's order
  std::string product;
  std::string warehouse{kDefaultWarehouse};
  MovementKind kind = MovementKind::kAdjustment;
  std::int64_t on_hand_delta = 0;
  std::int64_t reserved_delta = 0;
  std::optional<std::string> reason;     // adjustments: why ("damaged", "count correction", ...)
  std::optional<std::string> reference;  // "shp_..." or "po_..."
  events::Actor actor = events::Actor::system();  // who asked: an API key, the scheduler, the CLI
  Timestamp created = 0;
};

// One product's stock in one warehouse: the sums of its movements, plus settings.
struct StockLevel {
  std::string product;
  std::string warehouse{kDefaultWarehouse};
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t low_stock_threshold = 0;  // low when available <= threshold (0: never)
  bool low_alerted = false;              // an alert went out for the current crossing
  std::optional<std::string> alert_email;  // the vendor's or warehouse's contact for low stock
  std::int64_t version = 1;
  Timestamp updated = 0;

  std::int64_t available() const { return on_hand - reserved; }
};

// Levels rebuilt from the ledger alone (the check that stored levels are derived).
struct LedgerSums {
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
};
LedgerSums sum_ledger(const std::vector<Movement>& movements);

bool is_low(std::int64_t available, std::int64_t threshold);

// Low-stock alerts go out once per crossing: when a level becomes low and no alert went out
// for it yet; the flag clears when stock climbs back above the threshold.
enum class LowStockStep { kNone, kAlert, kRecovered };
LowStockStep low_stock_step(bool alerted, std::int64_t available, std::int64_t threshold);

// ------------------------------------------------------------------ shipments

enum class ShipmentStatus { kPending, kBackordered, kReady, kShipped, kDelivered, kCanceled };
std::string_view to_string(ShipmentStatus status);
std::optional<ShipmentStatus> parse_shipment_status(std::string_view text);
std::vector<std::string_view> shipment_status_names();
// The moves an operator may make by PATCH: pending -> ready -> shipped -> delivered, and
// canceled from pending, backordered or ready. Backordered -> pending happens on restock.
bool operator_may_move(ShipmentStatus from, ShipmentStatus to);

struct ShipmentItem {
  std::string product;
  std::string sku;
  std::string name;
  std::int64_t quantity = 0;
  std::int64_t reserved = 0;  // units held for this item; short = quantity - reserved
  bool tracked = true;        // untracked products are never short and move no stock
  std::optional<std::string> swapped_from;  // the product a backorder choice replaced

  std::int64_t short_by() const { return quantity - reserved; }
};

// What a customer chose for a backorder.
enum class BackorderChoice { kWait, kSwap, kSkip, kCancelItem };
std::string_view to_string(BackorderChoice choice);
std::optional<BackorderChoice> parse_backorder_choice(std::string_view text);

struct Shipment {
  std::string id;  // "shp_..."
  std::string subscription;
  std::string customer;
  std::int64_t period_seq = 0;  // the subscription's n-th billed period (one shipment each)
  Period period;
  ShipmentStatus status = ShipmentStatus::kPending;
  std::vector<ShipmentItem> items;
  Json address = nullptr;  // where it goes (the subscription's, else the customer's)
  std::int64_t value = 0;  // what the period was billed (credited back on skip / cancel item)
  std::string currency;
  // The invoice of the period (none when it was not invoiced), and whether the box may ship
  // as far as payment goes: that invoice is paid, or there is none. Kept in step by billing
  // (InventoryFulfilment::invoice_paid) in the transaction that pays the invoice.
  std::optional<std::string> invoice;
  bool paid = true;
  std::optional<Timestamp> backordered_at;  // first-come first-served order of backorders
  std::optional<Timestamp> expected_at;     // when a backorder is expected to be filled
  std::optional<BackorderChoice> backorder_choice;
  std::optional<std::string> tracking_number;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
};

Json to_json(const Shipment& shipment);
Shipment shipment_from_doc(const Json& doc);
Json to_json(const Movement& movement, const std::string& sku);

// Pending when every item is fully reserved, otherwise backordered (for a shipment that has
// not gone further than that).
ShipmentStatus reservation_status(const std::vector<ShipmentItem>& items);

// The credit for an item taken out of a billed shipment: its share of the shipment's value
// by units, rounded down (so credits never exceed what was paid).
std::int64_t item_credit(std::int64_t value, const std::vector<ShipmentItem>& items, std::size_t index);

// ------------------------------------------------------------------ availability

// Stock expected from open purchase orders, by date.
struct Arrival {
  Timestamp at = 0;
  std::int64_t quantity = 0;
};

// The cached facts about one product that availability answers are computed from.
struct StockSnapshot {
  std::string product;
  std::string sku;
  std::string name;
  bool tracked = false;
  bool active = true;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t low_stock_threshold = 0;
  std::vector<Arrival> arrivals;  // sorted by time

  std::int64_t available() const { return on_hand - reserved; }
  std::int64_t incoming() const;
};

struct Availability {
  std::string product;
  std::string sku;
  bool tracked = false;
  std::int64_t quantity = 1;
  std::optional<Timestamp> date;
  std::int64_t available = 0;  // units free now (tracked products)
  std::int64_t available_by_date = 0;  // plus arrivals up to `date`
  bool can_fulfill = true;
  bool low_stock = false;
  std::optional<Timestamp> available_on;  // the earliest date `quantity` is there, if any
};

// Whether `quantity` can be had (now, or by `date` counting expected arrivals).
Availability availability(const StockSnapshot& stock, std::int64_t quantity, std::optional<Timestamp> date);

Json to_json(const Availability& availability);

// ------------------------------------------------------------------ alternatives

// An alternative offered when a product cannot be had: another product in stock, or the
// same product on the date a purchase order brings it.
struct Alternative {
  std::string product;
  std::optional<std::string> name;
  std::optional<std::int64_t> available;  // null: not tracked (never short)
  std::optional<Money> price;
  std::optional<Timestamp> available_on;
};

// Another product that might be offered instead, with what of it is free now.
struct Candidate {
  catalog::Product product;
  std::optional<std::int64_t> available;  // null: not tracked (never short)
};

// Whether `other` may stand in for `wanted`: the same category (nothing stands in for a
// product without one) and a similar price: within a third of wanted's, in the same currency
// (any price when wanted has none).
bool may_stand_in(const catalog::Product& wanted, const catalog::Product& other);

// What to offer instead of `quantity` of `wanted`: the candidates that may stand in and have
// `quantity` free (or are not tracked), closest price first (equally close ones in the order
// given), at most 5.
std::vector<Alternative> rank_alternatives(const catalog::Product& wanted, std::int64_t quantity,
                                           const std::vector<Candidate>& candidates);

}  // namespace recur::inventory
