// HTTP mapping of purchasing: /v1/suppliers and /v1/purchase-orders.
#pragma once

#include "inventory/purchasing.h"
#include "platform/http/router.h"

namespace recur::inventory {

void add_purchasing_routes(http::Router& router, PurchasingService& service);

}  // namespace recur::inventory
