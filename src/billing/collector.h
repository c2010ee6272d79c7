// Collection: the exactly-once charge of decision 0005.
//
// An attempt is written as a `pending` payment with its idempotency key (invoice + attempt
// number) and committed BEFORE the gateway is called; the outcome is recorded in a second
// transaction. A crash or a timeout in between leaves the payment pending, and the next run
// asks the gateway again with the same key, which answers with the first result instead of
// charging again. A new key (a new attempt) is only made after a definitive failure, and
// every answer (a run's, a webhook's) is recorded by the one function settle_payment.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "billing/messages.h"
#include "billing/model.h"
#include "billing/settlement.h"
#include "events/store.h"
#include "gateways/registry.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"
#include "subscriptions/service.h"

namespace recur::billing {

using gateways::Gateways;

// Told of an invoice just paid, inside the transaction that pays it (the App wires
// inventory's, which marks the period's box paid), so a failure rolls the payment back too.
using InvoicePaid = std::function<recur::Status(db::Tx&, const Invoice&)>;

class Collector {
 public:
  // kRequiresAction: the bank asks the customer to authenticate (SCA / 3-D Secure).
  enum class AttemptResult { kSkipped, kSucceeded, kFailed, kUnknown, kRequiresAction };

  // unknown_retry_seconds: after a timeout or 5xx, the payment is asked about again (same
  // key) after this long. authentication_deadline_seconds: how long a charge waits for the
  // customer's authentication (the life of the link sent with it: --payment-update-ttl-days).
  Collector(db::Database& db, const Clock& clock, IdGenerator& ids, Gateways& gateways,
            subscriptions::SubscriptionService& subscriptions, PaymentMessages& messages,
            std::int64_t unknown_retry_seconds, std::int64_t authentication_deadline_seconds)
      : db_(db), clock_(clock), ids_(ids), gateways_(gateways), subscriptions_(subscriptions), messages_(messages),
        unknown_retry_seconds_(unknown_retry_seconds),
        authentication_deadline_seconds_(authentication_deadline_seconds), events_(ids, clock) {}

  // What expire_waiting did.
  struct ExpiryReport {
    int settled = 0;  // recorded failed (canceled) or paid
    int errors = 0;   // database errors: that payment is tried again by the next run
    std::string first_error;
  };

  // One attempt of an open invoice: a payment still pending is asked about again with its
  // key; otherwise a new attempt is committed, then the gateway asked, then the answer
  // recorded. request_key: the Idempotency-Key of a POST .../pay, remembered on a new
  // payment so that a retry resumes that payment instead of making another (decision 0009).
  // wait: how long the caller waits for the gateway's answer (checkout); past it the payment
  // stays pending, as after a timeout, and is asked about again later with the same key.
  Result<AttemptResult> attempt(const std::string& invoice_id, const std::string& request_key = "",
                                std::optional<std::chrono::milliseconds> wait = std::nullopt);
  // The attempts of a billing run's batch (decision 0033): every new or resumed attempt
  // committed pending in one transaction, then the gateway asked once per invoice, then every
  // answer recorded in one transaction. A batch transaction that fails is done again one
  // invoice at a time (attempt, record_outcome). One result per id, in order.
  // The claim's lease (lease_seconds) is kept on each invoice's row while its charge is in
  // flight; past half of it (a slow gateway) the remaining invoices are not asked: their
  // claims are given back at once (kSkipped, `released`), due again for the next claim.
  // held_until: the lease the claim wrote on the rows.
  struct BatchResult {
    std::vector<Result<AttemptResult>> results;  // one per id, in order
    std::size_t not_asked = 0;                   // the batch was cut short before them
    std::size_t released = 0;                    // of those, given back (kSkipped; else kUnknown)
  };
  BatchResult attempt_batch(const std::vector<std::string>& invoice_ids, std::int64_t lease_seconds,
                            Timestamp held_until);
  // Tries the customer's open invoices now (after a new default payment method): those Recur
  // charges (charge_automatically); with `sent`, instead those sent to the customer to pay
  // (send_invoice), which only the customer's own payment link pays this way.
  CollectReport retry_customer(const std::string& customer, bool sent = false);
  // Tries one open invoice now, whatever its schedule. A charge waiting for the customer's
  // authentication is asked about instead (409 payment_requires_action while it waits).
  // request_key: the request's Idempotency-Key; a retry of a request whose attempt was made
  // resumes it (a pending payment is asked about again) or answers with the invoice as it is.
  Result<Invoice> pay_invoice(const std::string& id, const std::string& request_key = "");
  // After the customer answered the bank's challenge of a payment that requires_action
  // (POST /v1/payments/{id}/confirm): asks the gateway about the charge and records a final
  // answer; a settled payment is answered as it is. `customer`: the one the caller speaks
  // for (a payment-update token's). Errors: 404 payment_not_found (also another customer's);
  // 409 payment_not_awaiting_action when the payment is pending (its answer is on the way);
  // 503 gateway_error when the gateway does not answer.
  Result<Payment> confirm_payment(const std::string& payment_id, const std::string& customer);
  // Charges whose wait for the customer's authentication ended (action_expires_at: the life
  // of the link the customer was sent; docs/billing-rules.md, "Authentication"), at most
  // `batch`: each is canceled at the gateway (which tells one the customer authenticated
  // meanwhile, the notice lost: recorded paid) and recorded failed as a decline
  // (authentication_required, which dunning retries on its schedule). Without a certain
  // answer its deadline moves kWaitingRecheckSeconds on, so that it holds up no other. One
  // payment's error does not stop the others.
  static constexpr std::int64_t kWaitingRecheckSeconds = 3600;
  ExpiryReport expire_waiting(Timestamp now, int batch);

  // The one place an answer about a charge is recorded: only while the payment is still
  // pending, or waits for the customer's authentication and the answer is final, or was
  // given up waiting (failure_code authentication_required) and succeeded after all at a
  // gateway that cannot cancel for certain (kSkipped otherwise). A success for an invoice
  // already paid, or voided, is recorded and refunded in full (refund reason "duplicate").
  // Requires: called inside a transaction.
  Result<AttemptResult> settle_payment(db::Tx& tx, const std::string& invoice, const std::string& payment,
                                       const ChargeResult& result, Timestamp now);

  // Every invoice that becomes paid after it was issued is paid here (a zero invoice is paid
  // when issued): `paid` hears of each.
  void on_invoice_paid(InvoicePaid paid) { invoice_paid_ = std::move(paid); }
  // Hears of every charge asked of a gateway: which, its outcome and the seconds it took
  // (/metrics). Set before the first attempt.
  using ChargeObserver = std::function<void(const std::string& gateway, Outcome outcome, double seconds)>;
  void on_charge(ChargeObserver observer) { charge_observer_ = std::move(observer); }

  // Adds one attempt's result to `report` (errors keep the first message, with the invoice).
  static void count(CollectReport& report, const std::string& invoice, const Result<AttemptResult>& result);

  // The invoice as stored now (404 invoice_not_found).
  Result<Invoice> read_invoice(const std::string& id);

 private:
  struct Prepared;
  // *waiting: set to a charge of the invoice that waits for authentication when the
  // customer's default payment method is now another one (replace_waiting_charge's input).
  Result<std::optional<Prepared>> prepare_attempt(const std::string& invoice_id, Timestamp now,
                                                  AttemptResult* settled, const std::string& request_key,
                                                  std::optional<Payment>* waiting);
  Result<std::optional<Prepared>> prepare_in(db::Tx& tx, const std::string& invoice_id, Timestamp now,
                                             AttemptResult* settled, const std::string& request_key,
                                             std::optional<Payment>* waiting, std::optional<Timestamp> hold_until);
  // Asks the gateway for the prepared charge (no transaction may be open).
  ChargeResult charge(const Prepared& prepared, std::optional<std::chrono::milliseconds> wait);
  Result<AttemptResult> record_outcome(const Prepared& prepared, const ChargeResult& result, Timestamp now);
  // A charge of the invoice waits for the customer's authentication, and the customer's
  // default payment method is now another one: the waiting charge is canceled at the gateway
  // (so it can never succeed later) and recorded failed, which lets the new card be charged.
  // If the customer authenticated it first, it is recorded paid (kSucceeded): nothing more
  // to charge. Without a definitive answer it keeps waiting (kSkipped: charge nothing new).
  // std::nullopt once it was replaced (the new card is charged next).
  // cancel_waiting: the gateway's cancel of `waiting`, read as certain (kSucceeded: paid
  // meanwhile; kFailed with the charge's id: canceled) or kRequiresAction (it still waits).
  ChargeResult cancel_waiting(const Payment& waiting);
  Result<std::optional<AttemptResult>> replace_waiting_charge(const Payment& waiting, Timestamp now);
  // Dunning after the failed attempt `payment`: the next try, or the settings' final action,
  // by the retry rule (billing/retry_timing.h) in the customer's time zone.
  // `before`: the invoice as it was before this attempt changed it (for its event).
  // True when the customer is to be told (not at checkout: an incomplete subscription's).
  Result<bool> record_failure(db::Tx& tx, Invoice& invoice, Json before, Timestamp now, const Payment& payment);
  // The settings' final action on `invoice` (its event: invoice.dunning_exhausted with `details`).
  recur::Status finish_dunning(db::Tx& tx, Invoice& invoice, Json before, Json details);
  // Sets the declined `payment`'s decline code and class (hard or soft: billing/failure_codes.h),
  // counting the same decline on the same card in a row on its invoice.
  recur::Status classify(db::Tx& tx, Payment& payment, const std::string& decline_code);
  // A charge of a `collection_ended` invoice succeeded (`why` "subscription_canceled": the
  // period never ships), or one of an invoice already paid or voided ("duplicate"): the money
  // goes back in full (a pending refund, asked of the gateway by the next run).
  recur::Status refund_ended(db::Tx& tx, Invoice& invoice, const Payment& payment, Timestamp now,
                             const std::string& why = "subscription_canceled");
  // What paying `invoice` does to its subscription: activates an incomplete one; brings back
  // to active a past_due one (a failing invoice) or an unpaid one (its last open invoice).
  Result<std::optional<subscriptions::PaymentStep>> payment_recovers(db::Tx& tx, const Invoice& invoice,
                                                                      bool was_failing);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  Gateways& gateways_;
  subscriptions::SubscriptionService& subscriptions_;
  PaymentMessages& messages_;
  std::int64_t unknown_retry_seconds_;
  std::int64_t authentication_deadline_seconds_;
  events::Recorder events_;
  InvoicePaid invoice_paid_;
  ChargeObserver charge_observer_;
};

}  // namespace recur::billing
