// Settlement rules for gateway notices.
#include "billing/settlement.h"

#include "platform/money.h"

namespace recur::billing {
namespace {

bool same_money(const std::optional<Money>& notice, std::int64_t amount, const std::string& currency) {
  if (!notice) return true;  // the gateway did not say: the link (id or key) decides
  return notice->amount == amount && normalize_currency(notice->currency) == normalize_currency(currency);
}

bool same_id(const std::string& ours, const std::string& theirs) {
  return ours.empty() || theirs.empty() || ours == theirs;
}

}  // namespace

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kSettle: return "settled";
    case Verdict::kAlreadySettled: return "already_settled";
    case Verdict::kNotFinal: return "not_final";
    case Verdict::kWrongGateway: return "wrong_gateway";
    case Verdict::kMismatch: return "mismatch";
  }
  return "mismatch";
}

Verdict judge_charge(const Payment& payment, std::string_view gateway, const ChargeNotice& notice) {
  if (payment.gateway != gateway) return Verdict::kWrongGateway;
  if (payment.status != PaymentStatus::kPending && payment.status != PaymentStatus::kRequiresAction)
    return Verdict::kAlreadySettled;
  // An authentication asked for is recorded from the charge's answer, not from an event; and
  // the failure of a charge waiting for one is recorded only by Recur, after it canceled the
  // charge at the gateway (a failed challenge can be retried on the shop's page).
  if (notice.result.outcome == Outcome::kUnknown || notice.result.outcome == Outcome::kRequiresAction ||
      (payment.status == PaymentStatus::kRequiresAction && notice.result.outcome == Outcome::kFailed))
    return Verdict::kNotFinal;
  if (!same_money(notice.amount, payment.amount, payment.currency) ||
      !same_id(payment.gateway_reference, notice.result.charge_id))
    return Verdict::kMismatch;
  return Verdict::kSettle;
}

Verdict judge_refund(const Refund& refund, const RefundNotice& notice) {
  if (refund.status != PaymentStatus::kPending) return Verdict::kAlreadySettled;
  if (notice.result.outcome == Outcome::kUnknown) return Verdict::kNotFinal;
  if (!same_money(notice.amount, refund.amount, refund.currency) ||
      !same_id(refund.gateway_reference, notice.result.refund_id))
    return Verdict::kMismatch;
  return Verdict::kSettle;
}

bool may_be_attempt(const Payment& pending, const ChargeNotice& notice) {
  return notice.created && *notice.created >= pending.created - kGatewayClockSkewSeconds;
}

}  // namespace recur::billing
