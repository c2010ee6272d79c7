// Pure subscription rules: proration and the lifecycle state machine.
#include "subscriptions/model.h"

#include <algorithm>
#include <stdexcept>

namespace recur::subscriptions {
namespace {


template <typename Enum, std::size_t N>
std::optional<Enum> parse_name(std::string_view text, const std::string_view (&names)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

// Indexed by the enum's underlying value, so the order must follow the declaration.
constexpr std::string_view kStatusNames[] = {"scheduled", "trialing", "active", "paused",
                                             "past_due",  "unpaid",   "canceled", "incomplete",
                                             "incomplete_expired"};
constexpr std::string_view kActionNames[] = {
    "start",       "end_trial",  "renew",  "payment_failed", "payment_recovered",
    "pause",       "resume",     "skip",   "change_plan",    "update",
    "cancel_now",  "cancel_at_period_end", "reactivate",     "period_end_cancel",
    "delete",      "mark_unpaid", "activate", "expire"};

}  // namespace

std::optional<Status> parse_status(std::string_view text) {
  return parse_name<Status>(text, kStatusNames);
}
std::string_view to_string(Status status) { return kStatusNames[static_cast<int>(status)]; }
std::vector<std::string_view> status_names() { return {std::begin(kStatusNames), std::end(kStatusNames)}; }
bool renews_at_period_end(Status status) {
  return std::find(std::begin(kRenewingStatuses), std::end(kRenewingStatuses), status) != std::end(kRenewingStatuses);
}
std::string_view to_string(Action action) { return kActionNames[static_cast<int>(action)]; }
bool is_ended(Status status) { return status == Status::kCanceled || status == Status::kIncompleteExpired; }

// ---------------------------------------------------------------- proration

namespace {

// unit * quantity; amounts are validated upstream, so overflow is a programmer error.
std::int64_t line_price(const PriceAndCadence& p) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(p.unit_amount, p.quantity, &out)) {
    throw std::overflow_error("proration: unit_amount * quantity overflows");
  }
  return out;
}

// "Pro × 3": how every proration line names what it prices.
std::string plan_and_quantity(const PriceAndCadence& p) {
  return p.plan_name + " \u00d7 " + std::to_string(p.quantity);
}

// The share of p's price for the time left in `current` after `at`. The magnitude is
// rounded (half away from zero) before the sign is applied, so a credit mirrors the
// charge for the same price exactly.
ProrationLine unused_share(std::string_view lead, const PriceAndCadence& p, std::int64_t price, Period current,
                           Timestamp at, int sign) {
  const std::int64_t amount = mul_div_round_half_up(price, current.end - at, current.end - current.start);
  std::string description =
      std::string(lead) + plan_and_quantity(p) + " after " + format_rfc3339(at);
  return {std::move(description), sign * amount, p.quantity, {at, current.end}};
}

ProrationLine charge_new_period(const PriceAndCadence& to, Period next) {
  std::string description = plan_and_quantity(to) + " from " + format_rfc3339(next.start) +
                            " to " + format_rfc3339(next.end);
  return {std::move(description), line_price(to), to.quantity, next};
}

}  // namespace

ProrationResult prorate(const PriceAndCadence& from, const PriceAndCadence& to, Period current,
                        Timestamp at) {
  if (at < current.start || at >= current.end) {
    throw std::invalid_argument("prorate: change time outside the current period");
  }
  ProrationResult result;
  const std::int64_t paid = from.paid.value_or(line_price(from));
  if (paid != 0) result.lines.push_back(unused_share("Unused time on ", from, paid, current, at, -1));
  if (from.cadence == to.cadence) {
    result.lines.push_back(unused_share("Remaining time on ", to, line_price(to), current, at, +1));
    result.new_period = current;
  } else {
    // A new cadence cannot share the old calendar: the change time becomes the anchor.
    result.new_period = calendar_from(at, to.cadence).first;
    result.lines.push_back(charge_new_period(to, result.new_period));
    result.resets_anchor = true;
  }
  for (const ProrationLine& line : result.lines) result.total += line.amount;
  return result;
}

// ---------------------------------------------------------------- state machine

namespace {

struct Move {
  Status from;
  Action action;
  Status to;
};

// Every legal move; anything absent is refused. Kept as data so the docs table and
// the test table can be compared against it line by line.
constexpr Move kMoves[] = {
    {Status::kScheduled, Action::kStart, Status::kActive},  // or trialing, see has_trial
    {Status::kScheduled, Action::kCancelNow, Status::kCanceled},
    {Status::kScheduled, Action::kUpdate, Status::kScheduled},
    {Status::kScheduled, Action::kChangePlan, Status::kScheduled},
    {Status::kScheduled, Action::kDelete, Status::kScheduled},

    {Status::kTrialing, Action::kEndTrial, Status::kActive},
    {Status::kTrialing, Action::kPause, Status::kPaused},
    {Status::kTrialing, Action::kSkip, Status::kTrialing},
    {Status::kTrialing, Action::kChangePlan, Status::kTrialing},
    {Status::kTrialing, Action::kUpdate, Status::kTrialing},
    {Status::kTrialing, Action::kCancelNow, Status::kCanceled},
    {Status::kTrialing, Action::kCancelAtPeriodEnd, Status::kTrialing},
    {Status::kTrialing, Action::kReactivate, Status::kTrialing},
    {Status::kTrialing, Action::kPeriodEndCancel, Status::kCanceled},
    {Status::kTrialing, Action::kDelete, Status::kTrialing},

    {Status::kActive, Action::kRenew, Status::kActive},
    {Status::kActive, Action::kPaymentFailed, Status::kPastDue},
    {Status::kActive, Action::kPause, Status::kPaused},
    {Status::kActive, Action::kSkip, Status::kActive},
    {Status::kActive, Action::kChangePlan, Status::kActive},
    {Status::kActive, Action::kUpdate, Status::kActive},
    {Status::kActive, Action::kCancelNow, Status::kCanceled},
    {Status::kActive, Action::kCancelAtPeriodEnd, Status::kActive},
    {Status::kActive, Action::kReactivate, Status::kActive},
    {Status::kActive, Action::kPeriodEndCancel, Status::kCanceled},
    {Status::kActive, Action::kDelete, Status::kActive},

    {Status::kPaused, Action::kResume, Status::kActive},
    {Status::kPaused, Action::kUpdate, Status::kPaused},
    {Status::kPaused, Action::kCancelNow, Status::kCanceled},
    {Status::kPaused, Action::kCancelAtPeriodEnd, Status::kPaused},
    {Status::kPaused, Action::kReactivate, Status::kPaused},
    {Status::kPaused, Action::kPeriodEndCancel, Status::kCanceled},

    {Status::kPastDue, Action::kRenew, Status::kPastDue},
    {Status::kPastDue, Action::kPaymentFailed, Status::kPastDue},
    {Status::kPastDue, Action::kPaymentRecovered, Status::kActive},
    {Status::kPastDue, Action::kPause, Status::kPaused},
    {Status::kPastDue, Action::kChangePlan, Status::kPastDue},
    {Status::kPastDue, Action::kUpdate, Status::kPastDue},
    {Status::kPastDue, Action::kCancelNow, Status::kCanceled},
    {Status::kPastDue, Action::kCancelAtPeriodEnd, Status::kPastDue},
    {Status::kPastDue, Action::kReactivate, Status::kPastDue},
    {Status::kPastDue, Action::kPeriodEndCancel, Status::kCanceled},
    {Status::kPastDue, Action::kMarkUnpaid, Status::kUnpaid},

    // Still renewing (invoices are made, not charged) until every open invoice is paid.
    {Status::kUnpaid, Action::kRenew, Status::kUnpaid},
    {Status::kUnpaid, Action::kPaymentFailed, Status::kUnpaid},
    {Status::kUnpaid, Action::kPaymentRecovered, Status::kActive},
    {Status::kUnpaid, Action::kChangePlan, Status::kUnpaid},
    {Status::kUnpaid, Action::kUpdate, Status::kUnpaid},
    {Status::kUnpaid, Action::kCancelNow, Status::kCanceled},
    {Status::kUnpaid, Action::kCancelAtPeriodEnd, Status::kUnpaid},
    {Status::kUnpaid, Action::kReactivate, Status::kUnpaid},
    {Status::kUnpaid, Action::kPeriodEndCancel, Status::kCanceled},

    {Status::kCanceled, Action::kDelete, Status::kCanceled},

    // Waiting for the first payment: it can be paid (activate), run out (expire), be
    // canceled, or have its address and metadata updated; nothing else until it is active.
    {Status::kIncomplete, Action::kActivate, Status::kActive},
    {Status::kIncomplete, Action::kExpire, Status::kIncompleteExpired},
    {Status::kIncomplete, Action::kUpdate, Status::kIncomplete},
    {Status::kIncomplete, Action::kCancelNow, Status::kCanceled},
};

std::optional<Status> legal_move(Status from, Action action) {
  for (const Move& m : kMoves) {
    if (m.from == from && m.action == action) return m.to;
  }
  return std::nullopt;
}

// The verb for "cannot <verb> a subscription that is <status>".
std::string_view verb(Action action) {
  static constexpr std::string_view kVerbs[] = {
      "start", "end the trial of", "renew", "record a failed payment on",
      "record a recovered payment on", "pause", "resume", "skip a period of",
      "change the plan of", "update", "cancel", "schedule the cancellation of",
      "reactivate", "end at period end", "delete", "mark as unpaid", "activate", "expire"};
  return kVerbs[static_cast<int>(action)];
}

// The most specific code for a move that is not in kMoves.
std::string_view illegal_move_code(Status from, Action action) {
  if (from == Status::kCanceled) return "subscription_canceled";
  if (from == Status::kIncompleteExpired) return "subscription_expired";
  if (from == Status::kIncomplete) return "subscription_incomplete";
  if (action == Action::kPause && from == Status::kPaused) return "subscription_already_paused";
  if (action == Action::kResume) return "subscription_not_paused";
  return "invalid_state_transition";
}

Error illegal_move(Status from, Action action) {
  std::string message = "cannot ";
  message += verb(action);
  message += " a subscription that is ";
  message += to_string(from);
  return Error::conflict(std::string(illegal_move_code(from, action)), std::move(message));
}

// Rules that depend on the pending cancellation rather than on the status alone.
std::optional<Error> context_conflict(Action action, const TransitionContext& ctx) {
  if (action == Action::kCancelAtPeriodEnd && ctx.cancel_at_period_end) {
    return Error::conflict("cancellation_already_scheduled",
                           "the subscription is already scheduled to cancel at period end");
  }
  const bool needs_pending =
      action == Action::kReactivate || action == Action::kPeriodEndCancel;
  if (needs_pending && !ctx.cancel_at_period_end) {
    return Error::conflict("not_scheduled_for_cancellation",
                           "the subscription is not scheduled to cancel at period end");
  }
  return std::nullopt;
}

}  // namespace

Result<Status> transition(Status from, Action action, const TransitionContext& ctx) {
  const std::optional<Status> to = legal_move(from, action);
  if (!to) return illegal_move(from, action);
  if (auto conflict = context_conflict(action, ctx)) return *std::move(conflict);
  if (action == Action::kStart && ctx.has_trial) return Status::kTrialing;
  return *to;
}

}  // namespace recur::subscriptions
