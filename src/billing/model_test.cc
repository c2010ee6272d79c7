// Billing's pure rules: invoice totals, the dunning schedule, the failure-rate alert.
#include "billing/model.h"

#include <gtest/gtest.h>

namespace recur::billing {
namespace {

InvoiceLine line(std::int64_t amount, bool proration = false) { return {"x", amount, 1, {0, 1}, proration}; }

TEST(ComputeTotals, WorkedExamplesToTheMinorUnit) {
  struct Case {
    std::vector<std::int64_t> lines;
    std::int64_t discount, tax_bp;
    std::int64_t subtotal, applied_discount, tax, total, carried;
  };
  const Case cases[] = {
      {{2999}, 0, 0, 2999, 0, 0, 2999, 0},
      {{2000}, 500, 0, 2000, 500, 0, 1500, 0},
      {{2000}, 2500, 0, 2000, 2000, 0, 0, 0},            // a discount stops at zero
      {{2400, -500}, 0, 0, 1900, 0, 0, 1900, 0},          // a proration credit
      {{700, -2400}, 0, 0, -1700, 0, 0, 0, -1700},        // a credit larger than the charge is carried
      {{1000}, 0, 825, 1000, 0, 83, 1083, 0},             // 8.25 % of 10.00 = 0.825 -> 0.83 (half up)
      {{999}, 0, 2000, 999, 0, 200, 1199, 0},             // 20 % of 9.99 = 1.998 -> 2.00
      {{1001}, 1, 1000, 1001, 1, 100, 1100, 0},           // tax on the discounted amount
      {{-300}, 100, 0, -300, 0, 0, 0, -300},              // no discount on credits
  };
  for (const auto& c : cases) {
    std::vector<InvoiceLine> lines;
    for (auto a : c.lines) lines.push_back(line(a));
    Totals t = compute_totals(lines, c.discount, c.tax_bp);
    EXPECT_EQ(t.subtotal, c.subtotal);
    EXPECT_EQ(t.discount, c.applied_discount);
    EXPECT_EQ(t.tax, c.tax);
    EXPECT_EQ(t.total, c.total);
    EXPECT_EQ(t.carried_credit, c.carried);
  }
}

TEST(ComputeTotals, TotalIsNeverNegativeAndLinesBalanceAfterCarrying) {
  for (std::int64_t charge = 0; charge <= 3000; charge += 137)
    for (std::int64_t credit = 0; credit <= 3000; credit += 211)
      for (std::int64_t discount = 0; discount <= 1000; discount += 333) {
        Totals t = compute_totals({line(charge), line(-credit, true)}, discount, 0);
        EXPECT_GE(t.total, 0);
        EXPECT_LE(t.carried_credit, 0);
        // What the invoice charges plus what it carries equals what it was asked to settle.
        EXPECT_EQ(t.total + t.carried_credit, charge - credit - t.discount);
      }
}

TEST(NextRetryAt, FollowsTheScheduleFromTheFirstFailureThenStops) {
  DunningSettings s;  // 1, 3, 5, 7 days
  Timestamp first = 1'000'000;
  EXPECT_EQ(*next_retry_at(s, first, 1), first + 1 * 86400);
  EXPECT_EQ(*next_retry_at(s, first, 2), first + 3 * 86400);
  EXPECT_EQ(*next_retry_at(s, first, 4), first + 7 * 86400);
  EXPECT_FALSE(next_retry_at(s, first, 5).has_value());
  EXPECT_FALSE(next_retry_at(s, first, 0).has_value());
}

TEST(DunningSettings, RefusesUnsortedDuplicateOrOutOfRangeSchedules) {
  EXPECT_TRUE(validate(DunningSettings{{1, 3, 5, 7}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{3, 1}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{2, 2}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{0}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{61}}).ok());
}

TEST(FailureRateAlert, FiresOnAJumpNotOnAConstantlyHighRate) {
  EXPECT_TRUE(failure_rate_is_alarming(0.5, 0.05));
  EXPECT_FALSE(failure_rate_is_alarming(0.15, 0.02));  // under 20 %
  EXPECT_FALSE(failure_rate_is_alarming(0.3, 0.25));   // usual for this merchant
  EXPECT_TRUE(failure_rate_is_alarming(0.3, 0.0));
}

TEST(AttemptKey, IsStablePerInvoiceAndAttempt) {
  EXPECT_EQ(attempt_key("in_1", 2), "in_1:attempt:2");
  EXPECT_NE(attempt_key("in_1", 1), attempt_key("in_1", 2));
}

}  // namespace
}  // namespace recur::billing
