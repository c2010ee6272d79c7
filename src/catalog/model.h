// Products, plans, coupons and promotion codes: what is shipped, the recurring price and
// cadence of a box, and the discounts a merchant hands out.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "platform/json.h"
#include "platform/money.h"
#include "platform/calendar.h"

namespace recur::catalog {

struct Product {
  std::string id;  // "prod_..."
  std::string name;
  std::string sku;
  std::optional<std::string> description;
  std::optional<Money> price;  // list price of one unit (alternatives offered "of similar price")
  std::optional<std::string> category;  // alternatives come from the same category
  // Stock is counted, reserved and can refuse a subscription only when true (the default
  // is false, as in Shopify: catalogues without inventory keep working).
  bool track_inventory = false;
  bool active = true;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
};

struct PlanItem {
  std::string product;  // "prod_..."
  std::int64_t quantity = 1;
  bool operator==(const PlanItem&) const = default;
};

struct Plan {
  std::string id;  // "plan_..."
  std::string name;
  std::int64_t amount = 0;  // per period, minor units
  std::string currency;
  Cadence cadence;
  std::int64_t trial_days = 0;  // 0: no trial (null in JSON)
  std::optional<std::string> tier;
  std::vector<PlanItem> items;
  bool active = true;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
  std::int64_t renewal_reminder_days = 3;  // e-mail this many days before a renewal; 0: none (null in JSON)
};

// A tier of plans (basic, premium, deluxe): a plan names its tier by id. A higher rank is a
// better tier: a plan change to a higher rank is an upgrade, to a lower one a downgrade.
// Entitlements are applied where they mean something (docs/subscription-boxes.md, "Tiers").
struct TierEntitlements {
  std::int64_t add_on_discount_percent = 0;  // 0..100: the member discount on one-time add-ons
  std::vector<PlanItem> extras;              // shipped free in every box of the tier's plans
  bool operator==(const TierEntitlements&) const = default;
};
inline constexpr std::int64_t kMaxTierRank = 1000;
inline constexpr std::size_t kMaxTierExtras = 20;
struct Tier {
  std::string id;  // "tier_..."
  std::string name;
  std::int64_t rank = 0;
  TierEntitlements entitlements;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
};
Json to_json(const Tier& tier);
Tier tier_from_doc(const Json& doc);
// "upgrade" when `to` ranks above `from`, "downgrade" below, "" when either has no tier or
// they rank the same.
std::string tier_direction(const std::optional<Tier>& from, const std::optional<Tier>& to);

// Bodies name a product by its id ("prod_...") or by its SKU; a SKU never begins with
// "prod_" (refused when a product is created or renamed), so the two cannot be confused.
inline constexpr std::string_view kProductIdPrefix = "prod_";
inline bool is_product_id(std::string_view key) { return key.starts_with(kProductIdPrefix); }

Json to_json(const Product& product);
Json to_json(const Plan& plan);
Product product_from_doc(const Json& doc);
Plan plan_from_doc(const Json& doc);

// ---------------------------------------------------------------- coupons

// How many billed periods a coupon discounts: the next one, the next N, or every one.
enum class CouponDuration { kOnce, kRepeating, kForever };
std::optional<CouponDuration> parse_coupon_duration(std::string_view text);  // "once|repeating|forever"
std::string_view to_string(CouponDuration duration);

// Which plans a discount may be used with. Every restriction given must hold; an empty
// list admits every plan.
struct PlanRestriction {
  std::vector<std::string> plans;  // plan ids
  std::vector<std::string> tiers;  // tier ids
  std::string currency;            // a fixed amount off: only plans in this currency ("" any)
};
bool admits(const PlanRestriction& restriction, const Plan& plan);

// A discount's terms. Terms never change once created (subscribers redeemed them); only
// the name, metadata and `active` do. `times_redeemed` is counted in its own column.
struct Coupon {
  std::string id;  // "coupon_..."
  std::string name;
  std::int64_t percent_off = 0;  // 1..100, or 0 for a fixed amount
  std::optional<Money> amount_off;  // off each discounted period's total, in its currency
  CouponDuration duration = CouponDuration::kOnce;
  std::int64_t duration_in_cycles = 0;  // repeating only
  std::optional<Timestamp> redeem_by;   // redeemable up to and including this moment
  std::optional<std::int64_t> max_redemptions;
  std::optional<std::int64_t> max_redemptions_per_customer;
  bool first_subscription_only = false;
  std::vector<std::string> applies_to_plans;
  std::vector<std::string> applies_to_tiers;
  std::int64_t times_redeemed = 0;
  bool active = true;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;

  PlanRestriction restriction() const {
    return {applies_to_plans, applies_to_tiers, amount_off ? amount_off->currency : ""};
  }
};

// A customer-facing code for a coupon, with limits of its own on top of the coupon's.
struct PromotionCode {
  std::string id;    // "promo_..."
  std::string code;  // as the merchant wrote it; unique regardless of case
  std::string coupon;
  std::optional<std::int64_t> max_redemptions;
  bool first_time_only = false;
  std::optional<Timestamp> expires_at;  // redeemable up to and including this moment
  std::int64_t times_redeemed = 0;
  bool active = true;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
};

Json to_json(const Coupon& coupon);
Json to_json(const PromotionCode& code);
Coupon coupon_from_doc(const Json& doc);
PromotionCode promotion_code_from_doc(const Json& doc);

// The key codes are unique and looked up by: ASCII lower case ("SPRING-10" -> "spring-10").
std::string promotion_code_key(std::string_view code);
// A code is 3..64 letters, digits, '-' or '_'.
bool is_valid_promotion_code(std::string_view code);

// What a redemption is checked against, read under the coupon's lock.
struct RedemptionContext {
  const Plan* plan = nullptr;
  Timestamp now = 0;
  bool first_subscription = true;          // the customer had no subscription before this one
  std::int64_t customer_redemptions = 0;   // the customer's earlier redemptions of the coupon
};

// Whether `coupon` (through `code`, when one was given) may be redeemed now. Refusals are
// 409s, checked in this order: `coupon_expired` (inactive, or past redeem_by / expires_at),
// `coupon_not_applicable` (plan, tier, currency, first subscription), `coupon_exhausted`
// (max redemptions reached: overall, for the customer, or on the code).
Status check_redemption(const Coupon& coupon, const PromotionCode* code, const RedemptionContext& context);

}  // namespace recur::catalog
