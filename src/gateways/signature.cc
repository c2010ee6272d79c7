// Timestamped HMAC signatures (Stripe's scheme).
#include "gateways/signature.h"

#include <charconv>
#include <vector>

#include "platform/digest.h"

namespace recur::gateways {
namespace {

Error refused(std::string message) { return Error::unauthorized("invalid_signature", std::move(message)); }

}  // namespace

std::string sign_timestamped(std::string_view secret, Timestamp t, std::string_view body) {
  std::string payload = std::to_string(t);
  payload += '.';
  payload += body;
  return "t=" + std::to_string(t) + ",v1=" + hmac_sha256_hex(secret, payload);
}

Status verify_timestamped(std::string_view secret, std::string_view header, std::string_view body, Timestamp now,
                          std::int64_t tolerance) {
  std::optional<Timestamp> t;
  std::vector<std::string_view> v1;
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    auto key = part.substr(0, eq);
    auto value = part.substr(eq + 1);
    if (key == "t") {
      Timestamp parsed = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
      if (ec == std::errc() && ptr == value.data() + value.size()) t = parsed;
    } else if (key == "v1") {
      v1.push_back(value);
    }
  }
  if (!t) return refused("the signature header has no timestamp");
  if (v1.empty()) return refused("the signature header has no v1 signature");
  // Compared without `now - t`, which overflowed for a t near INT64_MIN from the caller's
  // header (found writing the webhook_signatures fuzz target; its input is
  // fuzz/corpus/webhook_signatures/regress-timestamp-near-int64-min).
  if (*t < now - tolerance || *t > now + tolerance)
    return refused("the signature's timestamp is outside the tolerance");
  std::string payload = std::to_string(*t);
  payload += '.';
  payload += body;
  std::string expected = hmac_sha256_hex(secret, payload);
  for (auto candidate : v1)
    if (constant_time_equal(candidate, expected)) return Ok{};
  return refused("no signature matches the payload");
}

}  // namespace recur::gateways
