// HTTP mapping of /v1/customers.
#pragma once

#include <functional>
#include <string>

#include "customers/service.h"
#include "customers/sessions.h"
#include "platform/http/router.h"

namespace recur::customers {

void add_routes(http::Router& router, CustomerService& service);
// POST /v1/customer-sessions; `sign_in_link` makes the answer's `url` of its one-time token.
void add_session_routes(http::Router& router, CustomerSessions& sessions,
                        std::function<std::string(const std::string& token)> sign_in_link);

}  // namespace recur::customers
