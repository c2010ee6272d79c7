// The demo catalogue `make run` loads: enough to try every subscription action.
#include "app/app.h"

namespace recur::app {
namespace {

struct ShipmentsSeen {
  std::size_t total = 0;
  std::size_t backordered = 0;
};

ShipmentsSeen count_shipments(App& app) {
  ShipmentsSeen seen;
  inventory::ShipmentFilter q;
  q.page.limit = 100;
  auto page = app.inventory().list_shipments(q);
  if (!page.ok()) return seen;
  seen.total = page->items.size();
  for (const auto& s : page->items) seen.backordered += s.status == inventory::ShipmentStatus::kBackordered;
  return seen;
}

}  // namespace

Result<std::string> load_demo(App& app, std::optional<Timestamp> replay_to) {
  events::Actor cli{"cli", "demo", "admin"};
  RECUR_ASSIGN(auto existing, app.catalog().list_products(catalog::ListFilter{}));
  if (!existing.items.empty()) return std::string("demo data already present: nothing loaded");

  // Coffee is stocked tightly, so the replayed weeks end with a backorder; tea is not tracked.
  auto product = [&](std::string name, std::string sku, std::int64_t cents, std::string category,
                     std::int64_t stock) -> Result<catalog::Product> {
    bool tracked = stock >= 0;
    RECUR_ASSIGN(auto p, app.catalog().create_product(catalog::ProductInput{std::move(name), sku, std::nullopt,
                                                                            Money{cents, "usd"}, Json::object(),
                                                                            std::move(category), tracked},
                                                      cli));
    if (stock > 0) RECUR_TRY(app.inventory().receive(sku, stock, std::nullopt, cli));
    return p;
  };
  RECUR_ASSIGN(auto beans, product("Single-origin coffee beans, 250 g", "COF-250", 1400, "coffee", 6));
  RECUR_ASSIGN(auto decaf, product("Decaf coffee beans, 250 g", "COF-DEC-250", 1300, "coffee", 20));
  RECUR_ASSIGN(auto tea, product("Loose-leaf green tea, 100 g", "TEA-100", 900, "tea", -1));
  RECUR_ASSIGN(auto filters, product("Paper filters, 100 pack", "FLT-100", 500, "accessories", 50));
  RECUR_TRY(app.inventory().update_settings("COF-250", {3, std::optional<std::string>("orders@roastery.example")}, cli));
  // The roastery is set to automatic: when beans fall below the reorder point (forecast
  // over its 40-day lead time plus safety stock), Recur sends it a purchase order itself.
  inventory::SupplierInput roastery;
  roastery.name = "Hill Roastery";
  roastery.email = "orders@roastery.example";
  roastery.lead_time_days = 40;
  roastery.minimum_order_quantity = 24;
  roastery.pack_size = 12;
  roastery.automatic = true;
  roastery.products = {{beans.id, 650, "usd"}, {decaf.id, 600, "usd"}};
  RECUR_TRY(app.purchasing().create_supplier(roastery, cli));

  // Two tiers: the standard box ranks above the lite one, and its members get 10 % off add-ons.
  RECUR_ASSIGN(auto lite_tier, app.catalog().create_tier({"Lite", 10, {}, Json::object()}, cli));
  RECUR_ASSIGN(auto standard_tier, app.catalog().create_tier({"Standard", 20, {10, {}}, Json::object()}, cli));
  auto plan = [&](std::string name, std::int64_t cents, Interval interval, int count,
                  std::int64_t trial, std::optional<std::string> tier, std::vector<catalog::PlanItem> items) {
    return app.catalog().create_plan(catalog::PlanInput{std::move(name), cents, "usd", {interval, count}, trial,
                                                        std::move(tier), std::move(items), Json::object()},
                                     cli);
  };
  RECUR_ASSIGN(auto monthly, plan("Coffee box, monthly", 2400, Interval::kMonth, 1, 14, standard_tier.id,
                                  {{beans.id, 1}, {filters.id, 1}}));
  RECUR_ASSIGN(auto biweekly,
               plan("Coffee box, every two weeks", 1400, Interval::kWeek, 2, 0, standard_tier.id, {{beans.id, 1}}));
  RECUR_ASSIGN(auto lite,
               plan("Coffee box lite, every two months", 2200, Interval::kMonth, 2, 0, lite_tier.id, {{decaf.id, 1}}));
  RECUR_ASSIGN(auto tea_plan, plan("Tea box, monthly", 1800, Interval::kMonth, 1, 0, standard_tier.id, {{tea.id, 2}}));
  (void)tea_plan;

  customers::Address address{"1 Market St", std::nullopt, "San Francisco", "94105", "CA", "US"};
  RECUR_ASSIGN(auto ada, app.customers().create({"ada@example.com", "Ada Lovelace", "+14155550100", address,
                                                 Json::object()},
                                                cli));
  RECUR_ASSIGN(auto alan, app.customers().create({"alan@example.com", "Alan Turing", std::nullopt, address,
                                                  Json::object()},
                                                 cli));
  // Cards through the sandbox gateway: Ada's pays, Grace's is declined (dunning to watch).
  RECUR_TRY(app.customers().attach_payment_method(ada.id, {std::nullopt, "pm_card_visa", false}, cli));
  RECUR_TRY(app.customers().attach_payment_method(alan.id, {std::nullopt, "pm_card_mastercard", false}, cli));
  RECUR_ASSIGN(auto grace, app.customers().create({"grace@example.com", "Grace Hopper", std::nullopt, address,
                                                   Json::object()},
                                                  cli));
  RECUR_TRY(app.customers().attach_payment_method(grace.id, {std::nullopt, "pm_card_chargeDeclined", false}, cli));
  // Through checkout, as POST /v1/subscriptions: a first period due now is charged at once.
  auto subscribe = [&](const std::string& customer, const std::string& plan_id, std::int64_t quantity) {
    return app.billing().checkout.subscribe({.customer = customer, .plan = plan_id, .quantity = quantity},
                                            billing::PaymentBehavior::kAllowIncomplete, cli);
  };
  RECUR_ASSIGN(auto sub3, subscribe(grace.id, monthly.id, 1));
  RECUR_ASSIGN(auto sub1, subscribe(ada.id, monthly.id, 1));
  RECUR_ASSIGN(auto sub2, subscribe(alan.id, biweekly.id, 2));

  using subscriptions::OfferType;
  auto offer = [&](std::string reason, OfferType type, std::string text, std::int64_t pct, std::int64_t cycles,
                   std::int64_t pause, std::optional<std::string> plan_id) {
    return app.retention().create_offer(
        {std::move(reason), type, std::move(text), pct, cycles, pause, std::move(plan_id), Json::object()}, cli);
  };
  RECUR_TRY(offer("too_expensive", OfferType::kDiscount, "20% off your next 3 boxes", 20, 3, 0, std::nullopt));
  RECUR_TRY(offer("too_expensive", OfferType::kChangePlan, "Switch to the lite box every two months", 0, 0, 0, lite.id));
  RECUR_TRY(offer("not_using", OfferType::kPause, "Pause for one cycle", 0, 0, 1, std::nullopt));
  RECUR_TRY(offer("not_using", OfferType::kSkip, "Skip your next box", 0, 0, 0, std::nullopt));
  RECUR_TRY(offer("moving", OfferType::kPause, "Pause for two cycles while you move", 0, 0, 2, std::nullopt));

  std::string summary = "demo data loaded: 4 products (3 with stock), 4 plans, 3 customers with sandbox cards (one "
                        "declines), subscriptions " + sub1.id + ", " + sub2.id + " and " + sub3.id +
                        ", 5 retention offers";
  if (!replay_to) return summary;
  // Five weeks of renewals, trial ends, dunning and shipments, in order, up to now: the
  // coffee beans run short and Alan's third box waits on a backorder.
  RECUR_ASSIGN(auto ran, app.advance_test_clock(*replay_to));
  ShipmentsSeen seen = count_shipments(app);
  inventory::PurchaseOrderFilter orders;
  orders.page.limit = 100;
  auto pos = app.purchasing().list_purchase_orders(orders);
  std::size_t po_count = pos.ok() ? pos->items.size() : 0;
  return summary + "; replayed " + std::to_string(ran.value("runs", 0)) + " scheduler runs up to now: " +
         std::to_string(seen.total) + " shipments, " + std::to_string(seen.backordered) + " backordered, " +
         std::to_string(po_count) + " automatic purchase order(s) to Hill Roastery";
}

}  // namespace recur::app
