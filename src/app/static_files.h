// /docs (Swagger UI from swagger-ui-dist), /openapi.yaml, the analytics dashboard
// (/dashboard, from the repository's dashboard/ folder) and the hosted invoice page (/i, from
// invoice-page/), loaded into memory at start.
#pragma once

#include <string>

#include "platform/http/router.h"

namespace recur::app {

// Empty paths (or missing files) leave the routes out, with a warning in the log.
void add_static_routes(http::Router& router, const std::string& docs_dir, const std::string& spec_path);

// A page of three files from `dir` (index.html, app.js, app.css), served at `route`,
// `route`/app.js and `route`/app.css: public, like /docs. Files, not inline script or style:
// the page's Content-Security-Policy (platform/http/security_headers.h) allows scripts from
// this origin only. `what` names the page in the warning when a file is missing.
//  - /dashboard (dashboard/): the analytics dashboard; it asks for an API key and calls the
//    analytics endpoints with it.
//  - /i (invoice-page/): the hosted invoice page of the links in payment messages; the
//    link's token is in the URL's fragment (/i#TOKEN), which browsers never send, and the page
//    posts it in request bodies only (decision 0023).
void add_page_routes(http::Router& router, const std::string& dir, const std::string& route, const std::string& what);

}  // namespace recur::app
