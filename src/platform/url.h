// Percent-encoding for URLs and form bodies (RFC 3986 unreserved characters kept).
#pragma once

#include <string>
#include <string_view>

namespace recur {

std::string url_encode(std::string_view text);

}  // namespace recur
