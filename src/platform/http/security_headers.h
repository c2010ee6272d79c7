// The headers every response carries (docs/SECURITY.md, Transport): pure rules on a Response.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <utility>

#include "platform/http/message.h"

namespace recur::http {

// For HTML pages: scripts, styles, images and fetches from this origin only (Swagger UI sets
// style attributes, hence 'unsafe-inline' for styles; never for scripts), no framing.
inline constexpr std::string_view kPageContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
// For everything else (JSON, YAML, scripts): a document that loads nothing and is never framed.
inline constexpr std::string_view kApiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";
// Two years, as the HSTS preload list asks; sent only over TLS (RFC 6797 §7.2).
inline constexpr std::string_view kStrictTransportSecurity = "max-age=63072000";

// Up to six headers, names and values pointing at constants.
struct HeaderSet {
  std::array<std::pair<std::string_view, std::string_view>, 6> items;
  std::size_t size = 0;
  const auto* begin() const { return items.data(); }
  const auto* end() const { return items.data() + size; }
};

// What `response` lacks of: X-Content-Type-Options, Referrer-Policy, X-Frame-Options,
// Content-Security-Policy (the page policy for text/html), Cache-Control: no-store (unless the
// handler chose a Cache-Control, as static files do), and Strict-Transport-Security when
// `tls`. A header the handler set is kept. The transport adds these to every response.
HeaderSet missing_security_headers(const Response& response, bool tls);
void add_security_headers(Response& response, bool tls);

}  // namespace recur::http
