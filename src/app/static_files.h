// /docs (Swagger UI from swagger-ui-dist), /openapi.yaml and the analytics dashboard
// (/dashboard, from the repository's dashboard/ folder), loaded into memory at start.
#pragma once

#include <string>

#include "platform/http/router.h"

namespace recur::app {

// Empty paths (or missing files) leave the routes out, with a warning in the log.
void add_static_routes(http::Router& router, const std::string& docs_dir, const std::string& spec_path);

// GET /dashboard (index.html) and its script and stylesheet (/dashboard/app.js, app.css) from
// `dashboard_dir`: public, like /docs; the page asks for an API key and calls the analytics
// endpoints with it. Files, not inline script or style: the page's Content-Security-Policy
// (platform/http/security_headers.h) allows scripts from this origin only.
void add_dashboard_routes(http::Router& router, const std::string& dashboard_dir);

}  // namespace recur::app
