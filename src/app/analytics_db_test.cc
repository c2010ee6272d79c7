// Analytics (issue 16) on both engines: what the event observer keeps equals a rebuild from
// the event log, row for row; the aggregates equal the from-scratch path (points -> the pure
// customer_movements) in every bucket, and the MRR identity holds in each; a generated year
// of 10,000 subscribers, whose final MRR the test knows by its own arithmetic.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "analytics/service.h"
#include "events/store.h"
#include "gateways/sandbox.h"
#include "gateways/signature.h"
#include "testing/fixtures.h"

namespace recur::app {
namespace {

using testing::at;
using testing::TestApp;

// Every analytics table, each row as text, in key order.
std::vector<std::string> dump(TestApp& t) {
  static const std::vector<std::pair<const char*, const char*>> kTables = {
      {"analytics_subscriptions", "subscription_id"},
      {"analytics_points", "subscription_id, seq"},
      {"analytics_movements", "customer_id, currency, at"},
      {"analytics_customers", "customer_id, currency"},
      {"analytics_daily", "currency, day, shard"},
      {"analytics_invoices", "invoice_id"},
      {"analytics_refunds", "refund_id"},
      {"analytics_activity", "event_id"},
  };
  std::vector<std::string> out;
  auto tx = t.app->database().begin();
  EXPECT_TRUE(tx.ok());
  for (const auto& [table, key] : kTables) {
    // A daily row summing to nothing is the same as no row (a movement moved to another day).
    std::string where = std::string(table) == "analytics_daily"
                            ? " WHERE NOT (new_mrr = 0 AND expansion = 0 AND contraction = 0 AND churn = 0 AND"
                              " reactivation = 0 AND count_new = 0 AND count_expansion = 0 AND count_contraction = 0"
                              " AND count_churn = 0 AND count_reactivation = 0 AND subscriptions_started = 0 AND"
                              " subscriptions_stopped = 0)"
                            : "";
    auto rows = (*tx)->query(std::string("SELECT * FROM ") + table + where + " ORDER BY " + key);
    EXPECT_TRUE(rows.ok()) << (rows.ok() ? "" : rows.error().message);
    if (!rows.ok()) continue;
    for (const auto& r : *rows) {
      std::string line = table;
      for (std::size_t i = 0; i < r.size(); ++i) line += "|" + r.opt_text(i).value_or("NULL");
      out.push_back(line);
    }
  }
  return out;
}

void rebuild(TestApp& t) {
  auto read = db::transact(t.app->database(), [](db::Tx& tx) { return analytics::rebuild(tx); });
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_GT(*read, 0);
}

// The aggregate path and the from-scratch path agree, and the identity holds, in every bucket.
void check_buckets(TestApp& t, const std::string& currency, const std::vector<analytics::Bucket>* bs) {
  auto tx = t.app->database().begin(db::TxMode::kReadOnly);
  ASSERT_TRUE(tx.ok());
  auto kept = t.app->analytics().figures(**tx, currency, *bs, {});
  analytics::Slice scan;
  scan.scan = true;
  auto fresh = t.app->analytics().figures(**tx, currency, *bs, scan);
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  ASSERT_EQ(kept->size(), fresh->size());
  for (std::size_t i = 0; i < kept->size(); ++i) {
    const auto& a = (*kept)[i];
    const auto& b = (*fresh)[i];
    SCOPED_TRACE(currency + " bucket " + format_rfc3339(a.bucket.start));
    EXPECT_TRUE(analytics::identity_holds(a.totals));
    EXPECT_EQ(a.totals.mrr_start, b.totals.mrr_start);
    EXPECT_EQ(a.totals.mrr_end, b.totals.mrr_end);
    EXPECT_EQ(a.totals.new_mrr, b.totals.new_mrr);
    EXPECT_EQ(a.totals.expansion, b.totals.expansion);
    EXPECT_EQ(a.totals.contraction, b.totals.contraction);
    EXPECT_EQ(a.totals.churn, b.totals.churn);
    EXPECT_EQ(a.totals.reactivation, b.totals.reactivation);
    EXPECT_EQ(a.totals.count_new, b.totals.count_new);
    EXPECT_EQ(a.totals.count_churn, b.totals.count_churn);
    EXPECT_EQ(a.customers_start, b.customers_start);
    EXPECT_EQ(a.subscriptions_start, b.subscriptions_start);
    EXPECT_EQ(a.churned_customers, b.churned_customers);
    EXPECT_EQ(a.voluntary, b.voluntary);
    EXPECT_EQ(a.involuntary, b.involuntary);
    if (i + 1 < kept->size()) {
      EXPECT_EQ(a.totals.mrr_end, (*kept)[i + 1].totals.mrr_start);
    }
  }
}

void check_buckets(TestApp& t, const std::string& currency, Timestamp from, Timestamp to,
                   analytics::BucketInterval interval) {
  auto bs = analytics::buckets(from, to, interval);
  ASSERT_TRUE(bs);
  check_buckets(t, currency, &*bs);
}

class AnalyticsTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-05T10:00:00Z")); }
  TestApp t;
};

// A shop's life through the services and the billing run: signups on monthly, weekly and
// yearly plans, an upgrade, a cancellation now and one at period end, a pause and resume,
// a coupon, renewals for four months; then the rebuild equals what the events kept.
TEST_F(AnalyticsTest, WhatTheEventsKeptEqualsARebuildFromTheLog) {
  auto monthly = testing::make_plan(t, 3000, Interval::kMonth);
  auto pricier = testing::make_plan(t, 5000, Interval::kMonth, 1, 0, "Big box");
  auto weekly = testing::make_plan(t, 1000, Interval::kWeek, 1, 0, "Weekly box");
  auto yearly = testing::make_plan(t, 30000, Interval::kYear, 1, 0, "Yearly box");
  std::vector<subscriptions::Subscription> subs;
  for (int i = 0; i < 8; ++i) {
    auto c = testing::make_customer(t, "a" + std::to_string(i) + "@example.com");
    auto pm = t.app->customers().attach_payment_method(c.id, {"sandbox", "pm_card_visa", true}, t.actor);
    ASSERT_TRUE(pm.ok()) << pm.error().message;
    const auto& plan = i % 4 == 0 ? monthly : i % 4 == 1 ? weekly : i % 4 == 2 ? yearly : pricier;
    subs.push_back(testing::subscribe(t, c.id, plan.id));
  }
  // A day later (changes at the signup's own instant would make no movement of their own).
  t.clock->advance(86400);
  auto& sv = t.app->subscriptions();
  subscriptions::ChangePlanInput up;
  up.plan = pricier.id;
  ASSERT_TRUE(sv.change_plan(subs[0].id, up, std::nullopt, t.actor).ok());
  ASSERT_TRUE(sv.cancel(subs[1].id, {false, "too_expensive", std::nullopt}, std::nullopt, t.actor).ok());
  ASSERT_TRUE(sv.cancel(subs[2].id, {true, "not_using", std::nullopt}, std::nullopt, t.actor).ok());
  ASSERT_TRUE(sv.pause(subs[3].id, std::nullopt, std::nullopt, t.actor).ok());
  for (int month = 0; month < 4; ++month) {
    t.clock->advance(31 * 86400);
    auto ran = t.app->billing().runs.run("test");
    ASSERT_TRUE(ran.ok()) << ran.error().message;
    if (month == 1) {
      ASSERT_TRUE(sv.resume(subs[3].id, std::nullopt, t.actor).ok());
    }
  }
  // Two disputes through the sandbox's webhooks: one lost (revenue drops by it), one won.
  billing::BillingOptions options;
  options.sandbox_webhooks = true;
  auto node = testing::reopen(t, *t.clock, 4, options);
  // A minute on: ids of two nodes at the same instant need not sort in the order written.
  t.clock->advance(60);
  auto dispute = [&](const subscriptions::Subscription& s, const std::string& id, const std::string& status) {
    auto invoices = t.app->billing().service.list_invoices({s.id, std::nullopt, std::nullopt, {}, {.limit = 100}});
    ASSERT_TRUE(invoices.ok() && !invoices->items.empty());
    const std::string paid = invoices->items.back().id;  // the first, paid at signup's run
    auto payments = t.app->billing().service.list_payments({paid, std::nullopt, {}, {.limit = 10}});
    ASSERT_TRUE(payments.ok() && !payments->items.empty());
    const auto& pay = payments->items.front();
    for (const std::string& type : {std::string("charge.dispute.created"), std::string("charge.dispute.closed")}) {
      Json object = {{"id", id}, {"object", "dispute"}, {"amount", pay.amount}, {"currency", pay.currency},
                     {"payment_intent", pay.gateway_reference}, {"reason", "fraudulent"}, {"status", status}};
      std::string body = Json{{"id", "evt_" + id + type}, {"type", type}, {"data", {{"object", object}}}}.dump();
      auto r = node->billing().webhooks.receive_webhook(
          "sandbox", {{"sandbox-signature", gateways::sign_timestamped(gateways::kSandboxWebhookSecret,
                                                                       t.clock->now(), body)}},
          body);
      ASSERT_TRUE(r.ok()) << r.error().message;
      t.clock->advance(60);
    }
  };
  dispute(subs[4], "du_lost", "lost");
  dispute(subs[7], "du_won", "won");
  {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query("SELECT COUNT(*) FROM analytics_refunds WHERE refund_id LIKE 'dp_%'");
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->at(0).int64(0), 1);  // the lost one only
  }
  const auto kept = dump(t);
  ASSERT_FALSE(kept.empty());
  rebuild(t);
  const auto rebuilt = dump(t);
  EXPECT_EQ(kept, rebuilt);
  check_buckets(t, "usd", at("2026-01-01T00:00:00Z"), t.clock->now() + 1, analytics::BucketInterval::kMonth);
  check_buckets(t, "usd", at("2026-01-05T10:00:00Z"), t.clock->now(), analytics::BucketInterval::kWeek);
  {
    // Buckets of figures()'s own choosing, edges inside days (buckets() puts only the ends there).
    std::vector<analytics::Bucket> hours;
    for (Timestamp h = at("2026-01-05T10:00:00Z"); h + 7 * 3600 < t.clock->now(); h += 29 * 3600 + 7 * 3600)
      hours.push_back({h, h + 29 * 3600 + 7 * 3600});
    ASSERT_GT(hours.size(), 3u);
    check_buckets(t, "usd", &hours);
  }

  // The canceled-at-once subscription churned at once; the one at period end, at its end.
  auto report = t.app->analytics().movements(analytics::ReportQuery{
      std::string("usd"), 0, at("2026-01-01T00:00:00Z"), at("2026-03-01T00:00:00Z"), analytics::BucketInterval::kMonth});
  ASSERT_TRUE(report.ok()) << report.error().message;
  const Json& jan = (*report)["data"][0];
  EXPECT_EQ(jan["counts"]["new"], 8);
  EXPECT_EQ(jan["counts"]["expansion"], 1);
  // Canceled now (weekly 1000 -> 4333/month) and paused (pricier 5000): churned in January.
  EXPECT_EQ(jan["churn"], 4333 + 5000);
  EXPECT_EQ(jan["counts"]["churn"], 2);
}

// A generated year of 10,000 subscribers in two currencies, appended to the event log as the
// lifecycle writes them (before/after snapshots, dunning's reason, effective times): the
// MRR at the year's end is what the generator's own arithmetic says, every bucket holds the
// identity and equals the from-scratch path, and a rebuild gives the same tables.
TEST_F(AnalyticsTest, AGeneratedYearOfTenThousandSubscribers) {
  struct PlanCase {
    catalog::Plan plan;
    std::int64_t monthly;  // worked out by hand from docs/analytics.md's factors
    std::int64_t monthly_of_two;  // quantity 2: the period's total is normalised, then rounded
  };
  std::vector<PlanCase> plans = {
      {testing::make_plan(t, 3000, Interval::kMonth), 3000, 6000},
      {testing::make_plan(t, 1000, Interval::kWeek, 1, 0, "W"), 4333, 8667},  // 1000 x 52 / 12 = 4333.3; 8666.7
      {testing::make_plan(t, 30000, Interval::kYear, 1, 0, "Y"), 2500, 5000},  // 30000 / 12
      {testing::make_plan(t, 4500, Interval::kMonth, 3, 0, "Q"), 1500, 3000},  // 4500 / 3
  };
  auto eur = t.app->catalog().create_plan({"EUR box", 2000, "eur", {Interval::kMonth, 1}, 0, std::nullopt,
                                           {{plans[0].plan.items.at(0).product, 1}}, Json::object()},
                                          t.actor);
  ASSERT_TRUE(eur.ok()) << eur.error().message;
  plans.push_back({*eur, 2000, 4000});

  const Timestamp year = at("2026-01-01T00:00:00Z");
  std::mt19937_64 rng(16);
  std::uniform_int_distribution<int> day(0, 364), pick(0, 99);
  std::map<std::string, std::int64_t> expected;  // currency -> MRR at the year's end
  std::int64_t appended = 0;
  auto append = [&](db::Tx& tx, const std::string& type, const Json& before, const subscriptions::Subscription& s,
                    Timestamp when, Json details) {
    events::Event e{t.app->ids().next("evt"), type, "subscription", s.id, events::Actor{"api_key", "key_gen", "admin"},
                    when, before, subscriptions::to_json(s), std::move(details)};
    auto done = events::append(tx, e);
    ASSERT_TRUE(done.ok()) << done.error().message;
    ++appended;
  };
  const int kSubscribers = 10000;
  for (int batch = 0; batch < kSubscribers / 500; ++batch) {
    auto done = db::transact(t.app->database(), [&](db::Tx& tx) -> Status {
      for (int k = 0; k < 500; ++k) {
        const int n = batch * 500 + k;
        const PlanCase& pc = plans[static_cast<std::size_t>(pick(rng) % static_cast<int>(plans.size()))];
        subscriptions::Subscription s;
        s.id = "sub_gen" + std::to_string(n);
        s.customer = "cus_gen" + std::to_string(n % 8000);  // some customers hold two subscriptions
        s.plan = pc.plan.id;
        s.currency = pc.plan.currency;
        s.status = subscriptions::Status::kActive;
        Timestamp when = year + day(rng) * 86400 + n % 86400;
        s.start_date = s.created = s.updated = when;
        append(tx, "subscription.created", nullptr, s, when, nullptr);
        std::int64_t mrr = pc.monthly;
        const int fate = pick(rng);
        Json before = subscriptions::to_json(s);
        when += 86400 * (1 + day(rng) % 60);
        if (when >= year + 365 * 86400) when = year + 365 * 86400 - 1;
        if (fate < 15) {  // canceled by the customer
          s.status = subscriptions::Status::kCanceled;
          s.canceled_at = s.ended_at = when;
          s.cancellation = subscriptions::Cancellation{"too_expensive", std::nullopt, when};
          append(tx, "subscription.canceled", before, s, when, nullptr);
          mrr = 0;
        } else if (fate < 25) {  // dunning's final cancel
          s.status = subscriptions::Status::kCanceled;
          s.canceled_at = s.ended_at = when;
          s.cancellation = subscriptions::Cancellation{"payment_failed", std::nullopt, when};
          append(tx, "subscription.canceled", before, s, when, {{"reason", "payment_failed"}});
          mrr = 0;
        } else if (fate < 35) {  // two boxes instead of one
          s.quantity = 2;
          append(tx, "subscription.updated", before, s, when, nullptr);
          mrr = pc.monthly_of_two;
        } else if (fate < 40) {  // paused, then resumed a month later
          s.status = subscriptions::Status::kPaused;
          s.pause = subscriptions::Pause{when, std::nullopt};
          append(tx, "subscription.paused", before, s, when, nullptr);
          before = subscriptions::to_json(s);
          s.status = subscriptions::Status::kActive;
          s.pause.reset();
          append(tx, "subscription.resumed", before, s, when + 30 * 86400, nullptr);
        } else if (fate < 45) {  // 10 % off for ever, from a coupon
          subscriptions::Discount d;
          d.percent_off = 10;
          d.cycles_remaining = subscriptions::kForever;
          d.source = {"coupon", "coupon_gen"};
          d.coupon = "coupon_gen";
          s.discount = d;
          append(tx, "subscription.discount_applied", before, s, when, nullptr);
          // 10 % off the period's price (rounded half-up), then the month's share.
          const std::int64_t period = pc.plan.amount - (pc.plan.amount * 10 + 50) / 100;
          mrr = analytics::monthly(period, pc.plan.cadence);
        }
        expected[s.currency] += mrr;
      }
      return Ok{};
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }
  EXPECT_GE(appended, kSubscribers);
  for (const auto& [currency, mrr] : expected) {
    SCOPED_TRACE(currency);
    auto report = t.app->analytics().mrr(analytics::ReportQuery{currency, year + 400 * 86400});
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_EQ((*report)["mrr"], mrr);
    EXPECT_EQ((*report)["arr"], 12 * mrr);
    check_buckets(t, currency, year, year + 366 * 86400, analytics::BucketInterval::kMonth);
    check_buckets(t, currency, year, year + 366 * 86400, analytics::BucketInterval::kQuarter);
  }
  const auto kept = dump(t);
  rebuild(t);
  EXPECT_EQ(kept, dump(t));
}

// The at-risk model's backtest on generated data with a known signal: subscribers who had
// failed payments and skips in the 90 days before the backtest's instant mostly left after
// it, the others mostly stayed; the AUC the report gives is well above chance, and now the
// subscribers showing those signals rank first.
TEST_F(AnalyticsTest, TheAtRiskBacktestFindsAKnownSignal) {
  auto plan = testing::make_plan(t, 3000, Interval::kMonth);
  const Timestamp now = at("2026-12-01T00:00:00Z");
  const Timestamp then = now - 90 * 86400;  // the backtest's instant (the report's rule)
  std::mt19937_64 rng(20);
  std::uniform_int_distribution<int> pick(0, 99);
  auto done = db::transact(t.app->database(), [&](db::Tx& tx) -> Status {
    auto append = [&](const std::string& type, const Json& before, const subscriptions::Subscription& s,
                      Timestamp when, const events::Actor& actor) {
      events::Event e{t.app->ids().next("evt"), type, "subscription", s.id, actor, when, before,
                      subscriptions::to_json(s), nullptr};
      return events::append(tx, e);
    };
    const events::Actor api{"api_key", "key_gen", "admin"};
    for (int n = 0; n < 1200; ++n) {
      subscriptions::Subscription s;
      s.id = "sub_risk" + std::to_string(n);
      s.customer = "cus_risk" + std::to_string(n);
      s.plan = plan.id;
      s.currency = "usd";
      s.status = subscriptions::Status::kActive;
      s.created = s.updated = s.start_date = then - 300 * 86400 + n * 60;
      RECUR_TRY(append("subscription.created", nullptr, s, s.created, api));
      // The known signal: a third of them had failed payments and skipped in the window
      // before `then` (and the same share now, in the window before `now`).
      const bool risky = n % 3 == 0;
      for (Timestamp window : {then, now}) {
        if (!risky) continue;
        Json before = subscriptions::to_json(s);
        RECUR_TRY(append("subscription.payment_failed", before, s, window - 40 * 86400, events::Actor::system()));
        RECUR_TRY(append("subscription.payment_failed", before, s, window - 20 * 86400, events::Actor::system()));
        RECUR_TRY(append("subscription.skipped", before, s, window - 10 * 86400, api));
        if (window == then && pick(rng) < 80) {  // most risky ones leave after `then`
          s.status = subscriptions::Status::kCanceled;
          s.canceled_at = s.ended_at = then + 30 * 86400;
          RECUR_TRY(append("subscription.canceled", before, s, *s.ended_at, api));
          break;
        }
      }
      if (!risky && pick(rng) < 10) {  // and a few of the others
        Json before = subscriptions::to_json(s);
        s.status = subscriptions::Status::kCanceled;
        s.canceled_at = s.ended_at = then + 45 * 86400;
        RECUR_TRY(append("subscription.canceled", before, s, *s.ended_at, api));
      }
    }
    return Ok{};
  });
  ASSERT_TRUE(done.ok()) << done.error().message;
  t.clock->set(now);
  analytics::ReportQuery q;
  q.currency = "usd";
  q.limit = 20;
  auto report = t.app->analytics().at_risk(q);
  ASSERT_TRUE(report.ok()) << report.error().message;
  const Json& model = (*report)["model"];
  EXPECT_EQ(model["name"], "recur-risk-1");
  EXPECT_EQ(model["backtest_subscriptions"], 1200);
  ASSERT_TRUE(model["backtest_auc"].is_number());
  EXPECT_GT(model["backtest_auc"].get<double>(), 0.75);  // about 0.85 by the shares above
  // Now: the top of the list is the risky third that stayed, each naming its reasons.
  ASSERT_EQ((*report)["data"].size(), 20u);
  for (const auto& row : (*report)["data"]) {
    const int n = std::stoi(row["subscription"].get<std::string>().substr(8));
    EXPECT_EQ(n % 3, 0) << row.dump();
    EXPECT_EQ(row["signals"]["failed_payments"], 2);
    EXPECT_EQ(row["reasons"][0], "failed_payments");
  }
}

}  // namespace
}  // namespace recur::app
