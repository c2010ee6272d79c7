// Times the pure demand forecast (inventory/forecast.h) on a generated catalogue and book:
// 10,000 SKUs in 5,000 plans, 1,000,000 live subscriptions, a 90-day horizon by week. No
// database: what is measured is the model (retention, signups, every subscription's boxes,
// the sums per SKU), the part the 5 s target is about.
//
//   build/recur_bench_forecast [--skus N] [--plans N] [--subscriptions N] [--threads N] [--rounds N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "inventory/forecast.h"

namespace {

using namespace recur;
using namespace recur::inventory;

constexpr Timestamp kDay = 86400;

struct Options {
  int skus = 10000;
  int plans = 5000;
  int subscriptions = 1000000;
  int threads = 2;
  int rounds = 3;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int value = std::atoi(argv[i + 1]);
    if (flag == "--skus") o.skus = value;
    else if (flag == "--plans") o.plans = value;
    else if (flag == "--subscriptions") o.subscriptions = value;
    else if (flag == "--threads") o.threads = value;
    else if (flag == "--rounds") o.rounds = value;
  }
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  const Timestamp now = parse_rfc3339("2026-06-01T00:00:00Z").value();

  // Catalogue: every SKU in at least one plan; plans of 2-4 products with mixed cadences.
  Catalogue cat;
  for (int i = 0; i < o.skus; ++i) {
    catalog::Product p;
    p.id = "prod_" + std::to_string(i);
    p.sku = "SKU-" + std::to_string(i);
    p.name = "Product " + std::to_string(i);
    cat.add(p);
  }
  const Cadence cadences[] = {{Interval::kWeek, 1}, {Interval::kWeek, 2}, {Interval::kMonth, 1},
                                             {Interval::kMonth, 1}, {Interval::kMonth, 2}};
  for (int i = 0; i < o.plans; ++i) {
    catalog::Plan p;
    p.id = "plan_" + std::to_string(i);
    p.cadence = cadences[i % 5];
    p.trial_days = i % 4 == 0 ? 14 : 0;
    int items = 2 + i % 3;
    for (int k = 0; k < items; ++k)
      p.items.push_back({"prod_" + std::to_string((i + k * o.plans) % o.skus), 1 + k % 3});
    cat.add(p);
  }

  // Live subscriptions at various points of their calendars; a few skips, pauses and changes.
  std::vector<Schedule> subs;
  subs.reserve(o.subscriptions);
  std::vector<RetentionCounts> counts(cat.plans.size());
  SignupHistory signups(now, 8, cat.plans.size());
  for (int i = 0; i < o.subscriptions; ++i) {
    int plan = static_cast<int>(u(rng) * o.plans) % o.plans;
    const auto& cadence = cat.plans[plan].cadence;
    Schedule s;
    s.plan = plan;
    s.quantity = 1 + static_cast<int>(u(rng) * 3) % 3;
    s.billed = 1 + static_cast<std::int64_t>(u(rng) * 30);
    Timestamp started = now - static_cast<Timestamp>(u(rng) * 400 * kDay);
    s.anchor = started;
    Timestamp next = period_containing(started, cadence, now).end;
    s.index = period_index(started, cadence, next);
    s.elapsed = u(rng);
    if (i % 50 == 0) s.skipped.push_back(period_start(started, cadence, s.index + 1));
    if (i % 200 == 0) {
      s.pending_plan = (plan + 1) % o.plans;
      s.pending_at = next;
    }
    counts[plan].add(s.billed, false);
    subs.push_back(std::move(s));
    if (u(rng) < 0.3) counts[plan].add(static_cast<std::int64_t>(u(rng) * 20), true);
    signups.add(plan, now - static_cast<Timestamp>(u(rng) * 56 * kDay), 1);
  }

  std::printf("forecast bench: %d SKUs, %d plans, %d live subscriptions, horizon 90 days by week, %d thread(s), %u cores\n",
              o.skus, o.plans, o.subscriptions, o.threads, std::thread::hardware_concurrency());
  double best = 1e9, expected = 0;
  for (int round = 0; round < o.rounds; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    auto retention = estimate_retention(cat, counts);
    auto model = fit_signups(signups);
    ForecastInput in{&cat, subs, &retention, &model, now, make_buckets(now, now + 90 * kDay, Granularity::kWeek), {},
                     o.threads};
    auto f = forecast(in);
    double s = seconds_since(t0);
    best = std::min(best, s);
    expected = 0;
    for (const auto& p : f.products) expected += p.total.expected;
    std::printf("  round %d: %.3f s (%zu SKUs forecast, %.0f units expected)\n", round + 1, s, f.products.size(),
                expected);
  }
  std::printf("BENCH forecast_seconds=%.3f skus=%d subscriptions=%d threads=%d target_seconds=5 verdict=%s\n", best,
              o.skus, o.subscriptions, o.threads, best < 5 ? "met" : "MISSED");
  return best < 5 ? 0 : 1;
}
