// Phone numbers as Recur stores and texts them: E.164 only. Pure.
#pragma once

#include <string_view>

namespace recur {

// E.164: "+" then 8 to 15 digits, the first not 0 (no country code begins with 0); no
// spaces, dashes or brackets. Customers' phones and SMS recipients are both held to it.
bool is_e164(std::string_view phone);

}  // namespace recur
