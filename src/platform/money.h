// Money: an integer count of minor units plus an ISO 4217 currency. Never a double.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace recur {

struct Money {
  std::int64_t amount = 0;  // minor units (cents for USD, yen for JPY)
  std::string currency;     // ISO 4217, lower-case as in Stripe's API ("usd")
};

// True for a currency code Recur knows (ISO 4217, three letters, case-insensitive).
bool is_known_currency(std::string_view code);
// Lower-cases a currency code: "USD" -> "usd".
std::string normalize_currency(std::string_view code);
// Minor-unit exponent: 2 for usd, 0 for jpy, 3 for kwd.
int currency_exponent(std::string_view code);

// For people: "29.99 USD", "1500 JPY", "-5.00 EUR".
std::string format_amount(std::int64_t amount, std::string_view currency);

// round(value * numerator / denominator), half away from zero, exact in 128 bits.
// Requires: denominator > 0.
std::int64_t mul_div_round_half_up(std::int64_t value, std::int64_t numerator, std::int64_t denominator);

}  // namespace recur
