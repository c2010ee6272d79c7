// Gateways' failure codes in Recur's words: worked examples from each gateway.
#include "billing/failure_codes.h"

#include <gtest/gtest.h>

namespace recur::billing {
namespace {

struct Case {
  const char* gateway_code;
  bool settled;
  const char* recur_code;
};

TEST(ChargeFailureCode, NamesWhatAnIntegratorActsOnAndOtherForTheRest) {
  const Case cases[] = {
      {"card_declined", true, "card_declined"},          // the sandbox, Stripe
      {"do_not_honor", true, "card_declined"},           // Stripe's decline_code
      {"generic_decline", true, "card_declined"},        // Square (lower-cased by its adapter)
      {"instrument_declined", true, "card_declined"},    // PayPal's issue
      {"declined", true, "card_declined"},               // PayPal's capture status
      {"insufficient_funds", true, "insufficient_funds"},
      {"card_expired", true, "expired_card"},            // Square and PayPal
      {"expired_card", true, "expired_card"},            // Stripe
      {"cvv_failure", true, "incorrect_cvc"},            // Square
      {"authentication_required", true, "authentication_required"},
      {"payer_action_required", true, "authentication_required"},  // PayPal
      {"invalid_amount", true, "invalid_request"},       // PayPal's adapter: a currency it does not take
      {"idempotency_key_reused", true, "invalid_request"},
      {"requires_payment_method", true, "other"},        // Stripe's status with no error on record
      {"http_402", true, "other"},
      {"", true, "other"},
      {"timeout", false, "timeout"},
      {"processing", false, "processing"},               // Stripe
      {"approved", false, "processing"},                 // Square
      {"pending", false, "processing"},                  // Square, PayPal
      {"gateway_not_configured", false, "gateway_not_configured"},
      {"gateway_error", false, "gateway_error"},
      {"unexpected_status", false, "gateway_error"},
      {"http_409", false, "gateway_error"},
      {"card_declined", false, "gateway_error"},         // unsettled is never a refusal
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.gateway_code) + (c.settled ? " (settled)" : " (not settled)"));
    EXPECT_EQ(charge_failure_code(c.gateway_code, c.settled), c.recur_code);
  }
}

TEST(RefundFailureCode, NamesWhatAnIntegratorActsOnAndOtherForTheRest) {
  const Case cases[] = {
      {"charge_not_refundable", true, "charge_not_refundable"},  // the sandbox
      {"charge_already_refunded", true, "charge_not_refundable"},  // Stripe
      {"amount_too_large", true, "amount_too_large"},
      {"refund_amount_exceeded", true, "amount_too_large"},      // PayPal
      {"expired_or_canceled_card", true, "declined"},            // Stripe's failure_reason
      {"rejected", true, "declined"},                            // Square's status
      {"cancelled", true, "canceled"},                           // PayPal's status
      {"canceled", true, "canceled"},                            // Stripe's status
      {"failed", true, "other"},
      {"insufficient_funds", true, "declined"},
      {"timeout", false, "timeout"},
      {"pending", false, "processing"},
      {"requires_action", false, "processing"},                  // Stripe
      {"gateway_error", false, "gateway_error"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.gateway_code) + (c.settled ? " (settled)" : " (not settled)"));
    EXPECT_EQ(refund_failure_code(c.gateway_code, c.settled), c.recur_code);
  }
}

}  // namespace
}  // namespace recur::billing
