// The subscription record and the pure rules over it: time-driven lifecycle (start, trial
// end, renewal, resumption, period-end cancellation) and the upcoming-period calendar.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog/model.h"
#include "customers/model.h"
#include "subscriptions/model.h"

namespace recur::subscriptions {

inline constexpr std::string_view kCancellationReasons[] = {
    "too_expensive", "product_quality", "delivery_problems", "not_using", "switched_competitor", "moving", "other"};
bool is_cancellation_reason(std::string_view reason);

struct Pause {
  Timestamp paused_at = 0;
  std::optional<Timestamp> resumes_at;  // none: paused until resumed by hand
};

struct Cancellation {
  std::string reason;
  std::optional<std::string> comment;
  Timestamp requested_at = 0;
};

// A plan change scheduled for the end of the current period (effective=period_end).
struct PendingChange {
  std::string plan;
  std::int64_t quantity = 1;
  Timestamp effective_at = 0;
  std::optional<Cadence> delivery;  // the subscription's schedule after it (none: the plan's)
};

// `cycles_remaining` of a discount that never runs out (a `forever` coupon).
inline constexpr std::int64_t kForever = -1;

// Where a discount came from: a coupon redeemed directly ("coupon", "coupon_..."), through a
// promotion code ("promotion_code", "promo_..."), or a retention offer accepted
// ("retention_offer", "rof_..."). In JSON an object {type, id} (docs/api-conventions.md), the
// one shape of a subscription's discount `source` and an invoice's `discount_source`.
struct DiscountSource {
  std::string type;
  std::string id;
  bool operator==(const DiscountSource&) const = default;
};
inline constexpr std::string_view kDiscountSourceTypes[] = {"coupon", "promotion_code", "retention_offer"};
// {type, id}, or null for none.
Json to_json(const std::optional<DiscountSource>& source);
// Reads what to_json wrote (null: none).
std::optional<DiscountSource> discount_source_from_json(const Json& json);

// Money off the next `cycles_remaining` billed periods: a percentage (a retention offer or a
// coupon) or a fixed amount off each period's total (a coupon).
struct Discount {
  std::int64_t percent_off = 0;  // 0 for an amount off (null in JSON)
  std::int64_t cycles_remaining = 0;  // billed periods still discounted; kForever: all of them
  DiscountSource source;
  std::int64_t amount_off = 0;  // minor units of `currency`; 0 for a percentage
  std::string currency;
  std::optional<std::string> coupon;
  std::optional<std::string> promotion_code;
  // The coupon's plan and tier restrictions, kept so a plan change can tell whether the
  // discount still applies without reading the coupon (its terms never change).
  std::vector<std::string> applies_to_plans;
  std::vector<std::string> applies_to_tiers;
};

// The discount a coupon gives, redeemed directly or through `code`.
Discount discount_from(const catalog::Coupon& coupon, const catalog::PromotionCode* code);
// Whether `discount` may stay on a subscription that moves to `plan`.
bool discount_admits(const Discount& discount, const catalog::Plan& plan);
// What `discount` takes off a period whose gross price is `gross` in `currency`: the
// percentage rounded half-up, or the fixed amount but never more than `gross`; 0 when the
// discount is used up or its amount is in another currency.
std::int64_t discount_off(std::int64_t gross, std::string_view currency, const std::optional<Discount>& discount);

// A one-time extra for the next box (POST /v1/subscriptions/{id}/add-ons): charged on the
// next billed period's invoice (billing's pending item) and shipped in its box.
struct AddOn {
  std::string id;  // "ao_..."
  std::string product;
  std::string name;
  std::int64_t quantity = 1;
  std::int64_t unit_amount = 0;  // the product's price when it was added
  std::string currency;
  Timestamp added_at = 0;
  std::int64_t discount_percent = 0;  // the tier's member discount on add-ons, when added
  std::string invoice_item;           // billing's pending item that charges it ("" without billing)
};
Json to_json(const AddOn& add_on);
// What the add-on is charged: unit_amount × quantity less its member discount (rounded half
// up); none when too large to charge.
std::optional<std::int64_t> add_on_amount(const AddOn& add_on);

// Prepaid deliveries (Recharge's "prepaid"): one charge pays for `deliveries` boxes, each
// shipped on the schedule; the periods after the charge are covered by it and billed
// nothing (docs/subscription-boxes.md). None: every period is charged.
inline constexpr std::int64_t kMaxPrepaidDeliveries = 24;
struct Prepaid {
  std::int64_t deliveries = 1;      // boxes each charge pays for (1: back to one per charge)
  std::int64_t remaining = 0;       // boxes already paid for, still to come after the current period
  std::int64_t charged_period = 0;  // the billed period (sequence) whose invoice paid for them
  bool operator==(const Prepaid&) const = default;
  // The invoice that paid for them when it is none of the subscription's periods (a gift's,
  // charged_period 0); "" otherwise.
  std::string invoice;
};
Json to_json(const std::optional<Prepaid>& prepaid);
// 422 validation_failed naming `field` unless 2 <= deliveries <= kMaxPrepaidDeliveries.
recur::Status check_prepaid_deliveries(std::int64_t deliveries, const std::string& field);

// A gift subscription (docs/subscription-boxes.md, "Gifts"): its boxes were paid by the
// gift's purchaser (Prepaid.invoice); it ends after the last one (canceled, reason
// gift_ended) unless the recipient converted it to a paid subscription.
inline constexpr std::string_view kGiftEnded = "gift_ended";
struct GiftLink {
  std::string id;  // "gift_..."
  bool converted = false;
  std::optional<Timestamp> converted_at;
  bool operator==(const GiftLink&) const = default;
};

// What the customer chose for one upcoming box of a plan with a selection (PUT
// /v1/subscriptions/{id}/boxes/{period_start}/selection), kept until that box begins.
struct BoxChoice {
  Timestamp period_start = 0;
  std::vector<catalog::PlanItem> items;
  Timestamp chosen_at = 0;
  bool operator==(const BoxChoice&) const = default;
};

struct Subscription {
  std::string id;  // "sub_..."
  std::string customer;
  std::string plan;
  std::int64_t quantity = 1;
  Status status = Status::kActive;
  Timestamp start_date = 0;
  std::optional<Timestamp> trial_end;
  Timestamp billing_cycle_anchor = 0;
  Period current;  // for scheduled: the first period; for trialing: the trial
  std::int64_t current_amount = 0;  // what the current period was billed (0: trial, skipped, not started)
  std::string currency;             // the plan's (every plan of a subscription has the same)
  bool current_skipped = false;     // the customer skipped the current period
  bool cancel_at_period_end = false;
  std::optional<Timestamp> canceled_at;
  std::optional<Timestamp> ended_at;
  std::optional<Cancellation> cancellation;
  std::optional<Pause> pause;
  std::optional<PendingChange> pending_change;
  std::optional<Discount> discount;
  std::vector<Timestamp> skipped_periods;  // starts of future periods not to ship or bill
  // Its own delivery schedule instead of the plan's cadence (a price per delivery stays the
  // plan's); none: the plan's.
  std::optional<Cadence> delivery;
  std::vector<AddOn> add_ons;  // extras for the next billed period's box
  std::optional<customers::Address> shipping_address;
  Json metadata = Json::object();
  std::int64_t billed_periods = 0;  // periods billed so far; a billed subscription is never deleted
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
  std::optional<Prepaid> prepaid;
  std::optional<GiftLink> gift;
  std::vector<BoxChoice> choices;  // by period start, for boxes not begun yet
};

Json to_json(const Subscription& sub);

// A gift's subscription, before begin(): all `deliveries` boxes are paid by `invoice`, the
// first one included. Pure.
void make_gift(Subscription& sub, const std::string& gift, const std::string& invoice, std::int64_t deliveries);
// POST /v1/subscriptions/{id}/convert: a gift subscription carries on as a paid one after its
// last gift box (the next period is charged, one box per charge, on the same calendar); one
// ending because its gift ran out (cancel_at_period_end with reason gift_ended) ends no more.
// Errors: 409 not_a_gift (none, or converted already), 409 invalid_state_transition (ended).
recur::Status convert_gift(Subscription& sub, Timestamp now);

// Whether the current period is a box an earlier prepaid charge paid for (started, not a
// trial, not skipped, and not the charge itself).
bool in_prepaid_box(const Subscription& sub);
// PATCH prepaid_deliveries: N deliveries per charge from the next charge on, or (none) one
// per delivery again. Boxes already paid for still ship. Pure.
void set_prepaid_deliveries(Subscription& sub, std::optional<std::int64_t> deliveries);
Subscription subscription_from_doc(const Json& doc);

// A delivery schedule in JSON: {interval, interval_count, day_of_week, day_of_month}, or null.
Json delivery_json(const std::optional<Cadence>& delivery);
std::optional<Cadence> delivery_from_json(const Json& json);
// The rules of a delivery schedule a request sets (422 validation_failed naming the field
// under `field`): interval_count 1..52 (weeks) / 1..12 (months) / 1..365 (days) / 1..3
// (years); day_of_week 1..7 only on week intervals; day_of_month 1..28 only on month
// intervals; not both.
recur::Status check_delivery(const Cadence& delivery, const std::string& field);
// The cadence the subscription's periods follow on `plan`: its own schedule, or the plan's.
const Cadence& cadence_of(const Subscription& sub, const catalog::Plan& plan);

// When the lifecycle next needs to act on its own (none for canceled or paused forever).
std::optional<Timestamp> next_action_at(const Subscription& sub);

// Something that happened while advancing a subscription through time.
struct LifecycleEvent {
  std::string type;  // "subscription.started", "subscription.renewed", ...
  Timestamp at = 0;
  Period period;     // the period that began (renewals, starts)
  bool billable = false;  // a period that billing must charge
  std::int64_t amount = 0;  // what the period costs, discounts applied (billable periods)
  std::string currency;
  Json details;
  // Billable periods: what was sold, so an invoice can show the charge and the discount.
  std::string plan;
  std::string plan_name;  // as read in the transaction that began the period (for the invoice line)
  std::int64_t quantity = 0;
  std::int64_t unit_amount = 0;
  std::int64_t sequence = 0;  // the subscription's n-th billed period (1-based): billing's unique key
  std::int64_t percent_off = 0;        // the discount that applied to this period
  std::optional<DiscountSource> discount_source;
  // The subscription's public JSON just before and just after this step, for its event
  // (docs/events.md): filled by advance(..., Snapshots::kTake); null where nobody asked.
  Json before;
  Json after;
  // Billable periods: the add-ons the period's box ships (taken off the subscription).
  std::vector<AddOn> add_ons;
  // The boxes this period's charge pays for: 1, N for a prepaid charge (the amount is N
  // boxes'), 0 for a box an earlier charge paid for (amount 0; `prepaid_by` names it).
  std::int64_t deliveries = 1;
  std::int64_t prepaid_by = 0;  // the sequence of the billed period whose charge covers this box
  std::string prepaid_invoice;  // a covered box paid by no period of its own (a gift's invoice)
  // Billable periods of a plan with a selection: what the customer chose for this box (empty:
  // no choice; inventory picks by the plan's default rule).
  std::vector<catalog::PlanItem> choice;
  // A box an earlier charge paid for (a prepaid charge's or a gift's).
  bool covered() const { return deliveries == 0; }
};

// Whether advance() keeps each step's before/after JSON: only callers that record events
// pay for it (previews and reads do not).
enum class Snapshots { kSkip, kTake };

// The shop's blackout dates: days nothing ships, as days since 1970-01-01 (UTC), sorted.
using ClosedDays = std::vector<std::int64_t>;
// Whether `t` falls on a closed day; `t` or the same time of day on the first open day after.
bool is_closed(const ClosedDays& closed, Timestamp t);
Timestamp next_open(const ClosedDays& closed, Timestamp t);

// What a subscription may need while advancing: its plan, a pending change's, and the
// shop's blackout dates (none: every day is open).
struct PlanLookup {
  const catalog::Plan* current = nullptr;
  const catalog::Plan* pending = nullptr;  // when sub.pending_change is set
  const ClosedDays* closed = nullptr;
};

// Whether a skip asked for the period starting at `skip` applies to `period`, which began
// after a period that started at `previous_start`: previous_start < skip < period.end. So a
// skip names the period by its start, or by the start a blackout date moved it from or to.
bool skip_applies(Timestamp skip, Timestamp previous_start, const Period& period);

// Moves `sub` forward to `now`, applying every due step in order. Pure. A delivery (a
// period's start: a renewal, a trial's end, a scheduled start, a resumption) that falls on
// a blackout date moves to the same time on the next open day, with a
// "subscription.delivery_moved" step {from, to, reason: blackout_date}; the calendar's
// anchor stays, so later deliveries keep their days (docs/subscription-boxes.md). A skip
// of a period that moved still applies to it.
std::vector<LifecycleEvent> advance(Subscription& sub, const PlanLookup& plans, Timestamp now,
                                    Snapshots snapshots = Snapshots::kSkip);

// The end of a new subscription's trial starting at `start`: `requested` when given (`start`
// or earlier: no trial), else the plan's trial_days; nullopt for no trial.
std::optional<Timestamp> trial_end_for(const catalog::Plan& plan, Timestamp start, std::optional<Timestamp> requested);

// Sets up a new subscription from sub.start_date, its trial fixed by trial_end_for(plan,
// start, `trial_end`): scheduled when the start is after `now`, otherwise started
// (trialing until the trial's end, else active and billable at once). A later plan change
// does not change the trial.
std::vector<LifecycleEvent> begin(Subscription& sub, const catalog::Plan& plan, Timestamp now,
                                  std::optional<Timestamp> trial_end = std::nullopt);

// Checkout: a subscription that begun() active with a first period owing money waits,
// incomplete, for that invoice to be paid (Stripe's payment_behavior; a trial, a future start
// or a period that costs nothing after its discount starts as before). True if it now waits.
bool await_first_payment(Subscription& sub, const std::vector<LifecycleEvent>& begun);
// PATCH trial_end: a scheduled subscription's trial becomes [start, trial_end) (none when
// trial_end <= start); a trialing one's ends at trial_end (at `now` when that is past: the
// caller then advances it, which bills the first period). Errors: 409 not_trialing in any
// other status.
recur::Status move_trial_end(Subscription& sub, const catalog::Plan& plan, Timestamp trial_end, Timestamp now);

// Starts a fresh calendar at `at` (a new interval, or a resumption after the paid period):
// the anchor moves to `at`, skips on the old calendar are dropped (listed in the event's
// details), and the new period is billable at once.
LifecycleEvent restart_period(Subscription& sub, const catalog::Plan& plan, Timestamp at);

// Ends a pause at `at`. Inside the paid period the subscription simply carries on; after
// it, a new period starts at `at` (the billing anchor moves to the resumption time).
std::vector<LifecycleEvent> resume(Subscription& sub, const catalog::Plan& plan, Timestamp at);

struct UpcomingPeriod {
  Period period;
  std::int64_t amount = 0;
  std::string currency;
  std::string plan;
  std::int64_t quantity = 1;
  bool trial = false;
  bool skipped = false;
  bool prepaid = false;  // a box an earlier charge paid for (amount 0)
};

// The next `count` periods from the current (or first scheduled) one. Pure.
std::vector<UpcomingPeriod> upcoming(const Subscription& sub, const PlanLookup& plans, int count);

// The next period billing will invoice, as the lifecycle will begin it: the subscription
// then and the period's billable event (a scheduled start, a trial's end, a resumption, a
// renewal, a pending plan or cadence change applied). From the stored state, so a
// renewal already due but not yet run is the next one. None when no period will be billed
// again (canceled, ending at period end, paused without a resumption date). Pure.
struct NextPeriod {
  Subscription sub;
  LifecycleEvent event;
};
// `invoiced`: the next period with an invoice, passing boxes an earlier prepaid charge paid
// for that carry no add-ons (billing issues no invoice for those).
std::optional<NextPeriod> next_billable(const Subscription& sub, const PlanLookup& plans, bool invoiced = false);

// POST /v1/subscriptions/{id}/next-date: the next delivery and charge (the end of the
// current period) moves to `date`, and the calendar goes on from there (the anchor moves to
// `date`; a delivery day follows its weekday or day of the month). `date` must be tomorrow
// or later (by UTC date) and before the delivery after next; skips keep their place (the
// n-th upcoming period skipped stays skipped) and a plan change due at the old date moves
// with it. Active, past_due and unpaid subscriptions only, not one ending at period end.
// Returns the event's details. Errors: 409 invalid_state_transition / subscription_ending,
// 422 invalid_date, 422 no_change.
Result<Json> move_next_date(Subscription& sub, const PlanLookup& plans, Timestamp date, Timestamp now);

// PUT …/boxes/{period_start}/selection: the customer's `items` for the upcoming box that
// starts at `period_start` (one of the next 12, not begun, not skipped, not a trial), on the
// plan that box will be on, until its cut-off (its start less the selection's cutoff_days).
// Replaces an earlier choice for it. Returns the box's period. Errors: 422 invalid_period,
// 409 no_selection (the plan has none), 422 validation_failed (check_choice), 409
// selection_closed. Pure.
Result<Period> make_choice(Subscription& sub, const PlanLookup& plans, Timestamp period_start,
                           std::vector<catalog::PlanItem> items, Timestamp now);
// The cut-off of a box starting at `start` of a plan whose selection closes `cutoff_days` before.
inline Timestamp choice_cutoff(Timestamp start, std::int64_t cutoff_days) {
  return start - cutoff_days * kSecondsPerDay;
}

// Price of one billed period: unit amount * quantity less any discount (see discount_off).
std::int64_t period_amount(const catalog::Plan& plan, std::int64_t quantity, const std::optional<Discount>& discount);

// The period a skip request means: the one starting at `period_start`, or without it the
// first upcoming period not yet skipped. Only the 24 periods after the current one may be
// skipped, never a trial. Errors: 409 nothing_to_skip, 422 invalid_period (no upcoming
// period starts then), 409 period_already_skipped. Pure.
Result<Period> choose_skip(const Subscription& sub, const PlanLookup& plans, std::optional<Timestamp> period_start);

}  // namespace recur::subscriptions
