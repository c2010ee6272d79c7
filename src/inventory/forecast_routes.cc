// GET /v1/forecasts: parse and validate the query, run the forecast, render it.
#include "inventory/forecast_routes.h"

#include <thread>

#include "access/model.h"
#include "inventory/forecast_store.h"
#include "platform/http/rest.h"

namespace recur::inventory {
namespace {

using http::Request;
using http::Response;

// ?horizon=90d|12w (default 90d), ?granularity=day|week|month (default week),
// ?level=0.8|0.9|0.95 (default 0.8), ?product=prod_... and/or ?sku=...; anything else is refused.
Result<ForecastRequest> parse_request(const Request& req, Timestamp now) {
  ForecastRequest out;
  out.as_of = now;
  std::vector<FieldError> errors;
  RECUR_TRY(http::check_query(req, {"horizon", "granularity", "level", "product", "sku"}));
  for (const auto& [key, value] : req.query) {
    if (key == "horizon") {
      if (auto days = parse_horizon_days(value)) out.horizon_days = *days;
      else errors.push_back({"horizon", "invalid_value", "horizon must be days or weeks up to a year, e.g. 90d or 12w"});
    } else if (key == "granularity") {
      if (auto g = parse_granularity(value)) out.granularity = *g;
      else errors.push_back({"granularity", "invalid_value", "granularity must be day, week or month"});
    } else if (key == "level") {
      if (value == "0.8" || value == "0.9" || value == "0.95") out.level = std::stod(value);
      else errors.push_back({"level", "invalid_value", "level must be 0.8, 0.9 or 0.95"});
    } else if (key == "product" || key == "sku") {
      if (value.empty() || value.size() > 64) errors.push_back({key, "invalid_value", key + " must be 1 to 64 characters"});
      else (key == "product" ? out.product : out.sku) = value;
    } else {
      errors.push_back({key, "unknown_parameter", "unknown query parameter '" + key + "'"});
    }
  }
  if (!errors.empty()) {
    std::string detail = errors.front().message;
    return Error::invalid("validation_failed", detail, std::move(errors));
  }
  out.threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 2u));
  return out;
}

}  // namespace

void add_forecast_routes(http::Router& router, db::Database& db, const Clock& clock, ForecastCache& cache) {
  router.add("GET", "/v1/forecasts", std::string(access::perm::kInventoryRead), [&db, &clock, &cache](Request& req) {
    auto request = parse_request(req, clock.now());
    if (!request.ok()) return http::error_response(req, request.error());
    auto report = read_forecast(db, *request, &cache);
    if (!report.ok()) return http::error_response(req, report.error());
    http::Response response;
    response.status = 200;
    response.body = forecast_body(*report);
    return response;
  });
  router.reads_query("GET", "/v1/forecasts");
}

}  // namespace recur::inventory
