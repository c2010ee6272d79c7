// Bytes to a Request or a refusal, as the server reads a connection (platform/http/wire.h).
#include "platform/http/wire.h"

#include <gtest/gtest.h>

#include <string>

namespace recur::http {
namespace {

TEST(Wire, ReadsARequestWithItsPathQueryHeadersAndBody) {
  std::string bytes =
      "POST /v1/a%20b?x=1&y=two+words&x=3 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\n\r\n{}";
  auto got = read_request(bytes, 1024);
  ASSERT_TRUE(got.request);
  EXPECT_FALSE(got.refusal);
  EXPECT_EQ(got.request->method, "POST");
  EXPECT_EQ(got.request->path, "/v1/a b");
  EXPECT_EQ(got.request->query.count("x"), 2u);
  EXPECT_EQ(got.request->query_param("y"), "two words");
  EXPECT_EQ(got.request->header("content-type"), "application/json");
  EXPECT_EQ(got.request->body, "{}");
  EXPECT_TRUE(got.keep_alive);
  EXPECT_EQ(got.version, 11u);
  EXPECT_EQ(got.consumed, bytes.size());
}

TEST(Wire, ReadsPipelinedRequestsOneAtATime) {
  std::string first = "GET /a HTTP/1.1\r\n\r\n";
  std::string bytes = first + "GET /b HTTP/1.0\r\n\r\n";
  auto got = read_request(bytes, 1024);
  ASSERT_TRUE(got.request);
  EXPECT_EQ(got.request->path, "/a");
  EXPECT_EQ(got.consumed, first.size());
  auto next = read_request(std::string_view(bytes).substr(got.consumed), 1024);
  ASSERT_TRUE(next.request);
  EXPECT_EQ(next.request->path, "/b");
  EXPECT_FALSE(next.keep_alive);  // HTTP/1.0 without keep-alive
}

TEST(Wire, ReadsAChunkedBody) {
  auto got = read_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 1024);
  ASSERT_TRUE(got.request);
  EXPECT_EQ(got.request->body, "hello");
}

TEST(Wire, NothingToAnswerWhenTheBytesEndBeforeARequestDoes) {
  for (std::string bytes : {"", "GET / HT", "GET / HTTP/1.1\r\nHost: x\r\n", "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nab"}) {
    SCOPED_TRACE(bytes);
    auto got = read_request(bytes, 1024);
    EXPECT_FALSE(got.request);
    EXPECT_FALSE(got.refusal);
  }
}

// Each refusal with its code; problem() maps the codes to 413, 414, 431, 505 and 400.
TEST(Wire, RefusesWhatTheServerRefuses) {
  struct Case {
    std::string bytes;
    std::string code;
  };
  std::vector<Case> cases = {
      {"POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", "payload_too_large"},
      {"GET /" + std::string(kHeaderLimit, 'a') + " HTTP/1.1\r\n\r\n", "uri_too_long"},
      {"GET / HTTP/1.1\r\nX-Big: " + std::string(kHeaderLimit, 'a') + "\r\n\r\n", "header_fields_too_large"},
      {"GET / HTTP/2.0\r\n\r\n", "http_version_not_supported"},
      {"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", "malformed_request"},
      {"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "malformed_request"},
      {"GET / HTTP/1.1\r\nBad Header\r\n\r\n", "malformed_request"},
      {"\x01\x02\x03 / HTTP/1.1\r\n\r\n", "malformed_request"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.bytes.substr(0, 60));
    auto got = read_request(c.bytes, 1024);
    EXPECT_FALSE(got.request);
    ASSERT_TRUE(got.refusal);
    EXPECT_EQ(got.refusal->kind, ErrorKind::kBadRequest);
    EXPECT_EQ(got.refusal->code, c.code);
  }
}

}  // namespace
}  // namespace recur::http
