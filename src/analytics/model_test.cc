// Analytics' pure rules: docs/analytics.md's worked examples, case for case, and the
// properties the store relies on.
#include "analytics/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace recur::analytics {
namespace {

using subscriptions::Discount;
using subscriptions::kForever;
using subscriptions::Status;

Timestamp at(std::string_view text) { return parse_rfc3339(text).value(); }

catalog::Plan plan(std::int64_t amount, Interval interval = Interval::kMonth, int count = 1) {
  catalog::Plan p;
  p.id = "plan_box";
  p.amount = amount;
  p.currency = "usd";
  p.cadence = {interval, count};
  return p;
}

subscriptions::Subscription sub(Status status, std::int64_t quantity = 1, std::optional<Discount> discount = {}) {
  subscriptions::Subscription s;
  s.id = "sub_1";
  s.status = status;
  s.quantity = quantity;
  s.currency = "usd";
  s.discount = std::move(discount);
  return s;
}

Discount percent(std::int64_t off, std::int64_t cycles) { return {.percent_off = off, .cycles_remaining = cycles}; }
Discount amount(std::int64_t off, std::string currency, std::int64_t cycles = kForever) {
  return {.cycles_remaining = cycles, .amount_off = off, .currency = std::move(currency)};
}

// ---------------------------------------------------------------- MRR

TEST(AnalyticsMonthly, EachCadenceNormalisedToAMonthRoundedHalfUpOnce) {
  struct Case {
    std::int64_t amount;
    Interval interval;
    int count;
    std::int64_t mrr;
  };
  const Case cases[] = {
      {2999, Interval::kMonth, 1, 2999},
      {9000, Interval::kMonth, 3, 3000},   // every 3 months
      {1001, Interval::kMonth, 2, 501},    // 500.5 -> 501 (half up)
      {30000, Interval::kYear, 1, 2500},
      {9999, Interval::kYear, 1, 833},     // 833.25
      {1000, Interval::kWeek, 1, 4333},    // 1000 x 52 / 12 = 4333.33
      {1000, Interval::kWeek, 2, 2167},    // 1000 x 52 / 24 = 2166.67
      {100, Interval::kDay, 1, 3042},      // 100 x 365 / 12 = 3041.67
      {100, Interval::kDay, 7, 435},       // 100 x 365 / 84 = 434.52
      {0, Interval::kMonth, 1, 0},
  };
  for (const auto& c : cases) EXPECT_EQ(monthly(c.amount, {c.interval, c.count}), c.mrr) << c.amount << "/" << c.count;
}

TEST(AnalyticsMrr, OnlyActiveAndPastDueCount) {
  const struct {
    Status status;
    std::int64_t mrr;
  } cases[] = {{Status::kActive, 4000},  {Status::kPastDue, 4000}, {Status::kTrialing, 0}, {Status::kScheduled, 0},
               {Status::kPaused, 0},     {Status::kUnpaid, 0},     {Status::kCanceled, 0}};
  for (const auto& c : cases) {
    EXPECT_EQ(subscription_mrr(sub(c.status, 2), plan(2000)), c.mrr) << subscriptions::to_string(c.status);
    EXPECT_EQ(counts_for_mrr(c.status), c.mrr > 0);
  }
}

TEST(AnalyticsMrr, TheNextInvoicesAmountBeforeTaxPerMonth) {
  struct Case {
    const char* name;
    catalog::Plan plan;
    std::int64_t quantity;
    std::optional<Discount> discount;
    std::int64_t mrr;
  };
  const Case cases[] = {
      {"$20/month x 2", plan(2000), 2, {}, 4000},
      {"$300/year", plan(30000, Interval::kYear), 1, {}, 2500},
      {"$10/week", plan(1000, Interval::kWeek), 1, {}, 4333},
      {"$1/day", plan(100, Interval::kDay), 1, {}, 3042},
      {"$90 every 3 months", plan(9000, Interval::kMonth, 3), 1, {}, 3000},
      {"25 % forever", plan(2000), 2, percent(25, kForever), 3000},
      {"15 % of 29.99: 4.4985 off -> 4.50", plan(2999), 1, percent(15, kForever), 2549},
      {"10 % of $10/week, then x 52 / 12", plan(1000, Interval::kWeek), 1, percent(10, kForever), 3900},
      {"$5 off", plan(2000), 2, amount(500, "usd"), 3500},
      {"$50 off a $40 period: 0, never below", plan(2000), 2, amount(5000, "usd"), 0},
      {"amount off in eur on a usd plan: nothing off", plan(2000), 2, amount(500, "eur"), 4000},
      {"repeating, 0 cycles left: used up", plan(2000), 2, percent(25, 0), 4000},
      {"repeating, 2 cycles left", plan(2000), 2, percent(25, 2), 3000},
      {"amount off, 0 cycles left", plan(2000), 2, amount(500, "usd", 0), 4000},
  };
  for (const auto& c : cases)
    EXPECT_EQ(subscription_mrr(sub(Status::kActive, c.quantity, c.discount), c.plan), c.mrr) << c.name;
}

TEST(AnalyticsMrr, AGiftIsNoRecurringRevenueUntilItsRecipientConverts) {
  auto gift = sub(Status::kActive, 2);
  gift.gift = subscriptions::GiftLink{"gift_1", false, std::nullopt};
  EXPECT_EQ(subscription_mrr(gift, plan(2000)), 0);  // paid once, by its purchaser
  gift.gift->converted = true;
  EXPECT_EQ(subscription_mrr(gift, plan(2000)), 4000);
}

// ---------------------------------------------------------------- movements

TEST(AnalyticsClassify, TheFiveKinds) {
  const struct {
    std::int64_t before, after;
    bool had;
    MovementKind kind;
    std::string_view name;
  } cases[] = {
      {0, 1000, false, MovementKind::kNew, "new"},
      {0, 1000, true, MovementKind::kReactivation, "reactivation"},
      {1000, 1500, true, MovementKind::kExpansion, "expansion"},
      {1500, 500, true, MovementKind::kContraction, "contraction"},
      {500, 0, true, MovementKind::kChurn, "churn"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(classify(c.before, c.after, c.had), c.kind) << c.name;
    EXPECT_EQ(to_string(c.kind), c.name);
  }
}

MrrPoint point(std::string sub_id, std::string_view when, std::int64_t mrr, std::string cause = "") {
  return {std::move(sub_id), at(when), mrr, std::move(cause)};
}

// "2026-03-05 contraction 500 3000->2500", and " involuntary" for a churn.
std::vector<std::string> show(const std::vector<Movement>& movements) {
  std::vector<std::string> out;
  for (const Movement& m : movements) {
    std::string line = format_rfc3339(m.at).substr(0, 10) + " " + std::string(to_string(m.kind)) + " " +
                       std::to_string(m.amount) + " " + std::to_string(m.before) + "->" + std::to_string(m.after);
    if (!m.churn_type.empty()) line += " " + m.churn_type;
    out.push_back(line);
  }
  return out;
}

// docs/analytics.md, "Movements": subscriptions A, B, C, D of one customer.
std::vector<MrrPoint> doc_timeline() {
  return {
      point("A", "2026-01-05", 2000),
      point("B", "2026-02-05", 1000),
      point("A", "2026-03-05", 2500),                 // upgrade ...
      point("B", "2026-03-05", 0, "voluntary"),       // ... and a cancel at the same instant
      point("A", "2026-04-05", 0, "voluntary"),       // a swap from A ...
      point("C", "2026-04-05", 2500),                 // ... to C that nets to 0
      point("C", "2026-05-05", 0, "involuntary"),     // dunning ends C
      point("D", "2026-06-05", 1500),                 // the customer comes back
  };
}

TEST(AnalyticsMovements, DocExampleTwoChangesAtOneInstantAreOneMovementAndASwapIsNone) {
  EXPECT_EQ(show(customer_movements(doc_timeline())), (std::vector<std::string>{
                                                          "2026-01-05 new 2000 0->2000",
                                                          "2026-02-05 expansion 1000 2000->3000",
                                                          "2026-03-05 contraction 500 3000->2500",
                                                          "2026-05-05 churn 2500 2500->0 involuntary",
                                                          "2026-06-05 reactivation 1500 0->1500",
                                                      }));
}

TEST(AnalyticsMovements, ChurnIsInvoluntaryWhenAnySubscriptionThatDroppedThenDroppedForDunning) {
  struct Case {
    const char* name;
    std::vector<MrrPoint> last_instant;  // after A 1000 and B 2000 on 2026-01-01
    std::string churn_type;
  };
  const Case cases[] = {
      {"both voluntary", {point("A", "2026-02-01", 0, "voluntary"), point("B", "2026-02-01", 0, "voluntary")}, "voluntary"},
      {"one of two involuntary", {point("A", "2026-02-01", 0, "voluntary"), point("B", "2026-02-01", 0, "involuntary")},
       "involuntary"},
      {"a drop without a cause", {point("A", "2026-02-01", 0), point("B", "2026-02-01", 0)}, "voluntary"},
      // B's point says involuntary but B did not drop there (it dropped earlier, voluntarily).
      {"involuntary point that is not a drop",
       {point("B", "2026-02-01", 0, "voluntary"), point("A", "2026-02-01", 0, "voluntary"),
        point("B", "2026-02-01", 0, "involuntary")},
       "voluntary"},
  };
  for (const auto& c : cases) {
    std::vector<MrrPoint> points{point("A", "2026-01-01", 1000), point("B", "2026-01-01", 2000)};
    points.insert(points.end(), c.last_instant.begin(), c.last_instant.end());
    const auto movements = customer_movements(points);
    ASSERT_EQ(movements.size(), 2u) << c.name;
    EXPECT_EQ(movements[1].kind, MovementKind::kChurn) << c.name;
    EXPECT_EQ(movements[1].amount, 3000) << c.name;
    EXPECT_EQ(movements[1].churn_type, c.churn_type) << c.name;
    EXPECT_EQ(movements[0].churn_type, "") << c.name;
  }
}

TEST(AnalyticsMovements, PointsAreAppliedByInstantKeepingTheGivenOrderAtEqualInstants) {
  // Given out of time order; at 2026-02-01 A goes to 3000 and then back to 1000.
  const std::vector<MrrPoint> points{point("A", "2026-02-01", 3000), point("A", "2026-01-01", 1000),
                                     point("A", "2026-02-01", 1000), point("A", "2026-03-01", 0)};
  EXPECT_EQ(show(customer_movements(points)), (std::vector<std::string>{"2026-01-01 new 1000 0->1000",
                                                                         "2026-03-01 churn 1000 1000->0 voluntary"}));
}

TEST(AnalyticsMovements, AGainAndLossWithinOneInstantIsNotAnEarlierMrr) {
  // MRR > 0 only inside the instant (never at its end): the later start is new, not a reactivation.
  const std::vector<MrrPoint> points{point("A", "2026-01-01", 1000), point("A", "2026-01-01", 0),
                                     point("B", "2026-02-01", 500)};
  EXPECT_EQ(show(customer_movements(points)), (std::vector<std::string>{"2026-02-01 new 500 0->500"}));
}

TEST(AnalyticsMovements, TheSameHoweverTheSubscriptionsPointsAreInterleaved) {
  const auto expected = show(customer_movements(doc_timeline()));
  // Each subscription's points in their own order, the subscriptions one after another.
  std::vector<MrrPoint> by_subscription;
  for (const char* id : {"D", "C", "B", "A"})
    for (const MrrPoint& p : doc_timeline())
      if (p.subscription == id) by_subscription.push_back(p);
  EXPECT_EQ(show(customer_movements(by_subscription)), expected);
}

TEST(AnalyticsMovements, SignedAmountsAddUpToTheFinalMrrAndNoMovementIsZero) {
  const auto movements = customer_movements(doc_timeline());
  std::int64_t mrr = 0;
  for (const Movement& m : movements) {
    EXPECT_GT(m.amount, 0);
    EXPECT_EQ(m.before, mrr);
    const bool down = m.kind == MovementKind::kChurn || m.kind == MovementKind::kContraction;
    mrr += down ? -m.amount : m.amount;
    EXPECT_EQ(m.after, mrr);
  }
  EXPECT_EQ(mrr, 1500);
  EXPECT_TRUE(customer_movements({}).empty());
}

// ---------------------------------------------------------------- buckets

TEST(AnalyticsBuckets, ParsesAndNamesTheFiveIntervals) {
  for (auto interval : {BucketInterval::kDay, BucketInterval::kWeek, BucketInterval::kMonth, BucketInterval::kQuarter,
                        BucketInterval::kYear})
    EXPECT_EQ(parse_bucket_interval(to_string(interval)), interval);
  EXPECT_EQ(to_string(BucketInterval::kQuarter), "quarter");
  EXPECT_EQ(parse_bucket_interval("Week"), std::nullopt);
  EXPECT_EQ(parse_bucket_interval("fortnight"), std::nullopt);
  EXPECT_EQ(parse_bucket_interval(""), std::nullopt);
}

TEST(AnalyticsBuckets, TheUtcCalendarBucketOfAnInstant) {
  struct Case {
    const char* t;
    BucketInterval interval;
    const char* start;
    const char* end;
  };
  const Case cases[] = {
      {"2026-03-08T23:59:59Z", BucketInterval::kDay, "2026-03-08", "2026-03-09"},
      {"2026-12-31T12:00:00Z", BucketInterval::kWeek, "2026-12-28", "2027-01-04"},  // ISO week 53 of 2026
      {"2027-01-03T23:59:59Z", BucketInterval::kWeek, "2026-12-28", "2027-01-04"},  // its Sunday
      {"2027-01-04T00:00:00Z", BucketInterval::kWeek, "2027-01-04", "2027-01-11"},  // week 1 of 2027
      {"2026-02-14T08:00:00Z", BucketInterval::kMonth, "2026-02-01", "2026-03-01"},
      {"2028-02-29T13:00:00Z", BucketInterval::kMonth, "2028-02-01", "2028-03-01"},
      {"2026-05-15T00:00:00Z", BucketInterval::kQuarter, "2026-04-01", "2026-07-01"},
      {"2026-12-31T23:59:59Z", BucketInterval::kQuarter, "2026-10-01", "2027-01-01"},
      {"2026-01-01T00:00:00Z", BucketInterval::kQuarter, "2026-01-01", "2026-04-01"},
      {"2028-02-29T13:00:00Z", BucketInterval::kYear, "2028-01-01", "2029-01-01"},
  };
  for (const auto& c : cases) {
    const Bucket b = bucket_of(at(c.t), c.interval);
    EXPECT_EQ(format_rfc3339(b.start), format_rfc3339(at(c.start))) << c.t << " " << to_string(c.interval);
    EXPECT_EQ(format_rfc3339(b.end), format_rfc3339(at(c.end))) << c.t << " " << to_string(c.interval);
  }
  // Before the epoch (parse_rfc3339 takes no such date): 1969-12-31T23:59:59Z, a Wednesday.
  const Timestamp day = kSecondsPerDay;
  EXPECT_EQ(bucket_of(-1, BucketInterval::kDay).start, -day);
  EXPECT_EQ(bucket_of(-1, BucketInterval::kDay).end, 0);
  EXPECT_EQ(bucket_of(-1, BucketInterval::kWeek).start, -3 * day);  // Monday 1969-12-29
  EXPECT_EQ(bucket_of(-1, BucketInterval::kWeek).end, 4 * day);
  EXPECT_EQ(bucket_of(0, BucketInterval::kWeek).start, -3 * day);   // 1970-01-01, a Thursday
  EXPECT_EQ(bucket_of(-1, BucketInterval::kMonth).start, -31 * day);
  EXPECT_EQ(bucket_of(-1, BucketInterval::kQuarter).start, -92 * day);  // 1969-10-01
  EXPECT_EQ(bucket_of(-1, BucketInterval::kYear).start, -365 * day);
}

std::vector<std::string> show(const std::vector<Bucket>& buckets) {
  std::vector<std::string> out;
  for (const Bucket& b : buckets) out.push_back(format_rfc3339(b.start) + " " + format_rfc3339(b.end));
  return out;
}

TEST(AnalyticsBuckets, CoverTheRangeFirstAndLastCut) {
  struct Case {
    const char* name;
    const char* from;
    const char* to;
    BucketInterval interval;
    std::vector<std::string> buckets;
  };
  const Case cases[] = {
      {"ISO weeks across the year boundary", "2026-12-30", "2027-01-12", BucketInterval::kWeek,
       {"2026-12-30T00:00:00Z 2027-01-04T00:00:00Z", "2027-01-04T00:00:00Z 2027-01-11T00:00:00Z",
        "2027-01-11T00:00:00Z 2027-01-12T00:00:00Z"}},
      {"quarters", "2026-02-10", "2026-08-01", BucketInterval::kQuarter,
       {"2026-02-10T00:00:00Z 2026-04-01T00:00:00Z", "2026-04-01T00:00:00Z 2026-07-01T00:00:00Z",
        "2026-07-01T00:00:00Z 2026-08-01T00:00:00Z"}},
      {"months, from mid-day", "2026-01-31T12:00:00Z", "2026-03-01", BucketInterval::kMonth,
       {"2026-01-31T12:00:00Z 2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z 2026-03-01T00:00:00Z"}},
      {"inside one year", "2026-03-01", "2026-03-02", BucketInterval::kYear,
       {"2026-03-01T00:00:00Z 2026-03-02T00:00:00Z"}},
      {"days", "2026-03-01T06:00:00Z", "2026-03-03T06:00:00Z", BucketInterval::kDay,
       {"2026-03-01T06:00:00Z 2026-03-02T00:00:00Z", "2026-03-02T00:00:00Z 2026-03-03T00:00:00Z",
        "2026-03-03T00:00:00Z 2026-03-03T06:00:00Z"}},
  };
  for (const auto& c : cases) {
    const auto got = buckets(at(c.from), at(c.to), c.interval);
    ASSERT_TRUE(got) << c.name;
    EXPECT_EQ(show(*got), c.buckets) << c.name;
  }
}

TEST(AnalyticsBuckets, EmptyWhenFromIsNotBeforeTo) {
  for (const char* from : {"2026-03-01", "2026-03-02"}) {
    const auto got = buckets(at(from), at("2026-03-01"), BucketInterval::kDay);
    ASSERT_TRUE(got) << from;
    EXPECT_TRUE(got->empty()) << from;
  }
}

TEST(AnalyticsBuckets, NulloptPastTheMax) {
  const Timestamp from = at("2026-01-01");
  const Timestamp to = at("2026-01-11");  // 10 days
  EXPECT_EQ(buckets(from, to, BucketInterval::kDay, 10)->size(), 10u);
  EXPECT_EQ(buckets(from, to, BucketInterval::kDay, 9), std::nullopt);
  EXPECT_EQ(buckets(from, at("2036-01-01"), BucketInterval::kDay), std::nullopt);  // 3652 > 2000
  EXPECT_EQ(buckets(from, at("2036-01-01"), BucketInterval::kWeek)->size(), 523u);
}

TEST(AnalyticsBuckets, EachBucketStartsWhereTheLastEndedAndLiesInOneCalendarBucket) {
  const Timestamp from = at("2025-11-17T05:00:00Z");
  const Timestamp to = at("2029-02-03T07:00:00Z");
  for (auto interval : {BucketInterval::kDay, BucketInterval::kWeek, BucketInterval::kMonth, BucketInterval::kQuarter,
                        BucketInterval::kYear}) {
    const auto got = buckets(from, to, interval);
    ASSERT_TRUE(got && !got->empty()) << to_string(interval);
    EXPECT_EQ(got->front().start, from);
    EXPECT_EQ(got->back().end, to);
    for (std::size_t i = 0; i < got->size(); ++i) {
      const Bucket& b = (*got)[i];
      EXPECT_LT(b.start, b.end);
      if (i > 0) {
        EXPECT_EQ(b.start, (*got)[i - 1].end);
      }
      EXPECT_EQ(bucket_of(b.start, interval).start, bucket_of(b.end - 1, interval).start) << to_string(interval);
    }
  }
}

// ---------------------------------------------------------------- rates

// docs/analytics.md, "Churn": one bucket.
MovementTotals doc_totals() {
  return {.mrr_start = 10000, .new_mrr = 1000, .expansion = 500, .contraction = 300, .churn = 1200,
          .reactivation = 200, .mrr_end = 10200};
}

TEST(AnalyticsRates, NulloptOnAZeroDenominator) {
  EXPECT_EQ(rate(1, 4), 0.25);
  EXPECT_EQ(rate(0, 4), 0.0);
  EXPECT_EQ(rate(-1, 4), -0.25);
  EXPECT_EQ(rate(1, 0), std::nullopt);
  EXPECT_EQ(rate(0, 0), std::nullopt);
}

TEST(AnalyticsRates, TheMovementIdentity) {
  MovementTotals t = doc_totals();
  EXPECT_TRUE(identity_holds(t));  // 10200 - 10000 == 1000 + 500 + 200 - 300 - 1200
  t.mrr_end += 1;
  EXPECT_FALSE(identity_holds(t));
  EXPECT_TRUE(identity_holds(MovementTotals{}));
}

TEST(AnalyticsChurn, DocExample) {
  const ChurnFigures f = churn_figures(doc_totals(), 20, 2, 1, 1);
  EXPECT_EQ(f.customers_start, 20);
  EXPECT_EQ(f.churned_customers, 2);
  EXPECT_EQ(f.voluntary, 1);
  EXPECT_EQ(f.involuntary, 1);
  EXPECT_NEAR(f.customer_churn_rate.value(), 0.10, 1e-12);   // 2 / 20
  EXPECT_NEAR(f.gross_mrr_churn_rate.value(), 0.15, 1e-12);  // (1200 + 300) / 10000
  EXPECT_NEAR(f.net_mrr_churn_rate.value(), 0.08, 1e-12);    // (1500 - 500 - 200) / 10000
  EXPECT_NEAR(f.quick_ratio.value(), 1700.0 / 1500.0, 1e-12);  // (1000 + 500 + 200) / 1500 = 1.1333
}

TEST(AnalyticsChurn, NetChurnIsNegativeWhenExpansionOutweighsLosses) {
  MovementTotals t = doc_totals();
  t.expansion = 2000;
  t.mrr_end = 11700;
  ASSERT_TRUE(identity_holds(t));
  EXPECT_NEAR(churn_figures(t, 20, 2, 1, 1).net_mrr_churn_rate.value(), -0.07, 1e-12);  // (1500 - 2200) / 10000
}

TEST(AnalyticsChurn, ZeroDenominatorsGiveNoFigure) {
  const ChurnFigures none = churn_figures(MovementTotals{}, 0, 0, 0, 0);
  EXPECT_EQ(none.customer_churn_rate, std::nullopt);
  EXPECT_EQ(none.gross_mrr_churn_rate, std::nullopt);
  EXPECT_EQ(none.net_mrr_churn_rate, std::nullopt);
  EXPECT_EQ(none.quick_ratio, std::nullopt);
  // Growth without losses: churn rates 0, quick ratio unknown (not infinite).
  const ChurnFigures growth = churn_figures({.mrr_start = 1000, .new_mrr = 500, .mrr_end = 1500}, 4, 0, 0, 0);
  EXPECT_EQ(growth.customer_churn_rate, 0.0);
  EXPECT_EQ(growth.gross_mrr_churn_rate, 0.0);
  EXPECT_EQ(growth.net_mrr_churn_rate, 0.0);
  EXPECT_EQ(growth.quick_ratio, std::nullopt);
}

// ---------------------------------------------------------------- LTV

TEST(AnalyticsLtv, ArpaRoundedHalfUp) {
  EXPECT_EQ(arpa(10200, 20), 510);
  EXPECT_EQ(arpa(1000, 3), 333);  // 333.33
  EXPECT_EQ(arpa(1001, 2), 501);  // 500.5
  EXPECT_EQ(arpa(0, 5), 0);
  EXPECT_EQ(arpa(1000, 0), std::nullopt);
}

TEST(AnalyticsLtv, ArpaOverMonthlyChurn) {
  EXPECT_EQ(ltv(510, 0.05), 10200);
  EXPECT_EQ(ltv(333, 0.03), 11100);
  EXPECT_EQ(ltv(1000, 0.3), 3333);  // 3333.33
  EXPECT_EQ(ltv(std::nullopt, 0.05), std::nullopt);
  EXPECT_EQ(ltv(510, std::nullopt), std::nullopt);
  EXPECT_EQ(ltv(510, 0.0), std::nullopt);
  EXPECT_EQ(ltv(510, 1e-300), std::nullopt);  // never infinite
}

TEST(AnalyticsLtv, MeanOfTheKnownRates) {
  EXPECT_NEAR(mean_rate({0.10, std::nullopt, 0.20}).value(), 0.15, 1e-12);
  EXPECT_NEAR(mean_rate({0.04}).value(), 0.04, 1e-12);
  EXPECT_EQ(mean_rate({std::nullopt, std::nullopt}), std::nullopt);
  EXPECT_EQ(mean_rate({}), std::nullopt);
}

// ---------------------------------------------------------------- survival

// docs/analytics.md, "Survival": 8 subscriptions, 3 still alive (censored).
std::vector<Lifetime> doc_lifetimes() {
  return {{35, true}, {10, true}, {20, false}, {20, true}, {35, true}, {50, false}, {60, true}, {80, false}};
}

TEST(AnalyticsSurvival, KaplanMeierDocExampleWithGreenwoodBand) {
  struct Step {
    double days;
    std::int64_t at_risk, ended;
    double survival, lower, upper;
  };
  const Step expected[] = {
      {0, 8, 0, 1, 1, 1},
      {10, 8, 1, 0.875, 0.645823485060, 1},              // 7/8; sum 1/56
      {20, 7, 1, 0.75, 0.449937506509, 1},               // censored at 20 is at risk at 20; sum 1/24
      {35, 5, 2, 0.45, 0.081032928298, 0.818967071702},  // sum 0.175
      {60, 2, 1, 0.225, 0, 0.587318471790},              // sum 0.675; 80 censored: no step
  };
  const auto curve = kaplan_meier(doc_lifetimes());
  ASSERT_EQ(curve.size(), std::size(expected));
  for (std::size_t i = 0; i < curve.size(); ++i) {
    EXPECT_EQ(curve[i].days, expected[i].days) << i;
    EXPECT_EQ(curve[i].at_risk, expected[i].at_risk) << i;
    EXPECT_EQ(curve[i].ended, expected[i].ended) << i;
    EXPECT_NEAR(curve[i].survival, expected[i].survival, 1e-9) << i;
    EXPECT_NEAR(curve[i].lower, expected[i].lower, 1e-9) << i;
    EXPECT_NEAR(curve[i].upper, expected[i].upper, 1e-9) << i;
  }
}

TEST(AnalyticsSurvival, WhenEveryoneAtRiskEndsTheBandCollapsesToZero) {
  const auto curve = kaplan_meier({{5, true}, {10, true}});
  ASSERT_EQ(curve.size(), 3u);
  EXPECT_NEAR(curve[1].survival, 0.5, 1e-12);  // sum 1/2: 0.5 +- 1.386, cut to [0, 1]
  EXPECT_EQ(curve[1].lower, 0);
  EXPECT_EQ(curve[1].upper, 1);
  EXPECT_EQ(curve[2].at_risk, 1);
  EXPECT_EQ(curve[2].ended, 1);
  EXPECT_EQ(curve[2].survival, 0);
  EXPECT_EQ(curve[2].lower, 0);
  EXPECT_EQ(curve[2].upper, 0);
}

TEST(AnalyticsSurvival, FirstStepIsDayZeroWithEveryoneAtRisk) {
  const auto none = kaplan_meier({});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].at_risk, 0);
  EXPECT_EQ(none[0].survival, 1);
  const auto censored = kaplan_meier({{30, false}, {40, false}});
  ASSERT_EQ(censored.size(), 1u);
  EXPECT_EQ(censored[0].at_risk, 2);
  // An end at day 0 is a second step at day 0; survival_at(0) is after it.
  const auto at_zero = kaplan_meier({{0, true}, {10, false}, {-1, false}});
  ASSERT_EQ(at_zero.size(), 2u);
  EXPECT_EQ(at_zero[0].survival, 1);
  EXPECT_EQ(at_zero[1].days, 0);
  EXPECT_EQ(at_zero[1].at_risk, 3);  // -1 counts as 0
  EXPECT_NEAR(survival_at(at_zero, 0), 2.0 / 3.0, 1e-12);
}

TEST(AnalyticsSurvival, SurvivalAtIsAStepFunction) {
  const auto curve = kaplan_meier(doc_lifetimes());
  const struct {
    double days, survival;
  } cases[] = {{-1, 1}, {0, 1}, {9.99, 1}, {10, 0.875}, {34, 0.75}, {35, 0.45}, {59.5, 0.45}, {60, 0.225}, {1000, 0.225}};
  for (const auto& c : cases) EXPECT_NEAR(survival_at(curve, c.days), c.survival, 1e-12) << c.days;
  EXPECT_EQ(survival_at({}, 5), 1);
}

TEST(AnalyticsSurvival, ExpectedRemainingMonthsDocExample) {
  const auto curve = kaplan_meier(doc_lifetimes());
  const struct {
    double tenure, tail, months;
  } cases[] = {
      {0, 365, 4.053055190539},    // (10 + 8.75 + 11.25 + 11.25 + 0.225 x 365) / 30.44
      {20, 365, 4.582785808147},   // (15 x 0.75 + 25 x 0.45 + 0.225 x 365) / 0.75 / 30.44
      {25, 365, 4.418528252300},   // (10 x 0.75 + 25 x 0.45 + 0.225 x 365) / 0.75 / 30.44
      {100, 365, 11.990801576873}, // past the last step: the flat tail only
      {0, 0, 41.25 / 30.44},       // no tail
  };
  for (const auto& c : cases) EXPECT_NEAR(expected_remaining_months(curve, c.tenure, c.tail), c.months, 1e-9) << c.tenure;
  EXPECT_NEAR(expected_remaining_months(curve, 0), 4.053055190539, 1e-9);  // the default tail is 365 days
}

TEST(AnalyticsSurvival, NoRemainingMonthsOnceTheCurveIsAtZero) {
  const auto curve = kaplan_meier({{5, true}, {10, true}});
  EXPECT_EQ(expected_remaining_months(curve, 10), 0);
  EXPECT_EQ(expected_remaining_months(curve, 50), 0);
  EXPECT_NEAR(expected_remaining_months(curve, 0), (5 + 5 * 0.5) / 30.44, 1e-12);  // no tail at 0
}

TEST(AnalyticsCustomerValue, RealisedPlusExpectedFuture) {
  struct Case {
    const char* name;
    CustomerValueInput in;
    std::int64_t aov;
    double orders_per_month;
    std::int64_t future, ltv;
  };
  const Case cases[] = {
      // 3000 x (4 / 3.5) x 6 = 20571.43
      {"doc example", {.realised = 12000, .orders = 4, .tenure_months = 3.5, .remaining_months = 6, .active = true},
       3000, 4 / 3.5, 20571, 32571},
      {"not active: no future", {.realised = 12000, .orders = 4, .tenure_months = 3.5, .remaining_months = 6},
       3000, 4 / 3.5, 0, 12000},
      {"under a month of tenure counts as one", {.realised = 2000, .orders = 2, .tenure_months = 0.5,
       .remaining_months = 3, .active = true}, 1000, 2, 6000, 8000},
      {"aov rounded half-up", {.realised = 1000, .orders = 3, .tenure_months = 3, .remaining_months = 1,
       .active = true}, 333, 1, 333, 1333},
      {"no orders", {.tenure_months = 2, .remaining_months = 6, .active = true}, 0, 0, 0, 0},
  };
  for (const auto& c : cases) {
    const CustomerValue v = customer_value(c.in);
    EXPECT_EQ(v.realised, c.in.realised) << c.name;
    EXPECT_EQ(v.average_order_value, c.aov) << c.name;
    EXPECT_NEAR(v.orders_per_month, c.orders_per_month, 1e-12) << c.name;
    EXPECT_EQ(v.expected_remaining_months, c.in.remaining_months) << c.name;
    EXPECT_EQ(v.expected_future, c.future) << c.name;
    EXPECT_EQ(v.ltv, c.ltv) << c.name;
  }
}

// ---------------------------------------------------------------- at-risk score

TEST(AnalyticsRisk, DocExamples) {
  EXPECT_NEAR(risk_score({}), 0.047425873178, 1e-9);  // z = -3
  EXPECT_TRUE(risk_reasons({}).empty());
  // z = -3 + 2 x 1.2 + 1.5 + 0.5 - 0.8 = 0.6
  const RiskSignals s{.failed_payments = 2, .skips = 1, .past_due = true, .tenure_days = 400};
  EXPECT_NEAR(risk_score(s), 0.645656306226, 1e-9);
  EXPECT_EQ(risk_reasons(s), (std::vector<std::string>{"failed_payments", "past_due", "skips"}));
  EXPECT_NEAR(risk_score({.tenure_days = 365}), 0.021881270936, 1e-9);  // z = -3.8
}

TEST(AnalyticsRisk, InZeroOneAndRisingInEverySignalUpToItsCap) {
  const struct {
    const char* name;
    std::int64_t RiskSignals::*field;
    std::int64_t cap;
  } signals[] = {{"failed_payments", &RiskSignals::failed_payments, 3}, {"skips", &RiskSignals::skips, 4},
                 {"pauses", &RiskSignals::pauses, 3},  {"downgrades", &RiskSignals::downgrades, 3},
                 {"backorders", &RiskSignals::backorders, 3}, {"offers_declined", &RiskSignals::offers_declined, 3},
                 {"offers_accepted", &RiskSignals::offers_accepted, 3}};
  for (const auto& signal : signals) {
    RiskSignals s{.tenure_days = 30};
    double previous = risk_score(s);
    for (std::int64_t n = 1; n <= signal.cap + 2; ++n) {
      s.*signal.field = n;
      const double score = risk_score(s);
      EXPECT_GT(score, 0) << signal.name;
      EXPECT_LT(score, 1) << signal.name;
      if (n <= signal.cap) {
        EXPECT_GT(score, previous) << signal.name << " " << n;
      } else {
        EXPECT_EQ(score, previous) << signal.name << " " << n << " (capped)";
      }
      previous = score;
    }
    EXPECT_EQ(risk_reasons(s), std::vector<std::string>{signal.name});
  }
  EXPECT_GT(risk_score({.past_due = true}), risk_score({}));
  // Longer tenure lowers the score, up to a year.
  double previous = risk_score({});
  for (double days : {30.0, 180.0, 365.0}) {
    EXPECT_LT(risk_score({.tenure_days = days}), previous) << days;
    previous = risk_score({.tenure_days = days});
  }
  EXPECT_EQ(risk_score({.tenure_days = 2000}), previous);
  EXPECT_EQ(risk_score({.failed_payments = -4}), risk_score({}));  // below 0 counts as 0
  const RiskSignals worst{9, 9, 9, 9, 9, 9, 9, true, 0};
  EXPECT_GT(risk_score(worst), 0.99);
  EXPECT_LE(risk_score(worst), 1);
}

TEST(AnalyticsRisk, ReasonsMostFirstTiesInTheDocumentedOrder) {
  // failed 1.2, declined 1.0, pauses 0.8, skips 1.0 (2 x 0.5), backorders 0.4, accepted 0.3
  const RiskSignals s{.failed_payments = 1, .skips = 2, .pauses = 1, .backorders = 1, .offers_declined = 1,
                      .offers_accepted = 1, .tenure_days = 100};
  EXPECT_EQ(risk_reasons(s), (std::vector<std::string>{"failed_payments", "skips", "offers_declined", "pauses",
                                                       "backorders", "offers_accepted"}));
}

// ---------------------------------------------------------------- AUC

TEST(AnalyticsAuc, WorkedExamples) {
  EXPECT_EQ(auc({{0.9, true}, {0.8, true}, {0.3, false}, {0.1, false}}), 1.0);  // perfect separation
  EXPECT_EQ(auc({{0.9, false}, {0.8, false}, {0.3, true}, {0.1, true}}), 0.0);
  EXPECT_EQ(auc({{0.5, true}, {0.5, false}, {0.5, false}, {0.5, true}}), 0.5);  // all ties
  // Churned 0.9, 0.6, 0.4 against stayed 0.6, 0.5, 0.1: 3 + (2 + 0.5) + 1 = 6.5 of 9 pairs.
  EXPECT_NEAR(auc({{0.9, true}, {0.5, false}, {0.6, true}, {0.6, false}, {0.4, true}, {0.1, false}}).value(),
              6.5 / 9, 1e-12);
  EXPECT_EQ(auc({{0.9, true}, {0.1, true}}), std::nullopt);
  EXPECT_EQ(auc({{0.9, false}}), std::nullopt);
  EXPECT_EQ(auc({}), std::nullopt);
}

TEST(AnalyticsAuc, AgreesWithCountingEveryPairOnThreeThousandScores) {
  std::vector<Scored> scored;
  std::uint64_t x = 42;
  for (int i = 0; i < 3000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;  // a fixed LCG: the same data every run
    const double score = static_cast<double>((x >> 33) % 1000) / 1000.0;  // many ties
    const bool churned = ((x >> 20) % 1000) < 300 + static_cast<std::uint64_t>(score * 400);
    scored.push_back({score, churned});
  }
  double wins = 0;
  double pairs = 0;
  for (const Scored& c : scored)
    if (c.churned)
      for (const Scored& s : scored)
        if (!s.churned) {
          pairs += 1;
          wins += c.score > s.score ? 1 : c.score == s.score ? 0.5 : 0;
        }
  EXPECT_NEAR(auc(scored).value(), wins / pairs, 1e-12);
}

// 200,000 scores: counting pairs would take 10^10 steps; sorting takes milliseconds.
TEST(AnalyticsAuc, ScalesToTwoHundredThousandScores) {
  std::vector<Scored> separated;
  std::vector<Scored> tied;
  for (int i = 0; i < 200000; ++i) {
    const bool churned = i % 3 == 0;
    separated.push_back({(churned ? 1000 : 0) + i % 997 / 1000.0, churned});
    tied.push_back({0.25, churned});
  }
  EXPECT_EQ(auc(separated), 1.0);
  EXPECT_EQ(auc(tied), 0.5);
}

// ---------------------------------------------------------------- streaming helpers

TEST(AnalyticsBucketIndex, TheBucketHoldingAnInstantOrNoneOutsideTheRange) {
  const std::vector<Bucket> bs{{10, 20}, {20, 30}, {30, 35}};
  const struct {
    Timestamp t;
    std::size_t want;
  } cases[] = {{9, 3}, {10, 0}, {19, 0}, {20, 1}, {29, 1}, {30, 2}, {34, 2}, {35, 3}, {1000, 3}};
  for (const auto& c : cases) EXPECT_EQ(bucket_index(bs, c.t), c.want) << c.t;
  EXPECT_EQ(bucket_index({}, 5), 0u);
}

TEST(AnalyticsChurnCounter, DistinctCustomersPerBucketByTheTypeOfTheirLastChurnInIt) {
  ChurnCounter counter({{0, 10}, {10, 20}, {20, 30}, {30, 40}});
  counter.add("a", -5, "voluntary");  // before the range: not counted
  counter.add("a", 1, "voluntary");
  counter.add("b", 2, "involuntary");
  counter.add("a", 9, "involuntary");  // a's last churn in [0, 10): involuntary
  counter.add("a", 10, "voluntary");   // the next bucket counts a again
  counter.add("b", 10, "involuntary");
  counter.add("b", 10, "voluntary");  // equal times: the later one handed over wins
  counter.add("c", 35, "voluntary");  // [20, 30) has none
  counter.add("d", 40, "voluntary");  // past the range: not counted
  using C = ChurnCounter::Counts;
  EXPECT_EQ(counter.finish(), (std::vector<C>{{2, 0, 2}, {2, 2, 0}, {0, 0, 0}, {1, 1, 0}}));
}

TEST(AnalyticsTopN, KeepsWhatAStableSortByTheKeyDescendingPutsFirst) {
  // Every limit, on keys with ties, against the stable sort of them all.
  const std::vector<double> keys{0.5, 0.9, 0.1, 0.9, 0.5, 0.7, 0.9, 0.0, 0.5, 0.7};
  std::vector<int> order(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return keys[a] > keys[b]; });
  for (std::size_t limit = 0; limit <= keys.size() + 1; ++limit) {
    TopN<int> top(limit);
    for (std::size_t i = 0; i < keys.size(); ++i) top.offer(keys[i], static_cast<int>(i));
    EXPECT_EQ(top.offered(), keys.size());
    const std::vector<int> want(order.begin(), order.begin() + std::min(limit, order.size()));
    EXPECT_EQ(top.take(), want) << "limit " << limit;
  }
}

}  // namespace
}  // namespace recur::analytics
