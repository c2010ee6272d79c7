// Analytics' pure rules: see model.h and docs/analytics.md (every worked example there is a
// case of model_test.cc).
#include "analytics/model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <map>
#include <utility>

#include "platform/money.h"

namespace recur::analytics {

// ---------------------------------------------------------------- MRR

std::int64_t monthly(std::int64_t amount_per_period, const Cadence& cadence) {
  const std::int64_t count = cadence.count;
  switch (cadence.interval) {
    case Interval::kMonth: return mul_div_round_half_up(amount_per_period, 1, count);
    case Interval::kYear: return mul_div_round_half_up(amount_per_period, 1, 12 * count);
    case Interval::kWeek: return mul_div_round_half_up(amount_per_period, 52, 12 * count);
    case Interval::kDay: return mul_div_round_half_up(amount_per_period, 365, 12 * count);
  }
  return 0;  // not reached: every interval is handled above
}

bool counts_for_mrr(subscriptions::Status status) {
  return status == subscriptions::Status::kActive || status == subscriptions::Status::kPastDue;
}

std::int64_t subscription_mrr(const subscriptions::Subscription& sub, const catalog::Plan& plan) {
  if (!counts_for_mrr(sub.status)) return 0;
  // A gift is paid once by its purchaser: no recurring revenue until its recipient converts.
  if (sub.gift && !sub.gift->converted) return 0;
  return monthly(subscriptions::period_amount(plan, sub.quantity, sub.discount), subscriptions::cadence_of(sub, plan));
}

// ---------------------------------------------------------------- movements

namespace {

constexpr std::string_view kMovementNames[] = {"new", "expansion", "contraction", "churn", "reactivation"};

// The customer's running state while its points are applied, instant by instant.
struct CustomerState {
  std::map<std::string, std::int64_t, std::less<>> latest;  // each subscription's MRR
  std::int64_t mrr = 0;                                      // their sum
  bool had_mrr = false;                                      // > 0 after an earlier instant
};

// Applies the points [first, last) (all at one instant) to `state`; true when one of them
// dropped its subscription's MRR for dunning.
template <typename It>
bool apply_instant(CustomerState& state, It first, It last) {
  bool involuntary = false;
  for (; first != last; ++first) {
    const MrrPoint& point = **first;
    std::int64_t& sub_mrr = state.latest[point.subscription];
    if (point.mrr < sub_mrr && point.cause == kInvoluntary) involuntary = true;
    state.mrr += point.mrr - sub_mrr;
    sub_mrr = point.mrr;
  }
  return involuntary;
}

}  // namespace

std::string_view to_string(MovementKind kind) { return kMovementNames[static_cast<std::size_t>(kind)]; }

MovementKind classify(std::int64_t before, std::int64_t after, bool had_mrr_before) {
  if (before == 0) return had_mrr_before ? MovementKind::kReactivation : MovementKind::kNew;
  if (after == 0) return MovementKind::kChurn;
  return after > before ? MovementKind::kExpansion : MovementKind::kContraction;
}

std::vector<Movement> customer_movements(const std::vector<MrrPoint>& points) {
  std::vector<const MrrPoint*> ordered;
  ordered.reserve(points.size());
  for (const MrrPoint& point : points) ordered.push_back(&point);
  std::ranges::stable_sort(ordered, {}, [](const MrrPoint* point) { return point->at; });

  CustomerState state;
  std::vector<Movement> movements;
  for (auto first = ordered.begin(); first != ordered.end();) {
    const Timestamp at = (*first)->at;
    const auto last = std::find_if(first, ordered.end(), [at](const MrrPoint* point) { return point->at != at; });
    const std::int64_t before = state.mrr;
    const bool involuntary = apply_instant(state, first, last);
    first = last;
    if (state.mrr != before) {
      Movement m{.at = at, .kind = classify(before, state.mrr, state.had_mrr), .before = before, .after = state.mrr};
      m.amount = m.after > m.before ? m.after - m.before : m.before - m.after;
      if (m.kind == MovementKind::kChurn) m.churn_type = involuntary ? kInvoluntary : kVoluntary;
      movements.push_back(std::move(m));
    }
    state.had_mrr = state.had_mrr || state.mrr > 0;
  }
  return movements;
}

// ---------------------------------------------------------------- buckets

namespace {

constexpr std::string_view kBucketIntervalNames[] = {"day", "week", "month", "quarter", "year"};

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }

Bucket days_bucket(std::int64_t first_day, std::int64_t days) {
  return {first_day * kSecondsPerDay, (first_day + days) * kSecondsPerDay};
}

// The first day of the month `index` months after January of year 0.
Timestamp month_start(std::int64_t index) {
  const auto year = static_cast<int>(floor_div(index, 12));
  const auto month = static_cast<unsigned>(index - std::int64_t{year} * 12 + 1);
  return days_from_civil({year, month, 1}) * kSecondsPerDay;
}

// The run of `months` months (1, 3 or 12, counted from January) that contains `date`.
Bucket months_bucket(const CivilDate& date, std::int64_t months) {
  const std::int64_t month0 = date.month - 1;
  const std::int64_t first = std::int64_t{date.year} * 12 + month0 - month0 % months;
  return {month_start(first), month_start(first + months)};
}

}  // namespace

std::optional<BucketInterval> parse_bucket_interval(std::string_view text) {
  for (std::size_t i = 0; i < std::size(kBucketIntervalNames); ++i)
    if (kBucketIntervalNames[i] == text) return static_cast<BucketInterval>(i);
  return std::nullopt;
}

std::string_view to_string(BucketInterval interval) {
  return kBucketIntervalNames[static_cast<std::size_t>(interval)];
}

Bucket bucket_of(Timestamp t, BucketInterval interval) {
  const std::int64_t day = floor_div(t, kSecondsPerDay);
  switch (interval) {
    case BucketInterval::kDay: return days_bucket(day, 1);
    // 1970-01-01 (day 0) was a Thursday: day + 3 counts from a Monday.
    case BucketInterval::kWeek: return days_bucket(day - (day + 3 - floor_div(day + 3, 7) * 7), 7);
    case BucketInterval::kMonth: return months_bucket(civil_from_days(day), 1);
    case BucketInterval::kQuarter: return months_bucket(civil_from_days(day), 3);
    case BucketInterval::kYear: return months_bucket(civil_from_days(day), 12);
  }
  return days_bucket(day, 1);  // not reached: every interval is handled above
}

std::optional<std::vector<Bucket>> buckets(Timestamp from, Timestamp to, BucketInterval interval,
                                           std::size_t max_buckets) {
  std::vector<Bucket> out;
  // After the first, every bucket starts on a calendar boundary; only the ends are cut.
  for (Timestamp start = from; start < to;) {
    if (out.size() == max_buckets) return std::nullopt;
    const Timestamp end = std::min(to, bucket_of(start, interval).end);
    out.push_back({start, end});
    start = end;
  }
  return out;
}

std::size_t bucket_index(const std::vector<Bucket>& bs, Timestamp t) {
  auto it = std::upper_bound(bs.begin(), bs.end(), t, [](Timestamp x, const Bucket& b) { return x < b.end; });
  if (it == bs.end() || t < it->start) return bs.size();
  return static_cast<std::size_t>(it - bs.begin());
}

void ChurnCounter::add(const std::string& customer, Timestamp at, const std::string& churn_type) {
  while (i_ < bs_.size() && at >= bs_[i_].end) close();
  if (i_ == bs_.size() || at < bs_[i_].start) return;
  last_[customer] = churn_type;
}

std::vector<ChurnCounter::Counts> ChurnCounter::finish() {
  while (i_ < bs_.size()) close();
  return std::move(counts_);
}

void ChurnCounter::close() {
  Counts& c = counts_[i_++];
  c.customers = static_cast<std::int64_t>(last_.size());
  for (const auto& [_, type] : last_) (type == kInvoluntary ? c.involuntary : c.voluntary) += 1;
  last_.clear();
}

// ---------------------------------------------------------------- rates

std::optional<double> rate(double num, double den) {
  if (den == 0) return std::nullopt;
  return num / den;
}

bool identity_holds(const MovementTotals& t) {
  return t.mrr_end - t.mrr_start == t.new_mrr + t.expansion + t.reactivation - t.contraction - t.churn;
}

ChurnFigures churn_figures(const MovementTotals& t, std::int64_t customers_start, std::int64_t churned_customers,
                           std::int64_t voluntary, std::int64_t involuntary) {
  const double lost = static_cast<double>(t.churn + t.contraction);
  const double gained = static_cast<double>(t.new_mrr + t.expansion + t.reactivation);
  const double regained = static_cast<double>(t.expansion + t.reactivation);
  const double mrr_start = static_cast<double>(t.mrr_start);
  return {.customers_start = customers_start,
          .churned_customers = churned_customers,
          .voluntary = voluntary,
          .involuntary = involuntary,
          .customer_churn_rate = rate(static_cast<double>(churned_customers), static_cast<double>(customers_start)),
          .gross_mrr_churn_rate = rate(lost, mrr_start),
          .net_mrr_churn_rate = rate(lost - regained, mrr_start),
          .quick_ratio = rate(gained, lost)};
}

// ---------------------------------------------------------------- LTV

std::optional<std::int64_t> arpa(std::int64_t mrr, std::int64_t customers) {
  if (customers <= 0) return std::nullopt;
  return mul_div_round_half_up(mrr, 1, customers);
}

std::optional<std::int64_t> ltv(std::optional<std::int64_t> arpa, std::optional<double> monthly_churn_rate) {
  if (!arpa || !monthly_churn_rate || *monthly_churn_rate <= 0) return std::nullopt;
  const double value = static_cast<double>(*arpa) / *monthly_churn_rate;
  // A churn rate so small that the quotient leaves int64 is "unknown", never infinite.
  if (!std::isfinite(value) || std::fabs(value) >= 9.2e18) return std::nullopt;
  return std::llround(value);
}

std::optional<double> mean_rate(const std::vector<std::optional<double>>& rates) {
  double sum = 0;
  std::size_t known = 0;
  for (const auto& r : rates) {
    if (!r) continue;
    sum += *r;
    ++known;
  }
  if (known == 0) return std::nullopt;
  return sum / static_cast<double>(known);
}

// ---------------------------------------------------------------- survival

namespace {

// The days in an average month (365.25 / 12, rounded; docs/analytics.md).
constexpr double kDaysPerMonth = 30.44;

// The step at `days` where `ended` of `at_risk` lifetimes end, carrying S and Greenwood's
// sum forward. When every lifetime at risk ends (n == d) S becomes 0 and d / (n (n - d))
// is undefined: the term is left out (as lifelines does), so the band is [0, 0].
SurvivalStep next_step(double days, std::int64_t at_risk, std::int64_t ended, double& survival, double& greenwood) {
  const auto n = static_cast<double>(at_risk);
  const auto d = static_cast<double>(ended);
  survival *= (n - d) / n;
  if (at_risk > ended) greenwood += d / (n * (n - d));
  const double half_width = 1.96 * survival * std::sqrt(greenwood);
  return {.days = days,
          .at_risk = at_risk,
          .ended = ended,
          .survival = survival,
          .lower = std::max(0.0, survival - half_width),
          .upper = std::min(1.0, survival + half_width)};
}

}  // namespace

std::vector<SurvivalStep> kaplan_meier(std::vector<Lifetime> lifetimes) {
  for (Lifetime& l : lifetimes) l.days = std::max(0.0, l.days);
  std::ranges::sort(lifetimes, {}, &Lifetime::days);
  auto at_risk = static_cast<std::int64_t>(lifetimes.size());
  std::vector<SurvivalStep> curve{{.days = 0, .at_risk = at_risk}};
  double survival = 1;
  double greenwood = 0;
  for (std::size_t i = 0; i < lifetimes.size();) {
    // Every lifetime at `days`, ended or censored, is at risk at `days`.
    const double days = lifetimes[i].days;
    std::int64_t ended = 0;
    std::int64_t leaving = 0;
    for (; i < lifetimes.size() && lifetimes[i].days == days; ++i, ++leaving) ended += lifetimes[i].ended ? 1 : 0;
    if (ended > 0) curve.push_back(next_step(days, at_risk, ended, survival, greenwood));
    at_risk -= leaving;
  }
  return curve;
}

double survival_at(const std::vector<SurvivalStep>& curve, double days) {
  const auto after = std::ranges::upper_bound(curve, days, {}, &SurvivalStep::days);
  return after == curve.begin() ? 1.0 : std::prev(after)->survival;
}

double expected_remaining_months(const std::vector<SurvivalStep>& curve, double tenure_days, double tail_days) {
  const double alive = survival_at(curve, tenure_days);
  if (alive <= 0) return 0;
  double area = 0;  // of S(t) in days, from tenure_days on
  for (std::size_t i = 0; i + 1 < curve.size(); ++i) {
    const double from = std::max(tenure_days, curve[i].days);
    const double to = curve[i + 1].days;
    if (to > from) area += curve[i].survival * (to - from);
  }
  const double last = curve.empty() ? 1.0 : curve.back().survival;
  area += last * tail_days;  // the flat tail (nothing when the curve ends at 0)
  return area / alive / kDaysPerMonth;
}

CustomerValue customer_value(const CustomerValueInput& in) {
  CustomerValue v{.realised = in.realised,
                  .average_order_value = in.orders > 0 ? mul_div_round_half_up(in.realised, 1, in.orders) : 0,
                  .orders_per_month = static_cast<double>(in.orders) / std::max(in.tenure_months, 1.0),
                  .expected_remaining_months = in.remaining_months};
  if (in.active) {
    const double future = static_cast<double>(v.average_order_value) * v.orders_per_month * in.remaining_months;
    v.expected_future = std::max<std::int64_t>(0, std::llround(future));
  }
  v.ltv = v.realised + v.expected_future;
  return v;
}

// ---------------------------------------------------------------- at-risk score

namespace {

// recur-risk-1's weights (docs/analytics.md, "At-risk"): changing one is a new model.
constexpr double kIntercept = -3.0;

struct Contribution {
  std::string_view signal;
  double value = 0;
};

double capped(std::int64_t count, std::int64_t cap) { return static_cast<double>(std::clamp<std::int64_t>(count, 0, cap)); }

// Each signal's term of z, in the documented order (which breaks ties among reasons).
std::array<Contribution, 9> contributions(const RiskSignals& s) {
  return {{{"failed_payments", 1.2 * capped(s.failed_payments, 3)},
           {"past_due", s.past_due ? 1.5 : 0.0},
           {"skips", 0.5 * capped(s.skips, 4)},
           {"pauses", 0.8 * capped(s.pauses, 3)},
           {"downgrades", 0.7 * capped(s.downgrades, 3)},
           {"backorders", 0.4 * capped(s.backorders, 3)},
           {"offers_declined", 1.0 * capped(s.offers_declined, 3)},
           {"offers_accepted", 0.3 * capped(s.offers_accepted, 3)},
           {"tenure", -0.8 * std::clamp(s.tenure_days, 0.0, 365.0) / 365.0}}};
}

}  // namespace

double risk_score(const RiskSignals& s) {
  double z = kIntercept;
  for (const Contribution& c : contributions(s)) z += c.value;
  return 1.0 / (1.0 + std::exp(-z));
}

std::vector<std::string> risk_reasons(const RiskSignals& s) {
  auto terms = contributions(s);
  std::ranges::stable_sort(terms, std::ranges::greater{}, &Contribution::value);
  std::vector<std::string> reasons;
  for (const Contribution& c : terms)
    if (c.value > 0) reasons.emplace_back(c.signal);
  return reasons;
}

std::optional<double> auc(std::vector<Scored> scored) {
  const auto churned = std::ranges::count_if(scored, &Scored::churned);
  const auto stayed = std::ssize(scored) - churned;
  if (churned == 0 || stayed == 0) return std::nullopt;
  std::ranges::sort(scored, {}, &Scored::score);
  // Twice Mann-Whitney's U, so that ties (half a win each) stay integers.
  std::int64_t twice_u = 0;
  std::int64_t stayed_below = 0;
  for (std::size_t i = 0; i < scored.size();) {
    std::int64_t churned_here = 0;
    std::int64_t stayed_here = 0;
    for (const double score = scored[i].score; i < scored.size() && scored[i].score == score; ++i)
      (scored[i].churned ? churned_here : stayed_here) += 1;
    twice_u += churned_here * (2 * stayed_below + stayed_here);
    stayed_below += stayed_here;
  }
  return static_cast<double>(twice_u) / (2.0 * static_cast<double>(churned) * static_cast<double>(stayed));
}

}  // namespace recur::analytics
