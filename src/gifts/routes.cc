// Gift routes: parse and validate, call the service, render. No SQL here.
#include "gifts/routes.h"

#include "access/actor.h"
#include "access/model.h"
#include "platform/http/rest.h"

namespace recur::gifts {
namespace {

using http::Request;
using http::Response;

auto render = [](const Gift& g) { return to_json(g); };
auto render_sold = [](const Gift& g) { return to_json(g, true); };  // the seller sees the code once

// {name, email, shipping_address}: read as a customer's fields are.
std::optional<Recipient> read_recipient(FieldReader& fields) {
  const Json* obj = fields.object("recipient", true);
  if (!obj) return std::nullopt;
  FieldReader f(*obj, "recipient");
  auto name = f.text("name", true, 200);
  auto email = f.email("email", true);
  auto address = customers::read_address(f, "shipping_address");
  if (!f.has("shipping_address"))
    f.fail("shipping_address", "required", "the recipient's shipping address is required");
  fields.absorb(f);
  if (!name || !email || !address) return std::nullopt;
  return Recipient{*name, *email, address};
}

Result<GiftInput> parse_create(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  GiftInput in;
  auto purchaser = f.text("purchaser", true, 64);
  auto plan = f.text("plan", true, 64);
  auto deliveries = f.integer("deliveries", true, 1, kMaxGiftDeliveries);
  in.quantity = f.integer("quantity", false, 1, 100).value_or(1);
  auto recipient = read_recipient(f);
  in.message = f.text("message", false, kMaxGiftMessage);
  in.send_at = f.timestamp("send_at", false);
  in.coupon = f.text("coupon", false, 64);
  in.promotion_code = f.text("promotion_code", false, 64);
  if (f.has("coupon") && f.has("promotion_code"))
    f.fail("promotion_code", "conflicting", "give either coupon or promotion_code, not both");
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.purchaser = *purchaser;
  in.plan = *plan;
  in.deliveries = *deliveries;
  in.recipient = *recipient;
  in.request_key = req.idempotency_key;
  return in;
}

Result<ClaimInput> parse_claim(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  ClaimInput in;
  auto code = f.text("claim_code", true, 64);
  in.customer = f.text("customer", false, 64);
  in.start_date = f.timestamp("start_date", false);
  RECUR_TRY(f.finish());
  in.claim_code = *code;
  return in;
}

Result<GiftFilter> list_filter(const Request& req) {
  RECUR_ASSIGN(auto page, http::page_request(req, {"purchaser", "status", "created", "metadata"}));
  GiftFilter filter{req.query_param("purchaser"), req.query_param("status"), page};
  if (filter.status && !parse_gift_status(*filter.status))
    return Error::invalid("validation_failed", "status must be pending, sent, claimed or expired",
                          {{"status", "invalid_value", "one of pending, sent, claimed, expired"}});
  return filter;
}

}  // namespace

void add_routes(http::Router& router, GiftService& svc) {
  using namespace access::perm;
  const std::string read(kSubscriptionsRead), write(kSubscriptionsWrite);
  router.add("POST", "/v1/gifts", write, [&svc](Request& req) {
    auto in = parse_create(req);
    if (!in.ok()) return http::error_response(req, in.error());
    return http::respond(req, svc.create(*in, access::actor_of(req)), 201, render_sold);
  });
  router.add("GET", "/v1/gifts", read, [&svc](Request& req) {
    auto filter = list_filter(req);
    if (!filter.ok()) return http::error_response(req, filter.error());
    return http::list_response(req, svc.list(*filter), "/v1/gifts");
  });
  router.add("GET", "/v1/gifts/{id}", read,
             [&svc](Request& req) { return http::respond(req, svc.get(req.path_params["id"]), 200, render); });
  router.add("POST", "/v1/gifts/claim", write, [&svc](Request& req) {
    auto in = parse_claim(req);
    if (!in.ok()) return http::error_response(req, in.error());
    return http::respond(req, svc.claim(*in, access::actor_of(req)), 200, render);
  });
  router.reads_query("GET", "/v1/gifts");
}

}  // namespace recur::gifts
