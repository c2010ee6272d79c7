// The analytics routes (GET /v1/analytics/*, GET /v1/customers/{id}/ltv; analytics:read).
#pragma once

#include "analytics/service.h"
#include "platform/http/router.h"

namespace recur::analytics {

void add_routes(http::Router& router, Reports& reports, db::Database& db, const Clock& clock);

}  // namespace recur::analytics
