// /docs (Swagger UI from swagger-ui-dist) and /openapi.yaml, loaded into memory at start.
#pragma once

#include <string>

#include "platform/http/router.h"

namespace recur::app {

// Empty paths (or missing files) leave the routes out, with a warning in the log.
void add_static_routes(http::Router& router, const std::string& docs_dir, const std::string& spec_path);

}  // namespace recur::app
