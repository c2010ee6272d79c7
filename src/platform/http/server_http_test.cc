// The transport answers every request it refuses (414, 431, 400, 505, 413) with
// problem+json before closing, over raw sockets; and caps its open connections.
#include <utility>  // Boost 1.74's awaitable.hpp needs it first

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "platform/http/server.h"
#include "testing/http_client.h"

namespace recur::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class RawServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions o = {}) {
    o.port = 0;
    o.io_threads = 1;
    o.worker_threads = 2;
    o.access_log = false;
    o.body_limit = 1024;
    server = std::make_unique<Server>(o, [](Request&) {
      Response r;
      r.body = R"({"ok":true})";
      return r;
    });
    std::string error;
    ASSERT_TRUE(server->listen(&error)) << error;
    runner = std::thread([this] { server->run(false); });
  }
  void TearDown() override {
    if (!server) return;
    server->stop();
    runner.join();
  }

  tcp::socket connect() {
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->port()));
    timeval tv{5, 0};  // every read is bounded
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
  }

  // Sends `raw` and reads until the server closes (or 5 s pass): the whole answer.
  std::string exchange(const std::string& raw) {
    auto s = connect();
    boost::system::error_code ec;
    asio::write(s, asio::buffer(raw), ec);
    std::string answer;
    char chunk[4096];
    for (;;) {
      std::size_t n = s.read_some(asio::buffer(chunk), ec);
      answer.append(chunk, n);
      if (ec) break;
    }
    return answer;
  }

  static int status_of(const std::string& answer) {
    if (answer.rfind("HTTP/1.1 ", 0) != 0) return 0;
    return std::stoi(answer.substr(9, 3));
  }
  static nlohmann::json body_of(const std::string& answer) {
    auto at = answer.find("\r\n\r\n");
    if (at == std::string::npos) return nullptr;
    return nlohmann::json::parse(answer.substr(at + 4), nullptr, false);
  }

  asio::io_context ioc;
  std::unique_ptr<Server> server;
  std::thread runner;
};

TEST_F(RawServerTest, EveryRefusedRequestGetsAProblemWithACodeBeforeTheClose) {
  start();
  struct Case {
    std::string raw;
    int status;
    const char* code;
  } cases[] = {
      {"GET /" + std::string(17 * 1024, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"},
      {"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17 * 1024, 'b') + "\r\n\r\n", 431,
       "header_fields_too_large"},
      {"GARBAGE\r\n\r\n", 400, "malformed_request"},
      {"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505, "http_version_not_supported"},
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http_version_not_supported"},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled "
       "HTTP/1.1\r\n\r\n",
       400, "malformed_request"},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400,
       "malformed_request"},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + std::string(2048, 'x'), 413,
       "payload_too_large"},
  };
  for (const auto& c : cases) {
    std::string answer = exchange(c.raw);
    std::string first = answer.substr(0, answer.find("\r\n"));
    EXPECT_EQ(status_of(answer), c.status) << c.raw.substr(0, 60) << " -> " << first;
    EXPECT_NE(answer.find("Content-Type: application/problem+json"), std::string::npos) << first;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << first;
    auto body = body_of(answer);
    ASSERT_TRUE(body.is_object()) << answer.substr(0, 300);
    EXPECT_EQ(body["code"], c.code) << first;
    EXPECT_EQ(body["status"], c.status) << first;
    EXPECT_EQ(answer.find("/smuggled", answer.find("\r\n\r\n")), std::string::npos);  // one answer, no second request
  }
  // The server still serves.
  EXPECT_EQ(testing::HttpClient(server->port()).call("GET", "/").status, 200);
}

TEST_F(RawServerTest, AtTheCapTheLongestIdleConnectionIsClosedToMakeRoom) {
  ServerOptions o;
  o.max_connections = 4;
  start(o);
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(connect());
  // Each holds a connection open without a request; a fifth client is still served.
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(testing::HttpClient(server->port()).call("GET", "/").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  // The first idle one was closed for it: reading it ends without an answer.
  char c;
  boost::system::error_code ec;
  std::size_t n = idle.front().read_some(asio::buffer(&c, 1), ec);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(ec, asio::error::eof);
}

}  // namespace
}  // namespace recur::http
