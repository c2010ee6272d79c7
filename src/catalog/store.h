// Catalog persistence: searchable columns plus the object's JSON document.
#pragma once

#include <optional>
#include <vector>

#include "catalog/model.h"
#include "platform/db/database.h"

namespace recur::catalog {

struct ListFilter {
  std::optional<bool> active;
  std::optional<std::string> sku;   // products
  std::optional<std::string> tier;  // plans
  int limit = 10;
  std::optional<std::string> starting_after;
};

template <typename T>
struct Page {
  std::vector<T> items;
  bool has_more = false;
};

Status insert_product(db::Tx& tx, const Product& product);
// Requires: product.version already incremented; refuses when the stored version is not version-1.
Result<bool> update_product(db::Tx& tx, const Product& product);
Result<std::optional<Product>> find_product(db::Tx& tx, const std::string& id, bool for_update = false);
Result<Page<Product>> list_products(db::Tx& tx, const ListFilter& filter);

Status insert_plan(db::Tx& tx, const Plan& plan);
Result<bool> update_plan(db::Tx& tx, const Plan& plan);
Result<std::optional<Plan>> find_plan(db::Tx& tx, const std::string& id, bool for_update = false);
Result<Page<Plan>> list_plans(db::Tx& tx, const ListFilter& filter);

}  // namespace recur::catalog
