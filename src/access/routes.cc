// API keys and custom roles over the API: permission api_keys:manage (admin).
#include "access/routes.h"

#include "access/actor.h"
#include "access/model.h"
#include "platform/http/rest.h"
#include "platform/json.h"

namespace recur::access {
namespace {

using http::Request;
using http::Response;

Result<KeyInput> parse_key(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  KeyInput in;
  auto role = f.text("role", true, 40);
  auto name = f.text("name", true, 100);
  in.expires_at = f.timestamp("expires_at", false);
  RECUR_TRY(f.finish());
  in.role = *role;
  in.name = *name;
  return in;
}

struct RoleInput {
  std::string name;
  std::vector<std::string> permissions;
};

Result<RoleInput> parse_role(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  RoleInput in;
  auto name = f.text("name", true, 40);
  if (const Json* list = f.array("permissions", true, 100)) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const Json& p = (*list)[i];
      if (!p.is_string()) {
        f.fail("permissions[" + std::to_string(i) + "]", "invalid_type", "a permission is a string");
        continue;
      }
      in.permissions.push_back(p.get<std::string>());
    }
  }
  RECUR_TRY(f.finish());
  in.name = *name;
  return in;
}

}  // namespace

void add_routes(http::Router& router, ApiKeys& keys) {
  std::string manage(perm::kApiKeysManage);
  router.add("POST", "/v1/api-keys", manage, [&keys](Request& req) {
    auto input = parse_key(req);
    if (!input.ok()) return http::error_response(req, input.error());
    auto actor = actor_of(req);
    return http::respond(req, keys.create(*input, actor), 201, [](const CreatedKey& k) { return to_json(k); });
  });
  router.add("GET", "/v1/api-keys", manage, [&keys](Request& req) {
    auto page = http::page_request(req, {"created"});
    if (!page.ok()) return http::error_response(req, page.error());
    return http::list_response(req, keys.list(*page), "/v1/api-keys", [](const ApiKey& k) { return to_json(k); });
  });
  router.reads_query("GET", "/v1/api-keys");
  router.add("GET", "/v1/api-keys/{id}", manage, [&keys](Request& req) {
    return http::respond(req, keys.get(req.path_params["id"]), 200, [](const ApiKey& k) { return to_json(k); });
  });
  router.add("POST", "/v1/api-keys/{id}/revoke", manage, [&keys](Request& req) {
    if (!req.body.empty()) {
      auto body = parse_json_object(req.body);
      if (!body.ok()) return http::error_response(req, body.error());
      FieldReader f(*body);
      if (auto done = f.finish(); !done.ok()) return http::error_response(req, done.error());
    }
    auto actor = actor_of(req);
    std::string id = req.path_params["id"];
    return http::respond(req, keys.revoke(id, actor), 200, [](const ApiKey& k) { return to_json(k); });
  });
  router.add("GET", "/v1/roles", manage, [&keys](Request& req) {
    auto roles = keys.roles();
    if (!roles.ok()) return http::error_response(req, roles.error());
    Json data = Json::array();
    for (const auto& r : *roles) data.push_back(to_json(r));
    return http::json_response(200, http::list_json(std::move(data), false, "/v1/roles"));
  });
  router.add("POST", "/v1/roles", manage, [&keys](Request& req) {
    auto input = parse_role(req);
    if (!input.ok()) return http::error_response(req, input.error());
    auto actor = actor_of(req);
    return http::respond(req, keys.create_role(input->name, input->permissions, actor), 201,
                         [](const Role& r) { return to_json(r); });
  });
}

}  // namespace recur::access
