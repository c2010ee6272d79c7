// Inventory rules by worked example: availability with arrivals, low-stock crossings,
// shipment statuses and credits.
#include "inventory/model.h"

#include <gtest/gtest.h>

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
  const Timestamp day = 86400;
  struct Case {
    std::int64_t on_hand, reserved, quantity;
    std::optional<Timestamp> date;
    bool can_fulfil;
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
    EXPECT_EQ(a.can_fulfil, c.can_fulfil) << c.quantity;
    EXPECT_EQ(a.available, c.available) << c.quantity;
    EXPECT_EQ(a.available_by_date, c.by_date) << c.quantity;
    EXPECT_EQ(a.available_on, c.available_on) << c.quantity;
    EXPECT_EQ(a.low_stock, c.low) << c.quantity;
  }
}

TEST(Availability, UntrackedProductsAreAlwaysAvailableUnlessArchived) {
  StockSnapshot s;
  s.tracked = false;
  EXPECT_TRUE(availability(s, 1000, std::nullopt).can_fulfil);
  s.active = false;
  EXPECT_FALSE(availability(s, 1, std::nullopt).can_fulfil);
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
  EXPECT_TRUE(operator_may_move(S::kBackordered, S::kCancelled));
  EXPECT_FALSE(operator_may_move(S::kBackordered, S::kShipped));  // nothing to ship yet
  EXPECT_FALSE(operator_may_move(S::kShipped, S::kCancelled));    // it left the warehouse
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
  auto back = shipment_from_doc(to_json(s));
  EXPECT_EQ(to_json(back), to_json(s));
  EXPECT_EQ(to_json(s)["items"][0]["backordered"], 1);
}

}  // namespace
}  // namespace recur::inventory
