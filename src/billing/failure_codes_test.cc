// Gateways' failure codes in Recur's words: worked examples from each gateway.
#include "billing/failure_codes.h"

#include <gtest/gtest.h>

namespace recur::billing {
namespace {

struct FailureCodeCase {
  const char* gateway_code;
  bool settled;
  const char* recur_code;
};

TEST(ChargeFailureCode, NamesWhatAnIntegratorActsOnAndOtherForTheRest) {
  const FailureCodeCase cases[] = {
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
  const FailureCodeCase cases[] = {
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

namespace recur::billing {
namespace {

TEST(ClassifyDecline, HardCodesStopRetryingSoftOnesFollowTheSchedule) {
  struct DeclineCase {
    const char* code;
    std::int64_t in_a_row;
    const char* type;  // "" for none
  };
  const DeclineCase cases[] = {
      {"stolen_card", 1, "hard"},       {"lost_card", 1, "hard"},
      {"pickup_card", 1, "hard"},       {"fraudulent", 1, "hard"},
      {"incorrect_number", 1, "hard"},  {"invalid_account", 1, "hard"},
      {"card_not_supported", 1, "hard"}, {"expired_card", 1, "hard"},
      {"restricted_card", 1, "hard"},   {"do_not_try_again", 1, "hard"},
      {"incorrect_cvc", 1, "hard"},     {"transaction_not_allowed", 1, "hard"},
      {"insufficient_funds", 1, "soft"}, {"insufficient_funds", 9, "soft"},
      {"processing_error", 1, "soft"},  {"try_again_later", 1, "soft"},
      {"issuer_not_available", 1, "soft"}, {"reenter_transaction", 1, "soft"},
      {"card_velocity_exceeded", 1, "soft"}, {"authentication_required", 1, "soft"},
      // No reason given: soft twice, hard the third time in a row.
      {"do_not_honor", 1, "soft"},      {"do_not_honor", 2, "soft"},
      {"do_not_honor", kUnexplainedDeclineHardAfter, "hard"}, {"do_not_honor", 4, "hard"},
      {"generic_decline", 2, "soft"},   {"generic_decline", 3, "hard"},
      {"call_issuer", 3, "hard"},
      {"some_new_code", 1, "soft"},     {"some_new_code", 3, "hard"},  // unknown: as generic_decline
      {"", 1, ""},                      {"", 5, ""},                   // not an issuer's decline
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.code) + " x" + std::to_string(c.in_a_row));
    auto type = classify_decline(c.code, c.in_a_row);
    EXPECT_EQ(type ? std::string(to_string(*type)) : "", c.type);
  }
  EXPECT_TRUE(is_decline_code("insufficient_funds"));
  EXPECT_FALSE(is_decline_code("card_declined"));  // a failure_code, not a decline code
}

}  // namespace
}  // namespace recur::billing
