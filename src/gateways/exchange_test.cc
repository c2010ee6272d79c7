// What the gateway adapters share: Recur's names for the card brands gateways send.
#include "gateways/exchange.h"

#include <gtest/gtest.h>

namespace recur::gateways {
namespace {

TEST(CardBrand, GatewaysNamesBecomeStripesAndAnyOtherBrandIsUnknown) {
  struct Case {
    const char* sent;
    const char* brand;
  };
  const Case cases[] = {
      {"visa", "visa"},                    // Stripe, as Recur names it
      {"mastercard", "mastercard"},
      {"VISA", "visa"},                    // Square and PayPal, upper-case
      {"AMERICAN_EXPRESS", "amex"},        // Square
      {"AMEX", "amex"},                    // PayPal
      {"DISCOVER_DINERS", "diners"},       // Square
      {"CHINA_UNIONPAY", "unionpay"},      // Square
      {"CHINA_UNION_PAY", "unionpay"},     // PayPal
      {"EFTPOS", "eftpos_au"},             // Square and PayPal
      {"CB_NATIONALE", "cartes_bancaires"},  // PayPal
      {"INTERAC", "interac"},
      {"unknown", "unknown"},              // Stripe's own
      {"OTHER_BRAND", "unknown"},          // Square's
      {"SQUARE_GIFT_CARD", "unknown"},
      {"MAESTRO", "unknown"},              // PayPal: a brand Recur has no name for
      {"", "unknown"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.sent);
    EXPECT_EQ(card_brand(c.sent), c.brand);
  }
}

// A charge's deadline (checkout's --checkout-timeout) shortens each call's HTTP timeout.
TEST(TimeLeft, TheAdaptersTimeoutShortenedToTheChargesDeadlineAndNeverZero) {
  using std::chrono::milliseconds;
  auto now = std::chrono::steady_clock::now();
  ChargeRequest none;
  EXPECT_EQ(time_left(milliseconds(15000), none), milliseconds(15000));
  ChargeRequest far;
  far.deadline = now + std::chrono::seconds(60);
  EXPECT_EQ(time_left(milliseconds(15000), far), milliseconds(15000));
  ChargeRequest near;
  near.deadline = now + milliseconds(2000);
  auto left = time_left(milliseconds(15000), near);
  EXPECT_LE(left, milliseconds(2000));
  EXPECT_GT(left, milliseconds(1000));
  ChargeRequest past;
  past.deadline = now - milliseconds(50);
  EXPECT_EQ(time_left(milliseconds(15000), past), milliseconds(1));
}

}  // namespace
}  // namespace recur::gateways
