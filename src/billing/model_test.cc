// Billing's pure rules: invoice totals, the dunning schedule, the failure-rate alert.
#include "billing/model.h"

#include <gtest/gtest.h>

#include "subscriptions/subscription.h"

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
      // A 20 % discount (440 of 2200) comes off the charge before the credit is weighed:
      // 2200 - 440 - 3868 leaves 2108 to carry, not 1668.
      {{2200, -3868}, 440, 0, -1668, 440, 0, 0, -2108},
      {{2200, -360}, 440, 1000, 1840, 440, 140, 1540, 0},  // tax on what is left after both
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

// A plan change to a new cadence: the unused share of what was paid for the current
// period is credited (`subscriptions::prorate`), the new period starts at the change
// (`restart_period`, which prices it with the subscription's discount and uses up one of
// its cycles), and its invoice is `invoice_period`. The discount must come off the new
// period before the credit is weighed, whatever kind of discount it is.
TEST(PeriodInvoice, ACadenceChangeKeepsTheDiscountOfTheNewPeriodAndCarriesTheRestOfTheCredit) {
  using subscriptions::Discount;
  using subscriptions::kForever;
  const Cadence monthly{Interval::kMonth, 1};
  const Cadence weekly{Interval::kWeek, 1};
  const Timestamp april = parse_rfc3339("2026-04-01T00:00:00Z").value();
  const Timestamp may = parse_rfc3339("2026-05-01T00:00:00Z").value();  // April: 30 days
  const Timestamp early = parse_rfc3339("2026-04-04T00:00:00Z").value();  // 27 days unused: 0.9
  const Timestamp late = parse_rfc3339("2026-04-28T00:00:00Z").value();   // 3 days unused: 0.1
  auto percent = [](std::int64_t pct, std::int64_t cycles) { return Discount{pct, cycles, "coupon:c"}; };
  auto amount = [](std::int64_t off, std::int64_t cycles) {
    Discount d{0, cycles, "coupon:c"};
    d.amount_off = off;
    d.currency = "usd";
    return d;
  };
  struct Case {
    const char* name;
    std::optional<Discount> discount;  // as it stands at the change
    std::int64_t april_paid;           // what April cost (its own discount, if it had one)
    Timestamp change_at;
    std::int64_t tax_bp;
    std::int64_t credit, period_amount, discount_applied, tax, total, carried;
    std::optional<std::int64_t> cycles_after;  // none: the discount is used up
  };
  // Monthly 4500 -> weekly 2200.
  const Case cases[] = {
      {"20 % forever", percent(20, kForever), 3600, early, 0, -3240, 1760, 440, 0, 0, -1480, kForever},
      {"20 % repeating, 2 cycles left", percent(20, 2), 3600, early, 0, -3240, 1760, 440, 0, 0, -1480, 1},
      {"20 % once, redeemed mid-April", percent(20, 1), 4500, early, 0, -4050, 1760, 440, 0, 0, -2290, std::nullopt},
      {"20 % once, used up by April", std::nullopt, 3600, early, 0, -3240, 2200, 0, 0, 0, -1040, std::nullopt},
      {"500 off forever", amount(500, kForever), 4000, early, 0, -3600, 1700, 500, 0, 0, -1900, kForever},
      {"500 off repeating, 1 cycle left", amount(500, 1), 4000, early, 0, -3600, 1700, 500, 0, 0, -1900, std::nullopt},
      {"3000 off once, more than the week", amount(3000, 1), 4500, early, 0, -4050, 0, 2200, 0, 0, -4050,
       std::nullopt},
      {"20 % forever, late change, 10 % tax", percent(20, kForever), 3600, late, 1000, -360, 1760, 440, 140, 1540, 0,
       kForever},
  };
  catalog::Plan week_plan;
  week_plan.id = "plan_week";
  week_plan.name = "Weekly";
  week_plan.amount = 2200;
  week_plan.currency = "usd";
  week_plan.cadence = weekly;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    subscriptions::Subscription sub;
    sub.plan = "plan_month";
    sub.billing_cycle_anchor = april;
    sub.current = {april, may};
    sub.current_amount = c.april_paid;
    sub.discount = c.discount;
    auto proration = subscriptions::prorate({4500, 1, monthly, "Monthly", c.april_paid}, {2200, 1, weekly, "Weekly"},
                                            sub.current, c.change_at);
    ASSERT_TRUE(proration.resets_anchor);
    ASSERT_EQ(proration.lines.size(), 2u);
    EXPECT_EQ(proration.lines[0].amount, c.credit);
    auto period = subscriptions::restart_period(sub, week_plan, c.change_at);
    EXPECT_EQ(period.amount, c.period_amount);
    std::vector<InvoiceLine> lines = {{"Weekly", period.unit_amount * period.quantity, 1, period.period, false},
                                      {"Unused time on Monthly", c.credit, 1, period.period, true}};
    auto inv = invoice_period(lines, period.unit_amount * period.quantity - period.amount, c.tax_bp, period.period);
    EXPECT_EQ(inv.totals.discount, c.discount_applied);
    EXPECT_EQ(inv.totals.tax, c.tax);
    EXPECT_EQ(inv.totals.total, c.total);
    EXPECT_EQ(inv.carried, c.carried);
    // Charge - discount + tax - credit = what is charged now + what the next invoice takes off.
    EXPECT_EQ(inv.totals.total + inv.carried, 2200 - c.discount_applied + c.tax + c.credit);
    ASSERT_EQ(inv.lines.size(), c.carried < 0 ? 3u : 2u);
    if (c.carried < 0) {
      EXPECT_EQ(inv.lines[2].description, kCarriedCreditLine);
      EXPECT_EQ(inv.lines[2].amount, -c.carried);
    }
    ASSERT_EQ(sub.discount.has_value(), c.cycles_after.has_value());
    if (c.cycles_after) {
      EXPECT_EQ(sub.discount->cycles_remaining, *c.cycles_after);
    }
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
