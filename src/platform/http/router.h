// A small router: method + path pattern with {params} -> handler and the permission it needs.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/http/message.h"
#include "platform/result.h"

namespace recur::http {

using Handler = std::function<Response(Request&)>;
// How a route serves a customer session: checks that what the request names belongs to
// `customer` (or fills the customer in), else the error to answer (a 404 as for an id that
// does not exist, so a session learns nothing of other customers).
using CustomerScope = std::function<Status(Request&, const std::string& customer)>;

struct Route {
  std::string method;
  std::string pattern;     // "/v1/subscriptions/{id}/pause"
  std::string permission;  // "subscriptions:write"; empty = public (no key needed)
  Handler handler;
  std::vector<std::string> segments;  // pattern split on '/'
  // The handler may run on an HTTP I/O thread (see Router::allow_inline).
  bool runs_inline = false;
  // The handler commits in steps around calls to other systems (see Router::commits_in_steps).
  bool commits_in_steps = false;
  // The handler reads the query string and refuses what it does not know (see
  // Router::reads_query); otherwise the pipeline refuses any query parameter.
  bool reads_query = false;
  // The fields `expand[]` may name on this route's objects (see Router::expands).
  std::vector<std::string> expandable;
  // Set on the routes a customer session may call (Router::for_customers); every other
  // route answers such a caller 403 customer_session_forbidden.
  CustomerScope customer_scope;
  // Its reads may lag the primary by a bounded staleness (see Router::reads_may_lag).
  bool reads_may_lag = false;
};

struct Match {
  const Route* route = nullptr;
  std::vector<std::string> allowed;  // methods the path answers to, when not this one (405)
};

class Router {
 public:
  void add(std::string method, std::string pattern, std::string permission, Handler handler);
  // Fills request.path_params on a match.
  Match match(Request& request) const;
  // Whether the request fits a route marked allow_inline (HEAD as GET): a cheap filter before
  // trying it on an I/O thread. Its best match may still be another route, which then throws
  // WouldBlock as before. A request this refuses goes to a worker: one that fits no route at
  // all (a 404 or 405) is answered there, not inline as before.
  bool may_run_inline(const Request& request) const;
  // Lets the server try this route's handler on its I/O thread, under a NonBlockingScope
  // (platform/blocking.h), before it hands the request to the blocking pool. Only for a
  // handler that either answers without blocking or reaches its first blocking call
  // (a database connection) before doing anything else: on WouldBlock the whole request
  // runs again on the pool. False if there is no such route.
  bool allow_inline(std::string_view method, std::string_view pattern);
  // Declares that this route's handler commits before and after calling another system (a
  // gateway charge or refund: decision 0005), so it must not run inside one request
  // transaction; its service makes a retry under the same Idempotency-Key resume what the
  // first try committed instead of doing it again (decision 0009). False if no such route.
  bool commits_in_steps(std::string_view method, std::string_view pattern);
  // Declares that this route only reads, and that what it reads may lag the writes before
  // it by the replica's staleness bound (a list, analytics, a forecast): its handler runs
  // under a StaleReadsScope (platform/read_consistency.h), so a database with a read replica
  // (db::ReplicaRouter) may serve it from there. False if no such route.
  bool reads_may_lag(std::string_view method, std::string_view pattern);
  // Declares that this route's handler reads query parameters and refuses unknown ones
  // itself (a list through http::page_request, others through http::check_query). Every
  // other route with a permission answers 422 unknown_parameter to any query parameter, so
  // a retrieve never silently ignores one. False if no such route.
  bool reads_query(std::string_view method, std::string_view pattern);
  // Lets `?expand[]=FIELD` (Stripe's) replace these fields of the route's object, or of
  // each item of its list, by the objects they name (Pipeline::set_expander fetches them).
  // Any other expansion is refused (422), never ignored. False if no such route.
  bool expands(std::string_view method, std::string_view pattern, std::vector<std::string> fields);
  // Opens this route to customer sessions, with the check of what they may reach on it
  // (see CustomerScope). False if no such route.
  bool for_customers(std::string_view method, std::string_view pattern, CustomerScope scope);
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace recur::http
