// Pure subscription rules: proration and the lifecycle state machine (the calendar is
// platform/calendar.h).
// No I/O, no clock, no SQL: every function is a plain function of its arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/calendar.h"
#include "platform/money.h"
#include "platform/result.h"
#include "platform/time.h"

namespace recur::subscriptions {

// ---------------------------------------------------------------- proration

struct ProrationLine {
  std::string description;
  std::int64_t amount = 0;  // minor units; negative for credit
  std::int64_t quantity = 1;
  Period period;  // the time the line prices
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
//  - different cadence (e.g. weekly -> monthly, or a new delivery day): credit the unused
//    time of the old price, and charge the new price in full for a new period starting at
//    `at` (anchor reset; calendar_from gives the period).
// Requires: current.start <= at < current.end.
ProrationResult prorate(const PriceAndCadence& from, const PriceAndCadence& to, Period current,
                        Timestamp at);

// ---------------------------------------------------------------- state machine

// unpaid (Stripe's meaning): dunning ran out with final action "unpaid". The subscription
// keeps renewing and invoicing, but no invoice is charged automatically and nothing ships
// until the customer (a new default payment method) or an operator pays them all.
// incomplete (Stripe's meaning): created with a first invoice due at once that is not paid
// yet (checkout: payment_behavior allow_incomplete / default_incomplete, or a declined or
// unauthenticated first charge). Nothing ships and nothing renews; paying the invoice within
// kIncompleteWindow makes it active, otherwise it becomes incomplete_expired (an end: the
// invoice is voided, the reservation released).
enum class Status { kScheduled, kTrialing, kActive, kPaused, kPastDue, kUnpaid, kCanceled, kIncomplete,
                    kIncompleteExpired };

// How long an incomplete subscription waits for its first payment (Stripe's 23 hours: less
// than the shortest period, a day, so it expires before it could renew).
inline constexpr std::int64_t kIncompleteWindow = 23 * 3600;

std::optional<Status> parse_status(std::string_view text);
std::vector<std::string_view> status_names();
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
  kActivate,           // the first invoice of an incomplete subscription was paid
  kExpire,             // an incomplete subscription's window ended unpaid (or checkout refused it)
};

std::string_view to_string(Action action);
inline constexpr Action kAllActions[] = {
    Action::kStart,        Action::kEndTrial,   Action::kRenew,      Action::kPaymentFailed,
    Action::kPaymentRecovered, Action::kPause,  Action::kResume,     Action::kSkip,
    Action::kChangePlan,   Action::kUpdate,     Action::kCancelNow,  Action::kCancelAtPeriodEnd,
    Action::kReactivate,   Action::kPeriodEndCancel, Action::kDelete,   Action::kMarkUnpaid,
    Action::kActivate,     Action::kExpire};
inline constexpr Status kAllStatuses[] = {Status::kScheduled, Status::kTrialing, Status::kActive, Status::kPaused,
                                          Status::kPastDue,   Status::kUnpaid,   Status::kCanceled,
                                          Status::kIncomplete, Status::kIncompleteExpired};
// Ended for good: nothing more happens to the subscription.
bool is_ended(Status status);
// The statuses in which a subscription renews at the end of its period (and is reminded of
// it); the SQL lists of the stores are made from this one list.
inline constexpr Status kRenewingStatuses[] = {Status::kTrialing, Status::kActive, Status::kPastDue};
bool renews_at_period_end(Status status);

struct TransitionContext {
  bool cancel_at_period_end = false;  // a scheduled cancellation is pending
  bool has_trial = false;             // for kStart: lands in trialing rather than active
};

// The single source of truth for legal lifecycle moves. Returns the next status or a
// conflict error with code "invalid_state_transition" (or a more specific one).
Result<Status> transition(Status from, Action action, const TransitionContext& ctx = {});

}  // namespace recur::subscriptions
