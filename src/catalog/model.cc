// JSON mapping of catalog objects (also their stored form).
#include "catalog/model.h"

namespace recur::catalog {

Json to_json(const Product& p) {
  Json price = nullptr;
  if (p.price) price = Json{{"amount", p.price->amount}, {"currency", p.price->currency}};
  return Json{{"id", p.id},
              {"object", "product"},
              {"name", p.name},
              {"sku", p.sku},
              {"description", p.description ? Json(*p.description) : Json(nullptr)},
              {"price", price},
              {"active", p.active},
              {"metadata", p.metadata},
              {"created", format_rfc3339(p.created)},
              {"updated", format_rfc3339(p.updated)},
              {"version", p.version}};
}

Json to_json(const Plan& p) {
  Json items = Json::array();
  for (const auto& item : p.items) items.push_back({{"product", item.product}, {"quantity", item.quantity}});
  return Json{{"id", p.id},
              {"object", "plan"},
              {"name", p.name},
              {"amount", p.amount},
              {"currency", p.currency},
              {"interval", subscriptions::to_string(p.cadence.interval)},
              {"interval_count", p.cadence.count},
              {"trial_days", p.trial_days},
              {"tier", p.tier ? Json(*p.tier) : Json(nullptr)},
              {"items", items},
              {"active", p.active},
              {"metadata", p.metadata},
              {"created", format_rfc3339(p.created)},
              {"updated", format_rfc3339(p.updated)},
              {"version", p.version}};
}

namespace {
std::optional<std::string> opt_string(const Json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}
Timestamp time_of(const Json& doc, const char* key) { return parse_rfc3339(doc.at(key).get<std::string>()).value_or(0); }
}  // namespace

Product product_from_doc(const Json& doc) {
  Product p;
  p.id = doc.at("id");
  p.name = doc.at("name");
  p.sku = doc.at("sku");
  p.description = opt_string(doc, "description");
  if (const auto& price = doc.at("price"); price.is_object()) p.price = Money{price.at("amount"), price.at("currency")};
  p.active = doc.at("active");
  p.metadata = doc.at("metadata");
  p.created = time_of(doc, "created");
  p.updated = time_of(doc, "updated");
  p.version = doc.at("version");
  return p;
}

Plan plan_from_doc(const Json& doc) {
  Plan p;
  p.id = doc.at("id");
  p.name = doc.at("name");
  p.amount = doc.at("amount");
  p.currency = doc.at("currency");
  p.cadence.interval = subscriptions::parse_interval(doc.at("interval").get<std::string>()).value();
  p.cadence.count = doc.at("interval_count");
  p.trial_days = doc.at("trial_days");
  p.tier = opt_string(doc, "tier");
  for (const auto& item : doc.at("items")) p.items.push_back({item.at("product"), item.at("quantity")});
  p.active = doc.at("active");
  p.metadata = doc.at("metadata");
  p.created = time_of(doc, "created");
  p.updated = time_of(doc, "updated");
  p.version = doc.at("version");
  return p;
}

}  // namespace recur::catalog
