// The Alerter against real local sinks (recur's HTTP server): Slack payloads, Sentry envelopes,
// rate limits, queue limits, sinks that are down, and secrets kept out of the logs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/alerts/alerter.h"
#include "platform/clock.h"
#include "platform/http/server.h"
#include "platform/time.h"
#include "testing/captured_log.h"
#include "testing/recording_sink.h"

namespace recur::alerts {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr Timestamp kStart = 1767268800;  // 2026-01-01T12:00:00Z

using testing::RecordingSink;

// A port that refuses connections for as long as this lives: bound, never listening.
class RefusingPort {
 public:
  RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("no free port");
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

std::unique_ptr<Alerter> open_or_fail(AlertOptions options, const Clock& clock) {
  auto alerter = Alerter::open(std::move(options), clock);
  if (!alerter.ok()) throw std::runtime_error("open: " + alerter.error().message);
  return std::move(alerter).value();
}

Alert server_error(std::string request_id) {
  return Alert{.kind = "server_error",
               .level = "error",
               .message = "Unhandled error answering POST /v1/subscriptions",
               .tags = {{"request_id", std::move(request_id)},
                        {"route", "/v1/subscriptions"},
                        {"method", "POST"},
                        {"status", "500"}}};
}

std::vector<std::string> lines_of(const std::string& body) {
  std::vector<std::string> lines;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool is_lower_hex(const std::string& s, std::size_t size) {
  return s.size() == size && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(AlerterHttpTest, WebhookGetsSlackJsonWhoseTextCarriesTheMessageAndTheRequestId) {
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({.webhook_url = sink.url("/services/T0/B0/hooksecret"),
                               .environment = "staging",
                               .release = "1.4.2",
                               .server_name = "node-1:8080"},
                              clock);
  ASSERT_TRUE(alerter->enabled());
  alerter->raise(server_error("req_01abc"));
  ASSERT_TRUE(alerter->flush(10s));

  auto got = sink.received_at("/services/T0/B0/hooksecret");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].header("content-type").value_or(""), "application/json");
  json body = json::parse(got[0].body);
  ASSERT_TRUE(body.is_object());
  ASSERT_TRUE(body["text"].is_string());
  std::string text = body["text"];
  EXPECT_NE(text.find("Unhandled error answering POST /v1/subscriptions"), std::string::npos) << text;
  EXPECT_NE(text.find("request_id: req_01abc"), std::string::npos) << text;
  EXPECT_NE(text.find("server_error"), std::string::npos) << text;
  EXPECT_NE(text.find("staging"), std::string::npos) << text;
  EXPECT_NE(text.find("node-1:8080"), std::string::npos) << text;
  auto stats = alerter->stats();
  EXPECT_EQ(stats.webhook.sent, 1u);
  EXPECT_EQ(stats.webhook.failed, 0u);
  EXPECT_EQ(stats.sentry.sent, 0u);  // not configured
}

TEST(AlerterHttpTest, WebhookTextEscapesSlackControlCharacters) {
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({.webhook_url = sink.url("/hook")}, clock);
  alerter->raise({.kind = "scheduler_stalled", .message = "no tick for 120 s <!channel> & more"});
  ASSERT_TRUE(alerter->flush(10s));
  auto got = sink.received();
  ASSERT_EQ(got.size(), 1u);
  std::string text = json::parse(got[0].body)["text"];
  EXPECT_NE(text.find("&lt;!channel&gt; &amp; more"), std::string::npos) << text;
  EXPECT_EQ(text.find("<!channel>"), std::string::npos) << text;
}

TEST(AlerterHttpTest, SentryGetsAThreeLineEnvelopeAtTheProjectsEndpoint) {
  RecordingSink sink;
  SimulatedClock clock(kStart);
  std::string dsn = "http://abc123@127.0.0.1:" + std::to_string(sink.port()) + "/42";
  auto alerter = open_or_fail(
      {.sentry_dsn = dsn, .environment = "production", .release = "1.4.2", .server_name = "node-1:8080"}, clock);
  alerter->raise(server_error("req_01abc"));
  ASSERT_TRUE(alerter->flush(10s));

  auto got = sink.received();
  ASSERT_EQ(got.size(), 1u);
  const auto& request = got[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/api/42/envelope/");
  EXPECT_EQ(request.header("content-type").value_or(""), "application/x-sentry-envelope");
  std::string auth = request.header("x-sentry-auth").value_or("");
  EXPECT_EQ(auth.rfind("Sentry ", 0), 0u) << auth;
  EXPECT_NE(auth.find("sentry_key=abc123"), std::string::npos) << auth;
  EXPECT_NE(auth.find("sentry_version=7"), std::string::npos) << auth;
  EXPECT_NE(auth.find("sentry_client=recur/1.0"), std::string::npos) << auth;

  auto lines = lines_of(request.body);
  ASSERT_EQ(lines.size(), 3u) << request.body;
  json header = json::parse(lines[0]);
  json item = json::parse(lines[1]);
  json event = json::parse(lines[2]);
  ASSERT_TRUE(header.is_object() && item.is_object() && event.is_object());

  std::string event_id = event["event_id"];
  EXPECT_TRUE(is_lower_hex(event_id, 32)) << event_id;
  EXPECT_EQ(header["event_id"], event_id);
  EXPECT_EQ(header["dsn"], dsn);
  EXPECT_EQ(header["sent_at"], "2026-01-01T12:00:00Z");
  EXPECT_EQ(item["type"], "event");
  EXPECT_EQ(item["content_type"], "application/json");
  EXPECT_EQ(item["length"], lines[2].size());

  EXPECT_EQ(event["timestamp"], "2026-01-01T12:00:00Z");
  EXPECT_EQ(event["platform"], "native");
  EXPECT_EQ(event["level"], "error");
  EXPECT_EQ(event["logger"], "recur");
  EXPECT_EQ(event["message"]["formatted"], "Unhandled error answering POST /v1/subscriptions");
  EXPECT_EQ(event["tags"]["request_id"], "req_01abc");
  EXPECT_EQ(event["tags"]["route"], "/v1/subscriptions");
  EXPECT_EQ(event["tags"]["status"], "500");
  EXPECT_EQ(event["tags"]["kind"], "server_error");
  EXPECT_EQ(event["environment"], "production");
  EXPECT_EQ(event["release"], "1.4.2");
  EXPECT_EQ(event["server_name"], "node-1:8080");
  EXPECT_EQ(event["fingerprint"], json::array({"recur", "server_error", "/v1/subscriptions"}));
  EXPECT_EQ(alerter->stats().sentry.sent, 1u);
}

TEST(AlerterHttpTest, SentryEventIdsDifferAndAWarningStaysAWarning) {
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({.sentry_dsn = "http://abc123@127.0.0.1:" + std::to_string(sink.port()) + "/42"}, clock);
  alerter->raise({.kind = "billing_failure_rate", .level = "warning", .message = "failures 12 % (was 2 %)"});
  alerter->raise({.kind = "scheduler_stalled", .level = "warning", .message = "no tick for 120 s"});
  ASSERT_TRUE(alerter->flush(10s));
  auto got = sink.received();
  ASSERT_EQ(got.size(), 2u);
  json first = json::parse(lines_of(got[0].body).at(2));
  json second = json::parse(lines_of(got[1].body).at(2));
  EXPECT_NE(first["event_id"], second["event_id"]);
  EXPECT_EQ(first["level"], "warning");
  EXPECT_EQ(second["level"], "warning");
}

TEST(AlerterHttpTest, SentryDsnWithAPathPrefixPostsUnderThePrefix) {
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({.sentry_dsn = "http://k@127.0.0.1:" + std::to_string(sink.port()) + "/sentry/7"}, clock);
  alerter->raise(server_error("req_1"));
  ASSERT_TRUE(alerter->flush(10s));
  auto got = sink.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/sentry/api/7/envelope/");
  EXPECT_NE(got[0].header("x-sentry-auth").value_or("").find("sentry_key=k"), std::string::npos);
}

TEST(AlerterHttpTest, OneAlertPerKindPerIntervalAndTheNextSaysHowManyWereHeldBack) {
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({.webhook_url = sink.url("/hook"),
                               .sentry_dsn = "http://abc123@127.0.0.1:" + std::to_string(sink.port()) + "/42",
                               .min_interval = 60s},
                              clock);
  for (int i = 0; i < 5; ++i) {
    alerter->raise(server_error("req_" + std::to_string(i)));
    clock.advance(5);
  }
  // Another kind is not held back by the first.
  alerter->raise({.kind = "scheduler_stalled", .message = "no tick for 120 s"});
  ASSERT_TRUE(alerter->flush(10s));
  EXPECT_EQ(sink.received_at("/hook").size(), 2u);
  EXPECT_EQ(sink.received_at("/api/42/envelope/").size(), 2u);
  auto stats = alerter->stats();
  EXPECT_EQ(stats.webhook.sent, 2u);
  EXPECT_EQ(stats.webhook.suppressed, 4u);
  EXPECT_EQ(stats.sentry.sent, 2u);
  EXPECT_EQ(stats.sentry.suppressed, 4u);

  clock.set(kStart + 61);
  alerter->raise(server_error("req_after"));
  ASSERT_TRUE(alerter->flush(10s));
  auto hooks = sink.received_at("/hook");
  ASSERT_EQ(hooks.size(), 3u);
  std::string text = json::parse(hooks[2].body)["text"];
  EXPECT_NE(text.find("req_after"), std::string::npos) << text;
  EXPECT_NE(text.find("(and 4 more since 2026-01-01T12:00:00Z)"), std::string::npos) << text;
  auto envelopes = sink.received_at("/api/42/envelope/");
  ASSERT_EQ(envelopes.size(), 3u);
  json event = json::parse(lines_of(envelopes[2].body).at(2));
  EXPECT_EQ(event["tags"]["suppressed"], "4");
  EXPECT_EQ(event["timestamp"], "2026-01-01T12:01:01Z");
  // The first of the burst said nothing of the kind.
  json first = json::parse(lines_of(envelopes[0].body).at(2));
  EXPECT_FALSE(first["tags"].contains("suppressed"));
  EXPECT_EQ(alerter->stats().webhook.suppressed, 4u);
}

TEST(AlerterHttpTest, RaisingFromManyThreadsCountsEveryAlertOnce) {
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({.webhook_url = sink.url("/hook")}, clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) alerter->raise(server_error("req"));
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(alerter->flush(10s));
  auto stats = alerter->stats();
  EXPECT_EQ(stats.webhook.sent, 1u);
  EXPECT_EQ(stats.webhook.suppressed, 799u);
  EXPECT_EQ(sink.received().size(), 1u);
}

TEST(AlerterHttpTest, AFullQueueDropsAndCountsAlertsAndRaiseNeverWaitsForTheSink) {
  RecordingSink sink;
  sink.delay_ms = 300;
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({.webhook_url = sink.url("/hook"), .queue_limit = 2}, clock);
  auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) alerter->raise({.kind = "kind_" + std::to_string(i), .message = "m"});
  auto raising = std::chrono::steady_clock::now() - began;
  EXPECT_LT(raising, 250ms);  // one send takes 300 ms: no raise waited for one
  ASSERT_TRUE(alerter->flush(10s));
  auto stats = alerter->stats();
  // One may be in flight before the queue fills: 2 or 3 sent, the rest dropped.
  EXPECT_GE(stats.webhook.dropped, 7u);
  EXPECT_EQ(stats.webhook.sent + stats.webhook.dropped, 10u);
  EXPECT_EQ(stats.webhook.failed, 0u);
  EXPECT_EQ(sink.received().size(), stats.webhook.sent);
}

TEST(AlerterHttpTest, ADroppedAlertDoesNotHoldBackTheNextOfItsKind) {
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({.webhook_url = sink.url("/hook"), .queue_limit = 0}, clock);
  alerter->raise(server_error("req_1"));
  alerter->raise(server_error("req_2"));
  auto stats = alerter->stats();
  EXPECT_EQ(stats.webhook.dropped, 2u);
  EXPECT_EQ(stats.webhook.suppressed, 0u);
}

TEST(AlerterHttpTest, ASinkThatRefusesConnectionsIsCountedFailedAndItsSecretsStayOutOfTheLog) {
  RefusingPort refusing;
  SimulatedClock clock(kStart);
  recur::testing::CapturedLog log;
  std::string port = std::to_string(refusing.port());
  auto alerter = open_or_fail({.webhook_url = "http://127.0.0.1:" + port + "/services/T0/B0/hooksecret",
                               .sentry_dsn = "http://keysecret@127.0.0.1:" + port + "/42"},
                              clock);
  auto began = std::chrono::steady_clock::now();
  alerter->raise(server_error("req_1"));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 100ms);
  ASSERT_TRUE(alerter->flush(15s));
  auto stats = alerter->stats();
  EXPECT_EQ(stats.webhook.failed, 1u);
  EXPECT_EQ(stats.webhook.sent, 0u);
  EXPECT_EQ(stats.sentry.failed, 1u);
  EXPECT_EQ(stats.sentry.sent, 0u);
  std::string logged = log.text();
  EXPECT_NE(logged.find("127.0.0.1:" + port), std::string::npos) << logged;  // the host is there
  EXPECT_EQ(logged.find("hooksecret"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("keysecret"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("/services/"), std::string::npos) << logged;
}

TEST(AlerterHttpTest, ASinkAnswering500IsCountedFailed) {
  RecordingSink sink;
  sink.status = 500;
  SimulatedClock clock(kStart);
  recur::testing::CapturedLog log;
  auto alerter = open_or_fail({.webhook_url = sink.url("/services/T0/B0/hooksecret"),
                               .sentry_dsn = "http://keysecret@127.0.0.1:" + std::to_string(sink.port()) + "/42"},
                              clock);
  alerter->raise(server_error("req_1"));
  ASSERT_TRUE(alerter->flush(10s));
  EXPECT_EQ(sink.received().size(), 2u);
  auto stats = alerter->stats();
  EXPECT_EQ(stats.webhook.failed, 1u);
  EXPECT_EQ(stats.sentry.failed, 1u);
  EXPECT_EQ(stats.webhook.sent + stats.sentry.sent, 0u);
  std::string logged = log.text();
  EXPECT_NE(logged.find("answered 500"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("hooksecret"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("keysecret"), std::string::npos) << logged;
}

TEST(AlerterHttpTest, DestroyingTheAlerterGivesUpOnASlowSinkAfterTheGrace) {
  RecordingSink sink;
  sink.delay_ms = 1500;
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({.webhook_url = sink.url("/hook")}, clock);
  for (int i = 0; i < 5; ++i) alerter->raise({.kind = "kind_" + std::to_string(i), .message = "m"});
  auto began = std::chrono::steady_clock::now();
  alerter.reset();
  // In flight 1.5 s, then what the 2 s grace allows; not 5 × 1.5 s.
  EXPECT_LT(std::chrono::steady_clock::now() - began, 4500ms);
  EXPECT_LT(sink.received().size(), 5u);
}

TEST(AlerterHttpTest, AnInvalidDsnOrWebhookIsRefusedAtOpen) {
  SimulatedClock clock(kStart);
  for (const std::string dsn :
       {"not a dsn", "http://127.0.0.1:9000/42", "ftp://k@host/42", "http://k@/42", "http://k@host", "http://k@host/",
        "http://k@host/abc", "http://k@host:99999/1", "http://k@host/1?x=y", "http://@host/1"}) {
    auto opened = Alerter::open({.sentry_dsn = dsn}, clock);
    ASSERT_FALSE(opened.ok()) << dsn;
    EXPECT_EQ(opened.error().kind, ErrorKind::kInvalid) << dsn;
    EXPECT_EQ(opened.error().code, "invalid_sentry_dsn") << dsn;
  }
  auto secret = Alerter::open({.sentry_dsn = "http://keysecret@host/notanumber"}, clock);
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().message.find("keysecret"), std::string::npos) << secret.error().message;

  auto webhook = Alerter::open({.webhook_url = "hooks.slack.com/services/x"}, clock);
  ASSERT_FALSE(webhook.ok());
  EXPECT_EQ(webhook.error().code, "invalid_alert_webhook");
}

TEST(AlerterHttpTest, DsnsNameTheirEnvelopeEndpoint) {
  struct Case {
    std::string dsn, url, key, host;
  } cases[] = {
      {"https://abc@o1.ingest.sentry.io/42", "https://o1.ingest.sentry.io/api/42/envelope/", "abc",
       "o1.ingest.sentry.io"},
      {"http://abc@127.0.0.1:9000/42", "http://127.0.0.1:9000/api/42/envelope/", "abc", "127.0.0.1:9000"},
      {"http://k@host/sentry/7", "http://host/sentry/api/7/envelope/", "k", "host"},
      {"https://pub:legacysecret@host/a/b/9", "https://host/a/b/api/9/envelope/", "pub", "host"},
      {"http://k@[::1]:9000/3", "http://[::1]:9000/api/3/envelope/", "k", "[::1]:9000"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_sentry_dsn(c.dsn);
    ASSERT_TRUE(parsed.ok()) << c.dsn << ": " << parsed.error().message;
    EXPECT_EQ(parsed->envelope_url, c.url) << c.dsn;
    EXPECT_EQ(parsed->public_key, c.key) << c.dsn;
    EXPECT_EQ(parsed->host, c.host) << c.dsn;
  }
}

TEST(AlerterHttpTest, NoSinkMeansDisabledAndRaiseDoesNothing) {
  SimulatedClock clock(kStart);
  auto alerter = open_or_fail({}, clock);
  EXPECT_FALSE(alerter->enabled());
  alerter->raise(server_error("req_1"));
  EXPECT_TRUE(alerter->flush(0ms));
  auto stats = alerter->stats();
  EXPECT_EQ(stats.webhook.sent + stats.webhook.dropped + stats.sentry.sent + stats.sentry.dropped, 0u);
}

}  // namespace
}  // namespace recur::alerts
