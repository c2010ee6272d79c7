// Static documentation routes.
#include "app/static_files.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

namespace recur::app {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

http::Response file_response(const std::string& body, const std::string& type) {
  http::Response r;
  r.content_type = type;
  r.body = body;
  r.set_header("Cache-Control", "public, max-age=300");
  return r;
}

// Swagger UI's page, pointed at our spec. The charset matters: without it Chromium
// misreads the bundle and the page stays blank. No inline script: the page's
// Content-Security-Policy (platform/http/security_headers.h) allows scripts from this origin
// only, so the start-up call is a file of its own.
constexpr const char* kDocsPage = R"(<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Recur API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js" charset="utf-8"></script>
  <script src="/docs/swagger-init.js" charset="utf-8"></script>
</body>
</html>
)";

constexpr const char* kDocsInit =
    "window.ui = SwaggerUIBundle({ url: \"/openapi.yaml\", dom_id: \"#swagger-ui\", deepLinking: true });\n";

// A page's files and their types; index.html is the page itself (at the route).
struct PageFile {
  const char* name;
  const char* suffix;
  const char* type;
};
constexpr PageFile kPageFiles[] = {
    {"index.html", "", "text/html; charset=utf-8"},
    {"app.js", "/app.js", "application/javascript; charset=utf-8"},
    {"app.css", "/app.css", "text/css; charset=utf-8"},
};

}  // namespace

void add_static_routes(http::Router& router, const std::string& docs_dir, const std::string& spec_path) {
  if (!spec_path.empty()) {
    if (auto spec = read_file(spec_path)) {
      auto body = std::make_shared<std::string>(std::move(*spec));
      router.add("GET", "/openapi.yaml", "", [body](http::Request&) {
        return file_response(*body, "application/yaml; charset=utf-8");
      });
    } else {
      spdlog::warn("no OpenAPI description at {}: /openapi.yaml is not served", spec_path);
    }
  }
  if (docs_dir.empty()) return;
  auto css = read_file(docs_dir + "/swagger-ui.css");
  auto js = read_file(docs_dir + "/swagger-ui-bundle.js");
  if (!css || !js) {
    spdlog::warn("swagger-ui-dist not found in {}: /docs is not served (run scripts/install-deps.sh)", docs_dir);
    return;
  }
  auto css_body = std::make_shared<std::string>(std::move(*css));
  auto js_body = std::make_shared<std::string>(std::move(*js));
  router.add("GET", "/docs", "", [](http::Request&) { return file_response(kDocsPage, "text/html; charset=utf-8"); });
  router.add("GET", "/docs/swagger-ui.css", "", [css_body](http::Request&) {
    return file_response(*css_body, "text/css; charset=utf-8");
  });
  router.add("GET", "/docs/swagger-ui-bundle.js", "", [js_body](http::Request&) {
    return file_response(*js_body, "application/javascript; charset=utf-8");
  });
  router.add("GET", "/docs/swagger-init.js", "", [](http::Request&) {
    return file_response(kDocsInit, "application/javascript; charset=utf-8");
  });
}

void add_page_routes(http::Router& router, const std::string& dir, const std::string& route, const std::string& what) {
  if (dir.empty()) return;
  std::vector<std::pair<const PageFile*, std::shared_ptr<std::string>>> loaded;
  for (const auto& file : kPageFiles) {
    auto body = read_file(dir + "/" + file.name);
    if (!body) {
      spdlog::warn("no {} in {}: {} ({}) is not served (run from the repository, or name its folder)", file.name, dir,
                   route, what);
      return;
    }
    loaded.emplace_back(&file, std::make_shared<std::string>(std::move(*body)));
  }
  for (const auto& [file, body] : loaded) {
    router.add("GET", route + file->suffix, "",
               [body, type = file->type](http::Request&) { return file_response(*body, type); });
  }
}

}  // namespace recur::app
