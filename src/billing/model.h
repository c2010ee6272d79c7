// Billing's types and pure rules: invoices and their totals, the invoice of a billable
// period, payment attempts, the dunning schedule and its steps, run reports. No I/O: the
// billing classes store these and talk to gateways.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "platform/json.h"
#include "platform/result.h"
#include "platform/time.h"
#include "subscriptions/model.h"
#include "subscriptions/subscription.h"

namespace recur::billing {

enum class InvoiceStatus { kDraft, kOpen, kPaid, kVoid, kUncollectible };
std::string_view to_string(InvoiceStatus status);
std::optional<InvoiceStatus> invoice_status_from(std::string_view text);

// How an invoice is paid (Stripe's collection_method): charged to the customer's default
// payment method by Recur (with dunning), or sent to the customer, who pays it by its due
// date through the link in the e-mail (nothing is charged automatically).
enum class CollectionMethod { kChargeAutomatically, kSendInvoice };
std::string_view to_string(CollectionMethod method);
std::optional<CollectionMethod> collection_method_from(std::string_view text);
inline constexpr std::string_view kCollectionMethods[] = {"charge_automatically", "send_invoice"};

struct InvoiceLine {
  std::string description;
  std::int64_t amount = 0;  // minor units; negative for credits
  std::int64_t quantity = 1;
  Period period;
  bool proration = false;
};

struct Invoice {
  std::string id;      // "in_..."
  std::string number;  // "INV-000001": gapless, given when finalized
  std::string subscription;  // empty: a one-off invoice (POST /v1/invoices), of no subscription
  std::string customer;
  InvoiceStatus status = InvoiceStatus::kDraft;
  CollectionMethod collection_method = CollectionMethod::kChargeAutomatically;
  std::optional<Timestamp> due_date;  // send_invoice: when the customer is asked to have paid
  Period period;
  std::string currency;
  std::vector<InvoiceLine> lines;
  std::int64_t subtotal = 0;  // sum of lines
  std::int64_t discount = 0;  // taken off the subtotal (>= 0)
  std::optional<subscriptions::DiscountSource> discount_source;
  std::int64_t tax = 0;
  std::int64_t total = 0;  // subtotal - discount + tax, never below zero
  std::int64_t amount_paid = 0;
  std::int64_t amount_refunded = 0;  // money given back (refunds succeeded or in flight)
  std::int64_t amount_credited = 0;  // credit notes carried to the customer's next invoice
  std::int64_t amount_disputed = 0;       // under an open dispute: held by the gateway (billing/disputes.h)
  std::int64_t amount_disputed_lost = 0;  // disputes lost: taken back by the customer's bank
  std::int64_t attempt_count = 0;  // charges tried (each with its own idempotency key)
  std::optional<Timestamp> next_attempt_at;
  std::optional<Timestamp> first_failed_at;
  std::optional<Timestamp> paid_at;
  // "subscription_create", "subscription_cycle", "subscription_update"; "manual": one-off
  std::string billing_reason;
  // The subscription ended at once while a charge of this open invoice was in flight
  // (decision 0010): no new attempt is made; the one in flight is asked about again with its
  // key, and its answer closes the invoice (a failure voids it, a success is refunded).
  bool collection_ended = false;
  // A charge of this payment method ("pmt_...") was declined hard (smart dunning): it is not
  // charged again for this invoice; a new default payment method is (empty: none).
  std::string hard_declined_payment_method;
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
  Json metadata = Json::object();
};

// What the customer still owes on `invoice`: only an open invoice is owed (the API's amount_due).
std::int64_t amount_due(const Invoice& invoice);
Json to_json(const Invoice& invoice);
// What refunds and credit notes may still take back from a paid invoice: not what a dispute
// holds or took back already.
inline std::int64_t creditable(const Invoice& inv) {
  return inv.amount_paid - inv.amount_refunded - inv.amount_credited - inv.amount_disputed - inv.amount_disputed_lost;
}
Invoice invoice_from_doc(const Json& doc);

// Totals from the lines, a discount and a tax rate (basis points, 0..10000). The discount
// comes off the charges (positive lines) and never exceeds them; credits (negative lines)
// are weighed against what is left after it, and the part of a credit that the invoice
// cannot absorb is returned in `carried_credit` (< 0) for the next invoice.
struct Totals {
  std::int64_t subtotal = 0;
  std::int64_t discount = 0;
  std::int64_t tax = 0;
  std::int64_t total = 0;
  std::int64_t carried_credit = 0;
};
Totals compute_totals(const std::vector<InvoiceLine>& lines, std::int64_t discount, std::int64_t tax_rate_bp);

// The invoice of a billable period: `lines` are the plan line at gross, then the items
// waiting for it (proration lines, credit notes, credit carried from before); `discount`
// is what the period's discount takes off the plan line (gross - period amount). The
// discount is applied before any credit is weighed, so a credit larger than the discounted
// charge carries exactly the rest: a line "Unused credit carried to the next invoice" is
// added and `carried` (< 0) is what the next invoice must take off. Pure.
struct PeriodInvoice {
  std::vector<InvoiceLine> lines;
  Totals totals;
  std::int64_t carried = 0;
};
PeriodInvoice invoice_period(std::vector<InvoiceLine> lines, std::int64_t discount, std::int64_t tax_rate_bp,
                             Period period);
inline constexpr std::string_view kCarriedCreditLine = "Unused credit carried to the next invoice";

// Why the invoice of a billable period was made, in Stripe's words: "subscription_create"
// (the first period), "subscription_cycle" (a renewal, a trial's end) or
// "subscription_update" (a period restarted by a change).
std::string billing_reason(const subscriptions::LifecycleEvent& period);

// The invoice of the billable `period` that `sub` moved into, before it has an id and a
// number: the plan line (named `plan_name`, at gross), then `pending` (the items waiting for
// it, oldest first), the period's discount, tax at `tax_rate_bp` (0..10000), and its status:
// paid at once when nothing is owed, otherwise open and due now (unless the subscription is
// unpaid: then nothing is charged automatically). `carried` (< 0) is the credit the invoice
// could not absorb, to be waiting for the next one. Pure.
struct BuiltInvoice {
  Invoice invoice;
  std::int64_t carried = 0;
};
BuiltInvoice build_invoice(const subscriptions::Subscription& sub, const subscriptions::LifecycleEvent& period,
                           const std::string& plan_name, std::vector<InvoiceLine> pending, std::int64_t tax_rate_bp);

// An invoice of pending items alone, issued between periods (a plan change made with
// proration "always_invoice"): the items as its lines, no discount, tax at `tax_rate_bp`,
// its period spanning the lines', billing_reason "subscription_update", open and due at
// `at` (paid at once when nothing is owed). Requires: `items` is not empty.
BuiltInvoice build_items_invoice(const subscriptions::Subscription& sub, std::vector<InvoiceLine> items,
                                 std::int64_t tax_rate_bp, Timestamp at);

// A one-off invoice (POST /v1/invoices): lines the merchant wrote, of no subscription.
struct OneOffSpec {
  std::string customer;
  std::string currency;
  std::vector<InvoiceLine> lines;  // amount = the line's total; period set to the issue time
  CollectionMethod collection_method = CollectionMethod::kChargeAutomatically;
  std::optional<Timestamp> due_date;  // send_invoice only
  Json metadata = Json::object();
  // Taken off the charged lines (a gift's coupon), and where it came from.
  std::int64_t discount = 0;
  std::optional<subscriptions::DiscountSource> discount_source;
  std::string billing_reason = "manual";  // "gift": a gift's one charge (gifts module)
};
// The largest line of a one-off invoice (unit amount x quantity), so that 100 lines cannot
// overflow a total.
inline constexpr std::int64_t kMaxOneOffLineAmount = std::int64_t{1} << 50;
// The invoice of `spec` before it has an id and a number: its lines as given, no discount,
// tax at `tax_rate_bp` (0..10000), billing_reason "manual", its period the instant `at`, open.
// charge_automatically: due at `at` (the collector charges it, dunning follows a refusal);
// send_invoice: no attempt is scheduled, due_date as given. Errors (422 validation_failed,
// nothing built): no lines, a line over kMaxOneOffLineAmount, lines that owe nothing (a
// credit larger than the charges has no next invoice to go to), a due_date with
// charge_automatically or not after `at`. A send_invoice without a due date is due 30 days
// after `at`. Pure.
inline constexpr std::int64_t kDefaultDaysUntilDue = 30;
Result<Invoice> build_one_off_invoice(OneOffSpec spec, std::int64_t tax_rate_bp, Timestamp at);

// requires_action: the gateway asks the customer to authenticate (SCA / 3-D Secure). Not
// settled, like pending, but nobody charges or asks again until the customer acted.
enum class PaymentStatus { kPending, kSucceeded, kFailed, kRequiresAction };
std::string_view to_string(PaymentStatus status);

// One charge attempt of an invoice. `pending` means the gateway was (or is about to be)
// asked and the answer is not recorded yet: asking again with the same idempotency key
// is safe and returns the first answer.
struct Payment {
  std::string id;  // "pay_..."
  std::string invoice;
  std::string customer;
  std::int64_t attempt = 1;
  PaymentStatus status = PaymentStatus::kPending;
  std::int64_t amount = 0;
  std::string currency;
  std::string gateway;
  std::string payment_method;  // "pmt_..." (empty: the customer had none)
  std::string idempotency_key;
  std::string gateway_reference;  // the gateway's id for the charge, once it gave one
  std::string failure_code;          // Recur's (billing/failure_codes.h)
  std::string gateway_failure_code;  // the gateway's own, as its adapter passed it on
  std::string failure_message;
  // A refusal by the card's issuer: its normalised code and class, "hard" or "soft"
  // (billing/failure_codes.h); empty otherwise.
  std::string decline_code;
  std::string decline_type;
  // requires_action: where the customer authenticates, when the gateway gave a page for it.
  std::string action_url;
  // requires_action: when Recur stops waiting for the customer's authentication (the life of
  // the link sent with it); the run then asks the gateway, cancels and records it failed.
  std::optional<Timestamp> action_expires_at;
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;  // grows by one with each change (a settlement)
  Json metadata = Json::object();
};

Json to_json(const Payment& payment);
// What a customer's link may see of their payment (POST /v1/payments/{id}/confirm): its
// state, amount and next step, without the gateway's references, key or payment method.
Json to_public_json(const Payment& payment);
Payment payment_from_doc(const Json& doc);

// Money given back on a paid invoice. Like a charge, it is written `pending` with its
// idempotency key before the gateway is asked, and settled by the answer.
struct Refund {
  std::string id;  // "re_..."
  std::string invoice;
  std::string payment;  // the succeeded charge being refunded
  std::string customer;
  std::int64_t amount = 0;
  std::string currency;
  std::string reason;  // requested_by_customer | duplicate | fraudulent
  PaymentStatus status = PaymentStatus::kPending;
  std::string gateway;            // the charge's gateway, which gives the money back
  std::string gateway_reference;  // the gateway's id for the refund, once it gave one
  std::string failure_code;          // Recur's (billing/failure_codes.h)
  std::string gateway_failure_code;  // the gateway's own, as its adapter passed it on
  std::string failure_message;
  std::string credit_note;  // "cn_..." once it succeeded
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;  // grows by one with each change (an answer of the gateway)
  Json metadata = Json::object();
};

Json to_json(const Refund& refund);
Refund refund_from_doc(const Json& doc);
// A refund of `amount` of `charge` (a succeeded payment of `invoice`), pending until the
// charge's gateway answers. Pure.
Refund pending_refund(std::string id, const Invoice& invoice, const Payment& charge, std::int64_t amount,
                      std::string reason, Timestamp now);

inline constexpr std::string_view kRefundReasons[] = {"requested_by_customer", "duplicate", "fraudulent"};

// A finalized reduction of a paid invoice: money back (`refund`) or a credit on the
// customer's next invoice (`credit`). Numbered without gaps, immutable.
struct CreditNote {
  std::string id;      // "cn_..."
  std::string number;  // "CN-000001"
  std::string invoice;
  std::string customer;
  std::string subscription;
  std::int64_t amount = 0;  // > 0: how much the invoice is reduced by
  std::string currency;
  std::string reason;
  std::string type;    // "refund" | "credit"
  std::string refund;  // "re_..." for type refund
  std::string memo;
  Timestamp created = 0;
  // Immutable: updated is created, version stays 1.
  Timestamp updated = 0;
  std::int64_t version = 1;
  Json metadata = Json::object();
};

Json to_json(const CreditNote& note);
CreditNote credit_note_from_doc(const Json& doc);

// What happens when the retries run out.
enum class FinalAction { kCancel, kUnpaid, kPause };
std::string_view to_string(FinalAction action);
std::optional<FinalAction> final_action_from(std::string_view text);

// How retries are timed (billing/retry_timing.h): `fixed` follows retry_days whatever the
// decline; `smart` reads the decline (hard declines stop, insufficient funds waits for the
// customer's morning and payday) within the same window.
enum class DunningMode { kFixed, kSmart };
std::string_view to_string(DunningMode mode);
std::optional<DunningMode> dunning_mode_from(std::string_view text);

struct DunningSettings {
  std::vector<std::int64_t> retry_days{1, 3, 5, 7};  // days after the first failure, ascending
  FinalAction final_action = FinalAction::kCancel;
  DunningMode mode = DunningMode::kSmart;
  std::int64_t version = 1;
  Timestamp updated = 0;
};

// Tax by the customer's country (shipping address), in basis points (1900 = 19 %). A
// country not listed, or a customer without an address, pays no tax.
struct TaxSettings {
  std::map<std::string, std::int64_t> rates_bp;  // "DE" -> 1900
  std::int64_t version = 1;
  Timestamp updated = 0;
};

Json to_json(const TaxSettings& settings);
TaxSettings tax_from_doc(const Json& doc);
// Reads {"DE": 1900, ...}: ISO 3166-1 alpha-2 keys (upper-cased), 0..10000 each.
Result<std::map<std::string, std::int64_t>> parse_tax_rates(const Json& rates);
std::int64_t tax_rate_for(const TaxSettings& settings, const std::optional<std::string>& country);

Json to_json(const DunningSettings& settings);
DunningSettings dunning_from_doc(const Json& doc);
// Refuses an empty, unsorted, duplicate or out-of-range (1..60 days) schedule.
Status validate(const DunningSettings& settings);

// When to try again after `failures` failed attempts (>= 1) that began at `first_failure`;
// none when the schedule is exhausted.
std::optional<Timestamp> next_retry_at(const DunningSettings& settings, Timestamp first_failure, std::int64_t failures);

// What dunning does after the invoice's `attempt`-th attempt (>= 1) failed, the first
// failure having been at `first_failed`: try again at a time, or, once the schedule is
// exhausted, the settings' final action. Pure.
using DunningStep = std::variant<Timestamp, FinalAction>;
DunningStep dunning_step(const DunningSettings& settings, Timestamp first_failed, std::int64_t attempt);

// A run's charge failures (declines and unknown answers) are alarming when there were at
// least kAlertMinAttempts of them and the rate is above 20 % and more than twice the
// usual rate of recent runs (a gateway outage, a misconfiguration, card testing).
inline constexpr int kAlertMinAttempts = 10;
bool failure_rate_is_alarming(double rate, double usual_rate);

// The idempotency key of an invoice's n-th attempt: stable across crashes and workers.
std::string attempt_key(const std::string& invoice, std::int64_t attempt);

// The one "no such invoice" error of every billing use case.
Error invoice_not_found(const std::string& id);

// What a pass over the due charges did.
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
  int requires_action = 0;   // the bank asks the customer to authenticate (3-D Secure)
  // Charges nobody authenticated in time, canceled and recorded failed (BillingRuns).
  int authentication_expired = 0;
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
BillingRun run_from_doc(const Json& doc);

}  // namespace recur::billing
