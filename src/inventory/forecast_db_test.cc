// Forecasts from a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE): subscriptions
// made, renewed and canceled through the real SubscriptionService on a simulated clock, the
// backtest replayed from the event log, lead-time demand, and GET /v1/forecasts.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "inventory/forecast_store.h"
#include "inventory/purchasing.h"
#include "platform/http/message.h"
#include "testing/fixtures.h"

namespace recur::inventory {
namespace {
using testing::at;

class ForecastDbTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-05T00:00:00Z")); }  // a Monday

  catalog::Product product(const std::string& name) {
    auto p = t.app->catalog().create_product(
        {name, "SKU-" + name, std::nullopt, std::nullopt, Json::object(), std::nullopt, false}, t.actor);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return *p;
  }
  catalog::Plan plan(const std::string& name, Cadence cadence, std::int64_t trial,
                     std::vector<catalog::PlanItem> items) {
    auto p = t.app->catalog().create_plan({name, 1500, "usd", cadence, trial, std::nullopt, items, Json::object()},
                                          t.actor);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return *p;
  }
  template <typename Work>
  auto read(Work work) {
    return db::transact(t.app->database(), work, db::TxMode::kReadOnly);
  }
  http::Response get(const std::string& query, const std::string* secret) {
    http::Request req;
    req.method = "GET";
    req.path = "/v1/forecasts";
    req.query = http::parse_query(query);
    if (secret) req.headers.emplace_back("authorization", "Bearer " + *secret);
    return t.app->pipeline().handle(req);
  }

  // A coffee box a month and a tea box a week (one unit each), and a customer.
  struct CoffeeAndTea {
    catalog::Plan monthly, weekly;
    customers::Customer customer;
  };
  CoffeeAndTea coffee_and_tea() {
    auto coffee = product("coffee");
    auto tea = product("tea");
    return {plan("Coffee monthly", {Interval::kMonth, 1}, 0, {{coffee.id, 1}}),
            plan("Tea weekly", {Interval::kWeek, 1}, 0, {{tea.id, 1}}), testing::make_customer(t)};
  }

  // load_live at `now` over `plan_ids` (none: every plan), with the catalogue it used.
  std::pair<CatalogueData, ForecastHistory> load_at(Timestamp now, const std::vector<std::string>& plan_ids,
                                                    int threads, std::size_t batch, ForecastCache* cache = nullptr) {
    auto h = read([&](db::Tx& tx) -> Result<std::pair<CatalogueData, ForecastHistory>> {
      RECUR_ASSIGN(auto data, load_catalogue(tx));
      std::vector<int> plans;
      for (const auto& id : plan_ids) plans.push_back(*data.catalogue.plan_of(id));
      RECUR_ASSIGN(auto history, load_live(tx, data, now, plans, threads, batch, cache));
      return std::make_pair(std::move(data), std::move(history));
    });
    EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message);
    if (!h.ok()) return {};
    return std::move(h).value();
  }

  testing::TestApp t;
};

// Subscribers arrive by a fixed weekly pattern; each leaves (cancel at period end, asked at a
// random moment of its last period) after a geometric number of billed periods: 10 % churn a
// month on the monthly box; 75 % trial conversion then 5 % churn a period on the fortnightly.
TEST_F(ForecastDbTest, BacktestOnGeneratedSubscriptionsIsWithin15PercentWapeAgainstWhatShipped) {
  auto coffee = product("coffee"), filters = product("filters"), mug = product("mug");
  auto monthly = plan("Coffee monthly", {Interval::kMonth, 1}, 0, {{coffee.id, 2}, {filters.id, 1}});
  auto fortnightly = plan("Coffee fortnightly", {Interval::kWeek, 2}, 7, {{coffee.id, 1}, {mug.id, 1}});
  std::vector<std::string> customers;
  for (int i = 0; i < 5; ++i) customers.push_back(testing::make_customer(t, "c" + std::to_string(i) + "@example.com").id);

  const Timestamp start = t.clock->now(), cut = start + 84 * kSecondsPerDay, end = cut + 56 * kSecondsPerDay;
  const int per_weekday[7] = {7, 5, 4, 4, 3, 2, 2};  // Monday first
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  enum Kind { kTick, kSignup, kCancel };
  std::multimap<Timestamp, std::pair<Kind, std::string>> timeline;
  for (Timestamp day = start; day < end; day += kSecondsPerDay) {
    timeline.emplace(day, std::make_pair(kTick, ""));
    int n = per_weekday[weekday(day)];
    for (int i = 0; i < n; ++i) timeline.emplace(day + (i + 1) * kSecondsPerDay / (n + 1), std::make_pair(kSignup, ""));
  }
  int made = 0, canceled = 0;
  for (auto it = timeline.begin(); it != timeline.end(); it = timeline.erase(it)) {
    t.clock->set(it->first);
    const auto& [kind, id] = it->second;
    if (kind == kTick) {
      ASSERT_TRUE(t.app->subscriptions().run_due().ok());
    } else if (kind == kCancel) {
      auto c = t.app->subscriptions().cancel(id, {true, "too_expensive", std::nullopt}, std::nullopt, t.actor);
      ASSERT_TRUE(c.ok()) << c.error().message;
      ++canceled;
    } else {
      bool is_monthly = u(rng) < 0.6;
      const auto& p = is_monthly ? monthly : fortnightly;
      auto sub = testing::subscribe(t, customers[made % customers.size()], p.id, std::nullopt, u(rng) < 0.8 ? 1 : 2);
      ++made;
      // Billed periods before leaving, and the moment the customer asks.
      std::int64_t lifetime = 1;
      if (!is_monthly && u(rng) > 0.75) lifetime = 0;
      else while (u(rng) > (is_monthly ? 0.10 : 0.05)) ++lifetime;
      Timestamp first = sub.start_date + p.trial_days * kSecondsPerDay;
      Timestamp from = lifetime == 0 ? sub.start_date : period_start(first, p.cadence, lifetime - 1);
      Timestamp to = lifetime == 0 ? first : period_start(first, p.cadence, lifetime);
      Timestamp ask = from + 1 + static_cast<Timestamp>(u(rng) * static_cast<double>(to - from - 2));
      if (ask < end) timeline.emplace(ask, std::make_pair(kCancel, sub.id));
    }
  }
  ASSERT_GT(made, 400);
  ASSERT_GT(canceled, 100);

  auto report = read([&](db::Tx& tx) { return run_backtest(tx, cut, 56, Granularity::kWeek, 0.8); });
  ASSERT_TRUE(report.ok()) << report.error().message;
  std::printf("db backtest: %s\n", to_json(*report).dump().c_str());
  EXPECT_EQ(report->source, ActualsSource::kShipments);  // every billed period made a shipment from the start
  EXPECT_GT(report->subscriptions_known, 200);
  EXPECT_LT(report->subscriptions_known, made);       // only those made before the cut
  EXPECT_GT(report->error.actual_units, 500);
  EXPECT_EQ(report->error.cells, 3 * 8);
  EXPECT_LT(report->error.wape, 0.15);
  EXPECT_LT(std::abs(report->error.bias), 0.10);

  // Both sources of actuals agree: each billable period in the event log made one shipment
  // of its plan's items times the quantity.
  auto both = read([&](db::Tx& tx) -> Result<std::pair<Actuals, Actuals>> {
    RECUR_ASSIGN(auto data, load_catalogue(tx));
    auto buckets = make_buckets(cut, end, Granularity::kWeek);
    RECUR_ASSIGN(auto shipped, shipped_units(tx, data.catalogue, buckets));
    RECUR_ASSIGN(auto replayed, replay(tx, data, cut, end));
    return std::make_pair(shipped, billed_units(data.catalogue, buckets, replayed.billed_after));
  });
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_EQ(both->first.units, both->second.units);
}

// load_live reads every subscription in one pass: the retention counts from every row, the
// signups of the trend window (canceled ones and ones off the asked plans too, with their
// quantities), the schedules of the live ones on the asked plans; the same, in the same order,
// on 1 and 3 threads and in batches of 1, 2 and 2048 documents.
TEST_F(ForecastDbTest, LoadLiveCountsEveryRowOnceTheSameOnAnyThreadsAndBatches) {
  auto [monthly, weekly, cus] = coffee_and_tea();
  std::vector<std::string> old_monthly;
  for (int q = 1; q <= 3; ++q) old_monthly.push_back(testing::subscribe(t, cus.id, monthly.id, std::nullopt, q).id);
  testing::subscribe(t, cus.id, weekly.id, std::nullopt, 4);  // live on the tea plan, outside the window
  t.clock->set(at("2026-03-20T00:00:00Z"));  // 10 weeks on: those three are outside the signup window
  ASSERT_TRUE(t.app->subscriptions().run_due().ok());
  auto gone = t.app->subscriptions().cancel(old_monthly[0], {false, "other", std::nullopt}, std::nullopt, t.actor);
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  testing::subscribe(t, cus.id, weekly.id, std::nullopt, 2);
  auto left = testing::subscribe(t, cus.id, weekly.id, std::nullopt, 5);
  ASSERT_TRUE(t.app->subscriptions().cancel(left.id, {false, "other", std::nullopt}, std::nullopt, t.actor).ok());
  testing::subscribe(t, cus.id, monthly.id, std::nullopt, 7);
  const Timestamp now = at("2026-03-21T00:00:00Z");

  auto load = [&](std::vector<std::string> plan_ids, int threads, std::size_t batch = 2048) {
    return load_at(now, plan_ids, threads, batch);
  };
  auto [data, all] = load({}, 1);
  const auto& cat = data.catalogue;
  int m = *cat.plan_of(monthly.id), w = *cat.plan_of(weekly.id);
  auto total = [](const RetentionCounts& c) {
    double n = 0;
    for (double x : c.alive) n += x;
    for (double x : c.ended) n += x;
    return n;
  };
  // Retention: every row, canceled or not: four monthly (one ended), three weekly (one ended).
  EXPECT_EQ(total(all.retention[m]), 4);
  EXPECT_EQ(total(all.retention[w]), 3);
  double ended_monthly = 0;
  for (double x : all.retention[m].ended) ended_monthly += x;
  EXPECT_EQ(ended_monthly, 1);
  // Signups: the three made in the window, the canceled one included, with their quantities.
  EXPECT_EQ(all.signups.per_plan[m], 1);
  EXPECT_EQ(all.signups.per_plan[w], 2);
  EXPECT_EQ(all.signups.quantity_sum[m], 7);
  EXPECT_EQ(all.signups.quantity_sum[w], 2 + 5);
  // Schedules: the live ones: two old monthly, the new monthly, two weekly.
  ASSERT_EQ(all.schedules.size(), 5u);
  std::int64_t quantities = 0;
  for (const auto& s : all.schedules) quantities += s.quantity;
  EXPECT_EQ(quantities, 2 + 3 + 7 + 4 + 2);

  // Only the weekly plan's schedules (the old one's document comes by the plan, not the
  // window), the rest counted as before; the same whatever the threads and batches.
  for (int threads : {1, 3}) {
    for (std::size_t batch : {1, 2, 2048}) {
      SCOPED_TRACE(::testing::Message() << threads << " threads, batches of " << batch);
      auto [d, tea_only] = load({weekly.id}, threads, batch);
      ASSERT_EQ(tea_only.schedules.size(), 2u);
      EXPECT_EQ(tea_only.schedules[0].quantity + tea_only.schedules[1].quantity, 4 + 2);
      EXPECT_EQ(total(tea_only.retention[m]), 4);
      EXPECT_EQ(tea_only.signups.quantity_sum[m], 7) << "a signup off the asked plans still counts";
      EXPECT_EQ(tea_only.signups.quantity_sum[w], 7);
      auto [d3, all3] = load({}, threads, batch);
      ASSERT_EQ(all3.schedules.size(), all.schedules.size());
      for (std::size_t i = 0; i < all.schedules.size(); ++i) {  // in scan order, batch after batch
        EXPECT_EQ(all3.schedules[i].plan, all.schedules[i].plan);
        EXPECT_EQ(all3.schedules[i].quantity, all.schedules[i].quantity);
        EXPECT_EQ(all3.schedules[i].anchor, all.schedules[i].anchor);
      }
      EXPECT_EQ(all3.signups.quantity_sum[w], 7);
    }
  }
}

// A ForecastCache (what each node keeps between forecasts) gives what a load without one gives,
// after every kind of committed write: a changed quantity, a skip, a cancel, a new and a deleted
// subscription. Two caches stand for two nodes: the second saw none of the writes happen, and
// one that holds only one plan's subscriptions (a reorder point's forecast filled it) or is
// full gives the same. A forecast over every plan drops what it no longer reads.
TEST_F(ForecastDbTest, CachedLoadsSeeEveryCommittedWriteOnAnyNode) {
  auto [monthly, weekly, cus] = coffee_and_tea();
  auto old_monthly = testing::subscribe(t, cus.id, monthly.id, std::nullopt, 3);
  auto old_weekly = testing::subscribe(t, cus.id, weekly.id, std::nullopt, 4);
  auto leaving = testing::subscribe(t, cus.id, monthly.id, std::nullopt, 6);
  t.clock->set(at("2026-03-20T00:00:00Z"));  // 10 weeks on: those are outside the signup window
  ASSERT_TRUE(t.app->subscriptions().run_due().ok());
  auto new_weekly = testing::subscribe(t, cus.id, weekly.id, std::nullopt, 2);
  auto later = testing::subscribe(t, cus.id, monthly.id, at("2026-04-10T00:00:00Z"), 5);  // scheduled
  const Timestamp now = at("2026-03-21T00:00:00Z");

  auto load = [&](ForecastCache* cache, std::vector<std::string> plan_ids = {}) {
    return load_at(now, plan_ids, 2, 2, cache).second;
  };
  auto same = [&](const ForecastHistory& cached, const ForecastHistory& fresh, const std::string& when) {
    SCOPED_TRACE(when);
    ASSERT_EQ(cached.schedules.size(), fresh.schedules.size());
    for (std::size_t i = 0; i < fresh.schedules.size(); ++i) {
      const auto &a = cached.schedules[i], &b = fresh.schedules[i];
      EXPECT_EQ(a.plan, b.plan);
      EXPECT_EQ(a.quantity, b.quantity);
      EXPECT_EQ(a.billed, b.billed);
      EXPECT_EQ(a.anchor, b.anchor);
      EXPECT_EQ(a.index, b.index);
      EXPECT_EQ(a.elapsed, b.elapsed);
      EXPECT_EQ(a.skipped, b.skipped);
    }
    EXPECT_EQ(cached.signups.per_plan, fresh.signups.per_plan);
    EXPECT_EQ(cached.signups.quantity_sum, fresh.signups.quantity_sum);
    ASSERT_EQ(cached.retention.size(), fresh.retention.size());
    for (std::size_t p = 0; p < fresh.retention.size(); ++p) {
      EXPECT_EQ(cached.retention[p].alive, fresh.retention[p].alive);
      EXPECT_EQ(cached.retention[p].ended, fresh.retention[p].ended);
    }
  };
  auto quantities = [](const ForecastHistory& h) {
    std::multiset<std::int64_t> q;
    for (const auto& s : h.schedules) q.insert(s.quantity);
    return q;
  };

  ForecastCache node_a, node_b, full(2), restreams(100, 0);
  same(load(&node_a), load(nullptr), "first load: streamed and kept");
  EXPECT_EQ(node_a.stats().entries, 5u);  // the five live ones (two of them signups)
  EXPECT_EQ(node_a.stats().read, 5u);
  same(load(&node_b, {weekly.id}), load(nullptr, {weekly.id}), "node b: the tea plan only");
  EXPECT_EQ(node_b.stats().entries, 2u + 1u);  // the two weekly ones, and the new monthly one's signup
  same(load(&node_a), load(nullptr), "nothing changed: all from the cache");
  EXPECT_EQ(node_a.stats().read, 0u) << "no document read again";
  same(load(&full), load(nullptr), "a full cache");
  EXPECT_EQ(full.stats().entries, 2u);
  same(load(&restreams), load(nullptr), "one that streams again when a quarter changed");

  // Writes, each committed through node a's app; neither cache is told.
  auto current = t.app->subscriptions().get(old_monthly.id);
  ASSERT_TRUE(current.ok());
  ASSERT_TRUE(t.app->subscriptions().update(old_monthly.id, {.quantity = 9}, current->version, t.actor).ok());
  ASSERT_TRUE(t.app->subscriptions().skip(old_weekly.id, std::nullopt, std::nullopt, t.actor).ok());
  ASSERT_TRUE(t.app->subscriptions().cancel(leaving.id, {false, "other", std::nullopt}, std::nullopt, t.actor).ok());
  ASSERT_TRUE(t.app->subscriptions().remove(later.id, std::nullopt, t.actor).ok());
  testing::subscribe(t, cus.id, weekly.id, std::nullopt, 8);

  auto fresh = load(nullptr);
  EXPECT_EQ(quantities(fresh), (std::multiset<std::int64_t>{9, 4, 2, 8}));
  auto a = load(&node_a);
  same(a, fresh, "node a after the writes");
  EXPECT_EQ(quantities(a), (std::multiset<std::int64_t>{9, 4, 2, 8}));
  // Read again: the two changed and the new one. The canceled one (outside the window) and the
  // deleted one are no longer read: dropped.
  EXPECT_EQ(node_a.stats().read, 3u);
  EXPECT_EQ(node_a.stats().entries, 4u);
  same(load(&node_b), fresh, "node b, which held the tea plan only, after the writes");
  EXPECT_EQ(node_b.stats().read, 3u);  // the coffee ones it never held, the changed tea one
  EXPECT_EQ(node_b.stats().entries, 4u);
  same(load(&full), fresh, "a full cache after the writes");
  same(load(&restreams), fresh, "three of four changed: all streamed again");
  EXPECT_EQ(restreams.stats().read, 4u) << "not read by id: every live one parsed again";
  EXPECT_EQ(restreams.stats().entries, 4u);
  same(load(&node_a, {weekly.id}), load(nullptr, {weekly.id}), "node a, the tea plan only");

  // The whole forecast, which hands its schedules back to the cache for the next one to reuse.
  ForecastRequest req;
  req.as_of = now;
  auto report = [&](ForecastCache* cache) {
    auto r = read([&](db::Tx& tx) { return run_forecast(tx, req, cache); });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return to_json(*r).dump();
  };
  const std::string expected = report(nullptr);
  EXPECT_NE(expected.find("\"subscriptions\":4"), std::string::npos) << expected;
  for (int round = 0; round < 3; ++round) EXPECT_EQ(report(&node_a), expected) << "round " << round;
}

// One cache, two forecasts at once (a GET and a reorder run): one uses the cache, the other
// reads as if there were none (ForecastCache is try-locked); both see the whole book.
TEST_F(ForecastDbTest, TwoForecastsAtOnceOnOneCacheEachSeeTheWholeBook) {
  auto [monthly, weekly, cus] = coffee_and_tea();
  for (int i = 0; i < 6; ++i) testing::subscribe(t, cus.id, i % 2 ? monthly.id : weekly.id, std::nullopt, 1 + i);
  ForecastRequest req;
  req.as_of = t.clock->now();
  auto report = [&](ForecastCache* cache) -> std::string {
    auto r = read([&](db::Tx& tx) { return run_forecast(tx, req, cache); });
    return r.ok() ? to_json(*r).dump() : r.error().message;
  };
  const std::string expected = report(nullptr);
  ASSERT_NE(expected.find("\"subscriptions\":6"), std::string::npos) << expected;
  ForecastCache cache;
  std::vector<std::string> seen[2];
  std::thread first([&] {
    for (int i = 0; i < 10; ++i) seen[0].push_back(report(&cache));
  });
  std::thread second([&] {
    for (int i = 0; i < 10; ++i) seen[1].push_back(report(&cache));
  });
  first.join();
  second.join();
  for (const auto& answers : seen)
    for (const auto& answer : answers) EXPECT_EQ(answer, expected);
  EXPECT_EQ(cache.stats().entries, 6u);
}

// A document that cannot be parsed fails the forecast that reads it (cached or not), and once
// it is mended the cache answers as a fresh read does: nothing half-read stays in it.
TEST_F(ForecastDbTest, AnUnreadableDocumentFailsItsForecastAndLeavesNothingStaleInTheCache) {
  auto [monthly, weekly, cus] = coffee_and_tea();
  auto broken = testing::subscribe(t, cus.id, monthly.id, std::nullopt, 2);
  testing::subscribe(t, cus.id, weekly.id, std::nullopt, 3);
  ForecastRequest req;
  req.as_of = t.clock->now();
  auto report = [&](ForecastCache* cache) -> std::optional<std::string> {
    try {
      auto r = read([&](db::Tx& tx) { return run_forecast(tx, req, cache); });
      if (r.ok()) return to_json(*r).dump();
    } catch (const std::exception&) {
    }
    return std::nullopt;
  };
  auto write = [&](const std::string& sql, db::Params params) {
    auto done = db::transact(t.app->database(), [&](db::Tx& tx) -> Status {
      RECUR_TRY(tx.exec(sql, params));
      return Ok{};
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
  };
  auto doc = read([&](db::Tx& tx) -> Result<std::string> {
    RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM subscriptions WHERE id = $1", {broken.id}));
    return rows.at(0).text(0);
  });
  ASSERT_TRUE(doc.ok());
  ForecastCache cache;
  const auto before = report(&cache);
  ASSERT_TRUE(before.has_value());

  write("UPDATE subscriptions SET doc = $1, version = version + 1 WHERE id = $2", {"{\"id\": \"cut sh", broken.id});
  EXPECT_FALSE(report(&cache).has_value()) << "cached";
  EXPECT_FALSE(report(nullptr).has_value()) << "uncached";

  write("UPDATE subscriptions SET doc = $1, version = version + 1 WHERE id = $2", {*doc, broken.id});
  const auto fresh = report(nullptr);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh, before);
  EXPECT_EQ(report(&cache), fresh);
  EXPECT_EQ(cache.stats().read, 1u) << "only the mended one read again";
  EXPECT_EQ(report(&cache), fresh);
  EXPECT_EQ(cache.stats().read, 0u);
}

TEST_F(ForecastDbTest, LeadTimeDemandOfSubscriptionsOlderThanTheSignupWindowIsTheirBoxesExactly) {
  auto coffee = product("coffee");
  auto monthly = plan("Coffee monthly", {Interval::kMonth, 1}, 0, {{coffee.id, 3}});
  auto cus = testing::make_customer(t);
  for (int i = 0; i < 4; ++i) testing::subscribe(t, cus.id, monthly.id, std::nullopt, 1 + i % 2);  // 6 boxes' worth
  t.clock->set(at("2026-03-20T00:00:00Z"));  // 10 weeks on: outside the 8-week signup window
  ASSERT_TRUE(t.app->subscriptions().run_due().ok());

  auto demand = read([&](db::Tx& tx) {
    return lead_time_demand(tx, coffee.id, at("2026-03-20T00:00:00Z"), at("2026-05-10T00:00:00Z"));
  });
  ASSERT_TRUE(demand.ok()) << demand.error().message;
  // Boxes on Apr 5 and May 5, 6 subscription units x 3: nobody ever left, nobody new is expected.
  EXPECT_NEAR(demand->expected, 2 * 6 * 3, 1e-9);
  EXPECT_NEAR(demand->stddev, 0, 1e-9);

  auto none = read([&](db::Tx& tx) {
    return lead_time_demand(tx, coffee.id, at("2026-03-20T00:00:00Z"), at("2026-04-01T00:00:00Z"));
  });
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->expected, 0);
  auto unknown = read([&](db::Tx& tx) {
    return lead_time_demand(tx, "prod_nope", at("2026-03-20T00:00:00Z"), at("2026-05-10T00:00:00Z"));
  });
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "product_not_found");
}

// A reorder run asks for every product's two windows at once: each answer is the one a
// forecast of that window alone gives, with every subscription read once.
TEST_F(ForecastDbTest, LeadTimeDemandsOfManyWindowsAreEachWindowsOwnFromOneRead) {
  auto [monthly, weekly, customer] = coffee_and_tea();
  const std::string coffee = monthly.items.at(0).product, tea = weekly.items.at(0).product;
  std::vector<std::string> teas;
  for (int i = 0; i < 6; ++i) {
    testing::subscribe(t, customer.id, monthly.id, std::nullopt, 1 + i % 2);
    teas.push_back(testing::subscribe(t, customer.id, weekly.id).id);
  }
  // Some leave after a few boxes, so the retention is below one and the spread is not zero.
  for (int week = 1; week <= 9; ++week) {
    t.clock->advance(7 * kSecondsPerDay);
    ASSERT_TRUE(t.app->subscriptions().run_due().ok());
    if (week % 3 == 0) {
      auto c = t.app->subscriptions().cancel(teas[week / 3], {false, "other", std::nullopt}, std::nullopt, t.actor);
      ASSERT_TRUE(c.ok()) << c.error().message;
    }
  }
  const Timestamp now = t.clock->now(), day = kSecondsPerDay;
  const std::vector<LeadTimeWindow> windows = {
      {coffee, now + 10 * day, now + 17 * day},
      {tea, now + 10 * day, now + 17 * day},     // two products, the same ends
      {tea, now, now + 7 * day},                 // no lead time
      {coffee, now + 30 * day, now + 20 * day},  // lead past review
      {tea, now + 14 * day, now + 14 * day},     // the two meet
      {coffee, now - day, now},                  // nothing ahead
  };
  auto book = load_at(now, {}, 1, 2048);
  const auto retention = estimate_retention(book.first.catalogue, book.second.retention);
  const auto signups = fit_signups(book.second.signups);
  ForecastCache cache;
  auto batch = read([&](db::Tx& tx) { return lead_time_demands(tx, now, windows, &cache); });
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_EQ(batch->size(), windows.size());
  EXPECT_EQ(cache.stats().read, 9u) << "each live subscription read once: 6 coffee, 3 tea";
  bool spread = false;
  for (std::size_t i = 0; i < windows.size(); ++i) {
    const auto& w = windows[i];
    // The window alone: the model over the whole book, one bucket [now, to), its total.
    auto alone = [&](Timestamp to) {
      if (to <= now) return Demand{};
      const int p = *book.first.catalogue.product_of(w.product);
      auto f = forecast({&book.first.catalogue, book.second.schedules, &retention, &signups, now, {{now, to}}, {p}, 1});
      return Demand{f.products.at(0).total.expected, std::sqrt(f.products.at(0).total.variance)};
    };
    Demand lead = alone(w.lead_end), review = alone(w.review_end);
    EXPECT_NEAR((*batch)[i].lead.expected, lead.expected, 1e-9) << "window " << i;
    EXPECT_NEAR((*batch)[i].lead.stddev, lead.stddev, 1e-9) << "window " << i;
    EXPECT_NEAR((*batch)[i].through_review.expected, review.expected, 1e-9) << "window " << i;
    EXPECT_NEAR((*batch)[i].through_review.stddev, review.stddev, 1e-9) << "window " << i;
    spread = spread || lead.stddev > 0.01;
  }
  EXPECT_GT((*batch)[1].through_review.expected, (*batch)[1].lead.expected);
  EXPECT_EQ((*batch)[2].lead.expected, 0);
  EXPECT_EQ((*batch)[5].through_review.expected, 0);
  EXPECT_TRUE(spread) << "every window without spread: the test would not see boxes summed across buckets";

  auto unknown = read([&](db::Tx& tx) { return lead_time_demands(tx, now, {{"prod_nope", now + day, now + day}}); });
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "product_not_found");
}

// The app's reorder run asks this forecast for each supplier's windows: 6 units of coffee x 3
// a month, nobody leaving, nothing on hand.
TEST_F(ForecastDbTest, TheAppsReorderRunOrdersWhatTheForecastExpectsOverTheLeadTimeAndReview) {
  catalog::ProductInput coffee_in;
  coffee_in.name = "Coffee";
  coffee_in.sku = "COFFEE";
  auto coffee = t.app->catalog().create_product(coffee_in, t.actor);
  ASSERT_TRUE(coffee.ok()) << coffee.error().message;
  auto monthly = plan("Coffee monthly", {Interval::kMonth, 1}, 0, {{coffee->id, 3}});
  auto cus = testing::make_customer(t);
  for (int i = 0; i < 4; ++i) testing::subscribe(t, cus.id, monthly.id, std::nullopt, 1 + i % 2);
  t.clock->set(at("2026-03-20T00:00:00Z"));
  ASSERT_TRUE(t.app->subscriptions().run_due().ok());
  catalog::ProductPatch track;  // tracked from now on, with nothing on hand
  track.track_inventory = true;
  ASSERT_TRUE(t.app->catalog().update_product(coffee->id, track, coffee->version, t.actor).ok());
  SupplierInput supplier;
  supplier.name = "Roaster";
  supplier.email = "orders@roaster.example";
  supplier.lead_time_days = 40;  // arrives Apr 29: the Apr 5 boxes; the week's review after it takes in May 5
  supplier.products.push_back({coffee->id, 450, "usd"});
  ASSERT_TRUE(t.app->purchasing().create_supplier(supplier, t.actor).ok());

  auto run = t.app->run_reorder_if_due();
  ASSERT_TRUE(run.ok()) << run.error().message;
  ASSERT_TRUE(run->has_value());
  EXPECT_EQ((*run)->errors, 0) << (*run)->first_error;
  ASSERT_EQ((*run)->purchase_orders.size(), 1u);
  auto order = t.app->purchasing().get_purchase_order((*run)->purchase_orders[0]);
  ASSERT_TRUE(order.ok());
  // The reorder point, the lead time's 18 units, and the review period's 18 more.
  EXPECT_EQ(order->lines.at(0).quantity, 36);
}

TEST_F(ForecastDbTest, ShipmentsAreTheActualsOnceTheyWereRecordedSinceTheCut) {
  auto coffee = product("coffee"), mug = product("mug");
  auto data = read([&](db::Tx& tx) { return load_catalogue(tx); });
  ASSERT_TRUE(data.ok());
  auto insert = [&](const std::string& id, std::int64_t period, Timestamp created, const std::string& status,
                    std::int64_t coffee_units) {
    Json doc = {{"id", id},
                {"status", status},
                {"items", Json::array({Json{{"product", coffee.id}, {"quantity", coffee_units}},
                                       Json{{"product", mug.id}, {"quantity", 1}}})}};
    auto r = db::transact(t.app->database(), [&](db::Tx& tx) {
      return tx.exec("INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status, created_at, version,"
                     " doc) VALUES ($1, 'sub_x', 'cus_x', $2, $3, $4, 1, $5)",
                     {id, period, status, created, doc.dump()});
    });
    ASSERT_TRUE(r.ok()) << r.error().message;
  };
  const Timestamp cut = at("2026-02-01T00:00:00Z");
  auto before = read([&](db::Tx& tx) { return actuals_source(tx, cut); });
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(*before, ActualsSource::kEvents);
  insert("shp_1", 1, cut - kSecondsPerDay, "delivered", 5);     // before the cut: proves recording, not counted
  insert("shp_2", 2, cut + kSecondsPerDay, "shipped", 2);       // week 0
  insert("shp_3", 3, cut + 8 * kSecondsPerDay, "pending", 3);   // week 1
  insert("shp_4", 4, cut + 9 * kSecondsPerDay, "canceled", 7);  // not shipped
  auto source = read([&](db::Tx& tx) { return actuals_source(tx, cut); });
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(*source, ActualsSource::kShipments);
  auto later = read([&](db::Tx& tx) { return actuals_source(tx, cut - 2 * kSecondsPerDay); });
  EXPECT_EQ(*later, ActualsSource::kEvents);  // shipments started after that cut: incomplete
  auto buckets = make_buckets(cut, cut + 14 * kSecondsPerDay, Granularity::kWeek);
  auto units = read([&](db::Tx& tx) { return shipped_units(tx, data->catalogue, buckets); });
  ASSERT_TRUE(units.ok());
  int c = *data->catalogue.product_of(coffee.id), m = *data->catalogue.product_of(mug.id);
  EXPECT_EQ(units->units[c], (std::vector<double>{2, 3}));
  EXPECT_EQ(units->units[m], (std::vector<double>{1, 1}));
}

TEST_F(ForecastDbTest, ForecastEndpointNeedsInventoryReadAndRefusesBadParameters) {
  auto coffee = product("coffee");
  product("unsold");
  auto monthly = plan("Coffee monthly", {Interval::kMonth, 1}, 0, {{coffee.id, 2}});
  auto cus = testing::make_customer(t);
  for (int i = 0; i < 3; ++i) testing::subscribe(t, cus.id, monthly.id);
  auto analyst = *t.app->keys().create("analyst");
  auto support = *t.app->keys().create("support");
  t.clock->set(t.clock->now() + 3600);  // the three signups are in the trend window now

  auto ok = get("horizon=8w&granularity=week&sku=SKU-coffee&level=0.9", &analyst.secret);
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto body = Json::parse(ok.body);
  EXPECT_EQ(body["object"], "forecast");
  EXPECT_EQ(body["horizon_days"], 56);
  ASSERT_EQ(body["data"].size(), 1u);
  EXPECT_EQ(body["data"][0]["product"], coffee.id);
  ASSERT_EQ(body["data"][0]["buckets"].size(), 8u);
  double sum = 0;
  for (const auto& b : body["data"][0]["buckets"]) {
    EXPECT_LE(b["low"].get<double>(), b["expected"].get<double>());
    EXPECT_GE(b["high"].get<double>(), b["expected"].get<double>());
    sum += b["from_subscriptions"].get<double>();
  }
  EXPECT_NEAR(sum, 3 * 2, 0.05);  // their boxes on Feb 5 (the next is Mar 5, after 8 weeks); no churn seen yet
  EXPECT_GT(body["data"][0]["total"]["from_new_subscriptions"].get<double>(), 0);  // 3 signups this week

  auto all = get("", &analyst.secret);
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(Json::parse(all.body)["data"].size(), 1u);  // only products some plan ships

  // The body is written straight out, and is exactly what nlohmann::json writes for the same
  // document (keys sorted, numbers in their shortest form, strings escaped): a name with
  // quotes, a backslash, a control character and UTF-8 included.
  const std::string tricky = "Tea \"Earl Grey\" \\ caf\u00e9\t";
  auto tea = t.app->catalog().create_product(
      {tricky, "SKU-TEA", std::nullopt, std::nullopt, Json::object(), std::nullopt, false}, t.actor);
  ASSERT_TRUE(tea.ok()) << tea.error().message;
  testing::subscribe(t, cus.id, plan("Tea", {Interval::kWeek, 2}, 0, {{tea->id, 1}}).id, std::nullopt, 3);
  auto both = get("granularity=day", &analyst.secret);
  ASSERT_EQ(both.status, 200);
  auto parsed = Json::parse(both.body);
  EXPECT_EQ(parsed.dump(), both.body);
  ASSERT_EQ(parsed["data"].size(), 2u);
  std::set<std::string> names;
  for (const auto& p : parsed["data"]) names.insert(p["name"].get<std::string>());
  EXPECT_EQ(names.count(tricky), 1u);
  EXPECT_EQ(parsed["model"]["subscriptions"], 4);
  EXPECT_EQ(parsed["model"]["signup_weekday_share"].size(), 7u);

  EXPECT_EQ(get("", nullptr).status, 401);
  EXPECT_EQ(get("", &support.secret).status, 403);
  for (const char* bad : {"horizon=0d", "horizon=2y", "granularity=quarter", "level=0.5", "limit=3", "sku="}) {
    auto r = get(bad, &analyst.secret);
    EXPECT_EQ(r.status, 422) << bad;
    EXPECT_EQ(r.content_type, "application/problem+json") << bad;
  }
  EXPECT_EQ(get("sku=SKU-nope", &analyst.secret).status, 404);
  EXPECT_EQ(get("product=" + coffee.id + "&sku=SKU-unsold", &analyst.secret).status, 404);
}

}  // namespace
}  // namespace recur::inventory
