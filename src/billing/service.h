// Billing use cases: invoices from billable periods (inside the subscription's own
// transaction), collection through the gateways with crash-safe attempts, dunning, and
// the runs that drive them.
//
// How a charge stays exactly-once: an attempt is written as a `pending` payment with its
// idempotency key (invoice + attempt number) and committed BEFORE the gateway is called;
// the outcome is recorded in a second transaction. A crash or a timeout in between leaves
// the payment pending, and the next run asks the gateway again with the same key, which
// answers with the first result instead of charging again. A new key (a new attempt) is
// only made after a definitive failure.
#pragma once

#include <functional>

#include "billing/model.h"
#include "billing/payment_update.h"
#include "billing/settlement.h"
#include "billing/store.h"
#include "events/store.h"
#include "gateways/registry.h"
#include "notify/service.h"
#include "subscriptions/service.h"

namespace recur::billing {

using gateways::Gateways;

struct BillingOptions {
  std::int64_t attempt_lease_seconds = 300;  // a claimed attempt not recorded by then is asked again
  std::int64_t unknown_retry_seconds = 300;  // after a timeout or 5xx, ask again (same key) after this
  int batch = 100;
  // Runs advance subscriptions and charge invoices on this many threads (PostgreSQL only;
  // SQLite runs one). Claims skip rows another worker holds, so workers, like nodes,
  // never attempt the same invoice at once; the pool needs one connection per worker.
  int workers = 1;
  // Operators' address: a run whose failure rate jumps is e-mailed here ("": event and log only).
  std::string ops_email;
  // How long the update-payment link of a failed-payment or card-expiring message works.
  std::int64_t payment_update_token_seconds = kDefaultPaymentUpdateTtl;
  // The sandbox signs its webhooks with a well-known secret: accept them only where
  // nothing real is at stake (test mode).
  bool sandbox_webhooks = false;
};

// What became of an inbound gateway webhook.
struct WebhookReceipt {
  bool duplicate = false;  // this gateway's event id was handled before: nothing changed
  std::string outcome;     // as recorded in gateway_events ("settled", "already_settled", "ignored", ...)
};

struct CollectReport {
  int attempted = 0;
  int succeeded = 0;
  int failed = 0;
  int unknown = 0;  // timeouts and 5xx: asked again later with the same key
  int errors = 0;   // database errors (the invoice is picked up again after the lease)
  std::string first_error;
  int refunds_resumed = 0;
  int reminders_queued = 0;
  int reminders_failed = 0;  // could not be queued (logged with the run id; tried again next run)
};

struct ReminderReport {
  int queued = 0;
  int failed = 0;
  std::string first_error;
};

// One pass of the billing runner: lifecycle steps (renewals create invoices) then charges.
struct BillingRun {
  std::string id;  // "brun_..."
  std::string trigger;  // "scheduler", "cli", "test_clock", "api"
  Timestamp started = 0;
  Timestamp finished = 0;
  Timestamp as_of = 0;
  int subscriptions_advanced = 0;
  int lifecycle_events = 0;
  int lifecycle_failures = 0;
  CollectReport payments;
  bool failure_rate_alert = false;  // failures jumped well above the recent runs' rate
};
Json to_json(const BillingRun& run);

// How far a run has got, for `recur bill`'s progress bar.
struct Progress {
  std::string phase;  // "renewals", "charges"
  std::int64_t done = 0;
  std::int64_t total = 0;
};

// One page of a cursor list (newest first).
template <typename T>
struct Page {
  std::vector<T> items;
  bool has_more = false;
};
using InvoicePage = Page<Invoice>;
using PaymentPage = Page<Payment>;
using RunPage = Page<BillingRun>;

struct RefundInput {
  std::string invoice;
  std::optional<std::int64_t> amount;  // default: everything still refundable
  std::string reason = "requested_by_customer";
  // The request's Idempotency-Key: a retry of a request that made the refund (and then died
  // before answering) resumes that refund instead of making a second (decision 0009).
  std::string request_key;
};

struct CreditInput {
  std::string invoice;
  std::int64_t amount = 0;
  std::string reason;
  std::string memo;
};

using RefundPage = Page<Refund>;
using CreditNotePage = Page<CreditNote>;

struct DunningPatch {
  std::optional<std::vector<std::int64_t>> retry_days;
  std::optional<FinalAction> final_action;
};

class BillingService final : public subscriptions::PeriodBilling {
 public:
  BillingService(db::Database& db, const Clock& clock, IdGenerator& ids, Gateways& gateways,
                 subscriptions::SubscriptionService& subscriptions, BillingOptions options = {},
                 notify::Notifier* notifier = nullptr);

  // subscriptions::PeriodBilling: invoices the period that just began.
  recur::Status period_began(db::Tx& tx, const subscriptions::Subscription& sub,
                             const subscriptions::LifecycleEvent& period) override;
  // subscriptions::PeriodBilling: voids the ended subscription's open invoices; one with a
  // charge in flight is marked `collection_ended` and closed by that charge's answer.
  recur::Status subscription_ended(db::Tx& tx, const subscriptions::Subscription& sub,
                                   const std::string& settling) override;

  void on_progress(std::function<void(const Progress&)> listener) { progress_ = std::move(listener); }

  // Charges every open invoice whose attempt is due, in batches.
  Result<CollectReport> collect_due();
  // Lifecycle then collection, recorded in the run history.
  Result<BillingRun> run(const std::string& trigger);
  // Tries the customer's open invoices now (after a new default payment method).
  CollectReport retry_customer(const std::string& customer);
  // Tries one open invoice now, whatever its schedule.
  // request_key: the request's Idempotency-Key; a retry of a request whose attempt was made
  // resumes it (a pending payment is asked about again) or answers with the invoice as it is.
  Result<Invoice> pay_invoice(const std::string& id, const std::string& request_key = "");

  Result<Invoice> get_invoice(const std::string& id);
  Result<InvoicePage> list_invoices(const InvoiceFilter& filter);
  Result<Invoice> void_invoice(const std::string& id, const events::Actor& actor);
  Result<Payment> get_payment(const std::string& id);
  Result<PaymentPage> list_payments(const PaymentFilter& filter);
  Result<RunPage> list_runs(int limit, const std::optional<std::string>& starting_after);

  // Money back on a paid invoice through its gateway, with a credit note once it succeeded.
  Result<Refund> refund(const RefundInput& input, const events::Actor& actor);
  // A credit note that takes `amount` off the customer's next invoice (no money moves).
  Result<CreditNote> credit(const CreditInput& input, const events::Actor& actor);
  // Renewal reminders (each plan's renewal_reminder_days before a renewal) and notices of
  // default cards expiring this month, each queued once (a `reminders` row per key).
  // A reminder whose message cannot be queued is not marked sent: it is counted in `failed`,
  // logged with `run` (the billing run's id, if any) and tried again next time.
  Result<ReminderReport> send_reminders(const std::string& run = "");

  // An inbound webhook of `gateway`: verified against the raw body (ErrorKind::kUnauthorized
  // when the signature is bad or stale; kNotFound for a gateway that takes no webhooks
  // here), then handled once per event id in one transaction with its effects: a charge
  // or refund Recur still has pending is settled as the next run would settle it; a
  // dispute is recorded as a `payment.disputed` event; anything else is only recorded.
  Result<WebhookReceipt> receive_webhook(const std::string& gateway, const std::map<std::string, std::string>& headers,
                                         const std::string& body);

  // Asks the gateway again about refunds left pending (a timeout, a crash).
  Result<int> resume_pending_refunds();
  Result<Refund> get_refund(const std::string& id);
  Result<RefundPage> list_refunds(const RefundFilter& filter);
  Result<CreditNote> get_credit_note(const std::string& id);
  Result<CreditNotePage> list_credit_notes(const RefundFilter& filter);

  Result<TaxSettings> tax();
  // Replaces the whole table of rates; applies to invoices made afterwards.
  Result<TaxSettings> update_tax(std::map<std::string, std::int64_t> rates, std::int64_t expected_version,
                                 const events::Actor& actor);
  Result<DunningSettings> dunning();
  Result<DunningSettings> update_dunning(const DunningPatch& patch, std::int64_t expected_version,
                                         const events::Actor& actor);

  // The earliest time something billing-related is scheduled (the test clock's next stop).
  Result<std::optional<Timestamp>> next_due_at();

 private:
  enum class AttemptResult { kSkipped, kSucceeded, kFailed, kUnknown };
  struct Prepared;
  // request_key: the Idempotency-Key of a POST .../pay, remembered on a new payment so that
  // a retry resumes that payment instead of making another attempt (decision 0009).
  Result<AttemptResult> attempt(const std::string& invoice_id, const std::string& request_key = "");
  Result<std::optional<Prepared>> prepare_attempt(const std::string& invoice_id, Timestamp now,
                                                  AttemptResult* settled, const std::string& request_key);
  Result<AttemptResult> record_outcome(const Prepared& prepared, const ChargeResult& result, Timestamp now);
  // The one place an answer about a charge is recorded: only while the payment is still
  // pending (kSkipped otherwise). Requires: called inside a transaction.
  Result<AttemptResult> settle_payment(db::Tx& tx, const std::string& invoice, const std::string& payment,
                                       const ChargeResult& result, Timestamp now);
  struct Handled {
    std::string outcome;
    std::string resource;  // the payment or refund it was about, when found
  };
  Result<Handled> act_on(db::Tx& tx, const std::string& gateway, const WebhookEvent& event, Timestamp now);
  Result<Handled> settle_charge(db::Tx& tx, const std::string& gateway, const ChargeNotice& notice, Timestamp now);
  Result<Handled> settle_refund_notice(db::Tx& tx, const std::string& gateway, const RefundNotice& notice,
                                       Timestamp now);
  Result<Handled> record_dispute(db::Tx& tx, const std::string& gateway, const DisputeNotice& notice);
  Result<std::optional<Payment>> payment_for(db::Tx& tx, const ChargeNotice& notice);
  recur::Status record_failure(db::Tx& tx, Invoice& invoice, Timestamp now);
  // Voids `invoice` (stored by the caller) because its subscription ended: event
  // invoice.voided with reason subscription_canceled.
  recur::Status void_ended(db::Tx& tx, Invoice& invoice, Timestamp now);
  // A charge of a `collection_ended` invoice succeeded: the money goes back in full (a
  // pending refund, asked of the gateway by the next run), since the period never ships.
  recur::Status refund_ended(db::Tx& tx, Invoice& invoice, const Payment& payment, Timestamp now);
  // Whether paying `invoice` brings its subscription back to active: a failing invoice of a
  // past_due one, or the last open invoice of an unpaid one.
  Result<bool> payment_recovers(db::Tx& tx, const Invoice& invoice, bool was_failing);
  RefundResult ask_refund(const Refund& refund);
  Result<std::optional<Refund>> refund_of_request(const std::string& request_key);
  Result<Refund> resume_refund(const Refund& refund);
  Result<bool> remind_renewal(const std::string& subscription, Timestamp now);
  Result<bool> remind_card_expiring(const std::string& payment_method, Timestamp now);
  // Marks a reminder sent; false when it was sent before.
  Result<bool> claim_reminder(db::Tx& tx, const std::string& key, const std::string& subscription,
                              std::string_view kind, Timestamp due_at, Timestamp now);
  Result<std::optional<Timestamp>> next_reminder_at(db::Tx& tx, Timestamp now);
  // Alerts operators (an error log line and a `billing.failure_rate_high` event, which
  // webhooks and monitoring read) when this run's failure rate jumped.
  Result<bool> failure_rate_jumped(const BillingRun& run);
  Result<Refund> settle_refund(const std::string& id, const RefundResult& result);
  // settle_refund inside the caller's transaction.
  Result<Refund> settle_refund(db::Tx& tx, const std::string& id, const RefundResult& result, Timestamp now);
  // Receipt or failed-payment e-mail, queued in the outcome's transaction; a message
  // that cannot be queued is logged and never holds up billing.
  void tell_customer(db::Tx& tx, const Invoice& invoice, const Payment& payment);
  // Queues `m` with a fresh one-time update-payment token for `grant` in its data; the
  // token's hash is stored only when the message was queued. Requires: notifier_ set.
  Result<std::string> enqueue_with_payment_link(db::Tx& tx, notify::Message m, const PaymentUpdateGrant& grant);
  int workers() const;  // options_.workers on PostgreSQL, 1 on SQLite
  static void count(CollectReport& report, const std::string& invoice, const Result<AttemptResult>& result);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  Gateways& gateways_;
  subscriptions::SubscriptionService& subscriptions_;
  BillingOptions options_;
  events::Recorder events_;
  notify::Notifier* notifier_;
  std::function<void(const Progress&)> progress_;
};

}  // namespace recur::billing
