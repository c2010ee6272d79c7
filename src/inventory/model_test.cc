// Inventory rules by worked example: availability with arrivals, low-stock crossings,
// shipment statuses and credits, and the alternatives offered for a product that is short.
#include "inventory/model.h"

#include <gtest/gtest.h>

#include "inventory/shipments.h"

namespace recur::inventory {
namespace {

StockSnapshot beans(std::int64_t on_hand, std::int64_t reserved, std::vector<Arrival> arrivals = {}) {
  StockSnapshot s;
  s.product = "prod_1";
  s.sku = "BEAN-1";
  s.tracked = true;
  s.on_hand = on_hand;
  s.reserved = reserved;
  s.low_stock_threshold = 5;
  s.arrivals = std::move(arrivals);
  return s;
}

TEST(Availability, CountsWhatIsFreeNowAndWhatArrivesByTheDate) {
  const Timestamp day = kSecondsPerDay;
  struct Case {
    std::int64_t on_hand, reserved, quantity;
    std::optional<Timestamp> date;
    bool can_fulfill;
    std::int64_t available, by_date;
    std::optional<Timestamp> available_on;
    bool low;
  } cases[] = {
      {10, 2, 8, std::nullopt, true, 8, 8, std::nullopt, false},  // exactly what is free
      {10, 2, 9, std::nullopt, false, 8, 8, 10 * day, false},     // short now; the first arrival covers it
      {10, 2, 9, 9 * day, false, 8, 8, 10 * day, false},          // the date is before the arrival
      {10, 2, 9, 10 * day, true, 8, 28, 10 * day, false},         // arrival on the date counts
      {10, 2, 40, 30 * day, false, 8, 38, std::nullopt, false},   // nothing on order covers 40
      {10, 2, 30, std::nullopt, false, 8, 8, 20 * day, false},    // needs both arrivals
      {6, 2, 1, std::nullopt, true, 4, 4, std::nullopt, true},    // 4 <= threshold 5: low
  };
  for (const auto& c : cases) {
    auto a = availability(beans(c.on_hand, c.reserved, {{10 * day, 20}, {20 * day, 10}}), c.quantity, c.date);
    EXPECT_EQ(a.can_fulfill, c.can_fulfill) << c.quantity;
    EXPECT_EQ(a.available, c.available) << c.quantity;
    EXPECT_EQ(a.available_by_date, c.by_date) << c.quantity;
    EXPECT_EQ(a.available_on, c.available_on) << c.quantity;
    EXPECT_EQ(a.low_stock, c.low) << c.quantity;
  }
}

TEST(Availability, UntrackedProductsAreAlwaysAvailableUnlessArchived) {
  StockSnapshot s;
  s.tracked = false;
  EXPECT_TRUE(availability(s, 1000, std::nullopt).can_fulfill);
  s.active = false;
  EXPECT_FALSE(availability(s, 1, std::nullopt).can_fulfill);
}

TEST(LowStock, AlertsOncePerCrossingAndRecoversAboveTheThreshold) {
  EXPECT_EQ(low_stock_step(false, 6, 5), LowStockStep::kNone);
  EXPECT_EQ(low_stock_step(false, 5, 5), LowStockStep::kAlert);
  EXPECT_EQ(low_stock_step(true, 2, 5), LowStockStep::kNone);  // still the same crossing
  EXPECT_EQ(low_stock_step(true, 6, 5), LowStockStep::kRecovered);
  EXPECT_EQ(low_stock_step(false, 0, 0), LowStockStep::kNone);  // threshold 0: never low
}

TEST(Shipments, StatusFollowsReservationsAndOperatorsMoveForwardOnly) {
  std::vector<ShipmentItem> items = {{"p1", "A", "A", 2, 2, true, {}}, {"p2", "B", "B", 1, 0, true, {}}};
  EXPECT_EQ(reservation_status(items), ShipmentStatus::kBackordered);
  items[1].reserved = 1;
  EXPECT_EQ(reservation_status(items), ShipmentStatus::kPending);
  using S = ShipmentStatus;
  EXPECT_TRUE(operator_may_move(S::kPending, S::kReady));
  EXPECT_TRUE(operator_may_move(S::kReady, S::kShipped));
  EXPECT_TRUE(operator_may_move(S::kShipped, S::kDelivered));
  EXPECT_TRUE(operator_may_move(S::kBackordered, S::kCanceled));
  EXPECT_FALSE(operator_may_move(S::kBackordered, S::kShipped));  // nothing to ship yet
  EXPECT_FALSE(operator_may_move(S::kShipped, S::kCanceled));    // it left the warehouse
  EXPECT_FALSE(operator_may_move(S::kDelivered, S::kShipped));
  EXPECT_FALSE(operator_may_move(S::kPending, S::kBackordered));  // only reservations decide
}

TEST(Shipments, AnItemsCreditIsItsShareOfTheBoxByUnitsRoundedDown) {
  std::vector<ShipmentItem> items = {{"p1", "A", "A", 2, 0, true, {}}, {"p2", "B", "B", 1, 0, true, {}}};
  EXPECT_EQ(item_credit(3000, items, 0), 2000);
  EXPECT_EQ(item_credit(3000, items, 1), 1000);
  EXPECT_EQ(item_credit(1000, items, 1), 333);  // never more than paid
  EXPECT_EQ(item_credit(0, items, 0), 0);       // a free box credits nothing
  EXPECT_EQ(item_credit(3000, items, 7), 0);
}

TEST(Ledger, LevelsAreTheSumsOfTheMovements) {
  std::vector<Movement> moves(4);
  moves[0].on_hand_delta = 10;                                  // receipt
  moves[1].reserved_delta = 3;                                  // reservation
  moves[2].on_hand_delta = -2, moves[2].reserved_delta = -2;    // shipment
  moves[3].reserved_delta = -1;                                 // release
  auto sums = sum_ledger(moves);
  EXPECT_EQ(sums.on_hand, 8);
  EXPECT_EQ(sums.reserved, 0);
}

TEST(Shipments, JsonRoundTripsEveryField) {
  Shipment s;
  s.id = "shp_1";
  s.subscription = "sub_1";
  s.customer = "cus_1";
  s.period_seq = 3;
  s.period = {100, 200};
  s.status = ShipmentStatus::kBackordered;
  s.items = {{"p1", "A", "Beans", 2, 1, true, std::string("p0")}};
  s.value = 2500;
  s.currency = "usd";
  s.backordered_at = 150;
  s.backorder_choice = BackorderChoice::kWait;
  s.tracking_number = "1Z";
  s.invoice = "in_1";
  s.paid = false;
  auto back = shipment_from_doc(to_json(s));
  EXPECT_EQ(to_json(back), to_json(s));
  EXPECT_EQ(to_json(s)["items"][0]["backordered"], 1);
  EXPECT_EQ((std::pair{back.invoice, back.paid}), (std::pair{std::optional<std::string>("in_1"), false}));
  // No invoice is null, never left out; with nothing to pay the box is paid.
  Shipment uninvoiced;
  EXPECT_TRUE(to_json(uninvoiced).at("invoice").is_null());
  EXPECT_EQ(to_json(uninvoiced).at("paid"), true);
  EXPECT_FALSE(shipment_from_doc(to_json(uninvoiced)).invoice.has_value());
}

TEST(Movements, TheActorIsTheEventsActorObject) {
  Movement m;
  m.id = "mv_1";
  m.product = "prod_1";
  m.kind = MovementKind::kReceipt;
  m.on_hand_delta = 4;
  m.actor = events::Actor{"api_key", "key_1", "inventory"};
  Json j = to_json(m, "BEAN-1");
  EXPECT_EQ(j.at("actor"), (Json{{"type", "api_key"}, {"id", "key_1"}, {"role", "inventory"}}));
  EXPECT_EQ(events::actor_from_json(j.at("actor")).role, "inventory");
  // The scheduler has no role: null, not "".
  m.actor = events::Actor::system();
  EXPECT_EQ(to_json(m, "BEAN-1").at("actor"), (Json{{"type", "system"}, {"id", "scheduler"}, {"role", nullptr}}));
  EXPECT_EQ(events::actor_from_json(to_json(m, "BEAN-1").at("actor")).role, "");
}

catalog::Product product(std::string id, std::optional<std::string> category, std::optional<Money> price,
                         bool tracked = true) {
  catalog::Product p;
  p.id = std::move(id);
  p.name = "Name of " + p.id;
  p.category = std::move(category);
  p.price = std::move(price);
  p.track_inventory = tracked;
  return p;
}

std::optional<Money> usd(std::int64_t amount) { return Money{amount, "usd"}; }

TEST(Alternatives, SameCategoryWithinAThirdOfThePriceWithEnoughFreeClosestPriceFirstAtMostFive) {
  const auto wanted = product("prod_w", "coffee", usd(900));
  struct Case {
    const char* what;
    catalog::Product wanted;
    std::int64_t quantity;
    std::vector<Candidate> candidates;
    std::vector<std::string> offered;  // in order
  } cases[] = {
      {"same category, similar price, enough free", wanted, 2, {{product("p1", "coffee", usd(1000)), 2}}, {"p1"}},
      {"another category", wanted, 1, {{product("p1", "tea", usd(900)), 5}}, {}},
      {"no category on the candidate", wanted, 1, {{product("p1", std::nullopt, usd(900)), 5}}, {}},
      {"nothing stands in for a product without a category", product("prod_w", std::nullopt, usd(900)), 1,
       {{product("p1", std::nullopt, usd(900)), 5}}, {}},
      {"a third of the price away is similar, more is not", wanted, 1,
       {{product("p1", "coffee", usd(1200)), 5}, {product("p2", "coffee", usd(600)), 5},
        {product("p3", "coffee", usd(1201)), 5}, {product("p4", "coffee", usd(599)), 5}},
       {"p1", "p2"}},
      {"another currency", wanted, 1, {{product("p1", "coffee", Money{900, "eur"}), 5}}, {}},
      {"a candidate without a price", wanted, 1, {{product("p1", "coffee", std::nullopt), 5}}, {}},
      {"any price when the wanted product has none", product("prod_w", "coffee", std::nullopt), 1,
       {{product("p1", "coffee", usd(5)), 5}, {product("p2", "coffee", std::nullopt), 5}}, {"p1", "p2"}},
      {"too few free", wanted, 3, {{product("p1", "coffee", usd(900)), 2}}, {}},
      {"untracked is never short", wanted, 1000, {{product("p1", "coffee", usd(900), false), std::nullopt}}, {"p1"}},
      {"closest price first, ties keep their order", wanted, 1,
       {{product("p1", "coffee", usd(1100)), 5}, {product("p2", "coffee", usd(950)), 5},
        {product("p3", "coffee", usd(850)), 5}, {product("p4", "coffee", usd(900)), 5}},
       {"p4", "p2", "p3", "p1"}},
      {"at most five", wanted, 1,
       {{product("p1", "coffee", usd(906)), 1}, {product("p2", "coffee", usd(905)), 1},
        {product("p3", "coffee", usd(904)), 1}, {product("p4", "coffee", usd(903)), 1},
        {product("p5", "coffee", usd(902)), 1}, {product("p6", "coffee", usd(901)), 1}},
       {"p6", "p5", "p4", "p3", "p2"}},
  };
  for (const auto& c : cases) {
    auto offered = rank_alternatives(c.wanted, c.quantity, c.candidates);
    std::vector<std::string> ids;
    for (const auto& a : offered) ids.push_back(a.product);
    EXPECT_EQ(ids, c.offered) << c.what;
  }
}

TEST(Alternatives, CarryNamePriceAndWhatIsFreeNullWhenUntracked) {
  auto wanted = product("prod_w", "coffee", usd(900));
  auto offered = rank_alternatives(wanted, 1, {{product("p1", "coffee", usd(950)), 7},
                                               {product("p2", "coffee", usd(1000), false), std::nullopt}});
  ASSERT_EQ(offered.size(), 2u);
  EXPECT_EQ(offered[0].name, "Name of p1");
  EXPECT_EQ(offered[0].available, 7);
  EXPECT_EQ(offered[0].price->amount, 950);
  EXPECT_FALSE(offered[0].available_on.has_value());
  EXPECT_FALSE(offered[1].available.has_value());
}

}  // namespace
TEST(BoxPaid, APrepaidBoxNeedsItsChargeAndItsOwnInvoiceBothPaid) {
  const std::optional<std::string> charge = std::string("in_charge"), own = std::string("in_addons");
  struct Case {
    std::optional<std::string> linked;
    bool linked_paid;
    PeriodPayment own;
    bool paid;
    const char* what;
  };
  const Case cases[] = {
      {own, true, {own, true}, true, "a plain box: its invoice paid"},
      {own, false, {own, false}, false, "a plain box: its invoice open"},
      {std::nullopt, false, {std::nullopt, true}, true, "nothing billed (no billing wired)"},
      {charge, true, {std::nullopt, true}, true, "a prepaid box, its charge paid"},
      {charge, false, {std::nullopt, true}, false, "a prepaid box, its charge open"},
      {charge, true, {own, false}, false, "a prepaid box, its add-ons' invoice open"},
      {charge, false, {own, true}, false, "a prepaid box, add-ons paid but the charge open"},
      {charge, true, {own, true}, true, "a prepaid box, both paid"},
  };
  for (const auto& c : cases) EXPECT_EQ(box_paid(c.linked, c.linked_paid, c.own), c.paid) << c.what;
}

}  // namespace recur::inventory
