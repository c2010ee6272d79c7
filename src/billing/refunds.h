// Money given back: refunds through the charge's gateway (pending with their key before the
// gateway is asked, like charges), credit notes on the next invoice, and the resumption of
// refunds whose answer was lost.
#pragma once

#include <optional>
#include <string>

#include "billing/model.h"
#include "billing/settlement.h"
#include "events/store.h"
#include "gateways/registry.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::billing {

struct RefundInput {
  std::string invoice;
  std::optional<std::int64_t> amount;  // default: everything still refundable
  std::string reason = "requested_by_customer";
  // The request's Idempotency-Key: a retry of a request that made the refund (and then died
  // before answering) resumes that refund instead of making a second (decision 0009).
  std::string request_key;
  Json metadata = Json::object();
};

struct CreditInput {
  std::string invoice;
  std::int64_t amount = 0;
  std::string reason;
  std::string memo;
  Json metadata = Json::object();
};

class Refunds {
 public:
  // retry_after_seconds: a pending refund is asked about again once it is this old;
  // batch: at most this many per resume_pending_refunds.
  Refunds(db::Database& db, const Clock& clock, IdGenerator& ids, gateways::Gateways& gateways,
          std::int64_t retry_after_seconds, int batch)
      : db_(db), clock_(clock), ids_(ids), gateways_(gateways), retry_after_seconds_(retry_after_seconds),
        batch_(batch), events_(ids, clock) {}

  // Money back on a paid invoice through its gateway, with a credit note once it succeeded.
  Result<Refund> refund(const RefundInput& input, const events::Actor& actor);
  // A credit note that takes `amount` off the customer's next invoice (no money moves).
  Result<CreditNote> credit(const CreditInput& input, const events::Actor& actor);
  // Asks the gateway again about refunds left pending (a timeout, a crash).
  Result<int> resume_pending_refunds();
  // Records the gateway's answer about refund `id`, in a transaction of its own.
  Result<Refund> settle_refund(const std::string& id, const RefundResult& result);
  // The one place an answer about a refund is recorded (a run's or a webhook's): only while
  // it is still pending. Requires: called inside `tx`.
  Result<Refund> settle_refund(db::Tx& tx, const std::string& id, const RefundResult& result, Timestamp now);

 private:
  RefundResult ask_refund(const Refund& refund);
  Result<std::optional<Refund>> refund_of_request(const std::string& request_key);
  Result<Refund> resume_refund(const Refund& refund);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  gateways::Gateways& gateways_;
  std::int64_t retry_after_seconds_;
  int batch_;
  events::Recorder events_;
};

}  // namespace recur::billing
