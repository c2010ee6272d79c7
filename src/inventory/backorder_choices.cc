// Backorder choices.
#include "inventory/backorder_choices.h"

#include <algorithm>

#include "catalog/store.h"
#include "inventory/shipments.h"
#include "inventory/store.h"
#include "subscriptions/store.h"

namespace recur::inventory {

Result<Shipment> BackorderChoices::choose(const std::string& id, const ChoiceInput& in, const events::Actor& actor) {
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
      // The item is named by its product's id or SKU (as the shipment shows both).
      item_it = std::find_if(s.items.begin(), s.items.end(),
                             [&](const auto& i) { return i.product == *in.item || i.sku == *in.item; });
      if (item_it == s.items.end())
        return Error::invalid("validation_failed", "the shipment has no item of product " + *in.item,
                              {{"item", "not_found", "no item of this shipment has that product id or SKU"}});
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
        RECUR_ASSIGN(auto target, catalog::find_product_by_key(tx, *in.swap_to));
        if (!target || !target->active)
          return Error::invalid("validation_failed", "no active product with id or SKU '" + *in.swap_to + "'",
                                {{"swap_to", "not_found", "no active product with that id or SKU"}});
        ShipmentItem replacement{target->id, target->sku, target->name, item_it->quantity, 0, target->track_inventory,
                                 item_it->product};
        RECUR_TRY(movements_.reserve(tx, replacement, s.id, now));
        if (replacement.short_by() > 0) {
          RECUR_ASSIGN(auto product, catalog::find_product(tx, item_it->product));
          RECUR_ASSIGN(auto offered, answers_.alternatives(tx, *product, item_it->quantity, std::nullopt));
          return out_of_stock({target->sku}, offered);
        }
        freed.push_back(*item_it);
        RECUR_TRY(movements_.release(tx, *item_it, s.id, now));
        *item_it = replacement;
        break;
      }
      case BackorderChoice::kCancelItem: {
        credit = item_credit(s.value, s.items, static_cast<std::size_t>(item_it - s.items.begin()));
        credit_text = "Credit for " + item_it->name + " (backordered, removed from the box)";
        freed.push_back(*item_it);
        RECUR_TRY(movements_.release(tx, *item_it, s.id, now));
        s.items.erase(item_it);
        break;
      }
      case BackorderChoice::kSkip: {
        credit = s.value;
        credit_text = "Credit for the skipped box of " + format_rfc3339(s.period.start).substr(0, 10);
        freed = s.items;
        for (auto& item : s.items) RECUR_TRY(movements_.release(tx, item, s.id, now));
        break;
      }
    }
    s.backorder_choice = in.choice;
    if (in.choice == BackorderChoice::kSkip || s.items.empty()) s.status = ShipmentStatus::kCanceled;
    else s.status = reservation_status(s.items);
    if (s.status != ShipmentStatus::kBackordered) s.expected_at.reset();
    if (s.status == ShipmentStatus::kBackordered) {
      RECUR_ASSIGN(s.expected_at, expected_fill(tx, s));
    }
    s.value -= credit;
    s.updated = now;
    ++s.version;
    RECUR_TRY(update_shipment(tx, s));
    RECUR_TRY(movements_.released(tx, freed));  // after storing: freed units go to other backorders
    if (!freed.empty()) {
      RECUR_ASSIGN(auto again, find_shipment(tx, id, false));  // a fill may have completed it
      if (again) s = std::move(*again);
    }
    if (credit > 0) {
      subscriptions::PendingItem item{ids_.next("ii"), s.subscription, credit_text, -credit, s.currency, 1, s.period,
                                      false};
      RECUR_TRY(billing_.add_pending_item(tx, item, now));
    }
    RECUR_TRY(events_.record(tx, "shipment.backorder_choice", s.id, actor, std::move(before), to_json(s),
                             {{"choice", to_string(in.choice)}, {"credit", credit}}));
    return s;
  });
}

}  // namespace recur::inventory
