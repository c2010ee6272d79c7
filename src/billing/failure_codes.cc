// Gateways' failure codes in Recur's words.
#include "billing/failure_codes.h"

#include <utility>

namespace recur::billing {
namespace {

// A gateway's code (lower-case, as the adapters pass it on) and the failure_code Recur gives it.
using CodeName = std::pair<std::string_view, std::string_view>;

// Charges refused: Stripe's decline and error codes, Square's error codes, PayPal's issues and
// capture statuses, the adapters' and the sandbox's own.
constexpr CodeName kChargeRefusals[] = {
    {"card_declined", "card_declined"},
    {"generic_decline", "card_declined"},
    {"do_not_honor", "card_declined"},
    {"declined", "card_declined"},
    {"instrument_declined", "card_declined"},
    {"transaction_refused", "card_declined"},
    {"lost_card", "card_declined"},
    {"stolen_card", "card_declined"},
    {"pickup_card", "card_declined"},
    {"restricted_card", "card_declined"},
    {"fraudulent", "card_declined"},
    {"call_issuer", "card_declined"},
    {"card_declined_call_issuer", "card_declined"},
    {"card_not_supported", "card_declined"},
    {"do_not_try_again", "card_declined"},
    {"transaction_not_allowed", "card_declined"},
    {"insufficient_funds", "insufficient_funds"},
    {"expired_card", "expired_card"},
    {"card_expired", "expired_card"},
    {"incorrect_cvc", "incorrect_cvc"},
    {"invalid_cvc", "incorrect_cvc"},
    {"cvv_failure", "incorrect_cvc"},
    {"authentication_required", "authentication_required"},
    {"card_declined_verification_required", "authentication_required"},
    {"payer_action_required", "authentication_required"},
    {"invalid_amount", "invalid_request"},
    {"amount_too_small", "invalid_request"},
    {"amount_too_large", "invalid_request"},
    {"payment_method_missing", "invalid_request"},
    {"resource_missing", "invalid_request"},
    {"not_found", "invalid_request"},
    {"idempotency_key_missing", "invalid_request"},
    {"idempotency_key_reused", "invalid_request"},
};

// Refunds refused: Stripe's failure reasons and error codes, Square's and PayPal's statuses
// and errors, the adapters' and the sandbox's own.
constexpr CodeName kRefundRefusals[] = {
    {"charge_not_refundable", "charge_not_refundable"},
    {"charge_already_refunded", "charge_not_refundable"},
    {"charge_disputed", "charge_not_refundable"},
    {"capture_fully_refunded", "charge_not_refundable"},
    {"amount_too_large", "amount_too_large"},
    {"refund_amount_exceeded", "amount_too_large"},
    {"refund_amount_invalid", "amount_too_large"},
    {"declined", "declined"},
    {"expired_or_canceled_card", "declined"},
    {"lost_or_stolen_card", "declined"},
    {"insufficient_funds", "declined"},
    {"rejected", "declined"},
    {"canceled", "canceled"},
    {"cancelled", "canceled"},
    {"merchant_request", "canceled"},
    {"invalid_amount", "invalid_request"},
    {"resource_missing", "invalid_request"},
    {"not_found", "invalid_request"},
    {"idempotency_key_missing", "invalid_request"},
};

// Answers that settle nothing, charges and refunds alike: the money may yet move.
constexpr CodeName kUnsettled[] = {
    {"timeout", "timeout"},
    {"processing", "processing"},
    {"pending", "processing"},
    {"approved", "processing"},
    {"requires_action", "processing"},
    {"gateway_not_configured", "gateway_not_configured"},
};

// A code Recur does not name: a refusal, or an answer that settles nothing.
constexpr std::string_view kOtherRefusal = "other";
constexpr std::string_view kOtherUnsettled = "gateway_error";

template <std::size_t N>
std::string named(const CodeName (&names)[N], std::string_view code, std::string_view otherwise) {
  for (const auto& [gateway, recur] : names)
    if (gateway == code) return std::string(recur);
  return std::string(otherwise);
}

}  // namespace

std::string charge_failure_code(std::string_view gateway_code, bool settled) {
  if (!settled) return named(kUnsettled, gateway_code, kOtherUnsettled);
  return named(kChargeRefusals, gateway_code, kOtherRefusal);
}

std::string refund_failure_code(std::string_view gateway_code, bool settled) {
  if (!settled) return named(kUnsettled, gateway_code, kOtherUnsettled);
  return named(kRefundRefusals, gateway_code, kOtherRefusal);
}

}  // namespace recur::billing
