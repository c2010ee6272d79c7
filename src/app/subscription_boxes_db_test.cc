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
  advance_to("2026-03-01T00:00:00Z");
  auto s = reload(sub.id);
  EXPECT_TRUE(s.add_ons.empty());
  auto invoices = t.app->billing().service.list_invoices({sub.id, std::nullopt, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(invoices.ok());
  ASSERT_EQ(invoices->items.size(), 2u);
  EXPECT_EQ(invoices->items[0].total, 2400 + 1800);  // the box and two mugs
  auto boxes = t.app->inventory().list_shipments({.subscription = sub.id, .page = {.limit = 10}});
  ASSERT_TRUE(boxes.ok());
  ASSERT_EQ(boxes->items.size(), 2u);
  const auto& renewal_box = boxes->items[0];
  EXPECT_EQ(renewal_box.period_seq, 2);
  bool mugs = false;
  for (const auto& item : renewal_box.items) mugs = mugs || (item.sku == "MUG-1" && item.quantity == 2);
  EXPECT_TRUE(mugs) << "the renewal's box ships the mugs";
  EXPECT_EQ(t.app->inventory().stock("MUG-1")->level.reserved, 2);
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

}  // namespace
}  // namespace recur::app
