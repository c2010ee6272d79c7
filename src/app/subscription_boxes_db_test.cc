// Box features that cross modules (issue 18): an add-on is the subscription's, charged by
// billing on the next invoice and shipped by inventory in the next box.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace recur::app
