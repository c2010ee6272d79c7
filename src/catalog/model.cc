// JSON mapping of catalog objects (also their stored form).
#include "catalog/model.h"

namespace recur::catalog {

Json to_json(const Product& p) {
  Json price = nullptr;
  if (p.price) price = Json{{"amount", p.price->amount}, {"currency", p.price->currency}};
  return with_envelope(Json{{"id", p.id},
              {"object", "product"},
              {"name", p.name},
              {"sku", p.sku},
              {"description", to_json_text(p.description)},
              {"price", price},
              {"active", p.active}}, p);
}

Json to_json(const Plan& p) {
  Json items = Json::array();
  for (const auto& item : p.items) items.push_back({{"product", item.product}, {"quantity", item.quantity}});
  return with_envelope(Json{{"id", p.id},
              {"object", "plan"},
              {"name", p.name},
              {"amount", p.amount},
              {"currency", p.currency},
              {"interval", subscriptions::to_string(p.cadence.interval)},
              {"interval_count", p.cadence.count},
              {"trial_days", p.trial_days},
              {"renewal_reminder_days", p.renewal_reminder_days},
              {"tier", to_json_text(p.tier)},
              {"items", items},
              {"active", p.active}}, p);
}


Product product_from_doc(const Json& doc) {
  Product p;
  p.id = doc.at("id");
  p.name = doc.at("name");
  p.sku = doc.at("sku");
  p.description = doc_text(doc, "description");
  if (const auto& price = doc.at("price"); price.is_object()) p.price = Money{price.at("amount"), price.at("currency")};
  p.active = doc.at("active");
  read_envelope(doc, p);
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
  p.renewal_reminder_days = doc.value("renewal_reminder_days", std::int64_t{3});
  p.tier = doc_text(doc, "tier");
  for (const auto& item : doc.at("items")) p.items.push_back({item.at("product"), item.at("quantity")});
  p.active = doc.at("active");
  read_envelope(doc, p);
  return p;
}

}  // namespace recur::catalog
