// Why a charge or a refund did not go through, in Recur's words: the `failure_code` of a
// payment or refund. Gateways each have their own codes (Stripe's decline codes, Square's
// error codes, PayPal's issues); Recur names the few an integrator acts on and keeps the
// gateway's own beside it (`gateway_failure_code`). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace recur::billing {

// A charge's failure_code from the gateway's code: `settled` for a definitive refusal (the
// payment failed), otherwise the reason the answer was not definitive (it stays pending).
// A code Recur does not name is "other" when settled and "gateway_error" when not.
// api/openapi.yaml's PaymentFailureCode lists every value (ctest payment_enums).
std::string charge_failure_code(std::string_view gateway_code, bool settled);

// The same for a refund (api/openapi.yaml's RefundFailureCode).
std::string refund_failure_code(std::string_view gateway_code, bool settled);

// Whether retrying the same card can help (docs/billing-rules.md, "Retries that read the
// decline"). `hard`: the card will not be charged again for the invoice (lost, stolen,
// fraudulent, closed, wrong number, expired, ...); the customer is asked for another.
// `soft`: the issuer may accept later (insufficient funds, processing errors, ...).
enum class DeclineType { kHard, kSoft };
std::string_view to_string(DeclineType type);

// do_not_honor, generic_decline, call_issuer and codes Recur does not know (the issuer said
// no without saying why) are soft until they come back this many times in a row for the
// same invoice and card, and hard from then on: two scheduled retries, then the customer
// is asked for another card (Stripe's advice: retrying such declines rarely helps).
inline constexpr std::int64_t kUnexplainedDeclineHardAfter = 3;

// The class of a normalised decline code (Stripe's decline-code names, which every
// adapter maps its gateway's codes to: gateways::ChargeResult::decline_code), the decline
// having been given `in_a_row` times (>= 1, this one included) for the invoice and card.
// None for an empty code (a failure that is not an issuer's decline). Pure.
std::optional<DeclineType> classify_decline(std::string_view decline_code, std::int64_t in_a_row = 1);

// Whether `decline_code` is one of the normalised codes (api/openapi.yaml's DeclineCode).
bool is_decline_code(std::string_view decline_code);

}  // namespace recur::billing
