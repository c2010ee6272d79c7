// The routes open to customer sessions; see customer_scopes.h and docs/portal.md.
#include "app/customer_scopes.h"

#include <stdexcept>

#include "app/app.h"
#include "billing/store.h"
#include "gifts/store.h"
#include "subscriptions/store.h"

namespace recur::app {
namespace {

using http::CustomerScope;
using http::Request;

// The answer for what is not the customer's: the one an id that does not exist gets.
Error no_such(std::string_view code, std::string_view noun, std::string_view prefix, const std::string& id) {
  return Error::not_found(std::string(code), no_object_message(noun, prefix, id));
}
Error no_such_customer(const std::string& id) { return no_such("customer_not_found", "customer", "cus", id); }

// Reads the owner of the resource the path's {id} names, in a read-only transaction.
template <typename Owner>
CustomerScope owned(App& app, Owner owner_of, std::string_view code, std::string_view noun, std::string_view prefix) {
  return [&app, owner_of, code, noun, prefix](Request& req, const std::string& customer) -> recur::Status {
    const std::string id = req.path_params["id"];
    RECUR_ASSIGN(bool mine,
                 db::transact(
                     app.database(), [&](db::Tx& tx) { return owner_of(tx, id, customer); }, db::TxMode::kReadOnly));
    if (!mine) return no_such(code, noun, prefix, id);
    return Ok{};
  };
}

// The customer's own record: {id} is the session's customer.
recur::Status own_record(Request& req, const std::string& customer) {
  if (req.path_params["id"] != customer) return no_such_customer(req.path_params["id"]);
  return Ok{};
}

// A list: its customer filter (`parameter`) is the session's customer, filled in if absent.
CustomerScope forced_filter(std::string parameter) {
  return [parameter](Request& req, const std::string& customer) -> recur::Status {
    auto named = req.query_param(parameter);
    if (named && *named != customer) return no_such_customer(*named);
    req.query.erase(parameter);
    req.query.emplace(parameter, customer);
    return Ok{};
  };
}

// A create naming a customer in its body (`field`): it must be the session's; `fill` puts it
// in when absent. A body that is not a JSON object is left to the handler to refuse.
CustomerScope body_customer(std::string field, bool fill) {
  return [field, fill](Request& req, const std::string& customer) -> recur::Status {
    auto parsed = parse_json_object(req.body);  // depth-limited; a bad body is the handler's to refuse
    if (!parsed.ok()) return Ok{};
    Json body = std::move(*parsed);
    auto it = body.find(field);
    if (it == body.end()) {
      if (!fill) return Ok{};
      body[field] = customer;
      req.body = body.dump();
      return Ok{};
    }
    if (it->is_string() && it->get<std::string>() != customer) return no_such_customer(it->get<std::string>());
    return Ok{};
  };
}

recur::Status anyone(Request&, const std::string&) { return Ok{}; }

Result<bool> subscription_is(db::Tx& tx, const std::string& id, const std::string& customer);

// Fields of a body that are the merchant's to set, never a subscriber's: a trial's end, a
// coupon by id (promotion codes keep their limits), the proration of a plan change, and the
// merchant's metadata. A session that sends one is refused, whatever the route.
constexpr std::string_view kMerchantFields[] = {"trial_end", "coupon", "proration", "metadata"};

recur::Status no_merchant_fields(const Request& req) {
  if (req.body.empty()) return Ok{};
  auto parsed = parse_json_object(req.body);
  if (!parsed.ok()) return Ok{};  // the handler refuses it
  for (auto field : kMerchantFields)
    if (parsed->contains(field))
      return Error::forbidden("customer_session_forbidden",
                              "a customer session cannot set '" + std::string(field) + "'; the merchant's key can");
  return Ok{};
}

// The upcoming invoice of one of the customer's subscriptions, or of the customer.
recur::Status upcoming_scope(App& app, Request& req, const std::string& customer) {
  if (auto sub = req.query_param("subscription")) {
    if (req.query_param("customer") && *req.query_param("customer") != customer)
      return no_such_customer(*req.query_param("customer"));
    RECUR_ASSIGN(bool mine, db::transact(app.database(), [&](db::Tx& tx) { return subscription_is(tx, *sub, customer); },
                                         db::TxMode::kReadOnly));
    if (!mine) return no_such("subscription_not_found", "subscription", "sub", *sub);
    return Ok{};
  }
  return forced_filter("customer")(req, customer);
}

Result<bool> subscription_is(db::Tx& tx, const std::string& id, const std::string& customer) {
  RECUR_ASSIGN(auto found, subscriptions::find(tx, id, false));
  return found && found->customer == customer;
}
Result<bool> invoice_is(db::Tx& tx, const std::string& id, const std::string& customer) {
  RECUR_ASSIGN(auto found, billing::find_invoice(tx, id, false));
  return found && found->customer == customer;
}
// A gift is its purchaser's, and once claimed its recipient's too.
Result<bool> gift_is(db::Tx& tx, const std::string& id, const std::string& customer) {
  RECUR_ASSIGN(auto found, gifts::find_gift(tx, id));
  return found && (found->purchaser == customer || found->recipient_customer == customer);
}

}  // namespace

void open_routes_to_customers(http::Router& router, App& app) {
  auto open = [&router](std::string_view method, std::string_view pattern, CustomerScope scope) {
    CustomerScope checked = [scope = std::move(scope)](Request& req, const std::string& customer) -> recur::Status {
      RECUR_TRY(no_merchant_fields(req));
      return scope(req, customer);
    };
    if (!router.for_customers(method, pattern, std::move(checked)))
      throw std::logic_error("customer sessions: no route " + std::string(method) + " " + std::string(pattern));
  };
  // The customer, its payment methods and its data (export, erasure).
  for (auto [method, pattern] : {std::pair{"GET", "/v1/customers/{id}"},
                                 {"PATCH", "/v1/customers/{id}"},
                                 {"GET", "/v1/customers/{id}/payment-methods"},
                                 {"POST", "/v1/customers/{id}/payment-methods"},
                                 {"DELETE", "/v1/customers/{id}/payment-methods/{pm}"},
                                 {"GET", "/v1/customers/{id}/export"},
                                 {"POST", "/v1/customers/{id}/erase"}})
    open(method, pattern, own_record);
  // Its subscriptions and what a subscriber does to them (not the merchant's discount or delete).
  open("GET", "/v1/subscriptions", forced_filter("customer"));
  open("POST", "/v1/subscriptions", body_customer("customer", false));
  const auto subscription = owned(app, subscription_is, "subscription_not_found", "subscription", "sub");
  for (auto [method, pattern] : {std::pair{"GET", "/v1/subscriptions/{id}"},
                                 {"PATCH", "/v1/subscriptions/{id}"},
                                 {"POST", "/v1/subscriptions/{id}/pause"},
                                 {"POST", "/v1/subscriptions/{id}/resume"},
                                 {"POST", "/v1/subscriptions/{id}/skip"},
                                 {"POST", "/v1/subscriptions/{id}/next-date"},
                                 {"POST", "/v1/subscriptions/{id}/add-ons"},
                                 {"DELETE", "/v1/subscriptions/{id}/add-ons/{add_on}"},
                                 {"POST", "/v1/subscriptions/{id}/change-plan"},
                                 {"POST", "/v1/subscriptions/{id}/change-plan/preview"},
                                 {"POST", "/v1/subscriptions/{id}/cancel"},
                                 {"POST", "/v1/subscriptions/{id}/reactivate"},
                                 {"GET", "/v1/subscriptions/{id}/boxes"},
                                 {"PUT", "/v1/subscriptions/{id}/boxes/{period_start}/selection"},
                                 {"POST", "/v1/subscriptions/{id}/convert"},
                                 {"GET", "/v1/subscriptions/{id}/upcoming"},
                                 {"GET", "/v1/subscriptions/{id}/history"},
                                 {"POST", "/v1/subscriptions/{id}/cancellation-offers"},
                                 {"POST", "/v1/subscriptions/{id}/cancellation-offers/{offer}/accept"},
                                 {"POST", "/v1/subscriptions/{id}/cancellation-offers/{offer}/decline"}})
    open(method, pattern, subscription);
  // Its invoices.
  open("GET", "/v1/invoices", forced_filter("customer"));
  open("GET", "/v1/invoices/upcoming",
       [&app](Request& req, const std::string& customer) { return upcoming_scope(app, req, customer); });
  const auto invoice = owned(app, invoice_is, "invoice_not_found", "invoice", "in");
  for (auto [method, pattern] :
       {std::pair{"GET", "/v1/invoices/{id}"}, {"GET", "/v1/invoices/{id}/pdf"}, {"POST", "/v1/invoices/{id}/pay"}})
    open(method, pattern, invoice);
  // Gifts it bought (or was given), buying one, claiming one.
  open("GET", "/v1/gifts", forced_filter("purchaser"));
  open("GET", "/v1/gifts/{id}", owned(app, gift_is, "gift_not_found", "gift", "gift"));
  open("POST", "/v1/gifts", body_customer("purchaser", false));
  open("POST", "/v1/gifts/claim", body_customer("customer", true));
  // What the shop sells.
  for (const char* pattern :
       {"/v1/plans", "/v1/plans/{id}", "/v1/products", "/v1/products/{id}", "/v1/tiers", "/v1/tiers/{id}"})
    open("GET", pattern, anyone);
}

}  // namespace recur::app
