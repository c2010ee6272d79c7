// Which routes a customer session ("cs_..." token) may call, and on what: the documented
// subset of docs/portal.md, each with the check that what the request names is that
// customer's own. It sees every module's lookups, so it lives here.
#pragma once

#include "platform/http/router.h"

namespace recur::app {

class App;

// Requires: every module's routes added. Throws std::logic_error if a route it opens does
// not exist (a renamed route must not silently close the portal).
void open_routes_to_customers(http::Router& router, App& app);

}  // namespace recur::app
