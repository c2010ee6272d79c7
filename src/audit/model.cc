// Audit entries: canonical form, hash chain, changed field names.
#include "audit/model.h"

#include <algorithm>

#include "platform/digest.h"

namespace recur::audit {

std::string actor_kind(std::string_view type, std::string_view role) {
  if (type == "customer" && role == "payment_update_token") return std::string(kind::kPaymentUpdatePage);
  return std::string(type);
}

std::string canonical(const Entry& e) {
  // nlohmann's objects keep their keys sorted, and dump() without indent writes no spaces.
  Json doc = {{"id", e.id},
              {"seq", e.seq.value_or(0)},
              {"created", e.created},
              {"actor", {{"type", e.actor_type}, {"id", e.actor_id}, {"role", e.actor_role}}},
              {"request_id", e.request_id},
              {"source_ip", e.source_ip},
              {"resource", {{"type", e.resource_type}, {"id", e.resource_id}}},
              {"action", e.action},
              {"fields", e.fields},
              {"event_id", e.event_id},
              {"reason", e.reason}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string chain_hash(std::string_view prev_hash, const Entry& e) {
  std::string input(prev_hash);
  input += canonical(e);
  return sha256_hex(input);
}

namespace {

void add_paths(const Json& value, const std::string& prefix, std::vector<std::string>& out) {
  if (!value.is_object() || value.empty()) {
    out.push_back(prefix);
    return;
  }
  for (const auto& [key, v] : value.items()) add_paths(v, prefix.empty() ? key : prefix + "." + key, out);
}

void diff(const Json& before, const Json& after, const std::string& prefix, std::vector<std::string>& out) {
  if (before == after) return;
  if (!before.is_object() || !after.is_object()) {
    // A leaf that changed, or an object that appeared or went: its own name, or (at the top,
    // a create or a delete) every field of the side that is there.
    if (!prefix.empty()) out.push_back(prefix);
    else if (before.is_object()) add_paths(before, prefix, out);
    else if (after.is_object()) add_paths(after, prefix, out);
    return;
  }
  for (const auto& [key, v] : before.items()) {
    auto now = after.find(key);
    diff(v, now == after.end() ? Json() : *now, prefix.empty() ? key : prefix + "." + key, out);
  }
  for (const auto& [key, v] : after.items())
    if (!before.contains(key)) diff(Json(), v, prefix.empty() ? key : prefix + "." + key, out);
}

}  // namespace

std::vector<std::string> changed_fields(const Json& before, const Json& after) {
  std::vector<std::string> out;
  diff(before, after, "", out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<Break> first_break(const std::vector<Entry>& entries, std::string_view prev_hash, std::int64_t prev_seq) {
  std::string expected_prev(prev_hash);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (!e.seq || *e.seq != prev_seq + 1)
      return Break{i, "seq " + (e.seq ? std::to_string(*e.seq) : std::string("null")) + " where " +
                          std::to_string(prev_seq + 1) + " was due (an entry is missing or was moved)"};
    if (e.prev_hash != expected_prev)
      return Break{i, "prev_hash is not the hash of the entry before it (an entry before it was removed or replaced)"};
    if (e.hash != chain_hash(e.prev_hash, e))
      return Break{i, "hash does not match the entry's content (the entry was changed after it was chained)"};
    expected_prev = e.hash;
    prev_seq = *e.seq;
  }
  return std::nullopt;
}

Json to_json(const Entry& e) {
  return Json{{"id", e.id},
              {"object", "audit_entry"},
              {"created", format_rfc3339(e.created)},
              {"actor", {{"type", e.actor_type}, {"id", e.actor_id}, {"role", text_or_null(e.actor_role)}}},
              {"request_id", text_or_null(e.request_id)},
              {"source_ip", text_or_null(e.source_ip)},
              {"resource", {{"type", e.resource_type}, {"id", e.resource_id}}},
              {"action", e.action},
              {"fields", e.fields},
              {"event", text_or_null(e.event_id)},
              {"reason", text_or_null(e.reason)},
              {"seq", e.seq ? Json(*e.seq) : Json(nullptr)},
              {"prev_hash", text_or_null(e.prev_hash)},
              {"hash", text_or_null(e.hash)}};
}

}  // namespace recur::audit
