// What the stores call to keep personal data sealed at rest: seal a JSON document before it
// is written, open it after it is read, under the data keys of the customers it belongs to
// (model.h says which fields; keyring.h holds the keys).
#pragma once

#include <string>
#include <string_view>

#include "platform/db/database.h"
#include "platform/json.h"
#include "privacy/model.h"

namespace recur::privacy {

// Seals every personal field of `doc` (and of the objects inside it) in place; `record_id`
// is the id of the row it is stored in (the associated data binds each value to it). A
// value that belongs to an erased customer is stored as null: nothing is kept of them.
Status seal(db::Tx& tx, Json& doc, const std::string& record_id, std::string_view type = "",
            const std::string& owner = "");
// seal() for data written before encryption: values already sealed are left as they are, so
// that running it twice changes nothing (migration 28).
Status seal_plain(db::Tx& tx, Json& doc, const std::string& record_id, std::string_view type = "",
                  const std::string& owner = "");
// Opens what seal() sealed, in place; a value whose key was destroyed becomes null.
Status open(db::Tx& tx, Json& doc, const std::string& record_id, std::string_view type = "",
            const std::string& owner = "");
// Replaces every sealed value with null without opening it (readers that need no personal
// data: the forecast's replay of events).
void strip(Json& doc, std::string_view type = "");

// The blind index of an e-mail address (normalised) or a phone number.
Result<std::string> email_index(db::Tx& tx, std::string_view email);
Result<std::string> phone_index(db::Tx& tx, std::string_view phone);

// Whole texts that belong to no resource object (a stored idempotent answer): sealed under
// the system key with `record_id` as associated data, as "enc1:..." text.
Result<std::string> seal_text(db::Tx& tx, std::string_view text, const std::string& record_id);
// Opens seal_text()'s result; a text that is not sealed is returned as it is.
Result<std::string> open_text(db::Tx& tx, const std::string& text, const std::string& record_id);

}  // namespace recur::privacy
