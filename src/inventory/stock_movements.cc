// Stock movements and what each brings.
#include "inventory/stock_movements.h"

#include <algorithm>

#include "catalog/store.h"
#include "inventory/store.h"
#include "platform/ids.h"

namespace recur::inventory {

Result<bool> StockMovements::move(db::Tx& tx, Movement m, const catalog::Product& product) {
  if (m.id.empty()) m.id = ids_.next("mv");
  RECUR_ASSIGN(bool applied, apply_movement(tx, m));
  if (!applied) return false;
  cache_.invalidate_after_commit(tx, m.product);
  bool freed = m.on_hand_delta - m.reserved_delta > 0;
  RECUR_TRY(after_movement(tx, product, freed));
  return true;
}

Result<bool> StockMovements::record_movement(db::Tx& tx, const Movement& movement) {
  RECUR_ASSIGN(auto product, catalog::find_product(tx, movement.product));
  if (!product) return Error::not_found("product_not_found", no_object_message("product", "prod", movement.product));
  return move(tx, movement, *product);
}

recur::Status StockMovements::after_movement(db::Tx& tx, const catalog::Product& product, bool freed_stock) {
  if (freed_stock) RECUR_TRY(fill_backorders(tx, product.id));
  return alerts_.check(tx, product);
}

Result<std::int64_t> StockMovements::reserve(db::Tx& tx, ShipmentItem& item, const std::string& shipment,
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
  m.actor = events::Actor::system();
  m.created = at;
  RECUR_ASSIGN(bool applied, apply_movement(tx, m));
  if (!applied) return Error::internal("the reservation of " + item.sku + " was refused under its row lock");
  cache_.invalidate_after_commit(tx, item.product);
  item.reserved += take;
  return take;
}

recur::Status StockMovements::release(db::Tx& tx, ShipmentItem& item, const std::string& shipment, Timestamp at) {
  if (!item.tracked || item.reserved <= 0) return Ok{};
  Movement m;
  m.id = ids_.next("mv");
  m.product = item.product;
  m.kind = MovementKind::kRelease;
  m.reserved_delta = -item.reserved;
  m.reference = shipment;
  m.actor = events::Actor::system();
  m.created = at;
  RECUR_ASSIGN(bool applied, apply_movement(tx, m));
  if (!applied) return Error::internal("the release of " + item.sku + " was refused by the stock level");
  cache_.invalidate_after_commit(tx, item.product);
  item.reserved = 0;
  return Ok{};
}

recur::Status StockMovements::released(db::Tx& tx, const std::vector<ShipmentItem>& items) {
  for (const auto& item : items) {
    if (!item.tracked) continue;
    RECUR_ASSIGN(auto product, catalog::find_product(tx, item.product));
    if (!product) return Error::internal("a shipment holds a missing product " + item.product);
    RECUR_TRY(after_movement(tx, *product, true));
  }
  return Ok{};
}

recur::Status StockMovements::fill_backorders(db::Tx& tx, const std::string& product) {
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
        notices_.send(tx, s, "backorder_filled", Json::object());
      }
    }
    if (exhausted) break;
  }
  return Ok{};
}

Result<std::optional<Timestamp>> expected_fill(db::Tx& tx, const Shipment& s) {
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

}  // namespace recur::inventory
