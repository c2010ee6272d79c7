// Receipts, failed-payment messages and update-payment links.
#include "billing/messages.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "customers/service.h"
#include "platform/money.h"

namespace recur::billing {

Result<std::string> PaymentMessages::enqueue_with_payment_link(db::Tx& tx, notify::Message m,
                                                               const PaymentUpdateGrant& grant,
                                                               std::optional<std::int64_t> seconds) {
  const std::string token = new_payment_update_token();
  m.data["update_payment_token"] = token;
  RECUR_ASSIGN(std::string id, outbox_.enqueue(tx, m));
  RECUR_TRY(issue_payment_update_token(tx, token, grant, clock_.now(), seconds.value_or(token_seconds_)));
  return id;
}

namespace {

// What every message about an invoice carries: to whom, about what, and the invoice's words.
notify::Message invoice_message(const customers::Customer& c, const Invoice& inv, const std::string& amount) {
  notify::Message m;
  m.to = c.email;
  m.customer = c.id;
  m.resource = inv.id;
  m.data = {{"customer_name", c.name}, {"amount", amount}, {"description", "Invoice " + inv.number},
            {"invoice_id", inv.id}};
  return m;
}

}  // namespace

recur::Status PaymentMessages::send_invoice(db::Tx& tx, const Invoice& inv) {
  RECUR_ASSIGN(auto customer, customers::find_customer(tx, inv.customer));
  if (!customer) return Error::not_found("customer_not_found", "customer " + inv.customer + " does not exist");
  const auto& c = *customer;
  if (c.erased_at)
    return Error::conflict("customer_erased", "customer " + c.id + " was erased: nothing can be sent to them");
  notify::Message m = invoice_message(c, inv, format_amount(amount_due(inv), inv.currency));
  m.template_name = "invoice_issued";
  m.data["due_date"] = format_rfc3339(inv.due_date.value_or(inv.created)).substr(0, 10);
  m.attachments = {{"invoice_pdf", inv.id}};
  // The link works until well after the due date: the customer pays when they choose.
  const Timestamp now = clock_.now();
  const std::int64_t life = std::max(token_seconds_, inv.due_date.value_or(now) + kSentInvoiceLinkGrace - now);
  RECUR_TRY(enqueue_with_payment_link(tx, m, {c.id, inv.id, std::nullopt}, life));
  return Ok{};
}

void PaymentMessages::tell_customer(db::Tx& tx, const Invoice& inv, const Payment& pay) {
  auto customer = customers::find_customer(tx, inv.customer);
  if (!customer.ok()) {
    spdlog::warn("billing: no {} message for {}: {}", to_string(pay.status), inv.id, customer.error().message);
    return;
  }
  if (!*customer || (*customer)->erased_at) return;  // an erased customer is told nothing
  const auto& c = **customer;
  notify::Message m = invoice_message(c, inv, format_amount(pay.amount, pay.currency));
  m.data["date"] = format_rfc3339(pay.updated).substr(0, 10);
  const bool paid = pay.status == PaymentStatus::kSucceeded;
  const bool authenticate = pay.status == PaymentStatus::kRequiresAction;
  m.template_name = paid ? "receipt" : authenticate ? "payment_action_required" : "payment_failed";
  if (!paid && !authenticate) {
    // A hard decline in smart dunning: the card is not retried, a new one is needed.
    const bool blocked = !inv.hard_declined_payment_method.empty() && inv.hard_declined_payment_method == pay.payment_method;
    // A sent invoice is the customer's to pay: nothing is retried automatically.
    const bool sent = inv.collection_method == CollectionMethod::kSendInvoice;
    m.data["retry_note"] = blocked ? "Your bank declined this card in a way that means it cannot be charged again. "
                                     "Please add a new card: we will charge it at once."
                           : sent ? "Please pay it with another payment method through the link above."
                                  : "We will try the payment again automatically.";
    m.data["retry_note_short"] = blocked ? "This card cannot be charged again;"
                                 : sent  ? "Please pay with another payment method:"
                                         : "We will retry;";
  }
  // A receipt carries the paid invoice's PDF, made when the e-mail is sent.
  if (paid) m.attachments = {{"invoice_pdf", inv.id}};
  // A failed payment's message (and an authentication's) links to the merchant's
  // update-payment page with a one-time token: the page confirms the payment or takes a card.
  auto queued = paid ? outbox_.enqueue(tx, m) : enqueue_with_payment_link(tx, m, {c.id, inv.id, std::nullopt});
  if (!queued.ok())
    spdlog::warn("billing: could not queue the {} message for {}: {}", m.template_name, inv.id, queued.error().message);
  // A failed payment is texted too when the customer opted in (never with the link).
  auto texted = notify::enqueue_sms_copy(outbox_, tx, m, customers::sms_number(c));
  if (!texted.ok())
    spdlog::warn("billing: could not queue the {} SMS for {}: {}", m.template_name, inv.id, texted.error().message);
}

}  // namespace recur::billing
