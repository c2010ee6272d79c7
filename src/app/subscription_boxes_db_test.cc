// Box features that cross modules (issue 18): an add-on is the subscription's, charged by
// billing on the next invoice and shipped by inventory in the next box.
#include <gtest/gtest.h>

#include <set>

#include "catalog/service.h"
#include "inventory/service.h"
#include "testing/fixtures.h"

namespace recur::app {
namespace {

using testing::at;
using testing::TestApp;

class SubscriptionBoxesTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }
  subscriptions::SubscriptionService& svc() { return t.app->subscriptions(); }
  subscriptions::Subscription reload(const std::string& id) { return *svc().get(id); }
  void advance_to(const char* when) {
    t.clock->set(at(when));
    auto report = svc().run_due();
    ASSERT_TRUE(report.ok()) << report.error().message;
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) { return testing::count(t, sql, params); }
  TestApp t;
};

TEST_F(SubscriptionBoxesTest, AnAddOnIsChargedOnTheNextInvoiceAndShippedInItsBoxOrRefusedWhenOutOfStock) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);  // renews 2026-02-28
  catalog::ProductInput mug{"Mug", "MUG-1", std::nullopt, Money{900, "usd"}, Json::object(), std::nullopt, true};
  auto product = t.app->catalog().create_product(mug, t.actor);
  ASSERT_TRUE(product.ok()) << product.error().message;
  ASSERT_TRUE(t.app->inventory().receive("MUG-1", 3, std::nullopt, t.actor).ok());
  // More than the stock expected by the next box: 409 out_of_stock, and nothing changes.
  auto refused = svc().add_on(sub.id, {"MUG-1", 4}, std::nullopt, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "out_of_stock");
  EXPECT_EQ(reload(sub.id).version, sub.version);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE subscription_id = $1", {sub.id}), 0);
  // Unknown, unpriced or wrongly priced products are 422.
  EXPECT_EQ(svc().add_on(sub.id, {"NOPE", 1}, std::nullopt, t.actor).error().code, "validation_failed");
  catalog::ProductInput euro{"Tea", "TEA-EUR", std::nullopt, Money{500, "eur"}, Json::object(), std::nullopt, false};
  ASSERT_TRUE(t.app->catalog().create_product(euro, t.actor).ok());
  EXPECT_EQ(svc().add_on(sub.id, {"TEA-EUR", 1}, std::nullopt, t.actor).error().code, "currency_mismatch");

  auto added = svc().add_on(sub.id, {"MUG-1", 2}, sub.version, t.actor);
  ASSERT_TRUE(added.ok()) << added.error().message;
  ASSERT_EQ(added->add_ons.size(), 1u);
  EXPECT_EQ(added->add_ons[0].product, product->id);
  EXPECT_EQ(added->add_ons[0].unit_amount, 900);
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM events WHERE resource_id = $1 AND type = 'subscription.add_on_added'", {sub.id}), 1);
  // One more, taken back before the box: off the subscription and off the next invoice.
  auto again = svc().add_on(sub.id, {"MUG-1", 1}, std::nullopt, t.actor);
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_EQ(again->add_ons.size(), 2u);
  const auto& extra = again->add_ons[1];
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE id = $1", {extra.invoice_item}), 1);
  auto removed = svc().remove_add_on(sub.id, extra.id, again->version, t.actor);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  ASSERT_EQ(removed->add_ons.size(), 1u);
  EXPECT_EQ(removed->add_ons[0].id, added->add_ons[0].id);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE id = $1", {extra.invoice_item}), 0);
  EXPECT_EQ(svc().remove_add_on(sub.id, extra.id, std::nullopt, t.actor).error().code, "add_on_not_found");
  // One whose charge is no longer among the pending items under its id (as when a plan
  // change invoiced every pending item at once) stays: it ships, and its charge is not lost.
  auto third = svc().add_on(sub.id, {"MUG-1", 1}, std::nullopt, t.actor);
  ASSERT_TRUE(third.ok()) << third.error().message;
  const auto invoiced = third->add_ons.back();
  auto moved = db::transact(t.app->database(), [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("UPDATE pending_invoice_items SET id = 'ii_elsewhere' WHERE id = $1", {invoiced.invoice_item}));
    return Ok{};
  });
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(svc().remove_add_on(sub.id, invoiced.id, std::nullopt, t.actor).error().code, "add_on_invoiced");
  EXPECT_EQ(reload(sub.id).add_ons.size(), 2u);
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM events WHERE resource_id = $1 AND type = 'subscription.add_on_removed'", {sub.id}),
      1);
  advance_to("2026-03-01T00:00:00Z");
  auto s = reload(sub.id);
  EXPECT_TRUE(s.add_ons.empty());
  auto invoices = t.app->billing().service.list_invoices({sub.id, std::nullopt, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(invoices.ok());
  ASSERT_EQ(invoices->items.size(), 2u);
  EXPECT_EQ(invoices->items[0].total, 2400 + 1800 + 900);  // the box and three mugs (not the one taken back)
  auto boxes = t.app->inventory().list_shipments({.subscription = sub.id, .page = {.limit = 10}});
  ASSERT_TRUE(boxes.ok());
  ASSERT_EQ(boxes->items.size(), 2u);
  const auto& renewal_box = boxes->items[0];
  EXPECT_EQ(renewal_box.period_seq, 2);
  bool mugs = false;
  for (const auto& item : renewal_box.items) mugs = mugs || (item.sku == "MUG-1" && item.quantity == 2);
  EXPECT_TRUE(mugs) << "the renewal's box ships the mugs";
  EXPECT_EQ(t.app->inventory().stock("MUG-1")->level.reserved, 3);
  // Shipped with its box: no longer on the subscription to take back.
  EXPECT_EQ(svc().remove_add_on(sub.id, added->add_ons[0].id, std::nullopt, t.actor).error().code, "add_on_not_found");
  // A subscription ending at period end has no box to add to.
  ASSERT_TRUE(svc().cancel(sub.id, {true, "moving", std::nullopt}, std::nullopt, t.actor).ok());
  EXPECT_EQ(svc().add_on(sub.id, {"MUG-1", 1}, std::nullopt, t.actor).error().code, "no_upcoming_box");
}

TEST_F(SubscriptionBoxesTest, APrepaidSubscriptionIsInvoicedOnceForItsBoxesWhichShipPaidOnTheSchedule) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  std::string customer = testing::make_customer_with(t, "pre@example.com", "pm_card_visa");
  subscriptions::CreateInput in{customer, plan.id};
  in.prepaid_deliveries = 3;
  auto created = svc().create(in, t.actor);
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_TRUE(created->prepaid);
  EXPECT_EQ(created->prepaid->remaining, 2);
  EXPECT_EQ(created->current_amount, 7200);
  const std::string id = created->id;
  auto paid = t.app->billing().runs.run("test");  // charges the one invoice
  ASSERT_TRUE(paid.ok()) << paid.error().message;
  // While prepaid boxes remain, the plan stays (no fair proration of a charge for three).
  subscriptions::ChangePlanInput change;
  change.quantity = 2;
  auto refused = svc().change_plan(id, change, std::nullopt, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "prepaid_deliveries_remaining");

  advance_to("2026-04-01T00:00:00Z");  // Feb 28 and Mar 31: the two boxes already paid for
  auto invoices = t.app->billing().service.list_invoices({id, std::nullopt, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(invoices.ok());
  ASSERT_EQ(invoices->items.size(), 1u);
  const auto& charge = invoices->items[0];
  EXPECT_EQ(charge.total, 7200);
  EXPECT_EQ(charge.status, billing::InvoiceStatus::kPaid);
  ASSERT_EQ(charge.lines.size(), 1u);
  EXPECT_EQ(charge.lines[0].description, "Box, 3 prepaid deliveries");
  EXPECT_EQ(charge.lines[0].quantity, 3);
  auto boxes = t.app->inventory().list_shipments({.subscription = id, .page = {.limit = 10}});
  ASSERT_TRUE(boxes.ok());
  ASSERT_EQ(boxes->items.size(), 3u);
  for (const auto& box : boxes->items) {
    EXPECT_TRUE(box.paid) << box.period_seq;
    EXPECT_EQ(box.invoice, charge.id) << box.period_seq;
  }
  // A paid prepaid box can be shipped: it is paid by the charge that covers it.
  auto shipped = t.app->inventory().move_shipment(boxes->items[0].id, inventory::ShipmentStatus::kShipped,
                                                  std::nullopt, std::nullopt, t.actor);
  ASSERT_TRUE(shipped.ok()) << shipped.error().message;
  EXPECT_EQ(reload(id).prepaid->remaining, 0);
  // The last prepaid box was paid by the charge: a change now has nothing of its own to credit.
  subscriptions::ChangePlanInput now_change;
  now_change.quantity = 2;
  EXPECT_EQ(svc().change_plan(id, now_change, std::nullopt, t.actor).error().code, "prepaid_deliveries_remaining");
  // The upcoming invoice is the next charge, for three again.
  auto upcoming = t.app->billing().upcoming.of_subscription(id);
  ASSERT_TRUE(upcoming.ok()) << upcoming.error().message;
  EXPECT_EQ(upcoming->total, 7200);
  EXPECT_EQ(format_rfc3339(upcoming->period.start), "2026-04-30T10:00:00Z");

  advance_to("2026-05-01T00:00:00Z");
  invoices = t.app->billing().service.list_invoices({id, std::nullopt, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(invoices.ok());
  ASSERT_EQ(invoices->items.size(), 2u);
  EXPECT_EQ(invoices->items[0].total, 7200);
  EXPECT_EQ(reload(id).prepaid->remaining, 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM shipments WHERE subscription_id = $1", {id}), 4);
}

TEST_F(SubscriptionBoxesTest, ATiersEntitlementsShipItsExtrasDiscountAddOnsAndRankItsPlanChanges) {
  catalog::ProductInput sample{"Sample",       "SAMPLE-1",   std::nullopt, Money{300, "usd"},
                               Json::object(), std::nullopt, true};
  ASSERT_TRUE(t.app->catalog().create_product(sample, t.actor).ok());
  ASSERT_TRUE(t.app->inventory().receive("SAMPLE-1", 10, std::nullopt, t.actor).ok());
  catalog::ProductInput mug{"Mug", "MUG-2", std::nullopt, Money{999, "usd"}, Json::object(), std::nullopt, false};
  ASSERT_TRUE(t.app->catalog().create_product(mug, t.actor).ok());
  auto& catalog = t.app->catalog();
  auto basic = catalog.create_tier({"Basic", 10, {}, Json::object()}, t.actor);
  ASSERT_TRUE(basic.ok()) << basic.error().message;
  auto deluxe = catalog.create_tier({"Deluxe", 30, {15, {{"SAMPLE-1", 1}}}, Json::object()}, t.actor);
  ASSERT_TRUE(deluxe.ok()) << deluxe.error().message;
  EXPECT_EQ(deluxe->entitlements.extras.at(0).product.rfind("prod_", 0), 0u);  // named by id once stored
  EXPECT_EQ(catalog.create_tier({"Clash", 30, {}, Json::object()}, t.actor).error().code, "tier_rank_taken");
  auto unknown = catalog.create_tier({"Nope", 40, {0, {{"NO-SUCH", 1}}}, Json::object()}, t.actor);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().fields.at(0).field, "entitlements.extras[0].product");

  auto on = [&](const catalog::Tier& tier, std::int64_t amount) {
    auto plan = testing::make_plan(t, amount, Interval::kMonth, 1, 0, tier.name);
    catalog::PlanPatch patch;
    patch.tier = tier.id;
    auto moved = catalog.update_plan(plan.id, patch, plan.version, t.actor);
    EXPECT_TRUE(moved.ok()) << moved.error().message;
    return *moved;
  };
  auto basic_plan = on(*basic, 2000);
  auto deluxe_plan = on(*deluxe, 4000);
  catalog::PlanPatch bad;
  bad.tier = std::string("tier_nope");
  EXPECT_EQ(catalog.update_plan(basic_plan.id, bad, basic_plan.version, t.actor).error().fields.at(0).field, "tier");
  EXPECT_EQ(catalog.delete_tier(deluxe->id, std::nullopt, t.actor).error().code, "tier_in_use");

  // Deluxe: the extra is in the box, times the quantity.
  auto sub = testing::subscribe(t, testing::make_customer(t).id, deluxe_plan.id, std::nullopt, 2);
  EXPECT_EQ(t.app->inventory().stock("SAMPLE-1")->level.reserved, 2);
  // 15 % off 3 × 999 = 2997: 449.55 off, rounded half up to 450.
  auto added = svc().add_on(sub.id, {"MUG-2", 3}, std::nullopt, t.actor);
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_EQ(added->add_ons.at(0).discount_percent, 15);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE subscription_id = $1 AND amount = 2547", {sub.id}),
            1);

  // Down to basic and back up: the ranks say which way, in the event and in analytics.
  t.clock->advance(86400);
  subscriptions::ChangePlanInput down;
  down.plan = basic_plan.id;
  ASSERT_TRUE(svc().change_plan(sub.id, down, std::nullopt, t.actor).ok());
  subscriptions::ChangePlanInput up;
  up.plan = deluxe_plan.id;
  ASSERT_TRUE(svc().change_plan(sub.id, up, std::nullopt, t.actor).ok());
  auto history = svc().history(sub.id, {.limit = 50});
  ASSERT_TRUE(history.ok());
  std::vector<std::string> directions;
  for (const auto& e : history->items)
    if (e.type == "subscription.plan_changed") directions.push_back(e.details.value("direction", ""));
  EXPECT_EQ(directions, (std::vector<std::string>{"downgrade", "upgrade"}));
  ASSERT_TRUE(
      catalog.delete_tier(catalog.create_tier({"Unused", 50, {}, Json::object()}, t.actor)->id, std::nullopt, t.actor)
          .ok());
}

TEST_F(SubscriptionBoxesTest, ABoxHoldsWhatTheCustomerChoseByTheCutOffElseWhatTheirPreferencesPick) {
  // Four options: two vegan, one spicy; the plain one is tracked and has no stock.
  auto product = [&](const char* name, const char* sku, std::vector<std::string> tags, bool tracked) {
    catalog::ProductInput in{name, sku, std::nullopt, Money{500, "usd"}, Json::object(), std::nullopt, tracked};
    in.tags = std::move(tags);
    auto made = t.app->catalog().create_product(in, t.actor);
    EXPECT_TRUE(made.ok()) << made.error().message;
    return made->id;
  };
  const std::string tofu = product("Tofu", "TOFU", {"vegan"}, false);
  const std::string chili = product("Chili", "CHILI", {"spicy"}, false);
  const std::string lentil = product("Lentils", "LENTIL", {"vegan"}, false);
  const std::string bread = product("Bread", "BREAD", {}, true);
  auto base = testing::make_plan(t, 2400, Interval::kMonth);
  catalog::PlanInput in{"Pantry", 3000, "usd", {Interval::kMonth, 1}};
  in.items = base.items;
  in.selection = catalog::Selection{2, {"TOFU", "CHILI", "LENTIL", "BREAD"}, 3, "preferences"};
  auto plan = t.app->catalog().create_plan(in, t.actor);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->selection->from, (std::vector<std::string>{tofu, chili, lentil, bread}));  // SKUs resolved
  in.selection->from = {"TOFU", "NOPE"};
  auto unknown = t.app->catalog().create_plan(in, t.actor);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().fields.at(0).field, "selection.from[1]");

  auto customer = testing::make_customer(t, "pantry@example.com");
  customers::CustomerPatch likes;
  likes.preferences = customers::Preferences{{"vegan"}, {"spicy"}};
  ASSERT_TRUE(t.app->customers().update(customer.id, likes, customer.version, t.actor).ok());
  auto sub = testing::subscribe(t, customer.id, plan->id);  // 2026-01-31, renews 02-28
  auto box_products = [&](std::int64_t seq) {
    std::set<std::string> out;
    auto boxes = t.app->inventory().list_shipments({.subscription = sub.id, .page = {.limit = 20}});
    EXPECT_TRUE(boxes.ok());
    for (const auto& b : boxes->items)
      if (b.period_seq == seq)
        for (const auto& i : b.items) out.insert(i.product + " x" + std::to_string(i.quantity));
    return out;
  };
  const std::string base_item = base.items[0].product + " x1";
  // The first box, chosen by nobody: the two vegan options, never the spicy one.
  EXPECT_EQ(box_products(1), (std::set<std::string>{base_item, tofu + " x1", lentil + " x1"}));

  auto boxes = svc().boxes(sub.id, 3);
  ASSERT_TRUE(boxes.ok()) << boxes.error().message;
  ASSERT_EQ(boxes->size(), 3u);
  const auto& next = (*boxes)[0];
  EXPECT_EQ(format_rfc3339(next.period.period.start), "2026-02-28T10:00:00Z");
  EXPECT_EQ(format_rfc3339(next.cutoff_at), "2026-02-25T10:00:00Z");
  EXPECT_TRUE(next.open);
  EXPECT_FALSE(next.chosen);
  ASSERT_EQ(next.options.size(), 4u);
  EXPECT_FALSE(next.options[3].available);  // no bread in stock
  EXPECT_TRUE(next.options[0].available);

  const Timestamp feb28 = next.period.period.start;
  auto choose = [&](Timestamp start, std::vector<catalog::PlanItem> items) {
    return svc().choose_box(sub.id, start, std::move(items), std::nullopt, t.actor);
  };
  // The rules: the options only, two units in all, an upcoming box, what is in stock.
  EXPECT_EQ(choose(feb28, {{"CHILI", 1}}).error().code, "validation_failed");
  EXPECT_EQ(choose(feb28, {{"CHILI", 1}, {base.items[0].product, 1}}).error().code, "validation_failed");
  EXPECT_EQ(choose(feb28 + 3600, {{"CHILI", 2}}).error().code, "invalid_period");
  auto short_stock = choose(feb28, {{"CHILI", 1}, {"BREAD", 1}});
  ASSERT_FALSE(short_stock.ok());
  EXPECT_EQ(short_stock.error().code, "out_of_stock");
  EXPECT_TRUE(reload(sub.id).choices.empty());  // nothing changed

  auto chosen = choose(feb28, {{"CHILI", 1}, {"TOFU", 1}});
  ASSERT_TRUE(chosen.ok()) << chosen.error().message;
  ASSERT_EQ(chosen->choices.size(), 1u);
  EXPECT_EQ(chosen->choices[0].items, (std::vector<catalog::PlanItem>{{chili, 1}, {tofu, 1}}));
  boxes = svc().boxes(sub.id, 1);
  EXPECT_TRUE((*boxes)[0].chosen);
  // A choice for the box after, then that box skipped: the choice goes with it.
  const Timestamp mar31 = (*svc().boxes(sub.id, 2))[1].period.period.start;
  ASSERT_TRUE(choose(mar31, {{"CHILI", 2}}).ok());
  ASSERT_TRUE(svc().skip(sub.id, mar31, std::nullopt, t.actor).ok());

  // After the cut-off the choice is closed.
  t.clock->set(feb28 - 2 * kSecondsPerDay);
  EXPECT_EQ(choose(feb28, {{"LENTIL", 2}}).error().code, "selection_closed");
  advance_to("2026-02-28T10:00:00Z");
  EXPECT_EQ(box_products(2), (std::set<std::string>{base_item, chili + " x1", tofu + " x1"}));
  advance_to("2026-04-30T10:00:00Z");  // March skipped; April picked again, not March's choice
  EXPECT_EQ(box_products(3), (std::set<std::string>{base_item, tofu + " x1", lentil + " x1"}));
  EXPECT_TRUE(reload(sub.id).choices.empty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE resource_id = $1 AND type = 'subscription.box_chosen'", {sub.id}),
            2);
}


TEST_F(SubscriptionBoxesTest, ATiersBoxSizeAddsUnitsToChooseAndToThePick) {
  auto option = [&](const char* sku) {
    catalog::ProductInput in{sku, sku, std::nullopt, Money{500, "usd"}, Json::object(), std::nullopt, false};
    auto made = t.app->catalog().create_product(in, t.actor);
    EXPECT_TRUE(made.ok()) << made.error().message;
    return made->id;
  };
  const std::string a = option("OPT-A"), b = option("OPT-B");
  catalog::TierInput deluxe{"Deluxe", 30};
  deluxe.entitlements.extra_choices = 2;
  auto tier = t.app->catalog().create_tier(deluxe, t.actor);
  ASSERT_TRUE(tier.ok()) << tier.error().message;
  EXPECT_EQ(catalog::to_json(*tier)["entitlements"]["extra_choices"], 2);
  catalog::PlanInput in{"Deluxe box", 3000, "usd", {Interval::kMonth, 1}};
  in.tier = tier->id;
  in.selection = catalog::Selection{1, {"OPT-A", "OPT-B"}, 3, "fixed"};
  auto plan = t.app->catalog().create_plan(in, t.actor);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  auto sub = testing::subscribe(t, testing::make_customer(t, "deluxe@example.com").id, plan->id);
  // The first box: 1 + 2 units, picked by the fixed rule (around the options again).
  auto first = t.app->inventory().list_shipments({.subscription = sub.id, .page = {.limit = 5}});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 1u);
  std::int64_t units = 0;
  for (const auto& item : first->items[0].items) units += item.quantity;
  EXPECT_EQ(units, 3);
  const Timestamp next = (*svc().boxes(sub.id, 1))[0].period.period.start;
  EXPECT_EQ(svc().choose_box(sub.id, next, {{a, 1}}, std::nullopt, t.actor).error().code, "validation_failed");
  auto chosen = svc().choose_box(sub.id, next, {{a, 1}, {b, 2}}, std::nullopt, t.actor);
  ASSERT_TRUE(chosen.ok()) << chosen.error().message;
  auto boxes = svc().boxes(sub.id, 2);
  ASSERT_TRUE(boxes.ok());
  std::int64_t picked = 0;
  for (const auto& item : (*boxes)[1].items) picked += item.quantity;
  EXPECT_EQ(picked, 3);  // the pick shown for the box after is the tier's size too
}

}  // namespace
}  // namespace recur::app
