// Catalog use cases.
#include "catalog/service.h"

#include "events/store.h"

namespace recur::catalog {

Result<Product> CatalogService::create_product(const ProductInput& in, const events::Actor& actor) {
  Product p;
  p.id = ids_.next("prod");
  p.name = in.name;
  p.sku = in.sku;
  p.description = in.description;
  p.price = in.price;
  p.metadata = in.metadata;
  p.created = p.updated = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Product> {
    RECUR_TRY(insert_product(tx, p));
    RECUR_TRY(events_.record(tx, "product.created", p.id, actor, nullptr, to_json(p)));
    return p;
  });
}

Result<Product> CatalogService::update_product(const std::string& id, const ProductPatch& patch,
                                               std::int64_t expected_version, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Product> {
    RECUR_ASSIGN(auto found, find_product(tx, id, true));
    if (!found) return Error::not_found("product_not_found", "no product with id '" + id + "'");
    Product p = *found;
    if (p.version != expected_version) return version_conflict("the product", expected_version, p.version);
    Json before = to_json(p);
    if (patch.name) p.name = *patch.name;
    if (patch.sku) p.sku = *patch.sku;
    if (patch.description) p.description = *patch.description;
    if (patch.price) p.price = *patch.price;
    if (patch.active) p.active = *patch.active;
    if (patch.metadata) p.metadata = *patch.metadata;
    p.updated = clock_.now();
    ++p.version;
    RECUR_ASSIGN(bool updated, catalog::update_product(tx, p));
    if (!updated) return version_conflict("the product", expected_version, p.version);
    RECUR_TRY(events_.record(tx, "product.updated", p.id, actor, std::move(before), to_json(p)));
    return p;
  });
}

Result<Product> CatalogService::get_product(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Product> {
    RECUR_ASSIGN(auto found, find_product(tx, id));
    if (!found) return Error::not_found("product_not_found", "no product with id '" + id + "'");
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Product>> CatalogService::list_products(const ListFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return catalog::list_products(tx, filter); }, db::TxMode::kReadOnly);
}

Status CatalogService::check_items(db::Tx& tx, const std::vector<PlanItem>& items) {
  std::vector<FieldError> errors;
  for (std::size_t i = 0; i < items.size(); ++i) {
    RECUR_ASSIGN(auto product, find_product(tx, items[i].product));
    if (!product)
      errors.push_back({"items[" + std::to_string(i) + "].product", "not_found",
                        "no product with id '" + items[i].product + "'"});
  }
  if (!errors.empty()) {
    std::string detail = errors.front().message;  // read before the vector is moved away
    return Error::invalid("validation_failed", detail, std::move(errors));
  }
  return Ok{};
}

Result<Plan> CatalogService::create_plan(const PlanInput& in, const events::Actor& actor) {
  Plan p;
  p.id = ids_.next("plan");
  p.name = in.name;
  p.amount = in.amount;
  p.currency = in.currency;
  p.cadence = in.cadence;
  p.trial_days = in.trial_days;
  p.renewal_reminder_days = in.renewal_reminder_days;
  p.tier = in.tier;
  p.items = in.items;
  p.metadata = in.metadata;
  p.created = p.updated = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Plan> {
    RECUR_TRY(check_items(tx, p.items));
    RECUR_TRY(insert_plan(tx, p));
    RECUR_TRY(events_.record(tx, "plan.created", p.id, actor, nullptr, to_json(p)));
    return p;
  });
}

Result<Plan> CatalogService::update_plan(const std::string& id, const PlanPatch& patch, std::int64_t expected_version,
                                         const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Plan> {
    RECUR_ASSIGN(auto found, find_plan(tx, id, true));
    if (!found) return Error::not_found("plan_not_found", "no plan with id '" + id + "'");
    Plan p = *found;
    if (p.version != expected_version) return version_conflict("the plan", expected_version, p.version);
    Json before = to_json(p);
    if (patch.items) {
      RECUR_TRY(check_items(tx, *patch.items));
      p.items = *patch.items;
    }
    if (patch.name) p.name = *patch.name;
    if (patch.trial_days) p.trial_days = *patch.trial_days;
    if (patch.renewal_reminder_days) p.renewal_reminder_days = *patch.renewal_reminder_days;
    if (patch.tier) p.tier = *patch.tier;
    if (patch.active) p.active = *patch.active;
    if (patch.metadata) p.metadata = *patch.metadata;
    p.updated = clock_.now();
    ++p.version;
    RECUR_ASSIGN(bool updated, catalog::update_plan(tx, p));
    if (!updated) return version_conflict("the plan", expected_version, p.version);
    RECUR_TRY(events_.record(tx, "plan.updated", p.id, actor, std::move(before), to_json(p)));
    return p;
  });
}

Result<Plan> CatalogService::get_plan(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Plan> {
    RECUR_ASSIGN(auto found, find_plan(tx, id));
    if (!found) return Error::not_found("plan_not_found", "no plan with id '" + id + "'");
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Plan>> CatalogService::list_plans(const ListFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return catalog::list_plans(tx, filter); }, db::TxMode::kReadOnly);
}

}  // namespace recur::catalog
