// Catalog use cases.
#include "catalog/service.h"

#include "events/store.h"
#include "platform/ids.h"

namespace recur::catalog {

Result<Product> CatalogService::create_product(const ProductInput& in, const events::Actor& actor) {
  Product p;
  p.id = ids_.next("prod");
  p.name = in.name;
  p.sku = in.sku;
  p.description = in.description;
  p.price = in.price;
  p.category = in.category;
  p.tags = in.tags;
  p.track_inventory = in.track_inventory;
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
    if (!found) return Error::not_found("product_not_found", no_object_message("product", "prod", id));
    Product p = *found;
    if (p.version != expected_version) return version_conflict("the product", expected_version, p.version);
    Json before = to_json(p);
    if (patch.name) p.name = *patch.name;
    if (patch.sku) p.sku = *patch.sku;
    if (patch.description) p.description = *patch.description;
    if (patch.price) p.price = *patch.price;
    if (patch.category) p.category = *patch.category;
    if (patch.tags) p.tags = *patch.tags;
    if (patch.track_inventory) p.track_inventory = *patch.track_inventory;
    if (patch.active) p.active = *patch.active;
    if (patch.metadata) p.metadata = *patch.metadata;
    p.updated = clock_.now();
    ++p.version;
    RECUR_ASSIGN(bool updated, catalog::update_product(tx, p));
    if (!updated) return version_conflict("the product", expected_version, p.version);
    RECUR_TRY(events_.record(tx, "product.updated", p.id, actor, std::move(before), to_json(p)));
    if (product_changed_) tx.after_commit([this, id = p.id] { product_changed_(id); });
    return p;
  });
}

Result<Product> CatalogService::get_product(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Product> {
    RECUR_ASSIGN(auto found, find_product(tx, id));
    if (!found) return Error::not_found("product_not_found", no_object_message("product", "prod", id));
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Product>> CatalogService::list_products(const ListFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return catalog::list_products(tx, filter); }, db::TxMode::kReadOnly);
}

namespace {

// A 422 naming every key in `keys` that `find(i, key)` does not find, as `<field>[i]<suffix>`;
// `what` names what a key is ("plan with id").
template <typename Find>
Status refuse_missing(const std::vector<std::string>& keys, const std::string& field, const std::string& suffix,
                      const std::string& what, Find find) {
  std::vector<FieldError> errors;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    RECUR_ASSIGN(bool found, find(i, keys[i]));
    if (!found)
      errors.push_back({field + "[" + std::to_string(i) + "]" + suffix, "not_found",
                        "no " + what + " '" + keys[i] + "'"});
  }
  if (!errors.empty()) {
    std::string detail = errors.front().message;  // read before the vector is moved away
    return Error::invalid("validation_failed", detail, std::move(errors));
  }
  return Ok{};
}

}  // namespace

Status CatalogService::resolve_items(db::Tx& tx, std::vector<PlanItem>& items, const std::string& field) {
  std::vector<std::string> keys;
  for (const auto& item : items) keys.push_back(item.product);
  return refuse_missing(keys, field, ".product", "product with id or SKU",
                        [&](std::size_t i, const std::string& key) -> Result<bool> {
                          RECUR_ASSIGN(auto product, find_product_by_key(tx, key));
                          if (product) items[i].product = product->id;
                          return product.has_value();
                        });
}

Status CatalogService::resolve_selection(db::Tx& tx, std::optional<Selection>& selection) {
  if (!selection) return Ok{};
  RECUR_TRY(refuse_missing(selection->from, "selection.from", "", "product with id or SKU",
                           [&](std::size_t i, const std::string& key) -> Result<bool> {
                             RECUR_ASSIGN(auto product, find_product_by_key(tx, key));
                             if (product) selection->from[i] = product->id;
                             return product.has_value();
                           }));
  return check_selection(*selection);
}

Status CatalogService::check_tiers_exist(db::Tx& tx, const std::vector<std::string>& tiers, const std::string& field) {
  return refuse_missing(tiers, field, "", "tier with id", [&](std::size_t, const std::string& id) -> Result<bool> {
    RECUR_ASSIGN(auto tier, find_tier(tx, id));
    return tier.has_value();
  });
}

namespace {

// A plan's tier: an existing tier's id (422 naming `tier`).
Status check_plan_tier(db::Tx& tx, const std::optional<std::string>& tier) {
  if (!tier) return Ok{};
  // Locked, as delete_tier locks it: a plan cannot come to name a tier deleted meanwhile.
  RECUR_ASSIGN(auto found, find_tier(tx, *tier, true));
  if (found) return Ok{};
  std::string message = "no tier with id '" + *tier + "' (a plan names its tier by id: POST /v1/tiers)";
  return Error::invalid("validation_failed", message, {{"tier", "not_found", message}});
}

Error tier_not_found(const std::string& id) {
  return Error::not_found("tier_not_found", no_object_message("tier", "tier", id));
}

}  // namespace

Result<Tier> CatalogService::create_tier(const TierInput& in, const events::Actor& actor) {
  Tier t;
  t.id = ids_.next("tier");
  t.name = in.name;
  t.rank = in.rank;
  t.entitlements = in.entitlements;
  t.metadata = in.metadata;
  t.created = t.updated = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Tier> {
    RECUR_TRY(resolve_items(tx, t.entitlements.extras, "entitlements.extras"));
    RECUR_TRY(insert_tier(tx, t));
    RECUR_TRY(events_.record(tx, "tier.created", t.id, actor, nullptr, to_json(t)));
    return t;
  });
}

Result<Tier> CatalogService::update_tier(const std::string& id, const TierPatch& patch, std::int64_t expected_version,
                                         const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Tier> {
    RECUR_ASSIGN(auto found, find_tier(tx, id, true));
    if (!found) return tier_not_found(id);
    Tier t = *found;
    if (t.version != expected_version) return version_conflict("the tier", expected_version, t.version);
    Json before = to_json(t);
    if (patch.entitlements) {
      t.entitlements = *patch.entitlements;
      RECUR_TRY(resolve_items(tx, t.entitlements.extras, "entitlements.extras"));
    }
    if (patch.name) t.name = *patch.name;
    if (patch.rank) t.rank = *patch.rank;
    if (patch.metadata) t.metadata = *patch.metadata;
    t.updated = clock_.now();
    ++t.version;
    RECUR_ASSIGN(bool updated, catalog::update_tier(tx, t));
    if (!updated) return version_conflict("the tier", expected_version, t.version);
    RECUR_TRY(events_.record(tx, "tier.updated", t.id, actor, std::move(before), to_json(t)));
    return t;
  });
}

Status CatalogService::delete_tier(const std::string& id, std::optional<std::int64_t> expected_version,
                                   const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Status {
    RECUR_ASSIGN(auto found, find_tier(tx, id, true));
    if (!found) return tier_not_found(id);
    if (expected_version && *expected_version != found->version)
      return version_conflict("the tier", *expected_version, found->version);
    RECUR_ASSIGN(std::int64_t plans, plans_on_tier(tx, id));
    if (plans > 0)
      return Error::conflict("tier_in_use", std::to_string(plans) +
                                                " plan(s) are on this tier; move them to another tier (PATCH the "
                                                "plan's tier) before deleting it");
    RECUR_TRY(catalog::delete_tier(tx, id));
    RECUR_TRY(events_.record(tx, "tier.deleted", id, actor, to_json(*found), nullptr));
    return Ok{};
  });
}

Result<Tier> CatalogService::get_tier(const std::string& id) {
  return db::transact(
      db_,
      [&](db::Tx& tx) -> Result<Tier> {
        RECUR_ASSIGN(auto found, find_tier(tx, id));
        if (!found) return tier_not_found(id);
        return *found;
      },
      db::TxMode::kReadOnly);
}

Result<Page<Tier>> CatalogService::list_tiers(const ListFilter& filter) {
  return db::transact(
      db_, [&](db::Tx& tx) { return catalog::list_tiers(tx, filter); }, db::TxMode::kReadOnly);
}

Status CatalogService::check_plans_exist(db::Tx& tx, const std::vector<std::string>& plans) {
  return refuse_missing(plans, "applies_to_plans", "", "plan with id", [&](std::size_t, const std::string& id) -> Result<bool> {
    RECUR_ASSIGN(auto plan, find_plan(tx, id));
    return plan.has_value();
  });
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
  p.selection = in.selection;
  p.metadata = in.metadata;
  p.created = p.updated = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Plan> {
    RECUR_TRY(resolve_items(tx, p.items));
    RECUR_TRY(resolve_selection(tx, p.selection));
    RECUR_TRY(check_plan_tier(tx, p.tier));
    RECUR_TRY(insert_plan(tx, p));
    RECUR_TRY(events_.record(tx, "plan.created", p.id, actor, nullptr, to_json(p)));
    return p;
  });
}

Result<Plan> CatalogService::update_plan(const std::string& id, const PlanPatch& patch, std::int64_t expected_version,
                                         const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Plan> {
    RECUR_ASSIGN(auto found, find_plan(tx, id, true));
    if (!found) return Error::not_found("plan_not_found", no_object_message("plan", "plan", id));
    Plan p = *found;
    if (p.version != expected_version) return version_conflict("the plan", expected_version, p.version);
    Json before = to_json(p);
    if (patch.items) {
      p.items = *patch.items;
      RECUR_TRY(resolve_items(tx, p.items));
    }
    if (patch.selection) {
      p.selection = *patch.selection;
      RECUR_TRY(resolve_selection(tx, p.selection));
    }
    if (patch.name) p.name = *patch.name;
    if (patch.trial_days) p.trial_days = *patch.trial_days;
    if (patch.renewal_reminder_days) p.renewal_reminder_days = *patch.renewal_reminder_days;
    if (patch.tier) {
      p.tier = *patch.tier;
      RECUR_TRY(check_plan_tier(tx, p.tier));
    }
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
    if (!found) return Error::not_found("plan_not_found", no_object_message("plan", "plan", id));
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Plan>> CatalogService::list_plans(const ListFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return catalog::list_plans(tx, filter); }, db::TxMode::kReadOnly);
}

// ------------------------------------------------------------------ coupons

namespace {

Error coupon_not_found(const std::string& id) {
  return Error::not_found("coupon_not_found", no_object_message("coupon", "coupon", id));
}
Error promotion_code_not_found(const std::string& id) {
  return Error::not_found("promotion_code_not_found", no_object_message("promotion code", "promo", id));
}

Error in_the_past(const std::string& field) {
  return Error::invalid("validation_failed", field + " must be in the future",
                        {{field, "in_the_past", field + " must be after now"}});
}

}  // namespace

Result<Coupon> CatalogService::create_coupon(const CouponInput& in, const events::Actor& actor) {
  Timestamp now = clock_.now();
  if (in.redeem_by && *in.redeem_by <= now) return in_the_past("redeem_by");
  Coupon c;
  c.id = ids_.next("coupon");
  c.name = in.name;
  c.percent_off = in.percent_off;
  c.amount_off = in.amount_off;
  c.duration = in.duration;
  c.duration_in_cycles = in.duration_in_cycles;
  c.redeem_by = in.redeem_by;
  c.max_redemptions = in.max_redemptions;
  c.max_redemptions_per_customer = in.max_redemptions_per_customer;
  c.first_subscription_only = in.first_subscription_only;
  c.applies_to_plans = in.applies_to_plans;
  c.applies_to_tiers = in.applies_to_tiers;
  c.metadata = in.metadata;
  c.created = c.updated = now;
  return db::transact(db_, [&](db::Tx& tx) -> Result<Coupon> {
    RECUR_TRY(check_plans_exist(tx, c.applies_to_plans));
    RECUR_TRY(check_tiers_exist(tx, c.applies_to_tiers, "applies_to_tiers"));
    RECUR_TRY(insert_coupon(tx, c));
    RECUR_TRY(events_.record(tx, "coupon.created", c.id, actor, nullptr, to_json(c)));
    return c;
  });
}

Result<Coupon> CatalogService::update_coupon(const std::string& id, const CouponPatch& patch,
                                             std::int64_t expected_version, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Coupon> {
    RECUR_ASSIGN(auto found, find_coupon(tx, id, true));
    if (!found) return coupon_not_found(id);
    Coupon c = *found;
    if (c.version != expected_version) return version_conflict("the coupon", expected_version, c.version);
    Json before = to_json(c);
    if (patch.name) c.name = *patch.name;
    if (patch.active) c.active = *patch.active;
    if (patch.metadata) c.metadata = *patch.metadata;
    c.updated = clock_.now();
    ++c.version;
    RECUR_ASSIGN(bool updated, catalog::update_coupon(tx, c));
    if (!updated) return version_conflict("the coupon", expected_version, c.version);
    RECUR_TRY(events_.record(tx, "coupon.updated", c.id, actor, std::move(before), to_json(c)));
    return c;
  });
}

Result<Coupon> CatalogService::get_coupon(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Coupon> {
    RECUR_ASSIGN(auto found, find_coupon(tx, id));
    if (!found) return coupon_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Coupon>> CatalogService::list_coupons(const ListFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return catalog::list_coupons(tx, filter); }, db::TxMode::kReadOnly);
}

Result<PromotionCode> CatalogService::create_promotion_code(const PromotionCodeInput& in, const events::Actor& actor) {
  Timestamp now = clock_.now();
  if (in.expires_at && *in.expires_at <= now) return in_the_past("expires_at");
  PromotionCode p;
  p.id = ids_.next("promo");
  p.code = in.code;
  p.coupon = in.coupon;
  p.max_redemptions = in.max_redemptions;
  p.first_time_only = in.first_time_only;
  p.expires_at = in.expires_at;
  p.metadata = in.metadata;
  p.created = p.updated = now;
  return db::transact(db_, [&](db::Tx& tx) -> Result<PromotionCode> {
    RECUR_ASSIGN(auto coupon, find_coupon(tx, p.coupon));
    if (!coupon)
      return Error::invalid("coupon_not_found", no_object_message("coupon", "coupon", p.coupon),
                            {{"coupon", "not_found", "no such coupon"}});
    RECUR_TRY(insert_promotion_code(tx, p));
    RECUR_TRY(events_.record(tx, "promotion_code.created", p.id, actor, nullptr, to_json(p)));
    return p;
  });
}

Result<PromotionCode> CatalogService::update_promotion_code(const std::string& id, const PromotionCodePatch& patch,
                                                            std::int64_t expected_version, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<PromotionCode> {
    RECUR_ASSIGN(auto found, find_promotion_code(tx, id, true));
    if (!found) return promotion_code_not_found(id);
    PromotionCode p = *found;
    if (p.version != expected_version) return version_conflict("the promotion code", expected_version, p.version);
    Json before = to_json(p);
    if (patch.active) p.active = *patch.active;
    if (patch.metadata) p.metadata = *patch.metadata;
    p.updated = clock_.now();
    ++p.version;
    RECUR_ASSIGN(bool updated, catalog::update_promotion_code(tx, p));
    if (!updated) return version_conflict("the promotion code", expected_version, p.version);
    RECUR_TRY(events_.record(tx, "promotion_code.updated", p.id, actor, std::move(before), to_json(p)));
    return p;
  });
}

Result<PromotionCode> CatalogService::get_promotion_code(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<PromotionCode> {
    RECUR_ASSIGN(auto found, find_promotion_code(tx, id));
    if (!found) return promotion_code_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<PromotionCode>> CatalogService::list_promotion_codes(const ListFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return catalog::list_promotion_codes(tx, filter); },
                      db::TxMode::kReadOnly);
}

// ------------------------------------------------------------------ redemption

namespace {

bool is_promotion_code_id(std::string_view ref) { return ref.size() == 32 && ref.substr(0, 6) == "promo_"; }

// The code a customer typed (any case), or a code's id.
Result<std::optional<PromotionCode>> find_code(db::Tx& tx, const std::string& ref, bool for_update) {
  if (is_promotion_code_id(ref)) return find_promotion_code(tx, ref, for_update);
  return find_promotion_code_by_code(tx, ref, for_update);
}

Error unknown_reference(const char* code, const char* field, const std::string& ref, const char* what) {
  return Error::invalid(code, std::string("no ") + what + " '" + ref + "'", {{field, "not_found", std::string("no such ") + what}});
}

}  // namespace

Result<Redeemed> redeem(db::Tx& tx, IdGenerator& ids, const RedemptionRequest& req, const Plan& plan, Timestamp now) {
  // Which coupon: read the code without a lock first, so the coupon is always locked before
  // its code (one lock order for every redemption).
  std::string coupon_id = req.coupon.value_or("");
  if (req.promotion_code) {
    RECUR_ASSIGN(auto code, find_code(tx, *req.promotion_code, false));
    if (!code) return unknown_reference("promotion_code_not_found", "promotion_code", *req.promotion_code, "promotion code");
    coupon_id = code->coupon;
  }
  RECUR_ASSIGN(auto coupon, find_coupon(tx, coupon_id, true));
  if (!coupon) return unknown_reference("coupon_not_found", "coupon", coupon_id, "coupon");
  std::optional<PromotionCode> code;
  if (req.promotion_code) {
    RECUR_ASSIGN(code, find_code(tx, *req.promotion_code, true));
    if (!code || code->coupon != coupon->id)
      return unknown_reference("promotion_code_not_found", "promotion_code", *req.promotion_code, "promotion code");
  }
  const PromotionCode* through = code ? &*code : nullptr;

  RedemptionContext ctx{&plan, now};
  if ((coupon->first_subscription_only || (code && code->first_time_only)) && req.is_first_subscription) {
    RECUR_ASSIGN(ctx.first_subscription, req.is_first_subscription(tx));
  }
  if (coupon->max_redemptions_per_customer) {
    RECUR_ASSIGN(ctx.customer_redemptions, customer_redemptions(tx, coupon->id, req.customer));
  }
  RECUR_TRY(check_redemption(*coupon, through, ctx));

  // Under the lock these cannot fail; they stay the last word on the limits regardless.
  RECUR_ASSIGN(bool counted, count_coupon_redemption(tx, coupon->id));
  if (!counted) return Error::conflict("coupon_exhausted", "coupon '" + coupon->id + "' has no redemptions left");
  if (code) {
    RECUR_ASSIGN(bool code_counted, count_promotion_code_redemption(tx, code->id));
    if (!code_counted)
      return Error::conflict("coupon_exhausted", "promotion code '" + code->code + "' has no redemptions left");
    ++code->times_redeemed;
  }
  ++coupon->times_redeemed;
  Redemption r{ids.next("redm"), coupon->id, code ? std::optional<std::string>(code->id) : std::nullopt, req.customer,
               req.subscription, now};
  RECUR_TRY(insert_redemption(tx, r));
  return Redeemed{*std::move(coupon), std::move(code)};
}

}  // namespace recur::catalog
