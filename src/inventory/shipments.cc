// Shipments and the operator's moves.
#include "inventory/shipments.h"

#include "inventory/store.h"
#include "platform/ids.h"

namespace recur::inventory {
Error shipment_not_found(const std::string& id) {
  return Error::not_found("shipment_not_found", no_object_message("shipment", "shp", id));
}

Result<Shipment> Shipments::shipment(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Shipment> {
    RECUR_ASSIGN(auto found, find_shipment(tx, id, false));
    if (!found) return shipment_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Shipment>> Shipments::list_shipments(const ShipmentFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Page<Shipment>> {
    return inventory::list_shipments(tx, filter);
  }, db::TxMode::kReadOnly);
}

Result<Shipment> Shipments::move_shipment(const std::string& id, ShipmentStatus to,
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
    if ((to == ShipmentStatus::kReady || to == ShipmentStatus::kShipped) && period_payment_) {
      RECUR_ASSIGN(auto payment, period_payment_(tx, s.subscription, s.period_seq));
      if (!box_paid(s.invoice, s.paid, payment))
        return Error::conflict("period_unpaid", "the invoice for this box is not paid yet; it ships once paid");
    }
    Json before = to_json(s);
    Timestamp now = clock_.now();
    if (to == ShipmentStatus::kShipped && s.status != to) {
      for (auto& item : s.items) {
        if (!item.tracked || item.reserved == 0) continue;
        RECUR_ASSIGN(auto product, catalog::find_product(tx, item.product));
        const std::int64_t shipped = item.reserved;
        Movement m;
        m.product = item.product;
        m.kind = MovementKind::kShipment;
        m.on_hand_delta = -shipped;
        m.reserved_delta = -shipped;
        m.reference = s.id;
        m.actor = actor;
        m.created = now;
        RECUR_ASSIGN(bool applied, movements_.move(tx, m, *product));
        if (!applied) return Error::internal("shipping " + item.sku + " was refused by the stock level");
      }
    }
    std::vector<ShipmentItem> freed;
    if (to == ShipmentStatus::kCanceled && s.status != to) {
      freed = s.items;
      for (auto& item : s.items) RECUR_TRY(movements_.release(tx, item, s.id, now));
    }
    s.status = to;
    if (tracking) s.tracking_number = tracking;
    s.updated = now;
    ++s.version;
    RECUR_TRY(update_shipment(tx, s));
    // Stored first: the backorders the freed units fill are others, never this one.
    RECUR_TRY(movements_.released(tx, freed));
    RECUR_TRY(events_.record(tx, "shipment." + std::string(to_string(to)), s.id, actor, std::move(before), to_json(s)));
    if (to == ShipmentStatus::kShipped)
      notices_.send(tx, s, "shipment_shipped", {{"tracking_number", s.tracking_number.value_or("not given")}});
    return s;
  });
}

}  // namespace recur::inventory
