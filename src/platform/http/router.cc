// Route matching: literal segments beat parameters, so /change-plan/preview is not {offer}.
#include "platform/http/router.h"

#include <algorithm>

namespace recur::http {
namespace {

template <typename Part>
std::vector<Part> split_path(std::string_view path) {
  std::vector<Part> out;
  out.reserve(8);
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool is_param(const std::string& seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

// Score: number of literal segments matched; -1 when the path does not fit.
int fit(const Route& route, const std::vector<std::string_view>& parts) {
  if (route.segments.size() != parts.size()) return -1;
  int literal = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (is_param(route.segments[i])) continue;
    if (route.segments[i] != parts[i]) return -1;
    ++literal;
  }
  return literal;
}

}  // namespace

void Router::add(std::string method, std::string pattern, std::string permission, Handler handler) {
  Route r{std::move(method), std::move(pattern), std::move(permission), std::move(handler), {}};
  r.segments = split_path<std::string>(r.pattern);
  routes_.push_back(std::move(r));
}

Match Router::match(Request& request) const {
  auto parts = split_path<std::string_view>(request.path);
  Match best;
  int best_score = -1;
  for (const auto& route : routes_) {
    int score = fit(route, parts);
    if (score < 0) continue;
    if (route.method != request.method) {
      if (std::find(best.allowed.begin(), best.allowed.end(), route.method) == best.allowed.end())
        best.allowed.push_back(route.method);
      continue;
    }
    if (score > best_score) {
      best_score = score;
      best.route = &route;
    }
  }
  if (!best.route) return best;
  request.path_params.clear();
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (is_param(best.route->segments[i]))
      request.path_params[best.route->segments[i].substr(1, best.route->segments[i].size() - 2)] = std::string(parts[i]);
  return best;
}

bool Router::may_run_inline(const Request& request) const {
  std::string_view method = request.method == "HEAD" ? std::string_view("GET") : std::string_view(request.method);
  std::vector<std::string_view> parts;
  for (const auto& route : routes_) {
    if (!route.runs_inline || route.method != method) continue;
    if (parts.empty()) parts = split_path<std::string_view>(request.path);
    if (fit(route, parts) >= 0) return true;
  }
  return false;
}

bool Router::allow_inline(std::string_view method, std::string_view pattern) {
  bool found = false;
  for (auto& route : routes_)
    if (route.method == method && route.pattern == pattern) found = route.runs_inline = true;
  return found;
}

bool Router::reads_query(std::string_view method, std::string_view pattern) {
  bool found = false;
  for (auto& route : routes_)
    if (route.method == method && route.pattern == pattern) found = route.reads_query = true;
  return found;
}

bool Router::expands(std::string_view method, std::string_view pattern, std::vector<std::string> fields) {
  bool found = false;
  for (auto& route : routes_)
    if (route.method == method && route.pattern == pattern) {
      route.expandable = fields;
      found = true;
    }
  return found;
}

bool Router::commits_in_steps(std::string_view method, std::string_view pattern) {
  bool found = false;
  for (auto& route : routes_)
    if (route.method == method && route.pattern == pattern) found = route.commits_in_steps = true;
  return found;
}

bool Router::reads_may_lag(std::string_view method, std::string_view pattern) {
  bool found = false;
  for (auto& route : routes_)
    if (route.method == method && route.pattern == pattern) found = route.reads_may_lag = true;
  return found;
}

bool Router::for_customers(std::string_view method, std::string_view pattern, CustomerScope scope) {
  bool found = false;
  for (auto& route : routes_)
    if (route.method == method && route.pattern == pattern) {
      route.customer_scope = scope;
      found = true;
    }
  return found;
}

}  // namespace recur::http
