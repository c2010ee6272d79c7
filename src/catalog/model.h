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
  // Lower-case words a customer's preferences name (likes, excludes): "vegan", "spicy".
  std::vector<std::string> tags;
};
inline constexpr std::size_t kMaxTags = 20;
// 1..40 characters of a-z, 0-9, '-' and '_'.
bool is_tag(std::string_view tag);

struct PlanItem {
  std::string product;  // "prod_..."
  std::int64_t quantity = 1;
  bool operator==(const PlanItem&) const = default;
};

// A list of items in JSON, [{product, quantity}], and back (a plan's items, a tier's extras,
// a box's choice).
Json to_json(const std::vector<PlanItem>& items);
std::vector<PlanItem> plan_items_from_json(const Json& json);

// Box customization (docs/subscription-boxes.md, "Choosing what is in the box"): each box of
// the plan holds, besides its items, `choose` units picked from `from` (product ids) by the
// customer until `cutoff_days` before the box, or by Recur after: by the customer's
// preferences ("preferences") or the first `choose` options in order ("fixed").
inline constexpr std::int64_t kMaxChoose = 20;
inline constexpr std::size_t kMaxOptions = 50;
inline constexpr std::int64_t kMaxCutoffDays = 30;
struct Selection {
  std::int64_t choose = 1;
  std::vector<std::string> from;
  std::int64_t cutoff_days = 3;
  std::string default_rule = "preferences";  // "preferences" | "fixed"
  bool operator==(const Selection&) const = default;
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
  std::optional<Selection> selection;      // the customer picks part of each box
};

Json to_json(const std::optional<Selection>& selection);
// The rules of a selection a request sets, its products already resolved to ids: choose
// 1..20, 1..50 distinct options, cutoff_days 0..30, default preferences or fixed. 422
// validation_failed naming `selection.<field>`.
recur::Status check_selection(const Selection& selection);
// Whether `items` are a valid choice for `selection`: each product one of its options, each
// quantity at least 1, `choose` units in all. 422 validation_failed naming `items`.
recur::Status check_choice(const Selection& selection, const std::vector<PlanItem>& items);

// What Recur puts in a box no choice was made for. An option as the picker sees it.
struct PickOption {
  std::string product;
  std::vector<std::string> tags;
  bool in_stock = true;  // can be reserved for the box
};
struct Preferences {
  std::vector<std::string> likes;
  std::vector<std::string> excludes;
  bool operator==(const Preferences&) const = default;
};
// The rule (docs/subscription-boxes.md): "fixed" takes the first `choose` of `options` (the
// selection's, archived ones left out) in order, one of each, around again when there are fewer. "preferences" never
// takes an option with an excluded tag; among the rest it prefers, in this order, what is in stock, what was not in the
// last box (`last`), more liked tags, then a hash of (`seed`, product): one of each, around again when there are fewer.
// Empty when every option is excluded. Deterministic for a given seed. Pure.
std::vector<PlanItem> pick_selection(const Selection& selection, const std::vector<PickOption>& options,
                                     const Preferences& preferences, const std::vector<std::string>& last,
                                     std::string_view seed);

// A tier of plans (basic, premium, deluxe): a plan names its tier by id. A higher rank is a
// better tier: a plan change to a higher rank is an upgrade, to a lower one a downgrade.
// Entitlements are applied where they mean something (docs/subscription-boxes.md, "Tiers").
struct TierEntitlements {
  std::int64_t add_on_discount_percent = 0;  // 0..100: the member discount on one-time add-ons
  std::vector<PlanItem> extras;              // shipped free in every box of the tier's plans
  bool operator==(const TierEntitlements&) const = default;
  // The box size: units a subscriber chooses (or Recur picks) in each box of the tier's
  // plans that have a selection, on top of the selection's `choose` (0..kMaxChoose).
  std::int64_t extra_choices = 0;
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
