// Card numbers (PANs) must never be echoed: not in an error, a log line or an event. Pure.
#pragma once

#include <string>
#include <string_view>

namespace recur {

// 13 to 19 digits, optionally grouped by single spaces or dashes, passing the Luhn check
// ("4242 4242 4242 4242", "4242-4242-4242-4242", "4242424242424242"), surrounding blanks
// ignored.
bool looks_like_pan(std::string_view text);

// `text` with every run of digits (grouped as above) that holds a PAN-like number replaced
// by "[redacted card number]": for messages that quote what a caller sent.
std::string redact_pans(std::string_view text);

}  // namespace recur
