// The App's error alerts (docs/OPERATIONS.md, "Error alerts without Prometheus") delivered to a
// real local webhook sink: a 500 names its request and route template but never the path; a
// readiness 503 sends nothing; a billing run whose failures jump sends one alert; and /metrics
// counts what was sent.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/fixtures.h"
#include "testing/recording_sink.h"
#include "testing/test_databases.h"

namespace recur::app {
namespace {

using nlohmann::json;
using testing::at;

class AlertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-01-31T10:00:00Z"));
    Options options;
    options.alerts.webhook_url = sink.url("/hooks/T000/B000/secret");
    options.alerts.server_name = "node-1";
    node = testing::reopen(t, *t.clock, options);
  }

  // The texts the sink has received, once it has `n` (waiting at most 10 s).
  std::vector<std::string> texts(std::size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (sink.received().size() < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::vector<std::string> out;
    for (const auto& r : sink.received()) out.push_back(json::parse(r.body).value("text", ""));
    return out;
  }

  static http::Request request(const std::string& method, const std::string& path, const std::string& route) {
    http::Request r;
    r.method = method;
    r.path = path;
    r.route = route;
    r.request_id = "req_alert_test_1";
    return r;
  }

  static http::Response failed(int status, const std::string& code) {
    return http::problem(
        status == 500 ? Error::internal(code, "boom at cus_secret_123") : Error::unavailable(code, "x"),
        "req_alert_test_1");
  }

  testing::RecordingSink sink;
  testing::TestApp t;
  std::unique_ptr<App> node;
};

TEST_F(AlertsTest, AServerErrorNamesItsRequestAndRouteTemplateButNotThePathOrTheCause) {
  node->alert_on_failure(request("GET", "/v1/customers/cus_secret_123", "/v1/customers/{id}"),
                         failed(500, "internal_error"));
  auto got = texts(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("req_alert_test_1"), std::string::npos) << got[0];
  EXPECT_NE(got[0].find("/v1/customers/{id}"), std::string::npos) << got[0];
  EXPECT_NE(got[0].find("internal_error"), std::string::npos) << got[0];
  EXPECT_EQ(got[0].find("cus_secret_123"), std::string::npos) << got[0];
  EXPECT_EQ(sink.received()[0].path, "/hooks/T000/B000/secret");
}

TEST_F(AlertsTest, ReadinessSaying503AndClientErrorsSendNothing) {
  node->alert_on_failure(request("GET", "/readyz", "/readyz"), failed(503, "not_ready"));
  node->alert_on_failure(request("GET", "/v1/customers/x", "/v1/customers/{id}"),
                         http::problem(Error::not_found("customer_not_found", "no"), "req_1"));
  // Then a 503 elsewhere, which does alert: it must be the only one received.
  node->alert_on_failure(request("POST", "/v1/subscriptions", "/v1/subscriptions"),
                         failed(503, "database_unavailable"));
  auto got = texts(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // room for a wrongly sent one to arrive
  got = texts(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("database_unavailable"), std::string::npos) << got[0];
  EXPECT_NE(got[0].find("POST /v1/subscriptions"), std::string::npos) << got[0];
}

TEST_F(AlertsTest, AJumpInChargeFailuresSendsOneAlertNamingTheRun) {
  auto subscriber = [&](const std::string& token, int i) {
    auto plan = testing::make_plan(t, 2999, Interval::kMonth);
    auto customer = testing::make_customer_with(t, "c" + std::to_string(i) + "@example.com", token);
    return testing::subscribe(t, customer, plan.id);
  };
  for (int i = 0; i < 5; ++i) subscriber("pm_card_visa", i);
  t.clock->set(at("2026-03-01T10:00:00Z"));
  ASSERT_TRUE(node->run_billing("test").ok());
  for (int i = 5; i < 15; ++i) subscriber("pm_card_chargeDeclined", i);  // the detector needs 10 charges
  t.clock->set(at("2026-03-01T11:00:00Z"));
  auto bad = node->run_billing("test");
  ASSERT_TRUE(bad.ok());
  ASSERT_TRUE(bad->failure_rate_alert);
  auto got = texts(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find(bad->id), std::string::npos) << got[0];
  EXPECT_NE(got[0].find("10 declined of 10"), std::string::npos) << got[0];
  // Counted once the sink has answered, just after it received the alert.
  std::string scraped;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    if (!scraped.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    scraped = node->metrics_response().body;
  } while (scraped.find("recur_alerts_sent_total{sink=\"webhook\"} 1\n") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_NE(scraped.find("recur_alerts_sent_total{sink=\"webhook\"} 1\n"), std::string::npos) << scraped;
  EXPECT_NE(scraped.find("recur_billing_failure_rate_jumps_total 1\n"), std::string::npos) << scraped;
}

}  // namespace
}  // namespace recur::app
