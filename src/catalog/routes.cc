// Catalog routes: parse and validate, call the service, render. No SQL here.
#include "catalog/routes.h"

#include "access/actor.h"
#include "access/model.h"
#include "platform/http/rest.h"

namespace recur::catalog {
namespace {

using http::Request;
using http::Response;

// A product's list price: `amount` and `currency` together, or neither. Outer nullopt: not
// given (or refused, the error recorded); inner nullopt: both null, which clears it.
std::optional<std::optional<Money>> read_price(FieldReader& f) {
  const bool has_amount = f.has("amount"), has_currency = f.has("currency");
  if (!has_amount && !has_currency) return std::nullopt;
  if (has_amount != has_currency) {
    const char* missing = has_amount ? "currency" : "amount";
    const char* given = has_amount ? "amount" : "currency";
    f.accept(given);
    f.fail(missing, "required", std::string(missing) + " is required with " + given + " (a price has both, or neither)");
    return std::nullopt;
  }
  const bool amount_null = f.is_null("amount"), currency_null = f.is_null("currency");
  if (amount_null && currency_null) {
    f.accept("amount");
    f.accept("currency");
    return std::optional<Money>();
  }
  if (amount_null != currency_null) {
    const char* null_one = amount_null ? "amount" : "currency";
    const char* other = amount_null ? "currency" : "amount";
    f.accept(null_one);
    f.accept(other);
    f.fail(null_one, "null_not_allowed",
           std::string(null_one) + " is null but " + other + " is not: clear the price with both null");
    return std::nullopt;
  }
  auto amount = f.integer("amount", true, 0, 100'000'000'00);
  auto currency = f.currency("currency", true);
  if (!amount || !currency) return std::nullopt;
  return std::optional<Money>(Money{*amount, *currency});
}

// Items [{product, quantity}] under `name` (`path`: its name in errors, for a nested
// reader). A plan's items give their quantity (up to 10,000); a tier's extras may leave
// it out (1), up to 100.
struct ItemsRule {
  std::string name = "items";
  std::string path = "items";
  std::size_t most = 50;
  std::int64_t most_each = 10'000;
  bool quantity_required = true;
};
std::optional<std::vector<PlanItem>> read_items(FieldReader& fields, bool required, const ItemsRule& rule = {}) {
  const auto& [name, path, most, most_each, quantity_required] = rule;
  const Json* items = fields.array(name, required, most);
  if (!items) return std::nullopt;
  std::vector<PlanItem> out;
  for (std::size_t i = 0; i < items->size(); ++i) {
    std::string prefix = path + "[" + std::to_string(i) + "]";
    if (!(*items)[i].is_object()) {
      fields.fail(prefix, "invalid_type", prefix + " must be an object");
      continue;
    }
    FieldReader item((*items)[i], prefix);
    auto product = item.text("product", true, 64);
    auto quantity = item.integer("quantity", quantity_required, 1, most_each);
    fields.absorb(item);
    if (product && (quantity || !item.has("quantity"))) out.push_back({*product, quantity.value_or(1)});
  }
  return out;
}

// A SKU: 1..64 characters, never beginning with "prod_" (bodies name a product by its id
// or its SKU, and ids begin so).
std::optional<std::string> read_sku(FieldReader& f, bool required) {
  auto sku = f.text("sku", required, 64);
  if (sku && is_product_id(*sku)) {
    f.fail("sku", "invalid_value", "a SKU may not begin with \"prod_\" (product ids do)");
    return std::nullopt;
  }
  return sku;
}

// Fields named by a PATCH that may not change: each gets an `immutable` field error.
void refuse_frozen(FieldReader& f, std::initializer_list<const char*> frozen, const std::string& why) {
  for (const char* field : frozen)
    if (f.has(field)) {
      f.accept(field);
      f.fail(field, "immutable", std::string(field) + " " + why);
    }
}

// tags: [word, ...], each is_tag, at most kMaxTags, no repeats.
std::optional<std::vector<std::string>> read_tags(FieldReader& f) {
  const Json* tags = f.array("tags", false, kMaxTags);
  if (!tags) return std::nullopt;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < tags->size(); ++i) {
    const std::string field = "tags[" + std::to_string(i) + "]";
    const Json& t = (*tags)[i];
    if (!t.is_string() || !is_tag(t.get<std::string>())) {
      f.fail(field, "invalid_value", field + " must be 1 to 40 characters of a-z, 0-9, - and _");
      continue;
    }
    if (std::find(out.begin(), out.end(), t.get<std::string>()) != out.end()) {
      f.fail(field, "duplicate", field + " repeats a tag");
      continue;
    }
    out.push_back(t.get<std::string>());
  }
  return out;
}

// selection: {choose, from: [product id or SKU], cutoff_days?, default?} (the rest of the
// rules are check_selection's, once the products are resolved).
std::optional<Selection> read_selection(FieldReader& fields) {
  const Json* obj = fields.object("selection", false);
  if (!obj) return std::nullopt;
  FieldReader f(*obj, "selection");
  Selection s;
  auto choose = f.integer("choose", true, 1, kMaxChoose);
  const Json* from = f.array("from", true, kMaxOptions);
  s.cutoff_days = f.integer("cutoff_days", false, 0, kMaxCutoffDays).value_or(3);
  s.default_rule = f.one_of("default", false, {"preferences", "fixed"}).value_or("preferences");
  if (from) {
    for (std::size_t i = 0; i < from->size(); ++i) {
      const Json& p = (*from)[i];
      if (!p.is_string() || p.get<std::string>().empty() || p.get<std::string>().size() > 64)
        f.fail("from[" + std::to_string(i) + "]", "invalid_value", "a product's id or SKU");
      else
        s.from.push_back(p.get<std::string>());
    }
    if (from->empty()) f.fail("from", "required", "selection.from must name at least one product");
  }
  fields.absorb(f);
  if (!choose || !from) return std::nullopt;
  s.choose = *choose;
  return s;
}

Result<ProductInput> parse_product(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  ProductInput in;
  auto name = f.text("name", true, 200);
  auto sku = read_sku(f, true);
  in.description = f.text("description", false, 2000, 0);
  if (auto price = read_price(f)) in.price = *price;
  in.category = f.text("category", false, 100);
  in.track_inventory = f.boolean("track_inventory", false).value_or(false);
  if (auto tags = read_tags(f)) in.tags = *tags;
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.name = *name;
  in.sku = *sku;
  return in;
}

Result<std::pair<ProductPatch, std::int64_t>> parse_product_patch(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  ProductPatch patch;
  patch.name = f.text("name", false, 200);
  patch.sku = read_sku(f, false);
  if (f.is_null("description")) patch.description = std::optional<std::string>();
  else if (auto d = f.text("description", false, 2000, 0)) patch.description = d;
  patch.price = read_price(f);
  if (f.is_null("category")) patch.category = std::optional<std::string>();
  else if (auto c = f.text("category", false, 100)) patch.category = c;
  patch.track_inventory = f.boolean("track_inventory", false);
  patch.tags = read_tags(f);
  patch.active = f.boolean("active", false);
  patch.metadata = f.metadata("metadata");
  f.accept("description");
  f.accept("category");
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

Result<PlanInput> parse_plan(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  PlanInput in;
  auto name = f.text("name", true, 200);
  auto amount = f.integer("amount", true, 0, 100'000'000'00);
  auto currency = f.currency("currency", true);
  auto interval = f.one_of("interval", true, {"day", "week", "month", "year"});
  auto count = f.integer("interval_count", false, 1, 365);
  in.trial_days = f.count_or_null("trial_days", 730, "no trial").value_or(0);
  in.renewal_reminder_days = f.count_or_null("renewal_reminder_days", 60, "no reminder").value_or(3);
  in.tier = f.text("tier", false, 64);
  auto items = read_items(f, false);
  in.selection = read_selection(f);
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.name = *name;
  in.amount = *amount;
  in.currency = *currency;
  in.cadence = {*parse_interval(*interval), static_cast<int>(count.value_or(1))};
  if (items) in.items = *items;
  return in;
}

Result<std::pair<PlanPatch, std::int64_t>> parse_plan_patch(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  PlanPatch patch;
  patch.name = f.text("name", false, 200);
  patch.trial_days = f.count_or_null("trial_days", 730, "no trial");
  patch.renewal_reminder_days = f.count_or_null("renewal_reminder_days", 60, "no reminder");
  if (f.is_null("tier")) patch.tier = std::optional<std::string>();
  else if (auto t = f.text("tier", false, 64)) patch.tier = t;
  f.accept("tier");
  patch.items = read_items(f, false);
  if (f.is_null("selection")) patch.selection = std::optional<Selection>();
  else if (auto s = read_selection(f)) patch.selection = s;
  f.accept("selection");
  patch.active = f.boolean("active", false);
  patch.metadata = f.metadata("metadata");
  refuse_frozen(f, {"amount", "currency", "interval", "interval_count"},
                "is fixed once a plan exists (subscribers agreed to it); create a new plan");
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

// A list of short strings (plan ids, tiers): at most 100, each 1..64 characters.
std::vector<std::string> read_strings(FieldReader& fields, const char* name) {
  std::vector<std::string> out;
  const Json* values = fields.array(name, false, 100);
  if (!values) return out;
  for (std::size_t i = 0; i < values->size(); ++i) {
    const Json& v = (*values)[i];
    std::string field = std::string(name) + "[" + std::to_string(i) + "]";
    if (!v.is_string() || v.get_ref<const std::string&>().empty() || v.get_ref<const std::string&>().size() > 64) {
      fields.fail(field, "invalid_type", field + " must be a string of 1 to 64 characters");
      continue;
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Terms: a percentage or an amount with its currency (exactly one), and a duration with
// its cycle count when repeating.
void read_coupon_terms(FieldReader& f, CouponInput& in) {
  auto percent = f.integer("percent_off", false, 1, 100);
  auto amount = f.integer("amount_off", false, 1, 100'000'000'00);
  auto currency = f.currency("currency", false);
  auto duration = f.one_of("duration", false, {"once", "repeating", "forever"});
  auto cycles = f.integer("duration_in_cycles", false, 1, 120);
  bool has_percent = f.has("percent_off"), has_amount = f.has("amount_off");
  if (has_percent && has_amount)
    f.fail("amount_off", "conflicting", "give either percent_off or amount_off, not both");
  else if (!has_percent && !has_amount)
    f.fail("percent_off", "required", "percent_off or amount_off (with currency) is required");
  if (has_amount && !f.has("currency")) f.fail("currency", "required", "currency is required with amount_off");
  if (!has_amount && f.has("currency")) f.fail("currency", "not_allowed", "currency goes only with amount_off");
  in.duration = parse_coupon_duration(duration.value_or("once")).value_or(CouponDuration::kOnce);
  if (in.duration == CouponDuration::kRepeating && !f.has("duration_in_cycles"))
    f.fail("duration_in_cycles", "required", "duration_in_cycles is required for a repeating coupon");
  if (in.duration != CouponDuration::kRepeating && f.has("duration_in_cycles"))
    f.fail("duration_in_cycles", "not_allowed", "duration_in_cycles goes only with duration repeating");
  in.percent_off = percent.value_or(0);
  if (amount && currency) in.amount_off = Money{*amount, *currency};
  in.duration_in_cycles = cycles.value_or(0);
}

Result<CouponInput> parse_coupon(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  CouponInput in;
  auto name = f.text("name", true, 200);
  read_coupon_terms(f, in);
  in.redeem_by = f.timestamp("redeem_by", false);
  in.max_redemptions = f.integer("max_redemptions", false, 1, 1'000'000'000);
  in.max_redemptions_per_customer = f.integer("max_redemptions_per_customer", false, 1, 1'000'000);
  in.first_subscription_only = f.boolean("first_subscription_only", false).value_or(false);
  in.applies_to_plans = read_strings(f, "applies_to_plans");
  in.applies_to_tiers = read_strings(f, "applies_to_tiers");
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.name = *name;
  return in;
}

Result<std::pair<CouponPatch, std::int64_t>> parse_coupon_patch(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  CouponPatch patch{f.text("name", false, 200), f.boolean("active", false), f.metadata("metadata")};
  refuse_frozen(f,
                {"percent_off", "amount_off", "currency", "duration", "duration_in_cycles", "redeem_by",
                 "max_redemptions", "max_redemptions_per_customer", "first_subscription_only", "applies_to_plans",
                 "applies_to_tiers"},
                "is fixed once a coupon exists (customers redeemed it); create a new coupon");
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

Result<PromotionCodeInput> parse_promotion_code(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  PromotionCodeInput in;
  auto code = f.text("code", true, 64, 3);
  if (code && !is_valid_promotion_code(*code))
    f.fail("code", "invalid_code", "code must be 3 to 64 letters, digits, '-' or '_'");
  auto coupon = f.text("coupon", true, 64);
  in.max_redemptions = f.integer("max_redemptions", false, 1, 1'000'000'000);
  in.first_time_only = f.boolean("first_time_only", false).value_or(false);
  in.expires_at = f.timestamp("expires_at", false);
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.code = *code;
  in.coupon = *coupon;
  return in;
}

Result<std::pair<PromotionCodePatch, std::int64_t>> parse_promotion_code_patch(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  PromotionCodePatch patch{f.boolean("active", false), f.metadata("metadata")};
  refuse_frozen(f, {"code", "coupon", "max_redemptions", "first_time_only", "expires_at"},
                "is fixed once a promotion code exists; create a new code");
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

// `entitlements`: {add_on_discount_percent?, extras?, extra_choices?}; what is left out is none.
std::optional<TierEntitlements> read_entitlements(FieldReader& f, bool required) {
  const Json* object = f.object("entitlements", required);
  if (!object) return std::nullopt;
  FieldReader e(*object, "entitlements");
  TierEntitlements out;
  out.add_on_discount_percent = e.integer("add_on_discount_percent", false, 0, 100).value_or(0);
  auto extras = read_items(e, false, {"extras", "entitlements.extras", kMaxTierExtras, 100, false});
  if (extras) out.extras = *extras;
  out.extra_choices = e.integer("extra_choices", false, 0, kMaxChoose).value_or(0);
  f.absorb(e);  // its errors, unknown fields included, go with the body's
  return out;
}

Result<TierInput> parse_tier(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  TierInput in;
  auto name = f.text("name", true, 100);
  auto rank = f.integer("rank", true, 0, kMaxTierRank);
  if (auto e = read_entitlements(f, false)) in.entitlements = *e;
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.name = *name;
  in.rank = *rank;
  return in;
}

Result<std::pair<TierPatch, std::int64_t>> parse_tier_patch(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  TierPatch patch;
  patch.name = f.text("name", false, 100);
  patch.rank = f.integer("rank", false, 0, kMaxTierRank);
  patch.entitlements = read_entitlements(f, false);
  patch.metadata = f.metadata("metadata");
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

std::optional<bool> bool_filter(const Request& req, const char* name) {
  auto v = req.query_param(name);
  if (!v) return std::nullopt;
  return *v == "true";
}

Result<ListFilter> list_filter(const Request& req, const std::vector<std::string_view>& allowed) {
  RECUR_ASSIGN(auto page, http::page_request(req, allowed));
  ListFilter f;
  f.page = page;
  if (auto active = req.query_param("active")) {
    if (*active != "true" && *active != "false")
      return Error::invalid("validation_failed", "active must be true or false",
                            {{"active", "invalid_value", "active must be true or false"}});
    f.active = bool_filter(req, "active");
  }
  f.sku = req.query_param("sku");
  f.tier = req.query_param("tier");
  f.code = req.query_param("code");
  f.coupon = req.query_param("coupon");
  return f;
}

}  // namespace

void add_routes(http::Router& router, CatalogService& service) {
  using namespace access::perm;
  auto render_product = [](const Product& p) { return to_json(p); };
  auto render_plan = [](const Plan& p) { return to_json(p); };

  router.add("POST", "/v1/products", std::string(kCatalogWrite), [&service, render_product](Request& req) {
    auto input = parse_product(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, service.create_product(*input, access::actor_of(req)), 201, render_product);
  });
  router.add("GET", "/v1/products", std::string(kCatalogRead), [&service](Request& req) {
    auto filter = list_filter(req, {"active", "sku", "created", "metadata"});
    if (!filter.ok()) return http::error_response(req, filter.error());
    return http::list_response(req, service.list_products(*filter), "/v1/products");
  });
  router.add("GET", "/v1/products/{id}", std::string(kCatalogRead), [&service, render_product](Request& req) {
    return http::respond(req, service.get_product(req.path_params["id"]), 200, render_product);
  });
  router.add("PATCH", "/v1/products/{id}", std::string(kCatalogWrite), [&service, render_product](Request& req) {
    auto patch = parse_product_patch(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    auto result = service.update_product(req.path_params["id"], patch->first, patch->second, access::actor_of(req));
    return http::respond(req, result, 200, render_product);
  });

  router.add("POST", "/v1/plans", std::string(kCatalogWrite), [&service, render_plan](Request& req) {
    auto input = parse_plan(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, service.create_plan(*input, access::actor_of(req)), 201, render_plan);
  });
  router.add("GET", "/v1/plans", std::string(kCatalogRead), [&service](Request& req) {
    auto filter = list_filter(req, {"active", "tier", "created", "metadata"});
    if (!filter.ok()) return http::error_response(req, filter.error());
    return http::list_response(req, service.list_plans(*filter), "/v1/plans");
  });
  router.add("GET", "/v1/plans/{id}", std::string(kCatalogRead), [&service, render_plan](Request& req) {
    return http::respond(req, service.get_plan(req.path_params["id"]), 200, render_plan);
  });
  router.add("PATCH", "/v1/plans/{id}", std::string(kCatalogWrite), [&service, render_plan](Request& req) {
    auto patch = parse_plan_patch(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    auto result = service.update_plan(req.path_params["id"], patch->first, patch->second, access::actor_of(req));
    return http::respond(req, result, 200, render_plan);
  });
  add_coupon_routes(router, service);
  add_tier_routes(router, service);
  router.reads_query("GET", "/v1/products");
  router.reads_query("GET", "/v1/plans");
}

void add_tier_routes(http::Router& router, CatalogService& service) {
  using namespace access::perm;
  auto render = [](const Tier& t) { return to_json(t); };
  router.add("POST", "/v1/tiers", std::string(kCatalogWrite), [&service, render](Request& req) {
    auto input = parse_tier(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, service.create_tier(*input, access::actor_of(req)), 201, render);
  });
  router.add("GET", "/v1/tiers", std::string(kCatalogRead), [&service](Request& req) {
    auto filter = list_filter(req, {"created", "metadata"});
    if (!filter.ok()) return http::error_response(req, filter.error());
    return http::list_response(req, service.list_tiers(*filter), "/v1/tiers");
  });
  router.add("GET", "/v1/tiers/{id}", std::string(kCatalogRead), [&service, render](Request& req) {
    return http::respond(req, service.get_tier(req.path_params["id"]), 200, render);
  });
  router.add("PATCH", "/v1/tiers/{id}", std::string(kCatalogWrite), [&service, render](Request& req) {
    auto patch = parse_tier_patch(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    auto result = service.update_tier(req.path_params["id"], patch->first, patch->second, access::actor_of(req));
    return http::respond(req, result, 200, render);
  });
  router.add("DELETE", "/v1/tiers/{id}", std::string(kCatalogWrite), [&service](Request& req) {
    auto version = http::if_match_version(req);
    if (!version.ok()) return http::error_response(req, version.error());
    const std::string& id = req.path_params["id"];
    auto st = service.delete_tier(id, *version, access::actor_of(req));
    if (!st.ok()) return http::error_response(req, st.error());
    return http::json_response(200, {{"id", id}, {"object", "tier"}, {"deleted", true}});
  });
  router.reads_query("GET", "/v1/tiers");
}

void add_coupon_routes(http::Router& router, CatalogService& service) {
  using namespace access::perm;
  auto render_coupon = [](const Coupon& c) { return to_json(c); };
  auto render_code = [](const PromotionCode& p) { return to_json(p); };

  router.add("POST", "/v1/coupons", std::string(kCatalogWrite), [&service, render_coupon](Request& req) {
    auto input = parse_coupon(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, service.create_coupon(*input, access::actor_of(req)), 201, render_coupon);
  });
  router.add("GET", "/v1/coupons", std::string(kCatalogRead), [&service](Request& req) {
    auto filter = list_filter(req, {"active", "created", "metadata"});
    if (!filter.ok()) return http::error_response(req, filter.error());
    return http::list_response(req, service.list_coupons(*filter), "/v1/coupons");
  });
  router.add("GET", "/v1/coupons/{id}", std::string(kCatalogRead), [&service, render_coupon](Request& req) {
    return http::respond(req, service.get_coupon(req.path_params["id"]), 200, render_coupon);
  });
  router.add("PATCH", "/v1/coupons/{id}", std::string(kCatalogWrite), [&service, render_coupon](Request& req) {
    auto patch = parse_coupon_patch(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    auto result = service.update_coupon(req.path_params["id"], patch->first, patch->second, access::actor_of(req));
    return http::respond(req, result, 200, render_coupon);
  });

  router.add("POST", "/v1/promotion-codes", std::string(kCatalogWrite), [&service, render_code](Request& req) {
    auto input = parse_promotion_code(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, service.create_promotion_code(*input, access::actor_of(req)), 201, render_code);
  });
  router.add("GET", "/v1/promotion-codes", std::string(kCatalogRead), [&service](Request& req) {
    auto filter = list_filter(req, {"active", "code", "coupon", "created", "metadata"});
    if (!filter.ok()) return http::error_response(req, filter.error());
    return http::list_response(req, service.list_promotion_codes(*filter), "/v1/promotion-codes");
  });
  router.add("GET", "/v1/promotion-codes/{id}", std::string(kCatalogRead), [&service, render_code](Request& req) {
    return http::respond(req, service.get_promotion_code(req.path_params["id"]), 200, render_code);
  });
  router.add("PATCH", "/v1/promotion-codes/{id}", std::string(kCatalogWrite), [&service, render_code](Request& req) {
    auto patch = parse_promotion_code_patch(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    auto result =
        service.update_promotion_code(req.path_params["id"], patch->first, patch->second, access::actor_of(req));
    return http::respond(req, result, 200, render_code);
  });
  router.reads_query("GET", "/v1/coupons");
  router.reads_query("GET", "/v1/promotion-codes");
}

}  // namespace recur::catalog
