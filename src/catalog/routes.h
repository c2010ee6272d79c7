// HTTP mapping of the catalog: /v1/products and /v1/plans.
#pragma once

#include "catalog/service.h"
#include "platform/http/router.h"

namespace recur::catalog {

void add_routes(http::Router& router, CatalogService& service);

}  // namespace recur::catalog
