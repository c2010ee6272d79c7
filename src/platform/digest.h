// SHA-256 and HMAC-SHA256 (OpenSSL): key hashes, request fingerprints, webhook signatures.
#pragma once

#include <string>
#include <string_view>

namespace recur {

std::string sha256_hex(std::string_view data);
// HMAC-SHA256 of `data` under `key`, as lower-case hex and as raw bytes.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
std::string hmac_sha256_raw(std::string_view key, std::string_view data);
// Compares two secrets in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace recur
