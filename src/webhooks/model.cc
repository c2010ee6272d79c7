// Outbound webhooks' pure rules.
#include "webhooks/model.h"

#include <algorithm>
#include <array>

#include <arpa/inet.h>

#include "platform/base64.h"
#include "platform/digest.h"

namespace recur::webhooks {

std::string secret_from_bytes(std::string_view random_bytes) {
  return std::string(kSecretPrefix) + base64(random_bytes);
}

std::optional<std::string> secret_key(std::string_view secret) {
  if (!secret.starts_with(kSecretPrefix)) return std::nullopt;
  auto key = base64_decode(secret.substr(kSecretPrefix.size()));
  if (!key || key->empty()) return std::nullopt;
  return key;
}

std::string sign(std::string_view secret, std::string_view msg_id, Timestamp timestamp, std::string_view body) {
  std::string key = secret_key(secret).value_or(std::string());
  std::string content;
  content.reserve(msg_id.size() + body.size() + 24);
  content.append(msg_id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  return "v1," + base64(hmac_sha256_raw(key, content));
}

std::string signature_header(const std::vector<std::string>& secrets, std::string_view msg_id, Timestamp timestamp,
                             std::string_view body) {
  std::string out;
  for (const auto& secret : secrets) {
    if (!out.empty()) out += ' ';
    out += sign(secret, msg_id, timestamp, body);
  }
  return out;
}

bool matches(const std::vector<std::string>& enabled_events, std::string_view type) {
  std::string_view resource = type.substr(0, type.find('.'));
  return std::any_of(enabled_events.begin(), enabled_events.end(), [&](const std::string& pattern) {
    if (pattern == "*" || pattern == type) return true;
    return pattern.ends_with(".*") && std::string_view(pattern).substr(0, pattern.size() - 2) == resource;
  });
}

bool wants(const Endpoint& endpoint, std::string_view type, const std::optional<std::string>& po_supplier) {
  if (!endpoint.supplier_id) return matches(endpoint.enabled_events, type);
  return type == kSupplierEventType && po_supplier == endpoint.supplier_id;
}

std::optional<Timestamp> retry_delay(int attempts) {
  static constexpr std::array<Timestamp, kMaxAttempts - 1> kDelays = {5, 5 * 60, 30 * 60, 2 * 3600,
                                                                      5 * 3600, 10 * 3600, 10 * 3600};
  if (attempts < 1 || attempts >= kMaxAttempts) return std::nullopt;
  return kDelays[static_cast<std::size_t>(attempts - 1)];
}

bool is_webhook_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) rest = url.substr(8);
  else if (url.starts_with("http://")) rest = url.substr(7);
  else return false;
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = host.rfind('@'); at != std::string_view::npos) return false;  // no credentials in the URL
  if (host.empty() || host.front() == ':') return false;
  return std::none_of(url.begin(), url.end(), [](char c) { return c <= ' ' || c == 0x7f; });
}

std::string url_host(std::string_view url) {
  std::string_view rest = url.substr(url.find("://") == std::string_view::npos ? 0 : url.find("://") + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.starts_with('[')) return std::string(authority.substr(1, authority.find(']') - 1));
  return std::string(authority.substr(0, authority.find(':')));
}

namespace {

bool is_private_v4(const unsigned char* a) {
  return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 169 && a[1] == 254) ||
         (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
         (a[0] == 100 && (a[1] & 0xc0) == 64);
}

}  // namespace

bool is_private_address(std::string_view ip) {
  std::string text(ip);
  unsigned char a[16];
  if (inet_pton(AF_INET, text.c_str(), a) == 1) return is_private_v4(a);
  if (inet_pton(AF_INET6, text.c_str(), a) != 1) return true;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(a, a + 12, kMapped)) return is_private_v4(a + 12);
  bool zero_prefix = std::all_of(a, a + 15, [](unsigned char c) { return c == 0; });
  if (zero_prefix && (a[15] == 0 || a[15] == 1)) return true;  // :: and ::1
  if ((a[0] & 0xfe) == 0xfc) return true;                       // fc00::/7 unique local
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return true;       // fe80::/10 link-local
  return false;
}

std::vector<std::string> signing_secrets(const Endpoint& endpoint, Timestamp now) {
  std::vector<std::string> out{endpoint.secret};
  if (endpoint.previous_secret && endpoint.previous_secret_expires_at && now < *endpoint.previous_secret_expires_at)
    out.push_back(*endpoint.previous_secret);
  return out;
}

void apply_attempt(Delivery& d, Attempt attempt) {
  attempt.number = d.attempts;
  d.last_status_code = attempt.status_code;
  d.last_error = attempt.error;
  d.last_duration_ms = attempt.duration_ms;
  d.next_attempt_at.reset();
  if (attempt.status_code && is_delivered(*attempt.status_code)) {
    d.status = "succeeded";
  } else if (auto delay = retry_delay(d.attempts)) {
    d.status = "pending";
    d.next_attempt_at = attempt.at + *delay;
  } else {
    d.status = "failed";
  }
  d.updated = attempt.at;
  d.history.push_back(std::move(attempt));
}

Json to_json(const Attempt& a) {
  return Json{{"attempt", a.number},
              {"at", a.at},
              {"status_code", a.status_code ? Json(*a.status_code) : Json(nullptr)},
              {"duration_ms", a.duration_ms},
              {"error", a.error ? Json(*a.error) : Json(nullptr)}};
}

Attempt attempt_from_json(const Json& j) {
  Attempt a;
  a.number = j.value("attempt", 0);
  a.at = j.value("at", Timestamp{0});
  if (j.contains("status_code") && j["status_code"].is_number_integer()) a.status_code = j["status_code"].get<int>();
  a.duration_ms = j.value("duration_ms", std::int64_t{0});
  if (j.contains("error") && j["error"].is_string()) a.error = j["error"].get<std::string>();
  return a;
}

Health health_after(std::optional<Timestamp> failing_since, bool delivered, Timestamp at) {
  if (delivered) return failing_since ? Health::kRecovered : Health::kUnchanged;
  if (!failing_since) return Health::kStartsFailing;
  return at - *failing_since >= kDisableAfterFailingSeconds ? Health::kDisable : Health::kUnchanged;
}

}  // namespace recur::webhooks
