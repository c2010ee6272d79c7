// GET /v1/audit-log (permission audit:read). Here rather than in src/audit/, which sits below
// events (every appended event is an audit entry) and so below access's permissions.
#pragma once

#include "audit/service.h"
#include "platform/http/router.h"

namespace recur::app {

void add_audit_routes(http::Router& router, audit::AuditLog& log);

}  // namespace recur::app
