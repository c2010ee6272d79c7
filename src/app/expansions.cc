#include "app/expansions.h"

#include <stdexcept>

namespace recur::app {
namespace {

// A reference that names nothing (an object since deleted) expands to null.
template <typename T, typename Render>
Result<Json> rendered(Result<T> found, Render render) {
  if (!found.ok()) {
    if (found.error().kind == ErrorKind::kNotFound) return Json(nullptr);
    return std::move(found).error();
  }
  return render(*found);
}

}  // namespace

void declare_expansions(http::Router& router) {
  const std::vector<std::pair<std::vector<const char*>, std::vector<std::string>>> offered = {
      {{"/v1/subscriptions", "/v1/subscriptions/{id}"}, {"customer", "plan", "latest_invoice"}},
      {{"/v1/invoices", "/v1/invoices/{id}"}, {"subscription", "payments"}},
      {{"/v1/shipments", "/v1/shipments/{id}"}, {"invoice"}},
  };
  for (const auto& [paths, fields] : offered)
    for (const char* path : paths)
      if (!router.expands("GET", path, fields))
        throw std::logic_error(std::string("no route GET ") + path + " to expand");
}

http::Pipeline::Expander expander(catalog::CatalogService& catalog, customers::CustomerService& customers,
                                  subscriptions::SubscriptionService& subscriptions, billing::BillingService& billing) {
  return [&](const std::string& type, const std::string& field, const Json& object) -> Result<Json> {
    auto text = [&](const char* key) { return object.value(key, std::string()); };
    auto invoice_json = [](const std::optional<billing::Invoice>& i) { return i ? billing::to_json(*i) : Json(nullptr); };
    if (type == "subscription" && field == "customer")
      return rendered(customers.get(text("customer")), [](const auto& c) { return customers::to_json(c); });
    if (type == "subscription" && field == "plan")
      return rendered(catalog.get_plan(text("plan")), [](const auto& p) { return catalog::to_json(p); });
    if (type == "subscription" && field == "latest_invoice")
      return rendered(billing.latest_invoice(text("id")), invoice_json);
    if (type == "invoice" && field == "subscription") {  // a one-off invoice's null stays null
      if (!object.value("subscription", Json()).is_string()) return Json(nullptr);
      return rendered(subscriptions.get(text("subscription")), [](const auto& s) { return subscriptions::to_json(s); });
    }
    if (type == "invoice" && field == "payments") {
      billing::PaymentFilter filter{text("id"), std::nullopt, {}, {.limit = 100}};
      return rendered(billing.list_payments(filter), [](const Page<billing::Payment>& page) {
        Json all = Json::array();
        for (const auto& p : page.items) all.push_back(billing::to_json(p));
        return all;
      });
    }
    if (type == "shipment" && field == "invoice") {  // the id the shipment carries; null stays null
      if (!object.value("invoice", Json()).is_string()) return Json(nullptr);
      return rendered(billing.get_invoice(text("invoice")), [](const auto& i) { return billing::to_json(i); });
    }
    return Error::internal("no expansion of " + field + " on a " + type);
  };
}

}  // namespace recur::app
