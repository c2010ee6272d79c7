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

Result<PageRequest> page_request(const Request& request, const std::vector<std::string_view>& allowed_filters) {
  PageRequest page;
  std::vector<FieldError> errors;
  for (const auto& [key, value] : request.query) {
    if (request.query.count(key) > 1) {
      // `status=open&status=past_due` must not quietly mean one of them.
      if (&request.query.lower_bound(key)->second == &value)
        errors.push_back({key, "repeated_parameter", "give query parameter '" + key + "' once"});
      continue;
    }
    if (key == "limit") {
      int n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1 || n > 100)
        errors.push_back({"limit", "out_of_range", "limit must be an integer from 1 to 100"});
      else
        page.limit = n;
    } else if (key == "starting_after") {
      if (value.empty() || value.size() > 64)
        errors.push_back({"starting_after", "invalid_value", "starting_after must be an id from a previous page"});
      else
        page.starting_after = value;
    } else if (std::find(allowed_filters.begin(), allowed_filters.end(), key) == allowed_filters.end()) {
      errors.push_back({key, "unknown_parameter", "unknown query parameter '" + key + "'"});
    }
  }
  if (!errors.empty()) {
    std::string detail = errors.front().message;  // read before the vector is moved away
    return Error::invalid("validation_failed", detail, std::move(errors));
  }
  return page;
}

Json list_json(Json data, bool has_more, const std::string& url) {
  return Json{{"object", "list"}, {"url", url}, {"has_more", has_more}, {"data", std::move(data)}};
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
  if (auto header = request.header("if-match")) {
    auto from_header = parse_if_match(*header);
    if (!from_header) return Error::bad_request("invalid_if_match", "If-Match must be an ETag such as \"3\"");
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
