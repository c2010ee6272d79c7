// What counts as a card number, and what is left of a message quoting one.
#include "platform/card_number.h"

#include <gtest/gtest.h>

namespace recur {
namespace {

TEST(CardNumber, LooksLikePanIs13To19DigitsPassingLuhnWithOptionalGrouping) {
  struct Case {
    const char* text;
    bool pan;
  } cases[] = {
      {"4242424242424242", true},        // Visa test card
      {"4242 4242 4242 4242", true},     // grouped by spaces
      {"4242-4242-4242-4242", true},     // grouped by dashes
      {" 4242424242424242 ", true},      // blanks around
      {"378282246310005", true},         // Amex, 15 digits
      {"4222222222222", true},           // 13 digits
      {"6011000990139424", true},        // Discover
      {"3530111333300000", true},        // JCB
      {"6250941006528599", true},        // UnionPay 16
      {"6200000000000000000", true},     // 19 digits
      {"4242424242424241", false},       // fails Luhn
      {"424242424242", false},           // 12 digits
      {"42424242424242424242", false},   // 20 digits
      {"4242  4242 4242 4242", false},   // a double blank is not a grouping
      {"4242/4242/4242/4242", false},    // other separators
      {"pm_card_visa", false},
      {"tok_4242424242424242", false},   // not the whole value (redact_pans covers it)
      {"", false},
      {"0000000000000", true},           // Luhn-valid zeros: refusing is the safe side
  };
  for (const auto& c : cases) EXPECT_EQ(looks_like_pan(c.text), c.pan) << c.text;
}

TEST(CardNumber, RedactPansReplacesEveryCardNumberAndNothingElse) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"the sandbox does not know '4242424242424242'", "the sandbox does not know '[redacted card number]'"},
      {"no customer 4242 4242 4242 4242 here", "no customer [redacted card number] here"},
      {"tok_4242-4242-4242-4242", "tok_[redacted card number]"},
      {"SKU4242424242424242x", "SKU[redacted card number]x"},
      {"99 4242424242424242 0", "[redacted card number]"},  // groups join one run
      {"x4242424242424242424242", "x[redacted card number]"},  // hidden in a longer run
      {"amount 424242424242 and 2026-01-31", "amount 424242424242 and 2026-01-31"},
      {"limit must be an integer from 1 to 100", "limit must be an integer from 1 to 100"},
      {"cus_01HZX7Q2, version 3", "cus_01HZX7Q2, version 3"},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(redact_pans(c.in), c.out) << c.in;
}

}  // namespace
}  // namespace recur
