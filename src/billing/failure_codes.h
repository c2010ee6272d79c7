// Why a charge or a refund did not go through, in Recur's words: the `failure_code` of a
// payment or refund. Gateways each have their own codes (Stripe's decline codes, Square's
// error codes, PayPal's issues); Recur names the few an integrator acts on and keeps the
// gateway's own beside it (`gateway_failure_code`). Pure.
#pragma once

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

}  // namespace recur::billing
