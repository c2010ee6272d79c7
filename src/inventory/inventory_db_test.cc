// Inventory against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE): the
// ledger and levels agree, nobody is sold what is not there even under concurrency, every
// billed period reserves its box or backorders it, backorders fill first come first served,
// and a box knows its invoice and is marked paid in the transaction that pays it.
#include <gtest/gtest.h>

#include "testing/fixtures.h"

namespace recur::inventory {
namespace {
using testing::at;
using testing::TestApp;

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }
  InventoryService& inv() { return t.app->inventory(); }

  catalog::Product product(const std::string& sku, std::int64_t stock, std::optional<std::string> category = {},
                           std::int64_t price = 1000, bool tracked = true) {
    catalog::ProductInput in{sku + " beans", sku, std::nullopt, Money{price, "usd"}, Json::object(), category, tracked};
    auto p = t.app->catalog().create_product(in, t.actor);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    if (stock > 0) {
      EXPECT_TRUE(inv().receive(sku, stock, std::nullopt, t.actor).ok());
    }
    return *p;
  }
  catalog::Plan plan(const std::vector<catalog::PlanItem>& items, std::int64_t amount = 3000) {
    auto p = t.app->catalog().create_plan(
        {"Monthly box", amount, "usd", {Interval::kMonth, 1}, 0, std::nullopt, items, Json::object()}, t.actor);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return *p;
  }
  Result<subscriptions::Subscription> subscribe(const std::string& plan_id, std::int64_t quantity = 1,
                                                std::optional<Timestamp> start = std::nullopt) {
    auto c = testing::make_customer(t, "c" + std::to_string(++customers_) + "@example.com");
    return t.app->subscriptions().create({c.id, plan_id, quantity, start, std::nullopt, Json::object()}, t.actor);
  }
  StockView stock(const std::string& sku) { return *inv().stock(sku); }
  std::vector<Shipment> shipments(const std::string& sub) {
    ShipmentFilter q;
    q.subscription = sub;
    q.page.limit = 100;
    return inv().list_shipments(q)->items;  // newest first
  }
  void renew_at(const char* when) {
    t.clock->set(at(when));
    auto r = t.app->run_billing("test");
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query(sql, params);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows->at(0).int64(0);
  }
  // The object (`after`) of the one event of `type` about `resource`.
  Json event_object(const std::string& type, const std::string& resource) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query("SELECT payload FROM events WHERE type = $1 AND resource_id = $2", {type, resource});
    EXPECT_TRUE(rows.ok() && rows->size() == 1) << type;
    return rows.ok() && rows->size() == 1 ? Json::parse(rows->at(0).text(0)).at("after") : Json();
  }
  // The stored level agrees with the ledger's sums (levels can be rebuilt from it).
  void expect_ledger_agrees(const std::string& sku) {
    auto sums = inv().ledger_sums(sku);
    ASSERT_TRUE(sums.ok());
    auto level = stock(sku).level;
    EXPECT_EQ(sums->on_hand, level.on_hand) << sku;
    EXPECT_EQ(sums->reserved, level.reserved) << sku;
  }

  // Shipments carrying `invoice` and paid (or not), newest first.
  std::vector<std::string> shipment_ids(std::optional<std::string> invoice, std::optional<bool> paid) {
    ShipmentFilter q{.invoice = std::move(invoice), .paid = paid, .page = {.limit = 100}};
    auto page = inv().list_shipments(q);
    EXPECT_TRUE(page.ok()) << page.error().message;
    std::vector<std::string> ids;
    for (const auto& s : page->items) ids.push_back(s.id);
    return ids;
  }
  // The invoice of the subscription's first billed period.
  billing::Invoice first_invoice(const std::string& sub) {
    auto page = t.app->billing().service.list_invoices({sub, std::nullopt, std::nullopt, {}, {.limit = 100}});
    EXPECT_TRUE(page.ok() && !page->items.empty());
    return page->items.back();
  }
  // Every shipment's invoice and paid flag, in its document and in its columns, are what
  // billing's invoices say now: the invoice of the same period, paid when it is (or none).
  void expect_paid_agrees_with_billing() {
    auto all = inv().list_shipments({.page = {.limit = 100}});
    ASSERT_TRUE(all.ok());
    for (const auto& s : all->items) {
      auto tx = t.app->database().begin(db::TxMode::kReadOnly);
      auto rows = (*tx)->query("SELECT i.id, i.status, s.invoice_id, s.paid FROM shipments s LEFT JOIN invoices i"
                               " ON i.subscription_id = s.subscription_id AND i.period_seq = s.period_seq"
                               " WHERE s.id = $1",
                               {s.id});
      ASSERT_TRUE(rows.ok() && rows->size() == 1) << s.id;
      const auto& row = rows->at(0);
      EXPECT_EQ(s.invoice, row.opt_text(0)) << s.id;
      EXPECT_EQ(s.paid, row.is_null(0) || row.text(1) == "paid") << s.id;
      EXPECT_EQ(row.opt_text(2), row.opt_text(0)) << s.id;
      EXPECT_EQ(row.boolean(3), s.paid) << s.id;
    }
  }

  TestApp t;
  int customers_ = 0;
};

TEST_F(InventoryTest, AdjustmentsAndReceiptsMoveStockThroughTheLedgerAndNegativeOnHandIsRefused) {
  product("BEAN-1", 10);
  ASSERT_TRUE(inv().adjust("BEAN-1", -3, "damaged in transit", t.actor).ok());
  auto refused = inv().adjust("BEAN-1", -8, "count correction", t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "insufficient_stock");
  auto s = stock("BEAN-1");
  EXPECT_EQ(s.level.on_hand, 7);
  EXPECT_EQ(s.level.available(), 7);
  auto moves = inv().movements("BEAN-1", {}, {.limit = 10});
  ASSERT_TRUE(moves.ok());
  ASSERT_EQ(moves->items.size(), 2u);  // the refused one left no trace
  EXPECT_EQ(moves->items[0].kind, MovementKind::kAdjustment);
  EXPECT_EQ(moves->items[0].on_hand_delta, -3);
  EXPECT_EQ(*moves->items[0].reason, "damaged in transit");
  EXPECT_EQ(moves->items[1].kind, MovementKind::kReceipt);
  expect_ledger_agrees("BEAN-1");
  EXPECT_EQ(inv().adjust("NOPE", 1, "x", t.actor).error().code, "sku_not_found");
}

TEST_F(InventoryTest, SubscribingReservesTheFirstBoxAndUntrackedProductsNeverBlock) {
  auto beans = product("BEAN-1", 5);
  auto mug = product("MUG-1", 0, std::nullopt, 500, false);  // not tracked, no stock at all
  auto p = plan({{beans.id, 2}, {mug.id, 1}});
  auto sub = subscribe(p.id);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  auto boxes = shipments(sub->id);
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].status, ShipmentStatus::kPending);
  EXPECT_EQ(boxes[0].items.size(), 2u);
  auto s = stock("BEAN-1");
  EXPECT_EQ(s.level.on_hand, 5);
  EXPECT_EQ(s.level.reserved, 2);
  EXPECT_EQ(s.level.available(), 3);
  expect_ledger_agrees("BEAN-1");
}

TEST_F(InventoryTest, OutOfStockRefusesTheSubscriptionNamingSkusAndAlternativesAndChangesNothing) {
  auto beans = product("BEAN-1", 1, "coffee", 1000);
  product("BEAN-2", 10, "coffee", 1100);            // similar price, in stock: offered
  product("BEAN-3", 10, "coffee", 5000);            // too expensive: not offered
  product("TEA-1", 10, "tea", 1000);                // another category: not offered
  auto p = plan({{beans.id, 2}});
  auto before_subs = count("SELECT COUNT(*) FROM subscriptions");
  auto before_invoices = count("SELECT COUNT(*) FROM invoices");
  auto refused = subscribe(p.id);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "out_of_stock");
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  auto extra = Json::parse(refused.error().extra_json);
  EXPECT_EQ(extra.at("skus"), Json::array({"BEAN-1"}));
  ASSERT_EQ(extra.at("alternatives").size(), 1u);
  EXPECT_EQ(extra["alternatives"][0]["name"], "BEAN-2 beans");
  EXPECT_EQ(extra["alternatives"][0]["available"], 10);
  EXPECT_EQ(extra["alternatives"][0]["amount"], 1100);
  EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions"), before_subs);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices"), before_invoices);
  EXPECT_EQ(stock("BEAN-1").level.reserved, 0);
  // The availability endpoint gives the same answer without subscribing.
  auto answer = inv().availability(beans.id, 2, std::nullopt);
  ASSERT_TRUE(answer.ok());
  EXPECT_FALSE(answer->availability.can_fulfill);
  EXPECT_EQ(answer->availability.available, 1);
  EXPECT_EQ(answer->alternatives.size(), 1u);
}

TEST_F(InventoryTest, ConcurrentSubscribersForFewerUnitsGetExactlyAsManySuccesses) {
  auto beans = product("BEAN-1", 5);
  auto p = plan({{beans.id, 1}});
  std::vector<customers::Customer> people;
  for (int i = 0; i < 12; ++i) people.push_back(testing::make_customer(t, "p" + std::to_string(i) + "@example.com"));
  auto outcomes = testing::race(12, [&](int i) {
    auto s = t.app->subscriptions().create({people[i].id, p.id, 1, std::nullopt, std::nullopt, Json::object()}, t.actor);
    return s.ok() ? std::string("ok") : s.error().code;
  });
  EXPECT_EQ(testing::tally(outcomes), (std::map<std::string, int>{{"ok", 5}, {"out_of_stock", 7}}));
  auto s = stock("BEAN-1");
  EXPECT_EQ(s.level.reserved, 5);
  EXPECT_EQ(s.level.available(), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM shipments"), 5);
  expect_ledger_agrees("BEAN-1");
}

TEST_F(InventoryTest, ARenewalShortOfStockIsBackorderedAndTheCustomerIsToldThenRestockFillsFirstComeFirstServed) {
  auto beans = product("BEAN-1", 3);
  auto p = plan({{beans.id, 1}});
  auto first = *subscribe(p.id);                                          // reserves 1
  t.clock->set(at("2026-02-10T10:00:00Z"));
  auto second = *subscribe(p.id);                                         // reserves 1
  ASSERT_TRUE(inv().adjust("BEAN-1", -1, "broken bag", t.actor).ok());    // 0 free now
  renew_at("2026-02-28T10:00:00Z");  // the first one renews: short
  auto a = shipments(first.id);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].status, ShipmentStatus::kBackordered);
  EXPECT_EQ(a[0].items[0].short_by(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'backorder_delay' AND resource_id = $1",
                  {a[0].id}),
            1);
  renew_at("2026-03-10T10:00:00Z");  // then the second one: short too, and later in line
  auto b = shipments(second.id);
  ASSERT_EQ(b[0].status, ShipmentStatus::kBackordered);
  // One unit comes back: it goes to the earlier backorder only.
  ASSERT_TRUE(inv().receive("BEAN-1", 1, std::nullopt, t.actor).ok());
  EXPECT_EQ(shipments(first.id)[0].status, ShipmentStatus::kPending);
  EXPECT_EQ(shipments(second.id)[0].status, ShipmentStatus::kBackordered);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'backorder_filled' AND resource_id = $1",
                  {a[0].id}),
            1);
  ASSERT_TRUE(inv().receive("BEAN-1", 4, std::nullopt, t.actor).ok());
  EXPECT_EQ(shipments(second.id)[0].status, ShipmentStatus::kPending);
  auto s = stock("BEAN-1");
  EXPECT_EQ(s.level.reserved, 4);  // four boxes, one unit each, none shipped yet
  EXPECT_EQ(s.level.available(), 3);
  expect_ledger_agrees("BEAN-1");
}

TEST_F(InventoryTest, ShippingTakesStockOffTheShelfAndCancellingGivesItBack) {
  auto beans = product("BEAN-1", 4);
  auto p = plan({{beans.id, 2}});
  auto a = *subscribe(p.id);
  auto b = *subscribe(p.id);
  auto box_a = shipments(a.id)[0];
  auto box_b = shipments(b.id)[0];
  auto refused = inv().move_shipment(box_a.id, ShipmentStatus::kDelivered, std::nullopt, std::nullopt, t.actor);
  EXPECT_EQ(refused.error().code, "invalid_shipment_transition");
  // A box is made ready only once its invoice is paid: a first card pays at once.
  auto unpaid = inv().move_shipment(box_a.id, ShipmentStatus::kReady, std::nullopt, std::nullopt, t.actor);
  EXPECT_EQ(unpaid.error().code, "period_unpaid");
  ASSERT_TRUE(t.app->customers().attach_payment_method(a.customer, {std::string("sandbox"), "pm_card_visa", false},
                                                       t.actor).ok());
  ASSERT_TRUE(inv().move_shipment(box_a.id, ShipmentStatus::kReady, std::nullopt, std::nullopt, t.actor).ok());
  auto shipped = inv().move_shipment(box_a.id, ShipmentStatus::kShipped, "1Z999", std::nullopt, t.actor);
  ASSERT_TRUE(shipped.ok()) << shipped.error().message;
  EXPECT_EQ(*shipped->tracking_number, "1Z999");
  ASSERT_TRUE(inv().move_shipment(box_b.id, ShipmentStatus::kCanceled, std::nullopt, std::nullopt, t.actor).ok());
  auto s = stock("BEAN-1");
  EXPECT_EQ(s.level.on_hand, 2);
  EXPECT_EQ(s.level.reserved, 0);
  auto stale = inv().move_shipment(box_a.id, ShipmentStatus::kDelivered, std::nullopt, 1, t.actor);
  EXPECT_EQ(stale.error().code, "version_conflict");
  expect_ledger_agrees("BEAN-1");
}

TEST_F(InventoryTest, BackorderChoicesSwapSkipAndCancelItemReleaseStockAndCreditTheNextInvoice) {
  auto beans = product("BEAN-1", 3, "coffee", 1000);
  auto other = product("BEAN-2", 5, "coffee", 1000);
  auto mug = product("MUG-1", 10, std::nullopt, 500);
  auto p = plan({{beans.id, 1}, {mug.id, 1}}, 3000);
  auto s1 = *subscribe(p.id);
  auto s2 = *subscribe(p.id);
  auto s3 = *subscribe(p.id);  // BEAN-1 is all reserved now
  renew_at("2026-02-28T10:00:00Z");
  auto box1 = shipments(s1.id)[0], box2 = shipments(s2.id)[0], box3 = shipments(s3.id)[0];
  for (const auto& b : {box1, box2, box3}) ASSERT_EQ(b.status, ShipmentStatus::kBackordered) << b.id;

  // Swap: BEAN-2 instead, reserved at once; the box is complete. The item and its
  // replacement may be named by SKU as well as by id.
  auto swapped = inv().choose(box1.id, {BackorderChoice::kSwap, std::string("BEAN-1"), std::string("BEAN-2")}, t.actor);
  ASSERT_TRUE(swapped.ok()) << swapped.error().message;
  EXPECT_EQ(swapped->status, ShipmentStatus::kPending);
  EXPECT_EQ(swapped->items[0].product, other.id);
  EXPECT_EQ(*swapped->items[0].swapped_from, beans.id);
  EXPECT_EQ(stock("BEAN-2").level.reserved, 1);

  // Cancel the item: the mug still ships; half the units' share is credited.
  auto trimmed = inv().choose(box2.id, {BackorderChoice::kCancelItem, beans.id, std::nullopt}, t.actor);
  ASSERT_TRUE(trimmed.ok()) << trimmed.error().message;
  EXPECT_EQ(trimmed->status, ShipmentStatus::kPending);
  EXPECT_EQ(trimmed->items.size(), 1u);
  EXPECT_EQ(trimmed->value, 1500);

  // Skip: the box is canceled, its mug released, and the whole box credited.
  auto skipped = inv().choose(box3.id, {BackorderChoice::kSkip, std::nullopt, std::nullopt}, t.actor);
  ASSERT_TRUE(skipped.ok()) << skipped.error().message;
  EXPECT_EQ(skipped->status, ShipmentStatus::kCanceled);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE subscription_id = $1 AND amount = -3000", {s3.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE subscription_id = $1 AND amount = -1500", {s2.id}), 1);
  EXPECT_EQ(stock("MUG-1").level.reserved, 5);  // 3 first boxes + 2 renewals still shipping
  // A choice on a box that is no longer backordered is refused.
  auto again = inv().choose(box3.id, {BackorderChoice::kWait, std::nullopt, std::nullopt}, t.actor);
  EXPECT_EQ(again.error().code, "shipment_not_backordered");
  // The credits land on the next invoices.
  renew_at("2026-03-31T10:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE subscription_id IN ($1, $2)", {s2.id, s3.id}), 0);
  for (const char* sku : {"BEAN-1", "BEAN-2", "MUG-1"}) expect_ledger_agrees(sku);
}

TEST_F(InventoryTest, LowStockAlertsOncePerCrossingByEmailAndEvent) {
  auto beans = product("BEAN-1", 10);
  ASSERT_TRUE(inv().update_settings("BEAN-1", {3, std::optional<std::string>("vendor@roaster.example")}, t.actor).ok());
  auto alerts = [&] {
    return count("SELECT COUNT(*) FROM notifications WHERE template = 'inventory_low' AND resource_id = $1", {beans.id});
  };
  auto low_events = [&] { return count("SELECT COUNT(*) FROM events WHERE type = 'inventory.low'"); };
  ASSERT_TRUE(inv().adjust("BEAN-1", -6, "count", t.actor).ok());  // 4: not low
  EXPECT_EQ(alerts(), 0);
  ASSERT_TRUE(inv().adjust("BEAN-1", -1, "count", t.actor).ok());  // 3: low
  EXPECT_EQ(event_object("inventory.low", beans.id), to_json(stock("BEAN-1")));  // the item as GET shows it
  ASSERT_TRUE(inv().adjust("BEAN-1", -1, "count", t.actor).ok());  // 2: still the same crossing
  EXPECT_EQ(alerts(), 1);  // the vendor contact (no operator address configured in tests)
  EXPECT_EQ(low_events(), 1);
  EXPECT_TRUE(stock("BEAN-1").level.low_alerted);
  ASSERT_TRUE(inv().receive("BEAN-1", 10, std::nullopt, t.actor).ok());  // 12: recovered
  EXPECT_EQ(event_object("inventory.restocked", beans.id), to_json(stock("BEAN-1")));
  ASSERT_TRUE(inv().adjust("BEAN-1", -10, "count", t.actor).ok());       // 2: a new crossing
  EXPECT_EQ(alerts(), 2);
  EXPECT_EQ(low_events(), 2);
}

TEST_F(InventoryTest, AvailabilityComesFromACacheThatEveryMovementInvalidates) {
  auto beans = product("BEAN-1", 2);
  auto first = inv().availability(beans.id, 2, std::nullopt);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->availability.can_fulfill);
  ASSERT_TRUE(inv().cache().get(beans.id).has_value());  // answered once: cached
  ASSERT_TRUE(inv().adjust("BEAN-1", -1, "count", t.actor).ok());
  EXPECT_FALSE(inv().cache().get(beans.id).has_value());  // a movement drops it
  auto second = inv().availability(beans.id, 2, std::nullopt);
  EXPECT_FALSE(second->availability.can_fulfill);
  EXPECT_EQ(second->availability.available, 1);
  // A product change (here: no longer tracked) drops it too.
  auto p = *t.app->catalog().get_product(beans.id);
  catalog::ProductPatch patch;
  patch.track_inventory = false;
  ASSERT_TRUE(t.app->catalog().update_product(beans.id, patch, p.version, t.actor).ok());
  auto third = inv().availability(beans.id, 2, std::nullopt);
  EXPECT_TRUE(third->availability.can_fulfill);
  EXPECT_FALSE(third->availability.tracked);
  // A snapshot read before an invalidation is never cached after it.
  auto read_at = inv().cache().generation();
  StockSnapshot stale;
  stale.product = "prod_stale";
  inv().cache().invalidate("prod_other");
  inv().cache().put_if_current(stale, read_at);
  EXPECT_FALSE(inv().cache().get("prod_stale").has_value());
  inv().cache().put_if_current(stale, inv().cache().generation());
  EXPECT_TRUE(inv().cache().get("prod_stale").has_value());
}

TEST_F(InventoryTest, AFutureStartIsRefusedWhenStockExpectedByThenCannotCoverIt) {
  auto beans = product("BEAN-1", 1);
  auto p = plan({{beans.id, 2}});
  auto refused = subscribe(p.id, 1, at("2026-03-01T00:00:00Z"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "out_of_stock");
  ASSERT_TRUE(inv().receive("BEAN-1", 1, std::nullopt, t.actor).ok());
  auto later = subscribe(p.id, 1, at("2026-03-01T00:00:00Z"));
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_TRUE(shipments(later->id).empty());  // reserved when its first period begins
  renew_at("2026-03-01T00:00:00Z");
  auto boxes = shipments(later->id);
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].status, ShipmentStatus::kPending);
  EXPECT_EQ(stock("BEAN-1").level.reserved, 2);
}

TEST_F(InventoryTest, ASubscriptionCanceledForNonPaymentGivesItsUnpaidBoxBackButAPaidBoxStillShips) {
  auto beans = product("BEAN-1", 4);
  auto p = plan({{beans.id, 1}});
  auto payer = *subscribe(p.id);
  ASSERT_TRUE(t.app->customers().attach_payment_method(payer.customer, {std::string("sandbox"), "pm_card_visa", false},
                                                       t.actor).ok());
  auto decliner = *subscribe(p.id);
  ASSERT_TRUE(t.app->customers().attach_payment_method(decliner.customer,
                                                       {std::string("sandbox"), "pm_card_chargeDeclined", false},
                                                       t.actor).ok());
  EXPECT_EQ(stock("BEAN-1").level.reserved, 2);
  // Dunning runs out (1, 3, 5, 7 days) and cancels the decliner.
  for (const char* day : {"2026-02-01T10:00:00Z", "2026-02-02T10:00:00Z", "2026-02-03T10:00:00Z",
                          "2026-02-05T10:00:00Z", "2026-02-07T10:00:00Z"})
    renew_at(day);
  ASSERT_EQ(t.app->subscriptions().get(decliner.id)->status, subscriptions::Status::kCanceled);
  EXPECT_EQ(shipments(decliner.id)[0].status, ShipmentStatus::kCanceled);
  EXPECT_EQ(shipments(payer.id)[0].status, ShipmentStatus::kPending);
  // The payer cancels at once: their paid box still ships.
  ASSERT_TRUE(t.app->subscriptions().cancel(payer.id, {false, "too_expensive", std::nullopt}, std::nullopt, t.actor).ok());
  EXPECT_EQ(shipments(payer.id)[0].status, ShipmentStatus::kPending);
  EXPECT_TRUE(shipments(payer.id)[0].paid);
  EXPECT_FALSE(shipments(decliner.id)[0].paid);
  EXPECT_EQ(stock("BEAN-1").level.reserved, 1);
  expect_ledger_agrees("BEAN-1");
  expect_paid_agrees_with_billing();
}

TEST_F(InventoryTest, AShipmentCarriesItsInvoiceAndBecomesPaidInTheTransactionThatPaysIt) {
  auto beans = product("BEAN-1", 5);
  auto p = plan({{beans.id, 1}});
  auto sub = *subscribe(p.id);  // no payment method yet: the first invoice stays open
  auto invoice = first_invoice(sub.id);
  ASSERT_EQ(invoice.status, billing::InvoiceStatus::kOpen);
  auto box = shipments(sub.id).at(0);
  EXPECT_EQ(box.invoice, invoice.id);
  EXPECT_FALSE(box.paid);
  EXPECT_EQ(box.version, 1);
  EXPECT_EQ(to_json(box).at("invoice"), invoice.id);
  EXPECT_EQ(to_json(box).at("paid"), false);

  // The card's first charge is made but its answer is lost: the payment stays pending.
  auto& sandbox = *dynamic_cast<gateways::SandboxGateway*>(t.app->gateways().find("sandbox"));
  sandbox.set_faults({0, 1.0, 0, 7});
  ASSERT_TRUE(t.app->customers().attach_payment_method(sub.customer, {std::string("sandbox"), "pm_card_visa", false},
                                                       t.actor).ok());
  sandbox.set_faults({});
  auto payments = t.app->billing().service.list_payments({invoice.id, std::nullopt, {"pending"}, {.limit = 10}});
  ASSERT_TRUE(payments.ok());
  ASSERT_EQ(payments->items.size(), 1u);
  EXPECT_FALSE(shipments(sub.id).at(0).paid);

  // Settling it pays the box in the same transaction: seen inside it, gone with its rollback.
  auto rolled_back = db::transact(t.app->database(), [&](db::Tx& tx) -> recur::Status {
    auto settled = t.app->billing().collector.settle_payment(
        tx, invoice.id, payments->items[0].id, {gateways::Outcome::kSucceeded, "ch_test", "", ""}, t.clock->now());
    EXPECT_TRUE(settled.ok());
    auto inside = find_shipment(tx, box.id, false);
    EXPECT_TRUE(inside.ok() && *inside);
    EXPECT_TRUE((*inside)->paid);
    EXPECT_EQ((*inside)->version, 2);
    return Error::internal("roll the payment back");
  });
  ASSERT_FALSE(rolled_back.ok());
  EXPECT_FALSE(shipments(sub.id).at(0).paid);
  EXPECT_EQ(shipments(sub.id).at(0).version, 1);
  EXPECT_EQ(first_invoice(sub.id).status, billing::InvoiceStatus::kOpen);
  EXPECT_EQ(shipment_ids(std::nullopt, true), std::vector<std::string>{});
  EXPECT_EQ(shipment_ids(std::nullopt, false), std::vector<std::string>{box.id});

  // The next run asks the gateway again (same key) and records the payment: the box is paid.
  renew_at("2026-01-31T10:10:00Z");
  ASSERT_EQ(first_invoice(sub.id).status, billing::InvoiceStatus::kPaid);
  auto paid = shipments(sub.id).at(0);
  EXPECT_TRUE(paid.paid);
  EXPECT_EQ(paid.version, 2);
  EXPECT_EQ(paid.updated, at("2026-01-31T10:10:00Z"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'shipment.paid' AND resource_id = $1", {box.id}), 1);
  EXPECT_EQ(shipment_ids(std::nullopt, true), std::vector<std::string>{box.id});
  EXPECT_EQ(shipment_ids(invoice.id, std::nullopt), std::vector<std::string>{box.id});
  EXPECT_EQ(shipment_ids(invoice.id, false), std::vector<std::string>{});
  // It ships now; a full refund leaves the invoice, and so the box, paid.
  ASSERT_TRUE(inv().move_shipment(box.id, ShipmentStatus::kReady, std::nullopt, std::nullopt, t.actor).ok());
  auto refund = t.app->billing().refunds.refund({.invoice = invoice.id}, t.actor);
  ASSERT_TRUE(refund.ok()) << refund.error().message;
  EXPECT_TRUE(shipments(sub.id).at(0).paid);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'shipment.paid'"), 1);
  expect_paid_agrees_with_billing();
}

TEST_F(InventoryTest, ListsFilterShipmentsByInvoiceAndPaidAndAZeroPeriodIsPaidFromTheStart) {
  auto beans = product("BEAN-1", 10);
  auto free_box = plan({{beans.id, 1}}, 0);  // nothing to pay: the invoice is paid when issued
  auto paid_box = plan({{beans.id, 1}}, 3000);
  auto trial = t.app->catalog().create_plan(
      {"Trial box", 3000, "usd", {Interval::kMonth, 1}, 7, std::nullopt, {{beans.id, 1}}, Json::object()}, t.actor);
  ASSERT_TRUE(trial.ok()) << trial.error().message;
  auto gift = *subscribe(free_box.id);
  auto owing = *subscribe(paid_box.id);
  auto trying = *subscribe(trial->id);
  auto gift_box = shipments(gift.id).at(0);
  auto owing_box = shipments(owing.id).at(0);
  EXPECT_EQ(gift_box.invoice, first_invoice(gift.id).id);
  EXPECT_EQ(first_invoice(gift.id).status, billing::InvoiceStatus::kPaid);
  EXPECT_TRUE(gift_box.paid);
  EXPECT_EQ(gift_box.version, 1);  // paid when made: no change, no shipment.paid event
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'shipment.paid'"), 0);
  EXPECT_FALSE(owing_box.paid);
  EXPECT_TRUE(shipments(trying.id).empty());  // a trial period is neither invoiced nor shipped

  EXPECT_EQ(shipment_ids(std::nullopt, true), std::vector<std::string>{gift_box.id});
  EXPECT_EQ(shipment_ids(std::nullopt, false), std::vector<std::string>{owing_box.id});
  EXPECT_EQ(shipment_ids(*owing_box.invoice, std::nullopt), std::vector<std::string>{owing_box.id});
  EXPECT_EQ(shipment_ids(*owing_box.invoice, true), std::vector<std::string>{});
  EXPECT_EQ(shipment_ids(std::string("in_none"), std::nullopt), std::vector<std::string>{});
  // The paid filter keeps paging by id: the second page of paid=false is empty.
  auto page = inv().list_shipments({.paid = false, .page = {.limit = 1, .starting_after = owing_box.id}});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());

  // Voiding the unpaid invoice leaves its box unpaid (it does not ship).
  ASSERT_TRUE(t.app->billing().service.void_invoice(*owing_box.invoice, t.actor).ok());
  EXPECT_FALSE(shipments(owing.id).at(0).paid);
  EXPECT_EQ(shipments(owing.id).at(0).version, 1);
  // The trial ends: its first box has an invoice, open until paid.
  renew_at("2026-02-07T10:00:00Z");
  auto after_trial = shipments(trying.id);
  ASSERT_EQ(after_trial.size(), 1u);
  EXPECT_EQ(after_trial[0].invoice, first_invoice(trying.id).id);
  EXPECT_FALSE(after_trial[0].paid);
  EXPECT_EQ(shipment_ids(std::nullopt, false), (std::vector<std::string>{after_trial[0].id, owing_box.id}));
  expect_paid_agrees_with_billing();
}

}  // namespace
}  // namespace recur::inventory
