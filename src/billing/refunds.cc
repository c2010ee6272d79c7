// Refunds and credit notes.
#include "billing/refunds.h"

#include "billing/failure_codes.h"
#include "billing/store.h"
#include "subscriptions/store.h"
#include "platform/ids.h"

namespace recur::billing {

namespace {

Error not_creditable(const Invoice& inv) {
  return Error::conflict("invoice_not_paid", "invoice " + inv.id + " is " + std::string(to_string(inv.status)) +
                                                 "; only a paid invoice can be refunded or credited");
}

Result<std::int64_t> checked_amount(const Invoice& inv, std::optional<std::int64_t> asked) {
  std::int64_t left = creditable(inv);
  if (left <= 0)
    return Error::conflict("nothing_to_refund", "invoice " + inv.id + " has nothing left to refund or credit");
  std::int64_t amount = asked.value_or(left);
  if (amount <= 0 || amount > left)
    return Error::invalid("amount_too_large",
                          "invoice " + inv.id + " has " + std::to_string(left) + " " + inv.currency + " left to give back",
                          {{"amount", "out_of_range", "between 1 and " + std::to_string(left)}});
  return amount;
}

}  // namespace

Result<Refund> Refunds::refund(const RefundInput& in, const events::Actor& actor) {
  RECUR_ASSIGN(auto earlier, refund_of_request(in.request_key));
  if (earlier) return resume_refund(*earlier);
  Timestamp now = clock_.now();
  auto made = db::transact(db_, [&](db::Tx& tx) -> Result<Refund> {
    RECUR_ASSIGN(auto found, find_invoice(tx, in.invoice, true));
    if (!found) return invoice_not_found(in.invoice);
    Invoice inv = std::move(*found);
    if (inv.status != InvoiceStatus::kPaid) return not_creditable(inv);
    RECUR_ASSIGN(std::int64_t amount, checked_amount(inv, in.amount));
    PaymentFilter succeeded{inv.id, std::nullopt, {"succeeded"}, {}};
    succeeded.page.limit = 1;
    RECUR_ASSIGN(auto paid, billing::list_payments(tx, succeeded));
    if (paid.items.empty())  // unreachable while amount_paid only grows by charges; kept as a guard
      return Error::conflict("nothing_to_refund", "invoice " + inv.id + " was settled without a charge");
    Refund r = pending_refund(ids_.next("re"), inv, paid.items[0], amount, in.reason, now);
    r.metadata = in.metadata;
    // Reserved now, so two refunds at once can never give back more than was paid.
    inv.amount_refunded += amount;
    inv.updated = now;
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(insert_refund(tx, r, in.request_key));
    RECUR_TRY(events_.record(tx, "refund.created", r.id, actor, nullptr, to_json(r)));
    return r;
  });
  if (!made.ok() && made.error().code == db::kUniqueViolation && !in.request_key.empty()) {
    // A retry that took the key over made it at the same moment: carry on with that one.
    RECUR_ASSIGN(earlier, refund_of_request(in.request_key));
    if (earlier) return resume_refund(*earlier);
  }
  if (!made.ok()) return std::move(made).error();
  return settle_refund(made->id, ask_refund(*made));
}

Result<std::optional<Refund>> Refunds::refund_of_request(const std::string& request_key) {
  if (request_key.empty()) return std::optional<Refund>();
  return db::transact(db_, [&](db::Tx& tx) { return find_refund_by_request(tx, request_key, clock_.now()); },
                      db::TxMode::kReadOnly);
}

Result<Refund> Refunds::resume_refund(const Refund& r) {
  // Still pending: ask again with the same key ("refund:<id>"); the gateway answers with the
  // first result instead of refunding twice. Settled: that is the answer.
  if (r.status != PaymentStatus::kPending) return r;
  return settle_refund(r.id, ask_refund(r));
}

RefundResult Refunds::ask_refund(const Refund& r) {
  auto payment = db::transact(db_, [&](db::Tx& tx) -> Result<Payment> {
    RECUR_ASSIGN(auto found, find_payment(tx, r.payment));
    if (!found) return Error::not_found("payment_not_found", no_object_message("payment", "pay", r.payment));
    return *found;
  }, db::TxMode::kReadOnly);
  if (!payment.ok()) return {Outcome::kUnknown, "", "gateway_error", payment.error().message};
  Gateway* gateway = gateways_.find(payment->gateway);
  if (!gateway) return {Outcome::kUnknown, "", "gateway_not_configured", "no gateway named '" + payment->gateway + "'"};
  return gateway->refund({payment->gateway_reference, Money{r.amount, r.currency}, r.reason, "refund:" + r.id});
}

Result<Refund> Refunds::settle_refund(const std::string& id, const RefundResult& result) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) { return settle_refund(tx, id, result, now); });
}

Result<Refund> Refunds::settle_refund(db::Tx& tx, const std::string& id, const RefundResult& result, Timestamp now) {
  RECUR_ASSIGN(auto found, find_refund(tx, id, true));
  if (!found) return Error::not_found("refund_not_found", no_object_message("refund", "re", id));
  Refund r = std::move(*found);
  if (r.status != PaymentStatus::kPending || result.outcome == Outcome::kUnknown) {
    if (r.status == PaymentStatus::kPending) {
      if (!result.refund_id.empty()) r.gateway_reference = result.refund_id;  // accepted, not settled yet
      r.failure_code = refund_failure_code(result.failure_code, false);
      r.gateway_failure_code = result.failure_code;
      r.failure_message = result.failure_message;
      r.updated = now;
      ++r.version;
      RECUR_TRY(update_refund(tx, r));
    }
    return r;  // settled before, or still unknown: asked again later with the same key
  }
  RECUR_ASSIGN(auto inv_found, find_invoice(tx, r.invoice, true));
  if (!inv_found) return invoice_not_found(r.invoice);
  Invoice inv = std::move(*inv_found);
  r.updated = now;
  ++r.version;
  if (result.outcome == Outcome::kSucceeded) {
    r.status = PaymentStatus::kSucceeded;
    r.gateway_reference = result.refund_id;
    r.failure_code.clear();
    r.gateway_failure_code.clear();
    r.failure_message.clear();
    CreditNote note{ids_.next("cn"), "", inv.id, inv.customer, inv.subscription, r.amount, r.currency, r.reason,
                    "refund", r.id, "", now, now};
    RECUR_ASSIGN(note.number, next_credit_note_number(tx));
    RECUR_TRY(insert_credit_note(tx, note));
    r.credit_note = note.id;
    RECUR_TRY(events_.record(tx, "credit_note.created", note.id, events::Actor::system(), nullptr, to_json(note)));
    RECUR_TRY(events_.record(tx, "refund.succeeded", r.id, events::Actor::system(), nullptr, to_json(r)));
  } else {
    r.status = PaymentStatus::kFailed;
    r.failure_code = refund_failure_code(result.failure_code, true);
    r.gateway_failure_code = result.failure_code;
    r.failure_message = result.failure_message;
    inv.amount_refunded -= r.amount;  // the reservation is released
    inv.updated = now;
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(events_.record(tx, "refund.failed", r.id, events::Actor::system(), nullptr, to_json(r)));
  }
  RECUR_TRY(update_refund(tx, r));
  return r;
}

Result<int> Refunds::resume_pending_refunds() {
  Timestamp before = clock_.now() - retry_after_seconds_;
  RECUR_ASSIGN(auto ids, db::transact(db_, [&](db::Tx& tx) { return pending_refunds(tx, before, batch_); },
                                      db::TxMode::kReadOnly));
  int resumed = 0;
  for (const auto& id : ids) {
    auto r = db::transact(db_, [&](db::Tx& tx) { return find_refund(tx, id, false); }, db::TxMode::kReadOnly);
    if (!r.ok() || !*r || (*r)->status != PaymentStatus::kPending) continue;
    auto settled = settle_refund(id, ask_refund(**r));
    if (settled.ok() && settled->status != PaymentStatus::kPending) ++resumed;
  }
  return resumed;
}

Result<CreditNote> Refunds::credit(const CreditInput& in, const events::Actor& actor) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<CreditNote> {
    RECUR_ASSIGN(auto found, find_invoice(tx, in.invoice, true));
    if (!found) return invoice_not_found(in.invoice);
    Invoice inv = std::move(*found);
    if (inv.status != InvoiceStatus::kPaid) return not_creditable(inv);
    RECUR_ASSIGN(std::int64_t amount, checked_amount(inv, in.amount));
    // A credit waits for the next invoice: a one-off invoice and an ended subscription have
    // none, so refund instead.
    if (inv.subscription.empty())
      return Error::conflict("no_next_invoice", "invoice " + inv.id +
                                                    " is a one-off invoice: there is no next invoice to take a credit "
                                                    "off; refund instead");
    RECUR_ASSIGN(auto sub, subscriptions::find(tx, inv.subscription, false));
    if (!sub || sub->status == subscriptions::Status::kCanceled)
      return Error::conflict("subscription_ended", "the subscription of invoice " + inv.id +
                                                       " has ended and will not be invoiced again; refund instead");
    CreditNote note{ids_.next("cn"), "", inv.id, inv.customer, inv.subscription, amount, inv.currency, in.reason,
                    "credit", "", in.memo, now, now, 1, in.metadata};
    RECUR_ASSIGN(note.number, next_credit_note_number(tx));
    // The next invoice of the subscription takes it off, like any pending credit.
    subscriptions::PendingItem item{ids_.next("ii"), inv.subscription, "Credit note " + note.number, -amount,
                                    inv.currency, 1, inv.period, false};
    RECUR_TRY(insert_pending_invoice_item(tx, item, now));
    inv.amount_credited += amount;
    inv.updated = now;
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(insert_credit_note(tx, note));
    RECUR_TRY(events_.record(tx, "credit_note.created", note.id, actor, nullptr, to_json(note)));
    return note;
  });
}

}  // namespace recur::billing
