// Security headers; see security_headers.h.
#include "platform/http/security_headers.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace recur::http {
namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool has_header(const Response& response, std::string_view name) {
  return std::any_of(response.headers.begin(), response.headers.end(),
                     [&](const auto& header) { return equal_ignoring_case(header.first, name); });
}

bool is_html(std::string_view content_type) {
  auto media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  return equal_ignoring_case(media, "text/html");
}

}  // namespace

HeaderSet missing_security_headers(const Response& response, bool tls) {
  HeaderSet out;
  auto add = [&](std::string_view name, std::string_view value) {
    if (!has_header(response, name)) out.items[out.size++] = {name, value};
  };
  add("X-Content-Type-Options", "nosniff");
  add("Referrer-Policy", "no-referrer");
  add("X-Frame-Options", "DENY");
  add("Content-Security-Policy", is_html(response.content_type) ? kPageContentSecurityPolicy : kApiContentSecurityPolicy);
  add("Cache-Control", "no-store");
  if (tls) add("Strict-Transport-Security", kStrictTransportSecurity);
  return out;
}

void add_security_headers(Response& response, bool tls) {
  for (const auto& [name, value] : missing_security_headers(response, tls))
    response.set_header(std::string(name), std::string(value));
}

}  // namespace recur::http
