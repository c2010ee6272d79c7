// Outbound webhooks' pure rules: Standard Webhooks signatures, secrets, which events an
// endpoint wants, what counts as delivered, and when a failed delivery is tried again.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/json.h"
#include "platform/time.h"

namespace recur::webhooks {

inline constexpr std::string_view kSecretPrefix = "whsec_";
inline constexpr std::size_t kSecretBytes = 24;
// An attempt that has not answered in this long failed (connect: kConnectTimeoutSeconds).
inline constexpr int kTimeoutSeconds = 15;
inline constexpr int kConnectTimeoutSeconds = 3;
// How long a rotated-out secret still signs deliveries beside the new one.
inline constexpr Timestamp kPreviousSecretSeconds = 24 * 3600;

// "whsec_" + base64(`random_bytes`). Requires: random_bytes are kSecretBytes from a CSPRNG.
std::string secret_from_bytes(std::string_view random_bytes);
// The key bytes of a secret: the base64 after "whsec_" decoded; none when it is not so.
std::optional<std::string> secret_key(std::string_view secret);

// Standard Webhooks' signature of one attempt: "v1,<base64 HMAC-SHA256 over
// "{msg_id}.{timestamp}.{body}" keyed with secret_key(secret)>". Requires: a valid secret.
std::string sign(std::string_view secret, std::string_view msg_id, Timestamp timestamp, std::string_view body);
// The webhook-signature header: one signature per secret, space-separated (two while a
// rotated-out secret still lasts).
std::string signature_header(const std::vector<std::string>& secrets, std::string_view msg_id, Timestamp timestamp,
                             std::string_view body);

// Whether an endpoint with `enabled_events` (exact types, "<resource>.*", "*") wants an
// event of `type`.
bool matches(const std::vector<std::string>& enabled_events, std::string_view type);

// Only a 2xx answer delivers; 3xx (not followed), 4xx, 5xx and no answer fail.
constexpr bool is_delivered(int status_code) { return status_code >= 200 && status_code < 300; }

inline constexpr int kMaxAttempts = 8;
// Seconds from the `attempts`-th failure to the next try: 5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h, 10 h; none after the 8th attempt (the delivery has failed for good).
std::optional<Timestamp> retry_delay(int attempts);

// True for an absolute http:// or https:// URL with a host.
bool is_webhook_url(std::string_view url);
// The host of such a URL, without brackets or port ("::1" for "http://[::1]:8080/").
std::string url_host(std::string_view url);
// True for an address a webhook must not reach in live mode (the SSRF guard): loopback,
// link-local, private (RFC 1918, unique-local), carrier-grade NAT, unspecified, and IPv4
// mapped into IPv6 of those; also for text that is not an IP address.
bool is_private_address(std::string_view ip);

// Where events go: POST /v1/webhook-endpoints.
struct Endpoint {
  std::string id;                   // "we_..."
  std::string url;
  std::string status = "enabled";   // "enabled" | "disabled"
  std::vector<std::string> enabled_events;
  std::string secret;               // "whsec_..."
  std::optional<std::string> previous_secret;  // rotated out, signs until previous_secret_expires_at
  std::optional<Timestamp> previous_secret_expires_at;
  std::optional<std::string> description;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
  // Since when every attempt to it has failed (none: the last one succeeded, or none failed).
  std::optional<Timestamp> failing_since;
  // "sup_...": the endpoint behind that supplier's webhook_url (purchasing keeps its url and
  // enabled_events); none for the merchant's own endpoints.
  std::optional<std::string> supplier_id;
};

// The one event type a supplier's endpoint receives: its own purchase orders, sent.
inline constexpr std::string_view kSupplierEventType = "purchase_order.sent";
// Whether `endpoint` gets an event of `type`. A supplier's endpoint gets only
// kSupplierEventType events whose purchase order is its supplier's (`po_supplier`: the
// order's `supplier`, none when unknown); a merchant's endpoint whatever matches() says.
bool wants(const Endpoint& endpoint, std::string_view type, const std::optional<std::string>& po_supplier);

// An endpoint whose attempts have all failed for this long is disabled.
inline constexpr Timestamp kDisableAfterFailingSeconds = 5 * 24 * 3600;
enum class Health {
  kUnchanged,
  kRecovered,      // a success after failures: failing_since is cleared
  kStartsFailing,  // a first failure: failing_since becomes its time
  kDisable,        // failing for kDisableAfterFailingSeconds: disabled, operators told
};
// What an attempt made at `at` does to its endpoint (`failing_since` as stored).
Health health_after(std::optional<Timestamp> failing_since, bool delivered, Timestamp at);

// The secrets that sign a delivery at `now`: the current one, and the rotated-out one while
// it lasts.
std::vector<std::string> signing_secrets(const Endpoint& endpoint, Timestamp now);

// One attempt of a delivery, as the deliveries list shows it.
struct Attempt {
  int number = 0;
  Timestamp at = 0;
  std::optional<int> status_code;  // none: no answer (refused, timed out)
  std::int64_t duration_ms = 0;
  std::optional<std::string> error;
};

// One event sent to one endpoint, with its attempts.
struct Delivery {
  std::string id;                   // "whd_..."
  std::string endpoint_id;
  std::string event_id;
  std::string event_type;
  Timestamp event_created = 0;
  std::string origin = "event";     // "event" (fan-out) | "replay" | "resend"
  std::string status = "pending";   // "pending" | "succeeded" | "failed"
  int attempts = 0;
  std::optional<Timestamp> next_attempt_at;  // pending: when it is tried (or its claim ends)
  std::optional<int> last_status_code;
  std::optional<std::string> last_error;
  std::optional<std::int64_t> last_duration_ms;
  std::vector<Attempt> history;
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
};

// Settles the attempt numbered `delivery.attempts` (counted when it was claimed) made at
// `at`: succeeded on a 2xx; otherwise pending again retry_delay() after `at`, or failed
// after the last attempt.
void apply_attempt(Delivery& delivery, Attempt attempt);

Json to_json(const Attempt& attempt);
Attempt attempt_from_json(const Json& j);

}  // namespace recur::webhooks
