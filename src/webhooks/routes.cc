// Events API routes (the list with its filters, and one event) and webhook endpoint routes.
#include "webhooks/routes.h"

#include "access/model.h"
#include "platform/json.h"
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

template <typename T>
Json optional_value(const std::optional<T>& v) { return v ? Json(*v) : Json(nullptr); }

constexpr std::string_view kEventForms =
    "an event type (\"invoice.paid\"), \"<resource>.*\" for every type of a resource (\"invoice.*\"), or \"*\"";

std::optional<std::vector<std::string>> read_enabled_events(FieldReader& f, bool required) {
  const Json* events = f.array("enabled_events", required, 100);
  if (!events) return std::nullopt;
  if (events->empty()) {
    f.fail("enabled_events", "invalid_value", "enabled_events must name at least one event: " + std::string(kEventForms));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < events->size(); ++i) {
    std::string field = "enabled_events[" + std::to_string(i) + "]";
    const Json& v = (*events)[i];
    if (!v.is_string() || !is_event_pattern(v.get<std::string>(), true)) {
      f.fail(field, "invalid_value", field + " must be " + std::string(kEventForms) + " (docs/events.md lists the types)");
      ok = false;
      continue;
    }
    if (std::find(out.begin(), out.end(), v.get<std::string>()) == out.end()) out.push_back(v.get<std::string>());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> read_url(FieldReader& f, bool required) {
  auto url = f.text("url", required, 2048);
  if (url && !is_webhook_url(*url)) {
    f.fail("url", "invalid_url", "url must be an absolute http:// or https:// URL with a host and no credentials");
    return std::nullopt;
  }
  return url;
}

Result<EndpointInput> parse_endpoint(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  EndpointInput in;
  auto url = read_url(f, true);
  auto events = read_enabled_events(f, true);
  in.description = f.text("description", false, 2000, 0);
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.url = *url;
  in.enabled_events = *events;
  return in;
}

Result<std::pair<EndpointPatch, std::int64_t>> parse_endpoint_patch(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  EndpointPatch patch;
  patch.url = read_url(f, false);
  patch.enabled_events = read_enabled_events(f, false);
  patch.status = f.one_of("status", false, {"enabled", "disabled"});
  if (f.is_null("description")) patch.description = std::optional<std::string>();
  else if (auto d = f.text("description", false, 2000, 0)) patch.description = d;
  f.accept("description");
  patch.metadata = f.metadata("metadata");
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

const std::vector<std::string_view> kDeliveryStatuses = {"pending", "succeeded", "failed"};

Result<ReplayRequest> parse_replay(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  ReplayRequest in;
  auto from = f.timestamp("from", true);
  in.to = f.timestamp("to", false);
  in.status = f.one_of("status", false, {"failed", "succeeded"});
  if (from && in.to && *in.to <= *from) f.fail("to", "invalid_value", "to must be after from");
  RECUR_TRY(f.finish());
  in.from = *from;
  return in;
}

Json to_json(const ReplayResult& r) {
  return Json{{"object", "webhook_replay"},
              {"endpoint", r.endpoint_id},
              {"from", format_rfc3339(r.from)},
              {"to", format_rfc3339(r.to)},
              {"status", optional_value(r.status)},
              {"deliveries", r.deliveries}};
}

}  // namespace

Json to_json(const Endpoint& e, bool with_secret) {
  return Json{{"id", e.id},
              {"object", "webhook_endpoint"},
              {"url", e.url},
              {"enabled_events", e.enabled_events},
              {"status", e.status},
              {"secret", with_secret ? Json(e.secret) : Json(nullptr)},
              {"previous_secret_expires_at", to_json_time(e.previous_secret_expires_at)},
              {"failing_since", to_json_time(e.failing_since)},
              {"description", optional_value(e.description)},
              {"metadata", e.metadata},
              {"supplier", optional_value(e.supplier_id)},
              {"created", format_rfc3339(e.created)},
              {"updated", format_rfc3339(e.updated)},
              {"version", e.version}};
}

Json to_json(const Delivery& d) {
  Json attempts = Json::array();
  for (const auto& a : d.history)
    attempts.push_back(Json{{"attempt", a.number},
                            {"attempted_at", format_rfc3339(a.at)},
                            {"status_code", optional_value(a.status_code)},
                            {"duration_ms", a.duration_ms},
                            {"error", optional_value(a.error)}});
  return Json{{"id", d.id},
              {"object", "webhook_delivery"},
              {"endpoint", d.endpoint_id},
              {"event", d.event_id},
              {"event_type", d.event_type},
              {"origin", d.origin},
              {"status", d.status},
              {"attempt_count", d.attempts},
              {"next_attempt_at", to_json_time(d.status == "pending" ? d.next_attempt_at : std::nullopt)},
              {"last_status_code", optional_value(d.last_status_code)},
              {"last_error", optional_value(d.last_error)},
              {"last_duration_ms", optional_value(d.last_duration_ms)},
              {"attempts", std::move(attempts)},
              {"created", format_rfc3339(d.created)},
              {"updated", format_rfc3339(d.updated)}};
}

void add_endpoint_routes(http::Router& router, WebhookService& webhooks) {
  std::string manage(access::perm::kWebhooksManage);
  auto with_secret = [](const Endpoint& e) { return to_json(e, true); };
  auto without_secret = [](const Endpoint& e) { return to_json(e, false); };
  router.add("POST", "/v1/webhook-endpoints", manage, [&webhooks, with_secret](Request& req) {
    auto input = parse_endpoint(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, webhooks.create(*input), 201, with_secret);
  });
  router.add("GET", "/v1/webhook-endpoints", manage, [&webhooks, without_secret](Request& req) {
    auto page = http::page_request(req, {"created"});
    if (!page.ok()) return http::error_response(req, page.error());
    return http::list_response(req, webhooks.list(*page), "/v1/webhook-endpoints", without_secret);
  });
  router.add("GET", "/v1/webhook-endpoints/{id}", manage, [&webhooks, without_secret](Request& req) {
    return http::respond(req, webhooks.get(req.path_params["id"]), 200, without_secret);
  });
  router.add("PATCH", "/v1/webhook-endpoints/{id}", manage, [&webhooks, without_secret](Request& req) {
    auto patch = parse_endpoint_patch(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    return http::respond(req, webhooks.update(req.path_params["id"], patch->first, patch->second), 200,
                         without_secret);
  });
  router.add("DELETE", "/v1/webhook-endpoints/{id}", manage, [&webhooks](Request& req) {
    std::string id = req.path_params["id"];
    auto removed = webhooks.remove(id);
    if (!removed.ok()) return http::error_response(req, removed.error());
    return http::json_response(200, {{"id", id}, {"object", "webhook_endpoint"}, {"deleted", true}});
  });
  router.add("POST", "/v1/webhook-endpoints/{id}/rotate-secret", manage, [&webhooks, with_secret](Request& req) {
    return http::respond(req, webhooks.rotate_secret(req.path_params["id"]), 200, with_secret);
  });
  router.add("GET", "/v1/webhook-endpoints/{id}/deliveries", manage, [&webhooks](Request& req) {
    auto page = http::page_request(req, {"status", "created"});
    if (!page.ok()) return http::error_response(req, page.error());
    auto statuses = http::enum_list(req, "status", kDeliveryStatuses);
    if (!statuses.ok()) return http::error_response(req, statuses.error());
    std::string id = req.path_params["id"];
    return http::list_response(req, webhooks.deliveries(DeliveryFilter{id, *statuses, *page}),
                               "/v1/webhook-endpoints/" + id + "/deliveries",
                               [](const Delivery& d) { return to_json(d); });
  });
  router.add("POST", "/v1/webhook-endpoints/{id}/replay", manage, [&webhooks](Request& req) {
    auto replay = parse_replay(req);
    if (!replay.ok()) return http::error_response(req, replay.error());
    return http::respond(req, webhooks.replay(req.path_params["id"], *replay), 200,
                         [](const ReplayResult& r) { return to_json(r); });
  });
  router.add("POST", "/v1/events/{id}/resend", manage, [&webhooks](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    auto endpoint = f.text("endpoint", true, 64);
    if (auto done = f.finish(); !done.ok()) return http::error_response(req, done.error());
    return http::respond(req, webhooks.resend(req.path_params["id"], *endpoint), 201,
                         [](const Delivery& d) { return to_json(d); });
  });
  router.reads_query("GET", "/v1/webhook-endpoints");
  router.reads_query("GET", "/v1/webhook-endpoints/{id}/deliveries");
}

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
