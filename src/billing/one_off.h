// One-off invoices (POST /v1/invoices): lines a merchant bills a customer outside any
// subscription (a replacement box, a shipping fee, a bespoke order), numbered in the same
// gapless sequence as every invoice (docs/billing-rules.md, "One-off invoices").
//
// charge_automatically: issued in its own transaction, then charged in the request on the
// exactly-once path of decision 0005 (Collector::attempt), waiting at most the checkout
// timeout, as a signup's first invoice is; a refusal leaves it open and dunning retries it
// (no subscription moves). send_invoice: issued and e-mailed to the customer in one
// transaction (its PDF attached, a one-time link to the hosted invoice page); nothing is
// charged until the customer pays.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "billing/collector.h"
#include "billing/messages.h"
#include "billing/model.h"
#include "events/store.h"

namespace recur::billing {

struct OneOffInput {
  OneOffSpec spec;
  // The request's scoped Idempotency-Key ("" for none): a retry finds the first try's invoice.
  std::string request_key;
  // Called in the transaction that issues the invoice, before the invoice is built: may set
  // the spec's discount (a gift redeems its coupon there, so a rollback takes it back).
  std::function<recur::Status(db::Tx&, OneOffSpec&)> prepare;
  // Called in the transaction that issues the invoice, before it commits (a gift stores
  // itself with its invoice); its error rolls the invoice back.
  std::function<recur::Status(db::Tx&, const Invoice&)> with_issued;
};

class OneOffInvoices {
 public:
  OneOffInvoices(db::Database& db, const Clock& clock, IdGenerator& ids, Collector& collector,
                 PaymentMessages& messages, std::chrono::milliseconds timeout)
      : db_(db), clock_(clock), ids_(ids), events_(ids, clock), collector_(collector), messages_(messages),
        timeout_(timeout) {}

  // Issues the invoice (open, numbered, invoice.finalized by `actor`), then charges it
  // (charge_automatically) or sends it (send_invoice), and answers it as recorded: paid, or
  // open with the refused attempt counted, or open with its payment pending when the
  // gateway's answer was lost (settled later by the run or a webhook).
  // Errors, nothing issued: 422 validation_failed (build_one_off_invoice's rules),
  // 422 customer_not_found, 409 customer_erased. A retry under the same request_key answers
  // the first try's invoice and asks again only about a charge still in flight (same key).
  Result<Invoice> create(const OneOffInput& input, const events::Actor& actor);
  // The invoice a request with this key issued (kRequestKeyLifetime), if any.
  Result<std::optional<Invoice>> issued_by_request(const std::string& request_key);

 private:
  Result<Invoice> issue(const OneOffInput& input, const events::Actor& actor);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
  Collector& collector_;
  PaymentMessages& messages_;
  std::chrono::milliseconds timeout_;
};

}  // namespace recur::billing
