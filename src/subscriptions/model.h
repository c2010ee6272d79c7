// Pure subscription rules: billing calendar, proration and the lifecycle state machine.
// No I/O, no clock, no SQL: every function is a plain function of its arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/money.h"
#include "platform/result.h"
#include "platform/time.h"

namespace recur::subscriptions {

// ---------------------------------------------------------------- calendar

enum class Interval { kDay, kWeek, kMonth, kYear };

std::optional<Interval> parse_interval(std::string_view text);  // "day|week|month|year"
std::string_view to_string(Interval interval);

struct Cadence {
  Interval interval = Interval::kMonth;
  int count = 1;  // interval_count, >= 1
};

// Start of the n-th period (n >= 0) counted from `anchor`, by Stripe's rules:
// months and years are added to the anchor's calendar date (not chained), the day
// clamped to the target month's length, time of day kept. So a monthly anchor on
// Jan 31 gives Feb 28/29, Mar 31, Apr 30, May 31; a yearly anchor on Feb 29 gives
// Feb 28 in common years and Feb 29 again in leap years. Days and weeks add
// 86400 * 1 or 7 * count seconds per period.
Timestamp period_start(Timestamp anchor, const Cadence& cadence, std::int64_t n);

struct Period {
  Timestamp start = 0;
  Timestamp end = 0;  // exclusive
};

// The period that contains `t` (anchor <= t), i.e. the n with start(n) <= t < start(n+1).
Period period_containing(Timestamp anchor, const Cadence& cadence, Timestamp t);
// The period starting at `start` where `start` is itself an anchor-aligned boundary.
Period period_from(Timestamp anchor, const Cadence& cadence, Timestamp start);

// ---------------------------------------------------------------- proration

struct ProrationLine {
  std::string description;
  std::int64_t amount = 0;  // minor units; negative for credit
  std::int64_t quantity = 1;
  Timestamp period_start = 0;
  Timestamp period_end = 0;
};

struct PriceAndCadence {
  std::int64_t unit_amount = 0;  // per period, minor units
  std::int64_t quantity = 1;
  Cadence cadence;
  std::string plan_name;
  // For the plan being left: what the current period actually cost (after discounts; 0
  // when skipped or in a trial). The credit is a share of this, never of the list price.
  // Unset: the list price (unit_amount * quantity) was paid.
  std::optional<std::int64_t> paid;
};

struct ProrationResult {
  std::vector<ProrationLine> lines;
  std::int64_t total = 0;
  Period new_period;          // the period the subscription is in after the change
  bool resets_anchor = false; // true when the interval changes: new anchor = change time
};

// Stripe's proration for a change at `at` inside `current` (current.start <= at < current.end).
// The credit for unused time is a share of what was paid for the period (`from.paid`);
// nothing paid, no credit line:
//  - same cadence: credit the unused time of the old price and charge the remaining
//    time of the new one: -round(old * unused / period) and +round(new * unused / period),
//    each line rounded half-up (away from zero) to the minor unit, computed to the second;
//  - different cadence (e.g. weekly -> monthly): credit the unused time of the old price,
//    and charge the new price in full for a new period starting at `at` (anchor reset).
// Requires: current.start <= at < current.end.
ProrationResult prorate(const PriceAndCadence& from, const PriceAndCadence& to, Period current,
                        Timestamp at);

// ---------------------------------------------------------------- state machine

// unpaid (Stripe's meaning): dunning ran out with final action "unpaid". The subscription
// keeps renewing and invoicing, but no invoice is charged automatically and nothing ships
// until the customer (a new default payment method) or an operator pays them all.
enum class Status { kScheduled, kTrialing, kActive, kPaused, kPastDue, kUnpaid, kCanceled };

std::optional<Status> parse_status(std::string_view text);
std::string_view to_string(Status status);

enum class Action {
  kStart,              // scheduled start date reached
  kEndTrial,           // trial over
  kRenew,              // period rolled over (billing)
  kPaymentFailed,      // a renewal charge failed (dunning)
  kPaymentRecovered,   // a retry succeeded
  kPause,
  kResume,
  kSkip,
  kChangePlan,
  kUpdate,             // quantity / address / metadata
  kCancelNow,
  kCancelAtPeriodEnd,
  kReactivate,         // undo cancel_at_period_end before the period ends
  kPeriodEndCancel,    // the period ended with cancel_at_period_end set
  kDelete,
  kMarkUnpaid,         // retries ran out with final action "unpaid"
};

std::string_view to_string(Action action);
inline constexpr Action kAllActions[] = {
    Action::kStart,        Action::kEndTrial,   Action::kRenew,      Action::kPaymentFailed,
    Action::kPaymentRecovered, Action::kPause,  Action::kResume,     Action::kSkip,
    Action::kChangePlan,   Action::kUpdate,     Action::kCancelNow,  Action::kCancelAtPeriodEnd,
    Action::kReactivate,   Action::kPeriodEndCancel, Action::kDelete,   Action::kMarkUnpaid};
inline constexpr Status kAllStatuses[] = {Status::kScheduled, Status::kTrialing, Status::kActive, Status::kPaused,
                                          Status::kPastDue,   Status::kUnpaid,   Status::kCanceled};

struct TransitionContext {
  bool cancel_at_period_end = false;  // a scheduled cancellation is pending
  bool has_trial = false;             // for kStart: lands in trialing rather than active
};

// The single source of truth for legal lifecycle moves. Returns the next status or a
// conflict error with code "invalid_state_transition" (or a more specific one).
Result<Status> transition(Status from, Action action, const TransitionContext& ctx = {});

}  // namespace recur::subscriptions
