// What billing tells a customer about a payment (a receipt, a failed payment), queued in the
// outcome's transaction, and the one-time update-payment link that failed-payment and
// card-expiring messages carry.
#pragma once

#include <optional>
#include <string>

#include "billing/model.h"
#include "billing/payment_update.h"
#include "notify/outbox.h"
#include "platform/clock.h"
#include "platform/db/database.h"

namespace recur::billing {

// How long after its due date a sent invoice's pay link still works.
inline constexpr std::int64_t kSentInvoiceLinkGrace = 30 * 24 * 3600;

class PaymentMessages {
 public:
  // token_seconds: how long an update-payment link works.
  PaymentMessages(const Clock& clock, notify::Outbox& outbox, std::int64_t token_seconds)
      : clock_(clock), outbox_(outbox), token_seconds_(token_seconds) {}

  // Receipt or failed-payment e-mail, queued in the outcome's transaction; a message
  // that cannot be queued is logged and never holds up billing.
  void tell_customer(db::Tx& tx, const Invoice& invoice, const Payment& payment);
  // The e-mail of a sent one-off invoice (collection_method send_invoice): what is due, by
  // when, the PDF attached, and a one-time link to pay it (the hosted invoice page), which
  // works until kSentInvoiceLinkGrace after the due date (at least token_seconds). Queued in
  // the invoice's transaction; unlike a payment's message, an error is returned (the invoice
  // is not issued unsent). An erased customer's invoice cannot be sent (409 customer_erased).
  recur::Status send_invoice(db::Tx& tx, const Invoice& invoice);
  // Queues `m` with a fresh one-time update-payment token for `grant` in its data; the
  // token's hash is stored only when the message was queued.
  // `seconds`: how long the link works (default: token_seconds).
  Result<std::string> enqueue_with_payment_link(db::Tx& tx, notify::Message m, const PaymentUpdateGrant& grant,
                                                std::optional<std::int64_t> seconds = std::nullopt);

 private:
  const Clock& clock_;
  notify::Outbox& outbox_;
  std::int64_t token_seconds_;
};

}  // namespace recur::billing
