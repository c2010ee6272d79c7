#include "privacy/privacy.h"

#include "platform/crypto.h"
#include "privacy/keyring.h"

namespace recur::privacy {

namespace {

Status seal_values(db::Tx& tx, Json& doc, const std::string& record_id, std::string_view type,
                   const std::string& owner, bool skip_sealed) {
  auto& keyring = keyring_of(tx);
  return walk(doc, record_id, [&](Json& value, const std::string& who, const std::string& associated) -> Status {
    if (value.is_null()) return Ok{};  // nothing to hide
    if (skip_sealed && is_sealed(value)) return Ok{};
    RECUR_ASSIGN(auto key, keyring.data_key(tx, who));
    if (!key) {
      value = nullptr;  // erased: nothing of them is written again
      return Ok{};
    }
    value = sealed_text(crypto::seal(*key, value.dump(), associated));
    return Ok{};
  }, type, owner);
}

}  // namespace

Status seal(db::Tx& tx, Json& doc, const std::string& record_id, std::string_view type, const std::string& owner) {
  return seal_values(tx, doc, record_id, type, owner, false);
}

Status seal_plain(db::Tx& tx, Json& doc, const std::string& record_id, std::string_view type,
                  const std::string& owner) {
  return seal_values(tx, doc, record_id, type, owner, true);
}

Status open(db::Tx& tx, Json& doc, const std::string& record_id, std::string_view type, const std::string& owner) {
  auto& keyring = keyring_of(tx);
  return walk(doc, record_id, [&](Json& value, const std::string& who, const std::string& associated) -> Status {
    auto ciphertext = ciphertext_of(value);
    if (!ciphertext) return Ok{};  // written before encryption, or null
    RECUR_ASSIGN(auto key, keyring.existing_data_key(tx, who));
    if (!key) {
      value = nullptr;  // crypto-shredded
      return Ok{};
    }
    auto plain = crypto::open(*key, *ciphertext, associated);
    if (!plain) return Error::internal("a sealed field of " + record_id + " does not open");
    value = Json::parse(*plain);
    return Ok{};
  }, type, owner);
}

void strip(Json& doc, std::string_view type) {
  (void)walk(doc, "", [](Json& value, const std::string&, const std::string&) -> Status {
    if (is_sealed(value)) value = nullptr;
    return Ok{};
  }, type);
}

Result<std::string> email_index(db::Tx& tx, std::string_view email) {
  return keyring_of(tx).blind_index(tx, "email", normalize_email(email));
}

Result<std::string> phone_index(db::Tx& tx, std::string_view phone) {
  return keyring_of(tx).blind_index(tx, "phone", phone);
}

Result<std::string> seal_text(db::Tx& tx, std::string_view text, const std::string& record_id) {
  RECUR_ASSIGN(auto key, keyring_of(tx).data_key(tx, ""));
  if (!key) return Error::internal("the system data key was destroyed");
  return sealed_text(crypto::seal(*key, text, record_id));
}

Result<std::string> open_text(db::Tx& tx, const std::string& text, const std::string& record_id) {
  auto ciphertext = ciphertext_of(Json(text));
  if (!ciphertext) return text;
  RECUR_ASSIGN(auto key, keyring_of(tx).existing_data_key(tx, ""));
  if (!key) return Error::internal("the system data key was destroyed");
  auto plain = crypto::open(*key, *ciphertext, record_id);
  if (!plain) return Error::internal("a sealed text of " + record_id + " does not open");
  return *plain;
}

}  // namespace recur::privacy
