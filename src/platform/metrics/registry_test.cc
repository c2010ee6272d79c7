#include "platform/metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace recur::metrics {
namespace {

TEST(MetricsText, LabelValuesEscapeBackslashQuoteAndNewline) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"/v1/subscriptions/{id}", "/v1/subscriptions/{id}"},
      {"a\\b", "a\\\\b"},
      {"say \"hi\"", "say \\\"hi\\\""},
      {"two\nlines", "two\\nlines"},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(escape_label_value(c.in), c.out) << c.in;
}

TEST(MetricsText, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(escape_help("a \"b\"\\c\nd"), "a \"b\"\\\\c\\nd");
}

TEST(MetricsText, ValuesAreWrittenAsPrometheusReadsThemWithNoDigitRunLongerThan12) {
  struct Case {
    double in;
    std::string out;
  } cases[] = {
      {0, "0"},
      {42, "42"},
      {-3, "-3"},
      {0.25, "0.25"},
      {1e-3, "0.001"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
      {1.5e300, "1.5e+300"},
      {1796460674.99, "1796460674.99"},        // a timestamp keeps its hundredths
      {0.009374984000000001, "0.009374984"},   // a sum's float noise is dropped
      {12.3729031234565254, "12.3729031235"},  // never 13 digits in a row
      {999999999999, "999999999999"},
      {4398046511104, "4.3980465111e+12"},  // bytes of a 4 TiB disk: no 13-digit run
  };
  for (const auto& c : cases) EXPECT_EQ(format_value(c.in), c.out) << c.in;
}

TEST(MetricsRegistry, CountersAndGaugesRenderWithHelpTypeAndLabels) {
  Registry r;
  auto& requests = r.counter("recur_test_requests_total", "Requests answered.", {"route", "status"});
  requests.with({"/v1/x/{id}", "2xx"}).inc();
  requests.with({"/v1/x/{id}", "2xx"}).inc(2);
  requests.with({"/v1/x/{id}", "5xx"}).inc();
  r.gauge("recur_test_in_flight", "Requests in flight.").only().set(7);
  EXPECT_EQ(r.render(),
            "# HELP recur_test_requests_total Requests answered.\n"
            "# TYPE recur_test_requests_total counter\n"
            "recur_test_requests_total{route=\"/v1/x/{id}\",status=\"2xx\"} 3\n"
            "recur_test_requests_total{route=\"/v1/x/{id}\",status=\"5xx\"} 1\n"
            "# HELP recur_test_in_flight Requests in flight.\n"
            "# TYPE recur_test_in_flight gauge\n"
            "recur_test_in_flight 7\n");
}

TEST(MetricsRegistry, ACounterNeverGoesDown) {
  Counter c;
  c.inc(5);
  c.inc(-2);
  EXPECT_EQ(c.value(), 5);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeAndInclusiveOfTheirBound) {
  Registry r;
  auto& h = r.histogram("recur_test_seconds", "Latency.", {"route"}, {0.1, 1, 0.5});  // sorted when made
  auto& child = h.with({"/a"});
  for (double v : {0.05, 0.1, 0.3, 0.5, 2.0}) child.observe(v);
  EXPECT_EQ(r.render(),
            "# HELP recur_test_seconds Latency.\n"
            "# TYPE recur_test_seconds histogram\n"
            "recur_test_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
            "recur_test_seconds_bucket{route=\"/a\",le=\"0.5\"} 4\n"
            "recur_test_seconds_bucket{route=\"/a\",le=\"1\"} 4\n"
            "recur_test_seconds_bucket{route=\"/a\",le=\"+Inf\"} 5\n"
            "recur_test_seconds_sum{route=\"/a\"} 2.95\n"
            "recur_test_seconds_count{route=\"/a\"} 5\n");
}

TEST(MetricsRegistry, ScrapedFamiliesAreReadAtEachRenderAndLeftOutWhenEmpty) {
  Registry r;
  int depth = 3;
  r.read_at_scrape("recur_test_depth", "Rows waiting.", Type::kGauge, {"outbox"}, [&] {
    return std::vector<Sample>{{{"webhooks"}, static_cast<double>(depth)}, {{"events"}, 1}};
  });
  r.read_at_scrape("recur_test_nothing", "Only on SQLite.", Type::kGauge, {}, [] { return std::vector<Sample>{}; });
  std::string first = r.render();
  depth = 9;
  std::string second = r.render();
  EXPECT_NE(first.find("recur_test_depth{outbox=\"webhooks\"} 3\n"), std::string::npos) << first;
  EXPECT_NE(second.find("recur_test_depth{outbox=\"webhooks\"} 9\n"), std::string::npos) << second;
  EXPECT_LT(second.find("outbox=\"events\""), second.find("outbox=\"webhooks\""));  // sorted by label
  EXPECT_EQ(second.find("recur_test_nothing"), std::string::npos);
}

TEST(MetricsRegistry, ANameIsOneFamilyWhoeverAsksForIt) {
  Registry r;
  auto& a = r.counter("recur_test_total", "x", {"k"});
  auto& b = r.counter("recur_test_total", "x", {"k"});
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(r.gauge("recur_test_total", "x"), std::logic_error);
  EXPECT_THROW(a.with({"1", "2"}), std::logic_error);  // label values must match the names
}

TEST(MetricsRegistry, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& family = r.counter("recur_test_total", "x", {"thread"});
  auto& h = r.histogram("recur_test_h", "x", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        family.with({std::to_string(t % 2)}).inc();
        h.only().observe(0.5);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(family.with({"0"}).value() + family.with({"1"}).value(), 40000);
  EXPECT_EQ(h.only().snapshot().count, 40000u);
  EXPECT_EQ(h.only().snapshot().sum, 20000);
}

}  // namespace
}  // namespace recur::metrics
