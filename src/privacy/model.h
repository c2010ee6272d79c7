// Where personal data sits in Recur's JSON, and how a sealed value is written. Pure: the
// cipher is the caller's (privacy.h), so the rules are tested with a fake one.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "platform/json.h"
#include "platform/result.h"

namespace recur::privacy {

// A personal field: the JSON path (dots for nesting) inside an object of type `object`
// (its "object" member). Objects without an "object" member are named by their context:
// "event_details" (an event's details).
struct PersonalField {
  std::string_view object;
  std::string_view path;
};
inline constexpr PersonalField kPersonalFields[] = {
    {"customer", "name"},
    {"customer", "email"},
    {"customer", "phone"},
    {"customer", "shipping_address"},
    {"customer", "preferences"},
    {"subscription", "shipping_address"},
    {"subscription", "cancellation.comment"},
    {"shipment", "address"},
    {"payment_method", "paypal.email"},  // a wallet's account e-mail
    {"payment_method", "venmo.email"},
    {"notification", "to"},
    {"notification", "subject"},
    {"notification", "text"},
    {"notification", "html"},
    {"notification", "secrets"},  // not personal, but the links' one-time tokens
    {"event_details", "comment"},
    {"gift", "recipient"},  // name, e-mail and address of someone who is not a customer yet
    {"gift", "message"},
    {"gift", "claim_code"},  // not personal, but whoever holds it takes the gift
};

// A sealed value in stored JSON is a string "enc1:" + base64 of the ciphertext. Every
// personal value Recur writes is sealed (an empty or null one too), so a plain value in a
// personal field can only be one written before encryption (read as it is) and a user's
// string that happens to start with "enc1:" is itself sealed.
inline constexpr std::string_view kSealedPrefix = "enc1:";
bool is_sealed(const Json& value);
std::string sealed_text(std::string_view ciphertext);
std::optional<std::string> ciphertext_of(const Json& value);

// What the walk hands the cipher for each personal value: the value (to replace in place),
// whose data key protects it ("" = none: the system key), and the associated data that
// binds it to its record and place ("record|object id|path").
using Visit = std::function<Status(Json& value, const std::string& owner, const std::string& associated)>;

// The customer an object belongs to: a customer's own id; else its "customer" member (an id,
// or an expanded customer); a gift's "purchaser"; else `inherited` (the enclosing object's owner).
std::string owner_of(const Json& object, const std::string& inherited);

// Calls `visit` for every personal field present in `value` and in every object nested in
// it (lists, expanded objects, an event's before/after), per kPersonalFields. `type` names
// the top object when it has no "object" member ("event_details"); `owner` is the owner
// inherited by objects that do not name one. Stops at the first error.
Status walk(Json& value, const std::string& record_id, const Visit& visit, std::string_view type = "",
            const std::string& owner = "");

// The form e-mail addresses take in the blind index: trimmed and lower-cased (ASCII), so
// that `?email=Ana@Example.com` finds ana@example.com.
std::string normalize_email(std::string_view email);

}  // namespace recur::privacy
