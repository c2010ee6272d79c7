// Inventory's side of a billed period.
#include "inventory/fulfilment.h"

#include <algorithm>

#include "catalog/store.h"
#include "customers/service.h"
#include "inventory/store.h"

namespace recur::inventory {
namespace {

std::string date_text(std::optional<Timestamp> t) {
  return t ? format_rfc3339(*t).substr(0, 10) : std::string("as soon as it is back in stock");
}

}  // namespace

recur::Status InventoryFulfilment::period_began(db::Tx& tx, const subscriptions::Subscription& sub,
                                             const subscriptions::LifecycleEvent& e, bool at_signup) {
  RECUR_ASSIGN(auto plan, catalog::find_plan(tx, e.plan));
  // The plan's items for the period's quantity and its tier's extras, then the add-ons.
  std::vector<catalog::PlanItem> items;
  if (plan) {
    RECUR_ASSIGN(items, catalog::box_items(tx, *plan, e.quantity));
    if (plan->selection) {
      // What the customer chose for this box, or what Recur picks for them now (the box's
      // selection: the plan's, sized by its tier).
      RECUR_ASSIGN(auto selection, catalog::box_selection(tx, *plan));
      std::vector<catalog::PlanItem> chosen = e.choice;
      // A choice made for another plan (changed since) or of an option archived since no
      // longer fits this box: Recur picks instead.
      bool fits = !chosen.empty() && catalog::check_choice(*selection, chosen).ok();
      for (const auto& c : chosen) {
        if (!fits) break;
        RECUR_ASSIGN(auto option, catalog::find_product(tx, c.product));
        fits = option && option->active;
      }
      if (!fits) {
        RECUR_ASSIGN(chosen, default_choice(tx, sub, *selection, e.sequence, e.period.start));
      }
      for (const auto& c : chosen) items.push_back({c.product, c.quantity * e.quantity});
    }
  }
  if (items.empty() && e.add_ons.empty()) return Ok{};  // nothing physical to ship
  Shipment s;
  s.id = ids_.next("shp");
  s.subscription = sub.id;
  s.customer = sub.customer;
  s.period_seq = e.sequence;
  s.period = e.period;
  s.value = e.amount;
  s.currency = e.currency;
  s.created = s.updated = e.at;
  if (period_payment_) {  // billing invoiced the period first, in this transaction
    // A prepaid box is linked to the charge that covers it (box_paid weighs its own
    // invoice, for its add-ons, beside it).
    RECUR_ASSIGN(auto payment, period_payment_(tx, sub.id, e.prepaid_by > 0 ? e.prepaid_by : e.sequence));
    s.invoice = std::move(payment.invoice);
    s.paid = payment.paid;
  }
  if (!e.prepaid_invoice.empty()) {
    // A gift's box: paid by the purchaser's invoice, which was paid before the gift could be
    // claimed (and a paid invoice stays paid).
    s.invoice = e.prepaid_invoice;
    s.paid = true;
  }
  if (sub.shipping_address) s.address = customers::to_json(*sub.shipping_address);
  bool any_tracked = false;
  for (const auto& add_on : e.add_ons) items.push_back({add_on.product, add_on.quantity});
  for (const auto& pi : items) {
    RECUR_ASSIGN(auto product, catalog::find_product(tx, pi.product));
    if (!product) return Error::internal("subscription " + sub.id + " ships a missing product " + pi.product);
    s.items.push_back(
        {product->id, product->sku, product->name, pi.quantity, 0, product->track_inventory, std::nullopt});
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
    RECUR_TRY(movements_.reserve(tx, s.items[i], s.id, e.at));
    if (s.items[i].short_by() > 0) short_skus.push_back(s.items[i].sku);
  }
  if (at_signup && !short_skus.empty()) {
    std::vector<Alternative> offered;
    for (const auto& item : s.items) {
      if (item.short_by() <= 0) continue;
      RECUR_ASSIGN(auto product, catalog::find_product(tx, item.product));
      RECUR_ASSIGN(auto snap, answers_.snapshot(tx, *product));
      auto a = inventory::availability(snap, item.quantity, std::nullopt);
      RECUR_ASSIGN(auto more, answers_.alternatives(tx, *product, item.quantity, a.available_on));
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
  Json created = to_json(s);
  const bool backordered = s.status == ShipmentStatus::kBackordered;
  // Made backordered: both events show the box as made (the JSON is built once).
  RECUR_TRY(events_.record(tx, "shipment.created", s.id, events::Actor::system(), nullptr,
                           backordered ? created : std::move(created)));
  if (backordered) {
    RECUR_TRY(events_.record(tx, "shipment.backordered", s.id, events::Actor::system(), nullptr, std::move(created),
                             {{"skus", short_skus}, {"expected_at", to_json_time(s.expected_at)}}));
    notices_.send(tx, s, "backorder_delay", {{"expected_date", date_text(s.expected_at)}});
  }
  if (any_tracked) {
    for (const auto& item : s.items) {
      if (!item.tracked) continue;
      RECUR_ASSIGN(auto product, catalog::find_product(tx, item.product));
      RECUR_TRY(alerts_.check(tx, *product));
    }
  }
  return Ok{};
}

recur::Status InventoryFulfilment::check_first_shipment(db::Tx& tx, const subscriptions::Subscription& sub,
                                                     const catalog::Plan& plan, Timestamp ships_at) {
  RECUR_ASSIGN(auto items, catalog::box_items(tx, plan, sub.quantity));
  return check_extras(tx, items, ships_at);
}

recur::Status InventoryFulfilment::check_extras(db::Tx& tx, const std::vector<catalog::PlanItem>& items,
                                                Timestamp ships_at) {
  std::vector<std::string> short_skus;
  std::vector<Alternative> offered;
  for (const auto& pi : items) {
    RECUR_ASSIGN(auto product, catalog::find_product(tx, pi.product));
    if (!product || !product->track_inventory) continue;
    RECUR_ASSIGN(auto snap, answers_.snapshot(tx, *product));
    auto a = inventory::availability(snap, pi.quantity, ships_at);
    if (a.can_fulfill) continue;
    short_skus.push_back(product->sku);
    RECUR_ASSIGN(auto more, answers_.alternatives(tx, *product, pi.quantity, a.available_on));
    for (auto& m : more) offered.push_back(std::move(m));
  }
  if (short_skus.empty()) return Ok{};
  return out_of_stock(short_skus, offered);
}

Result<std::vector<subscriptions::Fulfilment::BoxOption>> InventoryFulfilment::box_options(
    db::Tx& tx, const catalog::Selection& selection, std::int64_t quantity, Timestamp ships_at) {
  std::vector<BoxOption> out;
  for (const auto& id : selection.from) {
    RECUR_ASSIGN(auto product, catalog::find_product(tx, id));
    if (!product || !product->active) continue;
    BoxOption o{product->id, product->sku, product->name, product->tags, true};
    if (product->track_inventory) {
      RECUR_ASSIGN(auto snap, answers_.snapshot(tx, *product));
      o.available = inventory::availability(snap, quantity, ships_at).can_fulfill;
    }
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::vector<catalog::PlanItem>> InventoryFulfilment::default_choice(db::Tx& tx,
                                                                           const subscriptions::Subscription& sub,
                                                                           const catalog::Selection& selection,
                                                                           std::int64_t sequence, Timestamp ships_at) {
  RECUR_ASSIGN(auto offered, box_options(tx, selection, sub.quantity, ships_at));
  std::vector<catalog::PickOption> options;
  for (auto& o : offered) options.push_back({o.product, o.tags, o.available});
  catalog::Preferences preferences;
  RECUR_ASSIGN(auto customer, customers::find_customer(tx, sub.customer));
  if (customer) preferences = {customer->preferences.likes, customer->preferences.excludes};
  // The last box's contents, so that this one differs where it can.
  std::vector<std::string> last;
  RECUR_ASSIGN(auto latest, inventory::list_shipments(tx, {.subscription = sub.id, .page = {.limit = 1}}));
  for (const auto& s : latest.items)
    for (const auto& item : s.items) last.push_back(item.product);
  return catalog::pick_selection(selection, options, preferences, last, sub.id + ":" + std::to_string(sequence));
}

recur::Status InventoryFulfilment::subscription_ended(db::Tx& tx, const std::string& subscription) {
  RECUR_ASSIGN(auto boxes, inventory::list_shipments(tx, {.subscription = subscription, .page = {.limit = 1000}}));
  Timestamp now = clock_.now();
  for (auto& s : boxes.items) {
    bool open = s.status == ShipmentStatus::kPending || s.status == ShipmentStatus::kBackordered ||
                s.status == ShipmentStatus::kReady;
    if (!open) continue;
    if (period_payment_) {
      RECUR_ASSIGN(auto payment, period_payment_(tx, s.subscription, s.period_seq));
      if (box_paid(s.invoice, s.paid, payment)) continue;  // paid for: it still ships
    }
    RECUR_ASSIGN(auto locked, find_shipment(tx, s.id, true));
    if (!locked) continue;
    Shipment box = std::move(*locked);
    Json before = to_json(box);
    std::vector<ShipmentItem> freed = box.items;
    for (auto& item : box.items) RECUR_TRY(movements_.release(tx, item, box.id, now));
    box.status = ShipmentStatus::kCanceled;
    box.expected_at.reset();
    box.updated = now;
    ++box.version;
    RECUR_TRY(update_shipment(tx, box));
    RECUR_TRY(movements_.released(tx, freed));
    RECUR_TRY(events_.record(tx, "shipment.canceled", box.id, events::Actor::system(), std::move(before), to_json(box),
                             {{"reason", "subscription_ended_unpaid"}}));
  }
  return Ok{};
}

recur::Status InventoryFulfilment::invoice_paid(db::Tx& tx, const std::string& invoice) {
  RECUR_ASSIGN(auto boxes, shipments_of_invoice(tx, invoice, true));
  Timestamp now = clock_.now();
  for (auto& box : boxes) {
    if (box.paid) continue;
    Json before = to_json(box);
    box.paid = true;
    box.updated = now;
    ++box.version;
    RECUR_TRY(update_shipment(tx, box));
    RECUR_TRY(events_.record(tx, "shipment.paid", box.id, events::Actor::system(), std::move(before), to_json(box),
                             {{"invoice", invoice}}));
  }
  return Ok{};
}

}  // namespace recur::inventory
