// Purchasing's pure rules: the inverse normal behind safety stock, pack-size and MOQ
// rounding, the reorder decision, the purchase order's status machine and receipts.
#include <gtest/gtest.h>

#include "inventory/purchasing_model.h"

namespace recur::inventory {
namespace {

TEST(InverseNormal, MatchesTheStandardNormalTableToSixDecimals) {
  struct Row {
    double p, z;
  };
  for (const Row& r : {Row{0.5, 0.0}, Row{0.8, 0.8416212}, Row{0.9, 1.2815516}, Row{0.95, 1.6448536},
                       Row{0.975, 1.9599640}, Row{0.99, 2.3263479}, Row{0.999, 3.0902323}, Row{0.9999, 3.7190165},
                       Row{0.01, -2.3263479}, Row{0.001, -3.0902323}, Row{0.02, -2.0537489}})
    EXPECT_NEAR(inverse_normal(r.p), r.z, 1e-6) << "p = " << r.p;
}

TEST(InverseNormal, IsSymmetricAndIncreasingAcrossTheRegionBoundaries) {
  double last = -10;
  for (double p = 0.001; p < 0.9995; p += 0.0005) {
    double z = inverse_normal(p);
    EXPECT_GT(z, last) << p;
    EXPECT_NEAR(z, -inverse_normal(1 - p), 1e-8) << p;
    last = z;
  }
}

TEST(OrderQuantity, IsWholePacksOfAtLeastTheMinimum) {
  struct Row {
    std::int64_t needed, minimum, pack, expected;
  };
  for (const Row& r : {Row{0, 10, 6, 0},    // nothing needed: nothing ordered, whatever the MOQ
                       Row{-5, 1, 1, 0},    //
                       Row{1, 1, 1, 1},     //
                       Row{7, 1, 6, 12},    // up to whole packs
                       Row{12, 1, 6, 12},   // exactly two packs
                       Row{13, 1, 6, 18},   //
                       Row{3, 10, 1, 10},   // up to the minimum
                       Row{3, 10, 6, 12},   // the minimum itself rounded up to packs
                       Row{25, 10, 6, 30},  //
                       Row{10, 10, 5, 10},  //
                       Row{11, 10, 5, 15},  //
                       Row{1, 0, 24, 24}})
    EXPECT_EQ(order_quantity(r.needed, r.minimum, r.pack), r.expected)
        << r.needed << " needed, MOQ " << r.minimum << ", pack " << r.pack;
}

ReorderInputs inputs(double demand, double stddev, double review, std::int64_t available, std::int64_t incoming,
                     std::int64_t moq = 1, std::int64_t pack = 1) {
  ReorderInputs in;
  in.lead_time_demand = demand;
  in.lead_time_stddev = stddev;
  in.review_demand = review;
  in.available = available;
  in.incoming = incoming;
  in.minimum_order_quantity = moq;
  in.pack_size = pack;
  return in;
}

TEST(DecideReorder, OrdersUpToReorderPointPlusReviewDemandInPacks) {
  // Safety stock at 95 %: ceil(1.6449 × 20) = 33; reorder point 100 + 33 = 133.
  auto d = decide_reorder(inputs(100, 20, 50, 60, 40, 50, 12));
  EXPECT_EQ(d.safety_stock, 33);
  EXPECT_EQ(d.reorder_point, 133);
  EXPECT_EQ(d.position, 100);
  EXPECT_TRUE(d.reorder);
  EXPECT_EQ(d.quantity, 84);  // 133 + 50 - 100 = 83, MOQ 50, packs of 12 -> 84
  EXPECT_FALSE(d.high_demand);  // 100 expected is not more than 100 there and coming
}

TEST(DecideReorder, AtOrAboveTheReorderPointOrdersNothing) {
  auto d = decide_reorder(inputs(100, 20, 50, 133, 0));
  EXPECT_FALSE(d.reorder);
  EXPECT_EQ(d.quantity, 0);
  auto none = decide_reorder(inputs(0, 0, 0, 0, 0, 10, 6));
  EXPECT_FALSE(none.reorder);  // no demand, no stock: no order
  EXPECT_EQ(none.quantity, 0);
}

TEST(DecideReorder, DemandOverTheLeadTimeBeyondStockIsHighDemand) {
  auto d = decide_reorder(inputs(100, 0, 0, 50, 40));
  EXPECT_TRUE(d.high_demand);
  EXPECT_TRUE(d.reorder);
  EXPECT_EQ(d.quantity, 10);
}

TEST(DecideReorder, AHigherServiceLevelHoldsMoreSafetyStock) {
  auto low = inputs(10, 10, 0, 0, 0);
  low.service_level = 0.90;
  auto high = low;
  high.service_level = 0.99;
  EXPECT_EQ(decide_reorder(low).safety_stock, 13);   // 12.8
  EXPECT_EQ(decide_reorder(high).safety_stock, 24);  // 23.3
}

TEST(DecideReorder, WholeDemandIsNotRoundedUpByFloatingPointDust) {
  auto d = decide_reorder(inputs(0.1 + 0.2 + 9.7, 0, 0, 0, 0));  // 10.000000000000002
  EXPECT_EQ(d.reorder_point, 10);
}

TEST(PurchaseOrderStatus, OnlyTheListedMovesAreAllowed) {
  using S = PurchaseOrderStatus;
  using A = PurchaseOrderAction;
  struct Row {
    S from;
    A action;
    std::optional<S> to;
  };
  const Row rows[] = {
      {S::kDraft, A::kSend, S::kSent},
      {S::kDraft, A::kCancel, S::kCanceled},
      {S::kDraft, A::kReceive, std::nullopt},
      {S::kSent, A::kSend, std::nullopt},
      {S::kSent, A::kCancel, S::kCanceled},
      {S::kSent, A::kReceive, S::kPartiallyReceived},
      {S::kPartiallyReceived, A::kSend, std::nullopt},
      {S::kPartiallyReceived, A::kCancel, S::kCanceled},
      {S::kPartiallyReceived, A::kReceive, S::kPartiallyReceived},
      {S::kReceived, A::kSend, std::nullopt},
      {S::kReceived, A::kCancel, std::nullopt},
      {S::kReceived, A::kReceive, std::nullopt},
      {S::kCanceled, A::kSend, std::nullopt},
      {S::kCanceled, A::kCancel, std::nullopt},
      {S::kCanceled, A::kReceive, std::nullopt},
  };
  for (const auto& r : rows)
    EXPECT_EQ(transition(r.from, r.action), r.to) << to_string(r.from) << " " << to_string(r.action);
  for (auto s : {S::kDraft, S::kSent, S::kPartiallyReceived, S::kReceived, S::kCanceled})
    EXPECT_EQ(parse_purchase_order_status(to_string(s)), s);
  EXPECT_EQ(parse_purchase_order_status("open"), std::nullopt);
}

PurchaseOrder sent_order() {
  PurchaseOrder o;
  o.id = "po_1";
  o.number = "PO-000001";
  o.status = PurchaseOrderStatus::kSent;
  o.currency = "usd";
  o.lines = {{"prod_a", "A-1", 10, 0, 450}, {"prod_b", "B-1", 5, 0, 1000}};
  return o;
}

TEST(RecordReceipt, RefusesWhatIsNotOutstandingAndLeavesTheOrderAsItWas) {
  auto o = sent_order();
  auto beyond = record_receipt(o, "prod_a", 11);
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(beyond.error().code, "receipt_exceeds_order");
  EXPECT_EQ(record_receipt(o, "prod_z", 1).error().code, "product_not_on_order");
  EXPECT_EQ(record_receipt(o, "prod_a", 0).error().code, "receipt_exceeds_order");
  EXPECT_EQ(o.lines[0].received, 0);
  EXPECT_EQ(o.status, PurchaseOrderStatus::kSent);

  auto draft = sent_order();
  draft.status = PurchaseOrderStatus::kDraft;
  EXPECT_EQ(record_receipt(draft, "prod_a", 1).error().code, "purchase_order_not_receivable");
  EXPECT_EQ(draft.lines[0].received, 0);
}

TEST(RecordReceipt, PartThenTheRestCompletesTheOrder) {
  auto o = sent_order();
  ASSERT_TRUE(record_receipt(o, "prod_a", 4).ok());
  EXPECT_EQ(o.status, PurchaseOrderStatus::kPartiallyReceived);
  ASSERT_TRUE(record_receipt(o, "prod_a", 6).ok());
  ASSERT_TRUE(record_receipt(o, "prod_b", 4).ok());
  EXPECT_EQ(o.status, PurchaseOrderStatus::kPartiallyReceived);
  ASSERT_TRUE(record_receipt(o, "prod_b", 1).ok());
  EXPECT_EQ(o.status, PurchaseOrderStatus::kReceived);
  EXPECT_FALSE(record_receipt(o, "prod_b", 1).ok());  // received orders take nothing more
  EXPECT_EQ(o.total(), 10 * 450 + 5 * 1000);
}

TEST(PurchaseOrderJson, RoundTripsThroughTheStoredDocument) {
  auto o = sent_order();
  o.sent_at = 1'700'000'000;
  o.expected_at = 1'700'000'000 + 7 * kSecondsPerDay;
  o.need_key = "reorder:prod_a:2810";
  o.origin = "automatic";
  o.created = o.updated = 1'700'000'000;
  Json doc = to_json(o);
  EXPECT_EQ(doc["total"], 9500);
  EXPECT_EQ(doc["status"], "sent");
  EXPECT_EQ(to_json(purchase_order_from_doc(doc)), doc);
  EXPECT_EQ(lines_text(o), "10 × A-1 (prod_a) at 4.50 USD\n5 × B-1 (prod_b) at 10.00 USD\n");
}

Supplier supplier(std::string id, std::int64_t lead, std::int64_t cost, bool active = true) {
  Supplier s;
  s.id = std::move(id);
  s.name = s.id;
  s.email = s.id + "@example.com";
  s.lead_time_days = lead;
  s.active = active;
  s.products = {{"prod_a", cost, "usd"}};
  return s;
}

TEST(ChooseSupplier, ShortestLeadTimeThenCheapestAndNeverInactive) {
  std::vector<Supplier> all = {supplier("sup_slow", 14, 100), supplier("sup_dear", 5, 300),
                               supplier("sup_cheap", 5, 200), supplier("sup_off", 1, 1, false)};
  ASSERT_NE(choose_supplier(all, "prod_a"), nullptr);
  EXPECT_EQ(choose_supplier(all, "prod_a")->id, "sup_cheap");
  EXPECT_EQ(choose_supplier(all, "prod_b"), nullptr);
  EXPECT_EQ(to_json(supplier_from_doc(to_json(all[0]))), to_json(all[0]));
}

TEST(NeedKeys, AreTheSameWithinAReviewCycleAndNewInTheNext) {
  const std::int64_t week = 7 * kSecondsPerDay;
  Timestamp t = 1'700'000'000;
  Timestamp start = t - t % week;
  EXPECT_EQ(reorder_need_key("prod_a", start, week), reorder_need_key("prod_a", start + week - 1, week));
  EXPECT_NE(reorder_need_key("prod_a", start, week), reorder_need_key("prod_a", start + week, week));
  EXPECT_NE(reorder_need_key("prod_a", t, week), reorder_need_key("prod_b", t, week));
  EXPECT_NE(reorder_need_key("prod_a", t, week), replenishment_need_key("prod_a", t, week));
}

}  // namespace
}  // namespace recur::inventory
