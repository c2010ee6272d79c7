// How a gateway's webhook settles what Recur left pending. Pure: the service finds the
// payment or refund, these rules say whether the notice may settle it.
//
// A webhook never moves money and never creates a payment: it only records, for an attempt
// Recur already made and is still waiting on, the answer the gateway gave (decision 0007).
#pragma once

#include <string_view>

#include "billing/model.h"
#include "gateways/gateway.h"

namespace recur::billing {

// Billing's words for what a gateway answers (the gateways module's types).
using gateways::ChargeNotice;
using gateways::ChargeRequest;
using gateways::ChargeResult;
using gateways::DisputeNotice;
using gateways::Gateway;
using gateways::Outcome;
using gateways::RefundNotice;
using gateways::RefundRequest;
using gateways::RefundResult;
using gateways::WebhookEvent;

enum class Verdict {
  kSettle,          // record the notice's outcome, as the next run would have
  kAlreadySettled,  // recorded before (by a run or an earlier event): nothing changes
  kNotFinal,        // the gateway has not settled it either ("processing", "pending")
  kWrongGateway,    // the payment went through another gateway
  kMismatch,        // another amount, currency or charge than the one Recur asked for
};
std::string_view to_string(Verdict verdict);

// Whether `notice`, from `gateway`, settles `payment`.
Verdict judge_charge(const Payment& payment, std::string_view gateway, const ChargeNotice& notice);
// Whether `notice` settles `refund` (whose charge went through the notice's gateway).
Verdict judge_refund(const Refund& refund, const RefundNotice& notice);

// Gateways and Recur disagree about the time by up to this much.
inline constexpr std::int64_t kGatewayClockSkewSeconds = 60;

// When only the invoice links a notice to the invoice's pending payment (Square has no
// metadata, and a lost answer left Recur without the charge id), the notice must be about
// that attempt, not an earlier one of the same invoice: made no earlier than the attempt.
bool may_be_attempt(const Payment& pending, const ChargeNotice& notice);

}  // namespace recur::billing
