// Coupon rules without a database: which plans a coupon admits, and why a redemption is
// refused (expired, not applicable, exhausted), in that order.
#include "catalog/model.h"

#include <gtest/gtest.h>

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
