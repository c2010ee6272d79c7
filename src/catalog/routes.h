// HTTP mapping of the catalog: /v1/products, /v1/plans, /v1/coupons, /v1/promotion-codes.
#pragma once

#include "catalog/service.h"
#include "platform/http/router.h"

namespace recur::catalog {

void add_routes(http::Router& router, CatalogService& service);
// Coupons and promotion codes (called by add_routes).
void add_coupon_routes(http::Router& router, CatalogService& service);
// /v1/tiers: tiers of plans with their entitlements (catalog permissions).
void add_tier_routes(http::Router& router, CatalogService& service);

}  // namespace recur::catalog
