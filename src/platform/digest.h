// SHA-256 as lower-case hex (OpenSSL), for key hashes and request fingerprints.
#pragma once

#include <string>
#include <string_view>

namespace recur {

std::string sha256_hex(std::string_view data);

}  // namespace recur
