// Inbound gateway webhooks (decision 0007): verified, claimed once per event id in the
// transaction that acts on them, and settling only what Recur left pending, through the
// same functions a run records answers with (Collector::settle_payment,
// Refunds::settle_refund).
#pragma once

#include <map>
#include <string>

#include "billing/collector.h"
#include "billing/disputes.h"
#include "billing/refunds.h"
#include "billing/settlement.h"
#include "events/store.h"
#include "gateways/registry.h"
#include "notify/outbox.h"
#include "subscriptions/service.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::billing {

// What became of an inbound gateway webhook.
struct WebhookReceipt {
  bool duplicate = false;  // this gateway's event id was handled before: nothing changed
  std::string outcome;     // as recorded in gateway_events ("settled", "already_settled", "ignored", ...)
};

class GatewayWebhooks {
 public:
  // accept_sandbox: the sandbox signs its webhooks with a well-known secret, so they are
  // accepted only where nothing real is at stake (test mode).
  // subscriptions: where a dispute's setting pauses, cancels or resumes the subscription;
  // outbox + ops_email: where operators hear of a new dispute ("": event and log only).
  GatewayWebhooks(db::Database& db, const Clock& clock, IdGenerator& ids, gateways::Gateways& gateways,
                  Collector& collector, Refunds& refunds, subscriptions::SubscriptionService& subscriptions,
                  notify::Outbox& outbox, std::string ops_email, bool accept_sandbox)
      : db_(db), clock_(clock), ids_(ids), gateways_(gateways), collector_(collector), refunds_(refunds),
        subscriptions_(subscriptions), outbox_(outbox), ops_email_(std::move(ops_email)),
        accept_sandbox_(accept_sandbox), events_(ids, clock) {}

  // An inbound webhook of `gateway`: verified against the raw body (ErrorKind::kUnauthorized
  // when the signature is bad or stale; kNotFound for a gateway that takes no webhooks
  // here), then handled once per event id in one transaction with its effects: a charge
  // or refund Recur still has pending is settled as the next run would settle it; a
  // dispute of a payment Recur made is opened or closed once (decision 0021: the invoice's
  // amounts, the setting's subscription step, dispute.* events, the operators' e-mail),
  // and recorded as a `payment.disputed` event when it opens; anything else is only recorded.
  Result<WebhookReceipt> receive_webhook(const std::string& gateway, const std::map<std::string, std::string>& headers,
                                         const std::string& body);

 private:
  struct Handled {
    std::string outcome;
    std::string resource;  // the payment or refund it was about, when found
  };
  Result<Handled> act_on(db::Tx& tx, const std::string& gateway, const WebhookEvent& event, Timestamp now);
  Result<Handled> settle_charge(db::Tx& tx, const std::string& gateway, const ChargeNotice& notice, Timestamp now);
  Result<Handled> settle_refund_notice(db::Tx& tx, const std::string& gateway, const RefundNotice& notice,
                                       Timestamp now);
  Result<Handled> record_dispute(db::Tx& tx, const std::string& gateway, const DisputeNotice& notice, Timestamp now);
  // Opens (or, for a closing notice that came first, creates closed) the dispute of `payment`.
  Result<Dispute> open_dispute(db::Tx& tx, const std::string& gateway, const DisputeNotice& notice,
                               const Payment& payment, std::optional<DisputeStatus> closed_as, Timestamp now);
  recur::Status close_dispute(db::Tx& tx, Dispute& dispute, DisputeStatus outcome, Timestamp now);
  void tell_operators(db::Tx& tx, const Dispute& dispute, const Invoice& invoice);
  Result<std::optional<Payment>> payment_for(db::Tx& tx, const ChargeNotice& notice);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  gateways::Gateways& gateways_;
  Collector& collector_;
  Refunds& refunds_;
  subscriptions::SubscriptionService& subscriptions_;
  notify::Outbox& outbox_;
  std::string ops_email_;
  bool accept_sandbox_;
  events::Recorder events_;
};

}  // namespace recur::billing
