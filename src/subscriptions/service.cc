// Subscription use cases; see service.h.
#include "subscriptions/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "catalog/service.h"
#include "catalog/store.h"
#include "customers/service.h"
#include "platform/ids.h"
#include "platform/parallel.h"
#include "subscriptions/retention_store.h"

namespace recur::subscriptions {

struct SubscriptionService::Loaded {
  Subscription sub;
  catalog::Plan plan;
  std::optional<catalog::Plan> pending;  // the plan of a scheduled change
  ClosedDays closed;                     // the shop's blackout dates
  std::int64_t stored_version = 0;

  PlanLookup lookup() const { return PlanLookup{&plan, pending ? &*pending : nullptr, &closed}; }
  // The plan the subscription is on after any applied pending change.
  const catalog::Plan& current_plan() const { return pending && sub.plan == pending->id ? *pending : plan; }
};

namespace {

// A plan that ships goods needs somewhere to ship them: the subscription's own address or
// its customer's default (never a shipment with `address: null`).
recur::Status check_ships_somewhere(const catalog::Plan& plan, bool has_address) {
  if ((plan.items.empty() && !plan.selection) || has_address) return Ok{};
  return Error::invalid("shipping_address_required",
                        "plan " + plan.id + " ships a box: give the subscription a shipping_address, or the customer one",
                        {{"shipping_address", "required", "required for a plan that ships goods (or set the customer's)"}});
}

// A gift's subscription its recipient has not converted: nothing but conversion keeps it
// going past the gift's last box (`ending_only`: refused only once that end is set), and its
// boxes hold what was paid for (409 gift_not_converted).
recur::Status gift_converted_or_refuse(const Subscription& sub, bool ending_only = true) {
  if (!sub.gift || sub.gift->converted) return Ok{};
  if (ending_only && !(sub.cancellation && sub.cancellation->reason == kGiftEnded)) return Ok{};
  return Error::conflict("gift_not_converted", "subscription " + sub.id +
                                                   " is a gift: convert it (POST /v1/subscriptions/" + sub.id +
                                                   "/convert) to carry on or change it as a paid subscription");
}

Error not_found(const std::string& id) {
  return Error::not_found("subscription_not_found", no_object_message("subscription", "sub", id));
}

recur::Status allowed(const Subscription& sub, Action action) {
  TransitionContext ctx{sub.cancel_at_period_end, false};
  auto next = transition(sub.status, action, ctx);
  if (!next.ok()) return std::move(next).error();
  return Ok{};
}

Json preview_json(const ChangePreview& p);

// Marks the period to skip (the one starting at `period_start`, else the next one not
// skipped yet) and returns it.
Result<Period> add_skip(Subscription& sub, const PlanLookup& plans, std::optional<Timestamp> period_start) {
  RECUR_ASSIGN(Period period, choose_skip(sub, plans, period_start));
  sub.skipped_periods.push_back(period.start);
  std::sort(sub.skipped_periods.begin(), sub.skipped_periods.end());
  return period;
}

// When a new subscription's first box ships: its start, or the end of its trial.
Timestamp first_box_at(const Subscription& sub) { return sub.trial_end.value_or(sub.start_date); }

// A trial_end sent for a subscription (or trial) from `start`: "now", or a time after it
// within kMaxTrialDays.
recur::Status check_trial_end(std::optional<Timestamp> trial_end, Timestamp start) {
  if (!trial_end || *trial_end == kTrialEndNow) return Ok{};
  if (*trial_end <= start)
    return Error::invalid("validation_failed", "trial_end must be after the start, or \"now\" for no trial",
                          {{"trial_end", "out_of_range", "must be after " + format_rfc3339(start) + ", or \"now\""}});
  if (*trial_end > start + kMaxTrialDays * kSecondsPerDay)
    return Error::invalid("validation_failed", "a trial lasts at most " + std::to_string(kMaxTrialDays) + " days",
                          {{"trial_end", "out_of_range",
                            "must be on or before " + format_rfc3339(start + kMaxTrialDays * kSecondsPerDay)}});
  return Ok{};
}

// A scheduler run stores all its steps as one new version of the row: each step's object
// shows that `version` and `updated`, and only the first step's `before` the version read.
void show_stored_version(std::vector<LifecycleEvent>& steps, const Subscription& stored) {
  auto stamp = [&](Json& doc) {
    if (!doc.is_object()) return;
    doc["version"] = stored.version;
    doc["updated"] = format_rfc3339(stored.updated);
  };
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (i > 0) stamp(steps[i].before);
    stamp(steps[i].after);
  }
}

}  // namespace

Result<catalog::Plan> plan_for_subscribing(db::Tx& tx, const std::string& id, const std::string& field) {
  RECUR_ASSIGN(auto plan, catalog::find_plan(tx, id));
  if (!plan)
    return Error::invalid("plan_not_found", no_object_message("plan", "plan", id), {{field, "not_found", "no such plan"}});
  if (!plan->active)
    return Error::invalid("plan_inactive", "plan '" + id + "' is archived and takes no new subscriptions",
                          {{field, "inactive", "the plan is archived"}});
  return *plan;
}

namespace {

Result<catalog::Plan> plan_sold(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto plan, catalog::find_plan(tx, id));
  if (!plan) return Error::internal("plan " + id + " is gone");
  return *plan;
}

}  // namespace

// ------------------------------------------------------------------ plumbing

Result<SubscriptionService::Loaded> SubscriptionService::load(db::Tx& tx, const std::string& id, bool for_update) {
  RECUR_ASSIGN(auto found, find(tx, id, for_update));
  if (!found) return not_found(id);
  Loaded l;
  l.sub = std::move(*found);
  l.stored_version = l.sub.version;
  RECUR_ASSIGN(auto plan, catalog::find_plan(tx, l.sub.plan));
  if (!plan) return Error::internal("subscription " + id + " refers to a missing plan");
  l.plan = std::move(*plan);
  // A box's selection is the plan's with its tier's extra choices (the box size).
  if (l.plan.selection) {
    RECUR_ASSIGN(l.plan.selection, catalog::box_selection(tx, l.plan));
  }
  if (l.sub.pending_change) {
    RECUR_ASSIGN(auto pending, catalog::find_plan(tx, l.sub.pending_change->plan));
    if (!pending) return Error::internal("subscription " + id + " has a pending change to a missing plan");
    l.pending = std::move(*pending);
    if (l.pending->selection) {
      RECUR_ASSIGN(l.pending->selection, catalog::box_selection(tx, *l.pending));
    }
  }
  RECUR_ASSIGN(l.closed, closed_days(tx));
  return l;
}

recur::Status SubscriptionService::record_lifecycle(db::Tx& tx, const Subscription& sub,
                                                    std::vector<LifecycleEvent> happened, bool at_signup) {
  for (auto& e : happened) {
    // effective_at: when the step happened by the lifecycle's clock (a renewal at its period's
    // start, a period-end cancellation at the period's end), however late the scheduler ran.
    Json details = {{"period", to_json(e.period)}, {"billable", e.billable}, {"effective_at", format_rfc3339(e.at)}};
    if (e.billable) {
      details["amount"] = e.amount;
      details["currency"] = e.currency;
    }
    if (e.details.is_object()) details.update(e.details);
    Json after = e.after.is_object() ? std::move(e.after) : to_json(sub);
    RECUR_TRY(events_.record(tx, e.type, sub.id, events::Actor::system(), std::move(e.before), std::move(after),
                             std::move(details)));
    if (e.billable && billing_) RECUR_TRY(billing_->period_began(tx, sub, e));
    if (e.billable && fulfilment_) RECUR_TRY(fulfilment_->period_began(tx, sub, e, at_signup));
    if (e.type == "subscription.incomplete_expired") RECUR_TRY(ended_at_once(tx, sub, ""));
  }
  return Ok{};
}

Result<Subscription> SubscriptionService::mutate(const std::string& id, std::optional<std::int64_t> expected_version,
                                                 const events::Actor& actor, const std::string& event_type,
                                                 const Change& change) {
  return db::transact(db_, [&](db::Tx& tx) { return mutate_in(tx, id, expected_version, actor, event_type, change); });
}

Result<Subscription> SubscriptionService::mutate_in(db::Tx& tx, const std::string& id,
                                                    std::optional<std::int64_t> expected_version,
                                                    const events::Actor& actor, const std::string& event_type,
                                                    const Change& change) {
  RECUR_ASSIGN(Loaded l, load(tx, id, true));
  // "Now" is read once the row is ours: a scheduler run we waited for is in the past.
  Timestamp now = std::max(clock_.now(), l.sub.updated);
  if (expected_version && *expected_version != l.stored_version)
    return version_conflict("the subscription", *expected_version, l.stored_version);
  RECUR_TRY(record_lifecycle(tx, l.sub, advance(l.sub, l.lookup(), now, Snapshots::kTake)));
  Json before = to_json(l.sub);
  RECUR_ASSIGN(Json details, change(l, tx, now));
  l.sub.updated = now;
  l.sub.version = l.stored_version + 1;
  RECUR_ASSIGN(bool stored, subscriptions::update(tx, l.sub, l.stored_version));
  if (!stored) return version_conflict("the subscription", l.stored_version, l.stored_version + 1);
  RECUR_TRY(events_.record(tx, event_type, id, actor, std::move(before), to_json(l.sub), std::move(details)));
  return l.sub;
}

// ------------------------------------------------------------------ CRUD

Result<Subscription> SubscriptionService::create(const CreateInput& in, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) { return create_in(tx, in, actor); });
}

Result<Subscription> SubscriptionService::create_in(db::Tx& tx, const CreateInput& in, const events::Actor& actor) {
  Timestamp now = clock_.now();
  if (in.prepaid_deliveries) RECUR_TRY(check_prepaid_deliveries(*in.prepaid_deliveries, "prepaid_deliveries"));
  if (in.start_date && *in.start_date < now - 300)
    return Error::invalid("validation_failed", "start_date must not be in the past",
                          {{"start_date", "in_the_past", "start_date must be now or later"}});
  RECUR_TRY(check_trial_end(in.trial_end, std::max(in.start_date.value_or(now), now)));
  {
    // Locked: an erasure (app/data_subject.cc) locks the row too before it checks that no
    // subscription is live, so none can start between that check and the erasure.
    RECUR_ASSIGN(auto customer, customers::lock_customer(tx, in.customer));
    if (!customer)
      return Error::invalid("customer_not_found", no_object_message("customer", "cus", in.customer),
                            {{"customer", "not_found", "no such customer"}});
    if (customer->erased_at)
      return Error::conflict("customer_erased", "customer " + in.customer + " was erased: nothing can be sold to them");
    // A gift's plan was sold with it: archived since, it still ships what was paid for.
    RECUR_ASSIGN(auto plan, in.gift ? plan_sold(tx, in.plan) : plan_for_subscribing(tx, in.plan, "plan"));
    RECUR_TRY(check_ships_somewhere(plan, in.shipping_address.has_value() || customer->shipping_address.has_value()));
    Subscription sub;
    sub.id = ids_.next("sub");
    sub.customer = in.customer;
    sub.plan = in.plan;
    sub.quantity = in.quantity;
    sub.start_date = std::max(in.start_date.value_or(now), now);
    sub.shipping_address = in.shipping_address;
    sub.metadata = in.metadata;
    sub.delivery = in.delivery;
    if (in.prepaid_deliveries) sub.prepaid = Prepaid{*in.prepaid_deliveries, 0, 0};
    if (in.gift) make_gift(sub, in.gift->id, in.gift->invoice, in.gift->deliveries);
    sub.created = sub.updated = now;
    if (in.coupon || in.promotion_code) {
      RECUR_ASSIGN(sub.discount, redeem(tx, sub, plan, in.coupon, in.promotion_code, now));
    }
    auto happened = begin(sub, plan, now, in.trial_end);
    if (in.await_first_payment) (void)await_first_payment(sub, happened);
    RECUR_TRY(insert(tx, sub, in.request_key));
    RECUR_TRY(events_.record(tx, "subscription.created", sub.id, actor, nullptr, to_json(sub)));
    RECUR_TRY(record_lifecycle(tx, sub, happened, true));
    // The first box ships later (a future start or a trial): it must be coverable by then.
    bool billed_now = std::any_of(happened.begin(), happened.end(), [](const auto& e) { return e.billable; });
    if (fulfilment_ && !billed_now) RECUR_TRY(fulfilment_->check_first_shipment(tx, sub, plan, first_box_at(sub)));
    return sub;
  }
}

Result<std::optional<Subscription>> SubscriptionService::created_by_request(const std::string& request_key) {
  if (request_key.empty()) return std::optional<Subscription>();
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<Subscription>> {
    RECUR_ASSIGN(auto id, find_by_request(tx, request_key, clock_.now()));
    if (!id) return std::optional<Subscription>();
    return find(tx, *id, false);
  }, db::TxMode::kReadOnly);
}

Result<Subscription> SubscriptionService::get(const std::string& id) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Subscription> {
    RECUR_ASSIGN(Loaded l, load(tx, id, false));
    // Shown as of now even if the scheduler has not stored the due steps yet; the
    // version stays the stored one, which is what an update must send.
    (void)advance(l.sub, l.lookup(), now);
    return l.sub;
  }, db::TxMode::kReadOnly);
}

Result<RenderedSubscription> SubscriptionService::get_rendered(const std::string& id) {
  Timestamp now = clock_.now();
  return db::transact(
      db_,
      [&](db::Tx& tx) -> Result<RenderedSubscription> {
        RECUR_ASSIGN(Loaded l, load(tx, id, false));
        auto due = next_action_at(l.sub);
        bool moved = !advance(l.sub, l.lookup(), now).empty() || (due && *due <= now);
        RenderedSubscription out{to_json(l.sub).dump(), l.sub.version};
        // Shown as stored until its next step is due: cached until then at the latest.
        auto* views = tx.attached<SubscriptionViewCache>();
        if (views && !moved) views->cache.fill(tx, id, out, due);
        return out;
      },
      db::TxMode::kReadOnly);
}

std::optional<RenderedSubscription> SubscriptionService::cached_rendering(const std::string& id) {
  auto* views = db_.attached<SubscriptionViewCache>();
  return views ? views->cache.peek(id) : std::nullopt;
}

Result<Page<Subscription>> SubscriptionService::list(const ListFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return subscriptions::list(tx, filter); }, db::TxMode::kReadOnly);
}

Result<Subscription> SubscriptionService::update(const std::string& id, const UpdateInput& in,
                                                 std::int64_t expected_version, const events::Actor& actor) {
  if (in.prepaid_deliveries && *in.prepaid_deliveries)
    RECUR_TRY(check_prepaid_deliveries(**in.prepaid_deliveries, "prepaid_deliveries"));
  return mutate(id, expected_version, actor, "subscription.updated", [&](Loaded& l, db::Tx& tx, Timestamp now) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kUpdate));
    // The other fields first: a trial ended now bills and ships the first period with them.
    // A gift's boxes hold the quantity its purchaser paid for.
    if (in.quantity && *in.quantity != l.sub.quantity) RECUR_TRY(gift_converted_or_refuse(l.sub, false));
    if (in.quantity) l.sub.quantity = *in.quantity;
    if (in.shipping_address) l.sub.shipping_address = *in.shipping_address;
    if (in.metadata) l.sub.metadata = *in.metadata;
    if (in.prepaid_deliveries) set_prepaid_deliveries(l.sub, *in.prepaid_deliveries);
    if (in.trial_end) {
      RECUR_TRY(check_trial_end(in.trial_end, l.sub.status == Status::kScheduled ? l.sub.start_date : now));
      RECUR_TRY(move_trial_end(l.sub, l.plan, *in.trial_end, now));
      // A trial ended now bills the first period at once, as its end would have.
      RECUR_TRY(record_lifecycle(tx, l.sub, advance(l.sub, l.lookup(), now, Snapshots::kTake)));
    }
    return Json(nullptr);
  });
}

recur::Status SubscriptionService::remove(const std::string& id, std::optional<std::int64_t> expected_version,
                                   const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    RECUR_ASSIGN(Loaded l, load(tx, id, true));
    if (expected_version && *expected_version != l.stored_version)
      return version_conflict("the subscription", *expected_version, l.stored_version);
    (void)advance(l.sub, l.lookup(), clock_.now());  // a start that is due counts as billed
    RECUR_TRY(allowed(l.sub, Action::kDelete));
    if (l.sub.billed_periods > 0)
      return Error::conflict("subscription_has_billing_history",
                             "a subscription that has been billed cannot be deleted; cancel it instead "
                             "(POST /v1/subscriptions/" + id + "/cancel)");
    RECUR_TRY(subscriptions::remove(tx, id));
    RECUR_TRY(events_.record(tx, "subscription.deleted", id, actor, to_json(l.sub), nullptr));
    return Ok{};
  });
}

// ------------------------------------------------------------------ lifecycle actions

Result<Subscription> SubscriptionService::pause(const std::string& id, std::optional<Timestamp> resumes_at,
                                                std::optional<std::int64_t> expected_version,
                                                const events::Actor& actor) {
  if (resumes_at && *resumes_at <= clock_.now())
    return Error::invalid("validation_failed", "resumes_at must be in the future",
                          {{"resumes_at", "in_the_past", "resumes_at must be after now"}});
  return mutate(id, expected_version, actor, "subscription.paused", [&](Loaded& l, db::Tx&, Timestamp now) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kPause));
    l.sub.status = Status::kPaused;
    l.sub.pause = Pause{now, resumes_at};
    return Json{{"resumes_at", to_json_time(resumes_at)}};
  });
}

Result<Subscription> SubscriptionService::resume(const std::string& id, std::optional<std::int64_t> expected_version,
                                                 const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.resumed", [&](Loaded& l, db::Tx& tx, Timestamp now) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kResume));
    Json paused = to_json(l.sub);
    auto happened = subscriptions::resume(l.sub, l.current_plan(), now);
    Json details = {{"new_period", !happened.empty() && happened[0].billable}};
    // The resumption's own record is the actor's event; only a new billed period is added.
    if (!happened.empty() && happened[0].billable) {
      happened[0].type = "subscription.period_started";
      happened[0].before = std::move(paused);
      RECUR_TRY(record_lifecycle(tx, l.sub, std::move(happened)));
    }
    return details;
  });
}

Result<Subscription> SubscriptionService::skip(const std::string& id, std::optional<Timestamp> period_start,
                                               std::optional<std::int64_t> expected_version,
                                               const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.skipped", [&](Loaded& l, db::Tx&, Timestamp) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kSkip));
    RECUR_ASSIGN(Period period, add_skip(l.sub, l.lookup(), period_start));
    return Json{{"period", to_json(period)}};
  });
}

Result<Subscription> SubscriptionService::move_next_date(const std::string& id, Timestamp date,
                                                         std::optional<std::int64_t> expected_version,
                                                         const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.next_date_moved",
                [&](Loaded& l, db::Tx&, Timestamp now) -> Result<Json> {
                  return subscriptions::move_next_date(l.sub, l.lookup(), date, now);
                });
}

Result<std::vector<SubscriptionService::Box>> SubscriptionService::boxes(const std::string& id, int count) {
  const Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::vector<Box>> {
    RECUR_ASSIGN(Loaded l, load(tx, id, false));
    (void)advance(l.sub, l.lookup(), now);  // as of now, as get() shows it
    std::vector<Box> out;
    std::int64_t sequence = l.sub.billed_periods;  // the box's number as the lifecycle will give it
    std::size_t next_choice = 0;                   // l.sub.choices are in box order
    const auto periods = subscriptions::upcoming(l.sub, l.lookup(), count + 2);
    const std::size_t first = l.sub.status == Status::kScheduled ? 0 : 1;  // the current box began
    for (std::size_t i = first; i < periods.size() && static_cast<int>(out.size()) < count; ++i) {
      if (periods[i].trial) continue;
      if (!periods[i].skipped) ++sequence;  // a skipped period bills nothing and gets no number
      Box box{periods[i]};
      // The choice the box will take, by the lifecycle's rule (take_choice): the latest named
      // before its end and not taken by an earlier box (a skipped box's goes with it).
      std::optional<std::vector<catalog::PlanItem>> choice;
      while (next_choice < l.sub.choices.size() && l.sub.choices[next_choice].period_start < periods[i].period.end)
        choice = l.sub.choices[next_choice++].items;
      const catalog::Plan& plan = l.pending && periods[i].plan == l.pending->id ? *l.pending : l.plan;
      if (plan.selection && !periods[i].skipped) {
        box.has_selection = true;
        box.cutoff_at = choice_cutoff(periods[i].period.start, plan.selection->cutoff_days);
        box.open = now < box.cutoff_at;
        if (choice && check_choice(*plan.selection, *choice).ok()) {
          box.items = *choice;
          box.chosen = true;
        }
        if (fulfilment_) {
          RECUR_ASSIGN(box.options, fulfilment_->box_options(tx, *plan.selection, l.sub.quantity,
                                                             periods[i].period.start));
          if (!box.chosen) {
            RECUR_ASSIGN(box.items, fulfilment_->default_choice(tx, l.sub, *plan.selection, sequence,
                                                                periods[i].period.start));
          }
        }
      }
      out.push_back(std::move(box));
    }
    return out;
  }, db::TxMode::kReadOnly);
}

Result<Subscription> SubscriptionService::choose_box(const std::string& id, Timestamp period_start,
                                                     std::vector<catalog::PlanItem> items,
                                                     std::optional<std::int64_t> expected_version,
                                                     const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.box_chosen",
                [&](Loaded& l, db::Tx& tx, Timestamp now) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kUpdate));
    for (std::size_t i = 0; i < items.size(); ++i) {
      RECUR_ASSIGN(auto product, catalog::find_product_by_key(tx, items[i].product));
      if (!product)
        return Error::invalid("validation_failed", "no product with id or SKU '" + items[i].product + "'",
                              {{"items[" + std::to_string(i) + "].product", "not_found", "no such product"}});
      items[i].product = product->id;
    }
    RECUR_ASSIGN(Period box, make_choice(l.sub, l.lookup(), period_start, items, now));
    // Only what can be had by the box's day is offered (409 out_of_stock with alternatives):
    // the box ships the choice times the subscription's quantity.
    if (fulfilment_) {
      std::vector<catalog::PlanItem> shipped = items;
      for (auto& i : shipped) i.quantity *= l.sub.quantity;
      RECUR_TRY(fulfilment_->check_extras(tx, shipped, box.start));
    }
    return Json{{"period", to_json(box)}, {"items", catalog::to_json(items)}};
  });
}

Result<Subscription> SubscriptionService::add_on(const std::string& id, const AddOnInput& in,
                                                 std::optional<std::int64_t> expected_version,
                                                 const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.add_on_added",
                [&](Loaded& l, db::Tx& tx, Timestamp now) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kUpdate));
    RECUR_ASSIGN(auto product, catalog::find_product_by_key(tx, in.product));
    if (!product)
      return Error::invalid("validation_failed", "no product with id or SKU '" + in.product + "'",
                            {{"product", "not_found", "no such product"}});
    if (!product->active)
      return Error::invalid("validation_failed", "product " + product->id + " is archived",
                            {{"product", "inactive", "the product is archived"}});
    if (!product->price)
      return Error::invalid("validation_failed", "product " + product->id + " has no price to charge for it",
                            {{"product", "invalid_value", "an add-on needs a product with a price"}});
    if (product->price->currency != l.sub.currency)
      return Error::invalid("currency_mismatch", "product " + product->id + " is priced in " +
                                                     product->price->currency + ", the subscription in " +
                                                     l.sub.currency,
                            {{"product", "currency_mismatch", "priced in another currency"}});
    // The next billed period: its invoice charges the add-on and its box ships it.
    auto next = next_billable(l.sub, l.lookup());
    if (!next)
      return Error::conflict("no_upcoming_box", "subscription " + id + " has no upcoming box to add to (it is " +
                                                    std::string(to_string(l.sub.status)) +
                                                    (l.sub.cancel_at_period_end ? ", ending at period end)" : ")"));
    const Period period = next->event.period;
    if (fulfilment_) RECUR_TRY(fulfilment_->check_extras(tx, {{product->id, in.quantity}}, period.start));
    AddOn a{ids_.next("ao"), product->id, product->name, in.quantity, product->price->amount, l.sub.currency, now};
    // The member discount of the tier of the plan the box is on.
    const catalog::Plan& box_plan = l.pending && next->event.plan == l.pending->id ? *l.pending : l.plan;
    RECUR_ASSIGN(auto tier, catalog::tier_of(tx, box_plan));
    if (tier) a.discount_percent = tier->entitlements.add_on_discount_percent;
    auto total = add_on_amount(a);
    if (!total)
      return Error::invalid("amount_too_large", "the add-on's price times its quantity is too large",
                            {{"quantity", "out_of_range", "too large for its price"}});
    if (billing_) {
      std::string line = "Add-on: " + a.name + " \u00d7 " + std::to_string(a.quantity);
      if (a.discount_percent > 0) line += " (member discount " + std::to_string(a.discount_percent) + " %)";
      PendingItem item{ids_.next("ii"), l.sub.id, std::move(line), *total, a.currency, a.quantity, period, false};
      RECUR_TRY(billing_->add_pending_item(tx, item, now));
      a.invoice_item = item.id;
    }
    l.sub.add_ons.push_back(a);
    return Json{{"add_on", to_json(a)}, {"period", to_json(period)}};
  });
}

Result<Subscription> SubscriptionService::remove_add_on(const std::string& id, const std::string& add_on,
                                                        std::optional<std::int64_t> expected_version,
                                                        const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.add_on_removed",
                [&](Loaded& l, db::Tx& tx, Timestamp) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kUpdate));
    auto it = std::find_if(l.sub.add_ons.begin(), l.sub.add_ons.end(), [&](const AddOn& a) { return a.id == add_on; });
    if (it == l.sub.add_ons.end())
      return Error::not_found("add_on_not_found", "subscription " + id + " has no add-on '" + add_on +
                                                      "' waiting for its next box (an add-on leaves with its box)");
    if (billing_) {
      // Its charge must still wait for the next invoice: one invoiced already (a plan change
      // invoicing every pending item at once), or an add-on made before they were tracked,
      // stays in its box and is refunded or credited instead.
      bool removed = false;
      if (!it->invoice_item.empty()) {
        RECUR_ASSIGN(removed, billing_->remove_pending_item(tx, l.sub.id, it->invoice_item));
      }
      if (!removed)
        return Error::conflict("add_on_invoiced", "add-on " + add_on +
                                                      " is charged on an invoice already; it ships in its box, and "
                                                      "a refund or a credit note takes its charge back");
    }
    Json details = {{"add_on", to_json(*it)}};
    l.sub.add_ons.erase(it);
    return details;
  });
}

Result<ChangePreview> SubscriptionService::plan_change(db::Tx& tx, const Loaded& l, const ChangePlanInput& in,
                                                       Timestamp now) {
  RECUR_TRY(allowed(l.sub, Action::kChangePlan));
  RECUR_TRY(gift_converted_or_refuse(l.sub, false));  // a gift's boxes are the plan it was bought on
  // Boxes already paid for at the current terms ship at them: no fair proration of a
  // charge that paid for several deliveries (docs/subscription-boxes.md).
  // The last prepaid box itself was paid by the charge, not alone: a change may wait for its
  // end (period_end), never prorate it.
  if (l.sub.prepaid && l.sub.prepaid->remaining > 0)
    return Error::conflict("prepaid_deliveries_remaining",
                           std::to_string(l.sub.prepaid->remaining) +
                               " prepaid deliveries are still to ship at the current terms; change the plan or "
                               "schedule once the last of them has begun");
  if (in_prepaid_box(l.sub) && in.effective == Effective::kNow)
    return Error::conflict("prepaid_deliveries_remaining",
                           "the current box was paid for by an earlier prepaid charge; change the plan or schedule "
                           "with effective: period_end, from the next charge on");
  const auto& from = l.current_plan();
  // A change at period end while another is scheduled amends that one: what the request
  // leaves out is the scheduled change's, not the current terms (never dropped silently).
  const bool amends = in.effective == Effective::kPeriodEnd && l.sub.pending_change && l.pending;
  // No plan given: the delivery or quantity changes on the same plan (or the scheduled one).
  catalog::Plan target = amends ? *l.pending : from;
  if (!in.plan.empty()) {
    RECUR_ASSIGN(target, plan_for_subscribing(tx, in.plan, "plan"));
  }
  if (!target.items.empty() && !l.sub.shipping_address) {
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, l.sub.customer));
    RECUR_TRY(check_ships_somewhere(target, customer && customer->shipping_address));
  }
  std::int64_t quantity = in.quantity.value_or(amends ? l.sub.pending_change->quantity : l.sub.quantity);
  const std::optional<Cadence> delivery =
      in.delivery ? *in.delivery : amends ? l.sub.pending_change->delivery : l.sub.delivery;
  if (target.currency != from.currency)
    return Error::invalid("currency_mismatch", "the new plan is priced in " + target.currency + ", the subscription in " +
                                                   from.currency,
                          {{"plan", "currency_mismatch", "plans of a subscription share one currency"}});
  if (amends && target.id == l.sub.pending_change->plan && quantity == l.sub.pending_change->quantity &&
      delivery == l.sub.pending_change->delivery)
    return Error::invalid("no_change", "this plan, quantity and delivery schedule are scheduled already",
                          {{in.plan.empty() ? "delivery" : "plan", "no_change", "the scheduled change already"}});
  if (!amends && target.id == from.id && quantity == l.sub.quantity && delivery == l.sub.delivery)
    return Error::invalid("no_change", "the subscription is already on this plan, quantity and delivery schedule",
                          {{in.plan.empty() ? "delivery" : "plan", "no_change", "same plan, quantity and delivery"}});
  ChangePreview p;
  p.subscription = l.sub.id;
  p.plan = target.id;
  p.quantity = quantity;
  p.delivery = delivery;
  p.currency = from.currency;
  const Cadence& from_cadence = cadence_of(l.sub, from);
  const Cadence to_cadence = delivery.value_or(target.cadence);
  const bool cadence_changes = from_cadence != to_cadence;
  if (in.effective == Effective::kPeriodEnd) {
    p.effective_at = l.sub.current.end;
    p.new_period = cadence_changes ? calendar_from(l.sub.current.end, to_cadence).first
                                   : period_from(l.sub.billing_cycle_anchor, to_cadence, l.sub.current.end);
    p.resets_anchor = cadence_changes;
    return p;
  }
  p.effective_at = now;
  p.new_period = l.sub.current;
  // Nothing has been charged before the first paid period: a plain switch.
  if (l.sub.status == Status::kScheduled || l.sub.status == Status::kTrialing) return p;
  PriceAndCadence old_price{from.amount, l.sub.quantity, from_cadence, from.name,
                            l.sub.current_skipped ? 0 : l.sub.current_amount};
  PriceAndCadence new_price{target.amount, quantity, to_cadence, target.name};
  auto result = prorate(old_price, new_price, l.sub.current, now);
  p.new_period = result.new_period;
  p.resets_anchor = result.resets_anchor;
  if (in.proration != Proration::kNone) {
    p.lines = std::move(result.lines);
  } else if (result.resets_anchor) {
    p.lines.push_back(result.lines.back());  // the new period is charged in full, no credit
  }
  for (const auto& line : p.lines) p.total += line.amount;
  return p;
}

Result<ChangePreview> SubscriptionService::preview_change(const std::string& id, const ChangePlanInput& in) {
  Timestamp now = clock_.now();
  // The change is made for real in a transaction that is never committed, so the invoice
  // shown is the one the same code issues (decision 0013); nothing is kept.
  RECUR_ASSIGN(auto tx, db_.begin());
  RECUR_ASSIGN(Loaded l, load(*tx, id, false));
  (void)advance(l.sub, l.lookup(), now);  // preview from where the subscription is now
  RECUR_ASSIGN(ChangePreview p, plan_change(*tx, l, in, now));
  if (!billing_) return p;
  RECUR_ASSIGN(std::string before, billing_->latest_invoice(*tx, id));
  RECUR_TRY(mutate_in(*tx, id, std::nullopt, events::Actor::system(), "subscription.plan_changed", change_step(in)));
  RECUR_ASSIGN(Loaded after, load(*tx, id, false));
  RECUR_ASSIGN(p.invoice, billing_->invoice_after_change(*tx, id, before, next_billable(after.sub, after.lookup(), true)));
  return p;
}

Result<Subscription> SubscriptionService::change_plan(const std::string& id, const ChangePlanInput& in,
                                                      std::optional<std::int64_t> expected_version,
                                                      const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.plan_changed", change_step(in));
}

Result<SubscriptionService::PlanChanged> SubscriptionService::change_plan_charging(
    const std::string& id, const ChangePlanInput& in, std::optional<std::int64_t> expected_version,
    const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<PlanChanged> {
    PlanChanged changed;
    // The invoice the change itself issued, as its event names it (never a renewal the
    // lifecycle caught up with under the same lock).
    Change step = [&changed, inner = change_step(in)](Loaded& l, db::Tx& t, Timestamp now) -> Result<Json> {
      RECUR_ASSIGN(Json details, inner(l, t, now));
      if (auto it = details.find("invoice"); it != details.end() && it->is_string()) changed.invoice = *it;
      return details;
    };
    RECUR_ASSIGN(changed.subscription, mutate_in(tx, id, expected_version, actor, "subscription.plan_changed", step));
    if (!in.request_key.empty())
      RECUR_TRY(insert_change_request(tx, in.request_key, {id, changed.invoice}, changed.subscription.updated));
    return changed;
  });
}

Result<std::optional<SubscriptionService::PlanChanged>> SubscriptionService::changed_by_request(
    const std::string& id, const std::string& request_key) {
  if (request_key.empty()) return std::optional<PlanChanged>();
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<PlanChanged>> {
    RECUR_ASSIGN(auto found, find_change_request(tx, request_key, clock_.now()));
    // The key names one request: another subscription's path with it is not this change.
    if (!found || found->subscription != id) return std::optional<PlanChanged>();
    RECUR_ASSIGN(auto sub, find(tx, id, false));
    if (!sub) return std::optional<PlanChanged>();
    return std::optional<PlanChanged>(PlanChanged{std::move(*sub), found->invoice});
  }, db::TxMode::kReadOnly);
}

SubscriptionService::Change SubscriptionService::change_step(const ChangePlanInput& in) {
  return [this, in](Loaded& l, db::Tx& tx, Timestamp now) -> Result<Json> {
    RECUR_ASSIGN(ChangePreview p, plan_change(tx, l, in, now));
    Json details = preview_json(p);
    details["from_plan"] = l.sub.plan;
    details["from_quantity"] = l.sub.quantity;
    details["from_delivery"] = delivery_json(l.sub.delivery);
    // Between tiers, the ranks say which way it goes (history, events and analytics).
    if (p.plan != l.sub.plan) {
      RECUR_ASSIGN(auto to_plan, catalog::find_plan(tx, p.plan));
      RECUR_ASSIGN(auto from_tier, catalog::tier_of(tx, l.current_plan()));
      std::optional<catalog::Tier> to_tier;
      if (to_plan) {
        RECUR_ASSIGN(to_tier, catalog::tier_of(tx, *to_plan));
      }
      if (auto direction = catalog::tier_direction(from_tier, to_tier); !direction.empty())
        details["direction"] = direction;
    }
    if (in.effective == Effective::kPeriodEnd) {
      l.sub.pending_change = PendingChange{p.plan, p.quantity, p.effective_at, p.delivery};
      return details;
    }
    l.sub.pending_change.reset();
    l.sub.plan = p.plan;
    l.sub.quantity = p.quantity;
    l.sub.delivery = p.delivery;
    RECUR_ASSIGN(auto target, catalog::find_plan(tx, p.plan));
    if (!target) return Error::internal("plan " + p.plan + " disappeared during a plan change");
    // A coupon that does not cover the new plan (plan, tier or currency) is dropped.
    if (l.sub.discount && !discount_admits(*l.sub.discount, *target)) {
      details["discount_dropped"] = to_json(l.sub.discount->source);
      l.sub.discount.reset();
    }
    // Proration lines wait for the next invoice; on an anchor reset the full charge is
    // the new period's own (billable event below), so only the credit is pending, and
    // it is written first so that the new period's immediate invoice carries it.
    for (const auto& line : p.lines) {
      bool full_new_period = p.resets_anchor && line.amount >= 0;
      if (full_new_period) continue;
      PendingItem item{ids_.next("ii"), l.sub.id, line.description, line.amount, p.currency, line.quantity,
                       line.period, true};
      if (billing_) RECUR_TRY(billing_->add_pending_item(tx, item, now));
    }
    // always_invoice: what the change owes is invoiced now rather than with the next period
    // (an anchor reset already invoices the new period, credit included, at once).
    if (in.proration == Proration::kAlwaysInvoice && !p.resets_anchor && billing_) {
      RECUR_ASSIGN(std::string invoice, billing_->invoice_pending_items(tx, l.sub, l.stored_version + 1, now));
      details["invoice"] = text_or_null(invoice);
    }
    if (p.resets_anchor) {
      // The new cadence starts a period now, billed at once like any period start.
      Json changed = to_json(l.sub);
      auto started = restart_period(l.sub, *target, now);
      details["period_started"] = {{"period", to_json(started.period)}, {"amount", started.amount}};
      started.before = std::move(changed);
      std::string before;
      if (billing_) {
        RECUR_ASSIGN(before, billing_->latest_invoice(tx, l.sub.id));
      }
      RECUR_TRY(record_lifecycle(tx, l.sub, {std::move(started)}));
      if (billing_) {
        // The new period's invoice (none when it owes nothing to invoice).
        RECUR_ASSIGN(std::string issued, billing_->latest_invoice(tx, l.sub.id));
        details["invoice"] = issued != before ? Json(issued) : Json(nullptr);
      }
    }
    return details;
  };
}

Result<Subscription> SubscriptionService::cancel(const std::string& id, const CancelInput& in,
                                                 std::optional<std::int64_t> expected_version,
                                                 const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.cancellation_requested",
                [&](Loaded& l, db::Tx& tx, Timestamp now) -> Result<Json> {
    // A paused subscription whose paid period is already over has no period end left.
    // An incomplete one never began a paid period: it ends now.
    bool at_period_end = in.at_period_end && l.sub.current.end > now && l.sub.status != Status::kIncomplete;
    RECUR_TRY(allowed(l.sub, at_period_end ? Action::kCancelAtPeriodEnd : Action::kCancelNow));
    l.sub.cancellation = Cancellation{in.reason, in.comment, now};
    l.sub.canceled_at = now;
    if (at_period_end) {
      l.sub.cancel_at_period_end = true;
    } else {
      l.sub.status = Status::kCanceled;
      l.sub.ended_at = now;
      l.sub.cancel_at_period_end = false;
      l.sub.pause.reset();
      l.sub.pending_change.reset();
      // Nothing of it is charged any more: its unpaid invoices are closed, then its unpaid boxes.
      RECUR_TRY(ended_at_once(tx, l.sub, ""));
    }
    // Offers shown and neither accepted nor declined: the customer canceled anyway.
    RECUR_ASSIGN(auto latest, latest_outcomes(tx, id));
    for (const auto& [offer, state] : latest)
      if (state.outcome == kOutcomeOffered) RECUR_TRY(record_outcome(tx, id, offer, state.reason, kOutcomeCanceledAnyway));
    return Json{{"at", at_period_end ? "period_end" : "now"},
                {"reason", in.reason},
                {"comment", in.comment ? Json(*in.comment) : Json(nullptr)}};
  });
}

Result<Subscription> SubscriptionService::reactivate(const std::string& id,
                                                     std::optional<std::int64_t> expected_version,
                                                     const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.reactivated", [&](Loaded& l, db::Tx&, Timestamp) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kReactivate));
    RECUR_TRY(gift_converted_or_refuse(l.sub));
    l.sub.cancel_at_period_end = false;
    l.sub.canceled_at.reset();
    l.sub.cancellation.reset();
    return Json(nullptr);
  });
}

Result<Subscription> SubscriptionService::convert(const std::string& id,
                                                 const std::optional<std::string>& payment_method,
                                                 std::optional<std::int64_t> expected_version,
                                                 const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.converted", [&](Loaded& l, db::Tx& tx, Timestamp now) -> Result<Json> {
    // Whether it can be converted at all first: a card would not help an ended one. (On an
    // error below the whole change rolls back.)
    RECUR_TRY(convert_gift(l.sub, now));
    RECUR_ASSIGN(auto customer, customers::lock_customer(tx, l.sub.customer));
    if (!customer) return Error::internal("subscription " + id + " has no customer");
    if (customer->erased_at)
      return Error::conflict("customer_erased", "customer " + customer->id + " was erased: nothing can be sold to them");
    // The payment method the charges after the gift go to: the customer's default from now on.
    const std::optional<std::string> method = payment_method ? payment_method : customer->default_payment_method;
    if (!method)
      return Error::invalid("validation_failed", "a payment method is needed to carry on as a paid subscription",
                            {{"payment_method", "required", "the customer has no default payment method"}});
    RECUR_ASSIGN(auto pm, customers::find_payment_method(tx, *method));
    if (!pm || pm->customer != customer->id || pm->detached)
      return Error::invalid("payment_method_not_found", "the customer has no attached payment method " + *method,
                            {{"payment_method", "not_found", "not an attached payment method of this customer"}});
    if (customer->default_payment_method != pm->id) {
      Json before = customers::to_json(*customer);
      const std::int64_t version = customer->version;
      customer->default_payment_method = pm->id;
      customer->updated = now;
      ++customer->version;
      RECUR_ASSIGN(bool stored, customers::update_customer(tx, *customer, version));
      if (!stored) return version_conflict("the customer", version, customer->version);
      RECUR_TRY(events_.record(tx, "customer.updated", customer->id, actor, std::move(before),
                               customers::to_json(*customer)));
    }
    return Json{{"gift", l.sub.gift->id}, {"payment_method", pm->id}};
  });
}

// ------------------------------------------------------------------ coupons

Result<Discount> SubscriptionService::redeem(db::Tx& tx, const Subscription& sub, const catalog::Plan& plan,
                                             const std::optional<std::string>& coupon,
                                             const std::optional<std::string>& promotion_code, Timestamp now) {
  catalog::RedemptionRequest request{coupon, promotion_code, sub.customer, sub.id, [&sub](db::Tx& t) -> Result<bool> {
    RECUR_ASSIGN(auto earlier, count_earlier_subscriptions(t, sub.customer, sub.id, sub.created));
    return earlier == 0;
  }};
  RECUR_ASSIGN(auto redeemed, catalog::redeem(tx, ids_, request, plan, now));
  return discount_from(redeemed.coupon, redeemed.promotion_code ? &*redeemed.promotion_code : nullptr);
}

Result<Subscription> SubscriptionService::apply_discount(const std::string& id, const DiscountInput& in,
                                                         std::optional<std::int64_t> expected_version,
                                                         const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.discount_applied",
                [&](Loaded& l, db::Tx& tx, Timestamp now) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kUpdate));
    RECUR_ASSIGN(Discount discount, redeem(tx, l.sub, l.current_plan(), in.coupon, in.promotion_code, now));
    Json details = {{"source", to_json(discount.source)},
                    {"coupon", to_json_text(discount.coupon)},
                    {"promotion_code", to_json_text(discount.promotion_code)},
                    {"replaced", l.sub.discount ? to_json(l.sub.discount->source) : Json(nullptr)}};
    l.sub.discount = std::move(discount);
    return details;
  });
}

Result<Subscription> SubscriptionService::remove_discount(const std::string& id,
                                                          std::optional<std::int64_t> expected_version,
                                                          const events::Actor& actor) {
  return mutate(id, expected_version, actor, "subscription.discount_removed",
                [&](Loaded& l, db::Tx&, Timestamp) -> Result<Json> {
    RECUR_TRY(allowed(l.sub, Action::kUpdate));
    if (!l.sub.discount) return Error::conflict("no_discount", "subscription " + id + " has no discount to remove");
    Json details = {{"source", to_json(l.sub.discount->source)},
                    {"coupon", to_json_text(l.sub.discount->coupon)},
                    {"promotion_code", to_json_text(l.sub.discount->promotion_code)}};
    l.sub.discount.reset();
    return details;
  });
}

// ------------------------------------------------------------------ reads

Result<std::optional<NextPeriod>> SubscriptionService::next_billable_period(db::Tx& tx, const std::string& id,
                                                                          bool invoiced) {
  RECUR_ASSIGN(Loaded l, load(tx, id, false));
  return next_billable(l.sub, l.lookup(), invoiced);
}

Result<std::optional<NextPeriod>> SubscriptionService::next_billable_period_of_customer(db::Tx& tx,
                                                                                      const std::string& customer,
                                                                                      bool invoiced) {
  std::optional<NextPeriod> soonest;
  ListFilter filter{customer, std::nullopt, {}, {.limit = 100}};
  for (auto name : status_names())
    if (name != to_string(Status::kCanceled)) filter.statuses.emplace_back(name);
  while (true) {
    RECUR_ASSIGN(auto page, subscriptions::list(tx, filter));
    for (const auto& sub : page.items) {
      RECUR_ASSIGN(auto next, next_billable_period(tx, sub.id, invoiced));
      if (next && (!soonest || next->event.at < soonest->event.at)) soonest = std::move(next);
    }
    if (!page.has_more) return soonest;
    filter.page.starting_after = page.items.back().id;
  }
}

Result<std::vector<UpcomingPeriod>> SubscriptionService::upcoming(const std::string& id, int count) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::vector<UpcomingPeriod>> {
    RECUR_ASSIGN(Loaded l, load(tx, id, false));
    (void)advance(l.sub, l.lookup(), now);
    return subscriptions::upcoming(l.sub, l.lookup(), count);
  }, db::TxMode::kReadOnly);
}

Result<Page<events::Event>> SubscriptionService::history(const std::string& id, const ListParams& params) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Page<events::Event>> {
    RECUR_ASSIGN(auto page, events::list_for_resource(tx, id, params));
    if (page.items.empty()) {
      RECUR_ASSIGN(auto found, find(tx, id, false));
      if (!found) return not_found(id);
    }
    return page;
  }, db::TxMode::kReadOnly);
}

// ------------------------------------------------------------------ scheduler

Result<int> SubscriptionService::advance_stored(db::Tx& tx, const std::string& id, Timestamp now) {
  auto loaded = load(tx, id, true);
  if (!loaded.ok()) return loaded.error().kind == ErrorKind::kNotFound ? Result<int>(0) : loaded.error();
  Loaded& l = *loaded;
  auto happened = advance(l.sub, l.lookup(), now, Snapshots::kTake);
  if (happened.empty()) return 0;
  l.sub.updated = now;
  l.sub.version = l.stored_version + 1;
  RECUR_ASSIGN(bool stored, subscriptions::update(tx, l.sub, l.stored_version));
  if (!stored) return 0;
  show_stored_version(happened, l.sub);
  const int steps = static_cast<int>(happened.size());
  RECUR_TRY(record_lifecycle(tx, l.sub, std::move(happened)));
  return steps;
}

Result<std::vector<BlackoutDate>> SubscriptionService::blackout_dates() {
  return db::transact(
      db_, [&](db::Tx& tx) { return list_blackout_dates(tx); }, db::TxMode::kReadOnly);
}

Result<SubscriptionService::BlackoutPut> SubscriptionService::put_blackout_date(std::int64_t day,
                                                                                const std::string& reason) {
  const Timestamp now = clock_.now();
  if (day < now / kSecondsPerDay)
    return Error::invalid("validation_failed", "a blackout date must be today or later",
                          {{"date", "in_the_past", "must be today (UTC) or later"}});
  BlackoutPut put;
  put.date = {day, reason, now};
  RECUR_ASSIGN(put.created,
               db::transact(db_, [&](db::Tx& tx) { return subscriptions::put_blackout_date(tx, put.date); }));
  // The deliveries due that day move now, so their customers hear of it ahead (the scheduler
  // would move any missed here when they come due).
  const Timestamp from = day * kSecondsPerDay, until = from + kSecondsPerDay;
  std::string after;
  for (;;) {
    RECUR_ASSIGN(auto ids,
                 db::transact(
                     db_, [&](db::Tx& tx) { return due_between(tx, from, until, after, 200); }, db::TxMode::kReadOnly));
    for (const auto& id : ids) {
      // One that cannot be advanced now is moved by the scheduler when it comes due.
      auto steps = db::transact(db_, [&](db::Tx& tx) { return advance_stored(tx, id, now); });
      if (steps.ok() && *steps > 0) ++put.moved;
    }
    if (ids.size() < 200) break;
    after = ids.back();
  }
  RECUR_ASSIGN(auto stored, blackout_dates());
  for (const auto& d : stored)
    if (d.day == day) put.date = d;
  return put;
}

recur::Status SubscriptionService::delete_blackout_date(std::int64_t day) {
  return db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    RECUR_ASSIGN(bool deleted, subscriptions::delete_blackout_date(tx, day));
    if (!deleted)
      return Error::not_found("blackout_date_not_found",
                              "no blackout date on " + format_rfc3339(day * kSecondsPerDay).substr(0, 10));
    return Ok{};
  });
}

Result<RunReport> SubscriptionService::run_due(int workers, int batch) {
  Timestamp now = clock_.now();
  RunReport report;
  if (db_.engine() != db::Engine::kPostgres) workers = 1;  // SQLite has one writer
  workers = std::max(workers, 1);
  batch = std::max(batch, 1);
  std::mutex mu;                  // guards report, skip and claim_error
  std::set<std::string> skip;     // failing, or due with nothing to do: not claimed again by this run
  constexpr std::size_t kMaxSkipped = 1000;
  std::optional<Error> claim_error;
  std::set<std::string> failed;
  auto note_failure = [&](const std::string& id, const Error& e) {
    // One bad row must not hold up every other renewal: note it (once) and go on.
    if (!failed.insert(id).second) return;
    if (report.failures++ == 0) report.first_error = id + ": " + e.message;
  };
  // The unit of work is a batch (decision 0033): every worker claims up to `batch` due
  // subscriptions no other holds and advances them in one transaction. When it fails, they
  // are advanced one by one, each in its own transaction, so a bad row costs only itself.
  on_threads(workers, [&](int) {
    for (;;) {
      std::vector<std::string> claimed, skipping;
      {
        std::lock_guard lock(mu);
        // So many bad rows that the claim would list too many: the rest waits for the next run.
        if (claim_error || skip.size() > kMaxSkipped) return;
        skipping.assign(skip.begin(), skip.end());
      }
      std::vector<int> steps;
      auto batch_done = db::transact(db_, [&](db::Tx& tx) -> recur::Status {
        RECUR_ASSIGN(claimed, claim_due(tx, now, batch, skipping));
        steps.clear();
        for (const auto& id : claimed) {
          RECUR_ASSIGN(int n, advance_stored(tx, id, now));
          steps.push_back(n);
        }
        return Ok{};
      });
      if (!batch_done.ok() && claimed.empty()) {
        std::lock_guard lock(mu);
        if (!claim_error) claim_error = std::move(batch_done).error();
        return;
      }
      if (!batch_done.ok()) {
        spdlog::warn("renewals: a batch of {} failed ({}); advancing them one by one", claimed.size(),
                     batch_done.error().message);
        {
          // Not claimed again by another worker while they are retried here.
          std::lock_guard lock(mu);
          skip.insert(claimed.begin(), claimed.end());
        }
        steps.assign(claimed.size(), 0);
        for (std::size_t i = 0; i < claimed.size(); ++i) {
          auto one = db::transact(db_, [&](db::Tx& tx) { return advance_stored(tx, claimed[i], now); });
          if (one.ok()) {
            steps[i] = *one;
            continue;
          }
          std::lock_guard lock(mu);
          note_failure(claimed[i], one.error());
          steps[i] = -1;
        }
      }
      std::lock_guard lock(mu);
      for (std::size_t i = 0; i < claimed.size(); ++i) {
        if (steps[i] > 0) {
          ++report.subscriptions;
          report.events += steps[i];
          skip.erase(claimed[i]);  // advanced one by one: no longer due
        } else if (steps[i] == 0) {
          skip.insert(claimed[i]);  // due, but nothing to do now
        }
      }
      if (static_cast<int>(claimed.size()) < batch) return;
    }
  });
  if (claim_error) return *claim_error;
  return report;
}

// ------------------------------------------------------------------ billing

Result<bool> SubscriptionService::apply_payment_step(db::Tx& tx, const std::string& id, PaymentStep step,
                                                     const std::string& invoice) {
  if (id.empty()) return false;  // a one-off invoice's payment: no subscription moves
  Action action = Action::kPaymentFailed;
  std::string type = "subscription.payment_failed";
  switch (step) {
    case PaymentStep::kFailed: break;
    case PaymentStep::kRecovered: action = Action::kPaymentRecovered; type = "subscription.payment_recovered"; break;
    case PaymentStep::kExhaustedCancel: action = Action::kCancelNow; type = "subscription.canceled"; break;
    case PaymentStep::kExhaustedPause: action = Action::kPause; type = "subscription.paused"; break;
    case PaymentStep::kExhaustedUnpaid: action = Action::kMarkUnpaid; type = "subscription.unpaid"; break;
    case PaymentStep::kFirstPaid: action = Action::kActivate; type = "subscription.activated"; break;
    case PaymentStep::kFirstRefused: action = Action::kExpire; type = "subscription.incomplete_expired"; break;
    case PaymentStep::kDisputePause: action = Action::kPause; type = "subscription.paused"; break;
    case PaymentStep::kDisputeCancel: action = Action::kCancelNow; type = "subscription.canceled"; break;
    case PaymentStep::kDisputeResume: action = Action::kResume; type = "subscription.resumed"; break;
  }
  // Probe first on a copy: a step that does not apply must leave no trace at all.
  RECUR_ASSIGN(Loaded probe, load(tx, id, true));
  Timestamp now = std::max(clock_.now(), probe.sub.updated);
  (void)advance(probe.sub, probe.lookup(), now);
  if (!allowed(probe.sub, action).ok()) return false;
  const bool cancels = step == PaymentStep::kExhaustedCancel || step == PaymentStep::kDisputeCancel;
  RECUR_ASSIGN(auto stored, mutate_in(tx, id, std::nullopt, events::Actor::system(), type,
                                      [&](Loaded& l, db::Tx& in, Timestamp at) -> Result<Json> {
    Json details = {{"invoice", invoice}};
    if (step == PaymentStep::kDisputeResume) {
      // As a resumption by hand (resume()): a period that began while paused is billed now.
      Json paused = to_json(l.sub);
      auto happened = subscriptions::resume(l.sub, l.current_plan(), at);
      details["reason"] = "dispute_won";
      details["new_period"] = !happened.empty() && happened[0].billable;
      if (!happened.empty() && happened[0].billable) {
        happened[0].type = "subscription.period_started";
        happened[0].before = std::move(paused);
        RECUR_TRY(record_lifecycle(in, l.sub, std::move(happened)));
      }
      return details;
    }
    RECUR_ASSIGN(Status next, transition(l.sub.status, action, TransitionContext{l.sub.cancel_at_period_end, false}));
    if (step == PaymentStep::kDisputeCancel) {
      l.sub.cancellation = Cancellation{"payment_disputed", std::nullopt, at};
      l.sub.canceled_at = at;
      l.sub.ended_at = at;
      l.sub.cancel_at_period_end = false;
      l.sub.pause.reset();
      l.sub.pending_change.reset();
      details["reason"] = "payment_disputed";
    } else if (step == PaymentStep::kDisputePause) {
      l.sub.pause = Pause{at, std::nullopt};
      details["reason"] = "payment_disputed";
    } else if (step == PaymentStep::kExhaustedCancel) {
      l.sub.cancellation = Cancellation{"payment_failed", std::nullopt, at};
      l.sub.canceled_at = at;
      l.sub.ended_at = at;
      l.sub.cancel_at_period_end = false;
      l.sub.pause.reset();
      l.sub.pending_change.reset();
      details["reason"] = "payment_failed";
    } else if (step == PaymentStep::kExhaustedPause) {
      l.sub.pause = Pause{at, std::nullopt};
      details["reason"] = "payment_failed";
    } else if (step == PaymentStep::kExhaustedUnpaid) {
      details["reason"] = "payment_failed";
    } else if (step == PaymentStep::kFirstRefused) {
      l.sub.ended_at = at;
      l.sub.pending_change.reset();
      details["reason"] = "payment_declined";
    }
    l.sub.status = next;
    return details;
  }));
  if (cancels) {
    // Later periods' invoices (a past_due subscription keeps renewing) end with it too.
    RECUR_TRY(ended_at_once(tx, stored, invoice));
  }
  // A refused checkout's invoice was settled (failed) already: it is voided with the rest.
  if (step == PaymentStep::kFirstRefused) RECUR_TRY(ended_at_once(tx, stored, ""));
  return true;
}

recur::Status SubscriptionService::ended_at_once(db::Tx& tx, const Subscription& sub, const std::string& settling) {
  if (billing_) RECUR_TRY(billing_->subscription_ended(tx, sub, settling));
  if (fulfilment_) RECUR_TRY(fulfilment_->subscription_ended(tx, sub.id));
  return Ok{};
}

// ------------------------------------------------------------------ retention

recur::Status SubscriptionService::record_outcome(db::Tx& tx, const std::string& sub_id, const std::string& offer_id,
                                                  const std::string& reason, std::string_view outcome) {
  return subscriptions::record_outcome(tx, ids_.next("rout"), sub_id, offer_id, reason, outcome, clock_.now());
}

Result<std::vector<RetentionOffer>> SubscriptionService::present_offers(const std::string& id, const std::string& reason,
                                                                        const events::Actor& actor) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::vector<RetentionOffer>> {
    RECUR_ASSIGN(Loaded l, load(tx, id, true));
    (void)advance(l.sub, l.lookup(), now);
    if (l.sub.status == Status::kCanceled)
      return Error::conflict("subscription_canceled", "the subscription is already canceled");
    RECUR_TRY(gift_converted_or_refuse(l.sub));
    RECUR_ASSIGN(auto active, active_offers(tx, reason));
    std::vector<RetentionOffer> offers;
    Json shown = Json::array();
    for (auto& o : active) {
      if (o.type == OfferType::kPause && !allowed(l.sub, Action::kPause).ok()) continue;
      if (o.type == OfferType::kSkip && !allowed(l.sub, Action::kSkip).ok()) continue;
      // A plan change is offered only when accepting it would be allowed (not paused, the
      // same currency, no prepaid boxes left, a plan that ships here...): the same dry run.
      if (o.type == OfferType::kChangePlan &&
          (!o.plan || *o.plan == l.sub.plan ||
           !plan_change(tx, l, ChangePlanInput{*o.plan, std::nullopt, Proration::kNone, Effective::kPeriodEnd}, now)
                .ok()))
        continue;
      RECUR_TRY(record_outcome(tx, id, o.id, reason, kOutcomeOffered));
      shown.push_back(o.id);
      offers.push_back(std::move(o));
    }
    RECUR_TRY(events_.record(tx, "subscription.retention_offered", id, actor, nullptr, to_json(l.sub),
                             {{"reason", reason}, {"offers", shown}}));
    return offers;
  });
}

namespace {

// The cancellation reason an offer was shown for, while it waits for an answer.
Result<std::string> require_open_offer(db::Tx& tx, const std::string& sub_id, const std::string& offer_id) {
  RECUR_TRY(require_offer(tx, offer_id));
  RECUR_ASSIGN(auto state, latest_outcome(tx, sub_id, offer_id));
  if (!state || state->outcome != kOutcomeOffered)
    return Error::conflict("offer_not_open", "offer '" + offer_id +
                                                 "' was not presented to this subscription or was already answered;"
                                                 " request offers first");
  return state->reason;
}

}  // namespace

Result<Subscription> SubscriptionService::accept_offer(const std::string& id, const std::string& offer_id,
                                                       const events::Actor& actor) {
  return mutate(id, std::nullopt, actor, "subscription.retention_accepted", [&](Loaded& l, db::Tx& tx, Timestamp now) -> Result<Json> {
    RECUR_ASSIGN(std::string reason, require_open_offer(tx, id, offer_id));
    RECUR_ASSIGN(RetentionOffer o, require_offer(tx, offer_id));
    // An offer keeps a subscriber who pays: a gift not converted has no one paying after it.
    RECUR_TRY(gift_converted_or_refuse(l.sub));
    Json details = {{"offer", o.id}, {"type", to_string(o.type)}, {"reason", reason}};
    switch (o.type) {
      case OfferType::kDiscount:
        RECUR_TRY(allowed(l.sub, Action::kUpdate));
        l.sub.discount = Discount{o.percent_off, o.duration_in_cycles, {"retention_offer", o.id}};
        break;
      case OfferType::kPause: {
        RECUR_TRY(allowed(l.sub, Action::kPause));
        Period p = l.sub.current;
        for (std::int64_t i = 0; i < o.pause_cycles; ++i)
          p = period_from(l.sub.billing_cycle_anchor, cadence_of(l.sub, l.current_plan()), p.end);
        l.sub.status = Status::kPaused;
        l.sub.pause = Pause{now, p.end};
        details["resumes_at"] = format_rfc3339(p.end);
        break;
      }
      case OfferType::kSkip: {
        RECUR_TRY(allowed(l.sub, Action::kSkip));
        RECUR_ASSIGN(Period skipped, add_skip(l.sub, l.lookup(), std::nullopt));
        details["skipped"] = to_json(skipped);
        break;
      }
      case OfferType::kChangePlan: {
        ChangePlanInput change{o.plan.value_or(""), std::nullopt, Proration::kNone, Effective::kPeriodEnd};
        RECUR_ASSIGN(ChangePreview p, plan_change(tx, l, change, now));
        l.sub.pending_change = PendingChange{p.plan, p.quantity, p.effective_at, p.delivery};
        break;
      }
    }
    // The customer stays: a scheduled cancellation is withdrawn.
    if (l.sub.cancel_at_period_end) {
      l.sub.cancel_at_period_end = false;
      l.sub.canceled_at.reset();
      l.sub.cancellation.reset();
    }
    RECUR_TRY(record_outcome(tx, id, o.id, reason, kOutcomeAccepted));
    return details;
  });
}

Result<Subscription> SubscriptionService::decline_offer(const std::string& id, const std::string& offer_id,
                                                        const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Subscription> {
    RECUR_ASSIGN(Loaded l, load(tx, id, true));
    RECUR_ASSIGN(std::string reason, require_open_offer(tx, id, offer_id));
    RECUR_TRY(record_outcome(tx, id, offer_id, reason, kOutcomeDeclined));
    // As GET shows it: steps that are due but not stored yet included, nothing changed.
    Subscription shown = l.sub;
    (void)advance(shown, l.lookup(), clock_.now());
    RECUR_TRY(events_.record(tx, "subscription.retention_declined", id, actor, nullptr, to_json(shown),
                             {{"offer", offer_id}, {"reason", reason}}));
    return l.sub;
  });
}

namespace {
Json preview_json(const ChangePreview& p) {
  Json lines = Json::array();
  for (const auto& line : p.lines)
    lines.push_back({{"description", line.description},
                     {"amount", line.amount},
                     {"quantity", line.quantity},
                     {"period", to_json(line.period)},
                     {"proration", true}});
  return Json{{"object", "plan_change_preview"},
              {"subscription", p.subscription},
              {"plan", p.plan},
              {"quantity", p.quantity},
              {"delivery", delivery_json(p.delivery)},
              {"effective_at", format_rfc3339(p.effective_at)},
              {"lines", lines},
              {"total", p.total},
              {"currency", p.currency},
              {"new_period", to_json(p.new_period)},
              {"resets_billing_cycle_anchor", p.resets_anchor},
              {"invoice", p.invoice}};
}
}  // namespace

Json to_json(const ChangePreview& p) { return preview_json(p); }

}  // namespace recur::subscriptions
