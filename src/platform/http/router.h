// A small router: method + path pattern with {params} -> handler and the permission it needs.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/http/message.h"

namespace recur::http {

using Handler = std::function<Response(Request&)>;

struct Route {
  std::string method;
  std::string pattern;     // "/v1/subscriptions/{id}/pause"
  std::string permission;  // "subscriptions:write"; empty = public (no key needed)
  Handler handler;
  std::vector<std::string> segments;  // pattern split on '/'
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
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace recur::http
