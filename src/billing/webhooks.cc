// Gateway webhooks: verify, claim once, settle what is pending.
#include "billing/webhooks.h"

#include "billing/store.h"

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
  if (event.dispute) return record_dispute(tx, gateway, *event.dispute);
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
                                                                 const DisputeNotice& notice) {
  // No money logic: the gateway holds the money; operators and webhooks hear of it.
  std::optional<Payment> payment;
  if (!notice.charge_id.empty()) {
    RECUR_ASSIGN(payment, find_payment_by_charge(tx, notice.charge_id));
  }
  std::string resource = payment ? payment->id : notice.charge_id;
  // docs/api-conventions.md: the gateway's id is gateway_reference, money is flat.
  Json details = {{"gateway", gateway},
                  {"dispute", notice.dispute_id},
                  {"gateway_reference", notice.charge_id},
                  {"amount", notice.amount ? Json(notice.amount->amount) : Json(nullptr)},
                  {"currency", notice.amount ? Json(notice.amount->currency) : Json(nullptr)},
                  {"reason", notice.reason},
                  {"invoice", payment ? Json(payment->invoice) : Json(nullptr)}};
  // The payment as it is (a dispute changes nothing of it); none when no payment matches.
  Json object = payment ? to_json(*payment) : Json();
  RECUR_TRY(events_.record(tx, "payment.disputed", resource, events::Actor::system(), nullptr, std::move(object),
                           details));
  return Handled{payment ? "dispute_recorded" : "dispute_recorded_unmatched", resource};
}

}  // namespace recur::billing
