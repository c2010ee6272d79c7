// Notifications: messages to customers (e-mail, SMS), their templates and retry rule. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "platform/json.h"
#include "platform/result.h"
#include "platform/time.h"

namespace recur::notify {

enum class Channel { kEmail, kSms };

// queued: waits for next_attempt_at. sending: claimed by a dispatcher until next_attempt_at
// (its lease; a crashed dispatcher's claim expires and the message is due again).
// failed: the last attempt failed, a retry is due at next_attempt_at. sent and dead
// (given up) are final and have no next_attempt_at.
enum class DeliveryStatus { kQueued, kSending, kSent, kFailed, kDead };

std::string_view to_string(Channel c);
std::string_view to_string(DeliveryStatus s);
std::optional<Channel> parse_channel(std::string_view text);
std::optional<DeliveryStatus> parse_status(std::string_view text);

// A file an e-mail carries, named by what it is rather than by its bytes: the bytes are made
// when the message is sent (notify::AttachmentSource), so the outbox stores no documents and
// a message given up keeps none. Kinds: "invoice_pdf" (id "in_...").
struct AttachmentRef {
  std::string kind;
  std::string id;
  bool operator==(const AttachmentRef&) const = default;
};
inline constexpr std::string_view kAttachmentKinds[] = {"invoice_pdf"};

// What another module asks to send. `data` holds the template's variables (strings or
// numbers); extra keys are ignored.
struct Message {
  Channel channel = Channel::kEmail;
  std::string template_name;  // one of template_names(): "receipt", "payment_failed", ...
  std::string to;             // an e-mail address, or an E.164 phone number for SMS
  Json data = Json::object();
  std::optional<std::string> customer;  // "cus_..."
  std::optional<std::string> resource;  // what it is about: "in_...", "sub_..."
  std::optional<Timestamp> send_at;     // not before (default: as soon as committed)
  Json metadata = Json::object();
  std::vector<AttachmentRef> attachments;  // e-mail only
};

struct Notification {
  std::string id;  // "ntf_..."
  Channel channel = Channel::kEmail;
  std::string template_name;
  std::string to;
  std::optional<std::string> customer;
  std::optional<std::string> resource;
  std::optional<std::string> subject;  // e-mail only
  std::string text;                    // the e-mail's text part, or the SMS body
  std::optional<std::string> html;     // e-mail only
  DeliveryStatus status = DeliveryStatus::kQueued;
  std::int64_t attempts = 0;
  std::optional<Timestamp> next_attempt_at;
  std::optional<std::string> last_error;
  std::optional<Timestamp> sent_at;
  // Secrets rendered into the bodies (update-payment tokens): never shown by the API, and
  // scrubbed from the stored bodies once the message is final.
  std::vector<std::string> secrets;
  std::vector<AttachmentRef> attachments;  // e-mail only: made when sent
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
};

// The API view: bodies with secrets redacted, no secrets list.
Json to_json(const Notification& n);
// The stored document (with secrets while the message is pending).
Json to_doc(const Notification& n);
Notification notification_from_doc(const Json& doc);

// Replaces each secret in the bodies with "[redacted]" and forgets them.
void scrub_secrets(Notification& n);
// Recipients as a log line may show them: "jane.doe@example.com" -> "j***@e***.com" (first
// letter of each part and the top-level domain), "+14155550123" -> "***23" (last 2 digits).
std::string mask_email(std::string_view address);
std::string mask_phone(std::string_view number);

// ------------------------------------------------------------------ retries

// How long to wait after the `attempts`-th failed attempt before the next one:
// 1 min, 5 min, 30 min, 2 h, 12 h; nullopt after the sixth: give up (status dead).
std::optional<std::int64_t> retry_delay(std::int64_t attempts);
inline constexpr std::int64_t kMaxAttempts = 6;

// ------------------------------------------------------------------ templates

// Renders "{{name}}" (spaces inside the braces allowed) from `data`'s string or number
// values; `html` escapes & < > " '. A variable missing from `data` is refused (every
// missing name listed), never rendered blank; so is a "{{" without its "}}".
Result<std::string> render(std::string_view tmpl, const Json& data, bool html);
// The variable names a template text uses, in order of first use.
std::vector<std::string> variables(std::string_view tmpl);

// A built-in message. A part that uses {{update_payment_url}} needs `update_payment_token`
// in the data instead: rendering turns it into the link (the configured base URL +
// ?token=...).
struct Template {
  std::string_view name;
  std::string_view subject;  // e-mail subject (control characters become spaces)
  std::string_view text;     // e-mail text part
  std::string_view html;     // e-mail HTML part
  std::string_view sms;      // SMS body: short, personal data only as the message needs it
};

// The messages a customer who opted in to SMS gets by text as well as by e-mail:
// payment_failed, backorder_delay and shipment_shipped. The rest (receipts, reminders,
// operator alerts) stay e-mail only.
bool also_by_sms(std::string_view template_name);

std::span<const Template> templates();
const Template* find_template(std::string_view name);
// The data keys a caller must pass for `t` on `channel`.
std::vector<std::string> required_keys(const Template& t, Channel channel);

struct Rendered {
  std::optional<std::string> subject;
  std::string text;
  std::optional<std::string> html;
  std::vector<std::string> secrets;  // the update-payment token as it appears in the bodies
};
// Renders `t` for `channel`. When the channel's parts use update_payment_url, builds it from
// `payment_base` and the data's update_payment_token. Every missing key is named in one
// error (template_data_missing); a payment link without a base is update_payment_url_unset.
Result<Rendered> render_template(const Template& t, Channel channel, Json data, std::string_view payment_base);

// The link in payment messages: base + "?token=" (or "&token=") + token; a base ending in '#'
// (Recur's hosted page, "https://HOST/i#") takes the token as the URL's fragment, which the
// browser never sends to a server, so no access log or proxy sees it.
std::string update_payment_link(std::string_view base_url, std::string_view token);

// An e-mail recipient: one @, no spaces or control characters, <= 254 bytes. (An SMS
// recipient is an E.164 number: platform/phone.h.)
bool is_email_address(std::string_view to);

}  // namespace recur::notify
