// Demand forecasting, the pure part; see forecast.h and docs/forecasting.md.
#include "inventory/forecast.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "inventory/purchasing_model.h"
#include "platform/parallel.h"

namespace recur::inventory {
using SubStatus = subscriptions::Status;

namespace {

}  // namespace

// ------------------------------------------------------------------ time buckets

std::optional<Granularity> parse_granularity(std::string_view text) {
  if (text == "day") return Granularity::kDay;
  if (text == "week") return Granularity::kWeek;
  if (text == "month") return Granularity::kMonth;
  return std::nullopt;
}

std::string_view to_string(Granularity g) {
  switch (g) {
    case Granularity::kDay: return "day";
    case Granularity::kWeek: return "week";
    case Granularity::kMonth: return "month";
  }
  return "week";
}

std::optional<int> parse_horizon_days(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  char unit = text.back();
  if (unit != 'd' && unit != 'w') return std::nullopt;
  int n = 0;
  auto digits = text.substr(0, text.size() - 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || n < 1 || n > 366) return std::nullopt;
  int days = unit == 'w' ? 7 * n : n;
  if (days > 366) return std::nullopt;
  return days;
}

std::vector<Bucket> make_buckets(Timestamp from, Timestamp to, Granularity g) {
  std::vector<Bucket> out;
  for (std::int64_t n = 0; from < to; ++n) {
    Timestamp end = g == Granularity::kDay ? from + kSecondsPerDay
                    : g == Granularity::kWeek
                        ? from + 7 * kSecondsPerDay
                        : period_start(out.empty() ? from : out.front().start, {Interval::kMonth, 1}, n + 1);
    out.push_back({from, std::min(end, to)});
    from = out.back().end;
  }
  return out;
}

BucketIndex::BucketIndex(const std::vector<Bucket>& buckets) {
  for (const auto& b : buckets) starts_.push_back(b.start);
  end_ = buckets.empty() ? 0 : buckets.back().end;
  if (buckets.empty()) return;
  fixed_ = buckets.front().end - buckets.front().start;
  for (std::size_t i = 0; i + 1 < buckets.size(); ++i)
    if (buckets[i].end - buckets[i].start != fixed_) fixed_ = 0;
}

int BucketIndex::of(Timestamp t) const {
  if (starts_.empty() || t < starts_.front() || t >= end_) return -1;
  if (fixed_ > 0) return static_cast<int>(std::min<std::int64_t>((t - starts_.front()) / fixed_, starts_.size() - 1));
  return static_cast<int>(std::upper_bound(starts_.begin(), starts_.end(), t) - starts_.begin()) - 1;
}

// ------------------------------------------------------------------ catalogue

int Catalogue::add(const catalog::Product& product) {
  if (auto it = product_index.find(product.id); it != product_index.end()) return it->second;
  products.push_back({product.id, product.sku, product.name, product.tags});
  return product_index[product.id] = static_cast<int>(products.size()) - 1;
}

int Catalogue::add(const catalog::Plan& plan) {
  if (auto it = plan_index.find(plan.id); it != plan_index.end()) return it->second;
  ForecastPlan p{plan.id, plan.cadence, plan.trial_days, {}, plan.selection};
  for (const auto& item : plan.items) {
    auto product = product_of(item.product);
    if (!product) continue;  // a product that is gone ships nothing we can count
    auto same = std::find_if(p.items.begin(), p.items.end(), [&](const auto& i) { return i.product == *product; });
    if (same != p.items.end()) same->units += item.quantity;
    else p.items.push_back({*product, item.quantity});
  }
  plans.push_back(std::move(p));
  return plan_index[plan.id] = static_cast<int>(plans.size()) - 1;
}

std::optional<int> Catalogue::plan_of(const std::string& id) const {
  auto it = plan_index.find(id);
  if (it == plan_index.end()) return std::nullopt;
  return it->second;
}

std::optional<int> Catalogue::product_of(const std::string& id) const {
  auto it = product_index.find(id);
  if (it == product_index.end()) return std::nullopt;
  return it->second;
}

// ------------------------------------------------------------------ schedules

std::int64_t period_index(Timestamp anchor, const Cadence& cadence, Timestamp t) {
  if (t <= anchor) return 0;
  std::int64_t n = 0;
  if (cadence.interval == Interval::kDay || cadence.interval == Interval::kWeek) {
    std::int64_t length = (cadence.interval == Interval::kWeek ? 7 : 1) * kSecondsPerDay * cadence.count;
    n = (t - anchor) / length;
  } else {
    auto month_of = [](Timestamp x) {
      auto d = to_civil(x).date;
      return static_cast<std::int64_t>(d.year) * 12 + d.month - 1;
    };
    std::int64_t months = (cadence.interval == Interval::kYear ? 12 : 1) * cadence.count;
    n = (month_of(t) - month_of(anchor)) / months;
  }
  while (n > 0 && period_start(anchor, cadence, n) > t) --n;
  while (period_start(anchor, cadence, n + 1) <= t) ++n;
  return n;
}

double remaining_hazard(double hazard, double elapsed) {
  elapsed = std::clamp(elapsed, 0.0, 1.0);
  double rest = 1 - hazard * elapsed;
  return rest > 0 ? hazard * (1 - elapsed) / rest : 0;
}

std::optional<Schedule> schedule_of(const subscriptions::Subscription& sub, const Catalogue& catalogue, Timestamp as_of,
                                    std::shared_ptr<const subscriptions::ClosedDays> closed,
                                    const catalog::Preferences& preferences) {
  if (sub.status == SubStatus::kCanceled || sub.cancel_at_period_end) return std::nullopt;
  auto plan = catalogue.plan_of(sub.plan);
  if (!plan) return std::nullopt;
  const auto& fp = catalogue.plans[*plan];
  Schedule s;
  s.plan = *plan;
  s.quantity = static_cast<std::int32_t>(sub.quantity);
  s.billed = sub.billed_periods;
  s.skipped = sub.skipped_periods;
  s.closed = std::move(closed);
  s.cadence = sub.delivery.value_or(fp.cadence);
  for (const auto& add_on : sub.add_ons)
    if (auto product = catalogue.product_of(add_on.product)) s.extras.push_back({*product, add_on.quantity});
  if (fp.selection) {
    auto extras_of = [&](const std::vector<catalog::PlanItem>& items) {
      std::vector<Schedule::Extra> out;
      for (const auto& i : items)
        if (auto product = catalogue.product_of(i.product)) out.push_back({*product, i.quantity});
      return out;
    };
    std::vector<catalog::PickOption> options;
    for (const auto& id : fp.selection->from)
      if (auto product = catalogue.product_of(id)) options.push_back({id, catalogue.products[*product].tags, true});
    s.picks = extras_of(catalog::pick_selection(*fp.selection, options, preferences, {}, sub.id));
    for (const auto& c : sub.choices) s.chosen.push_back({c.period_start, extras_of(c.items)});
  }
  // A gift its recipient has not converted ships the boxes it paid for and ends.
  if (sub.gift && !sub.gift->converted)
    s.boxes_left = sub.prepaid ? std::max<std::int64_t>(sub.prepaid->remaining, 0) : 0;
  if (sub.pending_change) {
    if (auto pending = catalogue.plan_of(sub.pending_change->plan)) {
      s.pending_plan = *pending;
      s.pending_quantity = static_cast<std::int32_t>(sub.pending_change->quantity);
      s.pending_at = sub.pending_change->effective_at;
      s.pending_cadence = sub.pending_change->delivery.value_or(catalogue.plans[*pending].cadence);
    }
  }
  // A new calendar starts at `at`: a box is due then, and the calendar goes on from its
  // anchor (later than `at` when a delivery day moves it: that first box is the lead).
  auto restart = [&s](Timestamp at) {
    const Calendar calendar = calendar_from(at, s.cadence);
    s.anchor = calendar.anchor;
    s.index = 0;
    if (calendar.anchor != at) s.lead = at;
  };
  auto carry_on = [&] {
    s.anchor = sub.billing_cycle_anchor;
    s.index = period_index(s.anchor, s.cadence, sub.current.end);
  };
  auto in_progress = [&] {
    Timestamp length = sub.current.end - sub.current.start;
    if (length > 0) s.elapsed = std::clamp(static_cast<double>(as_of - sub.current.start) / length, 0.0, 1.0);
  };
  switch (sub.status) {
    case SubStatus::kScheduled:
      restart(sub.trial_end.value_or(sub.start_date));  // the trial was fixed when it was created
      break;
    case SubStatus::kTrialing:
      restart(sub.current.end);
      in_progress();
      break;
    case SubStatus::kActive:
    case SubStatus::kPastDue:
      carry_on();
      in_progress();
      break;
    case SubStatus::kPaused: {
      if (!sub.pause || !sub.pause->resumes_at) return std::nullopt;  // until resumed by hand
      Timestamp resumes = *sub.pause->resumes_at;
      if (resumes >= sub.current.end) {
        restart(resumes);  // a resumption after the paid period starts a new calendar, skips dropped
        s.skipped.clear();
      } else if (sub.trial_end && resumes < *sub.trial_end) {
        restart(sub.current.end);
      } else {
        carry_on();
      }
      break;
    }
    case SubStatus::kUnpaid:      // nothing ships until the customer pays every open invoice
    case SubStatus::kIncomplete:  // nor before the first payment (its reserved box is counted)
    case SubStatus::kCanceled:
    case SubStatus::kIncompleteExpired:
      return std::nullopt;
  }
  return s;
}

namespace {

// Calls visit(at, plan, quantity) for each box of `s` before `until`, in order; skipped
// periods are passed over. Requires: s.plan and s.pending_plan index `catalogue.plans`.
template <typename Visit>
void visit_boxes(const Schedule& s, Timestamp until, Visit&& visit) {
  int plan = s.plan;
  std::int64_t quantity = s.quantity;
  bool pending = s.pending_plan >= 0;
  Timestamp anchor = s.anchor;
  const Cadence* cadence = &s.cadence;
  Timestamp end = std::min(until, s.ends_at);
  std::int64_t shipped = 0;
  // The lead box first, then the calendar from its anchor (n is bumped before each read).
  std::int64_t n = s.lead != kNever ? s.index - 1 : s.index;
  for (Timestamp t = s.lead != kNever ? s.lead : period_start(anchor, *cadence, n); t < end;
       t = period_start(anchor, *cadence, ++n)) {
    // A box due on a blackout date ships on the next open day (and a change due with it
    // moves with it); a skip names it by either day.
    const Timestamp ships = s.closed ? subscriptions::next_open(*s.closed, t) : t;
    if (pending && ships >= s.pending_at) {
      pending = false;
      const Cadence* next = &s.pending_cadence;
      if (*cadence != *next) {
        // A new cadence starts a new calendar at the change (calendar_from): its anchor is
        // the day this box ships, or a later delivery day (read next, after this box).
        anchor = calendar_from(ships, *next).anchor;
        n = anchor == ships ? 0 : -1;
      }
      cadence = next;
      plan = s.pending_plan;
      quantity = s.pending_quantity;
    }
    if (std::any_of(s.skipped.begin(), s.skipped.end(), [&](Timestamp k) { return k >= t && k <= ships; })) continue;
    if (s.boxes_left >= 0 && shipped++ >= s.boxes_left) break;  // a gift's boxes run out
    visit(ships, plan, quantity);
  }
}

}  // namespace

std::vector<Box> boxes(const Schedule& schedule, Timestamp until) {
  std::vector<Box> out;
  visit_boxes(schedule, until, [&](Timestamp t, int plan, std::int64_t q) { out.push_back({t, plan, q}); });
  return out;
}

// ------------------------------------------------------------------ retention

void RetentionCounts::add(std::int64_t billed, bool has_ended, double count) {
  auto k = static_cast<std::size_t>(std::max<std::int64_t>(billed, 0));
  if (alive.size() <= k) {
    alive.resize(k + 1, 0);
    ended.resize(k + 1, 0);
  }
  (has_ended ? ended : alive)[k] += count;
}

namespace {

// Subscriptions whose outcome at cycle k is known (reached k + 1, or ended with k), and
// those that ended with k.
struct Exposure {
  std::vector<double> at_risk;
  std::vector<double> deaths;
};

Exposure exposure_of(const RetentionCounts& c) {
  Exposure e;
  std::size_t n = c.alive.size();
  e.at_risk.assign(n, 0);
  e.deaths.assign(n, 0);
  double beyond = 0;  // subscriptions with more than k billed periods
  for (std::size_t k = n; k-- > 0;) {
    e.at_risk[k] = beyond + c.ended[k];
    e.deaths[k] = c.ended[k];
    beyond += c.alive[k] + c.ended[k];
  }
  // Trailing cycles nobody's outcome is known for carry no information.
  while (!e.at_risk.empty() && e.at_risk.back() <= 0) {
    e.at_risk.pop_back();
    e.deaths.pop_back();
  }
  return e;
}

void add_into(Exposure& into, const Exposure& e) {
  if (into.at_risk.size() < e.at_risk.size()) {
    into.at_risk.resize(e.at_risk.size(), 0);
    into.deaths.resize(e.deaths.size(), 0);
  }
  for (std::size_t k = 0; k < e.at_risk.size(); ++k) {
    into.at_risk[k] += e.at_risk[k];
    into.deaths[k] += e.deaths[k];
  }
}

double shrunk(double deaths, double at_risk, double prior) {
  return std::clamp((deaths + kPrior * prior) / (at_risk + kPrior), 0.0, 1.0);
}

// Deaths / at risk over cycles k >= from.
double pooled(const Exposure& e, std::size_t from, double prior) {
  double d = 0, n = 0;
  for (std::size_t k = from; k < e.at_risk.size(); ++k) {
    d += e.deaths[k];
    n += e.at_risk[k];
  }
  return shrunk(d, n, prior);
}

double at(const std::vector<double>& v, std::size_t k) { return k < v.size() ? v[k] : 0; }

std::string cadence_key(const Cadence& c) {
  return std::to_string(static_cast<int>(c.interval)) + "/" + std::to_string(c.count);
}

}  // namespace

Retention estimate_retention(const Catalogue& catalogue, const std::vector<RetentionCounts>& counts) {
  const std::size_t plans = catalogue.plans.size();
  std::vector<Exposure> own(plans);
  std::map<std::string, Exposure> by_cadence;           // cycles >= 1
  std::map<std::string, Exposure> first_by_cadence;     // cycle 0, trial plans and others apart
  Exposure all, all_first_trial, all_first_plain;
  for (std::size_t p = 0; p < plans && p < counts.size(); ++p) {
    own[p] = exposure_of(counts[p]);
    const auto& plan = catalogue.plans[p];
    bool trial = plan.trial_days > 0;
    add_into(by_cadence[cadence_key(plan.cadence)], own[p]);
    add_into(first_by_cadence[cadence_key(plan.cadence) + (trial ? "/t" : "")], own[p]);
    add_into(all, own[p]);
    add_into(trial ? all_first_trial : all_first_plain, own[p]);
  }
  // Global rates (with a prior of no churn, so an empty history forecasts every box).
  const double global = pooled(all, 1, 0);
  const double global_first_trial = shrunk(at(all_first_trial.deaths, 0), at(all_first_trial.at_risk, 0), 0);
  const double global_first_plain = shrunk(at(all_first_plain.deaths, 0), at(all_first_plain.at_risk, 0), 0);

  Retention r;
  r.keep.resize(plans);
  r.tail_keep.resize(plans, 1);
  for (std::size_t p = 0; p < plans; ++p) {
    const auto& plan = catalogue.plans[p];
    bool trial = plan.trial_days > 0;
    const Exposure& group = by_cadence[cadence_key(plan.cadence)];
    const Exposure& first = first_by_cadence[cadence_key(plan.cadence) + (trial ? "/t" : "")];
    const Exposure& mine = own[p];
    std::size_t cycles = std::max<std::size_t>({mine.at_risk.size(), group.at_risk.size(), 1});
    // A cadence's renewals over all cycles, shrunk to the overall rate: the prior of each cycle.
    const double group_renewals = pooled(group, 1, global);
    auto& keep = r.keep[p];
    keep.resize(cycles);
    for (std::size_t k = 0; k < cycles; ++k) {
      double group_hazard = k == 0 ? shrunk(at(first.deaths, 0), at(first.at_risk, 0),
                                            trial ? global_first_trial : global_first_plain)
                                   : shrunk(at(group.deaths, k), at(group.at_risk, k), group_renewals);
      keep[k] = 1 - shrunk(at(mine.deaths, k), at(mine.at_risk, k), group_hazard);
    }
    // Past the data: the plan's hazard over every renewal it has seen, shrunk to its cadence's.
    r.tail_keep[p] = 1 - pooled(mine, 1, group_renewals);
  }
  return r;
}

// ------------------------------------------------------------------ signups

int weekday(Timestamp t) {
  std::int64_t days = t >= 0 ? t / kSecondsPerDay : -((-t + kSecondsPerDay - 1) / kSecondsPerDay);
  return static_cast<int>(((days + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
}

SignupHistory::SignupHistory(Timestamp as_of_, int weeks_, std::size_t plans)
    : as_of(as_of_),
      weeks(weeks_),
      per_day(static_cast<std::size_t>(weeks_) * 7, 0),
      per_plan(plans, 0),
      quantity_sum(plans, 0),
      quantity_sq_sum(plans, 0) {}

void SignupHistory::add(int plan, Timestamp created, std::int64_t quantity) {
  Timestamp from = as_of - static_cast<Timestamp>(per_day.size()) * kSecondsPerDay;
  if (created < from || created >= as_of || plan < 0 || static_cast<std::size_t>(plan) >= per_plan.size()) return;
  per_day[static_cast<std::size_t>((created - from) / kSecondsPerDay)] += 1;
  per_plan[plan] += 1;
  quantity_sum[plan] += static_cast<double>(quantity);
  quantity_sq_sum[plan] += static_cast<double>(quantity) * static_cast<double>(quantity);
}

double SignupModel::per_day(Timestamp day_start, double weeks_ahead) const {
  double weekly = std::max(0.0, intercept + slope * (weeks_ahead + 0.5));
  return weekly * weekday_share[weekday(day_start)];
}

SignupModel fit_signups(const SignupHistory& h) {
  SignupModel m;
  const int n = h.weeks;
  const Timestamp from = h.as_of - static_cast<Timestamp>(h.per_day.size()) * kSecondsPerDay;
  std::vector<double> weekly(n, 0);
  double by_weekday[7] = {0, 0, 0, 0, 0, 0, 0};
  double total = 0;
  for (std::size_t i = 0; i < h.per_day.size(); ++i) {
    weekly[i / 7] += h.per_day[i];
    by_weekday[weekday(from + static_cast<Timestamp>(i) * kSecondsPerDay)] += h.per_day[i];
    total += h.per_day[i];
  }
  for (int d = 0; d < 7; ++d) m.weekday_share[d] = (by_weekday[d] + 1) / (total + 7);

  // Least squares on the weekly totals, x = 0 for the last window week.
  double mean_x = 0, mean_y = 0;
  for (int i = 0; i < n; ++i) {
    mean_x += i - (n - 1);
    mean_y += weekly[i];
  }
  mean_x /= std::max(n, 1);
  mean_y /= std::max(n, 1);
  double sxx = 0, sxy = 0;
  for (int i = 0; i < n; ++i) {
    double x = i - (n - 1) - mean_x;
    sxx += x * x;
    sxy += x * (weekly[i] - mean_y);
  }
  double slope = sxx > 0 ? sxy / sxx : 0;
  double sse = 0, sse_flat = 0;
  for (int i = 0; i < n; ++i) {
    double x = i - (n - 1);
    double fit = mean_y + slope * (x - mean_x);
    sse += (weekly[i] - fit) * (weekly[i] - fit);
    sse_flat += (weekly[i] - mean_y) * (weekly[i] - mean_y);
  }
  double slope_se = n > 2 && sxx > 0 ? std::sqrt(sse / (n - 2) / sxx) : 0;
  bool trend = n > 2 && std::abs(slope) > 2 * slope_se && slope_se >= 0 && sxx > 0;
  if (trend) {
    m.slope = slope;
    m.intercept = mean_y + slope * (0 - mean_x);
  } else {
    m.intercept = mean_y;
  }
  double residual_variance = trend ? sse / (n - 2) : (n > 1 ? sse_flat / (n - 1) : 0);
  m.dispersion = mean_y > 0 ? std::max(1.0, residual_variance / mean_y) : 1;

  std::size_t plans = h.per_plan.size();
  m.mix.assign(plans, 0);
  m.quantity_mean.assign(plans, 1);
  m.quantity_sq_mean.assign(plans, 1);
  for (std::size_t p = 0; p < plans; ++p) {
    if (total > 0) m.mix[p] = h.per_plan[p] / total;
    if (h.per_plan[p] > 0) {
      m.quantity_mean[p] = h.quantity_sum[p] / h.per_plan[p];
      m.quantity_sq_mean[p] = h.quantity_sq_sum[p] / h.per_plan[p];
    }
  }
  return m;
}

// ------------------------------------------------------------------ the forecast

namespace {

// The boxes one subscription (or one signup) ships in one bucket, with the probability of
// each; boxes of one subscription are nested (a later box ships only if the earlier ones
// did), so with p_1 >= p_2 >= ... the count's second moment is sum_j p_j (2j - 1).
struct Run {
  double s1 = 0;  // expected boxes
  double s2 = 0;  // E[boxes^2]
  int m = 0;
  void add(double p) {
    ++m;
    s1 += p;
    s2 += p * (2 * m - 1);
  }
  double variance() const { return s2 - s1 * s1; }
};

// Expected units and variance per plan and bucket (the last slot: the whole horizon).
struct PlanTotals {
  std::size_t slots = 0;
  std::vector<double> expected;
  std::vector<double> variance;
  PlanTotals(std::size_t plans, std::size_t buckets)
      : slots(buckets + 1), expected(plans * slots, 0), variance(plans * slots, 0) {}
  void add(int plan, std::size_t slot, double e, double v) {
    expected[plan * slots + slot] += e;
    variance[plan * slots + slot] += v;
  }
  void merge(const PlanTotals& o) {
    for (std::size_t i = 0; i < expected.size(); ++i) {
      expected[i] += o.expected[i];
      variance[i] += o.variance[i];
    }
  }
};

// Live subscriptions [begin, end) into `out` (by plan), and their add-ons into `extras` (by
// product: each ships in the next box, if the subscription is still there to ship it).
void known_demand(const ForecastInput& in, const BucketIndex& index, std::size_t begin, std::size_t end,
                  PlanTotals& out, PlanTotals& extras) {
  const Retention& retention = *in.retention;
  const std::size_t total_slot = in.buckets.size();
  const Timestamp until = in.buckets.back().end;
  for (std::size_t i = begin; i < end; ++i) {
    const Schedule& s = in.subscriptions[i];
    Run bucket_run, total_run;
    int bucket = -1, plan = s.plan;
    double q = s.quantity;
    auto flush_bucket = [&] {
      if (bucket >= 0 && bucket_run.m > 0) out.add(plan, bucket, q * bucket_run.s1, q * q * bucket_run.variance());
      bucket_run = Run{};
    };
    auto flush_total = [&] {
      if (total_run.m > 0) out.add(plan, total_slot, q * total_run.s1, q * q * total_run.variance());
      total_run = Run{};
    };
    double p = 1;
    std::int64_t k = s.billed;
    bool next_box = true;
    std::size_t chosen = 0;  // the next of s.chosen, in box order
    visit_boxes(s, until, [&](Timestamp t, int box_plan, std::int64_t box_quantity) {
      double keep = retention.keep_at(s.plan, k);
      if (k++ == s.billed) keep = 1 - remaining_hazard(1 - keep, s.elapsed);
      if (box_plan != plan || static_cast<double>(box_quantity) != q) {
        flush_bucket();
        flush_total();
        plan = box_plan;
        q = static_cast<double>(box_quantity);
      }
      p *= keep;
      int b = index.of(t);
      if (next_box) {
        next_box = false;
        for (const auto& extra : s.extras) {
          const double u = static_cast<double>(extra.units);
          if (b >= 0) extras.add(extra.product, static_cast<std::size_t>(b), u * p, u * u * p * (1 - p));
          extras.add(extra.product, total_slot, u * p, u * u * p * (1 - p));
        }
      }
      // The box's options: the customer's choice for it, else the pick (per unit of quantity).
      if (box_plan == s.plan && (!s.picks.empty() || !s.chosen.empty())) {
        const std::vector<Schedule::Extra>* units = &s.picks;
        while (chosen < s.chosen.size() && s.chosen[chosen].period_start <= t) units = &s.chosen[chosen++].items;
        if (b >= 0)
          for (const auto& x : *units) {
            const double u = static_cast<double>(x.units * box_quantity);
            extras.add(x.product, static_cast<std::size_t>(b), u * p, u * u * p * (1 - p));
            extras.add(x.product, total_slot, u * p, u * u * p * (1 - p));
          }
      }
      if (b < 0) return;
      if (b != bucket) {
        flush_bucket();
        bucket = b;
      }
      bucket_run.add(p);
      total_run.add(p);
    });
    flush_bucket();
    flush_total();
  }
}

// Subscriptions not made yet, for plan `plan`: a compound Poisson count of signups per day.
void new_demand(const ForecastInput& in, const BucketIndex& index, int plan, PlanTotals& out) {
  const SignupModel& m = *in.signups;
  if (static_cast<std::size_t>(plan) >= m.mix.size() || m.mix[plan] <= 0) return;
  const ForecastPlan& fp = in.catalogue->plans[plan];
  const Retention& retention = *in.retention;
  const std::size_t total_slot = in.buckets.size();
  const Timestamp until = in.buckets.back().end;
  const double q = m.quantity_mean[plan], q2 = m.quantity_sq_mean[plan] * m.dispersion;
  for (Timestamp day = in.as_of; day < until; day += kSecondsPerDay) {
    double rate =
        m.per_day(day, static_cast<double>(day - in.as_of + kSecondsPerDay / 2) / (7.0 * kSecondsPerDay)) * m.mix[plan];
    if (rate <= 0) continue;
    // Spread over the day: a signup at midday stands for the day's.
    Timestamp anchor = std::min(day + kSecondsPerDay / 2, until - 1) + fp.trial_days * kSecondsPerDay;
    Run bucket_run, total_run;
    int bucket = -1;
    double p = 1;
    std::int64_t k = 0;
    for (std::int64_t n = 0;; ++n) {
      Timestamp t = period_start(anchor, fp.cadence, n);
      if (t >= until) break;
      p *= retention.keep_at(plan, k++);
      int b = index.of(t);
      if (b != bucket) {
        if (bucket >= 0) out.add(plan, bucket, rate * q * bucket_run.s1, rate * q2 * bucket_run.s2);
        bucket_run = Run{};
        bucket = b;
      }
      bucket_run.add(p);
      total_run.add(p);
    }
    if (bucket >= 0) out.add(plan, bucket, rate * q * bucket_run.s1, rate * q2 * bucket_run.s2);
    if (total_run.m > 0) out.add(plan, total_slot, rate * q * total_run.s1, rate * q2 * total_run.s2);
  }
}

}  // namespace

Forecast forecast(const ForecastInput& in) {
  Forecast f;
  f.buckets = in.buckets;
  if (in.buckets.empty() || !in.catalogue || !in.retention) return f;
  const Catalogue& cat = *in.catalogue;
  const std::size_t plans = cat.plans.size(), nb = in.buckets.size();
  BucketIndex index(in.buckets);

  // Live subscriptions: chunks on the threads, one set of totals per thread.
  int threads = std::max(1, in.threads);
  std::vector<PlanTotals> known(threads, PlanTotals(plans, nb));
  std::vector<PlanTotals> extras(threads, PlanTotals(cat.products.size(), nb));
  std::size_t n = in.subscriptions.size();
  on_threads(threads,
             [&](int t) { known_demand(in, index, n * t / threads, n * (t + 1) / threads, known[t], extras[t]); });
  for (int t = 1; t < threads; ++t) {
    known[0].merge(known[t]);
    extras[0].merge(extras[t]);
  }
  PlanTotals fresh(plans, nb);
  if (in.signups) parallel_for(threads, plans, [&](std::size_t p) { new_demand(in, index, static_cast<int>(p), fresh); });

  // Plans -> products: units per box times the plan's boxes.
  std::vector<std::vector<ForecastPlan::Item>> plans_of(cat.products.size());  // item.product = plan here
  for (std::size_t p = 0; p < plans; ++p)
    for (const auto& item : cat.plans[p].items) plans_of[item.product].push_back({static_cast<int>(p), item.units});
  // Subscribers not here yet pick from a plan's selection as its subscribers do now (the
  // preference mix: their picks, per unit of quantity, averaged), or evenly without any.
  struct MixUse {
    int plan = 0;
    double units = 0;
  };
  std::vector<std::vector<MixUse>> mix_of(cat.products.size());
  {
    std::vector<std::map<int, double>> sums(plans);
    std::vector<double> counts(plans, 0);
    for (const auto& s : in.subscriptions) {
      if (s.picks.empty()) continue;
      counts[s.plan] += 1;
      for (const auto& x : s.picks) sums[s.plan][x.product] += static_cast<double>(x.units);
    }
    for (std::size_t p = 0; p < plans; ++p) {
      const auto& sel = cat.plans[p].selection;
      if (!sel) continue;
      if (counts[p] == 0) {  // nobody to learn from: the fixed rule's pick, or an even split
        std::vector<catalog::PickOption> options;
        for (const auto& id : sel->from)
          if (auto product = cat.product_of(id)) options.push_back({id, cat.products[*product].tags, true});
        if (sel->default_rule == "fixed") {
          for (const auto& x : catalog::pick_selection(*sel, options, {}, {}, ""))
            sums[p][*cat.product_of(x.product)] += static_cast<double>(x.quantity);
        } else {
          for (const auto& o : options)
            sums[p][*cat.product_of(o.product)] =
                static_cast<double>(sel->choose) / static_cast<double>(options.size());
        }
        counts[p] = 1;
      }
      for (const auto& [product, units] : sums[p]) mix_of[product].push_back({static_cast<int>(p), units / counts[p]});
    }
  }
  const std::size_t slots = nb + 1;
  std::vector<int> products = in.products;
  if (products.empty())
    for (std::size_t i = 0; i < cat.products.size(); ++i)
      if (!plans_of[i].empty() || !mix_of[i].empty() || extras[0].expected[i * slots + nb] > 0)
        products.push_back(static_cast<int>(i));
  for (int product : products) {
    ProductForecast pf;
    pf.product = product;
    pf.buckets.resize(nb);
    for (std::size_t slot = 0; slot < slots; ++slot) {
      BucketDemand d;
      for (const auto& use : plans_of[product]) {
        double u = static_cast<double>(use.units);
        std::size_t i = use.product * slots + slot;
        d.from_subscriptions += u * known[0].expected[i];
        d.from_new += u * fresh.expected[i];
        d.variance += u * u * (known[0].variance[i] + fresh.variance[i]);
      }
      for (const auto& use : mix_of[product]) {
        std::size_t i = static_cast<std::size_t>(use.plan) * slots + slot;
        d.from_new += use.units * fresh.expected[i];
        d.variance += use.units * use.units * fresh.variance[i];
      }
      d.from_subscriptions += extras[0].expected[product * slots + slot];
      d.variance += extras[0].variance[product * slots + slot];
      d.expected = d.from_subscriptions + d.from_new;
      (slot < nb ? pf.buckets[slot] : pf.total) = d;
    }
    f.products.push_back(std::move(pf));
  }
  return f;
}

// A central interval of `level` spans z standard deviations either side: the normal
// quantile of (1 + level) / 2 (one inverse-normal for forecasts and safety stock).
double z_for_level(double level) {
  level = std::clamp(level, 0.0, 0.999999);
  return inverse_normal((1 + level) / 2);
}

PredictionInterval interval(const BucketDemand& d, double level) {
  double spread = z_for_level(level) * std::sqrt(std::max(d.variance, 0.0));
  return {std::max(0.0, d.expected - spread), d.expected + spread};
}

// ------------------------------------------------------------------ backtest

ForecastError evaluate(const Forecast& f, const Actuals& actuals, double level) {
  ForecastError e;
  std::vector<const ProductForecast*> by_product(actuals.units.size(), nullptr);
  for (const auto& pf : f.products)
    if (static_cast<std::size_t>(pf.product) < by_product.size()) by_product[pf.product] = &pf;
  double abs_error = 0, ape = 0, inside = 0;
  for (std::size_t product = 0; product < actuals.units.size(); ++product) {
    const auto* pf = by_product[product];
    const auto& actual = actuals.units[product];
    bool any = pf != nullptr || std::any_of(actual.begin(), actual.end(), [](double u) { return u > 0; });
    if (!any) continue;
    for (std::size_t b = 0; b < f.buckets.size() && b < actual.size(); ++b) {
      BucketDemand d = pf ? pf->buckets[b] : BucketDemand{};
      double a = actual[b];
      ++e.cells;
      e.actual_units += a;
      e.expected_units += d.expected;
      abs_error += std::abs(a - d.expected);
      auto range = interval(d, level);
      if (a >= range.low - 1e-9 && a <= range.high + 1e-9) ++inside;
      if (a > 0) {
        ++e.cells_with_demand;
        ape += std::abs(a - d.expected) / a;
      }
    }
  }
  if (e.actual_units > 0) {
    e.wape = abs_error / e.actual_units;
    e.bias = (e.expected_units - e.actual_units) / e.actual_units;
  }
  if (e.cells_with_demand > 0) e.mape = ape / static_cast<double>(e.cells_with_demand);
  if (e.cells > 0) e.coverage = inside / static_cast<double>(e.cells);
  return e;
}

}  // namespace recur::inventory
