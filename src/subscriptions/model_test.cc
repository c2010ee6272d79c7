// Worked examples for proration and the lifecycle state machine (the calendar's are in
// platform/calendar_test.cc).
#include "subscriptions/model.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <utility>

#include "testing/calendar_examples.h"

namespace recur::subscriptions {
namespace {

using namespace recur::testing;  // at() and the cadences of the worked examples

std::pair<std::string, std::string> text(const Period& p) {
  return {format_rfc3339(p.start), format_rfc3339(p.end)};
}

using Span = std::pair<std::string, std::string>;

// ---------------------------------------------------------------- names

TEST(Names, StatusesRoundTripThroughText) {
  const std::vector<std::string_view> expected = {"scheduled", "trialing", "active",  "paused",
                                                  "past_due",  "unpaid",   "canceled", "incomplete", "incomplete_expired"};
  std::vector<std::string_view> actual;
  for (Status s : kAllStatuses) {
    actual.push_back(to_string(s));
    EXPECT_EQ(parse_status(to_string(s)), s);
  }
  EXPECT_EQ(actual, expected);
  EXPECT_FALSE(parse_status("cancelled").has_value());
  EXPECT_FALSE(parse_status("ACTIVE").has_value());
}

TEST(Renewal, OnlyTrialingActiveAndPastDueRenewAtPeriodEnd) {
  const std::map<Status, bool> expected = {
      {Status::kScheduled, false}, {Status::kTrialing, true}, {Status::kActive, true},    {Status::kPaused, false},
      {Status::kPastDue, true},    {Status::kUnpaid, false},  {Status::kCanceled, false},
      {Status::kIncomplete, false}, {Status::kIncompleteExpired, false},
  };
  for (Status s : kAllStatuses) EXPECT_EQ(renews_at_period_end(s), expected.at(s)) << to_string(s);
}

TEST(Names, ActionsAreSnakeCase) {
  const std::vector<std::string_view> expected = {
      "start",       "end_trial", "renew",      "payment_failed",       "payment_recovered",
      "pause",       "resume",    "skip",       "change_plan",          "update",
      "cancel_now",  "cancel_at_period_end",    "reactivate",           "period_end_cancel",
      "delete",      "mark_unpaid", "activate", "expire"};
  std::vector<std::string_view> actual;
  for (Action a : kAllActions) actual.push_back(to_string(a));
  EXPECT_EQ(actual, expected);
}

// ---------------------------------------------------------------- proration

PriceAndCadence plan(std::string name, std::int64_t unit_amount, Cadence cadence,
                     std::int64_t quantity = 1) {
  return {unit_amount, quantity, cadence, std::move(name)};
}

// 2026-04-01T00:00:00Z .. 2026-05-01T00:00:00Z: 30 days, 2,592,000 s.
constexpr Period kApril2026{1775001600, 1777593600};

TEST(Prorate, FixtureAprilIsThirtyDays) {
  EXPECT_EQ(text(kApril2026), Span("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"));
}

TEST(Prorate, UpgradeAtMidMonthCreditsHalfAndChargesHalf) {
  // 15 of 30 days unused: -3000/2 and +5000/2.
  const auto r = prorate(plan("Basic", 3000, kMonthly), plan("Pro", 5000, kMonthly), kApril2026,
                         at("2026-04-16T00:00:00Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].amount, -1500);
  EXPECT_EQ(r.lines[1].amount, 2500);
  EXPECT_EQ(r.total, 1000);
  EXPECT_FALSE(r.resets_anchor);
  EXPECT_EQ(text(r.new_period), Span("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"));
}

TEST(Prorate, LinesDescribeThePlanQuantityAndChangeTime) {
  const auto r = prorate(plan("Basic", 3000, kMonthly), plan("Pro", 5000, kMonthly), kApril2026,
                         at("2026-04-16T00:00:00Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].description, "Unused time on Basic × 1 after 2026-04-16T00:00:00Z");
  EXPECT_EQ(r.lines[1].description, "Remaining time on Pro × 1 after 2026-04-16T00:00:00Z");
  for (const ProrationLine& line : r.lines) {
    EXPECT_EQ(line.quantity, 1);
    EXPECT_EQ(format_rfc3339(line.period.start), "2026-04-16T00:00:00Z");
    EXPECT_EQ(format_rfc3339(line.period.end), "2026-05-01T00:00:00Z");
  }
}

TEST(Prorate, IsComputedToTheSecond) {
  // Unused: 2026-04-16T12:34:56Z .. 2026-05-01 = 14 d 11:25:04 = 1,250,704 s of 2,592,000.
  // Credit 3000 * 1250704 / 2592000 = 1447.574 -> 1448; charge 5000 * ... = 2412.623 -> 2413.
  const auto r = prorate(plan("Basic", 3000, kMonthly), plan("Pro", 5000, kMonthly), kApril2026,
                         at("2026-04-16T12:34:56Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].amount, -1448);
  EXPECT_EQ(r.lines[1].amount, 2413);
  EXPECT_EQ(r.total, 965);
}

TEST(Prorate, OddAmountsRoundEachLineToTheNearestMinorUnit) {
  // January 2026 is 2,678,400 s; from 2026-01-11T07:13:20Z 1,788,400 s remain.
  // Credit 1999 * 1788400 / 2678400 = 1334.756 -> 1335 (up); charge 2999 * ... = 2002.468 -> 2002.
  const Period january{at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z")};
  const auto r = prorate(plan("Starter", 1999, kMonthly), plan("Growth", 2999, kMonthly), january,
                         at("2026-01-11T07:13:20Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].amount, -1335);
  EXPECT_EQ(r.lines[1].amount, 2002);
  EXPECT_EQ(r.total, 667);
}

TEST(Prorate, ExactHalvesRoundAwayFromZeroOnBothLines) {
  // Half of 2999 is 1499.5 -> credit -1500 (not -1499); half of 4999 is 2499.5 -> 2500.
  const auto r = prorate(plan("Odd", 2999, kMonthly), plan("Odder", 4999, kMonthly), kApril2026,
                         at("2026-04-16T00:00:00Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].amount, -1500);
  EXPECT_EQ(r.lines[1].amount, 2500);
  EXPECT_EQ(r.total, 1000);
}

TEST(Prorate, DowngradeGivesANegativeTotal) {
  // From 2026-04-21T17:45:03Z, 800,097 s remain: 5000 * 800097 / 2592000 = 1543.397 -> 1543,
  // 3000 * 800097 / 2592000 = 926.038 -> 926.
  const auto r = prorate(plan("Pro", 5000, kMonthly), plan("Basic", 3000, kMonthly), kApril2026,
                         at("2026-04-21T17:45:03Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].amount, -1543);
  EXPECT_EQ(r.lines[1].amount, 926);
  EXPECT_EQ(r.total, -617);
}

TEST(Prorate, QuantityMultipliesTheUnitPriceBeforeProrating) {
  // February 2026 is 28 days; from 2026-02-20T06:00:00Z 8.75 days remain (756,000 s).
  // Credit 3 x 1200 * 8.75 / 28 = 1125; charge 5 x 1200 * 8.75 / 28 = 1875.
  const Period february{at("2026-02-01T00:00:00Z"), at("2026-03-01T00:00:00Z")};
  const auto r = prorate(plan("Seat", 1200, kMonthly, 3), plan("Seat", 1200, kMonthly, 5),
                         february, at("2026-02-20T06:00:00Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].amount, -1125);
  EXPECT_EQ(r.lines[0].quantity, 3);
  EXPECT_EQ(r.lines[0].description, "Unused time on Seat × 3 after 2026-02-20T06:00:00Z");
  EXPECT_EQ(r.lines[1].amount, 1875);
  EXPECT_EQ(r.lines[1].quantity, 5);
  EXPECT_EQ(r.total, 750);
}

TEST(Prorate, NothingPaidForThePeriodMeansNoCreditLine) {
  const auto r = prorate(plan("Free", 0, kMonthly), plan("Pro", 2500, kMonthly), kApril2026,
                         at("2026-04-16T00:00:00Z"));
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0].amount, 1250);
  EXPECT_EQ(r.total, 1250);
  auto skipped = plan("Basic", 3000, kMonthly);
  skipped.paid = 0;  // the period was skipped: nothing to give back
  EXPECT_EQ(prorate(skipped, plan("Pro", 2500, kMonthly), kApril2026, at("2026-04-16T00:00:00Z")).total, 1250);
}

TEST(Prorate, CreditIsAShareOfWhatWasPaidNotOfTheListPrice) {
  auto discounted = plan("Basic", 3000, kMonthly);
  discounted.paid = 2400;  // 20% retention discount on this period
  const auto r = prorate(discounted, plan("Pro", 5000, kMonthly), kApril2026, at("2026-04-16T00:00:00Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].amount, -1200);  // 2400 * 15/30
  EXPECT_EQ(r.lines[1].amount, 2500);
  EXPECT_EQ(r.total, 1300);
}

TEST(Prorate, ChangeAtThePeriodStartCreditsAndChargesInFull) {
  const auto r = prorate(plan("Basic", 3000, kMonthly), plan("Pro", 5000, kMonthly), kApril2026,
                         kApril2026.start);
  EXPECT_EQ(r.lines[0].amount, -3000);
  EXPECT_EQ(r.lines[1].amount, 5000);
  EXPECT_EQ(r.total, 2000);
}

TEST(Prorate, CadenceChangeChargesTheNewPlanInFullAndResetsTheAnchor) {
  // Weekly $10 period 2026-01-05 .. 01-12, change at 01-08T12:00: 3.5 of 7 days unused -> -500.
  // Monthly $40 charged in full for 2026-01-08T12:00 .. 2026-02-08T12:00.
  const Period week{at("2026-01-05T00:00:00Z"), at("2026-01-12T00:00:00Z")};
  const auto r = prorate(plan("Weekly box", 1000, kWeekly), plan("Monthly box", 4000, kMonthly),
                         week, at("2026-01-08T12:00:00Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].amount, -500);
  EXPECT_EQ(format_rfc3339(r.lines[0].period.end), "2026-01-12T00:00:00Z");
  EXPECT_EQ(r.lines[1].amount, 4000);
  EXPECT_EQ(r.lines[1].description,
            "Monthly box × 1 from 2026-01-08T12:00:00Z to 2026-02-08T12:00:00Z");
  EXPECT_EQ(format_rfc3339(r.lines[1].period.start), "2026-01-08T12:00:00Z");
  EXPECT_EQ(format_rfc3339(r.lines[1].period.end), "2026-02-08T12:00:00Z");
  EXPECT_EQ(r.total, 3500);
  EXPECT_TRUE(r.resets_anchor);
  EXPECT_EQ(text(r.new_period), Span("2026-01-08T12:00:00Z", "2026-02-08T12:00:00Z"));
}

TEST(Prorate, SameIntervalWithADifferentCountIsACadenceChange) {
  const auto r = prorate(plan("Monthly", 3000, kMonthly), plan("Quarterly", 8000, kQuarterly),
                         kApril2026, at("2026-04-16T00:00:00Z"));
  EXPECT_TRUE(r.resets_anchor);
  EXPECT_EQ(r.lines[1].amount, 8000);
  EXPECT_EQ(text(r.new_period), Span("2026-04-16T00:00:00Z", "2026-07-16T00:00:00Z"));
  EXPECT_EQ(r.total, 6500);
}

TEST(Prorate, RefusesAChangeTimeOutsideThePeriod) {
  const auto basic = plan("Basic", 3000, kMonthly);
  EXPECT_THROW((void)prorate(basic, basic, kApril2026, kApril2026.end), std::invalid_argument);
  EXPECT_THROW((void)prorate(basic, basic, kApril2026, kApril2026.start - 1),
               std::invalid_argument);
}

// Deterministic pseudo-random numbers so a failure reproduces.
class Lcg {
 public:
  std::int64_t next(std::int64_t bound) {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::int64_t>((state_ >> 33) % static_cast<std::uint64_t>(bound));
  }

 private:
  std::uint64_t state_ = 20260131;
};

TEST(ProrateProperty, SameCadenceLinesNeverExceedTheFullPrices) {
  Lcg rng;
  for (int i = 0; i < 20000; ++i) {
    const std::int64_t old_price = rng.next(1000000);
    const std::int64_t new_price = rng.next(1000000);
    const Timestamp at_time = kApril2026.start + rng.next(kApril2026.end - kApril2026.start);
    const auto r = prorate(plan("A", old_price, kMonthly), plan("B", new_price, kMonthly),
                           kApril2026, at_time);
    ASSERT_LE(-r.lines[0].amount, old_price);
    ASSERT_GE(-r.lines[0].amount, 0);
    ASSERT_LE(r.lines[1].amount, new_price);
    ASSERT_GE(r.lines[1].amount, 0);
  }
}

TEST(ProrateProperty, ChangingToTheSamePriceNetsToZero) {
  Lcg rng;
  for (int i = 0; i < 2000; ++i) {
    const auto p = plan("A", rng.next(1000000), kMonthly);
    const Timestamp at_time = kApril2026.start + rng.next(kApril2026.end - kApril2026.start);
    ASSERT_EQ(prorate(p, p, kApril2026, at_time).total, 0);
  }
}

TEST(ProrateProperty, SplittingAPeriodDriftsAtMostHalfAMinorUnitPerLine) {
  // The customer pays the first plan up front, then each change's total. The exact cost is
  // sum(price_i * length_i) / period; every rounded line may move it by at most 1/2.
  Lcg rng;
  const std::int64_t period = kApril2026.end - kApril2026.start;
  for (int trial = 0; trial < 500; ++trial) {
    const int changes = 1 + static_cast<int>(rng.next(8));
    std::set<Timestamp> cuts;
    while (static_cast<int>(cuts.size()) < changes) {
      cuts.insert(kApril2026.start + 1 + rng.next(period - 1));
    }
    auto current = plan("P0", rng.next(100000), kMonthly);
    std::int64_t paid = current.unit_amount;
    std::int64_t exact_times_period = 0;  // sum(price_i * length_i), in minor units x seconds
    Timestamp piece_start = kApril2026.start;
    int lines = 0;
    for (Timestamp cut : cuts) {
      auto next = plan("P", rng.next(100000), kMonthly);
      const auto r = prorate(current, next, kApril2026, cut);
      paid += r.total;
      lines += static_cast<int>(r.lines.size());
      exact_times_period += current.unit_amount * (cut - piece_start);
      piece_start = cut;
      current = next;
    }
    exact_times_period += current.unit_amount * (kApril2026.end - piece_start);
    const std::int64_t drift_times_period = paid * period - exact_times_period;
    ASSERT_LE(2 * std::abs(drift_times_period), lines * period) << "trial " << trial;
  }
}

// ---------------------------------------------------------------- state machine

// A context under which no context rule fires, so the table below checks the status
// machine alone; the context rules have their own tests.
TransitionContext without_context_conflicts(Action action) {
  TransitionContext ctx;
  ctx.cancel_at_period_end = action == Action::kReactivate || action == Action::kPeriodEndCancel;
  return ctx;
}

struct Expected {
  Status from;
  Action action;
  std::string_view outcome;  // the next status, or the error code when the move is refused
};

constexpr std::string_view kInvalid = "invalid_state_transition";
constexpr std::string_view kIsCanceled = "subscription_canceled";
constexpr std::string_view kIsIncomplete = "subscription_incomplete";
constexpr std::string_view kIsExpired = "subscription_expired";
constexpr std::string_view kAlreadyPaused = "subscription_already_paused";
constexpr std::string_view kNotPaused = "subscription_not_paused";

using S = Status;
using A = Action;

// All 162 (status, action) pairs. Changing the machine must change this table.
constexpr Expected kMachine[] = {
    {S::kScheduled, A::kStart, "active"},
    {S::kScheduled, A::kEndTrial, kInvalid},
    {S::kScheduled, A::kRenew, kInvalid},
    {S::kScheduled, A::kPaymentFailed, kInvalid},
    {S::kScheduled, A::kPaymentRecovered, kInvalid},
    {S::kScheduled, A::kPause, kInvalid},
    {S::kScheduled, A::kResume, kNotPaused},
    {S::kScheduled, A::kSkip, kInvalid},
    {S::kScheduled, A::kChangePlan, "scheduled"},
    {S::kScheduled, A::kUpdate, "scheduled"},
    {S::kScheduled, A::kCancelNow, "canceled"},
    {S::kScheduled, A::kCancelAtPeriodEnd, kInvalid},
    {S::kScheduled, A::kReactivate, kInvalid},
    {S::kScheduled, A::kPeriodEndCancel, kInvalid},
    {S::kScheduled, A::kDelete, "scheduled"},
    {S::kScheduled, A::kMarkUnpaid, kInvalid},
    {S::kScheduled, A::kActivate, kInvalid},
    {S::kScheduled, A::kExpire, kInvalid},

    {S::kTrialing, A::kStart, kInvalid},
    {S::kTrialing, A::kEndTrial, "active"},
    {S::kTrialing, A::kRenew, kInvalid},
    {S::kTrialing, A::kPaymentFailed, kInvalid},
    {S::kTrialing, A::kPaymentRecovered, kInvalid},
    {S::kTrialing, A::kPause, "paused"},
    {S::kTrialing, A::kResume, kNotPaused},
    {S::kTrialing, A::kSkip, "trialing"},
    {S::kTrialing, A::kChangePlan, "trialing"},
    {S::kTrialing, A::kUpdate, "trialing"},
    {S::kTrialing, A::kCancelNow, "canceled"},
    {S::kTrialing, A::kCancelAtPeriodEnd, "trialing"},
    {S::kTrialing, A::kReactivate, "trialing"},
    {S::kTrialing, A::kPeriodEndCancel, "canceled"},
    {S::kTrialing, A::kDelete, "trialing"},
    {S::kTrialing, A::kMarkUnpaid, kInvalid},
    {S::kTrialing, A::kActivate, kInvalid},
    {S::kTrialing, A::kExpire, kInvalid},

    {S::kActive, A::kStart, kInvalid},
    {S::kActive, A::kEndTrial, kInvalid},
    {S::kActive, A::kRenew, "active"},
    {S::kActive, A::kPaymentFailed, "past_due"},
    {S::kActive, A::kPaymentRecovered, kInvalid},
    {S::kActive, A::kPause, "paused"},
    {S::kActive, A::kResume, kNotPaused},
    {S::kActive, A::kSkip, "active"},
    {S::kActive, A::kChangePlan, "active"},
    {S::kActive, A::kUpdate, "active"},
    {S::kActive, A::kCancelNow, "canceled"},
    {S::kActive, A::kCancelAtPeriodEnd, "active"},
    {S::kActive, A::kReactivate, "active"},
    {S::kActive, A::kPeriodEndCancel, "canceled"},
    {S::kActive, A::kDelete, "active"},
    {S::kActive, A::kMarkUnpaid, kInvalid},
    {S::kActive, A::kActivate, kInvalid},
    {S::kActive, A::kExpire, kInvalid},

    {S::kPaused, A::kStart, kInvalid},
    {S::kPaused, A::kEndTrial, kInvalid},
    {S::kPaused, A::kRenew, kInvalid},
    {S::kPaused, A::kPaymentFailed, kInvalid},
    {S::kPaused, A::kPaymentRecovered, kInvalid},
    {S::kPaused, A::kPause, kAlreadyPaused},
    {S::kPaused, A::kResume, "active"},
    {S::kPaused, A::kSkip, kInvalid},
    {S::kPaused, A::kChangePlan, kInvalid},
    {S::kPaused, A::kUpdate, "paused"},
    {S::kPaused, A::kCancelNow, "canceled"},
    {S::kPaused, A::kCancelAtPeriodEnd, "paused"},
    {S::kPaused, A::kReactivate, "paused"},
    {S::kPaused, A::kPeriodEndCancel, "canceled"},
    {S::kPaused, A::kDelete, kInvalid},
    {S::kPaused, A::kMarkUnpaid, kInvalid},
    {S::kPaused, A::kActivate, kInvalid},
    {S::kPaused, A::kExpire, kInvalid},

    {S::kPastDue, A::kStart, kInvalid},
    {S::kPastDue, A::kEndTrial, kInvalid},
    {S::kPastDue, A::kRenew, "past_due"},
    {S::kPastDue, A::kPaymentFailed, "past_due"},
    {S::kPastDue, A::kPaymentRecovered, "active"},
    {S::kPastDue, A::kPause, "paused"},
    {S::kPastDue, A::kResume, kNotPaused},
    {S::kPastDue, A::kSkip, kInvalid},
    {S::kPastDue, A::kChangePlan, "past_due"},
    {S::kPastDue, A::kUpdate, "past_due"},
    {S::kPastDue, A::kCancelNow, "canceled"},
    {S::kPastDue, A::kCancelAtPeriodEnd, "past_due"},
    {S::kPastDue, A::kReactivate, "past_due"},
    {S::kPastDue, A::kPeriodEndCancel, "canceled"},
    {S::kPastDue, A::kDelete, kInvalid},
    {S::kPastDue, A::kMarkUnpaid, "unpaid"},
    {S::kPastDue, A::kActivate, kInvalid},
    {S::kPastDue, A::kExpire, kInvalid},

    {S::kUnpaid, A::kStart, kInvalid},
    {S::kUnpaid, A::kEndTrial, kInvalid},
    {S::kUnpaid, A::kRenew, "unpaid"},
    {S::kUnpaid, A::kPaymentFailed, "unpaid"},
    {S::kUnpaid, A::kPaymentRecovered, "active"},
    {S::kUnpaid, A::kPause, kInvalid},
    {S::kUnpaid, A::kResume, kNotPaused},
    {S::kUnpaid, A::kSkip, kInvalid},
    {S::kUnpaid, A::kChangePlan, "unpaid"},
    {S::kUnpaid, A::kUpdate, "unpaid"},
    {S::kUnpaid, A::kCancelNow, "canceled"},
    {S::kUnpaid, A::kCancelAtPeriodEnd, "unpaid"},
    {S::kUnpaid, A::kReactivate, "unpaid"},
    {S::kUnpaid, A::kPeriodEndCancel, "canceled"},
    {S::kUnpaid, A::kDelete, kInvalid},
    {S::kUnpaid, A::kMarkUnpaid, kInvalid},
    {S::kUnpaid, A::kActivate, kInvalid},
    {S::kUnpaid, A::kExpire, kInvalid},

    {S::kCanceled, A::kStart, kIsCanceled},
    {S::kCanceled, A::kEndTrial, kIsCanceled},
    {S::kCanceled, A::kRenew, kIsCanceled},
    {S::kCanceled, A::kPaymentFailed, kIsCanceled},
    {S::kCanceled, A::kPaymentRecovered, kIsCanceled},
    {S::kCanceled, A::kPause, kIsCanceled},
    {S::kCanceled, A::kResume, kIsCanceled},
    {S::kCanceled, A::kSkip, kIsCanceled},
    {S::kCanceled, A::kChangePlan, kIsCanceled},
    {S::kCanceled, A::kUpdate, kIsCanceled},
    {S::kCanceled, A::kCancelNow, kIsCanceled},
    {S::kCanceled, A::kCancelAtPeriodEnd, kIsCanceled},
    {S::kCanceled, A::kReactivate, kIsCanceled},
    {S::kCanceled, A::kPeriodEndCancel, kIsCanceled},
    {S::kCanceled, A::kDelete, "canceled"},
    {S::kCanceled, A::kMarkUnpaid, kIsCanceled},
    {S::kCanceled, A::kActivate, kIsCanceled},
    {S::kCanceled, A::kExpire, kIsCanceled},
    {S::kIncomplete, A::kStart, kIsIncomplete},
    {S::kIncomplete, A::kEndTrial, kIsIncomplete},
    {S::kIncomplete, A::kRenew, kIsIncomplete},
    {S::kIncomplete, A::kPaymentFailed, kIsIncomplete},
    {S::kIncomplete, A::kPaymentRecovered, kIsIncomplete},
    {S::kIncomplete, A::kPause, kIsIncomplete},
    {S::kIncomplete, A::kResume, kIsIncomplete},
    {S::kIncomplete, A::kSkip, kIsIncomplete},
    {S::kIncomplete, A::kChangePlan, kIsIncomplete},
    {S::kIncomplete, A::kUpdate, "incomplete"},
    {S::kIncomplete, A::kCancelNow, "canceled"},
    {S::kIncomplete, A::kCancelAtPeriodEnd, kIsIncomplete},
    {S::kIncomplete, A::kReactivate, kIsIncomplete},
    {S::kIncomplete, A::kPeriodEndCancel, kIsIncomplete},
    {S::kIncomplete, A::kDelete, kIsIncomplete},
    {S::kIncomplete, A::kMarkUnpaid, kIsIncomplete},
    {S::kIncomplete, A::kActivate, "active"},
    {S::kIncomplete, A::kExpire, "incomplete_expired"},
    {S::kIncompleteExpired, A::kStart, kIsExpired},
    {S::kIncompleteExpired, A::kEndTrial, kIsExpired},
    {S::kIncompleteExpired, A::kRenew, kIsExpired},
    {S::kIncompleteExpired, A::kPaymentFailed, kIsExpired},
    {S::kIncompleteExpired, A::kPaymentRecovered, kIsExpired},
    {S::kIncompleteExpired, A::kPause, kIsExpired},
    {S::kIncompleteExpired, A::kResume, kIsExpired},
    {S::kIncompleteExpired, A::kSkip, kIsExpired},
    {S::kIncompleteExpired, A::kChangePlan, kIsExpired},
    {S::kIncompleteExpired, A::kUpdate, kIsExpired},
    {S::kIncompleteExpired, A::kCancelNow, kIsExpired},
    {S::kIncompleteExpired, A::kCancelAtPeriodEnd, kIsExpired},
    {S::kIncompleteExpired, A::kReactivate, kIsExpired},
    {S::kIncompleteExpired, A::kPeriodEndCancel, kIsExpired},
    {S::kIncompleteExpired, A::kDelete, kIsExpired},
    {S::kIncompleteExpired, A::kMarkUnpaid, kIsExpired},
    {S::kIncompleteExpired, A::kActivate, kIsExpired},
    {S::kIncompleteExpired, A::kExpire, kIsExpired},
};

std::string_view outcome(const Result<Status>& r) {
  if (r.ok()) return to_string(*r);
  return r.error().code;
}

TEST(Transition, TableCoversEveryStatusAndActionExactlyOnce) {
  std::set<std::pair<Status, Action>> seen;
  for (const Expected& e : kMachine) EXPECT_TRUE(seen.insert({e.from, e.action}).second);
  EXPECT_EQ(seen.size(), std::size(kAllStatuses) * std::size(kAllActions));
  for (Status s : kAllStatuses) {
    for (Action a : kAllActions) {
      EXPECT_TRUE(seen.count({s, a})) << to_string(s) << " " << to_string(a);
    }
  }
}

TEST(Transition, EveryStatusAndActionPairMatchesTheTable) {
  for (const Expected& e : kMachine) {
    const auto r = transition(e.from, e.action, without_context_conflicts(e.action));
    EXPECT_EQ(outcome(r), e.outcome) << to_string(e.from) << " + " << to_string(e.action);
    if (!r.ok()) {
      EXPECT_EQ(r.error().kind, ErrorKind::kConflict);
    }
  }
}

TEST(Transition, StartWithATrialLandsInTrialing) {
  const auto r = transition(Status::kScheduled, Action::kStart, {.has_trial = true});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Status::kTrialing);
}

TEST(Transition, RefusalMessageNamesTheActionAndTheStatus) {
  const auto paused_canceled = transition(Status::kCanceled, Action::kPause);
  ASSERT_FALSE(paused_canceled.ok());
  EXPECT_EQ(paused_canceled.error().message, "cannot pause a subscription that is canceled");
  const auto skip_paused = transition(Status::kPaused, Action::kSkip);
  ASSERT_FALSE(skip_paused.ok());
  EXPECT_EQ(skip_paused.error().message, "cannot skip a period of a subscription that is paused");
}

TEST(TransitionContextRules, SchedulingCancellationTwiceIsAConflict) {
  for (Status s : {Status::kTrialing, Status::kActive, Status::kPaused, Status::kPastDue, Status::kUnpaid}) {
    const auto r = transition(s, Action::kCancelAtPeriodEnd, {.cancel_at_period_end = true});
    EXPECT_EQ(outcome(r), "cancellation_already_scheduled") << to_string(s);
  }
}

TEST(TransitionContextRules, ReactivateNeedsAScheduledCancellation) {
  for (Status s : {Status::kTrialing, Status::kActive, Status::kPaused, Status::kPastDue, Status::kUnpaid}) {
    EXPECT_EQ(outcome(transition(s, Action::kReactivate, {})), "not_scheduled_for_cancellation")
        << to_string(s);
    EXPECT_EQ(outcome(transition(s, Action::kReactivate, {.cancel_at_period_end = true})),
              to_string(s));
  }
}

TEST(TransitionContextRules, PeriodEndCancelNeedsAScheduledCancellation) {
  for (Status s : {Status::kTrialing, Status::kActive, Status::kPaused, Status::kPastDue, Status::kUnpaid}) {
    EXPECT_EQ(outcome(transition(s, Action::kPeriodEndCancel, {})),
              "not_scheduled_for_cancellation")
        << to_string(s);
    EXPECT_EQ(outcome(transition(s, Action::kPeriodEndCancel, {.cancel_at_period_end = true})),
              "canceled");
  }
}

TEST(TransitionContextRules, AnIllegalMoveIsReportedBeforeTheContext) {
  EXPECT_EQ(outcome(transition(Status::kCanceled, Action::kReactivate, {})), kIsCanceled);
  EXPECT_EQ(outcome(transition(Status::kScheduled, Action::kCancelAtPeriodEnd,
                               {.cancel_at_period_end = true})),
            kInvalid);
}

TEST(TransitionContextRules, OtherActionsIgnoreAPendingCancellation) {
  EXPECT_EQ(outcome(transition(Status::kActive, Action::kRenew, {.cancel_at_period_end = true})),
            "active");
  EXPECT_EQ(
      outcome(transition(Status::kActive, Action::kCancelNow, {.cancel_at_period_end = true})),
      "canceled");
}

}  // namespace
}  // namespace recur::subscriptions
