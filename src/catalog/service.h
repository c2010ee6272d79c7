// Catalog use cases: one transaction each, events appended with the change.
#pragma once

#include <functional>

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
  std::optional<std::string> category;
  bool track_inventory = false;
  std::vector<std::string> tags;  // each is_tag, at most kMaxTags (checked by the route)
};

struct ProductPatch {
  std::optional<std::string> name;
  std::optional<std::string> sku;
  std::optional<std::optional<std::string>> description;  // set, or clear with null
  std::optional<std::optional<Money>> price;
  std::optional<std::optional<std::string>> category;
  std::optional<bool> track_inventory;
  std::optional<bool> active;
  std::optional<Json> metadata;
  std::optional<std::vector<std::string>> tags;
};

struct PlanInput {
  std::string name;
  std::int64_t amount = 0;
  std::string currency;
  Cadence cadence;
  std::int64_t trial_days = 0;
  std::optional<std::string> tier;
  std::vector<PlanItem> items;
  Json metadata = Json::object();
  std::int64_t renewal_reminder_days = 3;
  std::optional<Selection> selection;  // `from` by product id or SKU
};

// Price and cadence of a plan never change (subscribers agreed to them); create a new plan.
struct PlanPatch {
  std::optional<std::string> name;
  std::optional<std::int64_t> trial_days;  // 0: no trial (null in the body)
  std::optional<std::optional<std::string>> tier;
  std::optional<std::vector<PlanItem>> items;
  std::optional<bool> active;
  std::optional<Json> metadata;
  std::optional<std::int64_t> renewal_reminder_days;  // 0: no reminder (null in the body)
  std::optional<std::optional<Selection>> selection;  // null: no selection any more
};

struct TierInput {
  std::string name;
  std::int64_t rank = 0;
  TierEntitlements entitlements;  // extras name products by id or SKU
  Json metadata = Json::object();
};

struct TierPatch {
  std::optional<std::string> name;
  std::optional<std::int64_t> rank;
  std::optional<TierEntitlements> entitlements;  // replaces them whole
  std::optional<Json> metadata;
};

struct CouponInput {
  std::string name;
  std::int64_t percent_off = 0;     // 1..100, or 0 with amount_off
  std::optional<Money> amount_off;
  CouponDuration duration = CouponDuration::kOnce;
  std::int64_t duration_in_cycles = 0;  // repeating only
  std::optional<Timestamp> redeem_by;
  std::optional<std::int64_t> max_redemptions;
  std::optional<std::int64_t> max_redemptions_per_customer;
  bool first_subscription_only = false;
  std::vector<std::string> applies_to_plans;
  std::vector<std::string> applies_to_tiers;
  Json metadata = Json::object();
};

// A coupon's terms are fixed once created (like Stripe's); create a new coupon instead.
struct CouponPatch {
  std::optional<std::string> name;
  std::optional<bool> active;
  std::optional<Json> metadata;
};

struct PromotionCodeInput {
  std::string code;
  std::string coupon;
  std::optional<std::int64_t> max_redemptions;
  bool first_time_only = false;
  std::optional<Timestamp> expires_at;
  Json metadata = Json::object();
};

struct PromotionCodePatch {
  std::optional<bool> active;
  std::optional<Json> metadata;
};

// A coupon to redeem for a subscription, named directly or through a promotion code.
struct RedemptionRequest {
  std::optional<std::string> coupon;          // a coupon id
  std::optional<std::string> promotion_code;  // a promotion code's id (promo_...) or the code itself, any case
  std::string customer;
  std::string subscription;
  // Asked only when the coupon or code is for first subscriptions, after the coupon is
  // locked: concurrent redemptions of the coupon then see each other's subscriptions.
  std::function<Result<bool>(db::Tx&)> is_first_subscription;
};

struct Redeemed {
  Coupon coupon;
  std::optional<PromotionCode> promotion_code;
};

// Checks the coupon (and code) against `plan` and the customer, and counts the redemption,
// all under the coupon's row lock, in the caller's transaction: concurrent redemptions of a
// coupon queue on the lock, so the limits hold exactly, and a rollback of the caller takes
// the redemption back. Unknown coupon or code: 422; refused: 409 (see check_redemption).
// Requires: inside the caller's transaction. Locks the coupon, then the code.
Result<Redeemed> redeem(db::Tx& tx, IdGenerator& ids, const RedemptionRequest& request, const Plan& plan,
                        Timestamp now);

class CatalogService {
 public:
  CatalogService(db::Database& db, const Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids), events_(ids, clock) {}

  // Called after a product change commits (caches keyed by product drop it).
  void on_product_changed(std::function<void(const std::string& product)> listener) {
    product_changed_ = std::move(listener);
  }
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

  // Tiers. Errors: 409 tier_rank_taken, 404 tier_not_found, 409 tier_in_use (a delete while
  // plans are on it), 422 for an extra's unknown product.
  Result<Tier> create_tier(const TierInput& input, const events::Actor& actor);
  Result<Tier> update_tier(const std::string& id, const TierPatch& patch, std::int64_t expected_version,
                           const events::Actor& actor);
  Status delete_tier(const std::string& id, std::optional<std::int64_t> expected_version, const events::Actor& actor);
  Result<Tier> get_tier(const std::string& id);
  Result<Page<Tier>> list_tiers(const ListFilter& filter);

  Result<Coupon> create_coupon(const CouponInput& input, const events::Actor& actor);
  Result<Coupon> update_coupon(const std::string& id, const CouponPatch& patch, std::int64_t expected_version,
                               const events::Actor& actor);
  Result<Coupon> get_coupon(const std::string& id);
  Result<Page<Coupon>> list_coupons(const ListFilter& filter);

  Result<PromotionCode> create_promotion_code(const PromotionCodeInput& input, const events::Actor& actor);
  Result<PromotionCode> update_promotion_code(const std::string& id, const PromotionCodePatch& patch,
                                              std::int64_t expected_version, const events::Actor& actor);
  Result<PromotionCode> get_promotion_code(const std::string& id);
  Result<Page<PromotionCode>> list_promotion_codes(const ListFilter& filter);

 private:
  // Each item's product, named by id or SKU, must exist; items then name it by id.
  // A plan's selection: its options resolved to product ids (422 naming selection.from[i]
  // for an unknown one), then check_selection.
  Status resolve_selection(db::Tx& tx, std::optional<Selection>& selection);
  Status resolve_items(db::Tx& tx, std::vector<PlanItem>& items, const std::string& field = "items");
  Status check_plans_exist(db::Tx& tx, const std::vector<std::string>& plans);
  Status check_tiers_exist(db::Tx& tx, const std::vector<std::string>& tiers, const std::string& field);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  std::function<void(const std::string&)> product_changed_;
  events::Recorder events_;
};

}  // namespace recur::catalog
