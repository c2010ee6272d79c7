// GET /v1/analytics/*: parse the query, run the report, answer it as JSON, CSV or SVG
// (the Accept header chooses; docs/analytics.md).
#include "analytics/routes.h"

#include <algorithm>
#include <sstream>

#include "access/model.h"
#include "analytics/render.h"
#include "customers/store.h"
#include "platform/http/rest.h"

namespace recur::analytics {
namespace {

using http::Request;
using http::Response;

enum class Format { kJson, kCsv, kSvg };

// The most preferred representation the Accept header admits (q-values, then order).
Result<Format> negotiate(const Request& req) {
  auto accept = req.header("accept");
  if (!accept || accept->empty()) return Format::kJson;
  std::optional<Format> best;
  double best_q = 0;
  std::stringstream in(*accept);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::string type = item.substr(0, item.find(';'));
    type.erase(std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }), type.end());
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
    double q = 1;
    if (auto at = item.find("q="); at != std::string::npos) q = std::atof(item.c_str() + at + 2);
    std::optional<Format> f;
    if (type == "application/json" || type == "application/*" || type == "*/*") f = Format::kJson;
    else if (type == "text/csv" || type == "text/*") f = Format::kCsv;
    else if (type == "image/svg+xml" || type == "image/*") f = Format::kSvg;
    if (f && q > best_q) {
      best = f;
      best_q = q;
    }
  }
  if (!best)
    return Error::not_acceptable("not_acceptable",
                                 "this report is answered as application/json, text/csv or image/svg+xml");
  return *best;
}

Response answer(const Request& req, std::string_view report, const Result<Json>& body) {
  if (!body.ok()) return http::error_response(req, body.error());
  auto format = negotiate(req);
  if (!format.ok()) return http::error_response(req, format.error());
  if (*format == Format::kJson) return http::json_response(200, *body);
  auto text = *format == Format::kCsv ? render_csv(report, *body) : render_svg(report, *body);
  if (!text)
    return http::error_response(req, Error::not_acceptable("not_acceptable", "this report has no " +
                                                                                 std::string(*format == Format::kCsv
                                                                                                 ? "CSV"
                                                                                                 : "SVG") +
                                                                                 " form; ask for application/json"));
  Response r;
  r.status = 200;
  r.body = std::move(*text);
  if (*format == Format::kCsv) {
    r.content_type = "text/csv; charset=utf-8";
    r.set_header("Content-Disposition", "attachment; filename=\"" + std::string(report) + ".csv\"");
  } else {
    r.content_type = "image/svg+xml; charset=utf-8";
  }
  r.set_header("Vary", "Accept");
  return r;
}

// The query keys each report reads.
struct Spec {
  const char* report;
  std::vector<std::string> keys;
};

const std::vector<std::string> kSlice = {"currency", "plan", "tier", "coupon", "source"};
std::vector<std::string> with_slice(std::vector<std::string> keys) {
  keys.insert(keys.end(), kSlice.begin(), kSlice.end());
  return keys;
}

Result<ReportQuery> parse(const Request& req, const std::vector<std::string>& keys, Timestamp now) {
  RECUR_TRY(http::check_query(req, std::vector<std::string_view>(keys.begin(), keys.end())));
  ReportQuery q;
  q.at = now;
  q.to = now;
  std::vector<FieldError> errors;
  bool has_from = false;
  for (const auto& [key, value] : req.query) {
    auto time = [&](Timestamp& out) {
      auto t = parse_time_input(key, value);
      if (t.ok()) out = *t;
      else errors.push_back({key, "invalid_value", key + " must be an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)"});
    };
    auto text = [&](std::optional<std::string>& out) {
      if (value.empty() || value.size() > 64) errors.push_back({key, "invalid_value", key + " must be 1 to 64 characters"});
      else out = value;
    };
    if (key == "at") time(q.at);
    else if (key == "from") { time(q.from); has_from = true; }
    else if (key == "to") time(q.to);
    else if (key == "interval") {
      if (auto i = parse_bucket_interval(value)) q.interval = *i;
      else errors.push_back({"interval", "invalid_value", "interval must be day, week, month, quarter or year"});
    } else if (key == "currency") {
      if (!is_known_currency(value)) errors.push_back({"currency", "invalid_value", "currency must be an ISO 4217 code"});
      else q.currency = normalize_currency(value);
    } else if (key == "plan") text(q.plan);
    else if (key == "tier") text(q.tier);
    else if (key == "coupon") text(q.coupon);
    else if (key == "source") {
      if (value == kDirect || value == kGift) q.source = value;
      else errors.push_back({"source", "invalid_value", "source must be direct or gift"});
    } else if (key == "group_by") {
      if (value == "plan" || value == "tier" || value == "coupon" || value == "source") q.group_by = value;
      else errors.push_back({"group_by", "invalid_value", "group_by must be plan, tier, coupon or source"});
    } else if (key == "limit") {
      char* end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 1 || n > 1000)
        errors.push_back({"limit", "out_of_range", "limit must be an integer from 1 to 1000"});
      else q.limit = static_cast<int>(n);
    } else if (key == "sort") {
      if (value == "ltv" || value == "realised" || value == "expected_future") q.sort = value;
      else errors.push_back({"sort", "invalid_value", "sort must be ltv, realised or expected_future"});
    }
  }
  if (!has_from) {
    // Default: the 12 buckets of the interval that end with the one holding `to`.
    Timestamp start = bucket_of(q.to > 0 ? q.to - 1 : 0, q.interval).start;
    for (int i = 0; i < 11; ++i) start = bucket_of(start - 1, q.interval).start;
    q.from = start;
  }
  if (errors.empty() && q.from >= q.to) errors.push_back({"from", "out_of_range", "from must be before to"});
  if (!errors.empty()) {
    std::string detail = errors.front().message;
    return Error::invalid("validation_failed", detail, std::move(errors));
  }
  return q;
}

}  // namespace

void add_routes(http::Router& router, Reports& reports, db::Database& db, const Clock& clock) {
  const std::string perm(access::perm::kAnalyticsRead);
  using Run = Result<Json> (Reports::*)(const ReportQuery&);
  struct Route {
    const char* report;
    std::vector<std::string> keys;
    Run run;
  };
  const std::vector<std::string> range = {"from", "to", "interval"};
  auto ranged = [&](std::vector<std::string> extra = {}) {
    auto keys = with_slice(range);
    keys.insert(keys.end(), extra.begin(), extra.end());
    return keys;
  };
  const std::vector<Route> routes = {
      {"mrr", with_slice({"at"}), &Reports::mrr},
      {"mrr-movements", ranged(), &Reports::movements},
      {"churn", ranged(), &Reports::churn},
      {"ltv", with_slice({"at"}), &Reports::ltv},
      {"renewals", ranged(), &Reports::renewals},
      {"cohorts", {"from", "to", "interval", "currency"}, &Reports::cohorts},
      {"survival", with_slice({"group_by"}), &Reports::survival},
      {"engagement", ranged(), &Reports::engagement},
      {"cancellations", ranged(), &Reports::cancellations},
      {"at-risk", with_slice({"limit"}), &Reports::at_risk},
      {"customers", {"currency", "sort", "limit"}, &Reports::customers},
  };
  for (const auto& r : routes) {
    const std::string path = std::string("/v1/analytics/") + r.report;
    router.add("GET", path, perm, [&reports, &clock, r](Request& req) {
      auto q = parse(req, r.keys, clock.now());
      if (!q.ok()) return http::error_response(req, q.error());
      return answer(req, r.report, (reports.*r.run)(*q));
    });
    router.reads_query("GET", path);
  }
  router.add("GET", "/v1/customers/{id}/ltv", perm, [&reports, &db, &clock](Request& req) {
    auto q = parse(req, {"currency"}, clock.now());
    if (!q.ok()) return http::error_response(req, q.error());
    const std::string id = req.path_params.at("id");
    auto found = db::transact(db, [&](db::Tx& tx) { return customers::find_customer(tx, id); }, db::TxMode::kReadOnly);
    if (!found.ok()) return http::error_response(req, found.error());
    if (!*found) return http::error_response(req, Error::not_found("customer_not_found", "no customer with id '" + id + "'"));
    return answer(req, "customer-ltv", reports.customer_ltv(id, *q));
  });
  router.reads_query("GET", "/v1/customers/{id}/ltv");
}

}  // namespace recur::analytics
