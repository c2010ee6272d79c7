// Coupon rules without a database: which plans a coupon admits, and why a redemption is
// refused (expired, not applicable, exhausted), in that order.
#include "catalog/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace recur::catalog {
namespace {

Timestamp at(const char* s) { return parse_rfc3339(s).value(); }

Plan plan(const std::string& id, const std::string& currency = "usd", std::optional<std::string> tier = std::nullopt) {
  Plan p;
  p.id = id;
  p.amount = 3000;
  p.currency = currency;
  p.tier = std::move(tier);
  return p;
}

Coupon percent(std::int64_t off) {
  Coupon c;
  c.id = "coupon_1";
  c.name = "Spring";
  c.percent_off = off;
  return c;
}

TEST(PlanRestriction, EveryGivenRestrictionMustHold) {
  const Plan gold_usd = plan("plan_a", "usd", "gold");
  const Plan silver_usd = plan("plan_b", "usd", "silver");
  const Plan untiered_eur = plan("plan_c", "eur");
  struct Case {
    PlanRestriction restriction;
    bool a, b, c;
  } cases[] = {
      {{}, true, true, true},                                  // nothing: every plan
      {{{"plan_a"}, {}, ""}, true, false, false},              // one plan
      {{{"plan_a", "plan_c"}, {}, ""}, true, false, true},     // a list of plans
      {{{}, {"gold"}, ""}, true, false, false},                // a tier; an untiered plan is in none
      {{{}, {"gold", "silver"}, ""}, true, true, false},
      {{{}, {}, "usd"}, true, true, false},                    // a fixed amount: its currency only
      {{{"plan_a", "plan_b"}, {"silver"}, ""}, false, true, false},  // plans AND tiers
      {{{"plan_c"}, {}, "usd"}, false, false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(admits(c.restriction, gold_usd), c.a);
    EXPECT_EQ(admits(c.restriction, silver_usd), c.b);
    EXPECT_EQ(admits(c.restriction, untiered_eur), c.c);
  }
}

std::string refusal(const Coupon& c, const PromotionCode* code, const RedemptionContext& ctx) {
  auto st = check_redemption(c, code, ctx);
  if (st.ok()) return "ok";
  EXPECT_EQ(st.error().kind, ErrorKind::kConflict);
  return st.error().code;
}

TEST(Redemption, RefusalsNameTheRuleThatFailed) {
  const Plan usd = plan("plan_a", "usd", "gold");
  const Timestamp now = at("2026-03-01T12:00:00Z");
  RedemptionContext ctx{&usd, now, true, 0};

  Coupon c = percent(20);
  EXPECT_EQ(refusal(c, nullptr, ctx), "ok");

  Coupon inactive = c;
  inactive.active = false;
  EXPECT_EQ(refusal(inactive, nullptr, ctx), "coupon_expired");

  Coupon until = c;
  until.redeem_by = now;  // redeemable up to and including redeem_by
  EXPECT_EQ(refusal(until, nullptr, ctx), "ok");
  until.redeem_by = now - 1;
  EXPECT_EQ(refusal(until, nullptr, ctx), "coupon_expired");

  Coupon other_plan = c;
  other_plan.applies_to_plans = {"plan_b"};
  EXPECT_EQ(refusal(other_plan, nullptr, ctx), "coupon_not_applicable");
  Coupon other_tier = c;
  other_tier.applies_to_tiers = {"silver"};
  EXPECT_EQ(refusal(other_tier, nullptr, ctx), "coupon_not_applicable");
  Coupon euros = percent(0);
  euros.amount_off = Money{500, "eur"};
  EXPECT_EQ(refusal(euros, nullptr, ctx), "coupon_not_applicable");
  euros.amount_off = Money{500, "usd"};
  EXPECT_EQ(refusal(euros, nullptr, ctx), "ok");

  Coupon first = c;
  first.first_subscription_only = true;
  EXPECT_EQ(refusal(first, nullptr, ctx), "ok");
  EXPECT_EQ(refusal(first, nullptr, {&usd, now, false, 0}), "coupon_not_applicable");

  Coupon limited = c;
  limited.max_redemptions = 5;
  limited.times_redeemed = 4;
  EXPECT_EQ(refusal(limited, nullptr, ctx), "ok");
  limited.times_redeemed = 5;
  EXPECT_EQ(refusal(limited, nullptr, ctx), "coupon_exhausted");

  Coupon per_customer = c;
  per_customer.max_redemptions_per_customer = 1;
  EXPECT_EQ(refusal(per_customer, nullptr, ctx), "ok");
  EXPECT_EQ(refusal(per_customer, nullptr, {&usd, now, true, 1}), "coupon_exhausted");
}

TEST(Redemption, APromotionCodeAddsItsOwnLimitsToTheCoupons) {
  const Plan usd = plan("plan_a");
  const Timestamp now = at("2026-03-01T12:00:00Z");
  RedemptionContext ctx{&usd, now, true, 0};
  const Coupon c = percent(10);
  PromotionCode code;
  code.id = "promo_1";
  code.code = "SPRING";
  code.coupon = c.id;
  EXPECT_EQ(refusal(c, &code, ctx), "ok");

  PromotionCode off = code;
  off.active = false;
  EXPECT_EQ(refusal(c, &off, ctx), "coupon_expired");
  PromotionCode late = code;
  late.expires_at = now - 1;
  EXPECT_EQ(refusal(c, &late, ctx), "coupon_expired");
  PromotionCode first = code;
  first.first_time_only = true;
  EXPECT_EQ(refusal(c, &first, {&usd, now, false, 0}), "coupon_not_applicable");
  PromotionCode used = code;
  used.max_redemptions = 2;
  used.times_redeemed = 2;
  EXPECT_EQ(refusal(c, &used, ctx), "coupon_exhausted");
}

TEST(Redemption, ExpiredComesBeforeNotApplicableBeforeExhausted) {
  const Plan usd = plan("plan_a");
  const Timestamp now = at("2026-03-01T12:00:00Z");
  Coupon c = percent(10);
  c.max_redemptions = 1;
  c.times_redeemed = 1;
  c.applies_to_plans = {"plan_b"};
  EXPECT_EQ(refusal(c, nullptr, {&usd, now, true, 0}), "coupon_not_applicable");
  c.redeem_by = now - 60;
  EXPECT_EQ(refusal(c, nullptr, {&usd, now, true, 0}), "coupon_expired");
}

TEST(PromotionCodeText, CodesAreCaseInsensitiveLettersDigitsDashesAndUnderscores) {
  EXPECT_EQ(promotion_code_key("Spring-2026_VIP"), "spring-2026_vip");
  EXPECT_EQ(promotion_code_key("SPRING"), promotion_code_key("spring"));
  EXPECT_TRUE(is_valid_promotion_code("ABC"));
  EXPECT_TRUE(is_valid_promotion_code("spring-2026_vip"));
  EXPECT_FALSE(is_valid_promotion_code("AB"));
  EXPECT_FALSE(is_valid_promotion_code(std::string(65, 'A')));
  EXPECT_FALSE(is_valid_promotion_code("TEN OFF"));
  EXPECT_FALSE(is_valid_promotion_code("DIX%"));
  EXPECT_FALSE(is_valid_promotion_code("caf\xc3\xa9"));
}

TEST(ProductJson, ThePriceIsAFlatAmountAndCurrencyBothNullWithoutOne) {
  Product p;
  p.id = "prod_1";
  p.name = "Beans";
  p.sku = "BEAN-1";
  p.price = Money{1400, "usd"};
  Json doc = to_json(p);
  EXPECT_EQ(doc.at("amount"), 1400);
  EXPECT_EQ(doc.at("currency"), "usd");
  EXPECT_FALSE(doc.contains("price"));
  EXPECT_EQ(to_json(product_from_doc(doc)), doc);
  p.price.reset();
  Json bare = to_json(p);
  EXPECT_TRUE(bare.at("amount").is_null());
  EXPECT_TRUE(bare.at("currency").is_null());
  EXPECT_EQ(to_json(product_from_doc(bare)), bare);
}

TEST(ProductKeys, AnIdBeginsWithProdAndAnythingElseIsASku) {
  EXPECT_TRUE(is_product_id("prod_01m89w8zq5ge3y1v7t6b2c4d5e"));
  EXPECT_FALSE(is_product_id("COF-250"));
  EXPECT_FALSE(is_product_id("PROD_1"));  // SKUs are case-sensitive; only the id prefix counts
  EXPECT_FALSE(is_product_id("product-1"));
}

TEST(PlanJson, NoTrialAndNoReminderAreNullAndReadBack) {
  Plan p;
  p.id = "plan_1";
  p.name = "Box";
  p.amount = 2400;
  p.currency = "usd";
  p.cadence = {Interval::kMonth, 1};
  p.trial_days = 0;
  p.renewal_reminder_days = 0;
  Json doc = to_json(p);
  EXPECT_TRUE(doc.at("trial_days").is_null());
  EXPECT_TRUE(doc.at("renewal_reminder_days").is_null());
  Plan back = plan_from_doc(doc);
  EXPECT_EQ((std::pair{back.trial_days, back.renewal_reminder_days}), (std::pair<std::int64_t, std::int64_t>{0, 0}));
  p.trial_days = 14;
  p.renewal_reminder_days = 3;
  EXPECT_EQ(to_json(p).at("trial_days"), 14);
  EXPECT_EQ(plan_from_doc(to_json(p)).renewal_reminder_days, 3);
  // A plan stored before reminders existed has the default, 3.
  doc.erase("renewal_reminder_days");
  EXPECT_EQ(plan_from_doc(doc).renewal_reminder_days, 3);
}

TEST(CouponJson, RoundTripsBothKindsOfTerms) {
  Coupon amount = percent(0);
  amount.amount_off = Money{500, "usd"};
  amount.duration = CouponDuration::kRepeating;
  amount.duration_in_cycles = 3;
  amount.redeem_by = at("2026-12-31T23:59:59Z");
  amount.max_redemptions = 100;
  amount.max_redemptions_per_customer = 1;
  amount.first_subscription_only = true;
  amount.applies_to_plans = {"plan_a"};
  amount.applies_to_tiers = {"gold"};
  amount.times_redeemed = 7;
  Json doc = to_json(amount);
  EXPECT_TRUE(doc.at("percent_off").is_null());
  EXPECT_EQ(doc.at("amount_off"), 500);
  EXPECT_EQ(doc.at("currency"), "usd");
  EXPECT_EQ(to_json(coupon_from_doc(doc)), doc);

  Coupon forever = percent(25);
  forever.duration = CouponDuration::kForever;
  Json f = to_json(forever);
  EXPECT_EQ(f.at("percent_off"), 25);
  EXPECT_TRUE(f.at("amount_off").is_null());
  EXPECT_TRUE(f.at("duration_in_cycles").is_null());
  EXPECT_EQ(f.at("duration"), "forever");
  EXPECT_EQ(to_json(coupon_from_doc(f)), f);
}

// ---------------------------------------------------------------- box selections

TEST(Selection, ItsRulesNameTheFieldThatBreaksThem) {
  struct Case {
    Selection s;
    const char* field;  // "" for accepted
  };
  const Case cases[] = {
      {{3, {"prod_a", "prod_b", "prod_c"}, 3, "preferences"}, ""},
      {{1, {"prod_a"}, 0, "fixed"}, ""},
      {{0, {"prod_a"}, 3, "fixed"}, "selection.choose"},
      {{21, {"prod_a"}, 3, "fixed"}, "selection.choose"},
      {{1, {}, 3, "fixed"}, "selection.from"},
      {{1, {"prod_a", "prod_a"}, 3, "fixed"}, "selection.from"},
      {{1, {"prod_a"}, 31, "fixed"}, "selection.cutoff_days"},
      {{1, {"prod_a"}, -1, "fixed"}, "selection.cutoff_days"},
      {{1, {"prod_a"}, 3, "random"}, "selection.default"},
  };
  for (const auto& c : cases) {
    auto checked = check_selection(c.s);
    if (std::string(c.field).empty()) {
      EXPECT_TRUE(checked.ok()) << checked.error().message;
    } else {
      ASSERT_FALSE(checked.ok()) << c.field;
      EXPECT_EQ(checked.error().fields.at(0).field, c.field);
    }
  }
}

TEST(Selection, AChoiceIsTheOptionsOnlyAndExactlyChooseUnits) {
  const Selection s{3, {"prod_a", "prod_b", "prod_c"}, 3, "preferences"};
  struct Case {
    std::vector<PlanItem> items;
    bool ok;
    const char* why;
  };
  const Case cases[] = {
      {{{"prod_a", 1}, {"prod_b", 1}, {"prod_c", 1}}, true, "one of each"},
      {{{"prod_a", 2}, {"prod_c", 1}}, true, "two of one"},
      {{{"prod_a", 3}}, true, "three of one"},
      {{{"prod_a", 1}, {"prod_b", 1}}, false, "too few"},
      {{{"prod_a", 2}, {"prod_b", 2}}, false, "too many"},
      {{{"prod_a", 1}, {"prod_b", 1}, {"prod_x", 1}}, false, "not an option"},
      {{{"prod_a", 0}, {"prod_b", 3}}, false, "a zero quantity"},
      {{}, false, "nothing"},
  };
  for (const auto& c : cases) {
    auto checked = check_choice(s, c.items);
    EXPECT_EQ(checked.ok(), c.ok) << c.why;
    if (!c.ok) {
      EXPECT_EQ(checked.error().fields.at(0).field, "items") << c.why;
    }
  }
}

TEST(Selection, TheDefaultPickNeverTakesAnExcludedTagAndPrefersStockNoRepeatAndLikes) {
  const Selection s{2, {"prod_a", "prod_b", "prod_c", "prod_d"}, 3, "preferences"};
  const std::vector<PickOption> options = {
      {"prod_a", {"spicy"}, true},
      {"prod_b", {"vegan", "sweet"}, true},
      {"prod_c", {"vegan"}, false},  // out of stock
      {"prod_d", {"nuts"}, true},
  };
  auto products = [](const std::vector<PlanItem>& items) {
    std::vector<std::string> out;
    for (const auto& i : items) out.push_back(i.product + " x" + std::to_string(i.quantity));
    std::sort(out.begin(), out.end());
    return out;
  };
  using V = std::vector<std::string>;
  struct Case {
    Preferences prefs;
    std::vector<std::string> last;
    V expected;
    const char* why;
  };
  const Case cases[] = {
      {{{"vegan"}, {"nuts"}},
       {},
       V{"prod_a x1", "prod_b x1"},
       "liked first; the liked one out of stock waits; never nuts"},
      {{{"sweet"}, {}},
       {"prod_b"},
       V{"prod_a x1", "prod_d x1"},
       "last box's prod_b is passed over while others are in stock"},
      {{{}, {"spicy", "nuts"}}, {}, V{"prod_b x2"}, "one option left in stock: two of it, not the out-of-stock one"},
      {{{}, {"spicy", "nuts", "vegan"}}, {}, V{}, "every option excluded: nothing"},
  };
  for (const auto& c : cases) {
    auto picked = pick_selection(s, options, c.prefs, c.last, "sub_1:4");
    EXPECT_EQ(products(picked), c.expected) << c.why;
    EXPECT_EQ(pick_selection(s, options, c.prefs, c.last, "sub_1:4"), picked) << "deterministic: " << c.why;
  }
  // Ties are broken by the seed: some seed picks another pair among equals.
  const Selection one{1, {"prod_a", "prod_b", "prod_d"}, 3, "preferences"};
  std::set<std::string> firsts;
  for (int i = 0; i < 20; ++i)
    firsts.insert(pick_selection(one, options, {}, {}, "sub_" + std::to_string(i)).at(0).product);
  EXPECT_GT(firsts.size(), 1u);
  // "fixed": the options in order, around again.
  const Selection fixed{3, {"prod_a", "prod_b"}, 3, "fixed"};
  EXPECT_EQ(pick_selection(fixed, {{"prod_a", {}, true}, {"prod_b", {}, false}}, {}, {}, "x"),
            (std::vector<PlanItem>{{"prod_a", 2}, {"prod_b", 1}}));
}

TEST(Selection, TagsAreShortLowerCaseWords) {
  EXPECT_TRUE(is_tag("vegan"));
  EXPECT_TRUE(is_tag("gluten-free_2"));
  EXPECT_FALSE(is_tag(""));
  EXPECT_FALSE(is_tag("Vegan"));
  EXPECT_FALSE(is_tag("two words"));
  EXPECT_FALSE(is_tag(std::string(41, 'a')));
}

TEST(Selection, APlansSelectionAndAProductsTagsReadBack) {
  Plan p;
  p.id = "plan_1";
  p.name = "Snacks";
  p.currency = "usd";
  p.selection = Selection{3, {"prod_a", "prod_b"}, 2, "fixed"};
  EXPECT_EQ(plan_from_doc(to_json(p)).selection, p.selection);
  EXPECT_EQ(to_json(p)["selection"]["default"], "fixed");
  p.selection.reset();
  EXPECT_TRUE(to_json(p)["selection"].is_null());
  Product prod;
  prod.id = "prod_1";
  prod.tags = {"vegan", "sweet"};
  EXPECT_EQ(product_from_doc(to_json(prod)).tags, prod.tags);
}

}  // namespace
TEST(Tiers, TheRanksSayWhetherAChangeIsAnUpgradeOrADowngrade) {
  auto tier = [](std::int64_t rank) { return std::optional<Tier>(Tier{"tier_" + std::to_string(rank), "T", rank}); };
  struct Case {
    std::optional<Tier> from, to;
    const char* direction;
  };
  const Case cases[] = {
      {tier(10), tier(30), "upgrade"}, {tier(30), tier(10), "downgrade"}, {tier(20), tier(20), ""},
      {std::nullopt, tier(10), ""},    {tier(10), std::nullopt, ""},      {std::nullopt, std::nullopt, ""},
  };
  for (const auto& c : cases) EXPECT_EQ(tier_direction(c.from, c.to), c.direction);
}

TEST(Tiers, ATierReadsBackAsWritten) {
  Tier t{"tier_1", "Deluxe", 30, {15, {{"prod_1", 2}}}};
  t.metadata = {{"k", "v"}};
  Tier back = tier_from_doc(to_json(t));
  EXPECT_EQ(to_json(back), to_json(t));
  EXPECT_EQ(back.entitlements, t.entitlements);
  EXPECT_EQ(to_json(t)["entitlements"]["extras"][0]["quantity"], 2);
}

}  // namespace recur::catalog
