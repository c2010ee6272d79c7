// Catalog persistence: searchable columns plus the object's JSON document.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "catalog/model.h"
#include "platform/cache/tx_cache.h"
#include "platform/db/database.h"
#include "platform/page.h"

namespace recur::catalog {

struct ListFilter {
  std::optional<bool> active;
  std::optional<std::string> sku;   // products
  std::optional<std::string> tier;  // plans
  std::optional<std::string> code;    // promotion codes, any case
  std::optional<std::string> coupon;  // promotion codes
  ListParams page;
};

Status insert_product(db::Tx& tx, const Product& product);
// Requires: product.version already incremented; refuses when the stored version is not version-1.
Result<bool> update_product(db::Tx& tx, const Product& product);
Result<std::optional<Product>> find_product(db::Tx& tx, const std::string& id, bool for_update = false);
// The product a body names: by id when `key` is one (is_product_id), else by SKU.
Result<std::optional<Product>> find_product_by_key(db::Tx& tx, const std::string& key, bool for_update = false);
Result<Page<Product>> list_products(db::Tx& tx, const ListFilter& filter);

// Plans as find_plan reads them, kept by the rules of cache::TxCache: every GET and create of
// a subscription reads its plan, and plans seldom change. The app attaches one to the
// database (without it find_plan reads every time); insert_plan and update_plan drop theirs.
class PlanCache final : public cache::AttachedCache<Plan> {
 public:
  explicit PlanCache(const Clock& clock) : AttachedCache("plan:", clock) {}
};

Status insert_plan(db::Tx& tx, const Plan& plan);
Result<bool> update_plan(db::Tx& tx, const Plan& plan);
// From the PlanCache when the transaction may use it (never for update).
Result<std::optional<Plan>> find_plan(db::Tx& tx, const std::string& id, bool for_update = false);
Result<Page<Plan>> list_plans(db::Tx& tx, const ListFilter& filter);
// The plans that remind before renewal, by their lead time in days.
Result<std::map<std::int64_t, std::vector<std::string>>> plans_by_reminder_days(db::Tx& tx);

// Tiers: a rank already taken is a 409 tier_rank_taken.
Status insert_tier(db::Tx& tx, const Tier& tier);
Result<bool> update_tier(db::Tx& tx, const Tier& tier);
Status delete_tier(db::Tx& tx, const std::string& id);
Result<std::optional<Tier>> find_tier(db::Tx& tx, const std::string& id, bool for_update = false);
Result<Page<Tier>> list_tiers(db::Tx& tx, const ListFilter& filter);
Result<std::int64_t> plans_on_tier(db::Tx& tx, const std::string& id);
// The tier `plan` is on (none without one).
Result<std::optional<Tier>> tier_of(db::Tx& tx, const Plan& plan);
// What a delivery of `plan` ships for `quantity` boxes: the plan's items, then its tier's
// extras, each times the quantity (every box gets the extras).
Result<std::vector<PlanItem>> box_items(db::Tx& tx, const Plan& plan, std::int64_t quantity);
// The selection a box of `plan` has: the plan's, its `choose` raised by its tier's
// extra_choices (the box-size entitlement); none without one.
Result<std::optional<Selection>> box_selection(db::Tx& tx, const Plan& plan);
// The selection with the tier's extra_choices added (pure).
std::optional<Selection> with_extra_choices(const std::optional<Selection>& selection, const std::optional<Tier>& tier);

// Coupons and promotion codes: `times_redeemed` lives in its own column (the document's
// copy is not kept up to date); reads take it from there.
Status insert_coupon(db::Tx& tx, const Coupon& coupon);
// Name, metadata and active (the terms never change); not times_redeemed.
Result<bool> update_coupon(db::Tx& tx, const Coupon& coupon);
Result<std::optional<Coupon>> find_coupon(db::Tx& tx, const std::string& id, bool for_update = false);
Result<Page<Coupon>> list_coupons(db::Tx& tx, const ListFilter& filter);
// Counts one redemption unless max_redemptions is reached; false when it is.
Result<bool> count_coupon_redemption(db::Tx& tx, const std::string& id);

// A code already taken (in any case) is a 409 promotion_code_taken.
Status insert_promotion_code(db::Tx& tx, const PromotionCode& code);
Result<bool> update_promotion_code(db::Tx& tx, const PromotionCode& code);
Result<std::optional<PromotionCode>> find_promotion_code(db::Tx& tx, const std::string& id, bool for_update = false);
Result<std::optional<PromotionCode>> find_promotion_code_by_code(db::Tx& tx, std::string_view code,
                                                                 bool for_update = false);
Result<Page<PromotionCode>> list_promotion_codes(db::Tx& tx, const ListFilter& filter);
Result<bool> count_promotion_code_redemption(db::Tx& tx, const std::string& id);

struct Redemption {
  std::string id;  // "redm_..."
  std::string coupon;
  std::optional<std::string> promotion_code;
  std::string customer;
  std::string subscription;
  Timestamp created = 0;
};
Status insert_redemption(db::Tx& tx, const Redemption& redemption);
Result<std::int64_t> customer_redemptions(db::Tx& tx, const std::string& coupon, const std::string& customer);

// Reads for inventory (the forecast, stock lists, alternatives), inside the caller's
// transaction; each is one query.
// Every product, archived ones too, by id.
Result<std::vector<Product>> all_products(db::Tx& tx);
// Every plan, archived ones too, by id.
Result<std::vector<Plan>> all_plans(db::Tx& tx);
// The same, each with its tier's extras added to its items and its extra choices to its
// selection (what one box ships: box_items, box_selection).
Result<std::vector<Plan>> all_plans_with_extras(db::Tx& tx);
// The products whose stock is tracked, by id; only those after `cursor` when given. Backward:
// those before `cursor`, nearest first (highest id first).
Result<std::vector<Product>> tracked_products(db::Tx& tx, const std::optional<std::string>& cursor, bool backward = false);
// Active products other than `id`, by id, at most `limit`.
Result<std::vector<Product>> other_active_products(db::Tx& tx, const std::string& id, int limit);

}  // namespace recur::catalog
