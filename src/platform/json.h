// JSON request reading with per-field validation errors, and small writing helpers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/calendar.h"
#include "platform/result.h"
#include "platform/time.h"

namespace recur {

using Json = nlohmann::json;

// How deep a request body may nest arrays and objects (the body itself is level 1).
inline constexpr int kMaxJsonDepth = 64;

// Parses a request body that must be a JSON object ("" counts as {}). Bytes that are not
// UTF-8 and bodies nested deeper than kMaxJsonDepth are invalid_json (400); a NUL in any
// string or key is a validation error (422).
Result<Json> parse_json_object(std::string_view body);

// A time a caller sent, in a body or a query parameter: RFC 3339 or a day ("2027-01-31",
// its start in UTC), before 3000-01-01 (kLatestAcceptedTime). One rule for both; an error
// is a 422 naming `name` (invalid_timestamp or out_of_range).
Result<Timestamp> parse_time_input(std::string_view name, std::string_view text);

// Reads fields from one JSON object, collecting every problem instead of stopping at the
// first, and refusing fields nobody asked for. Call finish() last.
class FieldReader {
 public:
  explicit FieldReader(const Json& object, std::string prefix = "");

  bool has(std::string_view name) const;       // present, possibly null
  bool is_null(std::string_view name) const;   // present and null

  std::optional<std::string> text(std::string_view name, bool required, std::size_t max_len = 500,
                                  std::size_t min_len = 1);
  std::optional<std::int64_t> integer(std::string_view name, bool required, std::int64_t min, std::int64_t max);
  // A positive count that may be "none": 1..max, or null for none (returned as 0; `none`
  // says what null means in the error for 0, which is refused: null is the one way to say
  // none). nullopt when absent or invalid.
  std::optional<std::int64_t> count_or_null(std::string_view name, std::int64_t max, std::string_view none);
  std::optional<bool> boolean(std::string_view name, bool required);
  std::optional<Timestamp> timestamp(std::string_view name, bool required);
  std::optional<std::string> one_of(std::string_view name, bool required, std::span<const std::string_view> values);
  std::optional<std::string> one_of(std::string_view name, bool required, std::initializer_list<std::string_view> values) {
    return one_of(name, required, std::span<const std::string_view>(values.begin(), values.size()));
  }
  std::optional<std::string> currency(std::string_view name, bool required);
  std::optional<std::string> email(std::string_view name, bool required);
  // An object of string values ("metadata"): at most 50 keys, keys <= 40 chars, values <= 500.
  std::optional<Json> metadata(std::string_view name);
  // A nested object or array, returned raw for a nested reader; type-checked here.
  const Json* object(std::string_view name, bool required);
  const Json* array(std::string_view name, bool required, std::size_t max_items = 100);
  // Marks a field as known without reading it (read elsewhere).
  void accept(std::string_view name);

  void fail(std::string_view name, std::string code, std::string message);
  // Adds the errors of a nested reader (its prefix already applied).
  void absorb(FieldReader& nested);

  // Reports unknown fields and returns every error collected as one 422.
  Status finish();
  std::vector<FieldError> take_errors();

 private:
  const Json* get(std::string_view name, bool required);
  std::string path(std::string_view name) const;

  const Json& object_;
  std::string prefix_;
  std::set<std::string, std::less<>> seen_;
  std::vector<FieldError> errors_;
};

Json to_json_time(std::optional<Timestamp> t);  // RFC 3339 string or null
Json to_json_text(const std::optional<std::string>& s);  // string or null
Json text_or_null(const std::string& s);                // string, or null when empty

// Readers for stored documents (written by Recur itself, so absent keys are programming
// errors except where optional): a string or null, an RFC 3339 time or null.
std::optional<std::string> doc_text(const Json& doc, const char* key);
std::optional<Timestamp> doc_time(const Json& doc, const char* key);
// Requires: doc[key] holds an RFC 3339 time.
Timestamp doc_required_time(const Json& doc, const char* key);
// Every period in the API has one shape: {"start": RFC 3339, "end": RFC 3339 (exclusive)}.
Json to_json(const Period& p);
Period period_from_json(const Json& j);  // Requires: j holds "start" and "end"

// Reads the `version` a client sent, from the body or an If-Match header ("3" or W/"3").
std::optional<std::int64_t> parse_if_match(std::string_view header);

// Every resource ends with the same members: metadata, created, updated, version.
// `R` is any type with those four fields.
template <typename R>
Json with_envelope(Json body, const R& r) {
  body["metadata"] = r.metadata;
  body["created"] = format_rfc3339(r.created);
  body["updated"] = format_rfc3339(r.updated);
  body["version"] = r.version;
  return body;
}
template <typename R>
void read_envelope(const Json& doc, R& r) {
  r.metadata = doc.at("metadata");
  r.created = doc_required_time(doc, "created");
  r.updated = doc_required_time(doc, "updated");
  r.version = doc.at("version");
}

// The error every module returns for a stale `version` (409 version_conflict).
Error version_conflict(const std::string& what, std::int64_t expected, std::int64_t actual);

}  // namespace recur
