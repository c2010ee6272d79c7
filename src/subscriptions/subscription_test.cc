// The pure lifecycle: begin, advance, resume and the upcoming calendar, without a database.
#include "subscriptions/subscription.h"

#include <gtest/gtest.h>

namespace recur::subscriptions {
namespace {

Timestamp at(const char* s) { return parse_rfc3339(s).value(); }

catalog::Plan plan(std::int64_t amount, Interval interval, int count = 1, std::int64_t trial = 0) {
  catalog::Plan p;
  p.id = "plan_" + std::to_string(amount);
  p.amount = amount;
  p.currency = "usd";
  p.cadence = {interval, count};
  p.trial_days = trial;
  return p;
}

Subscription started(const catalog::Plan& p, const char* start, const char* now) {
  Subscription s;
  s.id = "sub_1";
  s.plan = p.id;
  s.start_date = at(start);
  (void)begin(s, p, at(now));
  return s;
}

TEST(Lifecycle, AdvanceEmitsOneBillablePeriodPerRenewalInOrder) {
  auto p = plan(1000, Interval::kMonth);
  auto s = started(p, "2026-01-31T00:00:00Z", "2026-01-31T00:00:00Z");
  auto events = advance(s, {&p, nullptr}, at("2026-04-30T00:00:00Z"));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(format_rfc3339(events[0].period.start), "2026-02-28T00:00:00Z");
  EXPECT_EQ(format_rfc3339(events[1].period.start), "2026-03-31T00:00:00Z");
  EXPECT_EQ(format_rfc3339(events[2].period.start), "2026-04-30T00:00:00Z");
  for (const auto& e : events) {
    EXPECT_TRUE(e.billable);
    EXPECT_EQ(e.amount, 1000);
  }
  EXPECT_EQ(s.billed_periods, 4);
  EXPECT_TRUE(advance(s, {&p, nullptr}, at("2026-04-30T00:00:00Z")).empty());
}

TEST(Lifecycle, SnapshotsGiveEachStepTheSubscriptionBeforeAndAfterItAndOnlyWhenAsked) {
  auto p = plan(1000, Interval::kMonth, 1, 14);
  auto s = started(p, "2026-01-31T00:00:00Z", "2026-01-31T00:00:00Z");
  ASSERT_EQ(s.status, Status::kTrialing);
  Subscription skipped = s;
  for (const auto& e : advance(skipped, {&p, nullptr}, at("2026-03-20T00:00:00Z")))
    EXPECT_TRUE(e.before.is_null() && e.after.is_null()) << e.type;
  const Json first_before = to_json(s);
  auto events = advance(s, {&p, nullptr}, at("2026-03-20T00:00:00Z"), Snapshots::kTake);
  ASSERT_EQ(events.size(), 2u);  // the trial's end, then a renewal
  EXPECT_EQ(events[0].type, "subscription.trial_ended");
  EXPECT_EQ(events[0].before, first_before);
  EXPECT_EQ(events[0].after["status"], "active");
  EXPECT_EQ(events[0].after["current_period"], to_json(events[0].period));
  EXPECT_EQ(events[1].type, "subscription.renewed");
  EXPECT_EQ(events[1].before, events[0].after);
  EXPECT_EQ(events[1].after, to_json(s));
  EXPECT_EQ(to_json(skipped), to_json(s));  // taking them changes nothing else
}

TEST(Lifecycle, ScheduledWithTrialShowsTrialThenPaidPeriods) {
  auto p = plan(1500, Interval::kWeek, 2, 7);
  auto s = started(p, "2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z");
  EXPECT_EQ(s.status, Status::kScheduled);
  auto periods = upcoming(s, {&p, nullptr}, 3);
  ASSERT_EQ(periods.size(), 3u);
  EXPECT_TRUE(periods[0].trial);
  EXPECT_EQ(periods[0].amount, 0);
  EXPECT_EQ(format_rfc3339(periods[1].period.start), "2026-03-08T00:00:00Z");
  EXPECT_EQ(format_rfc3339(periods[1].period.end), "2026-03-22T00:00:00Z");
  EXPECT_EQ(periods[2].amount, 1500);
}

TEST(Lifecycle, UpcomingStopsAtAScheduledCancellationAndAnOpenEndedPause) {
  auto p = plan(1000, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  s.cancel_at_period_end = true;
  EXPECT_EQ(upcoming(s, {&p, nullptr}, 5).size(), 1u);
  s.cancel_at_period_end = false;
  s.status = Status::kPaused;
  s.pause = Pause{at("2026-01-05T00:00:00Z"), std::nullopt};
  EXPECT_EQ(upcoming(s, {&p, nullptr}, 5).size(), 1u);
  EXPECT_FALSE(next_action_at(s).has_value());
}

TEST(Lifecycle, NextBillableIsTheNextPeriodTheLifecycleWillInvoice) {
  struct Case {
    const char* name;
    Subscription sub;
    std::optional<const char*> starts;  // none: nothing will be billed again
    std::int64_t amount = 0;
  };
  auto monthly = plan(1000, Interval::kMonth);
  auto trial = plan(1500, Interval::kWeek, 2, 7);
  auto active = started(monthly, "2026-01-31T00:00:00Z", "2026-01-31T00:00:00Z");
  auto ending = active;
  ending.cancel_at_period_end = true;
  auto paused = active;
  paused.status = Status::kPaused;
  paused.pause = Pause{at("2026-02-05T00:00:00Z"), std::nullopt};
  auto resuming = paused;
  resuming.pause->resumes_at = at("2026-03-10T00:00:00Z");
  std::vector<Case> cases = {
      {"a renewal", active, "2026-02-28T00:00:00Z", 1000},
      {"a scheduled start after a trial", started(trial, "2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z"),
       "2026-03-08T00:00:00Z", 1500},
      {"ending at period end", ending, std::nullopt},
      {"paused without a date", paused, std::nullopt},
      {"a resumption", resuming, "2026-03-10T00:00:00Z", 1000},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const catalog::Plan& p = c.sub.plan == trial.id ? trial : monthly;
    auto next = next_billable(c.sub, {&p, nullptr});
    ASSERT_EQ(next.has_value(), c.starts.has_value());
    if (!next) continue;
    EXPECT_TRUE(next->event.billable);
    EXPECT_EQ(format_rfc3339(next->event.period.start), *c.starts);
    EXPECT_EQ(next->event.amount, c.amount);
    EXPECT_EQ(next->sub.id, c.sub.id);
  }
}

TEST(Lifecycle, UpcomingPeriodsAreContiguous) {
  auto p = plan(1000, Interval::kMonth, 3);
  auto s = started(p, "2026-08-31T12:00:00Z", "2026-08-31T12:00:00Z");
  auto periods = upcoming(s, {&p, nullptr}, 8);
  ASSERT_EQ(periods.size(), 8u);
  for (std::size_t i = 1; i < periods.size(); ++i) EXPECT_EQ(periods[i].period.start, periods[i - 1].period.end);
  EXPECT_EQ(format_rfc3339(periods[1].period.start), "2026-11-30T12:00:00Z");
  EXPECT_EQ(format_rfc3339(periods[2].period.start), "2027-02-28T12:00:00Z");
  EXPECT_EQ(format_rfc3339(periods[3].period.start), "2027-05-31T12:00:00Z");
}

TEST(Lifecycle, PeriodEndCancellationWhilePausedEndsTheSubscription) {
  auto p = plan(1000, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  s.status = Status::kPaused;
  s.pause = Pause{at("2026-01-10T00:00:00Z"), at("2026-06-01T00:00:00Z")};
  s.cancel_at_period_end = true;
  auto events = advance(s, {&p, nullptr}, at("2026-07-01T00:00:00Z"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "subscription.canceled");
  EXPECT_EQ(s.status, Status::kCanceled);
  EXPECT_EQ(format_rfc3339(*s.ended_at), "2026-02-01T00:00:00Z");
}

TEST(Lifecycle, DiscountAppliesToTheNextNBilledPeriodsRoundedHalfUp) {
  auto p = plan(999, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  s.discount = Discount{15, 2, "test"};
  auto events = advance(s, {&p, nullptr}, at("2026-04-01T00:00:00Z"));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].amount, 849);  // 999 - round(149.85) = 999 - 150
  EXPECT_EQ(events[1].amount, 849);
  EXPECT_EQ(events[2].amount, 999);
  EXPECT_FALSE(s.discount.has_value());
}

TEST(Lifecycle, APlanChangeDueAtTrialEndIsBilledOnTheNewPlan) {
  auto gold = plan(5000, Interval::kMonth, 1, 14);
  gold.id = "plan_gold";
  auto lite = plan(1000, Interval::kMonth);
  lite.id = "plan_lite";
  auto s = started(gold, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  s.pending_change = PendingChange{lite.id, 1, s.current.end};
  auto events = advance(s, {&gold, &lite}, at("2026-01-15T00:00:00Z"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "subscription.trial_ended");
  EXPECT_EQ(events[0].amount, 1000);
  EXPECT_EQ(s.plan, lite.id);
  EXPECT_FALSE(s.pending_change.has_value());
}

TEST(Lifecycle, ResumingAfterThePaidPeriodDropsSkipsOfTheOldCalendar) {
  auto p = plan(1000, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  s.skipped_periods = {at("2026-02-01T00:00:00Z")};
  s.status = Status::kPaused;
  s.pause = Pause{at("2026-01-10T00:00:00Z"), at("2026-03-17T00:00:00Z")};
  auto events = advance(s, {&p, nullptr}, at("2026-03-17T00:00:00Z"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].billable);
  EXPECT_EQ(events[0].details["skips_dropped"].size(), 1u);
  EXPECT_TRUE(s.skipped_periods.empty());
  EXPECT_EQ(s.current_amount, 1000);
}

TEST(Lifecycle, ASkippedCurrentPeriodShowsAsSkippedWithNothingBilled) {
  auto p = plan(1000, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  s.skipped_periods = {at("2026-02-01T00:00:00Z")};
  (void)advance(s, {&p, nullptr}, at("2026-02-02T00:00:00Z"));
  auto periods = upcoming(s, {&p, nullptr}, 2);
  EXPECT_TRUE(periods[0].skipped);
  EXPECT_EQ(periods[0].amount, 0);
  EXPECT_EQ(periods[1].amount, 1000);
}

// ------------------------------------------------------------------ coupon discounts

catalog::Coupon coupon(std::int64_t percent_off, catalog::CouponDuration duration, std::int64_t cycles = 0) {
  catalog::Coupon c;
  c.id = "coupon_1";
  c.name = "Test";
  c.percent_off = percent_off;
  c.duration = duration;
  c.duration_in_cycles = cycles;
  return c;
}

catalog::Coupon amount_coupon(std::int64_t amount, const std::string& currency, catalog::CouponDuration duration,
                              std::int64_t cycles = 0) {
  auto c = coupon(0, duration, cycles);
  c.amount_off = Money{amount, currency};
  return c;
}

std::optional<Discount> forever(const catalog::Coupon& c) { return discount_from(c, nullptr); }

// A trial is the subscription's own: trial_end on create (or "now": none), else the plan's
// trial_days; a later PATCH moves it while the subscription is scheduled or trialing.
TEST(Trials, TheTrialEndComesFromTheRequestElseThePlan) {
  const Timestamp start = at("2026-03-01T00:00:00Z");
  struct Case {
    const char* name;
    std::int64_t plan_days;
    std::optional<Timestamp> requested;
    std::optional<Timestamp> expected;
  };
  const Case cases[] = {
      {"the plan's trial", 14, std::nullopt, at("2026-03-15T00:00:00Z")},
      {"no trial on the plan", 0, std::nullopt, std::nullopt},
      {"a longer trial than the plan's", 14, at("2026-04-01T00:00:00Z"), at("2026-04-01T00:00:00Z")},
      {"a trial on a plan without one", 0, at("2026-03-04T00:00:00Z"), at("2026-03-04T00:00:00Z")},
      {"\"now\": none despite the plan", 14, Timestamp{0}, std::nullopt},
      {"the start itself: none", 14, start, std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(trial_end_for(plan(1000, Interval::kMonth, 1, c.plan_days), start, c.requested), c.expected);
  }
}

TEST(Trials, ARequestedTrialIsKeptFromAScheduledStartThroughTheTrialToTheFirstCharge) {
  auto p = plan(1000, Interval::kMonth);  // no trial of its own
  Subscription s;
  s.id = "sub_1";
  s.plan = p.id;
  s.start_date = at("2026-03-01T00:00:00Z");
  (void)begin(s, p, at("2026-02-01T00:00:00Z"), at("2026-03-11T00:00:00Z"));
  EXPECT_EQ(s.status, Status::kScheduled);
  EXPECT_EQ(s.current.end, at("2026-03-11T00:00:00Z"));
  auto periods = upcoming(s, {&p, nullptr}, 2);
  ASSERT_EQ(periods.size(), 2u);
  EXPECT_TRUE(periods[0].trial);
  EXPECT_EQ(periods[1].period.start, at("2026-03-11T00:00:00Z"));
  auto events = advance(s, {&p, nullptr}, at("2026-03-11T00:00:00Z"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "subscription.trial_started");
  EXPECT_EQ(events[1].type, "subscription.trial_ended");
  EXPECT_TRUE(events[1].billable);
  EXPECT_EQ(s.billing_cycle_anchor, at("2026-03-11T00:00:00Z"));
}

TEST(Trials, MovingTheTrialEndWhileScheduledOrTrialingOnly) {
  auto p = plan(1000, Interval::kMonth, 1, 14);
  auto scheduled = started(p, "2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z");
  ASSERT_TRUE(move_trial_end(scheduled, p, at("2026-03-05T00:00:00Z"), at("2026-02-02T00:00:00Z")).ok());
  EXPECT_EQ(scheduled.trial_end, at("2026-03-05T00:00:00Z"));
  EXPECT_EQ(scheduled.current.end, at("2026-03-05T00:00:00Z"));
  ASSERT_TRUE(move_trial_end(scheduled, p, Timestamp{0}, at("2026-02-02T00:00:00Z")).ok());  // "now": no trial
  EXPECT_FALSE(scheduled.trial_end.has_value());
  EXPECT_EQ(scheduled.current.end, at("2026-04-01T00:00:00Z"));  // the first paid month

  auto trialing = started(p, "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z");
  ASSERT_EQ(trialing.status, Status::kTrialing);
  ASSERT_TRUE(move_trial_end(trialing, p, at("2026-03-20T00:00:00Z"), at("2026-03-02T00:00:00Z")).ok());
  EXPECT_EQ(trialing.current.end, at("2026-03-20T00:00:00Z"));
  ASSERT_TRUE(move_trial_end(trialing, p, Timestamp{0}, at("2026-03-03T00:00:00Z")).ok());  // ends now
  EXPECT_EQ(trialing.current.end, at("2026-03-03T00:00:00Z"));
  auto events = advance(trialing, {&p, nullptr}, at("2026-03-03T00:00:00Z"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "subscription.trial_ended");
  EXPECT_EQ(trialing.status, Status::kActive);

  // A plan change scheduled for the trial's end moves with it.
  auto other = plan(1500, Interval::kMonth);
  auto pending = started(p, "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z");
  pending.pending_change = PendingChange{other.id, 1, pending.current.end};
  ASSERT_TRUE(move_trial_end(pending, p, Timestamp{0}, at("2026-03-02T00:00:00Z")).ok());
  EXPECT_EQ(pending.pending_change->effective_at, at("2026-03-02T00:00:00Z"));
  auto switched = advance(pending, {&p, &other}, at("2026-03-02T00:00:00Z"));
  ASSERT_EQ(switched.size(), 1u);
  EXPECT_EQ(switched[0].amount, 1500);  // the first paid period is the new plan's
  EXPECT_EQ(pending.plan, other.id);

  auto refused = move_trial_end(trialing, p, at("2026-03-20T00:00:00Z"), at("2026-03-04T00:00:00Z"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "not_trialing");
}

TEST(Discounts, WorkedExamplesOfPercentAndAmountOff) {
  using catalog::CouponDuration;
  const auto once = CouponDuration::kOnce;
  struct Case {
    std::int64_t gross;
    std::string currency;
    std::optional<Discount> discount;
    std::int64_t off;
  } cases[] = {
      {2999, "usd", forever(coupon(15, once)), 450},     // 449.85 -> 450
      {2999, "usd", forever(coupon(50, once)), 1500},    // 1499.5 -> 1500 (half up)
      {2998, "usd", forever(coupon(50, once)), 1499},    // exact
      {1000, "usd", forever(coupon(33, once)), 330},
      {1, "usd", forever(coupon(50, once)), 1},          // 0.5 -> 1: the customer pays 0
      {1, "usd", forever(coupon(49, once)), 0},          // 0.49 -> 0
      {3, "usd", forever(coupon(50, once)), 2},          // 1.5 -> 2
      {2999, "usd", forever(coupon(100, once)), 2999},
      {0, "usd", forever(coupon(20, once)), 0},          // a free plan stays free
      {2999, "usd", forever(amount_coupon(500, "usd", once)), 500},
      {2999, "usd", forever(amount_coupon(2999, "usd", once)), 2999},
      {2999, "usd", forever(amount_coupon(5000, "usd", once)), 2999},  // never below zero
      {2999, "usd", forever(amount_coupon(500, "eur", once)), 0},      // another currency: nothing
      {1500, "jpy", forever(amount_coupon(1000, "jpy", once)), 1000},
      {2999, "usd", std::nullopt, 0},
      {2999, "usd", Discount{20, 0, "used up"}, 0},
  };
  for (const auto& c : cases) EXPECT_EQ(discount_off(c.gross, c.currency, c.discount), c.off) << c.gross;
}

TEST(Discounts, PercentOffIsTheExactHalfUpRoundingForEveryAmountAndPercent) {
  for (std::int64_t gross = 0; gross <= 5000; gross += 7) {
    for (std::int64_t pct = 1; pct <= 100; ++pct) {
      Discount d{pct, 1, "t"};
      std::int64_t off = discount_off(gross, "usd", d);
      std::int64_t exact_half_up = (gross * pct * 2 + 100) / 200;  // floor(x + 0.5), x = gross*pct/100 >= 0
      ASSERT_EQ(off, exact_half_up) << gross << " " << pct;
      ASSERT_GE(gross - off, 0);
      // Complementary percentages split the price to within the one rounding step.
      if (pct < 100) {
        ASSERT_LE(std::abs(off + discount_off(gross, "usd", Discount{100 - pct, 1, "t"}) - gross), 1);
      }
    }
  }
}

std::vector<std::int64_t> billed_amounts(const catalog::Plan& p, Subscription& s, const char* until) {
  std::vector<std::int64_t> out;
  for (const auto& e : advance(s, {&p, nullptr}, at(until)))
    if (e.billable) out.push_back(e.amount);
  return out;
}

TEST(Discounts, OnceRepeatingAndForeverCountBilledPeriods) {
  using catalog::CouponDuration;
  auto p = plan(2000, Interval::kMonth);
  struct Case {
    catalog::Coupon coupon;
    std::vector<std::int64_t> amounts;  // the first period, then five renewals
    bool left;                          // a discount is still there afterwards
  } cases[] = {
      {coupon(25, CouponDuration::kOnce), {1500, 2000, 2000, 2000, 2000, 2000}, false},
      {coupon(25, CouponDuration::kRepeating, 3), {1500, 1500, 1500, 2000, 2000, 2000}, false},
      {coupon(25, CouponDuration::kForever), {1500, 1500, 1500, 1500, 1500, 1500}, true},
      {amount_coupon(750, "usd", CouponDuration::kRepeating, 2), {1250, 1250, 2000, 2000, 2000, 2000}, false},
  };
  for (auto& c : cases) {
    Subscription s;
    s.id = "sub_1";
    s.plan = p.id;
    s.start_date = at("2026-01-31T00:00:00Z");
    s.discount = discount_from(c.coupon, nullptr);  // given at creation: the first period counts
    auto first = begin(s, p, s.start_date);
    std::vector<std::int64_t> amounts{first.at(0).amount};
    for (auto a : billed_amounts(p, s, "2026-06-30T00:00:00Z")) amounts.push_back(a);
    EXPECT_EQ(amounts, c.amounts) << to_string(c.coupon.duration);
    EXPECT_EQ(s.discount.has_value(), c.left);
  }
}

TEST(Discounts, ACouponAtTheStartOfATrialDiscountsTheFirstPaidPeriod) {
  auto p = plan(2000, Interval::kMonth, 1, 14);
  Subscription s;
  s.id = "sub_1";
  s.plan = p.id;
  s.start_date = at("2026-01-01T00:00:00Z");
  s.discount = discount_from(coupon(10, catalog::CouponDuration::kOnce), nullptr);
  (void)begin(s, p, s.start_date);
  EXPECT_EQ(s.status, Status::kTrialing);
  EXPECT_EQ(billed_amounts(p, s, "2026-02-15T00:00:00Z"), (std::vector<std::int64_t>{1800, 2000}));
}

TEST(Discounts, ASkippedPeriodDoesNotUseUpACycleAndTheEventNamesTheSource) {
  auto p = plan(2000, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  catalog::PromotionCode code;
  code.id = "promo_1";
  s.discount = discount_from(coupon(50, catalog::CouponDuration::kOnce), &code);  // applied mid-period
  s.skipped_periods = {at("2026-02-01T00:00:00Z")};
  auto events = advance(s, {&p, nullptr}, at("2026-04-01T00:00:00Z"));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, "subscription.period_skipped");
  EXPECT_EQ(events[1].amount, 1000);
  EXPECT_EQ(events[1].discount_source, (DiscountSource{"promotion_code", "promo_1"}));
  EXPECT_EQ(events[1].unit_amount * events[1].quantity - events[1].amount, 1000);  // the invoice's discount
  EXPECT_EQ(events[2].amount, 2000);
  EXPECT_FALSE(events[2].discount_source.has_value());
}

TEST(Discounts, APendingPlanChangeKeepsACouponThatCoversTheNewPlanAndDropsOneThatDoesNot) {
  auto gold = plan(5000, Interval::kMonth);
  gold.id = "plan_gold";
  gold.tier = "premium";
  auto platinum = plan(8000, Interval::kMonth);
  platinum.id = "plan_platinum";
  platinum.tier = "premium";
  auto lite = plan(1000, Interval::kMonth);
  lite.id = "plan_lite";

  auto premium_only = coupon(10, catalog::CouponDuration::kForever);
  premium_only.applies_to_tiers = {"premium"};
  for (const auto* target : {&platinum, &lite}) {
    auto s = started(gold, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    s.discount = discount_from(premium_only, nullptr);
    s.pending_change = PendingChange{target->id, 1, s.current.end};
    auto events = advance(s, {&gold, target}, at("2026-02-01T00:00:00Z"));
    ASSERT_EQ(events.size(), 1u);
    if (target == &platinum) {
      EXPECT_EQ(events[0].amount, 7200);
      EXPECT_TRUE(s.discount.has_value());
    } else {
      EXPECT_EQ(events[0].amount, 1000);
      EXPECT_EQ(events[0].details["discount_dropped"], (Json{{"type", "coupon"}, {"id", "coupon_1"}}));
      EXPECT_FALSE(s.discount.has_value());
    }
  }
}

TEST(Discounts, TheStoredFormRoundTripsAndReadsDocumentsFromBeforeCoupons) {
  auto p = plan(2000, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  auto c = amount_coupon(500, "usd", catalog::CouponDuration::kForever);
  c.applies_to_plans = {p.id};
  s.discount = discount_from(c, nullptr);
  Json doc = to_json(s);
  EXPECT_TRUE(doc["discount"]["cycles_remaining"].is_null());  // forever
  EXPECT_EQ(doc["discount"]["amount_off"], 500);
  EXPECT_EQ(to_json(subscription_from_doc(doc)), doc);

  doc["discount"] =
      Json{{"percent_off", 20}, {"cycles_remaining", 2}, {"source", {{"type", "retention_offer"}, {"id", "rof_1"}}}};
  auto old = subscription_from_doc(doc);
  ASSERT_TRUE(old.discount.has_value());
  EXPECT_EQ(old.discount->percent_off, 20);
  EXPECT_EQ(old.discount->cycles_remaining, 2);
  EXPECT_EQ(old.discount->amount_off, 0);
  EXPECT_FALSE(old.discount->coupon.has_value());
}

// docs/api-conventions.md: the amount that does not apply is null, never 0, and the source
// is an object {type, id}.
TEST(Discounts, TheFieldThatDoesNotApplyIsNullAndTheSourceIsTypeAndId) {
  auto p = plan(2000, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  s.discount = discount_from(amount_coupon(500, "usd", catalog::CouponDuration::kForever), nullptr);
  Json amount = to_json(s)["discount"];
  EXPECT_TRUE(amount["percent_off"].is_null());
  EXPECT_EQ(amount["amount_off"], 500);
  EXPECT_EQ(amount["currency"], "usd");
  EXPECT_EQ(amount["source"], (Json{{"type", "coupon"}, {"id", s.discount->coupon.value()}}));
  catalog::PromotionCode code;
  code.id = "promo_1";
  s.discount = discount_from(coupon(15, catalog::CouponDuration::kOnce), &code);
  Json percent = to_json(s)["discount"];
  EXPECT_EQ(percent["percent_off"], 15);
  EXPECT_TRUE(percent["amount_off"].is_null());
  EXPECT_TRUE(percent["currency"].is_null());
  EXPECT_EQ(percent["source"], (Json{{"type", "promotion_code"}, {"id", "promo_1"}}));
  EXPECT_EQ(to_json(subscription_from_doc(to_json(s))), to_json(s));
}

// choose_skip: which period a skip request means, as a table.
TEST(ChooseSkip, PicksThePeriodARequestMeansOrSaysWhyNot) {
  auto monthly = plan(1000, Interval::kMonth);
  auto trial = plan(1000, Interval::kMonth, 1, 14);
  struct Case {
    const char* name;
    const catalog::Plan* plan;
    std::vector<const char*> skipped;  // periods already skipped
    std::optional<const char*> requested;
    const char* want_start;  // "" when an error is expected
    const char* want_error;
  };
  const std::vector<Case> cases = {
      {"first upcoming by default", &monthly, {}, std::nullopt, "2026-02-01T00:00:00Z", ""},
      {"next one not yet skipped", &monthly, {"2026-02-01T00:00:00Z"}, std::nullopt, "2026-03-01T00:00:00Z", ""},
      {"a named upcoming period", &monthly, {}, "2026-05-01T00:00:00Z", "2026-05-01T00:00:00Z", ""},
      {"the 24th upcoming period is the last", &monthly, {}, "2028-01-01T00:00:00Z", "2028-01-01T00:00:00Z", ""},
      {"the 25th is too far", &monthly, {}, "2028-02-01T00:00:00Z", "", "invalid_period"},
      {"the current period cannot be skipped", &monthly, {}, "2026-01-01T00:00:00Z", "", "invalid_period"},
      {"not the start of a period", &monthly, {}, "2026-02-02T00:00:00Z", "", "invalid_period"},
      {"already skipped", &monthly, {"2026-02-01T00:00:00Z"}, "2026-02-01T00:00:00Z", "", "period_already_skipped"},
      {"a trial is never skipped: the first paid period is", &trial, {}, std::nullopt, "2026-01-15T00:00:00Z", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto s = started(*c.plan, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    for (const char* p : c.skipped) s.skipped_periods.push_back(at(p));
    std::optional<Timestamp> requested;
    if (c.requested) requested = at(*c.requested);
    auto chosen = choose_skip(s, {c.plan, nullptr}, requested);
    if (*c.want_error) {
      ASSERT_FALSE(chosen.ok());
      EXPECT_EQ(chosen.error().code, c.want_error);
    } else {
      ASSERT_TRUE(chosen.ok()) << chosen.error().message;
      EXPECT_EQ(format_rfc3339(chosen->start), c.want_start);
    }
  }
}

TEST(ChooseSkip, AWrongStartNamesTheStartsThatWouldDo) {
  auto p = plan(1000, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  s.skipped_periods.push_back(at("2026-02-01T00:00:00Z"));
  auto chosen = choose_skip(s, {&p, nullptr}, at("2026-02-02T00:00:00Z"));
  ASSERT_FALSE(chosen.ok());
  EXPECT_NE(chosen.error().message.find("2026-03-01T00:00:00Z, 2026-04-01T00:00:00Z, 2026-05-01T00:00:00Z, ..."),
            std::string::npos)
      << chosen.error().message;  // the already skipped February is not offered
}

TEST(ChooseSkip, NothingToSkipOnceCanceled) {
  auto p = plan(1000, Interval::kMonth);
  auto s = started(p, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  s.status = Status::kCanceled;
  auto chosen = choose_skip(s, {&p, nullptr}, std::nullopt);
  ASSERT_FALSE(chosen.ok());
  EXPECT_EQ(chosen.error().code, "nothing_to_skip");
}

// ------------------------------------------------------------------ delivery schedules

Subscription delivered(const catalog::Plan& p, Cadence delivery, const char* start, const char* now) {
  Subscription s;
  s.id = "sub_1";
  s.plan = p.id;
  s.start_date = at(start);
  s.delivery = delivery;
  (void)begin(s, p, at(now));
  return s;
}

std::vector<std::string> period_starts(const std::vector<UpcomingPeriod>& periods) {
  std::vector<std::string> out;
  for (const auto& u : periods) out.push_back(format_rfc3339(u.period.start));
  return out;
}

TEST(Delivery, AnOwnScheduleReplacesThePlansCadenceAtThePlansPricePerDelivery) {
  auto p = plan(1500, Interval::kMonth);
  const Cadence thursdays{Interval::kWeek, 2, 4, std::nullopt};
  // Mon 2026-12-07: the first box now, the next on the Thursday nearest two weeks on, then every 14 days.
  auto s = delivered(p, thursdays, "2026-12-07T09:00:00Z", "2026-12-07T09:00:00Z");
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-12-24T09:00:00Z");
  EXPECT_EQ(format_rfc3339(s.billing_cycle_anchor), "2026-12-24T09:00:00Z");
  auto periods = upcoming(s, {&p, nullptr}, 4);
  EXPECT_EQ(period_starts(periods), (std::vector<std::string>{"2026-12-07T09:00:00Z", "2026-12-24T09:00:00Z",
                                                              "2027-01-07T09:00:00Z", "2027-01-21T09:00:00Z"}));
  for (const auto& u : periods) EXPECT_EQ(u.amount, 1500);
  auto events = advance(s, {&p, nullptr}, at("2027-01-08T00:00:00Z"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(format_rfc3339(events[1].period.start), "2027-01-07T09:00:00Z");
  EXPECT_EQ(format_rfc3339(events[1].period.end), "2027-01-21T09:00:00Z");
  EXPECT_EQ(events[1].amount, 1500);
}

TEST(Delivery, AScheduledStartAndATrialKeepTheDeliveryDay) {
  auto p = plan(1500, Interval::kMonth, 1, 10);
  const Cadence fifteenth{Interval::kMonth, 1, std::nullopt, 15};
  // Scheduled for 2027-01-20 with a 10-day trial: the trial ends 01-30, then the 15th's calendar.
  auto s = delivered(p, fifteenth, "2027-01-20T00:00:00Z", "2027-01-10T00:00:00Z");
  ASSERT_EQ(s.status, Status::kScheduled);
  EXPECT_EQ(period_starts(upcoming(s, {&p, nullptr}, 4)),
            (std::vector<std::string>{"2027-01-20T00:00:00Z", "2027-01-30T00:00:00Z", "2027-02-15T00:00:00Z",
                                      "2027-03-15T00:00:00Z"}));
}

TEST(Delivery, APendingChangeOfScheduleRestartsTheCalendarAtThePeriodEnd) {
  auto p = plan(1500, Interval::kMonth);
  auto s = started(p, "2027-01-20T00:00:00Z", "2027-01-20T00:00:00Z");
  s.pending_change = PendingChange{p.id, 1, s.current.end, Cadence{Interval::kWeek, 1, 1, std::nullopt}};
  auto events = advance(s, {&p, &p}, at("2027-03-01T00:00:00Z"), Snapshots::kTake);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(format_rfc3339(events[0].period.start), "2027-02-20T00:00:00Z");
  // 02-20 is a Saturday; a week on is Sat 02-27, whose nearest Mondays are 02-22 (5 days) and 03-01 (2 days).
  EXPECT_EQ(format_rfc3339(events[0].period.end), "2027-03-01T00:00:00Z");
  EXPECT_TRUE(events[0].details.contains("delivery_changed"));
  ASSERT_TRUE(s.delivery.has_value());
  EXPECT_EQ(s.delivery->day_of_week, 1);
  EXPECT_FALSE(s.pending_change.has_value());
  EXPECT_EQ(format_rfc3339(events[1].period.start), "2027-03-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(events[1].period.end), "2027-03-08T00:00:00Z");
}

TEST(Delivery, TheStoredFormRoundTripsAndOldDocumentsHaveNone) {
  auto p = plan(1500, Interval::kMonth);
  auto s = delivered(p, Cadence{Interval::kWeek, 2, 4, std::nullopt}, "2026-12-07T09:00:00Z", "2026-12-07T09:00:00Z");
  s.pending_change = PendingChange{p.id, 2, s.current.end, Cadence{Interval::kMonth, 1, std::nullopt, 15}};
  Json doc = to_json(s);
  EXPECT_EQ(doc["delivery"],
            (Json{{"interval", "week"}, {"interval_count", 2}, {"day_of_week", 4}, {"day_of_month", nullptr}}));
  EXPECT_EQ(doc["pending_plan_change"]["delivery"]["day_of_month"], 15);
  auto back = subscription_from_doc(doc);
  EXPECT_EQ(back.delivery, s.delivery);
  EXPECT_EQ(back.pending_change->delivery, s.pending_change->delivery);
  doc.erase("delivery");
  doc["pending_plan_change"].erase("delivery");
  auto old = subscription_from_doc(doc);
  EXPECT_FALSE(old.delivery.has_value());
  EXPECT_FALSE(old.pending_change->delivery.has_value());
}

TEST(Delivery, TheRulesOfASchedule) {
  struct Case {
    Cadence cadence;
    const char* field;  // "" when valid
  };
  const Case cases[] = {
      {{Interval::kWeek, 2, 4, std::nullopt}, ""},
      {{Interval::kMonth, 1, std::nullopt, 28}, ""},
      {{Interval::kDay, 10}, ""},
      {{Interval::kWeek, 53}, "delivery.interval_count"},
      {{Interval::kMonth, 13}, "delivery.interval_count"},
      {{Interval::kYear, 4}, "delivery.interval_count"},
      {{Interval::kMonth, 1, 4, std::nullopt}, "delivery.day_of_week"},
      {{Interval::kWeek, 1, std::nullopt, 3}, "delivery.day_of_month"},
      {{Interval::kWeek, 1, 8, std::nullopt}, "delivery.day_of_week"},
      {{Interval::kMonth, 1, std::nullopt, 29}, "delivery.day_of_month"},
      {{Interval::kWeek, 1, 2, 3}, "delivery.day_of_month"},
  };
  for (const auto& c : cases) {
    auto checked = check_delivery(c.cadence, "delivery");
    if (std::string(c.field).empty()) {
      EXPECT_TRUE(checked.ok()) << delivery_json(c.cadence).dump();
      continue;
    }
    ASSERT_FALSE(checked.ok()) << delivery_json(c.cadence).dump();
    EXPECT_EQ(checked.error().kind, ErrorKind::kInvalid);
    ASSERT_EQ(checked.error().fields.size(), 1u);
    EXPECT_EQ(checked.error().fields[0].field, c.field) << delivery_json(c.cadence).dump();
  }
}

// ------------------------------------------------------------------ next date

TEST(NextDate, MovesTheNextDeliveryAndTheCalendarFollows) {
  auto p = plan(1500, Interval::kMonth);
  auto s = started(p, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  auto details = move_next_date(s, {&p, nullptr}, at("2027-02-12T10:00:00Z"), at("2027-01-25T00:00:00Z"));
  ASSERT_TRUE(details.ok()) << details.error().message;
  EXPECT_EQ((*details)["from"], "2027-02-20T10:00:00Z");
  EXPECT_EQ((*details)["to"], "2027-02-12T10:00:00Z");
  EXPECT_EQ(format_rfc3339(s.current.start), "2027-01-20T10:00:00Z");
  EXPECT_EQ(format_rfc3339(s.current.end), "2027-02-12T10:00:00Z");
  EXPECT_EQ(period_starts(upcoming(s, {&p, nullptr}, 3)),
            (std::vector<std::string>{"2027-01-20T10:00:00Z", "2027-02-12T10:00:00Z", "2027-03-12T10:00:00Z"}));
  auto events = advance(s, {&p, nullptr}, at("2027-03-12T10:00:00Z"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(format_rfc3339(events[0].period.start), "2027-02-12T10:00:00Z");
  EXPECT_EQ(events[0].amount, 1500);
}

TEST(NextDate, NotBeforeTomorrowNorAtOrPastTheDeliveryAfterNext) {
  auto p = plan(1500, Interval::kMonth);
  const auto fresh = started(p, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  const Timestamp now = at("2027-02-10T15:00:00Z");
  struct Case {
    const char* date;
    const char* code;  // "" when allowed
  };
  const Case cases[] = {
      {"2027-02-10T23:00:00Z", "invalid_date"},  // today
      {"2027-02-11T00:00:00Z", ""},              // tomorrow, first second
      {"2027-02-20T10:00:00Z", "no_change"},
      {"2027-03-19T10:00:00Z", ""},              // later, still before the one after next
      {"2027-03-20T10:00:00Z", "invalid_date"},  // the delivery after next itself
      {"2027-05-01T00:00:00Z", "invalid_date"},
  };
  for (const auto& c : cases) {
    auto s = fresh;
    auto moved = move_next_date(s, {&p, nullptr}, at(c.date), now);
    if (std::string(c.code).empty()) {
      EXPECT_TRUE(moved.ok()) << c.date;
      EXPECT_EQ(format_rfc3339(s.current.end), c.date);
    } else {
      ASSERT_FALSE(moved.ok()) << c.date;
      EXPECT_EQ(moved.error().code, c.code) << c.date;
      EXPECT_EQ(to_json(s), to_json(fresh)) << "a refused move changes nothing: " << c.date;
    }
  }
}

TEST(NextDate, RefusedWhereThereIsNoNextChargeToMove) {
  auto p = plan(1500, Interval::kMonth, 1, 14);
  auto trialing = started(p, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  auto moved = move_next_date(trialing, {&p, nullptr}, at("2027-01-30T00:00:00Z"), at("2027-01-21T00:00:00Z"));
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code, "invalid_state_transition");
  auto q = plan(1500, Interval::kMonth);
  auto ending = started(q, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  ending.cancel_at_period_end = true;
  moved = move_next_date(ending, {&q, nullptr}, at("2027-02-25T00:00:00Z"), at("2027-01-21T00:00:00Z"));
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code, "subscription_ending");
}

TEST(NextDate, SkipsKeepTheirPlaceAndAPendingChangeAndTheDeliveryDayFollow) {
  auto p = plan(1500, Interval::kWeek);
  const Cadence thursdays{Interval::kWeek, 2, 4, std::nullopt};
  // Thu 2027-01-07: periods start 01-07, 01-21, 02-04, 02-18, ...
  auto s = delivered(p, thursdays, "2027-01-07T09:00:00Z", "2027-01-07T09:00:00Z");
  s.skipped_periods = {at("2027-02-04T09:00:00Z")};  // the 2nd box from now
  s.pending_change = PendingChange{p.id, 3, s.current.end, thursdays};
  // Move the next box from Thu 01-21 to Tue 01-19.
  auto moved = move_next_date(s, {&p, &p}, at("2027-01-19T09:00:00Z"), at("2027-01-10T00:00:00Z"));
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(s.delivery->day_of_week, 2);  // Tuesday now
  EXPECT_EQ(format_rfc3339(s.pending_change->effective_at), "2027-01-19T09:00:00Z");
  ASSERT_EQ(s.skipped_periods.size(), 1u);
  EXPECT_EQ(format_rfc3339(s.skipped_periods[0]), "2027-02-02T09:00:00Z");
  EXPECT_EQ((*moved)["skips_moved"][0]["from"], "2027-02-04T09:00:00Z");
  auto periods = upcoming(s, {&p, &p}, 4);
  EXPECT_EQ(period_starts(periods), (std::vector<std::string>{"2027-01-07T09:00:00Z", "2027-01-19T09:00:00Z",
                                                              "2027-02-02T09:00:00Z", "2027-02-16T09:00:00Z"}));
  EXPECT_TRUE(periods[2].skipped);
  EXPECT_EQ(periods[1].quantity, 3);  // the plan change came with the moved date
}

// ------------------------------------------------------------------ blackout dates

std::int64_t day_of(const char* date) { return at(date) / kSecondsPerDay; }

TEST(Blackout, ARenewalOnAClosedDayMovesToTheNextOpenDayAndLaterOnesKeepTheirDays) {
  auto p = plan(1500, Interval::kMonth);
  const ClosedDays closed{day_of("2027-02-20T00:00:00Z"), day_of("2027-02-21T00:00:00Z")};
  auto s = started(p, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  const PlanLookup plans{&p, nullptr, &closed};
  auto events = advance(s, plans, at("2027-03-25T00:00:00Z"), Snapshots::kTake);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, "subscription.delivery_moved");
  EXPECT_EQ(events[0].details["from"], "2027-02-20T10:00:00Z");
  EXPECT_EQ(events[0].details["to"], "2027-02-22T10:00:00Z");
  EXPECT_EQ(events[0].after["current_period"]["end"], "2027-02-22T10:00:00Z");
  EXPECT_EQ(events[1].type, "subscription.renewed");
  EXPECT_EQ(format_rfc3339(events[1].period.start), "2027-02-22T10:00:00Z");
  EXPECT_EQ(format_rfc3339(events[1].period.end), "2027-03-20T10:00:00Z");  // the 20th again
  EXPECT_EQ(events[1].amount, 1500);
  EXPECT_EQ(format_rfc3339(events[2].period.start), "2027-03-20T10:00:00Z");
  // Without the closed days the same subscription renews on the 20th.
  auto open = started(p, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  EXPECT_EQ(format_rfc3339(advance(open, {&p, nullptr}, at("2027-02-21T00:00:00Z"))[0].period.start),
            "2027-02-20T10:00:00Z");
}

TEST(Blackout, UpcomingShowsTheMovedDeliveryAndASkipAskedForBeforeStillApplies) {
  auto p = plan(1500, Interval::kMonth);
  auto s = started(p, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  s.skipped_periods = {at("2027-03-20T10:00:00Z")};
  const ClosedDays closed{day_of("2027-03-20T00:00:00Z")};
  const PlanLookup plans{&p, nullptr, &closed};
  auto periods = upcoming(s, plans, 4);
  EXPECT_EQ(period_starts(periods), (std::vector<std::string>{"2027-01-20T10:00:00Z", "2027-02-20T10:00:00Z",
                                                              "2027-03-21T10:00:00Z", "2027-04-20T10:00:00Z"}));
  EXPECT_TRUE(periods[2].skipped);
  EXPECT_EQ(periods[2].amount, 0);
}

TEST(Blackout, AScheduledStartAndAResumptionMoveToo) {
  auto p = plan(1500, Interval::kMonth);
  const ClosedDays closed{day_of("2027-02-01T00:00:00Z"), day_of("2027-03-10T00:00:00Z")};
  const PlanLookup plans{&p, nullptr, &closed};
  auto scheduled = started(p, "2027-02-01T08:00:00Z", "2027-01-10T00:00:00Z");
  ASSERT_EQ(scheduled.status, Status::kScheduled);
  auto events = advance(scheduled, plans, at("2027-02-03T00:00:00Z"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "subscription.delivery_moved");
  EXPECT_EQ(events[1].type, "subscription.started");
  EXPECT_EQ(format_rfc3339(events[1].period.start), "2027-02-02T08:00:00Z");
  EXPECT_EQ(format_rfc3339(scheduled.start_date), "2027-02-02T08:00:00Z");

  auto paused = started(p, "2027-01-05T08:00:00Z", "2027-01-05T08:00:00Z");
  paused.status = Status::kPaused;
  paused.pause = Pause{at("2027-01-06T00:00:00Z"), at("2027-03-10T12:00:00Z")};
  events = advance(paused, plans, at("2027-03-12T00:00:00Z"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "subscription.delivery_moved");
  EXPECT_EQ(format_rfc3339(events[1].period.start), "2027-03-11T12:00:00Z");
}

TEST(Blackout, TheNextDateCannotBeAClosedDay) {
  auto p = plan(1500, Interval::kMonth);
  auto s = started(p, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  const ClosedDays closed{day_of("2027-02-12T00:00:00Z")};
  auto moved = move_next_date(s, {&p, nullptr, &closed}, at("2027-02-12T10:00:00Z"), at("2027-01-25T00:00:00Z"));
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code, "invalid_date");
  EXPECT_TRUE(is_closed(closed, at("2027-02-12T23:59:59Z")));
  EXPECT_FALSE(is_closed(closed, at("2027-02-13T00:00:00Z")));
  EXPECT_EQ(format_rfc3339(next_open(closed, at("2027-02-12T10:00:00Z"))), "2027-02-13T10:00:00Z");
}

TEST(Blackout, ASkipNamesItsPeriodByEitherStartWhenADateIsPutOrOpenedAgain) {
  auto p = plan(1500, Interval::kMonth);
  auto s = started(p, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  // Asked for while Mar 20 was closed (the period then started Mar 21), and Mar 20 opened again.
  s.skipped_periods = {at("2027-03-21T10:00:00Z")};
  auto periods = upcoming(s, {&p, nullptr}, 4);
  EXPECT_EQ(format_rfc3339(periods[2].period.start), "2027-03-20T10:00:00Z");
  EXPECT_TRUE(periods[2].skipped);
  EXPECT_FALSE(periods[3].skipped);
  auto events = advance(s, {&p, nullptr}, at("2027-04-21T00:00:00Z"));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].type, "subscription.period_skipped");
  EXPECT_TRUE(events[2].billable);
  EXPECT_TRUE(s.skipped_periods.empty());
}

TEST(Blackout, ThePlanChangeAndTheTrialEndDueWithAMovedDeliveryMoveWithIt) {
  auto a = plan(1500, Interval::kMonth);
  auto b = plan(2500, Interval::kMonth);
  const ClosedDays closed{day_of("2027-02-20T00:00:00Z")};
  auto s = started(a, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  s.pending_change = PendingChange{b.id, 1, s.current.end, std::nullopt};
  (void)advance(s, {&a, &b, &closed}, at("2027-01-25T00:00:00Z"));
  EXPECT_EQ(format_rfc3339(s.current.end), "2027-02-21T10:00:00Z");
  EXPECT_EQ(format_rfc3339(s.pending_change->effective_at), "2027-02-21T10:00:00Z");
  // Moving the next date then takes the change along.
  ASSERT_TRUE(move_next_date(s, {&a, &b, &closed}, at("2027-02-15T10:00:00Z"), at("2027-01-25T00:00:00Z")).ok());
  EXPECT_EQ(format_rfc3339(s.pending_change->effective_at), "2027-02-15T10:00:00Z");
  auto events = advance(s, {&a, &b, &closed}, at("2027-02-15T10:00:00Z"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].amount, 2500);

  auto trial_plan = plan(1500, Interval::kMonth, 1, 31);  // the trial ends 2027-02-20
  auto trialing = started(trial_plan, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  (void)advance(trialing, {&trial_plan, nullptr, &closed}, at("2027-01-25T00:00:00Z"));
  EXPECT_EQ(format_rfc3339(*trialing.trial_end), "2027-02-21T10:00:00Z");
  EXPECT_EQ(trialing.current.end, *trialing.trial_end);
}

TEST(AddOns, TheNextBilledPeriodTakesTheAddOnsAndTheStoredFormKeepsThem) {
  auto p = plan(1500, Interval::kMonth);
  auto s = started(p, "2027-01-20T10:00:00Z", "2027-01-20T10:00:00Z");
  s.add_ons = {AddOn{"ao_1", "prod_1", "Mug", 2, 900, "usd", at("2027-01-21T00:00:00Z")}};
  s.skipped_periods = {at("2027-02-20T10:00:00Z")};
  auto back = subscription_from_doc(to_json(s));
  ASSERT_EQ(back.add_ons.size(), 1u);
  EXPECT_EQ(to_json(back.add_ons[0]), to_json(s.add_ons[0]));
  Json old = to_json(s);
  old.erase("add_ons");
  EXPECT_TRUE(subscription_from_doc(old).add_ons.empty());
  // The skipped February box ships nothing; March's takes the mugs.
  auto events = advance(s, {&p, nullptr}, at("2027-03-21T00:00:00Z"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].add_ons.empty());
  ASSERT_EQ(events[1].add_ons.size(), 1u);
  EXPECT_EQ(events[1].add_ons[0].quantity, 2);
  EXPECT_TRUE(s.add_ons.empty());
}

// Prepaid deliveries: the n-th period of a subscription prepaid for 3 (what advance emits).
struct PrepaidStep {
  const char* start;
  std::int64_t amount;
  std::int64_t deliveries;  // 3: the charge; 0: a box it paid for
  std::int64_t prepaid_by;
  std::int64_t remaining;   // after the step
};

// Started on 2027-01-10, monthly, one charge for three boxes.
Subscription prepaid_for_three(const catalog::Plan& p) {
  Subscription s;
  s.id = "sub_1";
  s.plan = p.id;
  s.start_date = at("2027-01-10T00:00:00Z");
  s.prepaid = Prepaid{3, 0, 0};
  (void)begin(s, p, s.start_date);
  return s;
}

TEST(Prepaid, OneChargePaysForNBoxesThatShipOnTheScheduleThenItChargesAgain) {
  auto p = plan(1000, Interval::kMonth);
  Subscription s;
  s.id = "sub_1";
  s.plan = p.id;
  s.quantity = 2;
  s.start_date = at("2027-01-10T00:00:00Z");
  s.prepaid = Prepaid{3, 0, 0};
  s.discount = Discount{10, 2, {"coupon", "coupon_1"}};  // two charges, not two boxes
  auto first = begin(s, p, s.start_date);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].amount, 5400);  // 3 boxes × 2 × 1000, less 10 %
  EXPECT_EQ(first[0].deliveries, 3);
  EXPECT_EQ(first[0].prepaid_by, 0);
  EXPECT_EQ(s.prepaid->remaining, 2);
  EXPECT_EQ(s.prepaid->charged_period, 1);
  const PrepaidStep steps[] = {
      {"2027-02-10T00:00:00Z", 0, 0, 1, 1},
      {"2027-03-10T00:00:00Z", 0, 0, 1, 0},
      {"2027-04-10T00:00:00Z", 5400, 3, 0, 2},  // the second charge, still discounted
      {"2027-05-10T00:00:00Z", 0, 0, 4, 1},
      {"2027-06-10T00:00:00Z", 0, 0, 4, 0},
      {"2027-07-10T00:00:00Z", 6000, 3, 0, 2},  // the discount is used up
  };
  auto events = advance(s, {&p, nullptr}, at("2027-07-10T00:00:00Z"));
  ASSERT_EQ(events.size(), std::size(steps));
  for (std::size_t i = 0; i < std::size(steps); ++i) {
    SCOPED_TRACE(steps[i].start);
    const auto& e = events[i];
    EXPECT_EQ(format_rfc3339(e.period.start), steps[i].start);
    EXPECT_TRUE(e.billable);  // every period ships its box
    EXPECT_EQ(e.amount, steps[i].amount);
    EXPECT_EQ(e.deliveries, steps[i].deliveries);
    EXPECT_EQ(e.prepaid_by, steps[i].prepaid_by);
    EXPECT_EQ(e.sequence, static_cast<std::int64_t>(i) + 2);
  }
  EXPECT_EQ(s.prepaid->remaining, 2);
  EXPECT_EQ(s.current_amount, 6000);
  EXPECT_EQ(subscription_from_doc(to_json(s)).prepaid, s.prepaid);
  Json old = to_json(s);
  old.erase("prepaid");
  EXPECT_FALSE(subscription_from_doc(old).prepaid.has_value());
}

TEST(Prepaid, ASkippedPeriodUsesUpNoPrepaidBox) {
  auto p = plan(1000, Interval::kMonth);
  auto s = started(p, "2027-01-10T00:00:00Z", "2027-01-10T00:00:00Z");
  // Prepaid from the next charge on: January was charged for itself.
  set_prepaid_deliveries(s, 2);
  EXPECT_EQ(s.prepaid->charged_period, s.billed_periods);
  s.skipped_periods = {at("2027-03-10T00:00:00Z")};
  auto events = advance(s, {&p, nullptr}, at("2027-05-10T00:00:00Z"));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].amount, 2000);  // February: the charge for 2
  EXPECT_EQ(events[1].type, "subscription.period_skipped");
  EXPECT_EQ(events[2].prepaid_by, events[0].sequence);  // April: the second prepaid box
  EXPECT_EQ(events[2].amount, 0);
  EXPECT_EQ(events[3].amount, 2000);  // May: charged again
  auto periods = upcoming(s, {&p, nullptr}, 3);
  ASSERT_EQ(periods.size(), 3u);
  EXPECT_FALSE(periods[0].prepaid);
  EXPECT_EQ(periods[0].amount, 2000);
  EXPECT_TRUE(periods[1].prepaid);
  EXPECT_EQ(periods[1].amount, 0);
  EXPECT_EQ(periods[2].amount, 2000);
}

TEST(Prepaid, EndingItLetsThePaidBoxesShipAndTheNextChargeIsForOne) {
  auto p = plan(1000, Interval::kMonth);
  auto s = prepaid_for_three(p);
  set_prepaid_deliveries(s, std::nullopt);
  ASSERT_TRUE(s.prepaid);
  EXPECT_EQ(s.prepaid->remaining, 2);
  auto events = advance(s, {&p, nullptr}, at("2027-05-10T00:00:00Z"));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].amount, 0);
  EXPECT_EQ(events[1].amount, 0);
  EXPECT_EQ(events[2].amount, 1000);
  EXPECT_EQ(events[2].deliveries, 1);
  EXPECT_FALSE(s.prepaid.has_value());
  EXPECT_EQ(events[3].amount, 1000);
}

TEST(Prepaid, TheNextInvoicePassesPrepaidBoxesUnlessTheyCarryAddOns) {
  auto p = plan(1000, Interval::kMonth);
  auto s = prepaid_for_three(p);
  auto box = next_billable(s, {&p, nullptr});
  ASSERT_TRUE(box);
  EXPECT_EQ(format_rfc3339(box->event.period.start), "2027-02-10T00:00:00Z");
  EXPECT_EQ(box->event.prepaid_by, 1);
  auto invoice = next_billable(s, {&p, nullptr}, true);
  ASSERT_TRUE(invoice);
  EXPECT_EQ(format_rfc3339(invoice->event.period.start), "2027-04-10T00:00:00Z");
  EXPECT_EQ(invoice->event.amount, 3000);
  s.add_ons = {AddOn{"ao_1", "prod_1", "Mug", 1, 900, "usd", at("2027-01-11T00:00:00Z")}};
  auto with_add_on = next_billable(s, {&p, nullptr}, true);
  ASSERT_TRUE(with_add_on);
  EXPECT_EQ(format_rfc3339(with_add_on->event.period.start), "2027-02-10T00:00:00Z");
}

TEST(Prepaid, TheBoxesAfterTheChargeArePrepaidTheChargeAndATrialAreNot) {
  auto p = plan(1000, Interval::kMonth);
  auto s = prepaid_for_three(p);
  EXPECT_FALSE(in_prepaid_box(s));  // the charge itself
  (void)advance(s, {&p, nullptr}, at("2027-02-10T00:00:00Z"));
  EXPECT_TRUE(in_prepaid_box(s));
  (void)advance(s, {&p, nullptr}, at("2027-03-10T00:00:00Z"));
  EXPECT_TRUE(in_prepaid_box(s));  // the last one: remaining 0, still paid by the charge
  EXPECT_EQ(s.prepaid->remaining, 0);
  (void)advance(s, {&p, nullptr}, at("2027-04-10T00:00:00Z"));
  EXPECT_FALSE(in_prepaid_box(s));  // charged again
  auto trial = plan(1000, Interval::kMonth, 1, 14);
  Subscription t;
  t.id = "sub_2";
  t.plan = trial.id;
  t.start_date = at("2027-01-10T00:00:00Z");
  t.prepaid = Prepaid{3, 0, 0};
  (void)begin(t, trial, t.start_date);
  EXPECT_FALSE(in_prepaid_box(t));
}

TEST(Prepaid, DeliveriesPerChargeAre2To24) {
  for (std::int64_t n : {0, 1, 25}) {
    auto checked = check_prepaid_deliveries(n, "prepaid_deliveries");
    ASSERT_FALSE(checked.ok()) << n;
    EXPECT_EQ(checked.error().fields.at(0).field, "prepaid_deliveries");
  }
  EXPECT_TRUE(check_prepaid_deliveries(2, "prepaid_deliveries").ok());
  EXPECT_TRUE(check_prepaid_deliveries(24, "prepaid_deliveries").ok());
}

}  // namespace
TEST(AddOns, TheMemberDiscountComesOffRoundedHalfUp) {
  struct Case {
    std::int64_t unit, quantity, percent, charged;
  };
  const Case cases[] = {{999, 3, 15, 2547}, {1000, 2, 10, 1800}, {1000, 1, 0, 1000}, {5, 1, 50, 2}, {700, 4, 100, 0}};
  for (const auto& c : cases) {
    AddOn a{"ao_1", "prod_1", "Mug", c.quantity, c.unit, "usd", 0, c.percent};
    EXPECT_EQ(add_on_amount(a), c.charged) << c.unit << " x " << c.quantity << " less " << c.percent << " %";
  }
  AddOn huge{"ao_2", "prod_1", "Gold", 100, std::int64_t{1} << 60, "usd", 0, 0};
  EXPECT_FALSE(add_on_amount(huge).has_value());
}

// ------------------------------------------------------------------ gifts

namespace {

Subscription gift_of(const catalog::Plan& p, std::int64_t deliveries, const char* start) {
  Subscription s;
  s.id = "sub_gift";
  s.plan = p.id;
  s.start_date = at(start);
  make_gift(s, "gift_1", "in_gift", deliveries);
  (void)begin(s, p, s.start_date, s.start_date);
  return s;
}

}  // namespace

TEST(Gift, EveryBoxIsPaidByTheGiftsInvoiceAndItEndsAfterTheLast) {
  auto p = plan(1000, Interval::kMonth);
  Subscription s;
  s.id = "sub_gift";
  s.plan = p.id;
  s.start_date = at("2027-01-10T00:00:00Z");
  make_gift(s, "gift_1", "in_gift", 3);
  auto first = begin(s, p, s.start_date, s.start_date);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].billable);  // it ships
  EXPECT_TRUE(first[0].covered());
  EXPECT_EQ(first[0].amount, 0);
  EXPECT_EQ(first[0].prepaid_invoice, "in_gift");
  EXPECT_EQ(s.prepaid->remaining, 2);
  EXPECT_FALSE(s.cancel_at_period_end);
  auto events = advance(s, {&p, nullptr}, at("2027-04-10T00:00:00Z"));
  // February and March ship paid by the gift; March, the last, sets the end; April ends it.
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(events[i].covered());
    EXPECT_EQ(events[i].amount, 0);
    EXPECT_EQ(events[i].prepaid_invoice, "in_gift");
  }
  EXPECT_EQ(events[2].type, "subscription.canceled");
  EXPECT_EQ(s.status, Status::kCanceled);
  ASSERT_TRUE(s.cancellation);
  EXPECT_EQ(s.cancellation->reason, kGiftEnded);
  EXPECT_EQ(format_rfc3339(*s.ended_at), "2027-04-10T00:00:00Z");
  EXPECT_EQ(s.billed_periods, 3);  // three boxes, no charge of the recipient's
}

TEST(Gift, AOneBoxGiftEndsAfterItsOnlyBox) {
  auto p = plan(1000, Interval::kMonth);
  auto s = gift_of(p, 1, "2027-01-10T00:00:00Z");
  EXPECT_TRUE(s.cancel_at_period_end);
  EXPECT_EQ(s.cancellation->reason, kGiftEnded);
  EXPECT_EQ(format_rfc3339(*s.canceled_at), "2027-01-10T00:00:00Z");
  EXPECT_FALSE(next_billable(s, {&p, nullptr}).has_value());  // nothing is charged, ever
}

TEST(Gift, ConvertedItChargesTheNextPeriodForOneBoxOnTheSameCalendar) {
  auto p = plan(1000, Interval::kMonth);
  struct Case {
    const char* name;
    const char* convert_at;  // before the last box, or during it (its end already set)
  };
  for (const Case& c :
       {Case{"before the last box", "2027-01-20T00:00:00Z"}, Case{"during the last box", "2027-02-20T00:00:00Z"}}) {
    SCOPED_TRACE(c.name);
    auto s = gift_of(p, 2, "2027-01-10T00:00:00Z");
    (void)advance(s, {&p, nullptr}, at(c.convert_at));
    ASSERT_TRUE(convert_gift(s, at(c.convert_at)).ok());
    EXPECT_FALSE(s.cancel_at_period_end);
    EXPECT_FALSE(s.cancellation);
    EXPECT_TRUE(s.gift->converted);
    auto events = advance(s, {&p, nullptr}, at("2027-04-10T00:00:00Z"));
    std::vector<LifecycleEvent> charged;
    for (auto& e : events)
      if (e.billable && !e.covered()) charged.push_back(e);
    ASSERT_EQ(charged.size(), 2u);  // March and April, each one box at the plan's price
    EXPECT_EQ(format_rfc3339(charged[0].period.start), "2027-03-10T00:00:00Z");
    EXPECT_EQ(charged[0].amount, 1000);
    EXPECT_EQ(charged[0].deliveries, 1);
    EXPECT_EQ(s.status, Status::kActive);
    EXPECT_FALSE(s.prepaid);  // back to one charge per box
  }
}

TEST(Gift, ConvertIsForAGiftNotYetConvertedThatHasNotEnded) {
  auto p = plan(1000, Interval::kMonth);
  auto paid = started(p, "2027-01-10T00:00:00Z", "2027-01-10T00:00:00Z");
  EXPECT_EQ(convert_gift(paid, at("2027-01-11T00:00:00Z")).error().code, "not_a_gift");
  auto s = gift_of(p, 1, "2027-01-10T00:00:00Z");
  ASSERT_TRUE(convert_gift(s, at("2027-01-11T00:00:00Z")).ok());
  EXPECT_EQ(convert_gift(s, at("2027-01-12T00:00:00Z")).error().code, "not_a_gift");
  auto ended = gift_of(p, 1, "2027-01-10T00:00:00Z");
  (void)advance(ended, {&p, nullptr}, at("2027-03-01T00:00:00Z"));
  ASSERT_EQ(ended.status, Status::kCanceled);
  EXPECT_EQ(convert_gift(ended, at("2027-03-01T00:00:00Z")).error().code, "invalid_state_transition");
}

TEST(Gift, ASkippedBoxComesLaterAndTheGiftLinkSurvivesItsJson) {
  auto p = plan(1000, Interval::kMonth);
  auto s = gift_of(p, 2, "2027-01-10T00:00:00Z");
  s.skipped_periods = {at("2027-02-10T00:00:00Z")};
  auto events = advance(s, {&p, nullptr}, at("2027-03-10T00:00:00Z"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "subscription.period_skipped");
  EXPECT_TRUE(events[1].covered());  // March: the second gift box
  EXPECT_TRUE(s.cancel_at_period_end);
  auto read = subscription_from_doc(to_json(s));
  EXPECT_EQ(read.gift, s.gift);
  EXPECT_EQ(read.prepaid, s.prepaid);
  EXPECT_EQ(read.prepaid->invoice, "in_gift");
}

}  // namespace recur::subscriptions
