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

// Stripe's card decline codes (https://docs.stripe.com/declines/codes), the normalised
// names every adapter maps its gateway's codes to, with their class. A hard code is one
// Stripe's "next steps" answer with "the customer needs to use another card" or "do not
// report more detail to the customer" (fraud): retrying the same card cannot succeed.
// kUnexplained: the issuer gave no reason; soft until kUnexplainedDeclineHardAfter in a row.
enum class Kind { kHard, kSoft, kUnexplained };
struct DeclineClass {
  std::string_view code;
  Kind kind;
};
constexpr DeclineClass kDeclineCodes[] = {
    // The card is gone, blocked or wrong: ask for another one.
    {"stolen_card", Kind::kHard},
    {"lost_card", Kind::kHard},
    {"pickup_card", Kind::kHard},
    {"fraudulent", Kind::kHard},
    {"merchant_blacklist", Kind::kHard},
    {"security_violation", Kind::kHard},
    {"incorrect_number", Kind::kHard},
    {"invalid_number", Kind::kHard},
    {"invalid_account", Kind::kHard},
    {"new_account_information_available", Kind::kHard},
    {"card_not_supported", Kind::kHard},
    {"currency_not_supported", Kind::kHard},
    {"expired_card", Kind::kHard},
    {"invalid_expiry_month", Kind::kHard},
    {"invalid_expiry_year", Kind::kHard},
    {"restricted_card", Kind::kHard},
    {"do_not_try_again", Kind::kHard},
    {"revocation_of_all_authorizations", Kind::kHard},
    {"revocation_of_authorization", Kind::kHard},
    {"stop_payment_order", Kind::kHard},
    {"transaction_not_allowed", Kind::kHard},
    {"service_not_allowed", Kind::kHard},
    {"not_permitted", Kind::kHard},
    {"incorrect_cvc", Kind::kHard},
    {"invalid_cvc", Kind::kHard},
    {"incorrect_zip", Kind::kHard},
    {"incorrect_pin", Kind::kHard},
    {"invalid_pin", Kind::kHard},
    {"pin_try_exceeded", Kind::kHard},
    {"offline_pin_required", Kind::kHard},
    {"online_or_offline_pin_required", Kind::kHard},
    // The issuer may say yes later: follow the schedule.
    {"insufficient_funds", Kind::kSoft},
    {"processing_error", Kind::kSoft},
    {"try_again_later", Kind::kSoft},
    {"issuer_not_available", Kind::kSoft},
    {"reenter_transaction", Kind::kSoft},
    {"approve_with_id", Kind::kSoft},
    {"no_action_taken", Kind::kSoft},
    {"card_velocity_exceeded", Kind::kSoft},
    {"withdrawal_count_limit_exceeded", Kind::kSoft},
    {"duplicate_transaction", Kind::kSoft},
    {"authentication_required", Kind::kSoft},
    {"testmode_decline", Kind::kSoft},
    // No reason given.
    {"do_not_honor", Kind::kUnexplained},
    {"generic_decline", Kind::kUnexplained},
    {"call_issuer", Kind::kUnexplained},
};

}  // namespace

std::string_view to_string(DeclineType type) { return type == DeclineType::kHard ? "hard" : "soft"; }

bool is_decline_code(std::string_view decline_code) {
  for (const auto& c : kDeclineCodes)
    if (c.code == decline_code) return true;
  return false;
}

std::optional<DeclineType> classify_decline(std::string_view decline_code, std::int64_t in_a_row) {
  if (decline_code.empty()) return std::nullopt;
  Kind kind = Kind::kUnexplained;  // a code Recur does not know is read as "no reason given"
  for (const auto& c : kDeclineCodes)
    if (c.code == decline_code) kind = c.kind;
  switch (kind) {
    case Kind::kHard: return DeclineType::kHard;
    case Kind::kSoft: return DeclineType::kSoft;
    case Kind::kUnexplained: break;
  }
  return in_a_row >= kUnexplainedDeclineHardAfter ? DeclineType::kHard : DeclineType::kSoft;
}

std::string charge_failure_code(std::string_view gateway_code, bool settled) {
  if (!settled) return named(kUnsettled, gateway_code, kOtherUnsettled);
  return named(kChargeRefusals, gateway_code, kOtherRefusal);
}

std::string refund_failure_code(std::string_view gateway_code, bool settled) {
  if (!settled) return named(kUnsettled, gateway_code, kOtherUnsettled);
  return named(kRefundRefusals, gateway_code, kOtherRefusal);
}

}  // namespace recur::billing
