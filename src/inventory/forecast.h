// Demand forecasting, the pure part: what every live subscription will ship (its calendar,
// skips, pauses and trials), weighted by the retention its plan has shown, plus the boxes of
// subscriptions not yet made (recent signup trend with weekly seasonality), per product and
// time bucket with a prediction interval; and the error of a forecast against what shipped.
// No I/O: the loaders are in forecast_store.h. The model is written down in docs/forecasting.md.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "catalog/model.h"
#include "platform/result.h"
#include "platform/time.h"
#include "subscriptions/subscription.h"

namespace recur::db {
class Tx;
}

namespace recur::inventory {

// ------------------------------------------------------------------ for purchasing

struct Demand {
  double expected = 0;
  double stddev = 0;
};
// What a reorder asks for one product: its demand from `from` until an order placed then
// arrives, and through the review period after that.
struct LeadTimeWindow {
  std::string product;
  Timestamp lead_end = 0;    // [from, lead_end)
  Timestamp review_end = 0;  // [from, review_end)
  bool operator==(const LeadTimeWindow&) const = default;
};
struct LeadTimeDemand {
  Demand lead;
  Demand through_review;
};
// The expected units each window's product needs and the spread of that estimate, one answer
// per window, in order. `from` is taken as "now": subscriptions are followed from there and
// retention and signups are measured from history up to it. Every live subscription is read
// once, whatever the number of windows (a product's add-ons and box extras on any plan count
// toward it, and the retention of the whole book is the one the forecast page shows); the
// model runs once per distinct window end, on `threads`. An unknown product:
// product_not_found. Defined in forecast_store.cc, as is ForecastCache.
class ForecastCache;
Result<std::vector<LeadTimeDemand>> lead_time_demands(db::Tx& tx, Timestamp from,
                                                      const std::vector<LeadTimeWindow>& windows,
                                                      ForecastCache* cache = nullptr, int threads = 1);
// One product's demand in [from, to): lead_time_demands of one window.
Result<Demand> lead_time_demand(db::Tx& tx, const std::string& product, Timestamp from, Timestamp to,
                                ForecastCache* cache = nullptr);

// ------------------------------------------------------------------ time buckets

enum class Granularity { kDay, kWeek, kMonth };
std::optional<Granularity> parse_granularity(std::string_view text);  // "day|week|month"
std::string_view to_string(Granularity granularity);

// "90d" or "12w" (1..366 days) -> days.
std::optional<int> parse_horizon_days(std::string_view text);

struct Bucket {
  Timestamp start = 0;
  Timestamp end = 0;  // exclusive
};

// Consecutive buckets from `from` to `to`: 1 or 7 days, or calendar months counted from
// `from` (same day of month, clamped); the last one is cut at `to`.
std::vector<Bucket> make_buckets(Timestamp from, Timestamp to, Granularity granularity);

// Which bucket a time falls in (-1: outside every bucket). Requires: buckets consecutive.
class BucketIndex {
 public:
  explicit BucketIndex(const std::vector<Bucket>& buckets);
  int of(Timestamp t) const;

 private:
  std::vector<Timestamp> starts_;
  Timestamp end_ = 0;
  Timestamp fixed_ = 0;  // the common length when every bucket but the last has it; else 0
};

// ------------------------------------------------------------------ catalogue

struct ForecastProduct {
  std::string id;
  std::string sku;
  std::string name;
  std::vector<std::string> tags;  // what preferences pick by
};

// A plan reduced to what a box holds and when boxes come. Items name products by index.
struct ForecastPlan {
  std::string id;
  Cadence cadence;
  std::int64_t trial_days = 0;
  struct Item {
    int product = 0;
    std::int64_t units = 1;  // per box and per unit of subscription quantity
  };
  std::vector<Item> items;  // one per product (a product listed twice is summed)
  // Box customization: the options a subscriber or Recur picks from in every box, besides
  // the items (catalog::Selection, products by id).
  std::optional<catalog::Selection> selection;
};

struct Catalogue {
  std::vector<ForecastProduct> products;
  std::vector<ForecastPlan> plans;
  std::unordered_map<std::string, int> product_index;
  std::unordered_map<std::string, int> plan_index;

  // Requires: every plan item's product was added first.
  int add(const catalog::Product& product);
  int add(const catalog::Plan& plan);
  std::optional<int> plan_of(const std::string& id) const;
  std::optional<int> product_of(const std::string& id) const;
};

// ------------------------------------------------------------------ live subscriptions

inline constexpr Timestamp kNever = std::numeric_limits<Timestamp>::max();

// One live subscription's future boxes, reduced to plain numbers: box n (n >= index) is due
// at period_start(anchor, cadence, n) unless skipped, after a `lead` box when there is one;
// none at or after `ends_at`.
struct Schedule {
  std::int32_t plan = 0;
  std::int32_t quantity = 1;
  std::int64_t billed = 0;  // periods billed so far: the retention cycle the subscription is in
  // Share of the current period (or trial) gone by: whoever leaves at its end has likely
  // said so already (and has no schedule), so the next box's hazard is what remains of it.
  double elapsed = 0;
  Timestamp anchor = 0;
  std::int64_t index = 0;   // the next box's period index from `anchor`
  Cadence cadence;          // the subscription's own delivery schedule, or its plan's
  // A restarted calendar whose delivery day comes later: its first box, due before `anchor`.
  Timestamp lead = kNever;
  Timestamp ends_at = kNever;
  std::vector<Timestamp> skipped;  // period starts that will not ship
  // A plan change taking effect with the first box at or after `pending_at`.
  std::int32_t pending_plan = -1;
  std::int32_t pending_quantity = 1;
  Timestamp pending_at = kNever;
  Cadence pending_cadence;
  // Add-ons bought for the next box: units of catalogue products it ships besides the plan's.
  struct Extra {
    std::int32_t product = 0;
    std::int64_t units = 0;
  };
  std::vector<Extra> extras;
  // A plan with a selection: the units of its options each box holds per unit of quantity,
  // what the customer chose for a box (`chosen`, by the box's start) or else what Recur
  // picks by their preferences (`picks`: catalog::pick_selection, every option taken to be
  // in stock, no last box).
  std::vector<Extra> picks;
  struct Chosen {
    Timestamp period_start = 0;
    std::vector<Extra> items;
  };
  std::vector<Chosen> chosen;
  // A gift not converted: the boxes it has left to ship (then it ends); -1: no such end.
  std::int64_t boxes_left = -1;
  // The shop's blackout dates (shared by every schedule; none: every day is open): a box due
  // on one ships on the next open day, as subscriptions::advance moves it.
  std::shared_ptr<const subscriptions::ClosedDays> closed;
};

// The boxes `sub` (already advanced to `as_of`) will ship from `as_of` on, by the rules
// `subscriptions::advance` follows: active and past-due ones at each period end, trials at
// trial end, scheduled ones at their start (or its trial's end), paused ones from their
// resumption (none when paused until resumed by hand); none once canceled or set to cancel
// at period end. None when its plan is not in `catalogue`. `closed`: the shop's blackout
// dates (see Schedule::closed).
std::optional<Schedule> schedule_of(const subscriptions::Subscription& sub, const Catalogue& catalogue, Timestamp as_of,
                                    std::shared_ptr<const subscriptions::ClosedDays> closed = nullptr,
                                    const catalog::Preferences& preferences = {});

// The hazard left for a period of which `elapsed` has gone by, when cancellations are asked
// for evenly through it and those asked for already are known: h (1 - e) / (1 - h e).
double remaining_hazard(double hazard, double elapsed);

// The period index n with period_start(anchor, cadence, n) == t, for an aligned t >= anchor.
std::int64_t period_index(Timestamp anchor, const Cadence& cadence, Timestamp t);

// A box a schedule will ship (skipped periods left out), in time order.
struct Box {
  Timestamp at = 0;
  int plan = 0;
  std::int64_t quantity = 1;
};
std::vector<Box> boxes(const Schedule& schedule, Timestamp until);

// ------------------------------------------------------------------ retention

// Per plan: how many subscriptions are known to have gone from k billed periods to k + 1
// (or to have ended with k), counted by the billed periods they reached.
struct RetentionCounts {
  std::vector<double> alive;  // [k]: still subscribed with k billed periods (outcome of k+1 unknown)
  std::vector<double> ended;  // [k]: ended with exactly k billed periods
  void add(std::int64_t billed, bool has_ended, double count = 1);
};

// Probability of reaching billed period k + 1 from k: keep[k] = 1 - hazard[k]. Each plan's
// measured hazard is shrunk towards its cadence's pooled hazard (kPrior pseudo-subscriptions),
// which is shrunk towards the pooled hazard over all cycles; cycles past the data use the
// tail: the pooled hazard over the plan's last observed cycles.
struct Retention {
  std::vector<std::vector<double>> keep;  // [plan][k]
  std::vector<double> tail_keep;          // [plan]
  double keep_at(int plan, std::int64_t k) const {
    const auto& v = keep[plan];
    return k < static_cast<std::int64_t>(v.size()) ? v[k] : tail_keep[plan];
  }
};
inline constexpr double kPrior = 20;
Retention estimate_retention(const Catalogue& catalogue, const std::vector<RetentionCounts>& counts);

// ------------------------------------------------------------------ new subscriptions

// Signups per day in the `weeks` whole weeks before `as_of` (day i = [as_of - (days - i) d,
// ...)), by plan, with their quantities.
struct SignupHistory {
  Timestamp as_of = 0;
  int weeks = 8;
  std::vector<double> per_day;         // all plans
  std::vector<double> per_plan;        // the plan mix
  std::vector<double> quantity_sum;    // per plan
  std::vector<double> quantity_sq_sum; // per plan
  SignupHistory() = default;
  SignupHistory(Timestamp as_of, int weeks, std::size_t plans);
  // Counts a subscription created at `created` (ignored outside the window).
  void add(int plan, Timestamp created, std::int64_t quantity);
};

// Expected signups per day: a linear trend fitted to the weekly totals (the slope kept only
// when it is at least twice its standard error, else flat at the mean), times the weekday's
// share of signups (Laplace-smoothed), split by the plan mix. `dispersion` >= 1 scales the
// Poisson variance when weekly totals vary more than Poisson would.
struct SignupModel {
  double intercept = 0;  // signups per week at the middle of the last window week
  double slope = 0;      // per week, per week
  double weekday_share[7] = {1 / 7.0, 1 / 7.0, 1 / 7.0, 1 / 7.0, 1 / 7.0, 1 / 7.0, 1 / 7.0};  // Monday first
  double dispersion = 1;
  std::vector<double> mix;           // per plan, sums to 1 (or all 0 without signups)
  std::vector<double> quantity_mean; // per plan
  std::vector<double> quantity_sq_mean;
  // Expected signups (all plans) on the day starting at `day_start`, `weeks_ahead` after as_of.
  double per_day(Timestamp day_start, double weeks_ahead) const;
};
SignupModel fit_signups(const SignupHistory& history);
int weekday(Timestamp t);  // 0 = Monday (UTC)

// ------------------------------------------------------------------ the forecast

struct ForecastInput {
  const Catalogue* catalogue = nullptr;
  std::span<const Schedule> subscriptions;
  const Retention* retention = nullptr;
  const SignupModel* signups = nullptr;  // null: no new subscriptions
  Timestamp as_of = 0;
  std::vector<Bucket> buckets;           // consecutive, from as_of
  std::vector<int> products;             // which products to report; empty: every product in a plan
  int threads = 2;
};

struct BucketDemand {
  double expected = 0;
  double variance = 0;
  double from_subscriptions = 0;  // expected units from live subscriptions
  double from_new = 0;            // expected units from subscriptions not yet made
};

struct ProductForecast {
  int product = 0;
  std::vector<BucketDemand> buckets;
  BucketDemand total;  // the whole horizon (its variance counts each subscription's boxes together)
};

struct Forecast {
  std::vector<Bucket> buckets;
  std::vector<ProductForecast> products;
};

Forecast forecast(const ForecastInput& input);

// The two-sided normal quantile for a central interval: 0.8 -> 1.2816, 0.9 -> 1.6449.
double z_for_level(double level);
struct PredictionInterval {
  double low = 0;
  double high = 0;
};
PredictionInterval interval(const BucketDemand& demand, double level);  // low clipped at 0

// ------------------------------------------------------------------ backtest

// Units that actually shipped, [product][bucket].
struct Actuals {
  std::vector<std::vector<double>> units;
  Actuals(std::size_t products, std::size_t buckets) : units(products, std::vector<double>(buckets, 0)) {}
};

struct ForecastError {
  double wape = 0;       // sum |actual - expected| / sum actual, over every product x bucket cell
  double mape = 0;       // mean of |actual - expected| / actual over cells with actual > 0
  double bias = 0;       // sum (expected - actual) / sum actual
  double coverage = 0;   // share of cells whose actual fell inside the interval
  double actual_units = 0;
  double expected_units = 0;
  std::int64_t cells = 0;
  std::int64_t cells_with_demand = 0;
};
// Over the products of `forecast` and every product with actual units.
ForecastError evaluate(const Forecast& forecast, const Actuals& actuals, double level);

}  // namespace recur::inventory
