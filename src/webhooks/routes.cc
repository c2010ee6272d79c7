// Events API routes: the list with its filters, and one event.
#include "webhooks/routes.h"

#include "access/model.h"
#include "platform/http/rest.h"

namespace recur::webhooks {
namespace {

using http::Request;
using http::Response;

// Every value ?type= may take: each type, and "<resource>.*" for each resource.
const std::vector<std::string_view>& type_filters() {
  static const std::vector<std::string_view> kFilters = [] {
    static std::vector<std::string> wildcards;
    for (std::string_view type : event_types()) {
      std::string w = std::string(type.substr(0, type.find('.'))) + ".*";
      if (std::find(wildcards.begin(), wildcards.end(), w) == wildcards.end()) wildcards.push_back(w);
    }
    std::vector<std::string_view> out(event_types().begin(), event_types().end());
    for (const auto& w : wildcards) out.push_back(w);
    return out;
  }();
  return kFilters;
}

Result<EventQuery> event_query(const Request& req) {
  RECUR_ASSIGN(auto page, http::page_request(req, {"type", "resource", "created"}));
  RECUR_ASSIGN(auto types, http::enum_list(req, "type", type_filters()));
  return EventQuery{std::move(types), req.query_param("resource"), page};
}

}  // namespace

void add_routes(http::Router& router, EventsApi& events) {
  std::string read(access::perm::kEventsRead);
  router.add("GET", "/v1/events", read, [&events](Request& req) {
    auto query = event_query(req);
    if (!query.ok()) return http::error_response(req, query.error());
    return http::list_response(req, events.list(*query), "/v1/events");
  });
  router.reads_query("GET", "/v1/events");
  router.add("GET", "/v1/events/{id}", read, [&events](Request& req) {
    return http::respond(req, events.get(req.path_params["id"]), 200,
                         [](const events::Event& e) { return events::to_json(e); });
  });
}

}  // namespace recur::webhooks
