// Shared REST conventions.
#include "platform/http/rest.h"

#include <algorithm>
#include <charconv>

#include "platform/http/pipeline.h"

namespace recur::http {

Response json_response(int status, const Json& body) {
  Response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

Response resource_response(int status, const Json& resource) {
  Response r = json_response(status, resource);
  if (resource.is_object() && resource.contains("version") && resource["version"].is_number_integer())
    r.set_header("ETag", "\"" + std::to_string(resource["version"].get<std::int64_t>()) + "\"");
  return r;
}

Response error_response(const Request& request, const Error& error) { return problem(error, request.request_id); }

namespace {

bool allows(const std::vector<std::string_view>& allowed, std::string_view key) {
  return std::find(allowed.begin(), allowed.end(), key) != allowed.end();
}

// True when `key` is `name[inner]`, with `inner` set to what is between the brackets.
bool bracketed(std::string_view key, std::string_view name, std::string& inner) {
  if (key.size() < name.size() + 2 || key.substr(0, name.size()) != name || key[name.size()] != '[' ||
      key.back() != ']')
    return false;
  inner = std::string(key.substr(name.size() + 1, key.size() - name.size() - 2));
  return true;
}

std::optional<std::string> read_cursor(const std::string& key, const std::string& value,
                                       std::vector<FieldError>& errors) {
  if (!value.empty() && value.size() <= 64) return value;
  errors.push_back({key, "invalid_value", key + " must be an id from a list's page"});
  return std::nullopt;
}

// Refuses a key given twice: `status=open&status=past_due` must not quietly mean one of them.
void refuse_repeats(const Request& request, std::vector<FieldError>& errors) {
  for (auto it = request.query.begin(); it != request.query.end(); it = request.query.upper_bound(it->first))
    if (request.query.count(it->first) > 1)
      errors.push_back({it->first, "repeated_parameter", "give query parameter '" + it->first + "' once"});
}

Status refusal(std::vector<FieldError> errors) {
  std::string detail = errors.front().message;  // read before the vector is moved away
  return Error::invalid("validation_failed", detail, std::move(errors));
}

}  // namespace

Result<ListParams> page_request(const Request& request, const std::vector<std::string_view>& allowed_filters) {
  ListParams page;
  std::vector<FieldError> errors;
  refuse_repeats(request, errors);
  for (const auto& [key, value] : request.query) {
    if (request.query.count(key) > 1) continue;
    std::string inner;
    if (key == "limit") {
      int n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1 || n > 100)
        errors.push_back({"limit", "out_of_range", "limit must be an integer from 1 to 100"});
      else
        page.limit = n;
    } else if (key == "starting_after") {
      page.starting_after = read_cursor(key, value, errors);
    } else if (key == "ending_before") {
      page.ending_before = read_cursor(key, value, errors);
    } else if (allows(allowed_filters, "created") && bracketed(key, "created", inner)) {
      std::optional<Timestamp>* bound = inner == "gte"  ? &page.created_gte
                                        : inner == "gt"  ? &page.created_gt
                                        : inner == "lte" ? &page.created_lte
                                        : inner == "lt"  ? &page.created_lt
                                                         : nullptr;
      auto t = parse_rfc3339(value);
      if (!bound)
        errors.push_back({key, "unknown_parameter", "created takes [gte], [gt], [lte] or [lt], not [" + inner + "]"});
      else if (!t)
        errors.push_back({key, "invalid_format", key + " must be an RFC 3339 time such as 2026-03-01T00:00:00Z"});
      else
        *bound = *t;
    } else if (allows(allowed_filters, "metadata") && bracketed(key, "metadata", inner)) {
      if (inner.empty() || inner.size() > 40 || inner.find('"') != std::string::npos || value.size() > 500)
        errors.push_back({key, "invalid_metadata",
                          "metadata[KEY]=VALUE takes a key of 1-40 characters without '\"' and a value of at most "
                          "500 characters"});
      else
        page.metadata.emplace_back(inner, value);
    } else if (!allows(allowed_filters, key)) {
      errors.push_back({key, "unknown_parameter", "unknown query parameter '" + key + "'"});
    }
  }
  if (page.starting_after && page.ending_before)
    errors.push_back({"ending_before", "mutually_exclusive", "give starting_after or ending_before, not both"});
  if (!errors.empty()) return refusal(std::move(errors)).error();
  return page;
}

Status check_query(const Request& request, const std::vector<std::string_view>& allowed) {
  std::vector<FieldError> errors;
  refuse_repeats(request, errors);
  for (auto it = request.query.begin(); it != request.query.end(); it = request.query.upper_bound(it->first))
    if (!allows(allowed, it->first))
      errors.push_back({it->first, "unknown_parameter", "unknown query parameter '" + it->first + "'"});
  if (!errors.empty()) return refusal(std::move(errors));
  return Ok{};
}

std::optional<std::string> add_listed_values(std::string_view text, const std::vector<std::string_view>& allowed,
                                             std::vector<std::string>& values) {
  while (true) {
    auto comma = text.find(',');
    std::string_view value = text.substr(0, comma);
    if (!allows(allowed, value)) return std::string(value);
    if (std::find(values.begin(), values.end(), value) == values.end()) values.emplace_back(value);
    if (comma == std::string_view::npos) return std::nullopt;
    text = text.substr(comma + 1);
  }
}

std::string allowed_values_text(const std::vector<std::string_view>& allowed) {
  std::string listed;
  for (auto a : allowed) listed += (listed.empty() ? "" : ", ") + std::string(a);
  return listed;
}

Result<std::vector<std::string>> enum_list(const Request& request, std::string_view name,
                                           const std::vector<std::string_view>& allowed) {
  std::vector<std::string> values;
  auto raw = request.query_param(name);
  if (!raw) return values;
  if (auto refused = add_listed_values(*raw, allowed, values)) {
    std::string message =
        std::string(name) + " takes one or more of " + allowed_values_text(allowed) + ", comma-separated";
    return Error::invalid("validation_failed", "'" + *refused + "' is not a valid " + std::string(name) + "; " + message,
                          {{std::string(name), "invalid_value", message}});
  }
  return values;
}

Result<std::optional<bool>> boolean_param(const Request& request, std::string_view name) {
  auto raw = request.query_param(name);
  if (!raw) return std::optional<bool>();
  if (*raw == "true" || *raw == "false") return std::optional<bool>(*raw == "true");
  std::string message = std::string(name) + " takes true or false";
  return Error::invalid("validation_failed", "'" + *raw + "' is not a valid " + std::string(name) + "; " + message,
                        {{std::string(name), "invalid_value", message}});
}

Json list_json(Json data, bool has_more, const std::string& url) {
  return Json{{"object", "list"}, {"url", url}, {"has_more", has_more}, {"data", std::move(data)}};
}

Result<std::optional<std::int64_t>> if_match_version(const Request& request) {
  auto header = request.header("if-match");
  if (!header) return std::optional<std::int64_t>();
  auto version = parse_if_match(*header);
  if (!version) return Error::bad_request("invalid_if_match", "If-Match must be an ETag such as \"3\"");
  return version;
}

Result<std::optional<std::int64_t>> expected_version(const Request& request, Json& body, bool required) {
  std::optional<std::int64_t> version;
  if (auto it = body.find("version"); it != body.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1)
      return Error::invalid("validation_failed", "version must be a positive integer",
                            {{"version", "invalid_type", "version must be a positive integer"}});
    version = it->get<std::int64_t>();
    body.erase(it);
  }
  RECUR_ASSIGN(auto from_header, if_match_version(request));
  if (from_header) {
    if (version && *version != *from_header)
      return Error::invalid("validation_failed", "version and If-Match disagree",
                            {{"version", "mismatch", "version and If-Match disagree"}});
    version = from_header;
  }
  if (required && !version)
    return Error::invalid("version_required", "send the version you read, as `version` in the body or If-Match",
                          {{"version", "required", "version (or If-Match) is required for updates"}});
  return version;
}

}  // namespace recur::http
