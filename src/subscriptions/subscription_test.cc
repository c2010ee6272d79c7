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

}  // namespace
}  // namespace recur::subscriptions
