// Billing persistence: invoices (unique per subscription period), gapless numbers,
// payment attempts, dunning settings and the history of billing runs.
#pragma once

#include <set>
#include <string_view>
#include <utility>

#include <optional>
#include <vector>

#include "billing/document.h"
#include "billing/model.h"
#include "platform/db/database.h"
#include "platform/page.h"
#include "subscriptions/store.h"

namespace recur::billing {

// Inserts unless the subscription's `period_seq`-th billed period already has an
// invoice; false then. (The sequence, not the start time: a period restarted in the
// same second as the one before it is still a new period.)
// A one-off invoice (no subscription) is stored with a NULL subscription_id; `request_key`
// (a one-off invoice's scoped Idempotency-Key, "" for none) finds it again on a retry.
Result<bool> insert_invoice(db::Tx& tx, const Invoice& invoice, std::int64_t period_seq,
                            const std::string& request_key = "");
// The invoice a POST /v1/invoices under `request_key` issued, if any, within the key's
// lifetime (db::kRequestKeyLifetime before `now`).
Result<std::optional<Invoice>> find_invoice_by_request(db::Tx& tx, const std::string& request_key, Timestamp now);
// held_until: a run's claim on the row (its next_attempt_at column only; the document keeps
// its schedule), kept while the claimed charge is in flight.
recur::Status update_invoice(db::Tx& tx, const Invoice& invoice, std::optional<Timestamp> held_until = std::nullopt);
Result<std::optional<Invoice>> find_invoice(db::Tx& tx, const std::string& id, bool for_update);
// The id of the subscription's invoice of its latest billed period ("" when none).
Result<std::string> latest_invoice_of(db::Tx& tx, const std::string& subscription);
// The invoices a transaction issued and has not numbered yet, in the order issued (Tx::local;
// Invoicer::number_issued numbers them at commit, decision 0033).
struct UnnumberedInvoice {
  Invoice invoice;    // as this transaction last stored it (update_invoice keeps it current)
  bool paid = false;  // issued paid (nothing owed)
};
using UnnumberedInvoices = std::vector<UnnumberedInvoice>;

struct InvoiceFilter {
  std::optional<std::string> subscription;
  std::optional<std::string> customer;
  std::optional<std::string> number;
  std::vector<std::string> statuses;  // any of them; all when empty
  ListParams page;
};
Result<Page<Invoice>> list_invoices(db::Tx& tx, const InvoiceFilter& filter);

// Open invoices whose next attempt is due, oldest first. On PostgreSQL rows another
// worker holds are skipped (FOR UPDATE SKIP LOCKED); the caller pushes their
// next_attempt_at out by a lease before committing, so the claim outlives the lock.
Result<std::vector<std::string>> claim_due_invoices(db::Tx& tx, Timestamp now, int limit, Timestamp lease_until);
Result<std::int64_t> count_due_invoices(db::Tx& tx, Timestamp now);
// Gives a claim back before its lease ends (a batch cut short by a slow gateway): the
// invoice is due again at once, at its own schedule, unless someone else holds it now.
recur::Status release_invoice_claim(db::Tx& tx, const std::string& id, Timestamp held_until);
// The invoice of the subscription's `period_seq`-th billed period (none when it was not
// invoiced) and whether that period is paid (its invoice paid, or nothing to pay); not paid
// while the invoice is open, void or uncollectible.
struct PeriodPayment {
  std::optional<std::string> invoice;
  bool paid = true;
};
Result<PeriodPayment> period_payment(db::Tx& tx, const std::string& subscription, std::int64_t period_seq);
// Open invoices of a customer (for an immediate retry after a payment-method change).
Result<std::vector<std::string>> open_invoices_of(db::Tx& tx, const std::string& customer);
// Open invoices of a subscription, oldest first.
Result<std::vector<std::string>> open_invoices_of_subscription(db::Tx& tx, const std::string& subscription);
// Open invoices of a subscription other than `except` (an unpaid subscription is active
// again once none is left).
Result<std::int64_t> count_other_open_invoices(db::Tx& tx, const std::string& subscription, const std::string& except);
// The earliest scheduled payment attempt (the test clock's next stop).
Result<std::optional<Timestamp>> next_attempt_due(db::Tx& tx);

// "INV-000042": the next number of the gapless sequence. Requires: the caller's
// transaction commits the invoice that uses it (a rollback gives the number back).
Result<std::string> next_invoice_number(db::Tx& tx);
// `count` gapless invoice numbers at once, in order (one statement: the counter's row lock is
// taken once, by the transaction's last statement when the invoicer numbers at commit).
Result<std::vector<std::string>> next_invoice_numbers(db::Tx& tx, std::size_t count);
// Stores `inv`'s number (and its document), deferred: nobody reads the count.
recur::Status set_invoice_number(db::Tx& tx, const Invoice& inv);
// "CN-000007": the credit notes' own gapless sequence (same rules).
Result<std::string> next_credit_note_number(db::Tx& tx);

// request_key: the Idempotency-Key of the POST .../pay that made it ("" for none), unique.
recur::Status insert_payment(db::Tx& tx, const Payment& payment, const std::string& request_key = "");
recur::Status update_payment(db::Tx& tx, const Payment& payment);
Result<std::optional<Payment>> pending_payment(db::Tx& tx, const std::string& invoice);
// Charges waiting for the customer's authentication whose action_expires_at has come, the
// earliest first, at most `limit` (the authentication deadline's candidates).
Result<std::vector<Payment>> payments_waiting_expired(db::Tx& tx, Timestamp now, int limit);
// The earliest action_expires_at of a charge still waiting for authentication, if any.
Result<std::optional<Timestamp>> next_waiting_expiry(db::Tx& tx);
Result<std::optional<Payment>> find_payment(db::Tx& tx, const std::string& id);
Result<std::optional<Payment>> find_payment_by_key(db::Tx& tx, const std::string& idempotency_key);
// The payment whose charge the gateway knows as `gateway_reference` (recorded once the
// gateway answered with it).
Result<std::optional<Payment>> find_payment_by_charge(db::Tx& tx, const std::string& gateway_reference);

// Records a verified gateway event (outcome "received"); false when this gateway's event id
// was recorded before. On PostgreSQL a concurrent claim of the same id waits for the first
// transaction and then finds it: the caller does its work in the same transaction.
Result<bool> claim_gateway_event(db::Tx& tx, const std::string& gateway, const std::string& event_id,
                                 const std::string& type, Timestamp now);
recur::Status set_gateway_event_outcome(db::Tx& tx, const std::string& gateway, const std::string& event_id,
                                        const std::string& outcome, const std::string& resource);

struct PaymentFilter {
  std::optional<std::string> invoice;
  std::optional<std::string> customer;
  std::vector<std::string> statuses;  // any of them; all when empty
  ListParams page;
};
Result<Page<Payment>> list_payments(db::Tx& tx, const PaymentFilter& filter);

// request_key: the Idempotency-Key of the request that made it ("" for none), unique.
recur::Status insert_refund(db::Tx& tx, const Refund& refund, const std::string& request_key = "");
// The refund (payment) a request with this Idempotency-Key made, if it committed, while the
// key lives (decision 0009).
Result<std::optional<Refund>> find_refund_by_request(db::Tx& tx, const std::string& request_key, Timestamp now);
Result<std::optional<Payment>> find_payment_by_request(db::Tx& tx, const std::string& request_key, Timestamp now);
recur::Status update_refund(db::Tx& tx, const Refund& refund);
Result<std::optional<Refund>> find_refund(db::Tx& tx, const std::string& id, bool for_update);
// Refunds asked of the gateway but not answered (a timeout, a crash), oldest first.
Result<std::vector<std::string>> pending_refunds(db::Tx& tx, Timestamp created_before, int limit);
Result<std::vector<Refund>> pending_refunds_of(db::Tx& tx, const std::string& invoice);
recur::Status insert_credit_note(db::Tx& tx, const CreditNote& note);
Result<std::optional<CreditNote>> find_credit_note(db::Tx& tx, const std::string& id);

struct RefundFilter {
  std::optional<std::string> invoice;
  std::optional<std::string> customer;
  ListParams page;
};
Result<Page<Refund>> list_refunds(db::Tx& tx, const RefundFilter& filter);
Result<Page<CreditNote>> list_credit_notes(db::Tx& tx, const RefundFilter& filter);

// Settings (one row each); the default when never saved.
Result<DunningSettings> load_dunning(db::Tx& tx, bool for_update);
// Locks the stored dunning settings until the transaction ends; false when none are stored
// yet (the defaults apply).
Result<bool> lock_dunning(db::Tx& tx);

// Reminders sent, one row per key (a renewal's or a card's), so each is queued once.
// false: a reminder with this key was claimed before.
Result<bool> insert_reminder(db::Tx& tx, const std::string& key, const std::string& subscription,
                             std::string_view kind, Timestamp due_at, Timestamp now);
// The (subscription, due_at) pairs of renewal reminders already claimed for `subscriptions`.
Result<std::set<std::pair<std::string, Timestamp>>> claimed_renewal_reminders(
    db::Tx& tx, const std::vector<std::string>& subscriptions);
recur::Status save_dunning(db::Tx& tx, const DunningSettings& settings, bool existed);
// The shop's profile (billing_settings "shop"): none until first saved.
Result<std::optional<ShopProfile>> load_shop(db::Tx& tx, bool for_update);
recur::Status save_shop(db::Tx& tx, const ShopProfile& shop, bool existed);
Result<std::optional<TaxSettings>> load_tax(db::Tx& tx, bool for_update);  // none: never saved
recur::Status save_tax(db::Tx& tx, const TaxSettings& settings, bool existed);

// Pending invoice items of a subscription, removed as they are taken onto an invoice.
// `keep`: read them only (a preview of the next invoice).
Result<std::vector<InvoiceLine>> take_pending_items(db::Tx& tx, const std::string& subscription, bool keep = false,
                                                    std::vector<std::string>* ids = nullptr);
// Deletes the pending items `ids` (read by take_pending_items with keep).
recur::Status delete_pending_items(db::Tx& tx, const std::vector<std::string>& ids);
// Adds a line to the subscription's next invoice (a proration line, a credit note, credit
// carried from an invoice that could not absorb it).
recur::Status insert_pending_invoice_item(db::Tx& tx, const subscriptions::PendingItem& item, Timestamp created);

// The run history, newest first, older than `starting_after` if given.
Result<Page<BillingRun>> list_runs(db::Tx& tx, const ListParams& page);
recur::Status insert_run(db::Tx& tx, const BillingRun& run);

// Dunning at a glance (/metrics): subscriptions by unpaid status, and open invoices that have
// a retry scheduled.
struct DunningCounts {
  std::vector<std::pair<std::string, std::int64_t>> subscriptions;  // past_due, unpaid, incomplete
  std::int64_t invoices_retrying = 0;
};
Result<DunningCounts> dunning_counts(db::Tx& tx);

}  // namespace recur::billing
