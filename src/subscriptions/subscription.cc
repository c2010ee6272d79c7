// Pure lifecycle rules over a Subscription; see subscription.h.
#include "subscriptions/subscription.h"

#include <algorithm>

namespace recur::subscriptions {

bool is_cancellation_reason(std::string_view reason) {
  return std::find(std::begin(kCancellationReasons), std::end(kCancellationReasons), reason) !=
         std::end(kCancellationReasons);
}

// ------------------------------------------------------------------ JSON

namespace {

// The field that does not apply is null: percent_off for an amount off, amount_off and
// currency for a percentage.
Json discount_json(const Discount& d) {
  const bool amount = d.amount_off > 0;
  return Json{{"percent_off", amount ? Json(nullptr) : Json(d.percent_off)},
              {"amount_off", amount ? Json(d.amount_off) : Json(nullptr)},
              {"currency", amount ? Json(d.currency) : Json(nullptr)},
              {"cycles_remaining", d.cycles_remaining == kForever ? Json(nullptr) : Json(d.cycles_remaining)},
              {"source", to_json(d.source)},
              {"coupon", to_json_text(d.coupon)},
              {"promotion_code", to_json_text(d.promotion_code)},
              {"applies_to_plans", d.applies_to_plans},
              {"applies_to_tiers", d.applies_to_tiers}};
}

// Documents stored before coupons carry only percent_off, cycles_remaining and source.
Discount discount_from_json(const Json& x) {
  Discount d;
  if (x.at("percent_off").is_number()) d.percent_off = x.at("percent_off");
  d.cycles_remaining = x.at("cycles_remaining").is_null() ? kForever : x.at("cycles_remaining").get<std::int64_t>();
  d.source = discount_source_from_json(x.at("source")).value();
  if (x.contains("amount_off") && x.at("amount_off").is_number()) {
    d.amount_off = x.at("amount_off");
    d.currency = x.at("currency");
  }
  if (x.contains("coupon")) d.coupon = doc_text(x, "coupon");
  if (x.contains("promotion_code")) d.promotion_code = doc_text(x, "promotion_code");
  d.applies_to_plans = x.value("applies_to_plans", std::vector<std::string>{});
  d.applies_to_tiers = x.value("applies_to_tiers", std::vector<std::string>{});
  return d;
}

}  // namespace

Json delivery_json(const std::optional<Cadence>& d) {
  if (!d) return nullptr;
  return Json{{"interval", to_string(d->interval)},
              {"interval_count", d->count},
              {"day_of_week", d->day_of_week ? Json(*d->day_of_week) : Json(nullptr)},
              {"day_of_month", d->day_of_month ? Json(*d->day_of_month) : Json(nullptr)}};
}

std::optional<Cadence> delivery_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  Cadence c{parse_interval(j.at("interval").get<std::string>()).value(), j.at("interval_count").get<int>()};
  if (j.at("day_of_week").is_number()) c.day_of_week = j.at("day_of_week").get<int>();
  if (j.at("day_of_month").is_number()) c.day_of_month = j.at("day_of_month").get<int>();
  return c;
}

recur::Status check_delivery(const Cadence& d, const std::string& field) {
  auto bad = [&](const std::string& sub_field, std::string message) -> recur::Status {
    return Error::invalid("validation_failed", "delivery: " + message,
                          {{field + "." + sub_field, "invalid_value", message}});
  };
  const int most = d.interval == Interval::kDay     ? 365
                   : d.interval == Interval::kWeek  ? 52
                   : d.interval == Interval::kMonth ? 12
                                                    : 3;
  if (d.count < 1 || d.count > most)
    return bad("interval_count", "interval_count must be 1.." + std::to_string(most) + " for " +
                                     std::string(to_string(d.interval)) + " intervals");
  if (d.day_of_week && d.day_of_month) return bad("day_of_month", "give day_of_week or day_of_month, not both");
  if (d.day_of_week && d.interval != Interval::kWeek)
    return bad("day_of_week", "day_of_week applies to week intervals only");
  if (d.day_of_week && (*d.day_of_week < 1 || *d.day_of_week > 7))
    return bad("day_of_week", "day_of_week must be 1 (Monday) .. 7 (Sunday)");
  if (d.day_of_month && d.interval != Interval::kMonth)
    return bad("day_of_month", "day_of_month applies to month intervals only");
  if (d.day_of_month && (*d.day_of_month < 1 || *d.day_of_month > 28))
    return bad("day_of_month", "day_of_month must be 1..28 (every month has those days)");
  return Ok{};
}

bool is_closed(const ClosedDays& closed, Timestamp t) {
  const std::int64_t day = t / kSecondsPerDay - (t % kSecondsPerDay < 0 ? 1 : 0);
  return std::binary_search(closed.begin(), closed.end(), day);
}

Timestamp next_open(const ClosedDays& closed, Timestamp t) {
  while (is_closed(closed, t)) t += kSecondsPerDay;
  return t;
}

Json to_json(const std::optional<Prepaid>& p) {
  if (!p) return nullptr;
  return Json{{"deliveries", p->deliveries},
              {"remaining", p->remaining},
              {"charged_period", p->charged_period},
              {"invoice", p->invoice.empty() ? Json(nullptr) : Json(p->invoice)}};
}

std::optional<Prepaid> prepaid_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  Prepaid p{j.at("deliveries"), j.at("remaining"), j.at("charged_period")};
  if (auto it = j.find("invoice"); it != j.end() && it->is_string()) p.invoice = *it;
  return p;
}

Json choices_json(const std::vector<BoxChoice>& choices) {
  Json out = Json::array();
  for (const auto& c : choices)
    out.push_back({{"period_start", format_rfc3339(c.period_start)},
                   {"items", catalog::to_json(c.items)},
                   {"chosen_at", format_rfc3339(c.chosen_at)}});
  return out;
}

std::vector<BoxChoice> choices_from_json(const Json& j) {
  std::vector<BoxChoice> out;
  if (!j.is_array()) return out;
  for (const auto& c : j) {
    out.push_back({doc_required_time(c, "period_start"), catalog::plan_items_from_json(c.at("items")),
                   doc_required_time(c, "chosen_at")});
  }
  return out;
}

Json to_json(const std::optional<GiftLink>& g) {
  if (!g) return nullptr;
  return Json{{"id", g->id}, {"converted", g->converted}, {"converted_at", to_json_time(g->converted_at)}};
}

std::optional<GiftLink> gift_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  return GiftLink{j.at("id"), j.value("converted", false), doc_time(j, "converted_at")};
}

recur::Status check_prepaid_deliveries(std::int64_t deliveries, const std::string& field) {
  if (deliveries >= 2 && deliveries <= kMaxPrepaidDeliveries) return Ok{};
  std::string message = field + " must be 2.." + std::to_string(kMaxPrepaidDeliveries) +
                        " (deliveries one charge pays for; null for one charge per delivery)";
  return Error::invalid("validation_failed", message, {{field, "invalid_value", message}});
}

bool in_prepaid_box(const Subscription& s) {
  return s.prepaid && s.status != Status::kScheduled && s.status != Status::kTrialing && !s.current_skipped &&
         s.prepaid->charged_period != s.billed_periods;
}

void set_prepaid_deliveries(Subscription& s, std::optional<std::int64_t> deliveries) {
  if (deliveries && s.prepaid) s.prepaid->deliveries = *deliveries;
  // The current period was charged for itself alone: it is the latest charge.
  else if (deliveries) s.prepaid = Prepaid{*deliveries, 0, s.billed_periods};
  else if (s.prepaid) s.prepaid->deliveries = 1;  // the next charge is for one box, and ends it
}

void make_gift(Subscription& s, const std::string& gift, const std::string& invoice, std::int64_t deliveries) {
  s.prepaid = Prepaid{deliveries, deliveries, 0, invoice};
  s.gift = GiftLink{gift, false, std::nullopt};
}

recur::Status convert_gift(Subscription& s, Timestamp now) {
  if (!s.gift || s.gift->converted)
    return Error::conflict("not_a_gift", s.gift ? "the subscription was converted already"
                                                : "only a gift subscription is converted; this one is paid already");
  if (s.status == Status::kCanceled || s.status == Status::kIncompleteExpired)
    return Error::conflict("invalid_state_transition", "the gift subscription has ended: start a new subscription");
  s.gift->converted = true;
  s.gift->converted_at = now;
  // The charge after the gift's boxes is for one box, and ends `prepaid` (set_prepaid_deliveries).
  if (s.prepaid) s.prepaid->deliveries = 1;
  if (s.cancel_at_period_end && s.cancellation && s.cancellation->reason == kGiftEnded) {
    s.cancel_at_period_end = false;
    s.canceled_at.reset();
    s.cancellation.reset();
  }
  return Ok{};
}

const Cadence& cadence_of(const Subscription& s, const catalog::Plan& plan) {
  return s.delivery ? *s.delivery : plan.cadence;
}

Json to_json(const AddOn& a) {
  return Json{{"id", a.id},
              {"product", a.product},
              {"name", a.name},
              {"quantity", a.quantity},
              {"unit_amount", a.unit_amount},
              {"currency", a.currency},
              {"added_at", format_rfc3339(a.added_at)},
              {"discount_percent", a.discount_percent},
              {"invoice_item", text_or_null(a.invoice_item)}};
}

std::optional<std::int64_t> add_on_amount(const AddOn& a) {
  std::int64_t gross = 0;
  if (__builtin_mul_overflow(a.unit_amount, a.quantity, &gross) || gross > (std::int64_t{1} << 50)) return std::nullopt;
  // The member discount, rounded half up (as every percentage off).
  return gross - discount_off(gross, a.currency, Discount{a.discount_percent, 1, {}});
}

namespace {

AddOn add_on_from_json(const Json& j) {
  return AddOn{j.at("id"),
               j.at("product"),
               j.at("name"),
               j.at("quantity"),
               j.at("unit_amount"),
               j.at("currency"),
               doc_required_time(j, "added_at"),
               j.value("discount_percent", std::int64_t{0}),
               j.value("invoice_item", Json()).is_string() ? j.at("invoice_item").get<std::string>() : ""};
}

}  // namespace

Json to_json(const std::optional<DiscountSource>& source) {
  if (!source) return nullptr;
  return Json{{"type", source->type}, {"id", source->id}};
}

std::optional<DiscountSource> discount_source_from_json(const Json& j) {
  if (j.is_null()) return std::nullopt;
  return DiscountSource{j.at("type"), j.at("id")};
}

Json to_json(const Subscription& s) {
  Json pause = nullptr;
  if (s.pause) pause = Json{{"paused_at", format_rfc3339(s.pause->paused_at)}, {"resumes_at", to_json_time(s.pause->resumes_at)}};
  Json cancellation = nullptr;
  if (s.cancellation)
    cancellation = Json{{"reason", s.cancellation->reason},
                        {"comment", s.cancellation->comment ? Json(*s.cancellation->comment) : Json(nullptr)},
                        {"requested_at", format_rfc3339(s.cancellation->requested_at)}};
  Json pending = nullptr;
  if (s.pending_change)
    pending = Json{{"plan", s.pending_change->plan},
                   {"quantity", s.pending_change->quantity},
                   {"effective_at", format_rfc3339(s.pending_change->effective_at)},
                   {"delivery", delivery_json(s.pending_change->delivery)}};
  Json discount = s.discount ? discount_json(*s.discount) : Json(nullptr);
  Json skipped = Json::array();
  for (Timestamp t : s.skipped_periods) skipped.push_back(format_rfc3339(t));
  Json add_ons = Json::array();
  for (const auto& a : s.add_ons) add_ons.push_back(to_json(a));
  return with_envelope(
      Json{{"id", s.id},
           {"object", "subscription"},
           {"status", to_string(s.status)},
           {"customer", s.customer},
           {"plan", s.plan},
           {"quantity", s.quantity},
           {"start_date", format_rfc3339(s.start_date)},
           {"trial_end", to_json_time(s.trial_end)},
           {"billing_cycle_anchor", format_rfc3339(s.billing_cycle_anchor)},
           {"current_period", to_json(s.current)},
           {"current_period_amount", s.current_amount},
           {"currency", s.currency},
           {"current_period_skipped", s.current_skipped},
           {"cancel_at_period_end", s.cancel_at_period_end},
           {"cancel_at", s.cancel_at_period_end ? Json(format_rfc3339(s.current.end)) : Json(nullptr)},
           {"canceled_at", to_json_time(s.canceled_at)},
           {"ended_at", to_json_time(s.ended_at)},
           {"cancellation", cancellation},
           {"pause", pause},
           {"pending_plan_change", pending},
           {"discount", discount},
           {"skipped_periods", skipped},
           {"delivery", delivery_json(s.delivery)},
           {"add_ons", add_ons},
           {"shipping_address", s.shipping_address ? customers::to_json(*s.shipping_address) : Json(nullptr)},
           {"billed_periods", s.billed_periods},
           {"prepaid", to_json(s.prepaid)},
           {"gift", to_json(s.gift)},
           {"choices", choices_json(s.choices)}},
      s);
}

Subscription subscription_from_doc(const Json& d) {
  Subscription s;
  s.id = d.at("id");
  s.customer = d.at("customer");
  s.plan = d.at("plan");
  s.quantity = d.at("quantity");
  s.status = parse_status(d.at("status").get<std::string>()).value();
  s.start_date = doc_required_time(d, "start_date");
  s.trial_end = doc_time(d, "trial_end");
  s.billing_cycle_anchor = doc_required_time(d, "billing_cycle_anchor");
  s.current = period_from_json(d.at("current_period"));
  s.current_amount = d.value("current_period_amount", std::int64_t{0});
  s.currency = d.at("currency");
  s.current_skipped = d.value("current_period_skipped", false);
  s.cancel_at_period_end = d.at("cancel_at_period_end");
  s.canceled_at = doc_time(d, "canceled_at");
  s.ended_at = doc_time(d, "ended_at");
  if (const auto& c = d.at("cancellation"); c.is_object())
    s.cancellation = Cancellation{c.at("reason"), c.at("comment").is_null() ? std::nullopt
                                                                           : std::optional<std::string>(c.at("comment")),
                                  doc_required_time(c, "requested_at")};
  if (const auto& p = d.at("pause"); p.is_object()) s.pause = Pause{doc_required_time(p, "paused_at"), doc_time(p, "resumes_at")};
  if (const auto& p = d.at("pending_plan_change"); p.is_object())
    s.pending_change = PendingChange{p.at("plan"), p.at("quantity"), doc_required_time(p, "effective_at"),
                                     delivery_from_json(p.value("delivery", Json()))};
  if (const auto& x = d.at("discount"); x.is_object()) s.discount = discount_from_json(x);
  for (const auto& t : d.at("skipped_periods")) s.skipped_periods.push_back(parse_rfc3339(t.get<std::string>()).value_or(0));
  s.delivery = delivery_from_json(d.value("delivery", Json()));
  if (auto it = d.find("add_ons"); it != d.end())
    for (const auto& a : *it) s.add_ons.push_back(add_on_from_json(a));
  if (const auto& a = d.at("shipping_address"); a.is_object()) s.shipping_address = customers::address_from_json(a);
  s.billed_periods = d.at("billed_periods");
  s.prepaid = prepaid_from_json(d.value("prepaid", Json()));
  s.gift = gift_from_json(d.value("gift", Json()));
  s.choices = choices_from_json(d.value("choices", Json()));
  read_envelope(d, s);
  return s;
}

// ------------------------------------------------------------------ rules

Discount discount_from(const catalog::Coupon& c, const catalog::PromotionCode* code) {
  Discount d;
  d.percent_off = c.amount_off ? 0 : c.percent_off;
  if (c.amount_off) {
    d.amount_off = c.amount_off->amount;
    d.currency = c.amount_off->currency;
  }
  switch (c.duration) {
    case catalog::CouponDuration::kOnce: d.cycles_remaining = 1; break;
    case catalog::CouponDuration::kRepeating: d.cycles_remaining = c.duration_in_cycles; break;
    case catalog::CouponDuration::kForever: d.cycles_remaining = kForever; break;
  }
  d.source = code ? DiscountSource{"promotion_code", code->id} : DiscountSource{"coupon", c.id};
  d.coupon = c.id;
  if (code) d.promotion_code = code->id;
  d.applies_to_plans = c.applies_to_plans;
  d.applies_to_tiers = c.applies_to_tiers;
  return d;
}

bool discount_admits(const Discount& d, const catalog::Plan& plan) {
  return catalog::admits({d.applies_to_plans, d.applies_to_tiers, d.amount_off > 0 ? d.currency : ""}, plan);
}

namespace {

bool in_effect(const Discount& d) { return d.cycles_remaining > 0 || d.cycles_remaining == kForever; }

}  // namespace

std::int64_t discount_off(std::int64_t gross, std::string_view currency, const std::optional<Discount>& discount) {
  if (!discount || !in_effect(*discount)) return 0;
  if (discount->amount_off > 0) {
    if (discount->currency != currency) return 0;
    return std::min(discount->amount_off, gross);
  }
  return mul_div_round_half_up(gross, discount->percent_off, 100);
}

std::int64_t period_amount(const catalog::Plan& plan, std::int64_t quantity, const std::optional<Discount>& discount) {
  std::int64_t gross = plan.amount * quantity;
  return gross - discount_off(gross, plan.currency, discount);
}

std::optional<Timestamp> next_action_at(const Subscription& s) {
  switch (s.status) {
    case Status::kScheduled: return s.start_date;
    case Status::kTrialing:
    case Status::kActive:
    case Status::kPastDue:
    case Status::kUnpaid: return s.current.end;
    case Status::kPaused: {
      std::optional<Timestamp> due;
      if (s.pause && s.pause->resumes_at) due = s.pause->resumes_at;
      if (s.cancel_at_period_end && (!due || s.current.end < *due)) due = s.current.end;
      return due;
    }
    case Status::kIncomplete: return s.created + kIncompleteWindow;
    case Status::kCanceled:
    case Status::kIncompleteExpired: return std::nullopt;
  }
  return std::nullopt;
}

namespace {

// The plan a subscription is on now: a pending change may already have been applied.
const catalog::Plan& plan_of(const Subscription& s, const PlanLookup& plans) {
  if (plans.pending && s.plan == plans.pending->id) return *plans.pending;
  return *plans.current;
}

// A fresh calendar starting at `at` (see calendar_from): its first period, its anchor.
void reanchor(Subscription& s, const Cadence& cadence, Timestamp at) {
  const Calendar calendar = calendar_from(at, cadence);
  s.billing_cycle_anchor = calendar.anchor;
  s.current = calendar.first;
}

// The choice for the box of s.current: the latest one named before the period's end (a
// choice for a box that never came, paused, applies to the next), taken off with any older.
std::vector<catalog::PlanItem> take_choice(Subscription& s) {
  std::vector<catalog::PlanItem> items;
  auto first_later = std::find_if(s.choices.begin(), s.choices.end(),
                                  [&](const BoxChoice& c) { return c.period_start >= s.current.end; });
  if (first_later != s.choices.begin()) items = std::prev(first_later)->items;
  s.choices.erase(s.choices.begin(), first_later);
  return items;
}

// A box an earlier prepaid charge paid for: it ships, and nothing is charged.
LifecycleEvent covered_period(Subscription& s, const catalog::Plan& plan, std::string type, Timestamp at) {
  LifecycleEvent e{std::move(type), at, s.current, true, 0, plan.currency, nullptr};
  e.plan = plan.id;
  e.plan_name = plan.name;
  e.quantity = s.quantity;
  e.unit_amount = plan.amount;
  e.deliveries = 0;
  e.prepaid_by = s.prepaid->charged_period;
  e.prepaid_invoice = s.prepaid->invoice;
  --s.prepaid->remaining;
  // A gift's last box: the subscription ends after it unless the recipient converts it.
  if (s.gift && !s.gift->converted && s.prepaid->remaining == 0 && !s.cancel_at_period_end) {
    s.cancel_at_period_end = true;
    s.canceled_at = at;
    s.cancellation = Cancellation{std::string(kGiftEnded), std::nullopt, at};
  }
  s.current_amount = 0;
  s.current_skipped = false;
  e.sequence = ++s.billed_periods;
  e.add_ons = std::move(s.add_ons);
  s.add_ons.clear();
  e.choice = take_choice(s);
  return e;
}

LifecycleEvent billable_period(Subscription& s, const catalog::Plan& plan, std::string type, Timestamp at) {
  if (s.prepaid && s.prepaid->remaining > 0) return covered_period(s, plan, std::move(type), at);
  // A prepaid charge pays for `deliveries` boxes at once: the discount applies to the charge.
  const std::int64_t deliveries = s.prepaid ? std::max<std::int64_t>(s.prepaid->deliveries, 1) : 1;
  if (deliveries == 1) s.prepaid.reset();
  LifecycleEvent e{std::move(type), at, s.current, true, period_amount(plan, s.quantity * deliveries, s.discount),
                   plan.currency, nullptr};
  e.plan = plan.id;
  e.plan_name = plan.name;
  e.quantity = s.quantity;
  e.unit_amount = plan.amount;
  e.deliveries = deliveries;
  if (s.discount) {
    e.percent_off = s.discount->percent_off;
    e.discount_source = s.discount->source;
    // Each billed period uses up one cycle; a forever discount never runs out.
    if (s.discount->cycles_remaining != kForever && --s.discount->cycles_remaining <= 0) s.discount.reset();
  }
  s.current_amount = e.amount;
  s.current_skipped = false;
  e.sequence = ++s.billed_periods;
  e.add_ons = std::move(s.add_ons);  // the box of this period ships them
  s.add_ons.clear();
  e.choice = take_choice(s);
  if (s.prepaid) {
    s.prepaid->remaining = deliveries - 1;
    s.prepaid->charged_period = e.sequence;
  }
  return e;
}

LifecycleEvent plain(std::string type, Timestamp at, const Subscription& s, Json details = nullptr) {
  return LifecycleEvent{std::move(type), at, s.current, false, 0, "", std::move(details)};
}

LifecycleEvent end_now(Subscription& s, Timestamp at) {
  s.status = Status::kCanceled;
  s.ended_at = at;
  if (!s.canceled_at) s.canceled_at = at;
  s.cancel_at_period_end = false;
  s.pause.reset();
  s.pending_change.reset();
  s.add_ons.clear();
  return plain("subscription.canceled", at, s, {{"at", "period_end"}});
}

// The first payment did not arrive in time: an end, without a cancellation (the customer
// never had the subscription). Billing voids its invoice, inventory releases its box.
LifecycleEvent expire_incomplete(Subscription& s, Timestamp at) {
  s.status = Status::kIncompleteExpired;
  s.ended_at = at;
  s.cancel_at_period_end = false;
  s.pending_change.reset();
  return plain("subscription.incomplete_expired", at, s, {{"reason", "first_payment_not_made"}});
}

}  // namespace

bool skip_applies(Timestamp skip, Timestamp previous_start, const Period& period) {
  return skip > previous_start && skip < period.end;
}

namespace {

// Takes out a skip of the period s.current, which began after one that started at
// `previous_start`; true if it was skipped (see skip_applies).
bool take_skip(Subscription& s, Timestamp previous_start) {
  auto it = std::find_if(s.skipped_periods.begin(), s.skipped_periods.end(),
                         [&](Timestamp t) { return skip_applies(t, previous_start, s.current); });
  if (it == s.skipped_periods.end()) return false;
  s.skipped_periods.erase(it);
  return true;
}

// A new billed period has begun at s.current (after one that started at `previous_start`):
// bill it, unless the customer skipped it.
LifecycleEvent period_began(Subscription& s, Timestamp previous_start, const catalog::Plan& plan, std::string type,
                            Timestamp at, Json details = nullptr) {
  if (take_skip(s, previous_start)) {
    s.current_amount = 0;
    s.current_skipped = true;
    (void)take_choice(s);  // a skipped box's choice goes with it
    return plain("subscription.period_skipped", at, s, std::move(details));
  }
  auto e = billable_period(s, plan, std::move(type), at);
  e.details = std::move(details);
  return e;
}

// Starts the subscription at `at`: its trial (s.trial_end, fixed when it was created), or
// its first billable period.
LifecycleEvent start_trial_or_period(Subscription& s, const catalog::Plan& plan, Timestamp at) {
  s.billing_cycle_anchor = at;
  if (s.trial_end && *s.trial_end > at) {
    s.status = Status::kTrialing;
    s.current = {at, *s.trial_end};
    s.current_amount = 0;
    s.current_skipped = false;
    return plain("subscription.trial_started", at, s);
  }
  s.trial_end.reset();
  s.status = Status::kActive;
  reanchor(s, cadence_of(s, plan), at);
  return billable_period(s, plan, "subscription.started", at);
}

Json drop_skips(Subscription& s) {
  Json dropped = Json::array();
  for (Timestamp t : s.skipped_periods) dropped.push_back(format_rfc3339(t));
  s.skipped_periods.clear();
  return dropped;
}

// A plan change scheduled for `at` or earlier takes effect as a period begins at `at`.
// Returns what changed (for the event), or null. A new cadence (or delivery day) restarts
// the calendar: the anchor is then `at`'s calendar's (calendar_from).
Json apply_pending_change(Subscription& s, const PlanLookup& plans, Timestamp at) {
  if (!s.pending_change || s.pending_change->effective_at > at || !plans.pending) return nullptr;
  const Cadence before = cadence_of(s, plan_of(s, plans));
  const Cadence after = s.pending_change->delivery.value_or(plans.pending->cadence);
  Json details = Json{{"plan_changed", {{"from", s.plan}, {"to", s.pending_change->plan}}}};
  if (s.pending_change->delivery != s.delivery)
    details["delivery_changed"] = {{"from", delivery_json(s.delivery)},
                                   {"to", delivery_json(s.pending_change->delivery)}};
  s.plan = s.pending_change->plan;
  s.quantity = s.pending_change->quantity;
  s.delivery = s.pending_change->delivery;
  s.pending_change.reset();
  if (s.discount && !discount_admits(*s.discount, *plans.pending)) {
    details["discount_dropped"] = to_json(s.discount->source);
    s.discount.reset();
  }
  if (before != after) {
    s.billing_cycle_anchor = calendar_from(at, after).anchor;
    if (!s.skipped_periods.empty()) details["skips_dropped"] = drop_skips(s);
  }
  return details;
}

// The current period ended: apply a pending plan change, then bill or skip the next one.
LifecycleEvent roll_period(Subscription& s, const PlanLookup& plans, Timestamp at) {
  const Timestamp previous_start = s.current.start;
  Json details = apply_pending_change(s, plans, at);
  const auto& plan = plan_of(s, plans);
  const Cadence& cadence = cadence_of(s, plan);
  // A restarted calendar's first period ends at its anchor (a delivery day after `at`).
  if (s.billing_cycle_anchor > at)
    s.current = {at, s.billing_cycle_anchor};
  else if (s.billing_cycle_anchor == at)
    s.current = {at, period_start(at, cadence, 1)};
  else
    s.current = period_from(s.billing_cycle_anchor, cadence, at);
  s.current.start = at;  // later than the calendar's boundary when a blackout date moved it
  return period_began(s, previous_start, plan, "subscription.renewed", at, std::move(details));
}

LifecycleEvent end_trial(Subscription& s, const PlanLookup& plans, Timestamp at) {
  const Timestamp previous_start = s.current.start;
  Json details = apply_pending_change(s, plans, at);
  const auto& plan = plan_of(s, plans);
  s.status = Status::kActive;
  reanchor(s, cadence_of(s, plan), at);
  return period_began(s, previous_start, plan, "subscription.trial_ended", at, std::move(details));
}

// The next delivery (what next_action_at waits for, when it starts a period) on a blackout
// date moves to the next open day: a step of its own, so the customer can be told.
std::optional<LifecycleEvent> move_off_closed_day(Subscription& s, const PlanLookup& plans, Timestamp now) {
  if (!plans.closed || plans.closed->empty()) return std::nullopt;
  Timestamp* delivery = nullptr;
  switch (s.status) {
    case Status::kScheduled:
      delivery = &s.start_date;
      break;
    case Status::kTrialing:
    case Status::kActive:
    case Status::kPastDue:
    case Status::kUnpaid:
      if (!s.cancel_at_period_end) delivery = &s.current.end;
      break;
    case Status::kPaused:
      if (s.pause && s.pause->resumes_at && !(s.cancel_at_period_end && s.current.end <= *s.pause->resumes_at))
        delivery = &*s.pause->resumes_at;
      break;
    default:
      break;
  }
  if (!delivery || !is_closed(*plans.closed, *delivery)) return std::nullopt;
  const Timestamp from = *delivery, to = next_open(*plans.closed, from);
  *delivery = to;
  // What is due with the delivery moves with it: a trial's end, a plan change due then, and a
  // skip of the period it starts (named by the old start).
  if (s.status == Status::kTrialing && s.trial_end == from) s.trial_end = to;
  if (s.pending_change && s.pending_change->effective_at == from) s.pending_change->effective_at = to;
  std::replace(s.skipped_periods.begin(), s.skipped_periods.end(), from, to);
  if (s.status == Status::kScheduled) {
    // The calendar starts on the open day; a trial keeps its end unless the start passed it.
    s.current.start = s.billing_cycle_anchor = to;
    if (s.current.end <= to) s.current.end = calendar_from(to, cadence_of(s, plan_of(s, plans))).first.end;
  }
  Json details = {{"from", format_rfc3339(from)}, {"to", format_rfc3339(to)}, {"reason", "blackout_date"}};
  return plain("subscription.delivery_moved", std::min(from, now), s, std::move(details));
}

}  // namespace

std::optional<Timestamp> trial_end_for(const catalog::Plan& plan, Timestamp start, std::optional<Timestamp> requested) {
  if (requested) return *requested > start ? requested : std::nullopt;
  if (plan.trial_days > 0) return start + plan.trial_days * kSecondsPerDay;
  return std::nullopt;
}

std::vector<LifecycleEvent> begin(Subscription& s, const catalog::Plan& plan, Timestamp now,
                                  std::optional<Timestamp> trial_end) {
  s.currency = plan.currency;
  s.trial_end = trial_end_for(plan, s.start_date, trial_end);
  if (s.start_date > now) {
    s.status = Status::kScheduled;
    s.billing_cycle_anchor = s.start_date;
    s.current = {s.start_date, s.trial_end ? *s.trial_end : calendar_from(s.start_date, cadence_of(s, plan)).first.end};
    return {plain("subscription.scheduled", now, s)};
  }
  return {start_trial_or_period(s, plan, s.start_date)};
}

bool await_first_payment(Subscription& s, const std::vector<LifecycleEvent>& begun) {
  if (s.status != Status::kActive) return false;
  const bool owes = std::any_of(begun.begin(), begun.end(), [](const LifecycleEvent& e) { return e.billable && e.amount > 0; });
  if (owes) s.status = Status::kIncomplete;
  return owes;
}

recur::Status move_trial_end(Subscription& s, const catalog::Plan& plan, Timestamp trial_end, Timestamp now) {
  if (s.status != Status::kScheduled && s.status != Status::kTrialing)
    return Error::conflict("not_trialing", "trial_end can be changed only before the subscription starts or during "
                                           "its trial; it is " + std::string(to_string(s.status)));
  if (s.status == Status::kScheduled) {
    Timestamp old_end = s.current.end;
    s.trial_end = trial_end > s.start_date ? std::optional<Timestamp>(trial_end) : std::nullopt;
    s.current = {s.start_date, s.trial_end ? *s.trial_end : calendar_from(s.start_date, cadence_of(s, plan)).first.end};
    if (s.pending_change && s.pending_change->effective_at == old_end) s.pending_change->effective_at = s.current.end;
    return Ok{};
  }
  // Trialing: the trial ends then; "now" (or any past time) ends it at once. A plan change
  // scheduled for the trial's end moves with it.
  Timestamp old_end = s.current.end;
  s.trial_end = std::max(trial_end, now);
  s.current.end = *s.trial_end;
  if (s.pending_change && s.pending_change->effective_at == old_end) s.pending_change->effective_at = s.current.end;
  return Ok{};
}

LifecycleEvent restart_period(Subscription& s, const catalog::Plan& plan, Timestamp at) {
  reanchor(s, cadence_of(s, plan), at);
  Json dropped = drop_skips(s);
  auto e = billable_period(s, plan, "subscription.period_started", at);
  if (!dropped.empty()) e.details = Json{{"skips_dropped", dropped}};
  return e;
}

std::vector<LifecycleEvent> resume(Subscription& s, const catalog::Plan& plan, Timestamp at) {
  s.pause.reset();
  if (at < s.current.end) {
    s.status = s.trial_end && at < *s.trial_end ? Status::kTrialing : Status::kActive;
    return {plain("subscription.resumed", at, s)};
  }
  s.status = Status::kActive;
  auto e = restart_period(s, plan, at);
  e.type = "subscription.resumed";
  return {e};
}

std::vector<LifecycleEvent> advance(Subscription& s, const PlanLookup& plans, Timestamp now, Snapshots snapshots) {
  std::vector<LifecycleEvent> out;
  const bool take = snapshots == Snapshots::kTake;
  // Bounded: a subscription left alone for decades still finishes; every step moves time on.
  for (int step = 0; step < 100000; ++step) {
    // Each step's JSON is built once: a step's `before` is the previous step's `after`.
    Json before = !take ? Json() : out.empty() ? to_json(s) : out.back().after;
    if (auto moved = move_off_closed_day(s, plans, now)) {
      out.push_back(std::move(*moved));
      if (take) {
        out.back().before = std::move(before);
        out.back().after = to_json(s);
        before = out.back().after;
      }
    }
    auto due = next_action_at(s);
    if (!due || *due > now) break;
    Timestamp at = *due;
    const std::size_t taken = out.size();
    const auto& plan = plan_of(s, plans);
    switch (s.status) {
      case Status::kScheduled: {
        Json details = apply_pending_change(s, plans, at);
        out.push_back(start_trial_or_period(s, plan_of(s, plans), at));
        if (!details.is_null()) out.back().details = std::move(details);
        break;
      }
      case Status::kTrialing:
        out.push_back(s.cancel_at_period_end ? end_now(s, at) : end_trial(s, plans, at));
        break;
      case Status::kActive:
      case Status::kPastDue:
      case Status::kUnpaid:  // keeps renewing: billing invoices the period without charging it
        out.push_back(s.cancel_at_period_end ? end_now(s, at) : roll_period(s, plans, at));
        break;
      case Status::kPaused:
        if (s.cancel_at_period_end && at == s.current.end) out.push_back(end_now(s, at));
        else for (auto& e : resume(s, plan, at)) out.push_back(std::move(e));
        break;
      case Status::kIncomplete:
        out.push_back(expire_incomplete(s, at));
        break;
      case Status::kCanceled:
      case Status::kIncompleteExpired:
        return out;
    }
    if (take && out.size() > taken) {
      out.back().before = std::move(before);
      out.back().after = to_json(s);
    }
  }
  return out;
}

// ------------------------------------------------------------------ calendar for customers

std::vector<UpcomingPeriod> upcoming(const Subscription& sub, const PlanLookup& plans, int count) {
  std::vector<UpcomingPeriod> out;
  if (sub.status == Status::kCanceled || count <= 0 || !plans.current) return out;
  const auto& plan = plan_of(sub, plans);
  bool trial = sub.status == Status::kTrialing || (sub.status == Status::kScheduled && sub.trial_end.has_value());
  // The current (or first scheduled) period: a scheduled one will be billed at its start,
  // with any discount; a started one shows what it was billed (0 when skipped).
  // (A prepaid one is charged for all its deliveries.)
  const bool started = sub.status != Status::kScheduled;
  const std::int64_t first_charge = sub.quantity * (sub.prepaid ? sub.prepaid->deliveries : 1);
  std::int64_t first_amount = trial ? 0 : started ? sub.current_amount : period_amount(plan, first_charge, sub.discount);
  const bool covered = !trial && in_prepaid_box(sub);
  out.push_back({sub.current, first_amount, plan.currency, sub.plan, sub.quantity, trial,
                 started && sub.current_skipped, covered});

  // Project the future with the same rules the lifecycle runs on.
  Subscription s = sub;
  if (s.status == Status::kScheduled) (void)begin(s, plan, s.start_date, s.trial_end.value_or(s.start_date));
  while (static_cast<int>(out.size()) < count) {
    auto due = next_action_at(s);
    if (!due) break;
    for (const auto& e : advance(s, plans, *due)) {
      bool skipped = e.type == "subscription.period_skipped";
      if (!e.billable && !skipped) continue;
      const auto& now_plan = plan_of(s, plans);
      out.push_back(
          {e.period, skipped ? 0 : e.amount, now_plan.currency, s.plan, s.quantity, false, skipped, e.covered()});
    }
    if (s.status == Status::kCanceled) break;
  }
  if (static_cast<int>(out.size()) > count) out.resize(count);
  return out;
}

std::optional<NextPeriod> next_billable(const Subscription& sub, const PlanLookup& plans, bool invoiced) {
  if (!plans.current) return std::nullopt;
  Subscription s = sub;
  // Skipped periods and unbilled steps (a trial's start, a pause) pass by; a subscription
  // skips at most 24 periods ahead, so this many steps always reach a billed one.
  for (int step = 0; step < 64; ++step) {
    auto due = next_action_at(s);
    if (!due) return std::nullopt;
    for (auto& e : advance(s, plans, *due))
      if (e.billable && !(invoiced && e.covered() && e.add_ons.empty())) return NextPeriod{s, std::move(e)};
    if (s.status == Status::kCanceled) return std::nullopt;
  }
  return std::nullopt;
}

Result<Period> make_choice(Subscription& sub, const PlanLookup& plans, Timestamp period_start,
                           std::vector<catalog::PlanItem> items, Timestamp now) {
  constexpr int kAhead = 12;
  const auto periods = upcoming(sub, plans, kAhead + 1);
  // The current period's box began already (a scheduled subscription's first has not).
  const std::size_t first = sub.status == Status::kScheduled ? 0 : 1;
  const UpcomingPeriod* box = nullptr;
  for (std::size_t i = first; i < periods.size(); ++i)
    if (periods[i].period.start == period_start && !periods[i].skipped && !periods[i].trial) box = &periods[i];
  if (!box)
    return Error::invalid("invalid_period",
                          "no box of the next " + std::to_string(kAhead) + " starts at " +
                              format_rfc3339(period_start) + " (GET …/boxes lists them)",
                          {{"period_start", "invalid_value", "the start of an upcoming box"}});
  const catalog::Plan* plan = plans.pending && box->plan == plans.pending->id ? plans.pending : plans.current;
  if (!plan->selection)
    return Error::conflict("no_selection", "plan " + plan->id + " has no selection: its boxes are not chosen");
  RECUR_TRY(catalog::check_choice(*plan->selection, items));
  const Timestamp cutoff = choice_cutoff(box->period.start, plan->selection->cutoff_days);
  if (now >= cutoff)
    return Error::conflict("selection_closed", "the choice for the box of " + format_rfc3339(box->period.start) +
                                                   " closed at " + format_rfc3339(cutoff));
  std::erase_if(sub.choices, [&](const BoxChoice& c) { return c.period_start == period_start; });
  sub.choices.push_back({period_start, std::move(items), now});
  std::sort(sub.choices.begin(), sub.choices.end(),
            [](const BoxChoice& a, const BoxChoice& b) { return a.period_start < b.period_start; });
  return box->period;
}

Result<Period> choose_skip(const Subscription& sub, const PlanLookup& plans, std::optional<Timestamp> period_start) {
  // The current period comes first in `upcoming`; it cannot be skipped.
  auto periods = upcoming(sub, plans, 25);
  std::vector<UpcomingPeriod> candidates;
  for (std::size_t i = 1; i < periods.size(); ++i)
    if (!periods[i].trial) candidates.push_back(periods[i]);
  if (candidates.empty()) return Error::conflict("nothing_to_skip", "the subscription has no upcoming period to skip");
  const UpcomingPeriod* target = nullptr;
  for (const auto& c : candidates) {
    if (period_start ? c.period.start == *period_start : !c.skipped) {
      target = &c;
      break;
    }
  }
  if (!target) {
    // Say which starts would do: the next few that can still be skipped.
    std::string starts;
    int listed = 0;
    for (const auto& c : candidates) {
      if (c.skipped) continue;
      if (listed == 3) {
        starts += ", ...";
        break;
      }
      starts += (listed++ ? ", " : "") + format_rfc3339(c.period.start);
    }
    return Error::invalid("invalid_period",
                          "period_start must be the start of one of the next 24 periods, such as " + starts,
                          {{"period_start", "invalid_period", "not the start of an upcoming period; the next are " + starts}});
  }
  if (target->skipped)
    return Error::conflict("period_already_skipped", "the period starting " + format_rfc3339(target->period.start) +
                                                         " is already skipped");
  return target->period;
}

}  // namespace recur::subscriptions

namespace recur::subscriptions {

Result<Json> move_next_date(Subscription& s, const PlanLookup& plans, Timestamp date, Timestamp now) {
  if (s.status != Status::kActive && s.status != Status::kPastDue && s.status != Status::kUnpaid)
    return Error::conflict(
        "invalid_state_transition",
        "the next date can be moved only on an active, past_due or unpaid subscription; this one is " +
            std::string(to_string(s.status)) + (s.status == Status::kTrialing ? " (move its trial_end instead)" : ""));
  if (s.cancel_at_period_end)
    return Error::conflict("subscription_ending", "the subscription ends at the end of its period (" +
                                                      format_rfc3339(s.current.end) + "): reactivate it first");
  const Timestamp tomorrow = (now / kSecondsPerDay + 1) * kSecondsPerDay;
  if (date < tomorrow)
    return Error::invalid("invalid_date", "the next date must be tomorrow or later",
                          {{"date", "out_of_range", "must be on or after " + format_rfc3339(tomorrow)}});
  if (plans.closed && is_closed(*plans.closed, date))
    return Error::invalid(
        "invalid_date",
        "the shop ships nothing on " + format_rfc3339(date).substr(0, 10) + " (a blackout date): choose another day",
        {{"date", "out_of_range", "a blackout date"}});
  // Without its skips the calendar shows every period; the skips are put back by position.
  Subscription plain_calendar = s;
  plain_calendar.skipped_periods.clear();
  const auto before = upcoming(plain_calendar, plans, 26);
  if (before.size() < 3) return Error::internal("subscription " + s.id + " has no calendar to move");
  const Timestamp following = before[2].period.start;  // the delivery after next
  if (date >= following)
    return Error::invalid(
        "invalid_date",
        "the next date must be before the delivery after it (" + format_rfc3339(following) + "); skip a period instead",
        {{"date", "out_of_range", "must be before " + format_rfc3339(following)}});
  if (date == s.current.end)
    return Error::invalid("no_change", "the next delivery is already on " + format_rfc3339(date),
                          {{"date", "no_change", "already the next date"}});
  std::vector<std::size_t> skipped_at;  // positions in `before` of the skipped periods
  for (std::size_t i = 1; i < before.size(); ++i)
    for (Timestamp t : s.skipped_periods)
      if (skip_applies(t, before[i - 1].period.start, before[i].period)) {
        skipped_at.push_back(i);
        break;
      }

  const Timestamp old_end = s.current.end;
  s.current.end = date;
  s.billing_cycle_anchor = date;
  // A delivery day follows the new date (a day of the month past the 28th drops it), and so
  // does a pending plan change's that keeps the schedule (it moves with the date too).
  const bool pending_keeps_schedule = s.pending_change && s.pending_change->delivery == s.delivery;
  if (s.pending_change && s.pending_change->effective_at == old_end) s.pending_change->effective_at = date;
  if (s.delivery && s.delivery->day_of_week) s.delivery->day_of_week = iso_weekday(date);
  if (s.delivery && s.delivery->day_of_month) {
    const unsigned day = to_civil(date).date.day;
    if (day <= 28)
      s.delivery->day_of_month = static_cast<int>(day);
    else
      s.delivery->day_of_month.reset();
  }
  if (pending_keeps_schedule) s.pending_change->delivery = s.delivery;
  plain_calendar = s;
  plain_calendar.skipped_periods.clear();
  const auto after = upcoming(plain_calendar, plans, 26);
  Json moved = Json::array();
  s.skipped_periods.clear();
  for (std::size_t i : skipped_at) {
    if (i >= after.size()) continue;
    s.skipped_periods.push_back(after[i].period.start);
    moved.push_back({{"from", format_rfc3339(before[i].period.start)}, {"to", format_rfc3339(after[i].period.start)}});
  }
  return Json{{"from", format_rfc3339(old_end)}, {"to", format_rfc3339(date)}, {"skips_moved", moved}};
}

}  // namespace recur::subscriptions
