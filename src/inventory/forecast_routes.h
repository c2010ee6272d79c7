// HTTP mapping of GET /v1/forecasts: expected demand per SKU and time bucket.
#pragma once

#include "inventory/forecast_store.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/http/router.h"

namespace recur::inventory {

// Read-only: read_forecast reads in one transaction per request, with the parsed subscriptions
// `cache` keeps; "now" from `clock`. Permission inventory:read.
void add_forecast_routes(http::Router& router, db::Database& db, const Clock& clock, ForecastCache& cache);

}  // namespace recur::inventory
