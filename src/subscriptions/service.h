// Subscription use cases: one transaction each. Every change brings the subscription up
// to "now" first (so a lagging scheduler never matters), then applies the state machine,
// then stores the result and its events together.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "events/store.h"
#include "subscriptions/retention_service.h"
#include "subscriptions/store.h"

namespace recur::subscriptions {

// trial_end "now" in a body: no trial (on create), or the trial ends at once (on update).
inline constexpr Timestamp kTrialEndNow = 0;
// The longest trial a subscription may be given.
inline constexpr std::int64_t kMaxTrialDays = 730;

struct CreateInput {
  std::string customer;
  std::string plan;
  std::int64_t quantity = 1;
  std::optional<Timestamp> start_date;
  std::optional<customers::Address> shipping_address;
  Json metadata = Json::object();
  // A discount from the start: a coupon id, or a promotion code (its id or the code).
  std::optional<std::string> coupon;
  std::optional<std::string> promotion_code;
  // The end of its trial instead of the plan's trial_days (kTrialEndNow: none).
  std::optional<Timestamp> trial_end;
  // Its own delivery schedule instead of the plan's cadence (checked with check_delivery).
  std::optional<Cadence> delivery;
  // The request's scoped Idempotency-Key: checkout commits before it charges, so a retry
  // finds this subscription instead of creating another (decision 0009).
  std::string request_key;
  // Checkout: a first period billed at once that costs something leaves the subscription
  // incomplete until its invoice is paid (billing::Checkout charges it in the request).
  // Unset: active at once, its first invoice charged by the next billing run (callers that
  // create without a checkout; the API always checks out).
  bool await_first_payment = false;
  // Deliveries each charge pays for (2..kMaxPrepaidDeliveries); none: one charge per delivery.
  std::optional<std::int64_t> prepaid_deliveries;
  // A gift's subscription (gifts module, at its claim): all `deliveries` boxes paid by the
  // gift's `invoice`; it ends after the last one unless converted (make_gift).
  struct Gift {
    std::string id;
    std::string invoice;
    std::int64_t deliveries = 1;
  };
  std::optional<Gift> gift;
};

// POST /v1/subscriptions/{id}/discount: one of the two.
struct DiscountInput {
  std::optional<std::string> coupon;
  std::optional<std::string> promotion_code;
};

struct UpdateInput {
  std::optional<std::int64_t> quantity;  // takes effect now, without proration (use change-plan to prorate)
  std::optional<Timestamp> trial_end;    // scheduled or trialing only; kTrialEndNow ends the trial now
  std::optional<std::optional<customers::Address>> shipping_address;
  std::optional<Json> metadata;
  // From the next charge on: N deliveries per charge, or null for one per delivery. Boxes
  // already paid for still ship.
  std::optional<std::optional<std::int64_t>> prepaid_deliveries;
};

enum class Effective { kNow, kPeriodEnd };
enum class Proration { kCreate, kNone, kAlwaysInvoice };

struct ChangePlanInput {
  std::string plan;                      // "": keep the current plan (a change of delivery or quantity only)
  std::optional<std::int64_t> quantity;  // default: keep the current quantity
  // create_prorations: the prorations wait for the next invoice; none: no prorations;
  // always_invoice: the prorations (and every pending item) are invoiced at once.
  Proration proration = Proration::kCreate;
  Effective effective = Effective::kNow;
  // The request's scoped Idempotency-Key ("" for none): see change_plan_charging.
  std::string request_key;
  // The delivery schedule after the change: absent keeps the subscription's, null goes back
  // to the plan's cadence. A new cadence or delivery day restarts the calendar (prorate).
  std::optional<std::optional<Cadence>> delivery;
};

struct ChangePreview {
  std::string subscription;
  std::string plan;
  std::int64_t quantity = 1;
  std::optional<Cadence> delivery;  // the subscription's own schedule after the change
  Timestamp effective_at = 0;
  std::vector<ProrationLine> lines;
  std::int64_t total = 0;
  std::string currency;
  Period new_period;
  bool resets_anchor = false;
  // The invoice the change produces (the one it issues at once, or the next one with its
  // prorations), as billing renders it; null without billing or when none will be issued.
  Json invoice;
};

Json to_json(const ChangePreview& preview);

struct CancelInput {
  bool at_period_end = true;
  std::string reason;
  std::optional<std::string> comment;
};

struct RunReport {
  int subscriptions = 0;  // subscriptions advanced
  int events = 0;         // lifecycle events recorded
  int failures = 0;       // subscriptions that could not be advanced (retried next run)
  std::string first_error;
};

// Billing hears of every billable period inside the transaction that began it, so a
// period is invoiced exactly when (and only if) the subscription moved into it.
class PeriodBilling {
 public:
  virtual ~PeriodBilling() = default;
  // Requires: called inside `tx`; `sub` is the subscription as it will be stored.
  virtual recur::Status period_began(db::Tx& tx, const Subscription& sub, const LifecycleEvent& period) = 0;
  // The subscription ended at once (canceled now, or for non-payment): nothing of it may be
  // charged automatically any more, so its unpaid invoices are closed in `tx` with their
  // events (void; one with a charge in flight waits for that answer, decision 0010).
  // `settling`: the invoice whose outcome ended it, which the caller records itself ("" if
  // none). Requires: called inside `tx`, before Fulfilment::subscription_ended (which ships
  // only paid periods).
  virtual recur::Status subscription_ended(db::Tx& tx, const Subscription& sub, const std::string& settling) = 0;
  // A line for the subscription's next invoice (a proration charge or credit of a plan
  // change, inventory's credit for a skipped backordered box): billing keeps it with its pending items, which the next period_began takes.
  // Subscriptions never writes billing's tables itself. Requires: called inside `tx`.
  virtual recur::Status add_pending_item(db::Tx& tx, const PendingItem& item, Timestamp created) = 0;
  // Takes back the pending item `id` of `subscription` (an add-on removed before its
  // period); false when no such item waits any more. Requires: called inside `tx`.
  virtual Result<bool> remove_pending_item(db::Tx& tx, const std::string& subscription, const std::string& id) = 0;
  // A plan change made with proration "always_invoice": the subscription's pending items are
  // invoiced now, between periods, when they owe something (a net credit keeps waiting for
  // the next invoice). `key` is unique to the change (billing's key for the invoice, kept
  // apart from the periods' sequence numbers). Returns the invoice's id, or "" when none was
  // issued. Requires: called inside `tx`.
  virtual Result<std::string> invoice_pending_items(db::Tx& tx, const Subscription& sub, std::int64_t key,
                                                    Timestamp at) = 0;
  // For a preview of a change made in `tx` (which the caller then rolls back): the
  // subscription's latest invoice before it ("" for none), and the invoice the change
  // produces: one issued in `tx` after `before`, else the next one the lifecycle will issue
  // (`next`; null JSON when none will be).
  virtual Result<std::string> latest_invoice(db::Tx& tx, const std::string& subscription) = 0;
  virtual Result<Json> invoice_after_change(db::Tx& tx, const std::string& subscription, const std::string& before,
                                            const std::optional<NextPeriod>& next) = 0;
};

// Inventory hears of every billable period in the same transaction too: the period's box
// is reserved (or backordered) with it. At signup a box that cannot be reserved refuses the
// subscription (409 out_of_stock), which rolls everything back.
class Fulfilment {
 public:
  virtual ~Fulfilment() = default;
  // Requires: called inside `tx`, after billing heard of the same period.
  virtual recur::Status period_began(db::Tx& tx, const Subscription& sub, const LifecycleEvent& period,
                                     bool at_signup) = 0;
  // A subscription whose first box ships later (a future start, a trial): refused now when
  // stock expected by `ships_at` cannot cover it.
  virtual recur::Status check_first_shipment(db::Tx& tx, const Subscription& sub, const catalog::Plan& plan,
                                             Timestamp ships_at) = 0;
  // Extras for a box that ships at `ships_at` (add-ons): refused now (409 out_of_stock, with
  // alternatives) when stock expected by then cannot cover them. They are reserved with the
  // box when its period begins (period.add_ons).
  virtual recur::Status check_extras(db::Tx& tx, const std::vector<catalog::PlanItem>& items, Timestamp ships_at) = 0;
  // The subscription ended now (canceled at once, or for non-payment): boxes of periods
  // that were never paid are not shipped. Requires: called inside `tx`.
  virtual recur::Status subscription_ended(db::Tx& tx, const std::string& subscription) = 0;
  // Box customization: each of `selection`'s options as offered for a box of `quantity`
  // shipped at `ships_at` (archived products are not offered; `available`: stock expected
  // by then covers it), and what Recur would put in the box of period `sequence` of `sub`
  // if no choice is made (catalog::pick_selection with the customer's preferences, the last
  // box's contents and the stock now). `selection`: the box's (catalog::box_selection).
  struct BoxOption {
    std::string product;
    std::string sku;
    std::string name;
    std::vector<std::string> tags;
    bool available = true;
  };
  virtual Result<std::vector<BoxOption>> box_options(db::Tx& tx, const catalog::Selection& selection,
                                                     std::int64_t quantity, Timestamp ships_at) = 0;
  virtual Result<std::vector<catalog::PlanItem>> default_choice(db::Tx& tx, const Subscription& sub,
                                                                const catalog::Selection& selection,
                                                                std::int64_t sequence, Timestamp ships_at) = 0;
};

// What a payment outcome does to a subscription (billing decides; the state machine checks).
enum class PaymentStep {
  kFailed,           // a renewal charge failed: past_due while dunning retries
  kRecovered,        // an overdue invoice got paid (unpaid: the last open one): active again
  kExhaustedCancel,  // retries ran out, final action "cancel"
  kExhaustedPause,   // retries ran out, final action "pause" (until resumed by hand)
  kExhaustedUnpaid,  // retries ran out, final action "unpaid" (until every open invoice is paid)
  kFirstPaid,        // an incomplete subscription's first invoice got paid: active
  kFirstRefused,     // checkout with error_if_incomplete was refused: incomplete_expired at once
  kDisputePause,     // a charge is disputed, setting "pause": paused until the dispute is decided
  kDisputeCancel,    // a charge is disputed, setting "cancel": canceled at once
  kDisputeResume,    // the dispute that paused it was won: resumed as by hand
};

// A plan a subscription may be started on or moved to (it exists and is not archived);
// `field` names the input in the 422.
Result<catalog::Plan> plan_for_subscribing(db::Tx& tx, const std::string& id, const std::string& field);

class SubscriptionService {
 public:
  SubscriptionService(db::Database& db, const Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids), events_(ids, clock) {}

  Result<Subscription> create(const CreateInput& input, const events::Actor& actor);
  // create() in the caller's transaction (a gift's claim makes its recipient's subscription
  // with the gift's change).
  Result<Subscription> create_in(db::Tx& tx, const CreateInput& input, const events::Actor& actor);
  // The subscription a POST with this request key created (kRequestKeyLifetime), if any.
  Result<std::optional<Subscription>> created_by_request(const std::string& request_key);
  Result<Subscription> get(const std::string& id);
  // GET /v1/subscriptions/{id}'s answer: get() rendered, cached (SubscriptionViewCache) while
  // it holds, unless what it shows was due to move on by now (the scheduler is behind).
  Result<RenderedSubscription> get_rendered(const std::string& id);
  // The cached answer, without the database; nullopt when there is none.
  std::optional<RenderedSubscription> cached_rendering(const std::string& id);
  Result<Page<Subscription>> list(const ListFilter& filter);
  Result<Subscription> update(const std::string& id, const UpdateInput& input, std::int64_t expected_version,
                              const events::Actor& actor);
  recur::Status remove(const std::string& id, std::optional<std::int64_t> expected_version, const events::Actor& actor);

  Result<Subscription> pause(const std::string& id, std::optional<Timestamp> resumes_at,
                             std::optional<std::int64_t> expected_version, const events::Actor& actor);
  Result<Subscription> resume(const std::string& id, std::optional<std::int64_t> expected_version,
                              const events::Actor& actor);
  Result<Subscription> skip(const std::string& id, std::optional<Timestamp> period_start,
                            std::optional<std::int64_t> expected_version, const events::Actor& actor);
  // Moves the next delivery and charge to `date` (see move_next_date).
  Result<Subscription> move_next_date(const std::string& id, Timestamp date,
                                      std::optional<std::int64_t> expected_version, const events::Actor& actor);
  // A one-time extra for the next billed period (docs/subscription-boxes.md, "Add-ons"):
  // `product` by id or SKU, priced in the subscription's currency; charged on that period's
  // invoice and shipped in its box. Errors: 422 validation_failed (no such product, not
  // priced, archived), 422 currency_mismatch, 409 no_upcoming_box (no period will be billed
  // again), 409 out_of_stock with alternatives.
  struct AddOnInput {
    std::string product;
    std::int64_t quantity = 1;
  };
  // The customer's choice for an upcoming box of a plan with a selection (make_choice), its
  // products by id or SKU; refused with 409 out_of_stock and alternatives when the stock
  // expected by the box's day cannot cover it (a check, as for add-ons).
  Result<Subscription> choose_box(const std::string& id, Timestamp period_start, std::vector<catalog::PlanItem> items,
                                  std::optional<std::int64_t> expected_version, const events::Actor& actor);
  Result<Subscription> add_on(const std::string& id, const AddOnInput& input,
                              std::optional<std::int64_t> expected_version, const events::Actor& actor);
  // Takes an add-on back before its period begins: off the subscription, and its charge off
  // the next invoice. Errors: 404 add_on_not_found (none such waits: unknown, or shipped).
  Result<Subscription> remove_add_on(const std::string& id, const std::string& add_on,
                                     std::optional<std::int64_t> expected_version, const events::Actor& actor);
  Result<ChangePreview> preview_change(const std::string& id, const ChangePlanInput& input);
  Result<Subscription> change_plan(const std::string& id, const ChangePlanInput& input,
                                   std::optional<std::int64_t> expected_version, const events::Actor& actor);
  // For billing's checkout, which charges what a change invoices at once in the request: the
  // change as change_plan makes it, and the invoice the change issued ("" none). The
  // request's key (input.request_key, "" for none) is kept with them in that transaction, so
  // that a retry finds them with changed_by_request instead of changing again.
  struct PlanChanged {
    Subscription subscription;
    std::string invoice;
  };
  Result<PlanChanged> change_plan_charging(const std::string& id, const ChangePlanInput& input,
                                           std::optional<std::int64_t> expected_version, const events::Actor& actor);
  // The change a request with this key made to subscription `id` (kRequestKeyLifetime), if
  // any: the subscription as it is now and the invoice that change issued.
  Result<std::optional<PlanChanged>> changed_by_request(const std::string& id, const std::string& request_key);
  Result<Subscription> cancel(const std::string& id, const CancelInput& input,
                              std::optional<std::int64_t> expected_version, const events::Actor& actor);
  Result<Subscription> reactivate(const std::string& id, std::optional<std::int64_t> expected_version,
                                  const events::Actor& actor);
  // A gift subscription carries on as a paid one after its last gift box (convert_gift):
  // `payment_method` (an attached pmt_ of its customer; none: the customer's default)
  // becomes the customer's default, which the charges after the gift use. Errors: 422
  // validation_failed (no method at all), 422 payment_method_not_found, 409 not_a_gift,
  // 409 invalid_state_transition (ended), 409 customer_erased.
  Result<Subscription> convert(const std::string& id, const std::optional<std::string>& payment_method,
                               std::optional<std::int64_t> expected_version, const events::Actor& actor);
  // Redeems a coupon for the subscription, replacing its current discount. It applies from
  // the next billed period (no proration) and counts as a redemption.
  Result<Subscription> apply_discount(const std::string& id, const DiscountInput& input,
                                      std::optional<std::int64_t> expected_version, const events::Actor& actor);
  // Ends the subscription's discount from its next invoice on (409 no_discount when it has
  // none). The redemption stays counted, as Stripe's does.
  Result<Subscription> remove_discount(const std::string& id, std::optional<std::int64_t> expected_version,
                                       const events::Actor& actor);

  Result<std::vector<UpcomingPeriod>> upcoming(const std::string& id, int count);
  // GET /v1/subscriptions/{id}/boxes: the next `count` boxes not begun yet (trials ship
  // none), each with what it will hold of its plan's selection: the customer's choice, or
  // what Recur would pick as things stand (chosen: false), the options as offered for its
  // day, and its cut-off.
  struct Box {
    UpcomingPeriod period;
    bool has_selection = false;
    Timestamp cutoff_at = 0;
    bool open = false;    // the choice may still be made or changed
    bool chosen = false;  // `items` are the customer's choice (else the default)
    std::vector<catalog::PlanItem> items;
    std::vector<Fulfilment::BoxOption> options;
  };
  Result<std::vector<Box>> boxes(const std::string& id, int count);
  // The next period billing will invoice (see next_billable), read in the caller's
  // transaction: of one subscription (404 subscription_not_found), or the soonest of a
  // customer's subscriptions (none when no subscription of theirs will be billed again).
  // `invoiced`: the next period with an invoice (see next_billable).
  Result<std::optional<NextPeriod>> next_billable_period(db::Tx& tx, const std::string& id, bool invoiced = false);
  Result<std::optional<NextPeriod>> next_billable_period_of_customer(db::Tx& tx, const std::string& customer,
                                                                     bool invoiced = false);
  Result<Page<events::Event>> history(const std::string& id, const ListParams& page);

  // Retention, the subscriber's steps before a cancellation (the merchant configures the
  // offers through RetentionService).
  Result<std::vector<RetentionOffer>> present_offers(const std::string& id, const std::string& reason,
                                                     const events::Actor& actor);
  Result<Subscription> accept_offer(const std::string& id, const std::string& offer_id, const events::Actor& actor);
  Result<Subscription> decline_offer(const std::string& id, const std::string& offer_id, const events::Actor& actor);

  // Runs every lifecycle step due at or before now (starts, trial ends, renewals,
  // resumptions, period-end cancellations), `batch` subscriptions a transaction (decision
  // 0033; one by one when a batch fails). `workers` > 1 advances that many batches at once
  // (PostgreSQL only: each in its own transaction and connection; the caller sizes the pool).
  Result<RunReport> run_due(int workers = 1, int batch = 1);

  // The shop's blackout dates (docs/subscription-boxes.md). Putting one moves at once the
  // deliveries already due that day (each with its subscription.delivery_moved step) and
  // answers how many moved; deleting one moves nothing back. `day`: days since 1970-01-01.
  Result<std::vector<BlackoutDate>> blackout_dates();
  struct BlackoutPut {
    BlackoutDate date;
    bool created = false;
    int moved = 0;
  };
  Result<BlackoutPut> put_blackout_date(std::int64_t day, const std::string& reason);
  recur::Status delete_blackout_date(std::int64_t day);

  // Wiring: the billing module (none: periods are not invoiced, as in unit setups).
  void set_billing(PeriodBilling* billing) { billing_ = billing; }
  void set_fulfilment(Fulfilment* fulfilment) { fulfilment_ = fulfilment; }
  // Called by billing inside its own transaction. Returns false when the step does not
  // apply to the subscription's state (e.g. already canceled): nothing changes then.
  Result<bool> apply_payment_step(db::Tx& tx, const std::string& id, PaymentStep step, const std::string& invoice);

 private:
  struct Loaded;
  // Applies one change to a loaded subscription at `now` (read after the row lock).
  using Change = std::function<Result<Json>(Loaded&, db::Tx&, Timestamp now)>;

  Result<Loaded> load(db::Tx& tx, const std::string& id, bool for_update);
  // The scheduler's step for one subscription: advance it to `now` and store and record what
  // happened; the number of steps (0: nothing was due, or the row is gone).
  Result<int> advance_stored(db::Tx& tx, const std::string& id, Timestamp now);
  // Load for update, bring up to now, check the version, apply `change`, store, record.
  Result<Subscription> mutate(const std::string& id, std::optional<std::int64_t> expected_version,
                              const events::Actor& actor, const std::string& event_type, const Change& change);
  Result<Subscription> mutate_in(db::Tx& tx, const std::string& id, std::optional<std::int64_t> expected_version,
                                 const events::Actor& actor, const std::string& event_type, const Change& change);
  // Records each step with its subscription JSON (LifecycleEvent::before/after; a step
  // without them shows `sub` after it, with no `before`) and hands billed periods on.
  // The subscription ended at once (canceled now, for non-payment, or expired unpaid): billing
  // closes its unpaid invoices (but `settling`, whose outcome the caller records), then
  // inventory its unpaid boxes.
  recur::Status ended_at_once(db::Tx& tx, const Subscription& sub, const std::string& settling);
  recur::Status record_lifecycle(db::Tx& tx, const Subscription& sub, std::vector<LifecycleEvent> happened,
                                 bool at_signup = false);
  Result<ChangePreview> plan_change(db::Tx& tx, const Loaded& loaded, const ChangePlanInput& input, Timestamp now);
  // The change of change_plan, applied to a loaded subscription.
  Change change_step(const ChangePlanInput& input);
  // Redeems `coupon` or `promotion_code` for `sub` on `plan` (in the caller's transaction).
  Result<Discount> redeem(db::Tx& tx, const Subscription& sub, const catalog::Plan& plan,
                          const std::optional<std::string>& coupon, const std::optional<std::string>& promotion_code,
                          Timestamp now);
  recur::Status record_outcome(db::Tx& tx, const std::string& sub_id, const std::string& offer_id,
                               const std::string& reason, std::string_view outcome);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
  PeriodBilling* billing_ = nullptr;
  Fulfilment* fulfilment_ = nullptr;
};

}  // namespace recur::subscriptions
