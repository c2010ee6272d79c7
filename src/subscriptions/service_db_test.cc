// Subscription use cases against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "events/model.h"
#include "testing/fixtures.h"

namespace recur::subscriptions {
namespace {

using testing::at;
using testing::TestApp;

class SubscriptionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }
  SubscriptionService& svc() { return t.app->subscriptions(); }
  Subscription reload(const std::string& id) { return *svc().get(id); }
  void advance_to(const char* when) {
    t.clock->set(at(when));
    auto report = svc().run_due();
    ASSERT_TRUE(report.ok()) << report.error().message;
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query(sql, params);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows->at(0).int64(0);
  }
  TestApp t;
};

TEST_F(SubscriptionServiceTest, MonthlyAnchorOn31stRenewsOnLastDayOfShortMonthsAndReturnsTo31st) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto cus = testing::make_customer(t);
  auto sub = testing::subscribe(t, cus.id, plan.id);
  EXPECT_EQ(sub.status, Status::kActive);
  EXPECT_EQ(sub.billed_periods, 1);
  EXPECT_EQ(format_rfc3339(sub.current.end), "2026-02-28T10:00:00Z");

  advance_to("2026-03-01T00:00:00Z");
  auto s = reload(sub.id);
  EXPECT_EQ(format_rfc3339(s.current.start), "2026-02-28T10:00:00Z");
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-03-31T10:00:00Z");
  EXPECT_EQ(s.billed_periods, 2);

  advance_to("2026-05-01T00:00:00Z");
  s = reload(sub.id);
  EXPECT_EQ(format_rfc3339(s.current.start), "2026-04-30T10:00:00Z");
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-05-31T10:00:00Z");
  EXPECT_EQ(s.billed_periods, 4);
}

TEST_F(SubscriptionServiceTest, TrialEndOnCreateAndPatchOverridesThePlansTrial) {
  auto with_trial = testing::make_plan(t, 2000, Interval::kMonth, 1, 14, "Trial");
  auto cus = testing::make_customer(t);
  auto invoices = [&](const std::string& sub) {
    return count("SELECT COUNT(*) FROM invoices WHERE subscription_id = $1", {sub});
  };
  // "now": no trial, billed at once despite the plan's 14 days.
  CreateInput none{.customer = cus.id, .plan = with_trial.id, .trial_end = kTrialEndNow};
  auto at_once = svc().create(none, t.actor);
  ASSERT_TRUE(at_once.ok()) << at_once.error().message;
  EXPECT_EQ(at_once->status, Status::kActive);
  EXPECT_FALSE(at_once->trial_end.has_value());
  EXPECT_EQ(invoices(at_once->id), 1);
  // A longer trial than the plan's.
  CreateInput longer{.customer = cus.id, .plan = with_trial.id, .trial_end = at("2026-03-31T10:00:00Z")};
  auto trialing = svc().create(longer, t.actor);
  ASSERT_TRUE(trialing.ok()) << trialing.error().message;
  EXPECT_EQ(trialing->status, Status::kTrialing);
  EXPECT_EQ(trialing->current.end, at("2026-03-31T10:00:00Z"));
  EXPECT_EQ(invoices(trialing->id), 0);
  // A time not after the start, or beyond two years, is refused and nothing is created.
  for (Timestamp bad : {at("2026-01-31T10:00:00Z"), at("2028-02-01T10:00:00Z")}) {
    CreateInput wrong{.customer = cus.id, .plan = with_trial.id, .trial_end = bad};
    auto refused = svc().create(wrong, t.actor);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, "validation_failed");
    EXPECT_EQ(refused.error().fields.at(0).field, "trial_end");
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions"), 2);
  // PATCH: extend, then end it now, which bills the first period in the same change.
  t.clock->set(at("2026-02-05T10:00:00Z"));
  UpdateInput extend;
  extend.trial_end = at("2026-04-15T10:00:00Z");
  auto extended = svc().update(trialing->id, extend, trialing->version, t.actor);
  ASSERT_TRUE(extended.ok()) << extended.error().message;
  EXPECT_EQ(extended->current.end, at("2026-04-15T10:00:00Z"));
  UpdateInput end_now;
  end_now.trial_end = kTrialEndNow;
  auto ended = svc().update(trialing->id, end_now, extended->version, t.actor);
  ASSERT_TRUE(ended.ok()) << ended.error().message;
  EXPECT_EQ(ended->status, Status::kActive);
  EXPECT_EQ(ended->billing_cycle_anchor, at("2026-02-05T10:00:00Z"));
  EXPECT_EQ(invoices(trialing->id), 1);
  // No trial left to move.
  auto refused = svc().update(trialing->id, extend, ended->version, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "not_trialing");
  EXPECT_EQ(reload(trialing->id).version, ended->version);
}

TEST_F(SubscriptionServiceTest, EndingATrialNowWithANewQuantityBillsTheFirstPeriodForIt) {
  auto with_trial = testing::make_plan(t, 2000, Interval::kMonth, 1, 14, "Trial");
  auto sub = testing::subscribe(t, testing::make_customer(t).id, with_trial.id);
  ASSERT_EQ(sub.status, Status::kTrialing);
  UpdateInput in;
  in.trial_end = kTrialEndNow;
  in.quantity = 3;
  auto ended = svc().update(sub.id, in, sub.version, t.actor);
  ASSERT_TRUE(ended.ok()) << ended.error().message;
  EXPECT_EQ(ended->quantity, 3);
  EXPECT_EQ(ended->current_amount, 6000);
  auto tx = t.app->database().begin(db::TxMode::kReadOnly);
  auto rows = (*tx)->query("SELECT doc FROM invoices WHERE subscription_id = $1", {sub.id});
  ASSERT_TRUE(rows.ok() && rows->size() == 1);
  EXPECT_EQ(Json::parse(rows->at(0).text(0)).at("total"), 6000);
}

TEST_F(SubscriptionServiceTest, SchedulerRunTwiceBillsEachPeriodOnce) {
  auto plan = testing::make_plan(t, 1000, Interval::kWeek);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  advance_to("2026-02-28T11:00:00Z");  // four weeks later
  auto once = reload(sub.id);
  ASSERT_TRUE(svc().run_due().ok());
  auto twice = reload(sub.id);
  EXPECT_EQ(once.billed_periods, 5);
  EXPECT_EQ(twice.billed_periods, once.billed_periods);
  EXPECT_EQ(twice.version, once.version);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE resource_id = $1 AND type = 'subscription.renewed'", {sub.id}), 4);
}

TEST_F(SubscriptionServiceTest, TrialEndsIntoActiveWithAnchorAtTrialEnd) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth, 1, 14);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  EXPECT_EQ(sub.status, Status::kTrialing);
  EXPECT_EQ(sub.billed_periods, 0);
  EXPECT_EQ(format_rfc3339(*sub.trial_end), "2026-02-14T10:00:00Z");
  advance_to("2026-02-14T10:00:00Z");
  auto s = reload(sub.id);
  EXPECT_EQ(s.status, Status::kActive);
  EXPECT_EQ(s.billed_periods, 1);
  EXPECT_EQ(format_rfc3339(s.billing_cycle_anchor), "2026-02-14T10:00:00Z");
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-03-14T10:00:00Z");
}

TEST_F(SubscriptionServiceTest, ScheduledSubscriptionStartsOnItsStartDate) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id, at("2026-03-15T00:00:00Z"));
  EXPECT_EQ(sub.status, Status::kScheduled);
  EXPECT_EQ(sub.billed_periods, 0);
  advance_to("2026-03-14T23:59:59Z");
  EXPECT_EQ(reload(sub.id).status, Status::kScheduled);
  advance_to("2026-03-15T00:00:00Z");
  auto s = reload(sub.id);
  EXPECT_EQ(s.status, Status::kActive);
  EXPECT_EQ(s.billed_periods, 1);
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-04-15T00:00:00Z");
}

TEST_F(SubscriptionServiceTest, PausedPeriodsAreNotBilledAndResumeReanchors) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto paused = svc().pause(sub.id, at("2026-05-10T00:00:00Z"), sub.version, t.actor);
  ASSERT_TRUE(paused.ok()) << paused.error().message;
  EXPECT_EQ(paused->status, Status::kPaused);
  advance_to("2026-05-09T00:00:00Z");
  EXPECT_EQ(reload(sub.id).billed_periods, 1);  // no renewals while paused
  advance_to("2026-05-10T00:00:00Z");
  auto s = reload(sub.id);
  EXPECT_EQ(s.status, Status::kActive);
  EXPECT_EQ(s.billed_periods, 2);
  EXPECT_EQ(format_rfc3339(s.billing_cycle_anchor), "2026-05-10T00:00:00Z");
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-06-10T00:00:00Z");
}

TEST_F(SubscriptionServiceTest, ResumeInsidePaidPeriodKeepsThePeriod) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  ASSERT_TRUE(svc().pause(sub.id, std::nullopt, std::nullopt, t.actor).ok());
  t.clock->set(at("2026-02-10T00:00:00Z"));
  auto resumed = svc().resume(sub.id, std::nullopt, t.actor);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->status, Status::kActive);
  EXPECT_EQ(resumed->current.start, sub.current.start);
  EXPECT_EQ(resumed->billed_periods, 1);
  EXPECT_FALSE(svc().resume(sub.id, std::nullopt, t.actor).ok());
}

TEST_F(SubscriptionServiceTest, SkippedPeriodIsNotBilledAndShowsInUpcoming) {
  auto plan = testing::make_plan(t, 1500, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto skipped = svc().skip(sub.id, std::nullopt, std::nullopt, t.actor);
  ASSERT_TRUE(skipped.ok()) << skipped.error().message;
  auto upcoming = *svc().upcoming(sub.id, 3);
  ASSERT_EQ(upcoming.size(), 3u);
  EXPECT_FALSE(upcoming[0].skipped);
  EXPECT_TRUE(upcoming[1].skipped);
  EXPECT_EQ(upcoming[1].amount, 0);
  EXPECT_EQ(upcoming[2].amount, 1500);
  auto again = svc().skip(sub.id, upcoming[1].period.start, std::nullopt, t.actor);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "period_already_skipped");
  advance_to("2026-03-31T10:00:00Z");  // past two period ends: one skipped, one billed
  auto s = reload(sub.id);
  EXPECT_EQ(s.billed_periods, 2);
  EXPECT_TRUE(s.skipped_periods.empty());
}

TEST_F(SubscriptionServiceTest, CancelAtPeriodEndEndsAtPeriodEndAndReactivateUndoesIt) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto canceled = svc().cancel(sub.id, {true, "too_expensive", "pricey"}, std::nullopt, t.actor);
  ASSERT_TRUE(canceled.ok());
  EXPECT_TRUE(canceled->cancel_at_period_end);
  EXPECT_EQ(canceled->status, Status::kActive);
  auto reactivated = svc().reactivate(sub.id, std::nullopt, t.actor);
  ASSERT_TRUE(reactivated.ok());
  EXPECT_FALSE(reactivated->cancel_at_period_end);
  ASSERT_TRUE(svc().cancel(sub.id, {true, "moving", std::nullopt}, std::nullopt, t.actor).ok());
  advance_to("2026-03-05T00:00:00Z");
  auto s = reload(sub.id);
  EXPECT_EQ(s.status, Status::kCanceled);
  EXPECT_EQ(format_rfc3339(*s.ended_at), "2026-02-28T10:00:00Z");
  EXPECT_EQ(s.billed_periods, 1);
  auto late = svc().reactivate(sub.id, std::nullopt, t.actor);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "subscription_canceled");
}

TEST_F(SubscriptionServiceTest, CancelNowRefusesFurtherActions) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto canceled = svc().cancel(sub.id, {false, "not_using", std::nullopt}, std::nullopt, t.actor);
  ASSERT_TRUE(canceled.ok());
  EXPECT_EQ(canceled->status, Status::kCanceled);
  auto paused = svc().pause(sub.id, std::nullopt, std::nullopt, t.actor);
  ASSERT_FALSE(paused.ok());
  EXPECT_EQ(paused.error().code, "subscription_canceled");
  EXPECT_EQ(reload(sub.id).version, canceled->version);  // a refused action changes nothing
}

TEST_F(SubscriptionServiceTest, ChangePlanPreviewMatchesStoredProrationAndChangesNothing) {
  auto small = testing::make_plan(t, 3000, Interval::kMonth, 1, 0, "Small");
  auto large = testing::make_plan(t, 5000, Interval::kMonth, 1, 0, "Large");
  auto sub = testing::subscribe(t, testing::make_customer(t).id, small.id);
  t.clock->set(at("2026-02-14T10:00:00Z"));  // half of the 28-day February period
  ChangePlanInput change{large.id, std::nullopt, Proration::kCreate, Effective::kNow};
  auto preview = svc().preview_change(sub.id, change);
  ASSERT_TRUE(preview.ok()) << preview.error().message;
  ASSERT_EQ(preview->lines.size(), 2u);
  EXPECT_EQ(preview->lines[0].amount, -1500);
  EXPECT_EQ(preview->lines[1].amount, 2500);
  EXPECT_EQ(preview->total, 1000);
  EXPECT_EQ(reload(sub.id).version, sub.version);

  auto changed = svc().change_plan(sub.id, change, sub.version, t.actor);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(changed->plan, large.id);
  EXPECT_EQ(changed->current.end, sub.current.end);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE subscription_id = $1", {sub.id}), 2);
  EXPECT_EQ(count("SELECT SUM(amount) FROM pending_invoice_items WHERE subscription_id = $1", {sub.id}), 1000);
}

TEST_F(SubscriptionServiceTest, ChangeToAnotherIntervalResetsTheAnchorAndCreditsUnusedTime) {
  auto weekly = testing::make_plan(t, 700, Interval::kWeek, 1, 0, "Weekly");
  auto monthly = testing::make_plan(t, 2400, Interval::kMonth, 1, 0, "Monthly");
  auto sub = testing::subscribe(t, testing::make_customer(t).id, weekly.id);
  t.clock->set(sub.current.start + 2 * kSecondsPerDay);  // 5 of 7 days unused
  auto changed = svc().change_plan(sub.id, {monthly.id, std::nullopt, Proration::kCreate, Effective::kNow}, std::nullopt, t.actor);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(changed->billing_cycle_anchor, t.clock->now());
  EXPECT_EQ(format_rfc3339(changed->current.end), "2026-03-02T10:00:00Z");
  EXPECT_EQ(changed->billed_periods, 2);
  EXPECT_EQ(changed->current_amount, 2400);
  // The unused 5/7 of the week is credited on the new period's immediate invoice.
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE subscription_id = $1", {sub.id}), 0);
  auto invoices = t.app->billing().service.list_invoices({sub.id,  std::nullopt, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(invoices.ok());
  ASSERT_EQ(invoices->items.size(), 2u);
  const auto& immediate = invoices->items[0];
  EXPECT_EQ(immediate.period.start, t.clock->now());
  EXPECT_EQ(immediate.subtotal, 2400 - 500);
  EXPECT_EQ(immediate.total, 1900);
  ASSERT_EQ(immediate.lines.size(), 2u);
  EXPECT_TRUE(immediate.lines[1].proration);
  EXPECT_EQ(immediate.lines[1].amount, -500);
  // The new period is charged like any period start: a billable event with its amount.
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE resource_id = $1 AND type = 'subscription.period_started'"
                  " AND payload LIKE '%\"amount\":2400%'",
                  {sub.id}),
            1);
}

TEST_F(SubscriptionServiceTest, ChangingPlanDuringASkippedPeriodCreditsNothing) {
  auto small = testing::make_plan(t, 3000, Interval::kMonth, 1, 0, "Small");
  auto large = testing::make_plan(t, 5000, Interval::kMonth, 1, 0, "Large");
  auto sub = testing::subscribe(t, testing::make_customer(t).id, small.id);
  ASSERT_TRUE(svc().skip(sub.id, std::nullopt, std::nullopt, t.actor).ok());
  t.clock->set(at("2026-03-14T10:00:00Z"));  // inside the skipped Feb 28 - Mar 31 period
  auto preview = svc().preview_change(sub.id, {large.id, std::nullopt, Proration::kCreate, Effective::kNow});
  ASSERT_TRUE(preview.ok()) << preview.error().message;
  ASSERT_EQ(preview->lines.size(), 1u);  // no credit: the period cost nothing
  EXPECT_GT(preview->lines[0].amount, 0);
}

TEST_F(SubscriptionServiceTest, CancellingAPausedSubscriptionAfterItsPeriodEndsItNow) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  ASSERT_TRUE(svc().pause(sub.id, std::nullopt, std::nullopt, t.actor).ok());
  t.clock->set(at("2026-04-10T00:00:00Z"));
  auto canceled = svc().cancel(sub.id, {true, "moving", std::nullopt}, std::nullopt, t.actor);
  ASSERT_TRUE(canceled.ok()) << canceled.error().message;
  EXPECT_EQ(canceled->status, Status::kCanceled);
  EXPECT_EQ(*canceled->ended_at, at("2026-04-10T00:00:00Z"));
}

TEST_F(SubscriptionServiceTest, ChangeAtPeriodEndAppliesOnRenewal) {
  auto a = testing::make_plan(t, 2400, Interval::kMonth, 1, 0, "A");
  auto b = testing::make_plan(t, 1800, Interval::kMonth, 1, 0, "B");
  auto sub = testing::subscribe(t, testing::make_customer(t).id, a.id);
  auto changed = svc().change_plan(sub.id, {b.id, 2, Proration::kCreate, Effective::kPeriodEnd}, std::nullopt, t.actor);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->plan, a.id);
  ASSERT_TRUE(changed->pending_change.has_value());
  auto upcoming = *svc().upcoming(sub.id, 2);
  EXPECT_EQ(upcoming[0].amount, 2400);
  EXPECT_EQ(upcoming[1].amount, 3600);
  advance_to("2026-03-01T00:00:00Z");
  auto s = reload(sub.id);
  EXPECT_EQ(s.plan, b.id);
  EXPECT_EQ(s.quantity, 2);
  EXPECT_FALSE(s.pending_change.has_value());
}

// ------------------------------------------------------------------ delivery schedules

TEST_F(SubscriptionServiceTest, AnOwnDeliveryScheduleIsStoredBilledAtThePlansPriceAndKeepsItsDay) {
  // 2026-01-31 is a Saturday: every 2 weeks on Thursday gives Thu 02-12 (nearest to 02-14), then every 14 days.
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  const Cadence thursdays{Interval::kWeek, 2, 4, std::nullopt};
  CreateInput in{.customer = testing::make_customer(t).id, .plan = plan.id, .delivery = thursdays};
  auto sub = svc().create(in, t.actor);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  EXPECT_EQ(format_rfc3339(sub->current.end), "2026-02-12T10:00:00Z");
  EXPECT_EQ(reload(sub->id).delivery, thursdays);
  advance_to("2026-03-01T00:00:00Z");
  auto s = reload(sub->id);
  EXPECT_EQ(format_rfc3339(s.current.start), "2026-02-26T10:00:00Z");
  EXPECT_EQ(s.billed_periods, 3);
  auto invoices = t.app->billing().service.list_invoices({sub->id, std::nullopt, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(invoices.ok());
  ASSERT_EQ(invoices->items.size(), 3u);
  for (const auto& invoice : invoices->items) EXPECT_EQ(invoice.total, 2400);
}

TEST_F(SubscriptionServiceTest, ANewDeliveryScheduleIsAChangeOfCadenceWithItsProrationAndPreview) {
  auto plan = testing::make_plan(t, 2800, Interval::kMonth, 1, 0, "Box");
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);  // 01-31 .. 02-28
  t.clock->set(at("2026-02-14T10:00:00Z"));                                 // half of February unused
  ChangePlanInput weekly{.delivery = std::optional<Cadence>(Cadence{Interval::kWeek, 1, 1, std::nullopt})};
  auto preview = svc().preview_change(sub.id, weekly);
  ASSERT_TRUE(preview.ok()) << preview.error().message;
  EXPECT_TRUE(preview->resets_anchor);
  EXPECT_EQ(preview->plan, plan.id);
  // Sat 02-14 + 1 week = Sat 02-21: Mondays 02-16 (5 days before) and 02-23 (2 after).
  EXPECT_EQ(format_rfc3339(preview->new_period.end), "2026-02-23T10:00:00Z");
  ASSERT_EQ(preview->lines.size(), 2u);
  EXPECT_EQ(preview->lines[0].amount, -1400);
  EXPECT_EQ(preview->lines[1].amount, 2800);
  EXPECT_EQ(reload(sub.id).version, sub.version) << "a preview changes nothing";

  auto changed = svc().change_plan(sub.id, weekly, sub.version, t.actor);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(changed->delivery, *weekly.delivery);
  EXPECT_EQ(format_rfc3339(changed->current.end), "2026-02-23T10:00:00Z");
  EXPECT_EQ(format_rfc3339(changed->billing_cycle_anchor), "2026-02-23T10:00:00Z");
  EXPECT_EQ(changed->billed_periods, 2);
  auto invoices = t.app->billing().service.list_invoices({sub.id, std::nullopt, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(invoices.ok());
  ASSERT_EQ(invoices->items.size(), 2u);
  EXPECT_EQ(invoices->items[0].total, 2800 - 1400);  // the new period, less the unused half of February
  // The same schedule again is no change; null goes back to the plan's cadence (at the period end here).
  auto same = svc().change_plan(sub.id, weekly, std::nullopt, t.actor);
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.error().code, "no_change");
  ChangePlanInput back{.effective = Effective::kPeriodEnd, .delivery = std::optional<Cadence>()};
  auto pending = svc().change_plan(sub.id, back, std::nullopt, t.actor);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  ASSERT_TRUE(pending->pending_change.has_value());
  EXPECT_FALSE(pending->pending_change->delivery.has_value());
  advance_to("2026-02-24T00:00:00Z");
  auto s = reload(sub.id);
  EXPECT_FALSE(s.delivery.has_value());
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-03-23T10:00:00Z");  // monthly again, from the change
}

TEST_F(SubscriptionServiceTest, MovingTheNextDateMovesTheRenewalAndIsRecorded) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);  // 01-31 .. 02-28
  t.clock->set(at("2026-02-05T00:00:00Z"));
  auto early = svc().move_next_date(sub.id, at("2026-02-05T12:00:00Z"), sub.version, t.actor);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, "invalid_date");
  auto moved = svc().move_next_date(sub.id, at("2026-02-20T10:00:00Z"), sub.version, t.actor);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(format_rfc3339(moved->current.end), "2026-02-20T10:00:00Z");
  EXPECT_EQ(moved->version, sub.version + 1);
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM events WHERE resource_id = $1 AND type = 'subscription.next_date_moved'", {sub.id}),
      1);
  advance_to("2026-02-20T10:00:00Z");  // renewed on the new date, then monthly from it
  auto s = reload(sub.id);
  EXPECT_EQ(s.billed_periods, 2);
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-03-20T10:00:00Z");
}

TEST_F(SubscriptionServiceTest, ABlackoutDateMovesTheDeliveriesDueThatDayAtOnceAndTheRenewalFollows) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);  // renews 2026-02-28 10:00
  auto other = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  const std::int64_t feb28 = at("2026-02-28T00:00:00Z") / kSecondsPerDay;
  auto put = svc().put_blackout_date(feb28, "stocktake");
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_TRUE(put->created);
  EXPECT_EQ(put->moved, 2);
  EXPECT_EQ(put->date.reason, "stocktake");
  auto s = reload(sub.id);
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-03-01T10:00:00Z");
  EXPECT_EQ(s.version, sub.version + 1);
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM events WHERE resource_id = $1 AND type = 'subscription.delivery_moved'", {sub.id}),
      1);
  EXPECT_EQ(count("SELECT next_action_at FROM subscriptions WHERE id = $1", {other.id}), at("2026-03-01T10:00:00Z"));
  // Put again: the reason changes, nothing moves twice.
  auto again = svc().put_blackout_date(feb28, "inventory count");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->moved, 0);
  EXPECT_EQ(again->date.reason, "inventory count");
  // Nothing renews on the closed day; the renewal comes the next day, then on the calendar's
  // own day again (the 31st: the subscription is anchored on Jan 31).
  advance_to("2026-02-28T23:00:00Z");
  EXPECT_EQ(reload(sub.id).billed_periods, 1);
  advance_to("2026-03-01T10:00:00Z");
  s = reload(sub.id);
  EXPECT_EQ(s.billed_periods, 2);
  EXPECT_EQ(format_rfc3339(s.current.end), "2026-03-31T10:00:00Z");
  // A past day is refused; deleting opens the day; deleting again is 404.
  auto past = svc().put_blackout_date(feb28 - 60, "");
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code, "validation_failed");
  ASSERT_TRUE(svc().delete_blackout_date(feb28).ok());
  auto missing = svc().delete_blackout_date(feb28);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "blackout_date_not_found");
  EXPECT_TRUE(svc().blackout_dates()->empty());
}

TEST_F(SubscriptionServiceTest, AChangeAtPeriodEndAmendsTheScheduledOneInsteadOfDroppingIt) {
  auto a = testing::make_plan(t, 2400, Interval::kMonth, 1, 0, "A");
  auto b = testing::make_plan(t, 1800, Interval::kMonth, 1, 0, "B");
  auto sub = testing::subscribe(t, testing::make_customer(t).id, a.id);
  ChangePlanInput to_b{.plan = b.id, .effective = Effective::kPeriodEnd};
  ASSERT_TRUE(svc().change_plan(sub.id, to_b, std::nullopt, t.actor).ok());
  const Cadence thursdays{Interval::kWeek, 2, 4, std::nullopt};
  ChangePlanInput schedule{.effective = Effective::kPeriodEnd, .delivery = std::optional<Cadence>(thursdays)};
  auto amended = svc().change_plan(sub.id, schedule, std::nullopt, t.actor);
  ASSERT_TRUE(amended.ok()) << amended.error().message;
  ASSERT_TRUE(amended->pending_change.has_value());
  EXPECT_EQ(amended->pending_change->plan, b.id) << "the scheduled plan is kept";
  EXPECT_EQ(amended->pending_change->delivery, thursdays);
  auto again = svc().change_plan(sub.id, schedule, std::nullopt, t.actor);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "no_change");
}

TEST_F(SubscriptionServiceTest, StaleVersionIsRefusedAndChangesNothing) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto first = svc().update(sub.id, {3, std::nullopt, std::nullopt}, sub.version, t.actor);
  ASSERT_TRUE(first.ok());
  auto stale = svc().update(sub.id, {5, std::nullopt, std::nullopt}, sub.version, t.actor);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, "version_conflict");
  EXPECT_EQ(reload(sub.id).quantity, 3);
}

TEST_F(SubscriptionServiceTest, ConcurrentUpdatesWithOneVersionLetExactlyOneWin) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      auto r = svc().update(sub.id, {i + 1, std::nullopt, std::nullopt}, sub.version, t.actor);
      if (r.ok()) ++wins;
      else if (r.error().code == "version_conflict") ++conflicts;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), 7);
  EXPECT_EQ(reload(sub.id).version, sub.version + 1);
}

TEST_F(SubscriptionServiceTest, OnlyNeverBilledSubscriptionsCanBeDeleted) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto cus = testing::make_customer(t);
  auto active = testing::subscribe(t, cus.id, plan.id);
  auto refused = svc().remove(active.id, std::nullopt, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "subscription_has_billing_history");
  auto scheduled = testing::subscribe(t, cus.id, plan.id, at("2026-06-01T00:00:00Z"));
  ASSERT_TRUE(svc().remove(scheduled.id, std::nullopt, t.actor).ok());
  EXPECT_EQ(svc().get(scheduled.id).error().code, "subscription_not_found");
  auto history = svc().history(scheduled.id, {.limit = 10});
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->items.back().type, "subscription.deleted");
}

TEST_F(SubscriptionServiceTest, HistoryRecordsActorAndBeforeAfter) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  ASSERT_TRUE(svc().update(sub.id, {4, std::nullopt, std::nullopt}, sub.version, t.actor).ok());
  auto history = *svc().history(sub.id, {.limit = 50});
  ASSERT_GE(history.items.size(), 3u);
  EXPECT_EQ(history.items[0].type, "subscription.created");
  const auto& update = history.items.back();
  EXPECT_EQ(update.type, "subscription.updated");
  EXPECT_EQ(update.actor.id, "key_test");
  EXPECT_EQ(update.before["quantity"], 1);
  EXPECT_EQ(update.after["quantity"], 4);
}

TEST_F(SubscriptionServiceTest, EachStepTheSchedulerTakesRecordsTheSubscriptionBeforeAndAfterThatStep) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  advance_to("2026-05-01T00:00:00Z");  // three renewals in one run
  auto stored = reload(sub.id);
  auto history = *svc().history(sub.id, {.limit = 50});
  std::vector<events::Event> renewals;
  for (const auto& e : history.items)
    if (e.type == "subscription.renewed") renewals.push_back(e);
  ASSERT_EQ(renewals.size(), 3u);
  for (std::size_t i = 0; i < renewals.size(); ++i) {
    const auto& e = renewals[i];
    ASSERT_TRUE(e.after.is_object() && e.before.is_object()) << i;
    EXPECT_EQ(e.after["id"], sub.id);
    EXPECT_EQ(e.after["current_period"], e.details["period"]) << "each shows its own step";
    EXPECT_EQ(e.after["billed_periods"], 2 + static_cast<int>(i));
    EXPECT_EQ(e.after["version"], stored.version) << "the version the run stored";
    if (i == 0) EXPECT_EQ(e.before["version"], sub.version);
    else EXPECT_EQ(e.before["current_period"], renewals[i - 1].after["current_period"]);
    EXPECT_TRUE(events::previous_attributes(e.before, e.after).contains("current_period"));
  }
  EXPECT_EQ(renewals.back().after, to_json(stored));
}

TEST_F(SubscriptionServiceTest, StepsAtSignupShowTheNewSubscriptionAndRetentionEventsShowItAsItIs) {
  auto plan = testing::make_plan(t, 2400, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto offers = svc().present_offers(sub.id, "too_expensive", t.actor);
  ASSERT_TRUE(offers.ok());
  auto history = *svc().history(sub.id, {.limit = 50});
  ASSERT_EQ(history.items.size(), 3u);
  EXPECT_EQ(history.items[1].type, "subscription.started");
  EXPECT_TRUE(history.items[1].before.is_null());
  EXPECT_EQ(history.items[1].after, to_json(sub));
  EXPECT_EQ(history.items[2].type, "subscription.retention_offered");
  EXPECT_EQ(history.items[2].after, to_json(reload(sub.id)));
}

TEST_F(SubscriptionServiceTest, RetentionOffersAreRecordedAndAcceptingOneKeepsTheCustomer) {
  auto plan = testing::make_plan(t, 2000, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto discount = t.app->retention().create_offer({"too_expensive", OfferType::kDiscount, "20% off", 20, 2, 0, std::nullopt,
                                      Json::object()},
                                     t.actor);
  auto pause = t.app->retention().create_offer({"not_using", OfferType::kPause, "pause", 0, 0, 1, std::nullopt, Json::object()},
                                  t.actor);
  ASSERT_TRUE(discount.ok() && pause.ok());
  ASSERT_TRUE(svc().cancel(sub.id, {true, "too_expensive", std::nullopt}, std::nullopt, t.actor).ok());

  auto offers = svc().present_offers(sub.id, "too_expensive", t.actor);
  ASSERT_TRUE(offers.ok());
  ASSERT_EQ(offers->size(), 1u);
  EXPECT_EQ(offers->at(0).id, discount->id);
  auto not_shown = svc().accept_offer(sub.id, pause->id, t.actor);
  ASSERT_FALSE(not_shown.ok());
  EXPECT_EQ(not_shown.error().code, "offer_not_open");

  auto accepted = svc().accept_offer(sub.id, discount->id, t.actor);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_FALSE(accepted->cancel_at_period_end);
  ASSERT_TRUE(accepted->discount.has_value());
  auto upcoming = *svc().upcoming(sub.id, 4);
  EXPECT_EQ(upcoming[1].amount, 1600);
  EXPECT_EQ(upcoming[2].amount, 1600);
  EXPECT_EQ(upcoming[3].amount, 2000);
  EXPECT_EQ(count("SELECT COUNT(*) FROM retention_outcomes WHERE subscription_id = $1 AND outcome = 'accepted'",
                  {sub.id}),
            1);
}

TEST_F(SubscriptionServiceTest, APausedSubscriptionIsOfferedOnlyWhatItCouldAccept) {
  auto plan = testing::make_plan(t, 2000, Interval::kMonth);
  auto cheaper = testing::make_plan(t, 1500, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto change = t.app->retention().create_offer(
      {"too_expensive", OfferType::kChangePlan, "a cheaper box", 0, 0, 0, cheaper.id, Json::object()}, t.actor);
  auto discount = t.app->retention().create_offer(
      {"too_expensive", OfferType::kDiscount, "20% off", 20, 2, 0, std::nullopt, Json::object()}, t.actor);
  ASSERT_TRUE(change.ok() && discount.ok());
  auto active = svc().present_offers(sub.id, "too_expensive", t.actor);
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->size(), 2u);  // an active subscription may change plan
  ASSERT_TRUE(svc().pause(sub.id, std::nullopt, std::nullopt, t.actor).ok());
  auto paused = svc().present_offers(sub.id, "too_expensive", t.actor);
  ASSERT_TRUE(paused.ok());
  ASSERT_EQ(paused->size(), 1u);
  EXPECT_EQ(paused->at(0).id, discount->id);
  EXPECT_TRUE(svc().accept_offer(sub.id, discount->id, t.actor).ok());
}

TEST_F(SubscriptionServiceTest, CancellingAfterOffersRecordsCanceledAnyway) {
  auto plan = testing::make_plan(t, 2000, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto skip = t.app->retention().create_offer({"not_using", OfferType::kSkip, "skip one", 0, 0, 0, std::nullopt, Json::object()},
                                 t.actor);
  ASSERT_TRUE(skip.ok());
  ASSERT_TRUE(svc().present_offers(sub.id, "not_using", t.actor).ok());
  ASSERT_TRUE(svc().cancel(sub.id, {false, "not_using", std::nullopt}, std::nullopt, t.actor).ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM retention_outcomes WHERE subscription_id = $1 AND outcome = 'canceled_anyway'",
                  {sub.id}),
            1);
}

TEST_F(SubscriptionServiceTest, UnknownCustomerOrArchivedPlanIsRefused) {
  auto plan = testing::make_plan(t, 2000, Interval::kMonth);
  auto missing = t.app->subscriptions().create({"cus_nope", plan.id, 1, std::nullopt, std::nullopt, Json::object()},
                                               t.actor);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "customer_not_found");
  auto archived = t.app->catalog().update_plan(plan.id, {std::nullopt, std::nullopt, std::nullopt, std::nullopt, false,
                                                         std::nullopt},
                                               plan.version, t.actor);
  ASSERT_TRUE(archived.ok());
  auto cus = testing::make_customer(t);
  auto refused = t.app->subscriptions().create({cus.id, plan.id, 1, std::nullopt, std::nullopt, Json::object()}, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "plan_inactive");
  EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions"), 0);
}

}  // namespace
}  // namespace recur::subscriptions
