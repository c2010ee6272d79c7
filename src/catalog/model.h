// Products and plans: what is shipped, and the recurring price and cadence of a box.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "platform/json.h"
#include "platform/money.h"
#include "subscriptions/model.h"

namespace recur::catalog {

struct Product {
  std::string id;  // "prod_..."
  std::string name;
  std::string sku;
  std::optional<std::string> description;
  std::optional<Money> price;  // list price of one unit, informational
  bool active = true;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
};

struct PlanItem {
  std::string product;  // "prod_..."
  std::int64_t quantity = 1;
};

struct Plan {
  std::string id;  // "plan_..."
  std::string name;
  std::int64_t amount = 0;  // per period, minor units
  std::string currency;
  subscriptions::Cadence cadence;
  std::int64_t trial_days = 0;
  std::optional<std::string> tier;
  std::vector<PlanItem> items;
  bool active = true;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
  std::int64_t renewal_reminder_days = 3;  // e-mail this many days before a renewal; 0: none
};

Json to_json(const Product& product);
Json to_json(const Plan& plan);
Product product_from_doc(const Json& doc);
Plan plan_from_doc(const Json& doc);

}  // namespace recur::catalog
