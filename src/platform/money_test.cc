// Worked examples for currency codes and the money rounding rule.
#include "platform/money.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>

namespace recur {
namespace {

TEST(KnownCurrency, AcceptsActiveIso4217CodesInAnyCase) {
  for (std::string_view code : {"usd", "USD", "Eur", "gbp", "jpy", "chf", "cad", "aud", "kwd",
                                "bhd", "clf", "uyw", "xof", "xcd", "ved", "sle", "zwg", "xcg"}) {
    EXPECT_TRUE(is_known_currency(code)) << code;
  }
}

TEST(KnownCurrency, RejectsUnknownWithdrawnAndNonMoneyCodes) {
  for (std::string_view code : {"", "us", "usdd", "xyz", "u$d", "dem", "frf", "hrk", "vef",
                                "mro", "xxx", "xts", "xau", "xdr", " usd"}) {
    EXPECT_FALSE(is_known_currency(code)) << code;
  }
}

TEST(NormalizeCurrency, LowerCases) {
  EXPECT_EQ(normalize_currency("USD"), "usd");
  EXPECT_EQ(normalize_currency("eUr"), "eur");
  EXPECT_EQ(normalize_currency("jpy"), "jpy");
}

TEST(CurrencyExponent, FollowsIso4217MinorUnits) {
  EXPECT_EQ(currency_exponent("usd"), 2);
  EXPECT_EQ(currency_exponent("EUR"), 2);
  EXPECT_EQ(currency_exponent("jpy"), 0);
  EXPECT_EQ(currency_exponent("KRW"), 0);
  EXPECT_EQ(currency_exponent("isk"), 0);
  EXPECT_EQ(currency_exponent("xpf"), 0);
  EXPECT_EQ(currency_exponent("kwd"), 3);
  EXPECT_EQ(currency_exponent("bhd"), 3);
  EXPECT_EQ(currency_exponent("tnd"), 3);
  EXPECT_EQ(currency_exponent("clf"), 4);
  EXPECT_EQ(currency_exponent("uyw"), 4);
}

TEST(MulDivRoundHalfUp, RoundsHalvesAwayFromZero) {
  EXPECT_EQ(mul_div_round_half_up(5, 1, 2), 3);    // 2.5
  EXPECT_EQ(mul_div_round_half_up(-5, 1, 2), -3);  // -2.5
  EXPECT_EQ(mul_div_round_half_up(5, -1, 2), -3);  // -2.5, sign from the numerator
  EXPECT_EQ(mul_div_round_half_up(2999, 1, 2), 1500);
  EXPECT_EQ(mul_div_round_half_up(-2999, 1, 2), -1500);
}

TEST(MulDivRoundHalfUp, RoundsEverythingElseToNearest) {
  EXPECT_EQ(mul_div_round_half_up(7, 1, 3), 2);    // 2.333
  EXPECT_EQ(mul_div_round_half_up(8, 1, 3), 3);    // 2.667
  EXPECT_EQ(mul_div_round_half_up(-7, 1, 3), -2);
  EXPECT_EQ(mul_div_round_half_up(-8, 1, 3), -3);
  EXPECT_EQ(mul_div_round_half_up(0, 12345, 7), 0);
  EXPECT_EQ(mul_div_round_half_up(3000, 1250704, 2592000), 1448);  // 1447.574
  EXPECT_EQ(mul_div_round_half_up(2999, 1788400, 2678400), 2002);  // 2002.468
}

TEST(MulDivRoundHalfUp, IsExactWhenTheProductExceeds64Bits) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(mul_div_round_half_up(kMax, kMax, kMax), kMax);
  EXPECT_EQ(mul_div_round_half_up(kMax, 3, 6), kMax / 2 + 1);  // (2^63 - 1) / 2 ends in .5
  EXPECT_EQ(mul_div_round_half_up(-kMax, kMax, kMax), -kMax);
}

TEST(MulDivRoundHalfUp, RefusesANonPositiveDenominatorAndOverflow) {
  EXPECT_THROW((void)mul_div_round_half_up(1, 1, 0), std::invalid_argument);
  EXPECT_THROW((void)mul_div_round_half_up(1, 1, -2), std::invalid_argument);
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_THROW((void)mul_div_round_half_up(kMax, 2, 1), std::overflow_error);
}

}  // namespace
}  // namespace recur

namespace recur {
namespace {

TEST(FormatAmount, UsesTheCurrencysMinorUnitsAndKeepsTheSign) {
  EXPECT_EQ(format_amount(2999, "usd"), "29.99 USD");
  EXPECT_EQ(format_amount(5, "eur"), "0.05 EUR");
  EXPECT_EQ(format_amount(-500, "usd"), "-5.00 USD");
  EXPECT_EQ(format_amount(1500, "jpy"), "1500 JPY");
  EXPECT_EQ(format_amount(1234, "kwd"), "1.234 KWD");
}

}  // namespace
}  // namespace recur
