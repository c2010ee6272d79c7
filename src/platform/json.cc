// FieldReader and JSON helpers.
#include "platform/json.h"

#include <charconv>
#include <stdexcept>

#include "platform/money.h"

namespace recur {

namespace {

// Where a NUL hides in a document ("\u0000" in a string or a key): its field path, or
// nullopt. PostgreSQL's text cannot hold one, and C strings would end there.
std::optional<std::string> nul_in(const Json& v, const std::string& path) {
  auto child = [&](const std::string& key) { return path.empty() ? key : path + "." + key; };
  if (v.is_string()) {
    if (v.get_ref<const std::string&>().find('\0') != std::string::npos) return path.empty() ? "(body)" : path;
  } else if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      if (key.find('\0') != std::string::npos) return child("(key)");
      if (auto found = nul_in(value, child(key))) return found;
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (auto found = nul_in(v[i], path + "[" + std::to_string(i) + "]")) return found;
  }
  return std::nullopt;
}

// Whether `body` nests arrays and objects deeper than `limit` (brackets inside strings
// excluded). Bytes that are not JSON may count wrong; the parser refuses them anyway.
bool nests_deeper_than(std::string_view body, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

// nlohmann's parser refuses bytes that are not well-formed UTF-8 (it checks the ranges of
// Unicode's table 3-7) and unpaired surrogate escapes ("\ud800"): both are invalid_json.
Result<Json> parse_json_object(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Json::object();
  // Refused before parsing: walking a deeper document (nul_in below, dump, comparisons)
  // recurses once per level; a 200 KB body of brackets overflowed the stack, and nul_in's
  // paths made a 20 KB one cost 200 MB (found writing the json_fields fuzz target; its
  // input is fuzz/corpus/json_fields/regress-deep-nesting).
  if (nests_deeper_than(body, kMaxJsonDepth))
    return Error::bad_request("invalid_json", "the request body nests arrays and objects deeper than " +
                                                  std::to_string(kMaxJsonDepth) + " levels");
  Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded()) return Error::bad_request("invalid_json", "the request body is not valid JSON");
  if (!doc.is_object()) return Error::bad_request("invalid_json", "the request body must be a JSON object");
  if (auto field = nul_in(doc, ""))
    return Error::invalid("validation_failed", *field + " holds a NUL character (\\u0000)",
                          {{*field, "invalid_characters", "text may not hold a NUL character (\\u0000)"}});
  return doc;
}

Result<Timestamp> parse_time_input(std::string_view name, std::string_view text) {
  auto t = parse_rfc3339(text);
  if (!t) {
    std::string message = std::string(name) + " must be an RFC 3339 time such as 2026-01-31T00:00:00Z, or a day";
    return Error::invalid("validation_failed", message, {{std::string(name), "invalid_timestamp", message}});
  }
  if (*t >= kLatestAcceptedTime) {
    std::string message = std::string(name) + " must be before 3000-01-01";
    return Error::invalid("validation_failed", message, {{std::string(name), "out_of_range", message}});
  }
  return *t;
}

FieldReader::FieldReader(const Json& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

std::string FieldReader::path(std::string_view name) const {
  return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
}

bool FieldReader::has(std::string_view name) const { return object_.contains(name); }

bool FieldReader::is_null(std::string_view name) const {
  auto it = object_.find(name);
  return it != object_.end() && it->is_null();
}

void FieldReader::accept(std::string_view name) { seen_.emplace(name); }

void FieldReader::fail(std::string_view name, std::string code, std::string message) {
  errors_.push_back({path(name), std::move(code), std::move(message)});
}

void FieldReader::absorb(FieldReader& nested) {
  for (auto& e : nested.take_errors()) errors_.push_back(std::move(e));
}

const Json* FieldReader::get(std::string_view name, bool required) {
  seen_.emplace(name);
  auto it = object_.find(name);
  if (it == object_.end()) {
    if (required) fail(name, "required", std::string(name) + " is required");
    return nullptr;
  }
  if (it->is_null()) {
    // Fields that can be cleared check is_null() before reading; everywhere else null is
    // a mistake worth reporting, not a silent "leave unchanged".
    if (required) fail(name, "required", std::string(name) + " is required");
    else fail(name, "null_not_allowed", std::string(name) + " cannot be null; leave it out instead");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> FieldReader::text(std::string_view name, bool required, std::size_t max_len,
                                             std::size_t min_len) {
  const Json* v = get(name, required);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(name, "invalid_type", std::string(name) + " must be a string");
    return std::nullopt;
  }
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() < min_len || s.size() > max_len) {
    fail(name, "invalid_length",
         std::string(name) + " must be " + std::to_string(min_len) + " to " + std::to_string(max_len) + " characters");
    return std::nullopt;
  }
  return s;
}

std::optional<std::int64_t> FieldReader::integer(std::string_view name, bool required, std::int64_t min,
                                                 std::int64_t max) {
  const Json* v = get(name, required);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) {
    fail(name, "invalid_type", std::string(name) + " must be an integer");
    return std::nullopt;
  }
  if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    fail(name, "out_of_range", std::string(name) + " must be at most " + std::to_string(max));
    return std::nullopt;
  }
  auto n = v->get<std::int64_t>();
  if (n < min || n > max) {
    fail(name, "out_of_range",
         std::string(name) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<std::int64_t> FieldReader::count_or_null(std::string_view name, std::int64_t max,
                                                       std::string_view none) {
  auto it = object_.find(name);
  if (it != object_.end() && it->is_null()) {
    seen_.emplace(name);
    return 0;
  }
  if (it != object_.end() && it->is_number_integer() && it->get<std::int64_t>() == 0) {
    seen_.emplace(name);
    fail(name, "out_of_range",
         std::string(name) + " must be between 1 and " + std::to_string(max) + ", or null for " + std::string(none));
    return std::nullopt;
  }
  return integer(name, false, 1, max);
}

std::optional<bool> FieldReader::boolean(std::string_view name, bool required) {
  const Json* v = get(name, required);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    fail(name, "invalid_type", std::string(name) + " must be true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<Timestamp> FieldReader::timestamp(std::string_view name, bool required) {
  const Json* v = get(name, required);
  if (!v) return std::nullopt;
  auto t = parse_time_input(path(name), v->is_string() ? v->get_ref<const std::string&>() : std::string_view("?"));
  if (!t.ok()) {
    errors_.push_back(t.error().fields.at(0));
    return std::nullopt;
  }
  return *t;
}

std::optional<std::string> FieldReader::one_of(std::string_view name, bool required,
                                               std::span<const std::string_view> values) {
  const Json* v = get(name, required);
  if (!v) return std::nullopt;
  if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    for (auto allowed : values)
      if (s == allowed) return s;
  }
  std::string list;
  for (auto allowed : values) list += (list.empty() ? "" : ", ") + std::string(allowed);
  fail(name, "invalid_value", std::string(name) + " must be one of: " + list);
  return std::nullopt;
}

std::optional<std::string> FieldReader::currency(std::string_view name, bool required) {
  auto s = text(name, required, 3, 3);
  if (!s) return std::nullopt;
  if (!is_known_currency(*s)) {
    fail(name, "invalid_currency", std::string(name) + " must be an ISO 4217 currency code such as usd");
    return std::nullopt;
  }
  return normalize_currency(*s);
}

std::optional<std::string> FieldReader::email(std::string_view name, bool required) {
  auto s = text(name, required, 254, 3);
  if (!s) return std::nullopt;
  auto at = s->find('@');
  bool ok = at != std::string::npos && at > 0 && at + 1 < s->size() && s->find('@', at + 1) == std::string::npos &&
            s->find_first_of(" \t\r\n<>") == std::string::npos && s->find('.', at) != std::string::npos;
  if (!ok) {
    fail(name, "invalid_email", std::string(name) + " must be an e-mail address");
    return std::nullopt;
  }
  return s;
}

std::optional<Json> FieldReader::metadata(std::string_view name) {
  const Json* v = get(name, false);
  if (!v) return std::nullopt;
  if (!v->is_object()) {
    fail(name, "invalid_type", std::string(name) + " must be an object of string values");
    return std::nullopt;
  }
  if (v->size() > 50) {
    fail(name, "too_many_keys", std::string(name) + " may hold at most 50 keys");
    return std::nullopt;
  }
  for (const auto& [key, value] : v->items()) {
    if (key.empty() || key.size() > 40 || !value.is_string() || value.get_ref<const std::string&>().size() > 500) {
      fail(std::string(name) + "." + key, "invalid_metadata",
           "metadata keys are 1-40 characters and values strings of at most 500 characters");
      return std::nullopt;
    }
  }
  return *v;
}

const Json* FieldReader::object(std::string_view name, bool required) {
  const Json* v = get(name, required);
  if (!v) return nullptr;
  if (!v->is_object()) {
    fail(name, "invalid_type", std::string(name) + " must be an object");
    return nullptr;
  }
  return v;
}

const Json* FieldReader::array(std::string_view name, bool required, std::size_t max_items) {
  const Json* v = get(name, required);
  if (!v) return nullptr;
  if (!v->is_array()) {
    fail(name, "invalid_type", std::string(name) + " must be an array");
    return nullptr;
  }
  if (v->size() > max_items) {
    fail(name, "too_many_items", std::string(name) + " may hold at most " + std::to_string(max_items) + " items");
    return nullptr;
  }
  return v;
}

std::vector<FieldError> FieldReader::take_errors() {
  for (const auto& [key, _] : object_.items())
    if (!seen_.count(key)) fail(key, "unknown_field", "unknown field '" + key + "'");
  seen_.clear();
  for (const auto& [key, _] : object_.items()) seen_.insert(key);
  return std::move(errors_);
}

Status FieldReader::finish() {
  auto errors = take_errors();
  if (errors.empty()) return Ok{};
  std::string detail = errors.size() == 1 ? errors[0].message : std::to_string(errors.size()) + " fields are invalid";
  return Error::invalid("validation_failed", detail, std::move(errors));
}

Json to_json_text(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }
Json text_or_null(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

std::optional<std::string> doc_text(const Json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<Timestamp> doc_time(const Json& doc, const char* key) {
  auto text = doc_text(doc, key);
  if (!text) return std::nullopt;
  return parse_rfc3339(*text);
}

Timestamp doc_required_time(const Json& doc, const char* key) {
  auto t = doc_time(doc, key);
  if (!t) throw std::logic_error(std::string("stored document lacks the time '") + key + "'");
  return *t;
}

Json to_json_time(std::optional<Timestamp> t) {
  if (!t) return nullptr;
  return format_rfc3339(*t);
}

std::optional<std::int64_t> parse_if_match(std::string_view header) {
  if (header.rfind("W/", 0) == 0) header.remove_prefix(2);
  if (header.size() >= 2 && header.front() == '"' && header.back() == '"') header = header.substr(1, header.size() - 2);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(header.data(), header.data() + header.size(), v);
  if (ec != std::errc() || ptr != header.data() + header.size() || v < 1) return std::nullopt;
  return v;
}

Error version_conflict(const std::string& what, std::int64_t expected, std::int64_t actual) {
  Error e = Error::conflict("version_conflict", what + " was changed by someone else: you sent version " +
                                                    std::to_string(expected) + ", it is now at version " +
                                                    std::to_string(actual) + "; read it again and retry");
  e.extra_json = Json{{"current_version", actual}}.dump();
  return e;
}

Json to_json(const Period& p) { return {{"start", format_rfc3339(p.start)}, {"end", format_rfc3339(p.end)}}; }

Period period_from_json(const Json& j) { return {doc_required_time(j, "start"), doc_required_time(j, "end")}; }

}  // namespace recur
