// HTTP mapping of API keys (/v1/api-keys) and roles (/v1/roles).
#pragma once

#include "access/service.h"
#include "platform/http/router.h"

namespace recur::access {

void add_routes(http::Router& router, ApiKeys& keys);

}  // namespace recur::access
