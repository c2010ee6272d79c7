// Purchasing against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE):
// suppliers, gapless purchase order numbers, the status machine, receipts refused with
// nothing changed, and automatic reordering once per need, also from two nodes at once.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "inventory/purchasing.h"
#include "testing/fixtures.h"

namespace recur::inventory {
namespace {

using testing::at;
using testing::TestApp;


// Demand of a product per day, as a fixed rate: the forecast is injected so these tests
// check the ordering rules alone (the forecast has its own tests).
struct FixedDemand {
  std::map<std::string, double> per_day;
  double stddev = 0;
  std::function<void()> on_first_call;  // runs while the first call is answered
  std::atomic<int> calls = 0;           // how many times the forecast was asked (two runs may ask at once)
  DemandForecast fn() {
    return [this](db::Tx&, Timestamp from,
                  const std::vector<LeadTimeWindow>& windows) -> Result<std::vector<LeadTimeDemand>> {
      if (++calls == 1 && on_first_call) on_first_call();
      std::vector<LeadTimeDemand> out;
      for (const auto& w : windows) {
        auto it = per_day.find(w.product);
        double rate = it == per_day.end() ? 0 : it->second;
        auto over = [&](Timestamp to) {
          return Demand{rate * static_cast<double>(to - from) / kSecondsPerDay, stddev};
        };
        out.push_back({over(w.lead_end), over(w.review_end)});
      }
      return out;
    };
  }
};

// Stands in for inventory::apply_movement: records what would go on hand.
struct RecordingIntake {
  std::mutex mu;
  std::vector<Movement> movements;
  bool accept = true;
  StockIntake fn() {
    return [this](db::Tx&, const Movement& m) -> Result<bool> {
      std::lock_guard lock(mu);
      if (accept) movements.push_back(m);
      return accept;
    };
  }
};

class PurchasingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-02T00:00:00Z"));
    svc = make_service(*t.app);
  }

  std::unique_ptr<PurchasingService> make_service(app::App& app) {
    PurchasingOptions options;
    options.ops_email = "ops@example.com";
    return std::make_unique<PurchasingService>(app.database(), app.clock(), app.ids(), app.notifications(), options,
                                               demand.fn(), intake.fn());
  }

  std::string tracked_product(const std::string& sku, bool tracked = true) {
    catalog::ProductInput in;
    in.name = "Product " + sku;
    in.sku = sku;
    in.track_inventory = tracked;
    auto p = t.app->catalog().create_product(in, t.actor);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return p->id;
  }

  Supplier make_supplier(const std::vector<std::string>& products, std::int64_t lead = 10, std::int64_t moq = 1,
                         std::int64_t pack = 1, bool automatic = false) {
    SupplierInput in;
    in.name = "Acme";
    in.email = "orders@acme.example";
    in.webhook_url = "https://acme.example/hooks/po";
    in.lead_time_days = lead;
    in.minimum_order_quantity = moq;
    in.pack_size = pack;
    in.automatic = automatic;
    for (const auto& p : products) in.products.push_back({p, 450, "usd"});
    auto s = svc->create_supplier(in, t.actor);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return *s;
  }

  PurchaseOrder draft(const std::string& supplier, const std::string& product, std::int64_t quantity) {
    auto o = svc->create_purchase_order({supplier, {{product, quantity, std::nullopt}}, Json::object()}, t.actor);
    EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.error().message);
    return *o;
  }

  PurchaseOrder sent(const std::string& supplier, const std::string& product, std::int64_t quantity) {
    auto o = svc->send_purchase_order(draft(supplier, product, quantity).id, t.actor);
    EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.error().message);
    return *o;
  }

  void stock(const std::string& product, std::int64_t on_hand, std::int64_t reserved = 0) {
    auto done = db::transact(t.app->database(), [&](db::Tx& tx) -> Status {
      RECUR_TRY(tx.exec("INSERT INTO stock_levels (product_id, warehouse, on_hand, reserved, low_stock_threshold,"
                        " low_alerted, version, updated_at, doc) VALUES ($1, 'main', $2, $3, 0, 0, 1, 0, '{}')",
                        {product, on_hand, reserved}));
      return Ok{};
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
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

  std::int64_t next_number() {
    return count("SELECT next_value FROM invoice_numbers WHERE name = 'purchase_order'");
  }

  std::vector<PurchaseOrder> orders(std::optional<std::string> status = std::nullopt) {
    PurchaseOrderFilter filter{{}, std::nullopt, {.limit = 100}};
    if (status) filter.statuses.push_back(*status);
    auto page = svc->list_purchase_orders(filter);
    EXPECT_TRUE(page.ok());
    return page->items;
  }

  ReorderReport reorder() {
    auto r = svc->reorder(t.clock->now());
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    EXPECT_EQ(r->errors, 0) << r->first_error;
    return r.ok() ? *r : ReorderReport{};
  }

  TestApp t;
  FixedDemand demand;
  RecordingIntake intake;
  std::unique_ptr<PurchasingService> svc;
};

// ------------------------------------------------------------------ suppliers

TEST_F(PurchasingTest, SupplierIsListedByProductAndPatchedOnlyAtItsVersion) {
  auto a = tracked_product("A-1");
  auto b = tracked_product("B-1");
  auto s = make_supplier({a});
  EXPECT_EQ(s.products.at(0).unit_cost, 450);

  auto of_b = svc->list_suppliers({b, {.limit = 10}});
  ASSERT_TRUE(of_b.ok());
  EXPECT_TRUE(of_b->items.empty());

  SupplierPatch patch;
  patch.products = std::vector<SuppliedProduct>{{b, 900, "usd"}};
  patch.pack_size = 6;
  auto stale = svc->update_supplier(s.id, patch, s.version + 1, t.actor);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, "version_conflict");
  auto updated = svc->update_supplier(s.id, patch, s.version, t.actor);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->pack_size, 6);
  EXPECT_EQ(updated->version, s.version + 1);

  of_b = svc->list_suppliers({b, {.limit = 10}});
  ASSERT_EQ(of_b->items.size(), 1u);
  EXPECT_EQ(of_b->items[0].id, s.id);
  EXPECT_TRUE(svc->list_suppliers({a, {.limit = 10}})->items.empty());
}

TEST_F(PurchasingTest, SuppliersAndPurchaseOrdersAreListedByMetadata) {
  auto a = tracked_product("A-1");
  SupplierInput in;
  in.name = "Acme";
  in.email = "orders@acme.example";
  in.products.push_back({a, 450, "usd"});
  in.metadata = {{"region", "north"}};
  auto north = svc->create_supplier(in, t.actor);
  in.metadata = {{"region", "south"}};
  auto south = svc->create_supplier(in, t.actor);
  ASSERT_TRUE(north.ok() && south.ok());

  ListParams page{.limit = 10, .metadata = {{"region", "north"}}};
  auto listed = svc->list_suppliers({std::nullopt, page});
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].id, north->id);
  listed = svc->list_suppliers({a, page});  // with the product filter's join
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->items.size(), 1u);

  auto rush = svc->create_purchase_order({north->id, {{a, 5, std::nullopt}}, {{"rush", "yes"}}}, t.actor);
  ASSERT_TRUE(rush.ok());
  draft(north->id, a, 3);
  auto orders = svc->list_purchase_orders({{}, std::nullopt, {.limit = 10, .metadata = {{"rush", "yes"}}}});
  ASSERT_TRUE(orders.ok()) << orders.error().message;
  ASSERT_EQ(orders->items.size(), 1u);
  EXPECT_EQ(orders->items[0].id, rush->id);
}

TEST_F(PurchasingTest, SupplierWithAnUnknownProductOrTwoCurrenciesIsRefusedAndNothingIsCreated) {
  auto a = tracked_product("A-1");
  SupplierInput in;
  in.name = "Acme";
  in.email = "orders@acme.example";
  in.products = {{a, 100, "usd"}, {"prod_nope", 100, "usd"}};
  auto unknown = svc->create_supplier(in, t.actor);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(unknown.error().fields.at(0).field, "products[1].product");

  in.products = {{a, 100, "usd"}, {tracked_product("B-1"), 100, "eur"}};
  auto mixed = svc->create_supplier(in, t.actor);
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.error().fields.at(0).code, "currency_mismatch");
  EXPECT_EQ(count("SELECT COUNT(*) FROM suppliers"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM supplier_products"), 0);
}

// ------------------------------------------------------------------ purchase orders

TEST_F(PurchasingTest, NumbersAreGaplessAndARefusedOrderDoesNotUseOne) {
  auto a = tracked_product("A-1");
  auto other = tracked_product("Z-1");
  auto s = make_supplier({a});
  EXPECT_EQ(draft(s.id, a, 5).number, "PO-000001");
  auto refused = svc->create_purchase_order({s.id, {{other, 5, std::nullopt}}, Json::object()}, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(refused.error().fields.at(0).code, "not_supplied");
  auto no_supplier = svc->create_purchase_order({"sup_nope", {{a, 5, std::nullopt}}, Json::object()}, t.actor);
  EXPECT_EQ(no_supplier.error().fields.at(0).field, "supplier");
  EXPECT_EQ(draft(s.id, a, 5).number, "PO-000002");
  EXPECT_EQ(next_number(), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM purchase_orders"), 2);
}

TEST_F(PurchasingTest, SendingSetsExpectedAtFromTheLeadTimeAndMailsTheSupplier) {
  auto a = tracked_product("A-1");
  auto s = make_supplier({a}, 12);
  auto o = draft(s.id, a, 24);
  EXPECT_EQ(o.status, PurchaseOrderStatus::kDraft);
  EXPECT_EQ(o.lines.at(0).sku, "A-1");
  EXPECT_EQ(o.total(), 24 * 450);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE resource_id = $1", {o.id}), 0);  // drafts stay home

  t.clock->advance(3600);
  auto sent = svc->send_purchase_order(o.number, t.actor);  // by number as well as by id
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(sent->status, PurchaseOrderStatus::kSent);
  EXPECT_EQ(sent->sent_at, t.clock->now());
  EXPECT_EQ(sent->expected_at, t.clock->now() + 12 * kSecondsPerDay);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'purchase_order' AND resource_id = $1", {o.id}),
            1);
  auto mails = t.app->notifications().list({});
  ASSERT_TRUE(mails.ok());
  const auto& mail = mails->items.at(0);
  EXPECT_EQ(mail.to, "orders@acme.example");
  EXPECT_NE(mail.text.find("24 × A-1"), std::string::npos) << mail.text;
  EXPECT_NE(mail.html->find("<pre>24 × A-1"), std::string::npos) << *mail.html;
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'purchase_order.sent' AND resource_id = $1", {o.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'purchase_order.sent' AND payload LIKE $1",
                  {"%https://acme.example/hooks/po%"}),
            1);
}

TEST_F(PurchasingTest, StatusMachineRefusalsChangeNothing) {
  auto a = tracked_product("A-1");
  auto s = make_supplier({a});
  auto o = sent(s.id, a, 10);
  auto again = svc->send_purchase_order(o.id, t.actor);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(again.error().code, "purchase_order_not_sendable");
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE resource_id = $1", {o.id}), 1);

  auto canceled = svc->cancel_purchase_order(o.id, t.actor);
  ASSERT_TRUE(canceled.ok());
  EXPECT_EQ(canceled->status, PurchaseOrderStatus::kCanceled);
  EXPECT_EQ(svc->cancel_purchase_order(o.id, t.actor).error().code, "purchase_order_not_cancellable");
  EXPECT_EQ(svc->send_purchase_order(o.id, t.actor).error().code, "purchase_order_not_sendable");
  auto receipt = db::transact(t.app->database(),
                              [&](db::Tx& tx) { return receive_on_order(tx, o.id, a, 1, t.clock->now()); });
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.error().code, "purchase_order_not_receivable");
  auto now = svc->get_purchase_order(o.id);
  EXPECT_EQ(now->version, canceled->version);
  EXPECT_EQ(now->status, PurchaseOrderStatus::kCanceled);
  EXPECT_EQ(svc->get_purchase_order("po_nope").error().kind, ErrorKind::kNotFound);
}

// ------------------------------------------------------------------ receiving

TEST_F(PurchasingTest, ReceiveOnOrderRefusesBeyondOutstandingWithNothingChanged) {
  auto a = tracked_product("A-1");
  auto b = tracked_product("B-1");
  auto s = make_supplier({a, b});
  auto d = draft(s.id, a, 10);
  auto o = sent(s.id, a, 10);

  auto in_tx = [&](const std::string& po, const std::string& product, std::int64_t q) {
    return db::transact(t.app->database(), [&](db::Tx& tx) { return receive_on_order(tx, po, product, q, t.clock->now()); });
  };
  EXPECT_EQ(in_tx(d.id, a, 1).error().code, "purchase_order_not_receivable");
  EXPECT_EQ(in_tx(o.id, b, 1).error().code, "product_not_on_order");
  EXPECT_EQ(in_tx(o.id, a, 11).error().kind, ErrorKind::kConflict);
  EXPECT_EQ(in_tx("po_nope", a, 1).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(svc->get_purchase_order(o.id)->version, o.version);
  EXPECT_EQ(count("SELECT received FROM purchase_order_lines WHERE purchase_order_id = $1", {o.id}), 0);

  ASSERT_TRUE(in_tx(o.id, a, 4).ok());
  auto part = svc->get_purchase_order(o.id);
  EXPECT_EQ(part->status, PurchaseOrderStatus::kPartiallyReceived);
  EXPECT_EQ(part->lines.at(0).received, 4);
  EXPECT_EQ(count("SELECT received FROM purchase_order_lines WHERE purchase_order_id = $1", {o.id}), 4);
  EXPECT_EQ(in_tx(o.id, a, 7).error().code, "receipt_exceeds_order");
  ASSERT_TRUE(in_tx(o.number, a, 6).ok());
  auto done = svc->get_purchase_order(o.id);
  EXPECT_EQ(done->status, PurchaseOrderStatus::kReceived);
  EXPECT_EQ(done->received_at, t.clock->now());
  EXPECT_EQ(svc->cancel_purchase_order(o.id, t.actor).error().code, "purchase_order_not_cancellable");
}

TEST_F(PurchasingTest, ReceiveRoutePutsEachLineOnHandAndIsAllOrNothing) {
  auto a = tracked_product("A-1");
  auto b = tracked_product("B-1");
  auto s = make_supplier({a, b});
  auto o = svc->create_purchase_order({s.id, {{a, 10, std::nullopt}, {b, 5, 300}}, Json::object()}, t.actor);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(svc->send_purchase_order(o->id, t.actor).ok());

  // The second line asks too much: the first is not received either.
  auto refused = svc->receive(o->id, {{a, 3}, {b, 6}}, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "receipt_exceeds_order");
  EXPECT_EQ(svc->get_purchase_order(o->id)->lines.at(0).received, 0);

  intake.accept = false;  // the ledger refuses: the order is not marked received
  EXPECT_EQ(svc->receive(o->id, {{a, 3}}, t.actor).error().code, "stock_refused");
  EXPECT_EQ(svc->get_purchase_order(o->id)->lines.at(0).received, 0);
  intake.accept = true;

  auto received = svc->receive(o->id, {{a, 3}, {b, 5}}, t.actor);
  ASSERT_TRUE(received.ok()) << received.error().message;
  EXPECT_EQ(received->status, PurchaseOrderStatus::kPartiallyReceived);
  ASSERT_EQ(intake.movements.size(), 2u);
  EXPECT_EQ(intake.movements[0].kind, MovementKind::kReceipt);
  EXPECT_EQ(intake.movements[0].on_hand_delta, 3);
  EXPECT_EQ(intake.movements[0].reference, o->id);
  EXPECT_EQ(intake.movements[1].product, b);

  // Cancelling closes the rest: nothing is incoming any more.
  {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    EXPECT_EQ(*outstanding_on_order(**tx, a), 7);
  }
  ASSERT_TRUE(svc->cancel_purchase_order(o->id, t.actor).ok());
  auto tx = t.app->database().begin(db::TxMode::kReadOnly);
  EXPECT_EQ(*outstanding_on_order(**tx, a), 0);
}

// docs/inventory.md: a purchase-order change invalidates the availability cache, whose
// answers count the arrivals of sent orders. The App's purchasing has the cache wired.
TEST_F(PurchasingTest, SendingOrCancelingAnOrderChangesACachedAvailabilityByDate) {
  auto a = tracked_product("A-1");
  stock(a, 2);
  auto slow = make_supplier({a}, 20);
  auto fast = make_supplier({a}, 5);
  auto& purchasing = t.app->purchasing();
  auto& inventory = t.app->inventory();
  Timestamp now = t.clock->now();
  auto by_next_month = [&] {
    auto answer = inventory.availability(a, 5, now + 30 * kSecondsPerDay);
    EXPECT_TRUE(answer.ok()) << answer.error().message;
    return answer->availability;
  };
  auto send = [&](const Supplier& supplier) {
    auto o = purchasing.send_purchase_order(draft(supplier.id, a, 10).id, t.actor);
    EXPECT_TRUE(o.ok()) << o.error().message;
    return *o;
  };

  auto later = send(slow);
  auto answer = by_next_month();
  EXPECT_TRUE(answer.can_fulfill);
  EXPECT_EQ(answer.available_on, now + 20 * kSecondsPerDay);
  ASSERT_TRUE(inventory.cache().get(a)) << "the answer is cached";

  auto sooner = send(fast);
  EXPECT_FALSE(inventory.cache().get(a)) << "sending dropped it";
  EXPECT_EQ(by_next_month().available_on, now + 5 * kSecondsPerDay);

  ASSERT_TRUE(purchasing.cancel_purchase_order(sooner.id, t.actor).ok());
  EXPECT_EQ(by_next_month().available_on, now + 20 * kSecondsPerDay);
  ASSERT_TRUE(purchasing.cancel_purchase_order(later.id, t.actor).ok());
  answer = by_next_month();
  EXPECT_FALSE(answer.can_fulfill);
  EXPECT_EQ(answer.available_on, std::nullopt);
}

TEST_F(PurchasingTest, ReceivingWithoutAStockIntakeIsUnavailable) {
  auto a = tracked_product("A-1");
  auto s = make_supplier({a});
  auto o = sent(s.id, a, 10);
  notify::NullNotifier no_messages;
  PurchasingService bare(t.app->database(), t.app->clock(), t.app->ids(), no_messages);
  auto r = bare.receive(o.id, {{a, 1}}, t.actor);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(bare.reorder(t.clock->now()).error().code, "demand_forecast_unset");
}

// ------------------------------------------------------------------ automatic reordering

TEST_F(PurchasingTest, ReorderDraftsWholePacksOfAtLeastTheMinimumOncePerCycle) {
  auto a = tracked_product("A-1");
  auto untracked = tracked_product("U-1", false);
  make_supplier({a, untracked}, 10, 50, 12);
  demand.per_day = {{a, 10}, {untracked, 100}};  // 100 over the lead time, 70 over the week after
  stock(a, 60, 10);                             // 50 available

  auto r = reorder();
  EXPECT_EQ(r.products_checked, 1);  // the untracked product is never ordered
  EXPECT_EQ(r.drafted, 1);
  auto list = orders();
  ASSERT_EQ(list.size(), 1u);
  const auto& o = list[0];
  EXPECT_EQ(o.status, PurchaseOrderStatus::kDraft);
  EXPECT_EQ(o.origin, "automatic");
  // reorder point 100 (no spread), + 70 for the review period - 50 available = 120: ten packs.
  EXPECT_EQ(o.lines.at(0).quantity, 120);
  EXPECT_EQ(o.number, "PO-000001");

  // Run again in the same cycle, and in the next one: the open draft answers the need.
  EXPECT_EQ(reorder().drafted, 0);
  t.clock->advance(8 * kSecondsPerDay);
  auto later = reorder();
  EXPECT_EQ(later.drafted, 0);
  EXPECT_EQ(later.already_on_order, 1);
  EXPECT_EQ(orders().size(), 1u);
  EXPECT_EQ(next_number(), 2);
}

TEST_F(PurchasingTest, OneRunAsksTheForecastOnceForEveryProductWithItsOwnSuppliersWindows) {
  auto a = tracked_product("A-1"), b = tracked_product("B-1"), untracked = tracked_product("U-1", false);
  make_supplier({a, untracked}, 10);
  make_supplier({b}, 3);
  demand.per_day = {{a, 10}, {b, 10}, {untracked, 100}};
  stock(a, 50);

  auto r = reorder();
  EXPECT_EQ(demand.calls, 1) << "one forecast for the whole run";
  EXPECT_EQ(r.products_checked, 2);
  EXPECT_EQ(r.drafted, 2);
  std::map<std::string, std::int64_t> quantity;
  for (const auto& o : orders()) quantity[o.lines.at(0).product] = o.lines.at(0).quantity;
  EXPECT_EQ(quantity[a], 100 + 70 - 50);  // 10 days' lead, 7 days' review, 50 available
  EXPECT_EQ(quantity[b], 30 + 70);        // 3 days' lead
}

TEST_F(PurchasingTest, AProductWhoseSupplierChangedWhileTheRunForecastIsAskedAgain) {
  auto a = tracked_product("A-1");
  auto s = make_supplier({a}, 10);
  demand.per_day = {{a, 10}};
  // The lead time grows to 20 days after the run's forecast read the supplier's 10.
  demand.on_first_call = [&] {
    SupplierPatch patch;
    patch.lead_time_days = 20;
    auto updated = svc->update_supplier(s.id, patch, s.version, t.actor);
    ASSERT_TRUE(updated.ok()) << updated.error().message;
  };
  auto r = reorder();
  EXPECT_EQ(demand.calls, 2) << "asked again for the product whose window moved";
  EXPECT_EQ(r.drafted, 1);
  auto list = orders();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].lines.at(0).quantity, 200 + 70) << "ordered for the new lead time";
}

TEST_F(PurchasingTest, NoOrderWhileAvailablePlusIncomingCoversTheReorderPoint) {
  auto a = tracked_product("A-1");
  auto s = make_supplier({a}, 10);
  demand.per_day = {{a, 10}};
  demand.stddev = 10;  // safety stock ceil(1.645 × 10) = 17: reorder point 117
  stock(a, 77);
  auto po = sent(s.id, a, 40);  // 77 + 40 = 117: enough
  EXPECT_EQ(reorder().drafted, 0);
  ASSERT_TRUE(db::transact(t.app->database(), [&](db::Tx& tx) {
                return receive_on_order(tx, po.id, a, 40, t.clock->now());
              }).ok());  // received but not put on hand in this test: 77 + 0 < 117
  auto r = reorder();
  EXPECT_EQ(r.drafted, 1);
  EXPECT_EQ(orders("draft").at(0).lines.at(0).quantity, 117 + 70 - 77);
}

TEST_F(PurchasingTest, AutomaticSupplierIsSentTheOrderAndOperatorsAreToldOncePerNeed) {
  auto a = tracked_product("A-1");
  make_supplier({a}, 10, 1, 1, true);
  demand.per_day = {{a, 10}};  // 100 over the lead time against 30 available
  stock(a, 30);

  auto r = reorder();
  EXPECT_EQ(r.sent, 1);
  EXPECT_EQ(r.replenishment_alerts, 1);
  auto o = orders().at(0);
  EXPECT_EQ(o.status, PurchaseOrderStatus::kSent);
  EXPECT_EQ(o.expected_at, t.clock->now() + 10 * kSecondsPerDay);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'purchase_order' AND resource_id = $1", {o.id}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'replenishment_needed' AND resource_id = $1",
                  {a}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'inventory.replenishment_needed' AND resource_id = $1",
                  {a}),
            1);
  Json item = event_object("inventory.replenishment_needed", a);
  EXPECT_EQ(item["object"], "inventory_item");
  EXPECT_EQ(item["product"], a);
  EXPECT_EQ(item["available"], 30);

  // The sent order now counts as incoming; the next run neither orders nor alerts again.
  auto again = reorder();
  EXPECT_EQ(again.sent + again.drafted, 0);
  EXPECT_EQ(again.replenishment_alerts, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'replenishment_needed'"), 1);
}

TEST_F(PurchasingTest, TwoNodesReorderingAtOnceOrderEachNeedOnceWithGaplessNumbers) {
  const int kProducts = 12;
  std::vector<std::string> products;
  for (int i = 0; i < kProducts; ++i) products.push_back(tracked_product("P-" + std::to_string(i)));
  make_supplier(products, 7, 10, 5, true);
  for (const auto& p : products) demand.per_day[p] = 3;

  auto node = testing::reopen(t, *t.clock);
  auto other = make_service(*node);
  std::vector<ReorderReport> reports(2);
  std::thread first([&] { reports[0] = *svc->reorder(t.clock->now()); });
  std::thread second([&] { reports[1] = *other->reorder(t.clock->now()); });
  first.join();
  second.join();

  EXPECT_EQ(reports[0].errors + reports[1].errors, 0) << reports[0].first_error << reports[1].first_error;
  EXPECT_EQ(reports[0].sent + reports[1].sent, kProducts);
  EXPECT_EQ(count("SELECT COUNT(*) FROM purchase_orders"), kProducts);
  EXPECT_EQ(count("SELECT COUNT(DISTINCT product_id) FROM purchase_order_lines"), kProducts);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'purchase_order'"), kProducts);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'replenishment_needed'"), kProducts);
  EXPECT_EQ(next_number(), kProducts + 1);
  std::set<std::string> numbers;
  for (const auto& o : orders()) numbers.insert(o.number);
  EXPECT_EQ(numbers.size(), static_cast<std::size_t>(kProducts));
  EXPECT_EQ(*numbers.rbegin(), "PO-000012");
}

}  // namespace
}  // namespace recur::inventory
