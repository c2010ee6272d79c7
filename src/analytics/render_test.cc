// Worked examples for the analytics reports' CSV and SVG renderings.
#include "analytics/render.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <regex>
#include <string>
#include <string_view>

namespace recur::analytics {
namespace {

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

Json list(Json rows, Json extra = Json::object()) {
  Json body = {{"object", "list"}, {"has_more", false}, {"data", std::move(rows)}};
  body.update(extra);
  return body;
}

Json movement(std::string start, std::string end, int new_mrr, int expansion, int contraction, int churn,
              int reactivation, int mrr_start) {
  int mrr_end = mrr_start + new_mrr + expansion + reactivation - contraction - churn;
  return {{"period_start", start},
          {"period_end", end},
          {"mrr_start", mrr_start},
          {"new", new_mrr},
          {"expansion", expansion},
          {"contraction", contraction},
          {"churn", churn},
          {"reactivation", reactivation},
          {"mrr_end", mrr_end},
          {"counts", {{"new", 1}, {"expansion", 0}, {"contraction", 0}, {"churn", 1}, {"reactivation", 0}}}};
}

// The checks every chart passes: one <svg> element with its size, a title, nothing that runs
// or loads, balanced elements.
void expect_self_contained_svg(const std::string& svg) {
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"", 0), 0u) << svg;
  EXPECT_NE(svg.find("viewBox=\"0 0 720 "), std::string::npos);
  EXPECT_NE(svg.find("<title>"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(count(svg, "<svg"), 1u);
  for (std::string_view banned : {"<script", "href", "url(", "<style", "<foreignObject", "<image", "style="})
    EXPECT_EQ(svg.find(banned), std::string::npos) << banned;
  EXPECT_FALSE(std::regex_search(svg, std::regex(" on[a-z]+=")));
  EXPECT_EQ(count(svg, "<text"), count(svg, "</text>"));
  EXPECT_EQ(count(svg, "<title>"), count(svg, "</title>"));
}

// ---------------------------------------------------------------- CSV

TEST(AnalyticsRenderCsv, SingleObjectIsAHeaderAndOneRecordWithCrlf) {
  Json mrr = {{"object", "analytics.mrr"}, {"at", "2027-03-01T00:00:00Z"}, {"currency", "usd"}, {"mrr", 12345},
              {"arr", 148140}, {"customers", 3}, {"subscriptions", 4}, {"arpa", 4115}};
  EXPECT_EQ(*render_csv("mrr", mrr),
            "at,currency,mrr,arr,customers,subscriptions,arpa\r\n"
            "2027-03-01T00:00:00Z,usd,12345,148140,3,4,4115\r\n");
}

TEST(AnalyticsRenderCsv, NullIsAnEmptyField) {
  Json ltv = {{"object", "analytics.ltv"}, {"at", "2027-03-01T00:00:00Z"}, {"currency", "usd"}, {"arpa", nullptr},
              {"customer_churn_rate", nullptr}, {"ltv", nullptr}};
  EXPECT_EQ(*render_csv("ltv", ltv),
            "at,currency,arpa,customer_churn_rate,ltv\r\n"
            "2027-03-01T00:00:00Z,usd,,,\r\n");
}

TEST(AnalyticsRenderCsv, NestedObjectsFlattenWithDotsAndTheListsCurrencyIsAColumn) {
  Json body = list(Json::array({movement("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z", 2400, 0, 0, 1400, 0, 5000)}),
                   {{"currency", "usd"}});
  EXPECT_EQ(*render_csv("mrr-movements", body),
            "currency,period_start,period_end,mrr_start,new,expansion,contraction,churn,reactivation,mrr_end,"
            "counts.new,counts.expansion,counts.contraction,counts.churn,counts.reactivation\r\n"
            "usd,2027-01-01T00:00:00Z,2027-02-01T00:00:00Z,5000,2400,0,0,1400,0,6000,1,0,0,1,0\r\n");
}

TEST(AnalyticsRenderCsv, RatesKeepTheirDigitsAndNullRatesAreEmpty) {
  Json row = {{"period_start", "2027-01-01T00:00:00Z"}, {"period_end", "2027-02-01T00:00:00Z"},
              {"customers_start", 0}, {"churned_customers", 0}, {"customer_churn_rate", nullptr},
              {"voluntary", 0}, {"involuntary", 0}, {"gross_mrr_churn_rate", 0.125},
              {"net_mrr_churn_rate", -0.05}, {"quick_ratio", nullptr}};
  EXPECT_EQ(*render_csv("churn", list(Json::array({row}))),
            "period_start,period_end,customers_start,churned_customers,customer_churn_rate,voluntary,involuntary,"
            "gross_mrr_churn_rate,net_mrr_churn_rate,quick_ratio\r\n"
            "2027-01-01T00:00:00Z,2027-02-01T00:00:00Z,0,0,,0,0,0.125,-0.05,\r\n");
}

TEST(AnalyticsRenderCsv, CohortsHaveOneRecordPerCohortAndPeriodWithTheCohortRepeated) {
  Json cohort = {{"cohort_start", "2027-01-01T00:00:00Z"}, {"cohort_end", "2027-02-01T00:00:00Z"},
                 {"customers", 2}, {"mrr_start", 4800}, {"realised_ltv", 9600},
                 {"periods", Json::array({{{"period_start", "2027-01-01T00:00:00Z"},
                                           {"period_end", "2027-02-01T00:00:00Z"}, {"customers", 2},
                                           {"retention", 1}, {"mrr", 4800}, {"nrr", 1}, {"grr", 1}},
                                          {{"period_start", "2027-02-01T00:00:00Z"},
                                           {"period_end", "2027-03-01T00:00:00Z"}, {"customers", 1},
                                           {"retention", 0.5}, {"mrr", 2400}, {"nrr", 0.5}, {"grr", 0.5}}})}};
  Json empty = {{"cohort_start", "2027-02-01T00:00:00Z"}, {"cohort_end", "2027-03-01T00:00:00Z"}, {"customers", 0},
                {"mrr_start", 0}, {"realised_ltv", 0}, {"periods", Json::array()}};
  EXPECT_EQ(*render_csv("cohorts", list(Json::array({cohort, empty}))),
            "cohort_start,cohort_end,customers,mrr_start,realised_ltv,periods.period_start,periods.period_end,"
            "periods.customers,periods.retention,periods.mrr,periods.nrr,periods.grr\r\n"
            "2027-01-01T00:00:00Z,2027-02-01T00:00:00Z,2,4800,9600,2027-01-01T00:00:00Z,2027-02-01T00:00:00Z,2,1,4800,1,1\r\n"
            "2027-01-01T00:00:00Z,2027-02-01T00:00:00Z,2,4800,9600,2027-02-01T00:00:00Z,2027-03-01T00:00:00Z,1,0.5,2400,0.5,0.5\r\n"
            "2027-02-01T00:00:00Z,2027-03-01T00:00:00Z,0,0,0,,,,,,,\r\n");
}

TEST(AnalyticsRenderCsv, SurvivalHasOneRecordPerGroupAndStep) {
  Json group = {{"group", "plan_a"}, {"subscriptions", 2}, {"ended", 1}, {"median_days", nullptr},
                {"steps", Json::array({{{"days", 0}, {"at_risk", 2}, {"ended", 0}, {"survival", 1}, {"lower", 1},
                                        {"upper", 1}},
                                       {{"days", 30}, {"at_risk", 2}, {"ended", 1}, {"survival", 0.5},
                                        {"lower", 0}, {"upper", 1}}})}};
  EXPECT_EQ(*render_csv("survival", list(Json::array({group}))),
            "group,subscriptions,ended,median_days,steps.days,steps.at_risk,steps.ended,steps.survival,steps.lower,"
            "steps.upper\r\n"
            "plan_a,2,1,,0,2,0,1,1,1\r\n"
            "plan_a,2,1,,30,2,1,0.5,0,1\r\n");
}

TEST(AnalyticsRenderCsv, AtRiskJoinsReasonsAndFlattensSignalsAfterTheNamedColumns) {
  Json row = {{"subscription", "sub_1"}, {"customer", "cus_1"}, {"plan", "plan_1"}, {"currency", "usd"},
              {"mrr", 2400}, {"score", 0.82}, {"reasons", Json::array({"failed_payments", "skips"})},
              {"signals", {{"skips", 2}, {"failed_payments", 1}, {"past_due", true}}}};
  Json body = list(Json::array({row}), {{"model", {{"name", "recur-risk-1"}, {"backtest_auc", 0.71}}}});
  EXPECT_EQ(*render_csv("at-risk", body),
            "subscription,customer,plan,currency,mrr,score,reasons,signals.failed_payments,signals.past_due,"
            "signals.skips\r\n"
            "sub_1,cus_1,plan_1,usd,2400,0.82,failed_payments; skips,1,true,2\r\n");
}

TEST(AnalyticsRenderCsv, QuotesFieldsWithCommasQuotesAndLineBreaks) {
  Json row = {{"period_start", "2027-01-01T00:00:00Z"}, {"period_end", "2027-02-01T00:00:00Z"},
              {"reason", "too \"expensive\", really"}, {"offer", "line\r\nbreak"}, {"cancellations", 1}};
  std::string csv = *render_csv("cancellations", list(Json::array({row})));
  EXPECT_NE(csv.find(",\"too \"\"expensive\"\", really\",\"line\r\nbreak\",1,"), std::string::npos) << csv;
}

TEST(AnalyticsRenderCsv, TextThatASpreadsheetWouldRunAsAFormulaGetsAnApostrophe) {
  Json row = {{"period_start", "2027-01-01T00:00:00Z"}, {"period_end", "2027-02-01T00:00:00Z"},
              {"reason", "=HYPERLINK(\"http://evil\",\"x\")"}, {"offer", "+1"}, {"cancellations", -1},
              {"offered", "@SUM(A1)"}, {"accepted", "-2"}, {"declined", "\tx"}, {"canceled_anyway", "ok=fine"}};
  std::string csv = *render_csv("cancellations", list(Json::array({row})));
  EXPECT_NE(csv.find(",\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",'+1,-1,'@SUM(A1),'-2,'\tx,ok=fine,"),
            std::string::npos)
      << csv;
}

TEST(AnalyticsRenderCsv, AnEmptyListIsTheHeaderAlone) {
  EXPECT_EQ(*render_csv("customers", list(Json::array())),
            "customer,currency,realised,average_order_value,orders_per_month,expected_remaining_months,"
            "expected_future,ltv\r\n");
}

TEST(AnalyticsRenderCsv, OneCustomersLtvIsOneRecord) {
  Json ltv = {{"object", "analytics.customer_ltv"}, {"customer", "cus_1"}, {"currency", "usd"}, {"realised", 4800},
              {"average_order_value", 2400}, {"orders_per_month", 1.0}, {"expected_remaining_months", 6.5},
              {"expected_future", 15600}, {"ltv", 20400}};
  EXPECT_EQ(*render_csv("customer-ltv", ltv),
            "customer,currency,realised,average_order_value,orders_per_month,expected_remaining_months,"
            "expected_future,ltv\r\n"
            "cus_1,usd,4800,2400,1.0,6.5,15600,20400\r\n");
  EXPECT_FALSE(render_svg("customer-ltv", ltv).has_value());
}

TEST(AnalyticsRenderCsv, AnUnknownReportHasNoCsv) {
  EXPECT_FALSE(render_csv("invoices", list(Json::array())).has_value());
  EXPECT_FALSE(render_csv("", Json::object()).has_value());
}

// ---------------------------------------------------------------- SVG

TEST(AnalyticsRenderSvg, LtvCustomersAndUnknownReportsHaveNoChart) {
  EXPECT_FALSE(render_svg("ltv", Json::object()).has_value());
  EXPECT_FALSE(render_svg("customers", list(Json::array())).has_value());
  EXPECT_FALSE(render_svg("nope", list(Json::array())).has_value());
}

TEST(AnalyticsRenderSvg, MrrSinglePointIsADotLabelledInMajorUnits) {
  Json mrr = {{"object", "analytics.mrr"}, {"at", "2027-03-01T12:00:00Z"}, {"currency", "usd"}, {"mrr", 12345},
              {"arr", 148140}, {"customers", 3}, {"subscriptions", 4}, {"arpa", 4115}};
  std::string svg = *render_svg("mrr", mrr);
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark dot\""), 1u);
  EXPECT_EQ(count(svg, "class=\"mark line\""), 0u);  // one point: the dot alone
  EXPECT_NE(svg.find(">123.45 USD</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">2027-03-01</text>"), std::string::npos);
  EXPECT_NE(svg.find("MRR (USD)"), std::string::npos);
}

TEST(AnalyticsRenderSvg, AmountsFollowTheCurrencysExponent) {
  Json yen = {{"object", "analytics.mrr"}, {"at", "2027-03-01T00:00:00Z"}, {"currency", "jpy"}, {"mrr", 1500}};
  EXPECT_NE(render_svg("mrr", yen)->find(">1500 JPY</text>"), std::string::npos);
  Json dinar = {{"object", "analytics.mrr"}, {"at", "2027-03-01T00:00:00Z"}, {"currency", "kwd"}, {"mrr", 1500}};
  EXPECT_NE(render_svg("mrr", dinar)->find(">1.500 KWD</text>"), std::string::npos);
}

TEST(AnalyticsRenderSvg, MovementsStackOneBarPerNonZeroPartAndDrawTheNetLine) {
  Json body = list(Json::array({movement("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z", 2400, 0, 0, 1400, 0, 5000),
                                movement("2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z", 1000, 500, 300, 0, 200, 6000)}),
                   {{"currency", "usd"}});
  std::string svg = *render_svg("mrr-movements", body);
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark bar\""), 2u + 4u);
  EXPECT_EQ(count(svg, "class=\"mark line\""), 1u);
  EXPECT_EQ(count(svg, "class=\"mark dot\""), 2u);
  EXPECT_EQ(count(svg, "class=\"swatch\""), 6u);  // five movements and the net line
  EXPECT_NE(svg.find(">2027-01-01</text>"), std::string::npos);
  EXPECT_NE(svg.find("churn: -14.00"), std::string::npos) << svg;
  EXPECT_NE(svg.find("net: 10.00"), std::string::npos);
}

TEST(AnalyticsRenderSvg, ChurnLinesBreakAtNullRates) {
  auto row = [](std::string start, Json customer_rate, Json gross_rate) {
    return Json{{"period_start", start}, {"period_end", start}, {"customer_churn_rate", customer_rate},
                {"gross_mrr_churn_rate", gross_rate}};
  };
  Json body = list(Json::array({row("2027-01-01T00:00:00Z", 0.1, nullptr), row("2027-02-01T00:00:00Z", nullptr, 0.2),
                                row("2027-03-01T00:00:00Z", 0.05, 0.1)}));
  std::string svg = *render_svg("churn", body);
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark line\""), 1u);  // customer churn has no two known rates in a row
  EXPECT_EQ(count(svg, "class=\"mark dot\""), 4u);
  EXPECT_EQ(svg.find("No data"), std::string::npos);

  std::string all_null = *render_svg("churn", list(Json::array({row("2027-01-01T00:00:00Z", nullptr, nullptr)})));
  expect_self_contained_svg(all_null);
  EXPECT_EQ(count(all_null, "class=\"mark"), 0u);
  EXPECT_NE(all_null.find("No data"), std::string::npos);
}

TEST(AnalyticsRenderSvg, CohortsAreAHeatMapWithOneCellPerCohortAndPeriod) {
  auto period = [](Json retention) { return Json{{"retention", retention}}; };
  Json body = list(Json::array(
      {{{"cohort_start", "2027-01-01T00:00:00Z"}, {"periods", Json::array({period(1), period(0.5), period(0.25)})}},
       {{"cohort_start", "2027-02-01T00:00:00Z"}, {"periods", Json::array({period(1), period(nullptr)})}}}));
  std::string svg = *render_svg("cohorts", body);
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark cell\""), 5u);
  EXPECT_NE(svg.find("cohort 2027-01-01, period 1: 50%"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">25%</text>"), std::string::npos);
  EXPECT_NE(svg.find("cohort 2027-02-01, period 1: \u2013"), std::string::npos);
  EXPECT_NE(svg.find(">2027-02-01</text>"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#08306b\""), std::string::npos);  // 100 %: the darkest shade
}

TEST(AnalyticsRenderSvg, CohortsWithoutCustomersAreLeftOutAndNarrowCellsKeepTheirValueInTheTooltip) {
  Json periods = Json::array();
  for (int j = 0; j < 40; ++j) periods.push_back({{"retention", 0.5}});
  Json body = list(Json::array({{{"cohort_start", "2027-01-01T00:00:00Z"}, {"customers", 0}, {"periods", periods}},
                                {{"cohort_start", "2027-01-08T00:00:00Z"}, {"customers", 3}, {"periods", periods}}}));
  std::string svg = *render_svg("cohorts", body);
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark cell\""), 40u);
  EXPECT_EQ(svg.find(">2027-01-01</text>"), std::string::npos);
  EXPECT_NE(svg.find(">2027-01-08</text>"), std::string::npos);
  EXPECT_EQ(count(svg, ">50%</text>"), 1u);  // the legend's: no cell writes its value
  EXPECT_NE(svg.find("period 39: 50%"), std::string::npos);
}

TEST(AnalyticsRenderSvg, SurvivalDrawsAStepCurveAndABandPerGroupAndEscapesGroupNames) {
  auto step = [](int days, double s, double lower, double upper) {
    return Json{{"days", days}, {"survival", s}, {"lower", lower}, {"upper", upper}};
  };
  Json body = list(Json::array(
      {{{"group", "<script>alert(1)</script>"},
        {"steps", Json::array({step(0, 1, 1, 1), step(30, 0.5, 0.2, 0.8), step(60, 0.25, 0, 0.6)})}},
       {{"group", "Tom & Jerry's"}, {"steps", Json::array({step(0, 1, 1, 1)})}}}));
  std::string svg = *render_svg("survival", body);
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark step\""), 2u);
  EXPECT_EQ(count(svg, "class=\"mark band\""), 1u);  // a single step has no area
  EXPECT_EQ(count(svg, "class=\"mark dot\""), 1u);   // ... and shows as a dot
  EXPECT_NE(svg.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(svg.find("Tom &amp; Jerry&apos;s"), std::string::npos);
  EXPECT_NE(svg.find(">days since start</text>"), std::string::npos);
}

TEST(AnalyticsRenderSvg, RenewalsStackSharesOfWhatCameDue) {
  Json row = {{"period_start", "2027-01-01T00:00:00Z"}, {"due", 4}, {"paid_first_attempt", 2}, {"recovered", 1},
              {"failed", 1}, {"pending", 0}};
  Json nothing_due = {{"period_start", "2027-02-01T00:00:00Z"}, {"due", 0}};
  std::string svg = *render_svg("renewals", list(Json::array({row, nothing_due})));
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark bar\""), 3u);
  EXPECT_NE(svg.find("paid first attempt: 50.0%"), std::string::npos);
  EXPECT_NE(svg.find(">100%</text>"), std::string::npos);
}

TEST(AnalyticsRenderSvg, EngagementIsTwoBarsPerPeriod) {
  Json row = {{"period_start", "2027-01-01T00:00:00Z"}, {"active_subscribers", 10}, {"engaged_subscribers", 4}};
  std::string svg = *render_svg("engagement", list(Json::array({row, row, row})));
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark bar\""), 6u);
}

TEST(AnalyticsRenderSvg, CancellationsAreHorizontalBarsByReasonSummedOverPeriods) {
  auto row = [](Json reason, int n) { return Json{{"period_start", "2027-01-01T00:00:00Z"}, {"reason", reason}, {"cancellations", n}}; };
  Json body = list(Json::array({row("too_expensive", 2), row("<b>moved</b>", 1), row("too_expensive", 3), row(nullptr, 1)}));
  std::string svg = *render_svg("cancellations", body);
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark bar\""), 3u);
  EXPECT_NE(svg.find("too_expensive: 5"), std::string::npos) << svg;
  EXPECT_NE(svg.find("&lt;b&gt;moved&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(svg.find("(no reason)"), std::string::npos);
  EXPECT_LT(svg.find(">too_expensive</text>"), svg.find(">(no reason)</text>"));  // largest first
}

TEST(AnalyticsRenderSvg, AtRiskIsAHorizontalBarPerSubscriptionByScore) {
  Json row = {{"subscription", "sub_1"}, {"score", 0.82}};
  Json other = {{"subscription", "sub_2"}, {"score", 0.4}};
  Json body = list(Json::array({other, row}), {{"model", {{"name", "recur-risk-1\"/><script>"}}}});
  std::string svg = *render_svg("at-risk", body);
  expect_self_contained_svg(svg);
  EXPECT_EQ(count(svg, "class=\"mark bar\""), 2u);
  EXPECT_NE(svg.find(">0.82</text>"), std::string::npos);
  EXPECT_LT(svg.find(">sub_1</text>"), svg.find(">sub_2</text>"));
  EXPECT_NE(svg.find("recur-risk-1&quot;/&gt;&lt;script&gt;"), std::string::npos);
}

TEST(AnalyticsRenderSvg, EmptyListsDrawTheFrameAndSayNoData) {
  for (std::string_view report :
       {"mrr-movements", "churn", "cohorts", "survival", "renewals", "engagement", "cancellations", "at-risk"}) {
    std::string svg = *render_svg(report, list(Json::array()));
    expect_self_contained_svg(svg);
    EXPECT_EQ(count(svg, "class=\"mark"), 0u) << report;
    EXPECT_NE(svg.find("No data"), std::string::npos) << report;
  }
}

TEST(AnalyticsRenderSvg, ABodyOfTheWrongShapeIsNoDataNotACrash) {
  Json odd = {{"data", "not a list"}, {"currency", 7}};
  for (std::string_view report : {"mrr", "mrr-movements", "churn", "cohorts", "survival", "renewals", "engagement",
                                  "cancellations", "at-risk"}) {
    expect_self_contained_svg(*render_svg(report, odd));
    EXPECT_TRUE(render_csv(report, odd).has_value());
  }
  Json mistyped = list(Json::array({{{"period_start", 5}, {"new", "lots"}, {"periods", 3}, {"steps", nullptr}}}));
  for (std::string_view report : {"mrr-movements", "cohorts", "survival"}) expect_self_contained_svg(*render_svg(report, mistyped));
}

TEST(AnalyticsRenderSvg, ControlCharactersThatXmlForbidsAreDropped) {
  Json body = list(Json::array({{{"subscription", std::string("sub_\x01\x1f" "1")}, {"score", 0.5}}}));
  std::string svg = *render_svg("at-risk", body);
  EXPECT_NE(svg.find(">sub_1</text>"), std::string::npos);
  EXPECT_EQ(svg.find('\x01'), std::string::npos);
}

}  // namespace
}  // namespace recur::analytics
