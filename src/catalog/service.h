// Catalog use cases: one transaction each, events appended with the change.
#pragma once

#include "catalog/store.h"
#include "events/store.h"
#include "platform/clock.h"
#include "platform/ids.h"

namespace recur::catalog {

struct ProductInput {
  std::string name;
  std::string sku;
  std::optional<std::string> description;
  std::optional<Money> price;
  Json metadata = Json::object();
};

struct ProductPatch {
  std::optional<std::string> name;
  std::optional<std::string> sku;
  std::optional<std::optional<std::string>> description;  // set, or clear with null
  std::optional<std::optional<Money>> price;
  std::optional<bool> active;
  std::optional<Json> metadata;
};

struct PlanInput {
  std::string name;
  std::int64_t amount = 0;
  std::string currency;
  subscriptions::Cadence cadence;
  std::int64_t trial_days = 0;
  std::optional<std::string> tier;
  std::vector<PlanItem> items;
  Json metadata = Json::object();
  std::int64_t renewal_reminder_days = 3;
};

// Price and cadence of a plan never change (subscribers agreed to them); create a new plan.
struct PlanPatch {
  std::optional<std::string> name;
  std::optional<std::int64_t> trial_days;
  std::optional<std::optional<std::string>> tier;
  std::optional<std::vector<PlanItem>> items;
  std::optional<bool> active;
  std::optional<Json> metadata;
  std::optional<std::int64_t> renewal_reminder_days;
};

class CatalogService {
 public:
  CatalogService(db::Database& db, const Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids), events_(ids, clock) {}

  Result<Product> create_product(const ProductInput& input, const events::Actor& actor);
  Result<Product> update_product(const std::string& id, const ProductPatch& patch, std::int64_t expected_version,
                                 const events::Actor& actor);
  Result<Product> get_product(const std::string& id);
  Result<Page<Product>> list_products(const ListFilter& filter);

  Result<Plan> create_plan(const PlanInput& input, const events::Actor& actor);
  Result<Plan> update_plan(const std::string& id, const PlanPatch& patch, std::int64_t expected_version,
                           const events::Actor& actor);
  Result<Plan> get_plan(const std::string& id);
  Result<Page<Plan>> list_plans(const ListFilter& filter);

 private:
  Status check_items(db::Tx& tx, const std::vector<PlanItem>& items);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
};

}  // namespace recur::catalog
