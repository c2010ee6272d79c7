// HTTP mapping of /v1/customers.
#pragma once

#include "customers/service.h"
#include "platform/http/router.h"

namespace recur::customers {

void add_routes(http::Router& router, CustomerService& service);

}  // namespace recur::customers
