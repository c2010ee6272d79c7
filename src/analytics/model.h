// Analytics' pure rules (issue 16, docs/analytics.md): a subscription's MRR, the five MRR
// movements of a customer, calendar buckets, churn rates, LTV, the Kaplan-Meier survival
// estimator, the at-risk score and its AUC. No I/O, no clock, no SQL; every function is a
// plain function of its arguments, and docs/analytics.md's worked examples are its tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "platform/calendar.h"
#include "platform/time.h"
#include "subscriptions/subscription.h"

namespace recur::analytics {

// ---------------------------------------------------------------- MRR

// A price per period in a month: interval `month` / count; `year` / (12 count); `week`
// x 52 / (12 count); `day` x 365 / (12 count); rounded half-up to the minor unit.
std::int64_t monthly(std::int64_t amount_per_period, const Cadence& cadence);

// Whether a subscription in `status` contributes MRR: active and past_due only.
bool counts_for_mrr(subscriptions::Status status);

// The MRR of a subscription in the state `sub` (as its event's `after` shows it), on `plan`
// (its plan; the plan's amount and cadence never change): 0 unless counts_for_mrr, 0 for a
// gift not converted (its purchaser paid once); otherwise monthly(plan.amount x quantity less the discount its next
// invoice gets, as subscriptions::period_amount computes it). Tax excluded.
std::int64_t subscription_mrr(const subscriptions::Subscription& sub, const catalog::Plan& plan);

// ---------------------------------------------------------------- movements

enum class MovementKind { kNew, kExpansion, kContraction, kChurn, kReactivation };
std::string_view to_string(MovementKind kind);  // "new", "expansion", ...
inline constexpr MovementKind kAllMovementKinds[] = {MovementKind::kNew, MovementKind::kExpansion,
                                                     MovementKind::kContraction, MovementKind::kChurn,
                                                     MovementKind::kReactivation};

// A change of a customer's MRR from `before` to `after` (before != after), given whether it
// ever had MRR > 0 before: 0 -> x new (never had) or reactivation (had); x -> y > x
// expansion; x -> 0 < y < x contraction; x -> 0 churn. Requires: before != after, both >= 0.
MovementKind classify(std::int64_t before, std::int64_t after, bool had_mrr_before);

// Why a subscription's MRR dropped (for churn): "voluntary" (a cancel or pause by the API, a
// customer, an offer flow), "involuntary" (dunning: the event's reason is payment_failed),
// or "" for a change that is not a drop.
inline constexpr std::string_view kVoluntary = "voluntary";
inline constexpr std::string_view kInvoluntary = "involuntary";

// One subscription's MRR from `at` on: a point of its timeline. A customer's points are
// given in the order the events were recorded (each subscription's in its own order).
struct MrrPoint {
  std::string subscription;
  Timestamp at = 0;
  std::int64_t mrr = 0;
  std::string cause;  // kVoluntary / kInvoluntary on a drop, else ""
};

struct Movement {
  Timestamp at = 0;
  MovementKind kind = MovementKind::kNew;
  std::int64_t amount = 0;  // > 0: |after - before|
  std::int64_t before = 0;  // the customer's MRR just before `at`
  std::int64_t after = 0;
  std::string churn_type;   // for kChurn: kVoluntary or kInvoluntary (involuntary when any
                            // subscription that dropped at `at` dropped for dunning); else ""
};

// The movements of one customer in one currency from its subscriptions' points: the points
// are applied in order of `at` (stably: equal instants keep the given order); all points at
// one instant make one change of the customer's MRR (the sum of its subscriptions' latest
// MRR), and each change (after != before) is one movement. Deterministic: the same points
// give the same movements, however they were gathered.
std::vector<Movement> customer_movements(const std::vector<MrrPoint>& points);

// ---------------------------------------------------------------- buckets

enum class BucketInterval { kDay, kWeek, kMonth, kQuarter, kYear };
std::optional<BucketInterval> parse_bucket_interval(std::string_view text);  // "day|week|month|quarter|year"
std::string_view to_string(BucketInterval interval);

struct Bucket {
  Timestamp start = 0;  // inclusive
  Timestamp end = 0;    // exclusive
};

// The UTC calendar bucket that contains t: days from 00:00, ISO weeks from Monday 00:00,
// months, quarters (Jan/Apr/Jul/Oct) and years from their first day.
Bucket bucket_of(Timestamp t, BucketInterval interval);

// The calendar buckets that cover [from, to), the first and last cut to from and to (a
// bucket's start is max(from, calendar start), its end min(to, calendar end)). Empty when
// from >= to. Requires: at most `max_buckets` buckets, else nullopt (the caller's 422).
std::optional<std::vector<Bucket>> buckets(Timestamp from, Timestamp to, BucketInterval interval,
                                           std::size_t max_buckets = 2000);

// The index of the bucket holding t in `bs` (contiguous, by time), or bs.size() when none does.
std::size_t bucket_index(const std::vector<Bucket>& bs, Timestamp t);

// The distinct customers who churned in each bucket, by the type of their last churn in it,
// from churn movements handed over in time order (at equal times, the later one handed over
// wins): only the current bucket's customers are held.
class ChurnCounter {
 public:
  struct Counts {
    std::int64_t customers = 0, voluntary = 0, involuntary = 0;
    bool operator==(const Counts&) const = default;
  };
  explicit ChurnCounter(std::vector<Bucket> bs) : bs_(std::move(bs)), counts_(bs_.size()) {}
  // Requires: `at` not before the last call's.
  void add(const std::string& customer, Timestamp at, const std::string& churn_type);
  // One per bucket. Requires: called once, last.
  std::vector<Counts> finish();

 private:
  void close();
  std::vector<Bucket> bs_;
  std::vector<Counts> counts_;
  std::size_t i_ = 0;
  std::unordered_map<std::string, std::string> last_;  // customer -> its last churn's type in bucket i_
};

// The `limit` first of what is offered, by a key descending, ties in the order offered (what
// a stable sort of them all by the key, descending, would put first), holding only those.
template <class T>
class TopN {
 public:
  explicit TopN(std::size_t limit) : limit_(limit) {}
  void offer(double key, T item) {
    ++offered_;
    Entry e{key, offered_, std::move(item)};
    if (heap_.size() < limit_) {
      heap_.push_back(std::move(e));
      std::push_heap(heap_.begin(), heap_.end(), better);  // the front: the worst kept
    } else if (limit_ > 0 && better(e, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = std::move(e);
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
  }
  std::size_t offered() const { return offered_; }
  // The best first. Requires: called once, last.
  std::vector<T> take() {
    std::sort(heap_.begin(), heap_.end(), better);
    std::vector<T> out;
    out.reserve(heap_.size());
    for (auto& e : heap_) out.push_back(std::move(e.item));
    return out;
  }

 private:
  struct Entry {
    double key;
    std::size_t order;
    T item;
  };
  static bool better(const Entry& a, const Entry& b) { return a.key > b.key || (a.key == b.key && a.order < b.order); }
  std::size_t limit_;
  std::size_t offered_ = 0;
  std::vector<Entry> heap_;
};

// ---------------------------------------------------------------- rates

// num / den, or nullopt when den == 0.
std::optional<double> rate(double num, double den);

// One bucket's MRR figures: mrr_end - mrr_start == new + expansion + reactivation -
// contraction - churn (the identity the store keeps and the tests check).
struct MovementTotals {
  std::int64_t mrr_start = 0;
  std::int64_t new_mrr = 0, expansion = 0, contraction = 0, churn = 0, reactivation = 0;
  std::int64_t mrr_end = 0;
  std::int64_t count_new = 0, count_expansion = 0, count_contraction = 0, count_churn = 0, count_reactivation = 0;
};
bool identity_holds(const MovementTotals& t);

struct ChurnFigures {
  std::int64_t customers_start = 0;    // customers with MRR > 0 at the bucket's start
  std::int64_t churned_customers = 0;  // distinct customers with a churn movement in it
  std::int64_t voluntary = 0;          // of those, whose (last) churn was voluntary
  std::int64_t involuntary = 0;
  std::optional<double> customer_churn_rate;  // churned / customers_start
  std::optional<double> gross_mrr_churn_rate;  // (churn + contraction) / mrr_start
  std::optional<double> net_mrr_churn_rate;    // (churn + contraction - expansion - reactivation) / mrr_start (may be < 0)
  std::optional<double> quick_ratio;           // (new + expansion + reactivation) / (churn + contraction) (may be > 1)
};
ChurnFigures churn_figures(const MovementTotals& t, std::int64_t customers_start, std::int64_t churned_customers,
                           std::int64_t voluntary, std::int64_t involuntary);

// ---------------------------------------------------------------- LTV

// MRR / customers, rounded half-up; nullopt when customers == 0 (or below).
std::optional<std::int64_t> arpa(std::int64_t mrr, std::int64_t customers);

// ARPA / mean monthly customer churn rate (rounded half-up); nullopt when arpa is or the
// churn rate is 0 (or below) or unknown, and when the quotient leaves int64 (never infinite).
std::optional<std::int64_t> ltv(std::optional<std::int64_t> arpa, std::optional<double> monthly_churn_rate);

// The mean of the rates that are known; nullopt when none is.
std::optional<double> mean_rate(const std::vector<std::optional<double>>& rates);

// ---------------------------------------------------------------- survival

// A subscription's lifetime: `days` from its start to its end (ended) or to the instant of
// the analysis (censored, still alive).
struct Lifetime {
  double days = 0;
  bool ended = false;
};

// A step of the Kaplan-Meier curve: S(t) for t >= days until the next step, with Greenwood's
// 95 % band (S +- 1.96 sqrt(Var), Var = S^2 sum d / (n (n - d)), cut to [0, 1]). Where every
// lifetime at risk ends (n == d, only ever the last step) S is 0 and the undefined term is
// left out: the band is [0, 0].
struct SurvivalStep {
  double days = 0;
  std::int64_t at_risk = 0;  // n: lifetimes >= days just before it
  std::int64_t ended = 0;    // d: lifetimes that ended at `days`
  double survival = 1;
  double lower = 1;
  double upper = 1;
};

// The Kaplan-Meier estimate: one step per distinct ending time (ascending), after a first
// step at day 0 with S = 1 and at_risk = every lifetime (so lifetimes ending at day 0 make
// a second step at day 0). Censored lifetimes at a time count as at risk at that time
// (ends before censoring at ties). Negative days count as 0. Requires: no NaN days.
std::vector<SurvivalStep> kaplan_meier(std::vector<Lifetime> lifetimes);

// S(days) from a curve (1 before the first end).
double survival_at(const std::vector<SurvivalStep>& curve, double days);

// Expected remaining lifetime in months (30.44 days: 365.25 / 12) of a subscriber alive at
// `tenure_days`: the area under S(t) / S(tenure) from tenure to the curve's last step, plus,
// when the curve ends above 0, its last S / S(tenure) held flat for `tail_days` from
// max(tenure, last step) (documented cap; default 365 days). 0 when S(tenure) == 0.
double expected_remaining_months(const std::vector<SurvivalStep>& curve, double tenure_days, double tail_days = 365);

// The LTV of one customer: what it paid (less refunds) plus the expected future value =
// average order value x orders per month x expected remaining months, rounded half-up
// (never below 0; 0 when not active). Average order value = realised / orders rounded
// half-up (0 without orders); orders per month = orders / max(tenure_months, 1).
struct CustomerValueInput {
  std::int64_t realised = 0;     // paid - refunded, minor units
  std::int64_t orders = 0;       // paid invoices
  double tenure_months = 0;      // from its first paid invoice to the instant asked
  double remaining_months = 0;   // expected_remaining_months for its plan and tenure
  bool active = false;           // MRR > 0 now: no future value otherwise
};
struct CustomerValue {
  std::int64_t realised = 0;
  std::int64_t average_order_value = 0;
  double orders_per_month = 0;
  double expected_remaining_months = 0;
  std::int64_t expected_future = 0;
  std::int64_t ltv = 0;  // realised + expected_future
};
CustomerValue customer_value(const CustomerValueInput& in);

// ---------------------------------------------------------------- at-risk score

// What an active subscription shows in the 90 days before the instant scored.
struct RiskSignals {
  std::int64_t failed_payments = 0;
  std::int64_t skips = 0;
  std::int64_t pauses = 0;
  std::int64_t downgrades = 0;
  std::int64_t backorders = 0;
  std::int64_t offers_declined = 0;   // retention offers declined (a cancel was started)
  std::int64_t offers_accepted = 0;
  bool past_due = false;
  double tenure_days = 0;
};

// Recur's own model (recur-risk-1): a logistic score in [0, 1] with fixed, documented
// weights (docs/analytics.md, "At-risk"). Higher is riskier. Counts below 0 count as 0.
double risk_score(const RiskSignals& s);
// The signals that raise the score (a positive term), most first; equal terms in the
// documented order. Names: failed_payments, past_due, skips, pauses, downgrades,
// backorders, offers_declined, offers_accepted (tenure only ever lowers it).
std::vector<std::string> risk_reasons(const RiskSignals& s);

// The area under the ROC curve of scores against outcomes (true: churned): the chance that
// a churned subscriber scores above one who stayed (ties count half). nullopt when one
// class is empty. O(n log n). Requires: no NaN score.
struct Scored {
  double score = 0;
  bool churned = false;
};
std::optional<double> auc(std::vector<Scored> scored);

}  // namespace recur::analytics
