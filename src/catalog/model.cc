// JSON mapping of catalog objects (also their stored form), and the coupon rules.
#include "catalog/model.h"

#include <algorithm>

#include "platform/digest.h"

namespace recur::catalog {
namespace {

std::optional<std::int64_t> doc_int(const Json& doc, const char* key) {
  const auto& v = doc.at(key);
  if (v.is_null()) return std::nullopt;
  return v.get<std::int64_t>();
}

Json to_json_int(const std::optional<std::int64_t>& v) { return v ? Json(*v) : Json(nullptr); }

bool contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

constexpr std::string_view kDurationNames[] = {"once", "repeating", "forever"};

}  // namespace

Json to_json(const Product& p) {
  return with_envelope(Json{{"id", p.id},
              {"object", "product"},
              {"name", p.name},
              {"sku", p.sku},
              {"description", to_json_text(p.description)},
              {"amount", p.price ? Json(p.price->amount) : Json(nullptr)},
              {"currency", p.price ? Json(p.price->currency) : Json(nullptr)},
              {"category", to_json_text(p.category)},
              {"track_inventory", p.track_inventory},
              {"tags", p.tags},
              {"active", p.active}}, p);
}

Json to_json(const Plan& p) {
  Json items = to_json(p.items);
  return with_envelope(Json{{"id", p.id},
              {"object", "plan"},
              {"name", p.name},
              {"amount", p.amount},
              {"currency", p.currency},
              {"interval", to_string(p.cadence.interval)},
              {"interval_count", p.cadence.count},
              {"trial_days", p.trial_days > 0 ? Json(p.trial_days) : Json(nullptr)},
              {"renewal_reminder_days", p.renewal_reminder_days > 0 ? Json(p.renewal_reminder_days) : Json(nullptr)},
              {"tier", to_json_text(p.tier)},
              {"items", items},
              {"selection", to_json(p.selection)},
              {"active", p.active}}, p);
}


Product product_from_doc(const Json& doc) {
  Product p;
  p.id = doc.at("id");
  p.name = doc.at("name");
  p.sku = doc.at("sku");
  p.description = doc_text(doc, "description");
  if (doc.at("amount").is_number()) p.price = Money{doc.at("amount"), doc.at("currency")};
  p.category = doc_text(doc, "category");
  p.track_inventory = doc.value("track_inventory", false);
  p.tags = doc.value("tags", std::vector<std::string>{});
  p.active = doc.at("active");
  read_envelope(doc, p);
  return p;
}

Plan plan_from_doc(const Json& doc) {
  Plan p;
  p.id = doc.at("id");
  p.name = doc.at("name");
  p.amount = doc.at("amount");
  p.currency = doc.at("currency");
  p.cadence.interval = parse_interval(doc.at("interval").get<std::string>()).value();
  p.cadence.count = doc.at("interval_count");
  p.trial_days = doc_int(doc, "trial_days").value_or(0);
  // Plans stored before reminders have no renewal_reminder_days: the default, 3.
  p.renewal_reminder_days = doc.contains("renewal_reminder_days") ? doc_int(doc, "renewal_reminder_days").value_or(0) : 3;
  p.tier = doc_text(doc, "tier");
  p.items = plan_items_from_json(doc.at("items"));
  if (const auto& sel = doc.value("selection", Json()); sel.is_object())
    p.selection = Selection{sel.at("choose"), sel.at("from"), sel.at("cutoff_days"), sel.at("default")};
  p.active = doc.at("active");
  read_envelope(doc, p);
  return p;
}

bool is_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 40) return false;
  return std::all_of(tag.begin(), tag.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; });
}

Json to_json(const std::optional<Selection>& s) {
  if (!s) return nullptr;
  return Json{{"choose", s->choose}, {"from", s->from}, {"cutoff_days", s->cutoff_days}, {"default", s->default_rule}};
}

namespace {

Error selection_invalid(const std::string& field, const std::string& message) {
  return Error::invalid("validation_failed", message, {{field, "invalid_value", message}});
}

}  // namespace

recur::Status check_selection(const Selection& s) {
  if (s.choose < 1 || s.choose > kMaxChoose)
    return selection_invalid("selection.choose", "selection.choose must be 1.." + std::to_string(kMaxChoose));
  if (s.from.empty() || s.from.size() > kMaxOptions)
    return selection_invalid("selection.from", "selection.from must name 1.." + std::to_string(kMaxOptions) + " products");
  std::vector<std::string> sorted = s.from;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    return selection_invalid("selection.from", "selection.from names a product twice");
  if (s.cutoff_days < 0 || s.cutoff_days > kMaxCutoffDays)
    return selection_invalid("selection.cutoff_days", "selection.cutoff_days must be 0.." + std::to_string(kMaxCutoffDays));
  if (s.default_rule != "preferences" && s.default_rule != "fixed")
    return selection_invalid("selection.default", "selection.default must be preferences or fixed");
  return Ok{};
}

recur::Status check_choice(const Selection& s, const std::vector<PlanItem>& items) {
  std::int64_t units = 0;
  for (const auto& item : items) {
    if (std::find(s.from.begin(), s.from.end(), item.product) == s.from.end())
      return selection_invalid("items", "product " + item.product + " is not one of the plan's options");
    if (item.quantity < 1 || item.quantity > kMaxChoose) return selection_invalid("items", "each quantity must be 1.." + std::to_string(kMaxChoose));
    units += item.quantity;
  }
  if (units != s.choose)
    return selection_invalid("items", "choose " + std::to_string(s.choose) + " in all (" + std::to_string(units) +
                                          " given)");
  return Ok{};
}

namespace {

bool has_any(const std::vector<std::string>& tags, const std::vector<std::string>& wanted) {
  return std::any_of(tags.begin(), tags.end(),
                     [&](const auto& t) { return std::find(wanted.begin(), wanted.end(), t) != wanted.end(); });
}

// `ranked` one of each, around again, until `choose` units.
std::vector<PlanItem> take_around(const std::vector<std::string>& ranked, std::int64_t choose) {
  std::vector<PlanItem> out;
  if (ranked.empty()) return out;
  for (std::int64_t i = 0; i < choose; ++i) {
    const std::string& product = ranked[static_cast<std::size_t>(i) % ranked.size()];
    if (static_cast<std::size_t>(i) < ranked.size())
      out.push_back({product, 1});
    else
      ++out[static_cast<std::size_t>(i) % ranked.size()].quantity;
  }
  return out;
}

}  // namespace

std::vector<PlanItem> pick_selection(const Selection& s, const std::vector<PickOption>& options,
                                     const Preferences& preferences, const std::vector<std::string>& last,
                                     std::string_view seed) {
  if (s.default_rule == "fixed") {
    std::vector<std::string> in_order;
    for (const auto& o : options) in_order.push_back(o.product);
    return take_around(in_order, s.choose);
  }
  struct Ranked {
    const PickOption* option;
    bool repeat;
    std::int64_t liked;
    std::string hash;
  };
  std::vector<Ranked> ranked;
  for (const auto& o : options) {
    if (has_any(o.tags, preferences.excludes)) continue;  // never an excluded tag
    std::int64_t liked = 0;
    for (const auto& t : o.tags) liked += std::count(preferences.likes.begin(), preferences.likes.end(), t);
    const bool repeat = std::find(last.begin(), last.end(), o.product) != last.end();
    ranked.push_back({&o, repeat, liked, sha256_hex(std::string(seed) + "|" + o.product)});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.option->in_stock != b.option->in_stock) return a.option->in_stock;
    if (a.repeat != b.repeat) return !a.repeat;
    if (a.liked != b.liked) return a.liked > b.liked;
    return a.hash < b.hash;
  });
  // Units beyond the in-stock options come around the in-stock ones again, never an
  // out-of-stock one while one in stock is left.
  const bool any_in_stock = !ranked.empty() && ranked.front().option->in_stock;
  std::vector<std::string> order;
  for (const auto& r : ranked)
    if (r.option->in_stock || !any_in_stock) order.push_back(r.option->product);
  return take_around(order, s.choose);
}

Json to_json(const std::vector<PlanItem>& items) {
  Json out = Json::array();
  for (const auto& item : items) out.push_back({{"product", item.product}, {"quantity", item.quantity}});
  return out;
}

std::vector<PlanItem> plan_items_from_json(const Json& json) {
  std::vector<PlanItem> out;
  for (const auto& item : json) out.push_back({item.at("product"), item.at("quantity")});
  return out;
}

Json to_json(const Tier& t) {
  const Json extras = to_json(t.entitlements.extras);
  return with_envelope(
      Json{{"id", t.id},
           {"object", "tier"},
           {"name", t.name},
           {"rank", t.rank},
           {"entitlements",
            {{"add_on_discount_percent", t.entitlements.add_on_discount_percent},
             {"extras", extras},
             {"extra_choices", t.entitlements.extra_choices}}}},
      t);
}

Tier tier_from_doc(const Json& doc) {
  Tier t;
  t.id = doc.at("id");
  t.name = doc.at("name");
  t.rank = doc.at("rank");
  const Json& e = doc.at("entitlements");
  t.entitlements.add_on_discount_percent = e.value("add_on_discount_percent", std::int64_t{0});
  t.entitlements.extras = plan_items_from_json(e.value("extras", Json::array()));
  t.entitlements.extra_choices = e.value("extra_choices", std::int64_t{0});
  read_envelope(doc, t);
  return t;
}

std::string tier_direction(const std::optional<Tier>& from, const std::optional<Tier>& to) {
  if (!from || !to || from->rank == to->rank) return "";
  return to->rank > from->rank ? "upgrade" : "downgrade";
}

// ---------------------------------------------------------------- coupons

std::optional<CouponDuration> parse_coupon_duration(std::string_view text) {
  for (std::size_t i = 0; i < std::size(kDurationNames); ++i)
    if (kDurationNames[i] == text) return static_cast<CouponDuration>(i);
  return std::nullopt;
}

std::string_view to_string(CouponDuration duration) { return kDurationNames[static_cast<int>(duration)]; }

bool admits(const PlanRestriction& r, const Plan& plan) {
  if (!r.plans.empty() && !contains(r.plans, plan.id)) return false;
  if (!r.tiers.empty() && (!plan.tier || !contains(r.tiers, *plan.tier))) return false;
  return r.currency.empty() || r.currency == plan.currency;
}

Json to_json(const Coupon& c) {
  return with_envelope(Json{{"id", c.id},
              {"object", "coupon"},
              {"name", c.name},
              {"percent_off", c.amount_off ? Json(nullptr) : Json(c.percent_off)},
              {"amount_off", c.amount_off ? Json(c.amount_off->amount) : Json(nullptr)},
              {"currency", c.amount_off ? Json(c.amount_off->currency) : Json(nullptr)},
              {"duration", to_string(c.duration)},
              {"duration_in_cycles", c.duration == CouponDuration::kRepeating ? Json(c.duration_in_cycles)
                                                                               : Json(nullptr)},
              {"redeem_by", to_json_time(c.redeem_by)},
              {"max_redemptions", to_json_int(c.max_redemptions)},
              {"max_redemptions_per_customer", to_json_int(c.max_redemptions_per_customer)},
              {"first_subscription_only", c.first_subscription_only},
              {"applies_to_plans", c.applies_to_plans},
              {"applies_to_tiers", c.applies_to_tiers},
              {"times_redeemed", c.times_redeemed},
              {"active", c.active}}, c);
}

Coupon coupon_from_doc(const Json& d) {
  Coupon c;
  c.id = d.at("id");
  c.name = d.at("name");
  if (d.at("amount_off").is_number()) c.amount_off = Money{d.at("amount_off"), d.at("currency")};
  else c.percent_off = d.at("percent_off");
  c.duration = parse_coupon_duration(d.at("duration").get<std::string>()).value();
  c.duration_in_cycles = doc_int(d, "duration_in_cycles").value_or(0);
  c.redeem_by = doc_time(d, "redeem_by");
  c.max_redemptions = doc_int(d, "max_redemptions");
  c.max_redemptions_per_customer = doc_int(d, "max_redemptions_per_customer");
  c.first_subscription_only = d.at("first_subscription_only");
  c.applies_to_plans = d.at("applies_to_plans").get<std::vector<std::string>>();
  c.applies_to_tiers = d.at("applies_to_tiers").get<std::vector<std::string>>();
  c.times_redeemed = d.at("times_redeemed");
  c.active = d.at("active");
  read_envelope(d, c);
  return c;
}

Json to_json(const PromotionCode& p) {
  return with_envelope(Json{{"id", p.id},
              {"object", "promotion_code"},
              {"code", p.code},
              {"coupon", p.coupon},
              {"max_redemptions", to_json_int(p.max_redemptions)},
              {"first_time_only", p.first_time_only},
              {"expires_at", to_json_time(p.expires_at)},
              {"times_redeemed", p.times_redeemed},
              {"active", p.active}}, p);
}

PromotionCode promotion_code_from_doc(const Json& d) {
  PromotionCode p;
  p.id = d.at("id");
  p.code = d.at("code");
  p.coupon = d.at("coupon");
  p.max_redemptions = doc_int(d, "max_redemptions");
  p.first_time_only = d.at("first_time_only");
  p.expires_at = doc_time(d, "expires_at");
  p.times_redeemed = d.at("times_redeemed");
  p.active = d.at("active");
  read_envelope(d, p);
  return p;
}

std::string promotion_code_key(std::string_view code) {
  std::string key(code);
  for (char& ch : key)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return key;
}

bool is_valid_promotion_code(std::string_view code) {
  if (code.size() < 3 || code.size() > 64) return false;
  return std::all_of(code.begin(), code.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
  });
}

namespace {

Error expired(std::string message) { return Error::conflict("coupon_expired", std::move(message)); }
Error not_applicable(std::string message) { return Error::conflict("coupon_not_applicable", std::move(message)); }
Error exhausted(std::string message) { return Error::conflict("coupon_exhausted", std::move(message)); }

std::optional<Error> expiry_refusal(const Coupon& c, const PromotionCode* code, Timestamp now) {
  if (!c.active) return expired("coupon '" + c.id + "' is no longer active");
  if (c.redeem_by && now > *c.redeem_by)
    return expired("coupon '" + c.id + "' could be redeemed until " + format_rfc3339(*c.redeem_by));
  if (!code) return std::nullopt;
  if (!code->active) return expired("promotion code '" + code->code + "' is no longer active");
  if (code->expires_at && now > *code->expires_at)
    return expired("promotion code '" + code->code + "' expired at " + format_rfc3339(*code->expires_at));
  return std::nullopt;
}

std::optional<Error> applicability_refusal(const Coupon& c, const PromotionCode* code, const RedemptionContext& ctx) {
  const Plan& plan = *ctx.plan;
  if (c.amount_off && c.amount_off->currency != plan.currency)
    return not_applicable("coupon '" + c.id + "' takes an amount off in " + c.amount_off->currency + "; plan '" +
                          plan.id + "' is priced in " + plan.currency);
  if (!admits(c.restriction(), plan))
    return not_applicable("coupon '" + c.id + "' does not apply to plan '" + plan.id + "'");
  bool first_only = c.first_subscription_only || (code && code->first_time_only);
  if (first_only && !ctx.first_subscription)
    return not_applicable("coupon '" + c.id + "' is for a customer's first subscription only");
  return std::nullopt;
}

std::optional<Error> limit_refusal(const Coupon& c, const PromotionCode* code, const RedemptionContext& ctx) {
  if (c.max_redemptions && c.times_redeemed >= *c.max_redemptions)
    return exhausted("coupon '" + c.id + "' has been redeemed its maximum of " + std::to_string(*c.max_redemptions) +
                     " times");
  if (c.max_redemptions_per_customer && ctx.customer_redemptions >= *c.max_redemptions_per_customer)
    return exhausted("the customer has redeemed coupon '" + c.id + "' its maximum of " +
                     std::to_string(*c.max_redemptions_per_customer) + " times");
  if (code && code->max_redemptions && code->times_redeemed >= *code->max_redemptions)
    return exhausted("promotion code '" + code->code + "' has been redeemed its maximum of " +
                     std::to_string(*code->max_redemptions) + " times");
  return std::nullopt;
}

}  // namespace

Status check_redemption(const Coupon& coupon, const PromotionCode* code, const RedemptionContext& ctx) {
  if (auto e = expiry_refusal(coupon, code, ctx.now)) return *std::move(e);
  if (auto e = applicability_refusal(coupon, code, ctx)) return *std::move(e);
  if (auto e = limit_refusal(coupon, code, ctx)) return *std::move(e);
  return Ok{};
}

}  // namespace recur::catalog
