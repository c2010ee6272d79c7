// Which security headers each kind of response carries.
#include "platform/http/security_headers.h"

#include <gtest/gtest.h>

#include <optional>

namespace recur::http {
namespace {

std::optional<std::string> header(const Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return std::nullopt;
}

TEST(SecurityHeaders, EveryKindOfResponseGetsTheSameBaseSet) {
  struct Case {
    std::string content_type;
    int status;
  } cases[] = {
      {"application/json", 200},           {"application/problem+json", 429}, {"text/html; charset=utf-8", 200},
      {"application/yaml; charset=utf-8", 200}, {"", 204},
  };
  for (const auto& c : cases) {
    Response r;
    r.status = c.status;
    r.content_type = c.content_type;
    add_security_headers(r, false);
    EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff") << c.content_type;
    EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer") << c.content_type;
    EXPECT_EQ(header(r, "X-Frame-Options"), "DENY") << c.content_type;
    EXPECT_EQ(header(r, "Cache-Control"), "no-store") << c.content_type;
    EXPECT_EQ(header(r, "Strict-Transport-Security"), std::nullopt) << c.content_type;
    ASSERT_TRUE(header(r, "Content-Security-Policy")) << c.content_type;
    EXPECT_NE(header(r, "Content-Security-Policy")->find("frame-ancestors 'none'"), std::string::npos);
  }
}

TEST(SecurityHeaders, PagesGetThePagePolicyWithoutInlineScripts) {
  for (std::string type : {"text/html; charset=utf-8", "text/html", "TEXT/HTML ;charset=utf-8"}) {
    Response r;
    r.content_type = type;
    add_security_headers(r, false);
    EXPECT_EQ(header(r, "Content-Security-Policy"), std::string(kPageContentSecurityPolicy)) << type;
    EXPECT_NE(kPageContentSecurityPolicy.find("script-src 'self';"), std::string_view::npos);
  }
  Response json;
  add_security_headers(json, false);
  EXPECT_EQ(header(json, "Content-Security-Policy"), std::string(kApiContentSecurityPolicy));
}

TEST(SecurityHeaders, HstsOnlyOverTls) {
  Response r;
  add_security_headers(r, true);
  EXPECT_EQ(header(r, "Strict-Transport-Security"), std::string(kStrictTransportSecurity));
}

TEST(SecurityHeaders, AHeaderTheHandlerSetIsKept) {
  Response r;
  r.set_header("cache-control", "public, max-age=300");
  add_security_headers(r, false);
  int cache_controls = 0;
  for (const auto& [n, v] : r.headers) cache_controls += n == "cache-control" || n == "Cache-Control";
  EXPECT_EQ(cache_controls, 1);
  EXPECT_EQ(header(r, "cache-control"), "public, max-age=300");
}

}  // namespace
}  // namespace recur::http
