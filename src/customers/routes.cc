// Customer routes: parse and validate, call the service, render.
#include "customers/routes.h"

#include <algorithm>

#include "access/actor.h"
#include "access/model.h"
#include "platform/card_number.h"
#include "platform/http/rest.h"
#include "platform/phone.h"
#include "platform/time_zone.h"

namespace recur::customers {
namespace {

using http::Request;
using http::Response;

std::optional<std::string> read_phone(FieldReader& f) {
  auto phone = f.text("phone", false, 16);
  if (phone && !is_e164(*phone)) {
    f.fail("phone", "invalid_phone", "phone must be in E.164 form, such as +14155550123");
    return std::nullopt;
  }
  return phone;
}

// An IANA time zone known to the system's tzdata ("Europe/Berlin").
std::optional<std::string> read_time_zone(FieldReader& f) {
  auto zone = f.text("time_zone", false, 64);
  if (zone && !load_time_zone(*zone).ok()) {
    f.fail("time_zone", "invalid_time_zone", "time_zone must be an IANA time zone name, such as Europe/Berlin");
    return std::nullopt;
  }
  return zone;
}

// {granted, source}: what the customer answered and where it was asked.
std::optional<ConsentInput> read_consent(FieldReader& fields) {
  const Json* obj = fields.object("marketing_consent", false);
  if (!obj) return std::nullopt;
  FieldReader f(*obj, "marketing_consent");
  auto granted = f.boolean("granted", true);
  auto source = f.text("source", true, 64);
  fields.absorb(f);
  if (!granted || !source) return std::nullopt;
  return ConsentInput{*granted, *source};
}

// preferences: {likes: [tag], excludes: [tag]} (product tags; at most 20 each). A tag both
// liked and excluded is refused.
std::optional<Preferences> read_preferences(FieldReader& fields) {
  const Json* obj = fields.object("preferences", false);
  if (!obj) return std::nullopt;
  FieldReader f(*obj, "preferences");
  Preferences p;
  auto read = [&](const char* name, std::vector<std::string>& out) {
    const Json* list = f.array(name, false, 20);
    if (!list) return;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const Json& t = (*list)[i];
      const std::string field = std::string(name) + "[" + std::to_string(i) + "]";
      const std::string text = t.is_string() ? t.get<std::string>() : std::string();
      const bool tag = !text.empty() && text.size() <= 40 && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      });
      if (!tag)
        f.fail(field, "invalid_value", "a product tag: 1 to 40 characters of a-z, 0-9, - and _");
      else if (std::find(out.begin(), out.end(), text) == out.end())
        out.push_back(text);
    }
  };
  read("likes", p.likes);
  read("excludes", p.excludes);
  for (const auto& like : p.likes)
    if (std::find(p.excludes.begin(), p.excludes.end(), like) != p.excludes.end())
      f.fail("likes", "conflicting", "'" + like + "' is both liked and excluded");
  fields.absorb(f);
  return p;
}

Result<CustomerInput> parse_input(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  CustomerInput in;
  auto email = f.email("email", true);
  auto name = f.text("name", true, 200);
  in.phone = read_phone(f);
  in.sms_opt_in = f.boolean("sms_opt_in", false).value_or(false);
  in.time_zone = read_time_zone(f);
  in.shipping_address = read_address(f, "shipping_address");
  in.marketing_consent = read_consent(f);
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.email = *email;
  in.name = *name;
  return in;
}

Result<std::pair<CustomerPatch, std::int64_t>> parse_patch(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  CustomerPatch patch;
  patch.email = f.email("email", false);
  patch.preferences = read_preferences(f);
  patch.name = f.text("name", false, 200);
  if (f.is_null("phone")) patch.phone = std::optional<std::string>();
  else if (auto p = read_phone(f)) patch.phone = p;
  patch.sms_opt_in = f.boolean("sms_opt_in", false);
  if (f.is_null("time_zone")) patch.time_zone = std::optional<std::string>();
  else if (auto z = read_time_zone(f)) patch.time_zone = z;
  f.accept("time_zone");
  if (f.is_null("shipping_address")) patch.shipping_address = std::optional<Address>();
  else if (auto a = read_address(f, "shipping_address")) patch.shipping_address = a;
  f.accept("phone");
  f.accept("shipping_address");
  patch.metadata = f.metadata("metadata");
  patch.default_payment_method = f.text("default_payment_method", false, 64);
  patch.marketing_consent = read_consent(f);
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

Result<AttachInput> parse_attach(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  AttachInput in;
  in.gateway = f.text("gateway", false, 32);
  auto token = f.text("token", true, 255);
  // Card numbers never reach Recur (nor, through it, a gateway's URL or log): refused here,
  // without quoting them.
  if (token && redact_pans(*token) != *token) {
    f.fail("token", "card_number_not_accepted",
           "token must be the gateway's token for the card (such as pm_... or cnon:...), never the card number");
    token.reset();
  }
  in.make_default = f.boolean("default", false).value_or(false);
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.token = *token;
  return in;
}

Json payment_methods_json(const PaymentMethods& methods, const std::string& customer) {
  Json data = Json::array();
  for (const auto& pm : methods.items) data.push_back(to_json(pm, methods.default_id == pm.id));
  return http::list_json(std::move(data), methods.has_more, "/v1/customers/" + customer + "/payment-methods");
}

}  // namespace

void add_routes(http::Router& router, CustomerService& service) {
  using namespace access::perm;
  auto render = [](const Customer& c) { return to_json(c); };

  router.add("POST", "/v1/customers", std::string(kCustomersWrite), [&service, render](Request& req) {
    auto input = parse_input(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, service.create(*input, access::actor_of(req)), 201, render);
  });
  router.add("GET", "/v1/customers", std::string(kCustomersRead), [&service](Request& req) {
    auto page = http::page_request(req, {"email", "phone", "created", "metadata"});
    if (!page.ok()) return http::error_response(req, page.error());
    ListFilter filter{req.query_param("email"), *page, req.query_param("phone")};
    return http::list_response(req, service.list(filter), "/v1/customers");
  });
  router.add("GET", "/v1/customers/{id}", std::string(kCustomersRead), [&service, render](Request& req) {
    return http::respond(req, service.get(req.path_params["id"]), 200, render);
  });
  router.add("PATCH", "/v1/customers/{id}", std::string(kCustomersWrite), [&service, render](Request& req) {
    auto patch = parse_patch(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    return http::respond(req, service.update(req.path_params["id"], patch->first, patch->second, access::actor_of(req)),
                         200, render);
  });

  router.add("POST", "/v1/customers/{id}/payment-methods", std::string(kCustomersWrite), [&service](Request& req) {
    auto input = parse_attach(req);
    if (!input.ok()) return http::error_response(req, input.error());
    input->request_key = req.idempotency_key;
    const std::string& customer = req.path_params["id"];
    auto attached = service.attach_payment_method(customer, *input, access::actor_of(req));
    if (!attached.ok()) return http::error_response(req, attached.error());
    auto listed = service.payment_methods(customer);
    bool is_default = listed.ok() && listed->default_id == attached->id;
    return http::json_response(201, to_json(*attached, is_default));
  });
  router.add("GET", "/v1/customers/{id}/payment-methods", std::string(kCustomersRead), [&service](Request& req) {
    auto page = http::page_request(req, {"created", "metadata"});
    if (!page.ok()) return http::error_response(req, page.error());
    const std::string& customer = req.path_params["id"];
    return http::respond(req, service.payment_methods(customer, *page), 200,
                         [&customer](const PaymentMethods& m) { return payment_methods_json(m, customer); });
  });
  router.add("DELETE", "/v1/customers/{id}/payment-methods/{pm}", std::string(kCustomersWrite), [&service](Request& req) {
    auto st = service.detach_payment_method(req.path_params["id"], req.path_params["pm"], access::actor_of(req));
    if (!st.ok()) return http::error_response(req, st.error());
    return http::json_response(200, {{"id", req.path_params["pm"]}, {"object", "payment_method"}, {"deleted", true}});
  });
  router.reads_query("GET", "/v1/customers");
  router.reads_query("GET", "/v1/customers/{id}/payment-methods");
}

void add_session_routes(http::Router& router, CustomerSessions& sessions,
                        std::function<std::string(const std::string& token)> sign_in_link) {
  router.add("POST", "/v1/customer-sessions", std::string(access::perm::kCustomersWrite),
             [&sessions, sign_in_link](Request& req) {
               auto body = parse_json_object(req.body);
               if (!body.ok()) return http::error_response(req, body.error());
               FieldReader f(*body);
               auto customer = f.text("customer", true, 64);
               auto return_url = f.text("return_url", false, 2048);
               if (return_url && !(return_url->starts_with("https://") || return_url->starts_with("http://")))
                 f.fail("return_url", "invalid_url", "return_url must be an absolute http:// or https:// URL");
               if (auto done = f.finish(); !done.ok()) return http::error_response(req, done.error());
               auto made = sessions.create(*customer, return_url, SessionKind::kApi);
               if (!made.ok()) return http::error_response(req, made.error());
               Json out = to_json(made->session, made->token);
               out["url"] = sign_in_link(made->sign_in_token);
               return http::json_response(201, out);
             });
}

}  // namespace recur::customers
