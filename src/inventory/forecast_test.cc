// The pure forecast: calendars, retention, signups, the demand sums, and a backtest on
// generated subscriptions whose churn and signup pattern are known.
#include "inventory/forecast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

namespace recur::inventory {
namespace {
// Not `Status`: in a unity build that name would shadow recur::Status in the files after this one.
using SubStatus = subscriptions::Status;
using subscriptions::Subscription;

Timestamp at(const char* s) { return parse_rfc3339(s).value(); }

catalog::Product product(const std::string& id) {
  catalog::Product p;
  p.id = id;
  p.sku = "SKU-" + id;
  p.name = "Product " + id;
  return p;
}

catalog::Plan plan(const std::string& id, Interval interval, int count, std::int64_t trial,
                   std::vector<catalog::PlanItem> items) {
  catalog::Plan p;
  p.id = id;
  p.amount = 1000;
  p.currency = "usd";
  p.cadence = {interval, count};
  p.trial_days = trial;
  p.items = std::move(items);
  return p;
}

TEST(ForecastParams, HorizonIsDaysOrWeeksUpToAYear) {
  EXPECT_EQ(parse_horizon_days("90d"), 90);
  EXPECT_EQ(parse_horizon_days("12w"), 84);
  EXPECT_EQ(parse_horizon_days("366d"), 366);
  for (const char* bad : {"", "d", "0d", "367d", "53w", "90", "9x", "-3d", "1.5w", "90dd"})
    EXPECT_FALSE(parse_horizon_days(bad)) << bad;
  EXPECT_EQ(parse_granularity("month"), Granularity::kMonth);
  EXPECT_FALSE(parse_granularity("quarter"));
}

TEST(ForecastBuckets, WeeksAreSevenDaysFromTheStartAndTheLastIsCut) {
  auto b = make_buckets(at("2026-03-01T12:00:00Z"), at("2026-03-20T12:00:00Z"), Granularity::kWeek);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(format_rfc3339(b[1].start), "2026-03-08T12:00:00Z");
  EXPECT_EQ(format_rfc3339(b[2].end), "2026-03-20T12:00:00Z");
  BucketIndex index(b);
  EXPECT_EQ(index.of(at("2026-03-01T12:00:00Z")), 0);
  EXPECT_EQ(index.of(at("2026-03-08T11:59:59Z")), 0);
  EXPECT_EQ(index.of(at("2026-03-19T00:00:00Z")), 2);
  EXPECT_EQ(index.of(at("2026-03-20T12:00:00Z")), -1);
  EXPECT_EQ(index.of(at("2026-03-01T11:59:59Z")), -1);
}

TEST(ForecastBuckets, MonthsFollowTheCalendarFromTheStartDay) {
  auto b = make_buckets(at("2026-01-31T00:00:00Z"), at("2026-04-15T00:00:00Z"), Granularity::kMonth);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(format_rfc3339(b[0].end), "2026-02-28T00:00:00Z");
  EXPECT_EQ(format_rfc3339(b[1].end), "2026-03-31T00:00:00Z");
  EXPECT_EQ(format_rfc3339(b[2].end), "2026-04-15T00:00:00Z");
  BucketIndex index(b);
  EXPECT_EQ(index.of(at("2026-03-30T00:00:00Z")), 1);
  EXPECT_EQ(index.of(at("2026-03-31T00:00:00Z")), 2);
}

// ------------------------------------------------------------------ calendars

struct World {
  std::vector<catalog::Plan> plans;
  Catalogue cat;
  std::shared_ptr<const subscriptions::ClosedDays> closed;  // blackout dates (none: every day open)
  World() {
    for (const char* id : {"a", "b", "c"}) cat.add(product(id));
    plans.push_back(plan("monthly", Interval::kMonth, 1, 0, {{"a", 2}, {"b", 1}}));
    plans.push_back(plan("weekly", Interval::kWeek, 1, 14, {{"b", 1}, {"c", 1}, {"c", 2}}));
    plans.push_back(plan("bimonthly", Interval::kMonth, 2, 0, {{"a", 1}}));
    for (const auto& p : plans) cat.add(p);
  }
  const catalog::Plan& by_id(const std::string& id) const {
    for (const auto& p : plans)
      if (p.id == id) return p;
    throw std::logic_error("no plan " + id);
  }
  subscriptions::PlanLookup lookup(const Subscription& s) const {
    return {&by_id(s.plan), s.pending_change ? &by_id(s.pending_change->plan) : nullptr, closed.get()};
  }
  Subscription start(const std::string& plan_id, const char* when, const char* now, std::int64_t quantity = 1,
                     std::optional<Cadence> delivery = std::nullopt) const {
    Subscription s;
    s.id = "sub_1";
    s.plan = plan_id;
    s.quantity = quantity;
    s.delivery = delivery;
    s.start_date = at(when);
    (void)subscriptions::begin(s, by_id(plan_id), at(now));
    (void)subscriptions::advance(s, lookup(s), at(now));
    return s;
  }
  // Every box the real lifecycle bills from `from` until `until` (period starts).
  std::vector<Timestamp> lifecycle_boxes(Subscription s, Timestamp from, Timestamp until) const {
    std::vector<Timestamp> out;
    if (s.status == SubStatus::kScheduled && from <= s.start_date) {
      for (const auto& e : subscriptions::begin(s, by_id(s.plan), s.start_date))
        if (e.billable && e.period.start < until) out.push_back(e.period.start);
    }
    for (int guard = 0; guard < 1000; ++guard) {
      auto due = subscriptions::next_action_at(s);
      if (!due || *due >= until) break;
      for (const auto& e : subscriptions::advance(s, lookup(s), *due))
        if (e.billable && e.period.start >= from) out.push_back(e.period.start);
    }
    return out;
  }
};

std::vector<Timestamp> schedule_boxes(const World& w, const Subscription& s, Timestamp until) {
  std::vector<Timestamp> out;
  auto schedule = schedule_of(s, w.cat, at("2026-03-10T00:00:00Z"), w.closed);
  if (!schedule) return out;
  for (const auto& b : boxes(*schedule, until)) out.push_back(b.at);
  return out;
}

TEST(ForecastSchedule, BoxesAreTheOnesTheLifecycleWillBill) {
  World w;
  const Timestamp now = at("2026-03-10T00:00:00Z"), until = at("2026-09-01T00:00:00Z");
  std::vector<std::pair<std::string, Subscription>> cases;
  cases.emplace_back("monthly anchored on the 31st", w.start("monthly", "2026-01-31T09:00:00Z", "2026-03-10T00:00:00Z"));
  cases.emplace_back("weekly in its trial", w.start("weekly", "2026-03-01T00:00:00Z", "2026-03-10T00:00:00Z"));
  cases.emplace_back("weekly after its trial", w.start("weekly", "2026-02-01T00:00:00Z", "2026-03-10T00:00:00Z"));
  cases.emplace_back("scheduled monthly", w.start("monthly", "2026-04-15T00:00:00Z", "2026-03-10T00:00:00Z"));
  cases.emplace_back("scheduled with a trial", w.start("weekly", "2026-04-15T00:00:00Z", "2026-03-10T00:00:00Z"));
  cases.emplace_back("every two months", w.start("bimonthly", "2025-12-31T00:00:00Z", "2026-03-10T00:00:00Z"));
  auto skipped = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  skipped.skipped_periods = {at("2026-04-20T00:00:00Z"), at("2026-06-20T00:00:00Z")};
  cases.emplace_back("monthly with two skips", skipped);
  auto paused = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  paused.status = SubStatus::kPaused;
  paused.pause = subscriptions::Pause{now, at("2026-05-05T00:00:00Z")};
  cases.emplace_back("paused until after the paid period", paused);
  auto short_pause = paused;
  short_pause.pause->resumes_at = at("2026-03-15T00:00:00Z");
  cases.emplace_back("paused inside the paid period", short_pause);
  auto change = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  change.pending_change = subscriptions::PendingChange{"bimonthly", 3, change.current.end};
  cases.emplace_back("changing to every two months", change);
  auto to_weekly = change;
  to_weekly.pending_change = subscriptions::PendingChange{"weekly", 1, change.current.end};
  cases.emplace_back("changing to weekly", to_weekly);
  // Own delivery schedules: every 2 weeks on Thursday, monthly on the 15th.
  const Cadence thursdays{Interval::kWeek, 2, 4, std::nullopt}, fifteenth{Interval::kMonth, 1, std::nullopt, 15};
  cases.emplace_back("every 2 weeks on Thursday",
                     w.start("monthly", "2026-02-02T08:00:00Z", "2026-03-10T00:00:00Z", 1, thursdays));
  cases.emplace_back("scheduled, monthly on the 15th",
                     w.start("monthly", "2026-03-20T08:00:00Z", "2026-03-10T00:00:00Z", 1, fifteenth));
  cases.emplace_back("trial, then every 2 weeks on Thursday",
                     w.start("weekly", "2026-03-02T00:00:00Z", "2026-03-10T00:00:00Z", 1, thursdays));
  auto paused_thursdays = w.start("monthly", "2026-02-02T08:00:00Z", "2026-03-10T00:00:00Z", 1, thursdays);
  paused_thursdays.status = SubStatus::kPaused;
  paused_thursdays.pause = subscriptions::Pause{now, at("2026-05-04T00:00:00Z")};
  cases.emplace_back("paused every 2 weeks on Thursday", paused_thursdays);
  auto to_fifteenth = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  to_fifteenth.pending_change = subscriptions::PendingChange{"monthly", 2, to_fifteenth.current.end, fifteenth};
  cases.emplace_back("changing to the 15th", to_fifteenth);
  auto to_thursdays = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  to_thursdays.pending_change = subscriptions::PendingChange{"bimonthly", 1, to_thursdays.current.end, thursdays};
  cases.emplace_back("changing to every 2 weeks on Thursday", to_thursdays);
  auto back_to_plan = w.start("monthly", "2026-02-02T08:00:00Z", "2026-03-10T00:00:00Z", 1, thursdays);
  back_to_plan.pending_change = subscriptions::PendingChange{"monthly", 1, back_to_plan.current.end, std::nullopt};
  cases.emplace_back("back to the plan's cadence", back_to_plan);

  for (const auto& [name, sub] : cases) {
    auto expected = w.lifecycle_boxes(sub, now, until);
    EXPECT_FALSE(expected.empty()) << name;
    EXPECT_EQ(schedule_boxes(w, sub, until), expected) << name;
  }
}

// The shop closed on some delivery days: the forecast's boxes move with the lifecycle's.
TEST(ForecastSchedule, ABoxDueOnABlackoutDateShipsOnTheNextOpenDayAsTheLifecycleMovesIt) {
  World w;
  const Timestamp now = at("2026-03-10T00:00:00Z"), until = at("2026-09-01T00:00:00Z");
  auto day = [](const char* when) { return at(when) / kSecondsPerDay; };
  // April 20 and 21 (a monthly renewal: it ships on the 22nd), May 20, a Thursday (June 25).
  w.closed = std::make_shared<const subscriptions::ClosedDays>(
      subscriptions::ClosedDays{day("2026-04-20T00:00:00Z"), day("2026-04-21T00:00:00Z"), day("2026-05-20T00:00:00Z"),
                                day("2026-06-25T00:00:00Z")});
  const Cadence thursdays{Interval::kWeek, 2, 4, std::nullopt};
  std::vector<std::pair<std::string, Subscription>> cases;
  cases.emplace_back("monthly on the 20th", w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z"));
  auto skipped = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  skipped.skipped_periods = {at("2026-04-22T00:00:00Z"), at("2026-05-20T00:00:00Z")};  // by either day
  cases.emplace_back("monthly, skips named by the moved and the calendar day", skipped);
  cases.emplace_back("every 2 weeks on Thursday",
                     w.start("monthly", "2026-02-02T08:00:00Z", "2026-03-10T00:00:00Z", 1, thursdays));
  for (const auto& [name, sub] : cases) {
    auto expected = w.lifecycle_boxes(sub, now, until);
    EXPECT_FALSE(expected.empty()) << name;
    EXPECT_EQ(schedule_boxes(w, sub, until), expected) << name;
  }
  auto moved = schedule_boxes(w, cases[0].second, until);
  EXPECT_NE(std::find(moved.begin(), moved.end(), at("2026-04-22T00:00:00Z")), moved.end());
}

TEST(ForecastSchedule, CanceledEndingOrPausedForGoodShipNothing) {
  World w;
  auto ending = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  ending.cancel_at_period_end = true;
  auto paused = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  paused.status = SubStatus::kPaused;
  paused.pause = subscriptions::Pause{at("2026-03-01T00:00:00Z"), std::nullopt};
  auto canceled = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  canceled.status = SubStatus::kCanceled;
  auto unknown = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");
  unknown.plan = "plan_gone";
  for (const auto& s : {ending, paused, canceled, unknown}) EXPECT_FALSE(schedule_of(s, w.cat, at("2026-03-10T00:00:00Z")));
}

// ------------------------------------------------------------------ retention and signups

TEST(ForecastRetention, MeasuredHazardPerCycleWithCensoredSubscriptionsLeftOut) {
  World w;
  std::vector<RetentionCounts> counts(w.cat.plans.size());
  // Monthly: 1000 reached cycle 1; 100 ended there, 900 reached 2; of those 300 are still
  // in cycle 2 (unknown), 60 ended with 2, 540 reached 3 and are still there.
  counts[0].add(1, true, 100);
  counts[0].add(2, false, 300);
  counts[0].add(2, true, 60);
  counts[0].add(3, false, 540);
  auto r = estimate_retention(w.cat, counts);
  EXPECT_NEAR(r.keep_at(0, 0), 1.0, 1e-9);
  EXPECT_NEAR(r.keep_at(0, 1), 0.9, 0.005);
  EXPECT_NEAR(r.keep_at(0, 2), 1 - 60.0 / 600, 0.005);
  // Past the data: the plan's hazard over all its renewals (160 / 1600).
  EXPECT_NEAR(r.keep_at(0, 40), 0.9, 0.01);
  // A plan without history borrows its cadence's (bimonthly is alone: the overall rate).
  EXPECT_NEAR(r.keep_at(2, 1), 0.9, 0.02);
}

TEST(ForecastRetention, TheNextBoxKeepsOnlyTheHazardNotYetAskedFor) {
  EXPECT_NEAR(remaining_hazard(0.1, 0), 0.1, 1e-12);
  EXPECT_NEAR(remaining_hazard(0.1, 0.5), 0.05 / 0.95, 1e-12);
  EXPECT_NEAR(remaining_hazard(0.1, 1), 0, 1e-12);
  EXPECT_NEAR(remaining_hazard(1, 0.5), 1, 1e-12);  // everyone leaves: the rest still will
}

TEST(ForecastRetention, NoHistoryMeansEveryBoxShips) {
  World w;
  auto r = estimate_retention(w.cat, std::vector<RetentionCounts>(w.cat.plans.size()));
  for (int p = 0; p < 3; ++p)
    for (int k = 0; k < 5; ++k) EXPECT_EQ(r.keep_at(p, k), 1.0);
}

TEST(ForecastSignups, WeekdaySharesAndAFlatRateAreRecovered) {
  const Timestamp as_of = at("2026-06-01T00:00:00Z");  // a Monday
  EXPECT_EQ(weekday(as_of), 0);
  SignupHistory h(as_of, 8, 2);
  const int pattern[7] = {30, 20, 10, 10, 10, 10, 10};  // Monday first: 100 a week
  for (int d = 0; d < 56; ++d) {
    Timestamp day = as_of - (56 - d) * kSecondsPerDay;
    for (int i = 0; i < pattern[weekday(day)]; ++i) h.add(i % 4 == 0 ? 1 : 0, day + 3600, i % 2 ? 2 : 1);
  }
  auto m = fit_signups(h);
  EXPECT_NEAR(m.intercept, 100, 1e-9);
  EXPECT_EQ(m.slope, 0);
  EXPECT_NEAR(m.weekday_share[0], 0.3, 0.01);
  EXPECT_NEAR(m.weekday_share[3], 0.1, 0.01);
  EXPECT_NEAR(m.per_day(as_of, 0.1), 100 * m.weekday_share[0], 1e-9);
  // Plan 1 takes every 4th signup of a day (8 + 5 + 5 x 3 = 28 a week), always one unit;
  // plan 0 the other 72, 122 units (odd positions take 2).
  EXPECT_NEAR(m.mix[1], 0.28, 1e-12);
  EXPECT_NEAR(m.quantity_mean[1], 1, 1e-12);
  EXPECT_NEAR(m.quantity_mean[0], 122.0 / 72, 1e-12);
  EXPECT_EQ(m.dispersion, 1);
}

TEST(ForecastSignups, AClearTrendIsExtrapolatedAndNoiseIsNot) {
  const Timestamp as_of = at("2026-06-01T00:00:00Z");
  SignupHistory growing(as_of, 8, 1), noisy(as_of, 8, 1);
  for (int week = 0; week < 8; ++week)
    for (int d = 0; d < 7; ++d) {
      Timestamp day = as_of - (56 - 7 * week - d) * kSecondsPerDay;
      for (int i = 0; i < 10 + 2 * week; ++i) growing.add(0, day, 1);  // +14 a week
      for (int i = 0; i < (week % 2 ? 12 : 8); ++i) noisy.add(0, day, 1);
    }
  auto g = fit_signups(growing);
  EXPECT_NEAR(g.slope, 14, 1e-6);
  EXPECT_NEAR(g.intercept, 7 * (10 + 14), 1e-6);
  auto n = fit_signups(noisy);
  EXPECT_EQ(n.slope, 0);
  EXPECT_NEAR(n.intercept, 70, 1e-9);
  EXPECT_GT(n.dispersion, 1);
}

// ------------------------------------------------------------------ the sums

TEST(ForecastDemand, OneSubscriptionGivesItsUnitsTimesRetentionWithBernoulliVariance) {
  World w;
  const Timestamp now = at("2026-03-10T00:00:00Z");
  auto sub = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z", 3);  // boxes on the 20th
  std::vector<RetentionCounts> counts(w.cat.plans.size());
  counts[0].add(1, true, 100);
  counts[0].add(2, false, 900);  // keep[1] = 0.9 (shrunk slightly towards the pool, which is itself)
  auto r = estimate_retention(w.cat, counts);
  double k2 = r.keep_at(0, 2), k3 = r.keep_at(0, 3);
  std::vector<Schedule> subs{*schedule_of(sub, w.cat, now)};
  subs[0].elapsed = 0;  // as if nobody ever asked to leave ahead of time
  ASSERT_EQ(subs[0].billed, 2);
  ForecastInput in{&w.cat, subs, &r, nullptr, now, make_buckets(now, now + 60 * kSecondsPerDay, Granularity::kMonth),
                   {},     1};
  auto f = forecast(in);
  ASSERT_EQ(f.products.size(), 3u);  // a, b, c (c only through the weekly plan: zero)
  const auto& a = f.products[0];
  ASSERT_EQ(a.product, 0);
  // Box on Mar 20 (p = k2) in bucket 0, Apr 20 (p = k2 k3) in bucket 1; 3 x 2 units of a each.
  EXPECT_NEAR(a.buckets[0].expected, 6 * k2, 1e-9);
  EXPECT_NEAR(a.buckets[0].variance, 36 * k2 * (1 - k2), 1e-9);
  EXPECT_NEAR(a.buckets[1].expected, 6 * k2 * k3, 1e-9);
  // The horizon: two nested boxes, E[N^2] = p1 + 3 p2.
  double p1 = k2, p2 = k2 * k3;
  EXPECT_NEAR(a.total.expected, 6 * (p1 + p2), 1e-9);
  EXPECT_NEAR(a.total.variance, 36 * (p1 + 3 * p2 - (p1 + p2) * (p1 + p2)), 1e-9);
  EXPECT_NEAR(f.products[1].buckets[0].expected, 3 * k2, 1e-9);
  EXPECT_EQ(f.products[2].total.expected, 0);
  auto range = interval(a.buckets[0], 0.8);
  EXPECT_NEAR(range.high - a.buckets[0].expected, 1.2816 * std::sqrt(a.buckets[0].variance), 1e-3);
}

TEST(ForecastDemand, AnAddOnShipsOnceInTheNextBoxWithItsChanceOfShipping) {
  World w;
  const Timestamp now = at("2026-03-10T00:00:00Z");
  auto sub = w.start("monthly", "2026-01-20T00:00:00Z", "2026-03-10T00:00:00Z");  // boxes on the 20th
  sub.add_ons = {subscriptions::AddOn{"ao_1", "c", "Product c", 4, 500, "usd", now}};
  sub.skipped_periods = {at("2026-03-20T00:00:00Z")};  // so the add-on waits for April's box
  std::vector<RetentionCounts> counts(w.cat.plans.size());
  counts[0].add(1, true, 100);
  counts[0].add(2, false, 900);
  auto r = estimate_retention(w.cat, counts);
  std::vector<Schedule> subs{*schedule_of(sub, w.cat, now)};
  subs[0].elapsed = 0;
  ASSERT_EQ(subs[0].extras.size(), 1u);
  ForecastInput in{&w.cat, subs, &r, nullptr, now, make_buckets(now, now + 90 * kSecondsPerDay, Granularity::kMonth),
                   {},     1};
  auto f = forecast(in);
  ASSERT_EQ(f.products.size(), 3u);
  const auto& c = f.products[2];  // in no monthly box: only the add-on
  const double p = r.keep_at(0, 2);
  EXPECT_EQ(c.buckets[0].expected, 0);  // March's box is skipped
  EXPECT_NEAR(c.buckets[1].expected, 4 * p, 1e-9);
  EXPECT_NEAR(c.buckets[1].variance, 16 * p * (1 - p), 1e-9);
  EXPECT_EQ(c.buckets[2].expected, 0);  // once, not in every box
  EXPECT_NEAR(c.total.expected, 4 * p, 1e-9);
  EXPECT_NEAR(c.buckets[1].from_subscriptions, 4 * p, 1e-9);
}

TEST(ForecastDemand, ABoxsSelectionIsItsChoiceElseThePickByPreferencesAndNewcomersFollowTheMix) {
  // Options d (vegan), e (spicy), f (vegan): choose 1 a month. Without a choice this
  // customer's pick is a vegan one, never e; the April box is chosen: e.
  Catalogue cat;
  for (const char* id : {"d", "e", "f"}) {
    auto prod = product(id);
    prod.tags = std::string(id) == "e" ? std::vector<std::string>{"spicy"} : std::vector<std::string>{"vegan"};
    cat.add(prod);
  }
  auto box = plan("box", Interval::kMonth, 1, 0, {});
  box.selection = catalog::Selection{1, {"d", "e", "f"}, 3, "preferences"};
  cat.add(box);
  const Timestamp now = at("2026-03-10T00:00:00Z");
  Subscription s;
  s.id = "sub_1";
  s.plan = "box";
  s.start_date = at("2026-01-20T00:00:00Z");
  (void)subscriptions::begin(s, box, s.start_date);
  (void)subscriptions::advance(s, {&box, nullptr, nullptr}, now);
  s.choices = {{at("2026-04-20T00:00:00Z"), {{"e", 1}}, now}};
  auto schedule = schedule_of(s, cat, now, nullptr, catalog::Preferences{{"vegan"}, {"spicy"}});
  ASSERT_TRUE(schedule);
  ASSERT_EQ(schedule->picks.size(), 1u);
  const std::string picked = cat.products[schedule->picks[0].product].id;
  EXPECT_NE(picked, "e");
  std::vector<RetentionCounts> counts(cat.plans.size());
  auto r = estimate_retention(cat, counts);  // no history: every box ships
  std::vector<Schedule> subs{*schedule};
  ForecastInput in{&cat, subs, &r, nullptr, now, make_buckets(now, now + 90 * kSecondsPerDay, Granularity::kMonth),
                   {},   1};
  auto f = forecast(in);
  std::map<std::string, std::vector<double>> by_product;
  for (const auto& pf : f.products)
    for (const auto& b : pf.buckets) by_product[cat.products[pf.product].id].push_back(b.expected);
  // March 20: the pick; April 20: the choice; May 20: the pick again.
  EXPECT_EQ(by_product[picked], (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(by_product["e"], (std::vector<double>{0, 1, 0}));
  // Newcomers (no subscriber to learn from here but this one) pick as subscribers do: the mix.
  SignupModel model;
  model.intercept = 7;  // one a day
  model.mix = {1.0};
  model.quantity_mean = {1.0};
  model.quantity_sq_mean = {1.0};
  ForecastInput fresh{&cat, subs, &r, &model, now, make_buckets(now, now + 90 * kSecondsPerDay, Granularity::kMonth),
                      {},   1};
  auto g = forecast(fresh);
  for (const auto& pf : g.products) {
    const std::string id = cat.products[pf.product].id;
    if (id == picked)
      EXPECT_GT(pf.total.from_new, 0) << id;
    else
      EXPECT_EQ(pf.total.from_new, 0) << id;
  }
}

TEST(ForecastDemand, NewSignupsShipAfterTheirTrialAndThreadsDoNotChangeTheSums) {
  World w;
  const Timestamp now = at("2026-06-01T00:00:00Z");
  SignupHistory h(now, 4, w.cat.plans.size());
  for (int d = 0; d < 28; ++d) h.add(1, now - (d + 1) * kSecondsPerDay + 100, 1);  // one weekly signup a day
  auto model = fit_signups(h);
  auto r = estimate_retention(w.cat, std::vector<RetentionCounts>(w.cat.plans.size()));
  std::vector<Schedule> none;
  ForecastInput in{&w.cat, none, &r, &model, now, make_buckets(now, now + 28 * kSecondsPerDay, Granularity::kWeek),
                   {},     1};
  auto f = forecast(in);
  const auto& c = f.products[2];  // 3 units of c a box
  EXPECT_EQ(c.buckets[0].expected, 0);  // 14-day trial: nothing ships in the first two weeks
  EXPECT_EQ(c.buckets[1].expected, 0);
  // Week 3: signups of days 0..6 ship their first box (days 14..20): ~7 x 3 units.
  EXPECT_NEAR(c.buckets[2].from_new, 21, 1.5);
  EXPECT_GT(c.buckets[3].expected, c.buckets[2].expected);  // plus the second boxes

  std::vector<Schedule> many;
  for (int i = 0; i < 1000; ++i)
    many.push_back(*schedule_of(w.start(i % 2 ? "monthly" : "weekly", "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z",
                                        1 + i % 3),
                                w.cat, now));
  in.subscriptions = many;
  auto one = forecast(in);
  in.threads = 2;
  auto two = forecast(in);
  for (std::size_t p = 0; p < one.products.size(); ++p) {
    EXPECT_NEAR(one.products[p].total.expected, two.products[p].total.expected, 1e-6);
    EXPECT_NEAR(one.products[p].total.variance, two.products[p].total.variance, 1e-6);
  }
  EXPECT_GT(one.products[1].total.from_subscriptions, 0);  // b: the weekly boxes
}

// ------------------------------------------------------------------ backtest on known structure

// Subscriptions generated with the real lifecycle: signups by a weekly pattern, each plan
// with a known churn per billed period (and trial conversion), customers deciding to leave
// at a random moment of their last period (cancel at period end).
struct Simulation {
  World w;
  std::mt19937_64 rng{20260601};
  double churn[3] = {0.08, 0.03, 0.12};  // per billed period
  double trial_conversion = 0.7;         // the weekly plan's
  double weekday_rate[7] = {112, 88, 72, 64, 64, 40, 32};  // Monday first
  double mix[3] = {0.5, 0.3, 0.2};

  struct Outcome {
    std::vector<Subscription> as_of;  // state at the cut
    std::vector<std::vector<double>> actual;  // [product][bucket]
  };

  Outcome run(Timestamp start, Timestamp cut, const std::vector<Bucket>& buckets) {
    Outcome out;
    out.actual.assign(w.cat.products.size(), std::vector<double>(buckets.size(), 0));
    BucketIndex index(buckets);
    const Timestamp until = buckets.back().end;
    std::uniform_real_distribution<double> u(0, 1);
    int n = 0;
    for (Timestamp day = start; day < until; day += kSecondsPerDay) {
      std::poisson_distribution<int> signups(weekday_rate[weekday(day)]);
      for (int i = signups(rng); i > 0; --i) {
        int p = u(rng) < mix[0] ? 0 : (u(rng) < mix[1] / (mix[1] + mix[2]) ? 1 : 2);
        Subscription s;
        s.id = "sub_" + std::to_string(++n);
        s.plan = w.plans[p].id;
        s.quantity = u(rng) < 0.8 ? 1 : 2;
        s.start_date = day + static_cast<Timestamp>(u(rng) * kSecondsPerDay);
        s.created = s.start_date;
        // Billed periods before the customer leaves: trial conversion, then geometric.
        std::int64_t lifetime = 1;
        if (w.plans[p].trial_days > 0 && u(rng) > trial_conversion) lifetime = 0;
        else while (u(rng) > churn[p]) ++lifetime;
        follow(s, lifetime, cut, until, index, out, u);
      }
    }
    return out;
  }

  void follow(Subscription s, std::int64_t lifetime, Timestamp cut, Timestamp until, const BucketIndex& index,
              Outcome& out, std::uniform_real_distribution<double>& u) {
    const auto& plan = w.by_id(s.plan);
    bool recorded = false;
    auto record_at_cut = [&](const Subscription& state) {
      if (!recorded && s.start_date < cut) out.as_of.push_back(state);
      recorded = true;
    };
    auto ship = [&](const std::vector<subscriptions::LifecycleEvent>& events) {
      for (const auto& e : events) {
        if (!e.billable) continue;
        int b = index.of(e.period.start);
        if (b < 0 || e.period.start < cut) continue;
        for (const auto& item : w.cat.plans[*w.cat.plan_of(e.plan)].items)
          out.actual[item.product][b] += static_cast<double>(item.units * e.quantity);
      }
    };
    ship(subscriptions::begin(s, plan, s.start_date));
    Timestamp decide = kNever;  // when the customer asks to cancel at period end
    for (int guard = 0; guard < 2000 && s.status != SubStatus::kCanceled; ++guard) {
      if (s.billed_periods >= lifetime && decide == kNever)
        decide = s.current.start + static_cast<Timestamp>(u(rng) * static_cast<double>(s.current.end - s.current.start));
      auto due = subscriptions::next_action_at(s);
      Timestamp next = std::min(due.value_or(kNever), decide);
      if (next >= until) break;
      if (next >= cut && !recorded) {
        auto state = s;
        (void)subscriptions::advance(state, w.lookup(state), cut);
        record_at_cut(state);
      }
      if (next == decide) {
        s.cancel_at_period_end = true;
        decide = kNever - 1;  // decided
        continue;
      }
      ship(subscriptions::advance(s, w.lookup(s), next));
    }
    if (!recorded && s.start_date < cut) {
      (void)subscriptions::advance(s, w.lookup(s), cut);
      record_at_cut(s);
    }
  }
};

TEST(ForecastBacktest, GeneratedCohortsWithKnownChurnAndWeeklySignupsAreForecastWithin5PercentWape) {
  Simulation sim;
  const Timestamp start = at("2025-09-01T00:00:00Z"), cut = at("2026-03-02T00:00:00Z");
  auto buckets = make_buckets(cut, cut + 84 * kSecondsPerDay, Granularity::kWeek);
  auto outcome = sim.run(start, cut, buckets);
  ASSERT_GT(outcome.as_of.size(), 10000u);

  const Catalogue& cat = sim.w.cat;
  std::vector<RetentionCounts> counts(cat.plans.size());
  SignupHistory signups(cut, 8, cat.plans.size());
  std::vector<Schedule> schedules;
  for (const auto& s : outcome.as_of) {
    int p = *cat.plan_of(s.plan);
    counts[p].add(s.billed_periods, s.status == SubStatus::kCanceled);
    signups.add(p, s.created, s.quantity);
    if (auto schedule = schedule_of(s, cat, cut)) schedules.push_back(*schedule);
  }
  auto retention = estimate_retention(cat, counts);
  auto model = fit_signups(signups);
  // The measured retention is the generated one.
  EXPECT_NEAR(retention.keep_at(0, 3), 1 - sim.churn[0], 0.03);
  EXPECT_NEAR(retention.keep_at(2, 1), 1 - sim.churn[2], 0.04);
  EXPECT_NEAR(retention.keep_at(1, 0), sim.trial_conversion, 0.04);
  EXPECT_NEAR(model.weekday_share[0] / model.weekday_share[6], 112.0 / 32, 0.5);

  ForecastInput in{&cat, schedules, &retention, &model, cut, buckets, {}, 2};
  auto f = forecast(in);
  Actuals actual(cat.products.size(), buckets.size());
  actual.units = outcome.actual;
  auto error = evaluate(f, actual, 0.8);
  std::printf("backtest: WAPE %.2f%% MAPE %.2f%% bias %.2f%% coverage %.1f%% actual %.0f expected %.0f\n", 100 * error.wape,
              100 * error.mape, 100 * error.bias, 100 * error.coverage, error.actual_units, error.expected_units);
  EXPECT_GT(error.actual_units, 20000);
  EXPECT_LT(error.wape, 0.05) << "MAPE " << error.mape << " bias " << error.bias;
  EXPECT_LT(std::abs(error.bias), 0.02);
  // The 80 % interval holds about 80 % of the cells when the rates are the true ones.
  EXPECT_GT(error.coverage, 0.65);
  EXPECT_LT(error.coverage, 0.95);

  // Without retention (every box assumed to ship) or without new signups it is clearly worse.
  auto no_churn = estimate_retention(cat, std::vector<RetentionCounts>(cat.plans.size()));
  in.retention = &no_churn;
  EXPECT_GT(evaluate(forecast(in), actual, 0.8).wape, error.wape + 0.03);
  in.retention = &retention;
  in.signups = nullptr;
  EXPECT_GT(evaluate(forecast(in), actual, 0.8).wape, error.wape + 0.05);
}

TEST(ForecastBacktest, ErrorsAreSummedOverCellsAndMapeSkipsEmptyOnes) {
  Forecast f;
  f.buckets = {{0, 10}, {10, 20}};
  f.products = {{0, {{10, 4, 10, 0}, {5, 1, 5, 0}}, {}}};
  Actuals a(2, 2);
  a.units = {{8, 0}, {0, 2}};  // product 1 was never forecast
  auto e = evaluate(f, a, 0.8);
  EXPECT_EQ(e.cells, 4);
  EXPECT_EQ(e.cells_with_demand, 2);
  EXPECT_NEAR(e.wape, (2.0 + 5 + 0 + 2) / 10, 1e-12);
  EXPECT_NEAR(e.mape, (2.0 / 8 + 2.0 / 2) / 2, 1e-12);
  EXPECT_NEAR(e.bias, (15.0 - 10) / 10, 1e-12);
}

}  // namespace
}  // namespace recur::inventory
