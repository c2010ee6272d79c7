// Base64 through libsodium (sodium_bin2base64 / sodium_base642bin), the one copy: standard
// with padding (MIME bodies and headers, HTTP Basic credentials, Square's signatures) and
// URL-safe without padding (tokens, ids).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace recur {

std::string base64(std::string_view bytes);
std::string base64url(std::string_view bytes);
// The bytes of standard base64 text; characters in `ignore` (e.g. "\r\n") are skipped;
// none when the text is not base64.
std::optional<std::string> base64_decode(std::string_view text, const char* ignore = nullptr);

}  // namespace recur
