// Conventions every JSON route shares: bodies, errors, ETags, versions and list pages.
#pragma once

#include <functional>
#include <optional>
#include <vector>
#include <string>
#include <string_view>

#include "platform/http/message.h"
#include "platform/json.h"
#include "platform/page.h"
#include "platform/result.h"

namespace recur::http {

Response json_response(int status, const Json& body);
// A single resource: JSON plus `ETag: "<version>"` so clients can send If-Match.
Response resource_response(int status, const Json& resource);
Response error_response(const Request& request, const Error& error);

// Maps a Result to a response: the value through `render`, an error to a problem document.
template <typename T, typename Render>
Response respond(const Request& request, const Result<T>& result, int status, Render render) {
  if (!result.ok()) return error_response(request, result.error());
  return resource_response(status, render(result.value()));
}

// Reads what every list shares (docs/api-conventions.md, "Lists"): ?limit= (1..100,
// default 10), ?starting_after= or ?ending_before= (not both); when `allowed_filters` names
// them, created[gte|gt|lte|lt]= (RFC 3339) and metadata[KEY]=VALUE. Any other query key
// not in `allowed_filters` is refused, so a typo does not silently list everything, and so
// is a key given twice (422 repeated_parameter). Whether a cursor names an object of the
// list is checked by db::ListQuery when it reads the page.
Result<ListParams> page_request(const Request& request, const std::vector<std::string_view>& allowed_filters = {});

// A retrieve's query: any key not in `allowed` (none by default) is refused, and so is a
// key given twice.
Status check_query(const Request& request, const std::vector<std::string_view>& allowed = {});

// A comma-separated query value (`status=active,past_due`, `expand[]=customer,plan`) added to
// `values`: each value once, in the order given. Returns the first value that is not one of
// `allowed` (those before it are added, the rest are not read), or nothing when all are.
std::optional<std::string> add_listed_values(std::string_view text, const std::vector<std::string_view>& allowed,
                                             std::vector<std::string>& values);

// The allowed values as a refusal lists them: "active, past_due, canceled".
std::string allowed_values_text(const std::vector<std::string_view>& allowed);

// ?name=a,b (also ?name=a): the values, each one of `allowed`; empty when absent. A value
// not allowed is refused with the allowed ones listed.
Result<std::vector<std::string>> enum_list(const Request& request, std::string_view name,
                                           const std::vector<std::string_view>& allowed);

// ?name=true or ?name=false; none when absent. Any other value is refused, naming both.
Result<std::optional<bool>> boolean_param(const Request& request, std::string_view name);

Json list_json(Json data, bool has_more, const std::string& url);

// The one answer of a list route: `{object: "list", url, has_more, data: [render(item)...]}`,
// or the page's error as a problem document.
template <typename T, typename Render>
Response list_response(const Request& request, const Result<Page<T>>& page, const std::string& url, Render render) {
  if (!page.ok()) return error_response(request, page.error());
  Json data = Json::array();
  for (const auto& item : page->items) data.push_back(render(item));
  return json_response(200, list_json(std::move(data), page->has_more, url));
}
// The same, each item rendered by its module's to_json.
template <typename T>
Response list_response(const Request& request, const Result<Page<T>>& page, const std::string& url) {
  return list_response(request, page, url, [](const T& item) { return to_json(item); });
}

// The body's `version` (removed from `body`) or If-Match; `required` refuses neither.
Result<std::optional<std::int64_t>> expected_version(const Request& request, Json& body, bool required);
// If-Match alone (a request without a body, such as a DELETE): none when absent; 400
// invalid_if_match when it is no ETag.
Result<std::optional<std::int64_t>> if_match_version(const Request& request);

}  // namespace recur::http
