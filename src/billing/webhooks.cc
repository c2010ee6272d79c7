// Gateway webhooks: verify, claim once, settle what is pending.
#include "billing/webhooks.h"

#include <spdlog/spdlog.h>

#include "billing/dispute_store.h"
#include "billing/store.h"
#include "platform/money.h"
#include "subscriptions/store.h"

namespace recur::billing {

Result<WebhookReceipt> GatewayWebhooks::receive_webhook(const std::string& name,
                                                        const std::map<std::string, std::string>& headers,
                                                        const std::string& body) {
  Gateway* gateway = name == "sandbox" && !accept_sandbox_ ? nullptr : gateways_.find(name);
  if (!gateway) return Error::not_found("gateway_not_found", "no gateway named '" + name + "' takes webhooks here");
  Timestamp now = clock_.now();
  RECUR_ASSIGN(WebhookEvent event, gateway->verify_webhook(headers, body, now));
  return db::transact(db_, [&](db::Tx& tx) -> Result<WebhookReceipt> {
    // Claimed first, in the transaction that acts on it: a redelivery, even a concurrent
    // one, finds the row and changes nothing.
    RECUR_ASSIGN(bool fresh, claim_gateway_event(tx, name, event.id, event.type, now));
    if (!fresh) return WebhookReceipt{true, "duplicate"};
    RECUR_ASSIGN(Handled handled, act_on(tx, name, event, now));
    RECUR_TRY(set_gateway_event_outcome(tx, name, event.id, handled.outcome, handled.resource));
    return WebhookReceipt{false, handled.outcome};
  });
}

Result<GatewayWebhooks::Handled> GatewayWebhooks::act_on(db::Tx& tx, const std::string& gateway,
                                                         const WebhookEvent& event, Timestamp now) {
  if (event.charge) return settle_charge(tx, gateway, *event.charge, now);
  if (event.refund) return settle_refund_notice(tx, gateway, *event.refund, now);
  if (event.dispute) return record_dispute(tx, gateway, *event.dispute, now);
  return Handled{"ignored", ""};
}

Result<std::optional<Payment>> GatewayWebhooks::payment_for(db::Tx& tx, const ChargeNotice& n) {
  // The closest link first: Recur's own payment id, then the attempt's key, then the charge.
  if (!n.payment.empty()) {
    RECUR_ASSIGN(auto found, find_payment(tx, n.payment));
    if (found) return found;
  }
  if (!n.idempotency_key.empty()) {
    RECUR_ASSIGN(auto found, find_payment_by_key(tx, n.idempotency_key));
    if (found) return found;
  }
  if (!n.result.charge_id.empty()) {
    RECUR_ASSIGN(auto found, find_payment_by_charge(tx, n.result.charge_id));
    if (found) return found;
  }
  if (n.invoice.empty()) return std::optional<Payment>();
  RECUR_ASSIGN(auto pending, pending_payment(tx, n.invoice));
  if (!pending || !may_be_attempt(*pending, n)) return std::optional<Payment>();
  return pending;
}

Result<GatewayWebhooks::Handled> GatewayWebhooks::settle_charge(db::Tx& tx, const std::string& gateway,
                                                                const ChargeNotice& notice, Timestamp now) {
  if (!notice.invoice.empty()) {
    // The invoice's lock first, as every settlement takes it: a run or another event
    // settling its payment right now has committed once we hold it, so the lookups below
    // see the payment either still pending or settled (with its charge id), never in
    // between (found by neither the charge id nor as the pending attempt: "unmatched").
    RECUR_TRY(find_invoice(tx, notice.invoice, true));
  }
  RECUR_ASSIGN(auto found, payment_for(tx, notice));
  if (!found) return Handled{"unmatched", ""};
  Verdict verdict = judge_charge(*found, gateway, notice);
  if (verdict == Verdict::kSettle) {
    // The same path a run takes with the gateway's answer; it re-reads the payment under
    // the invoice's lock, so a run that recorded it meanwhile wins and this changes nothing.
    RECUR_ASSIGN(Collector::AttemptResult settled,
                 collector_.settle_payment(tx, found->invoice, found->id, notice.result, now));
    if (settled == Collector::AttemptResult::kSkipped) verdict = Verdict::kAlreadySettled;
  }
  return Handled{std::string(to_string(verdict)), found->id};
}

Result<GatewayWebhooks::Handled> GatewayWebhooks::settle_refund_notice(db::Tx& tx, const std::string& gateway,
                                                                       const RefundNotice& notice, Timestamp now) {
  // Recur refunds with the key "refund:<id>"; without it, the one pending refund of the
  // charge's invoice for that amount.
  std::optional<Refund> refund;
  constexpr std::string_view kPrefix = "refund:";
  if (notice.idempotency_key.starts_with(kPrefix)) {
    RECUR_ASSIGN(refund, find_refund(tx, notice.idempotency_key.substr(kPrefix.size()), false));
  }
  std::optional<Payment> charge;
  if (refund) {
    RECUR_ASSIGN(charge, find_payment(tx, refund->payment));
  } else if (!notice.charge_id.empty()) {
    RECUR_ASSIGN(charge, find_payment_by_charge(tx, notice.charge_id));
    if (charge) {
      RECUR_ASSIGN(auto pending, pending_refunds_of(tx, charge->invoice));
      std::vector<Refund> candidates;
      for (auto& r : pending)
        if (r.payment == charge->id && judge_refund(r, notice) == Verdict::kSettle) candidates.push_back(std::move(r));
      if (candidates.size() == 1) refund = std::move(candidates[0]);
    }
  }
  if (!refund) return Handled{"unmatched", ""};
  if (!charge || charge->gateway != gateway) return Handled{std::string(to_string(Verdict::kWrongGateway)), refund->id};
  Verdict verdict = judge_refund(*refund, notice);
  if (verdict == Verdict::kSettle) {
    RECUR_ASSIGN(Refund settled, refunds_.settle_refund(tx, refund->id, notice.result, now));
    if (settled.status == PaymentStatus::kPending) verdict = Verdict::kNotFinal;
  }
  return Handled{std::string(to_string(verdict)), refund->id};
}

Result<GatewayWebhooks::Handled> GatewayWebhooks::record_dispute(db::Tx& tx, const std::string& gateway,
                                                                 const DisputeNotice& notice, Timestamp now) {
  std::optional<Payment> payment;
  if (!notice.charge_id.empty()) {
    RECUR_ASSIGN(payment, find_payment_by_charge(tx, notice.charge_id));
  }
  const bool opening = notice.outcome.empty();
  // A dispute Recur acts on is one of a charge it made through this gateway, named by the
  // gateway's dispute id (the key that makes each notice act once).
  const bool ours = payment && payment->gateway == gateway && payment->status == PaymentStatus::kSucceeded &&
                    !notice.dispute_id.empty();
  if (!ours) {
    if (!opening) return Handled{"dispute_unmatched", payment ? payment->id : notice.charge_id};
    // As before decision 0021: operators and webhooks hear of it; nothing else changes.
    std::string resource = payment ? payment->id : notice.charge_id;
    Json details = {{"gateway", gateway},
                    {"dispute", notice.dispute_id},
                    {"gateway_reference", notice.charge_id},
                    {"amount", notice.amount ? Json(notice.amount->amount) : Json(nullptr)},
                    {"currency", notice.amount ? Json(notice.amount->currency) : Json(nullptr)},
                    {"reason", notice.reason},
                    {"invoice", payment ? Json(payment->invoice) : Json(nullptr)}};
    Json object = payment ? to_json(*payment) : Json();
    RECUR_TRY(events_.record(tx, "payment.disputed", resource, events::Actor::system(), nullptr, std::move(object),
                             details));
    return Handled{"dispute_recorded_unmatched", resource};
  }
  // The invoice's lock first, as settlements and refunds take it; then the dispute's row.
  RECUR_ASSIGN(auto invoice, find_invoice(tx, payment->invoice, true));
  if (!invoice) return Error::internal("payment " + payment->id + " names a missing invoice");
  RECUR_ASSIGN(auto existing, find_dispute_by_reference(tx, gateway, notice.dispute_id, true));
  std::optional<DisputeStatus> outcome;
  if (!opening) outcome = dispute_status_from(notice.outcome);
  if (!opening && !outcome) return Error::internal("unknown dispute outcome '" + notice.outcome + "'");
  switch (dispute_change(existing, outcome)) {
    case DisputeChange::kNothing:
      return Handled{"dispute_unchanged", existing->id};
    case DisputeChange::kOpen: {
      RECUR_ASSIGN(Dispute d, open_dispute(tx, gateway, notice, *payment, std::nullopt, now));
      return Handled{"dispute_opened", d.id};
    }
    case DisputeChange::kOpenClosed: {
      RECUR_ASSIGN(Dispute d, open_dispute(tx, gateway, notice, *payment, outcome, now));
      return Handled{"dispute_" + std::string(to_string(d.status)), d.id};
    }
    case DisputeChange::kClose: {
      Dispute d = std::move(*existing);
      RECUR_TRY(close_dispute(tx, d, *outcome, now));
      return Handled{"dispute_" + std::string(to_string(d.status)), d.id};
    }
  }
  return Handled{"ignored", ""};
}

Result<Dispute> GatewayWebhooks::open_dispute(db::Tx& tx, const std::string& gateway, const DisputeNotice& notice,
                                              const Payment& payment, std::optional<DisputeStatus> closed_as,
                                              Timestamp now) {
  RECUR_ASSIGN(auto found, find_invoice(tx, payment.invoice, true));
  Invoice inv = std::move(*found);
  Dispute d;
  d.id = ids_.next("dp");
  d.gateway = gateway;
  d.gateway_reference = notice.dispute_id;
  d.charge = notice.charge_id;
  d.payment = payment.id;
  d.invoice = inv.id;
  d.customer = inv.customer;
  d.subscription = inv.subscription;
  d.amount = disputed_amount(payment, notice.amount);
  d.currency = payment.currency;
  d.reason = notice.reason;
  d.created = d.updated = now;
  if (closed_as) {
    // The closing notice came first: decided already, so no subscription step; it never
    // counted as under dispute.
    d.status = *closed_as;
    d.closed_at = now;
    close_on_invoice(inv, d, *closed_as, false);
  } else {
    open_on_invoice(inv, d);
  }
  inv.updated = now;
  ++inv.version;
  // The invoice first: a cancellation below closes the subscription's other invoices and
  // must find this one as it now is.
  RECUR_TRY(update_invoice(tx, inv));
  if (!closed_as && !inv.subscription.empty()) {
    RECUR_ASSIGN(DisputeSettings settings, load_dispute_settings(tx));
    std::optional<subscriptions::PaymentStep> step;
    if (settings.on_open == DisputeOnOpen::kPause) step = subscriptions::PaymentStep::kDisputePause;
    if (settings.on_open == DisputeOnOpen::kCancel) step = subscriptions::PaymentStep::kDisputeCancel;
    if (step) {
      // False when it does not apply (already paused, canceled): then nothing to undo later.
      RECUR_ASSIGN(bool applied, subscriptions_.apply_payment_step(tx, inv.subscription, *step, inv.id));
      if (applied && *step == subscriptions::PaymentStep::kDisputePause) {
        RECUR_ASSIGN(auto sub, subscriptions::find(tx, inv.subscription, false));
        d.subscription_action = "paused";
        if (sub && sub->pause) d.paused_at = sub->pause->paused_at;
      } else if (applied) {
        d.subscription_action = "canceled";
      }
    }
  }
  RECUR_TRY(insert_dispute(tx, d));
  Json details = {{"gateway", gateway}, {"gateway_reference", d.gateway_reference}};
  if (closed_as) {
    RECUR_TRY(events_.record(tx, "dispute.closed", d.id, events::Actor::system(), nullptr, to_json(d), details));
    return d;
  }
  // payment.disputed as before (a fact about the payment), then the dispute itself.
  RECUR_TRY(events_.record(tx, "payment.disputed", payment.id, events::Actor::system(), nullptr, to_json(payment),
                           {{"gateway", gateway},
                            {"dispute", notice.dispute_id},
                            {"gateway_reference", notice.charge_id},
                            {"amount", notice.amount ? Json(notice.amount->amount) : Json(nullptr)},
                            {"currency", notice.amount ? Json(notice.amount->currency) : Json(nullptr)},
                            {"reason", notice.reason},
                            {"invoice", payment.invoice}}));
  RECUR_TRY(events_.record(tx, "dispute.created", d.id, events::Actor::system(), nullptr, to_json(d), details));
  tell_operators(tx, d, inv);
  return d;
}

recur::Status GatewayWebhooks::close_dispute(db::Tx& tx, Dispute& d, DisputeStatus outcome, Timestamp now) {
  RECUR_ASSIGN(auto found, find_invoice(tx, d.invoice, true));
  Invoice inv = std::move(*found);
  Json before = to_json(d);
  close_on_invoice(inv, d, outcome, true);
  inv.updated = now;
  ++inv.version;
  RECUR_TRY(update_invoice(tx, inv));
  d.status = outcome;
  d.closed_at = now;
  d.updated = now;
  ++d.version;
  Json details = {{"gateway", d.gateway}, {"gateway_reference", d.gateway_reference}, {"resumed", false}};
  // Won: the pause this dispute made is undone, unless the subscription moved on since
  // (resumed or paused again by hand, canceled). Lost: it stays paused; the merchant
  // decides (resume by hand, or cancel).
  if (outcome == DisputeStatus::kWon && d.subscription_action == "paused" && d.paused_at) {
    RECUR_ASSIGN(auto sub, subscriptions::find(tx, d.subscription, false));
    if (sub && sub->status == subscriptions::Status::kPaused && sub->pause && sub->pause->paused_at == *d.paused_at) {
      RECUR_ASSIGN(bool resumed, subscriptions_.apply_payment_step(tx, d.subscription,
                                                                   subscriptions::PaymentStep::kDisputeResume, inv.id));
      details["resumed"] = resumed;
    }
  }
  RECUR_TRY(update_dispute(tx, d));
  return events_.record(tx, "dispute.closed", d.id, events::Actor::system(), std::move(before), to_json(d), details);
}

void GatewayWebhooks::tell_operators(db::Tx& tx, const Dispute& d, const Invoice& inv) {
  if (ops_email_.empty()) return;
  notify::Message m;
  m.template_name = "dispute_opened";
  m.to = ops_email_;
  m.resource = d.id;
  // Ids and amounts only: the operators look the customer up in Recur.
  m.data = {{"dispute_id", d.id},
            {"gateway", d.gateway},
            {"gateway_reference", d.gateway_reference},
            {"amount", format_amount(d.amount, d.currency)},
            {"reason", d.reason.empty() ? std::string("not given") : d.reason},
            {"invoice_id", inv.id},
            {"invoice_number", inv.number.empty() ? inv.id : inv.number},
            {"payment_id", d.payment},
            {"customer_id", d.customer},
            {"subscription_action", d.subscription_action}};
  // An alert that cannot be queued must not lose the dispute: the event and the log remain.
  auto queued = outbox_.enqueue(tx, m);
  if (!queued.ok()) spdlog::warn("billing: dispute alert for {} not queued: {}", d.id, queued.error().message);
}

}  // namespace recur::billing
