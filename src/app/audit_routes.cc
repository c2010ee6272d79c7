// The audit log's route: its filters (resource, actor, action, created bounds) and pages.
#include "app/audit_routes.h"

#include "access/model.h"
#include "platform/http/rest.h"

namespace recur::app {

void add_audit_routes(http::Router& router, audit::AuditLog& log) {
  router.add("GET", "/v1/audit-log", std::string(access::perm::kAuditRead), [&log](http::Request& req) {
    auto page = http::page_request(req, {"resource", "actor", "action", "created"});
    if (!page.ok()) return http::error_response(req, page.error());
    audit::Filter filter{req.query_param("resource"), req.query_param("actor"), req.query_param("action"), *page};
    return http::list_response(req, log.list(filter), "/v1/audit-log",
                               [](const audit::Entry& e) { return audit::to_json(e); });
  });
  router.reads_query("GET", "/v1/audit-log");
}

}  // namespace recur::app
