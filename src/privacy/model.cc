#include "privacy/model.h"

#include "platform/base64.h"

namespace recur::privacy {
namespace {

// The member at a dotted path, or null when a part is missing.
Json* find_path(Json& object, std::string_view path) {
  Json* at = &object;
  while (true) {
    auto dot = path.find('.');
    auto part = std::string(path.substr(0, dot));
    if (!at->is_object()) return nullptr;
    auto it = at->find(part);
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string_view::npos) return at;
    path.remove_prefix(dot + 1);
  }
}

std::string type_of(const Json& object, std::string_view fallback) {
  if (auto it = object.find("object"); it != object.end() && it->is_string()) return it->get<std::string>();
  return std::string(fallback);
}

Status walk_value(Json& value, const std::string& record_id, const Visit& visit, std::string_view type,
                  const std::string& inherited) {
  if (value.is_array()) {
    for (auto& item : value) RECUR_TRY(walk_value(item, record_id, visit, "", inherited));
    return Ok{};
  }
  if (!value.is_object()) return Ok{};
  auto object_type = type_of(value, type);
  auto owner = owner_of(value, inherited);
  std::string object_id;
  if (auto it = value.find("id"); it != value.end() && it->is_string()) object_id = it->get<std::string>();
  // Personal fields first (they are leaves as far as the walk goes: an address is sealed
  // whole), then every other member that may hold objects.
  std::vector<std::string_view> personal_tops;
  for (const auto& field : kPersonalFields) {
    if (field.object != object_type) continue;
    personal_tops.push_back(field.path.substr(0, field.path.find('.')));
    if (Json* at = find_path(value, field.path))
      RECUR_TRY(visit(*at, owner, record_id + "|" + object_id + "|" + std::string(field.path)));
  }
  for (auto& [key, member] : value.items()) {
    if (!member.is_object() && !member.is_array()) continue;
    bool personal = false;
    for (auto top : personal_tops) personal = personal || top == key;
    if (personal) continue;
    RECUR_TRY(walk_value(member, record_id, visit, "", owner));
  }
  return Ok{};
}

}  // namespace

bool is_sealed(const Json& value) {
  return value.is_string() && value.get_ref<const std::string&>().starts_with(kSealedPrefix);
}

std::string sealed_text(std::string_view ciphertext) { return std::string(kSealedPrefix) + base64(ciphertext); }

std::optional<std::string> ciphertext_of(const Json& value) {
  if (!is_sealed(value)) return std::nullopt;
  return base64_decode(std::string_view(value.get_ref<const std::string&>()).substr(kSealedPrefix.size()));
}

std::string owner_of(const Json& object, const std::string& inherited) {
  if (!object.is_object()) return inherited;
  if (type_of(object, "") == "customer") {
    if (auto it = object.find("id"); it != object.end() && it->is_string()) return it->get<std::string>();
  }
  if (auto it = object.find("customer"); it != object.end()) {
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object())
      if (auto id = it->find("id"); id != it->end() && id->is_string()) return id->get<std::string>();
  }
  // A gift's recipient is sealed under its purchaser's key: erasing the purchaser erases it.
  if (type_of(object, "") == "gift")
    if (auto it = object.find("purchaser"); it != object.end() && it->is_string()) return it->get<std::string>();
  return inherited;
}

Status walk(Json& value, const std::string& record_id, const Visit& visit, std::string_view type,
            const std::string& owner) {
  return walk_value(value, record_id, visit, type, owner);
}

std::string normalize_email(std::string_view email) {
  while (!email.empty() && (email.front() == ' ' || email.front() == '\t')) email.remove_prefix(1);
  while (!email.empty() && (email.back() == ' ' || email.back() == '\t')) email.remove_suffix(1);
  std::string out(email);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace recur::privacy
