// Update-payment tokens: the one-time credential in failed-payment and card-expiring
// messages with which the merchant's hosted page (no API key) shows a customer what is due
// and attaches their new default payment method, which charges the open invoices at once.
// Only the token's SHA-256 is stored; a token is single-use and expires.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "billing/document.h"
#include "billing/model.h"
#include "customers/service.h"
#include "platform/clock.h"
#include "platform/db/database.h"

namespace recur::billing {

inline constexpr std::int64_t kDefaultPaymentUpdateTtl = 7 * kSecondsPerDay;

// What a token was issued for: a failed invoice, or an expiring card.
struct PaymentUpdateGrant {
  std::string customer;
  std::optional<std::string> invoice;
  std::optional<std::string> payment_method;
};

// A new token (192 random bits, URL-safe). Nothing is stored until it is issued.
std::string new_payment_update_token();
// Stores `token`'s SHA-256 for `grant`, valid from `now` for `ttl_seconds`.
// Requires: called inside the transaction that queues the message carrying it.
recur::Status issue_payment_update_token(db::Tx& tx, const std::string& token, const PaymentUpdateGrant& grant,
                                         Timestamp now, std::int64_t ttl_seconds);

struct AmountDue {
  std::int64_t amount = 0;  // minor units
  std::string currency;
};

// An invoice as the hosted page shows it: its state, and its document (the PDF's text).
struct InvoicePage {
  std::string invoice;
  InvoiceStatus status = InvoiceStatus::kOpen;
  std::int64_t amount_due = 0;
  std::string currency;
  InvoiceDocument document;
};

// What the hosted page shows before the customer enters a card.
struct PaymentUpdateView {
  std::string customer;
  std::string customer_name;
  std::vector<AmountDue> amount_due;  // open invoices' balances, one entry per currency
  std::vector<std::string> invoices;  // open invoices, oldest first
  Timestamp expires_at = 0;
  // Charges of those invoices that wait for the customer to authenticate with their bank
  // (3-D Secure): the page completes each with the gateway's client SDK (the charge's
  // gateway_reference) or sends the customer to its url, then calls
  // POST /v1/payments/{id}/confirm with the token.
  std::vector<Payment> action_required;
  // The link's own invoice first, whatever its status now (paid after the customer
  // authenticated, void ...), then the other open invoices, oldest first.
  std::vector<InvoicePage> documents;
};
Json to_json(const PaymentUpdateView& view);

struct PaymentUpdateInput {
  std::string token;
  std::optional<std::string> gateway;  // default: the deployment's default gateway
  std::string payment_method;          // the gateway's token from its client-side SDK
  // The request's id and the customer's address, for the audit log.
  std::string request_id;
  std::string source_ip;
};

// The open invoices the customer had when the token was used, as they are after the
// immediate retry that the new default payment method triggered.
struct RetriedInvoice {
  std::string id;
  InvoiceStatus status = InvoiceStatus::kOpen;
  std::int64_t amount_due = 0;  // what is still owed (0 once paid)
  std::string currency;
};

struct PaymentUpdateResult {
  customers::PaymentMethod payment_method;
  std::vector<RetriedInvoice> invoices;
};
Json to_json(const PaymentUpdateResult& result);

class Collector;  // billing/collector.h (which includes this file through messages.h)

class PaymentUpdates {
 public:
  // collector: pays the customer's sent invoices (send_invoice) once their link gave a
  // payment method; the others are paid by the new default's listener, as everywhere.
  PaymentUpdates(db::Database& db, const Clock& clock, customers::CustomerService& customers, Collector& collector)
      : db_(db), clock_(clock), customers_(customers), collector_(collector) {}

  // An unknown, expired or used token is refused with 404 payment_update_token_invalid,
  // the same answer for all three.
  Result<PaymentUpdateView> lookup(const std::string& token);
  // The invoice `invoice` if the token is valid and the invoice is its customer's (any
  // status), for its PDF; else 404 (payment_update_token_invalid, invoice_not_found).
  Result<std::string> invoice_of(const std::string& token, const std::string& invoice);
  // Uses the token once: attaches the payment method as the customer's default through
  // CustomerService (whose listener retries the open invoices), then reports them. A
  // refused attachment (unknown gateway, a card the gateway rejects) gives the token back.
  Result<PaymentUpdateResult> apply(const PaymentUpdateInput& input);

 private:
  struct Claim {
    std::string customer;
    std::vector<std::string> open_invoices;
  };
  Result<Claim> claim(const std::string& token_hash, Timestamp now);
  void release(const std::string& token_hash, Timestamp claimed_at);

  db::Database& db_;
  const Clock& clock_;
  customers::CustomerService& customers_;
  Collector& collector_;
};

}  // namespace recur::billing
