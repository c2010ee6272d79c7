// Coupons and promotion codes against a real database (SQLite or PostgreSQL, per
// RECUR_TEST_ENGINE): redemption limits that hold exactly under concurrency, expiry on the
// simulated clock, the applicability rules, and the invoices a discount produces.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "testing/fixtures.h"

namespace recur::catalog {
namespace {
using testing::at;
using testing::TestApp;

class CouponTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }

  Coupon coupon(CouponInput in) {
    if (in.name.empty()) in.name = "Test coupon";
    auto c = t.app->catalog().create_coupon(in, t.actor);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return *c;
  }
  CouponInput percent(std::int64_t off, CouponDuration duration = CouponDuration::kOnce, std::int64_t cycles = 0) {
    CouponInput in;
    in.percent_off = off;
    in.duration = duration;
    in.duration_in_cycles = cycles;
    return in;
  }
  PromotionCode promotion_code(const std::string& code, const std::string& coupon_id,
                               std::optional<std::int64_t> max = std::nullopt, bool first_time_only = false,
                               std::optional<Timestamp> expires_at = std::nullopt) {
    auto p = t.app->catalog().create_promotion_code({code, coupon_id, max, first_time_only, expires_at, Json::object()},
                                                    t.actor);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return *p;
  }
  // The id of the tier named `name`, made the first time it is asked for.
  std::string tier(const std::string& name) {
    if (auto it = tiers_.find(name); it != tiers_.end()) return it->second;
    auto made = t.app->catalog().create_tier(
        {name, static_cast<std::int64_t>(10 * (tiers_.size() + 1)), {}, Json::object()}, t.actor);
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message);
    return tiers_[name] = made->id;
  }
  Plan plan(std::int64_t amount, const std::string& currency = "usd",
            std::optional<std::string> tier_name = std::nullopt) {
    std::optional<std::string> tier_id;
    if (tier_name) tier_id = tier(*tier_name);
    auto p = t.app->catalog().create_plan(
        {"Box " + currency, amount, currency, {Interval::kMonth, 1}, 0, tier_id, {}, Json::object()}, t.actor);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return *p;
  }
  customers::Customer customer() { return testing::make_customer(t, "c" + std::to_string(++customers_) + "@example.com"); }

  Result<subscriptions::Subscription> subscribe(const std::string& customer_id, const std::string& plan_id,
                                                std::optional<std::string> coupon_id,
                                                std::optional<std::string> code = std::nullopt) {
    subscriptions::CreateInput in{customer_id, plan_id, 1, std::nullopt, std::nullopt, Json::object(),
                                  std::move(coupon_id), std::move(code)};
    return t.app->subscriptions().create(in, t.actor);
  }
  // "ok" or the refusal's code.
  template <typename T>
  static std::string outcome(const Result<T>& r) {
    return r.ok() ? "ok" : r.error().code;
  }

  std::int64_t count(const std::string& sql, db::Params params = {}) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query(sql, params);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows->at(0).int64(0);
  }
  std::int64_t times_redeemed(const std::string& coupon_id) { return t.app->catalog().get_coupon(coupon_id)->times_redeemed; }

  std::vector<std::string> race(int n, const std::function<std::string(int)>& work) { return testing::race(n, work); }
  static std::map<std::string, int> tally(const std::vector<std::string>& o) { return testing::tally(o); }

  TestApp t;
  int customers_ = 0;
  std::map<std::string, std::string> tiers_;  // tier name -> id
};

// ------------------------------------------------------------------ limits under concurrency

TEST_F(CouponTest, EightConcurrentSubscriptionsWithACouponOfFiveRedemptionsGetExactlyFive) {
  auto in = percent(20);
  in.max_redemptions = 5;
  auto c = coupon(in);
  auto p = plan(2000);
  std::vector<customers::Customer> people;
  for (int i = 0; i < 8; ++i) people.push_back(customer());
  auto outcomes = race(8, [&](int i) { return outcome(subscribe(people[i].id, p.id, c.id)); });
  EXPECT_EQ(tally(outcomes), (std::map<std::string, int>{{"ok", 5}, {"coupon_exhausted", 3}}));
  EXPECT_EQ(times_redeemed(c.id), 5);
  EXPECT_EQ(count("SELECT COUNT(*) FROM coupon_redemptions WHERE coupon_id = $1", {c.id}), 5);
  EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions"), 5);
}

TEST_F(CouponTest, ThePerCustomerLimitHoldsUnderConcurrency) {
  auto in = percent(20);
  in.max_redemptions_per_customer = 2;
  auto c = coupon(in);
  auto p = plan(2000);
  auto ada = customer();
  auto outcomes = race(8, [&](int) { return outcome(subscribe(ada.id, p.id, c.id)); });
  EXPECT_EQ(tally(outcomes), (std::map<std::string, int>{{"ok", 2}, {"coupon_exhausted", 6}}));
  EXPECT_EQ(times_redeemed(c.id), 2);
  // Another customer still has their own two.
  auto bob = customer();
  EXPECT_EQ(outcome(subscribe(bob.id, p.id, c.id)), "ok");
  EXPECT_EQ(times_redeemed(c.id), 3);
}

TEST_F(CouponTest, APromotionCodesOwnLimitHoldsUnderConcurrencyAndCountsOnTheCouponToo) {
  auto c = coupon(percent(10));
  auto code = promotion_code("LAUNCH", c.id, 3);
  auto p = plan(2000);
  std::vector<customers::Customer> people;
  for (int i = 0; i < 8; ++i) people.push_back(customer());
  auto outcomes = race(8, [&](int i) { return outcome(subscribe(people[i].id, p.id, std::nullopt, "launch")); });
  EXPECT_EQ(tally(outcomes), (std::map<std::string, int>{{"ok", 3}, {"coupon_exhausted", 5}}));
  EXPECT_EQ(t.app->catalog().get_promotion_code(code.id)->times_redeemed, 3);
  EXPECT_EQ(times_redeemed(c.id), 3);
  // The coupon itself, without the code, is not limited.
  EXPECT_EQ(outcome(subscribe(people[0].id, p.id, c.id)), "ok");
}

// ------------------------------------------------------------------ transactions

struct RefusingBilling final : subscriptions::PeriodBilling {
  recur::Status period_began(db::Tx&, const subscriptions::Subscription&, const subscriptions::LifecycleEvent&) override {
    return Error::internal("the invoice could not be stored");
  }
  recur::Status subscription_ended(db::Tx&, const subscriptions::Subscription&, const std::string&) override {
    return Ok{};
  }
  recur::Status add_pending_item(db::Tx&, const subscriptions::PendingItem&, Timestamp) override { return Ok{}; }
  Result<bool> remove_pending_item(db::Tx&, const std::string&, const std::string&) override { return true; }
  Result<std::string> invoice_pending_items(db::Tx&, const subscriptions::Subscription&, std::int64_t,
                                            Timestamp) override {
    return std::string();
  }
  Result<std::string> latest_invoice(db::Tx&, const std::string&) override { return std::string(); }
  Result<Json> invoice_after_change(db::Tx&, const std::string&, const std::string&,
                                    const std::optional<subscriptions::NextPeriod>&) override {
    return Json(nullptr);
  }
};

TEST_F(CouponTest, ARolledBackCreationDoesNotUseARedemption) {
  auto in = percent(20);
  in.max_redemptions = 1;
  auto c = coupon(in);
  auto p = plan(2000);
  auto ada = customer();
  // The same use case, but invoicing the first period fails after the coupon was redeemed.
  subscriptions::SubscriptionService failing(t.app->database(), t.app->clock(), t.app->ids());
  RefusingBilling refusing;
  failing.set_billing(&refusing);
  auto refused = failing.create({ada.id, p.id, 1, std::nullopt, std::nullopt, Json::object(), c.id, std::nullopt},
                                t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(times_redeemed(c.id), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM coupon_redemptions"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions"), 0);
  // The one redemption is still there to be had.
  EXPECT_EQ(outcome(subscribe(ada.id, p.id, c.id)), "ok");
  EXPECT_EQ(outcome(subscribe(customer().id, p.id, c.id)), "coupon_exhausted");
}

TEST_F(CouponTest, AnUnknownCouponOrCodeIs422AndCreatesNothing) {
  auto p = plan(2000);
  auto ada = customer();
  auto r = subscribe(ada.id, p.id, "coupon_00000000000000000000000000");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(r.error().code, "coupon_not_found");
  r = subscribe(ada.id, p.id, std::nullopt, "NOSUCHCODE");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "promotion_code_not_found");
  EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions"), 0);
}

// ------------------------------------------------------------------ expiry and applicability

TEST_F(CouponTest, ExpiryFollowsTheClockAndDeactivationExpiresAtOnce) {
  auto in = percent(10);
  in.redeem_by = at("2026-02-10T00:00:00Z");
  auto c = coupon(in);
  auto code = promotion_code("WEEKEND", c.id, std::nullopt, false, at("2026-02-01T00:00:00Z"));
  auto p = plan(2000);

  EXPECT_EQ(outcome(subscribe(customer().id, p.id, std::nullopt, "weekend")), "ok");
  t.clock->set(at("2026-02-01T00:00:00Z"));  // up to and including expires_at
  EXPECT_EQ(outcome(subscribe(customer().id, p.id, std::nullopt, code.id)), "ok");
  t.clock->set(at("2026-02-01T00:00:01Z"));
  EXPECT_EQ(outcome(subscribe(customer().id, p.id, std::nullopt, "WEEKEND")), "coupon_expired");
  EXPECT_EQ(outcome(subscribe(customer().id, p.id, c.id)), "ok");  // the coupon itself runs longer
  t.clock->set(at("2026-02-10T00:00:01Z"));
  EXPECT_EQ(outcome(subscribe(customer().id, p.id, c.id)), "coupon_expired");
  EXPECT_EQ(times_redeemed(c.id), 3);

  auto open = coupon(percent(10));
  ASSERT_TRUE(t.app->catalog().update_coupon(open.id, {std::nullopt, false, std::nullopt}, 1, t.actor).ok());
  EXPECT_EQ(outcome(subscribe(customer().id, p.id, open.id)), "coupon_expired");
}

TEST_F(CouponTest, PlanTierCurrencyAndFirstSubscriptionRulesRefuseWithNotApplicable) {
  auto gold = plan(5000, "usd", "gold");
  auto silver = plan(3000, "usd", "silver");
  auto euro = plan(3000, "eur", "gold");

  auto only_gold_plan = percent(10);
  only_gold_plan.applies_to_plans = {gold.id};
  auto c1 = coupon(only_gold_plan);
  EXPECT_EQ(outcome(subscribe(customer().id, silver.id, c1.id)), "coupon_not_applicable");
  EXPECT_EQ(outcome(subscribe(customer().id, gold.id, c1.id)), "ok");

  auto gold_tier = percent(10);
  gold_tier.applies_to_tiers = {tier("gold")};
  auto c2 = coupon(gold_tier);
  EXPECT_EQ(outcome(subscribe(customer().id, silver.id, c2.id)), "coupon_not_applicable");
  EXPECT_EQ(outcome(subscribe(customer().id, euro.id, c2.id)), "ok");

  CouponInput dollars;
  dollars.amount_off = Money{500, "usd"};
  auto c3 = coupon(dollars);
  EXPECT_EQ(outcome(subscribe(customer().id, euro.id, c3.id)), "coupon_not_applicable");
  EXPECT_EQ(outcome(subscribe(customer().id, silver.id, c3.id)), "ok");

  auto welcome = percent(50);
  welcome.first_subscription_only = true;
  auto c4 = coupon(welcome);
  auto ada = customer();
  EXPECT_EQ(outcome(subscribe(ada.id, silver.id, c4.id)), "ok");
  EXPECT_EQ(outcome(subscribe(ada.id, gold.id, c4.id)), "coupon_not_applicable");
  auto code = promotion_code("HELLO", coupon(percent(5)).id, std::nullopt, true);
  EXPECT_EQ(outcome(subscribe(ada.id, gold.id, std::nullopt, "hello")), "coupon_not_applicable");
  EXPECT_EQ(outcome(subscribe(customer().id, gold.id, std::nullopt, "hello")), "ok");
  // Refusals counted nothing.
  EXPECT_EQ(times_redeemed(c1.id) + times_redeemed(c2.id) + times_redeemed(c3.id) + times_redeemed(c4.id), 4);
  EXPECT_EQ(t.app->catalog().get_promotion_code(code.id)->times_redeemed, 1);
}

TEST_F(CouponTest, PromotionCodesAreUniqueRegardlessOfCaseAndFoundInAnyCase) {
  auto c = coupon(percent(10, CouponDuration::kForever));  // still on the subscription after its first period
  auto code = promotion_code("Spring-26", c.id);
  auto again = t.app->catalog().create_promotion_code({"SPRING-26", c.id, std::nullopt, false, std::nullopt,
                                                       Json::object()}, t.actor);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "promotion_code_taken");
  ListFilter filter;
  filter.code = "spring-26";
  auto found = t.app->catalog().list_promotion_codes(filter);
  ASSERT_EQ(found->items.size(), 1u);
  EXPECT_EQ(found->items[0].id, code.id);
  EXPECT_EQ(found->items[0].code, "Spring-26");
  auto sub = subscribe(customer().id, plan(2000).id, std::nullopt, "sPrInG-26");
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  ASSERT_TRUE(sub->discount.has_value());
  EXPECT_EQ(sub->discount->promotion_code, code.id);
  EXPECT_EQ(sub->discount->coupon, c.id);
  EXPECT_EQ(sub->discount->source, (subscriptions::DiscountSource{"promotion_code", code.id}));
}

// ------------------------------------------------------------------ invoices

class CouponBillingTest : public CouponTest {
 protected:
  subscriptions::Subscription paying(const Plan& p, const std::string& coupon_id) {
    auto c = customer();
    auto pm = t.app->customers().attach_payment_method(c.id, {std::string("sandbox"), "pm_card_visa", false}, t.actor);
    EXPECT_TRUE(pm.ok()) << (pm.ok() ? "" : pm.error().message);
    auto s = subscribe(c.id, p.id, coupon_id.empty() ? std::nullopt : std::optional<std::string>(coupon_id));
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return *s;
  }
  void run_until(const char* when) {
    t.clock->set(at(when));
    auto r = t.app->billing().runs.run("test");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  }
  // Oldest first: {subtotal, discount, total} per invoice.
  std::vector<std::vector<std::int64_t>> invoices(const std::string& sub) {
    auto page = t.app->billing().service.list_invoices({sub,  std::nullopt, std::nullopt, {}, {.limit = 100}});
    EXPECT_TRUE(page.ok());
    std::vector<std::vector<std::int64_t>> out;
    for (auto it = page->items.rbegin(); it != page->items.rend(); ++it) {
      out.push_back({it->subtotal, it->discount, it->total});
      EXPECT_EQ(it->status, billing::InvoiceStatus::kPaid) << it->id;
    }
    return out;
  }
  // Oldest first: each invoice's discount_source as served ({type, id} or null).
  std::vector<Json> sources(const std::string& sub) {
    auto page = t.app->billing().service.list_invoices({sub, std::nullopt, std::nullopt, {}, {.limit = 100}});
    std::vector<Json> out;
    for (auto it = page->items.rbegin(); it != page->items.rend(); ++it) out.push_back(to_json(*it)["discount_source"]);
    return out;
  }
};

TEST_F(CouponBillingTest, InvoicesOverFourRenewalsForOnceRepeatingAndForever) {
  auto p = plan(2999);
  auto fifteen = coupon(percent(15));
  auto once = paying(p, fifteen.id);
  auto repeating = paying(p, coupon(percent(50, CouponDuration::kRepeating, 2)).id);
  CouponInput dollars;
  dollars.amount_off = Money{1000, "usd"};
  dollars.duration = CouponDuration::kForever;
  auto fixed = coupon(dollars);
  auto forever = paying(p, fixed.id);
  for (const char* month : {"2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z", "2026-04-30T10:00:00Z",
                            "2026-05-31T10:00:00Z"})
    run_until(month);
  using Rows = std::vector<std::vector<std::int64_t>>;
  const std::vector<std::int64_t> full{2999, 0, 2999};
  // 15 % of 2999 = 449.85 -> 450 off, on the first invoice only.
  EXPECT_EQ(invoices(once.id), (Rows{{2999, 450, 2549}, full, full, full, full}));
  // 50 % of 2999 = 1499.5 -> 1500 off, twice.
  EXPECT_EQ(invoices(repeating.id), (Rows{{2999, 1500, 1499}, {2999, 1500, 1499}, full, full, full}));
  Rows ten_off(5, {2999, 1000, 1999});
  EXPECT_EQ(invoices(forever.id), ten_off);
  EXPECT_EQ(sources(forever.id), std::vector<Json>(5, Json{{"type", "coupon"}, {"id", fixed.id}}));
  EXPECT_EQ(sources(once.id)[0], (Json{{"type", "coupon"}, {"id", fifteen.id}}));
  EXPECT_TRUE(sources(once.id)[1].is_null());
  EXPECT_EQ(count("SELECT SUM(amount) FROM sandbox_charges WHERE status = 'succeeded'"),
            2549 + 4 * 2999 + 2 * 1499 + 3 * 2999 + 5 * 1999);
}

TEST_F(CouponBillingTest, ACouponAppliedMidPeriodDiscountsTheNextInvoiceAndReplacesTheDiscount) {
  auto p = plan(2000);
  auto sub = paying(p, coupon(percent(10, CouponDuration::kForever)).id);
  t.clock->set(at("2026-02-10T00:00:00Z"));
  auto half = coupon(percent(50));
  auto applied = t.app->subscriptions().apply_discount(sub.id, {half.id, std::nullopt}, std::nullopt, t.actor);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(applied->current_amount, 1800);  // no proration: this period stays as billed
  EXPECT_EQ(applied->discount->coupon, half.id);
  EXPECT_EQ(times_redeemed(half.id), 1);
  run_until("2026-02-28T10:00:00Z");
  run_until("2026-03-31T10:00:00Z");
  using Rows = std::vector<std::vector<std::int64_t>>;
  // The forever 10 % was replaced: 50 % once, then the full price.
  EXPECT_EQ(invoices(sub.id), (Rows{{2000, 200, 1800}, {2000, 1000, 1000}, {2000, 0, 2000}}));
}

TEST_F(CouponBillingTest, APlanChangeKeepsACouponThatCoversTheNewPlanAndDropsOneThatDoesNot) {
  auto gold = plan(5000, "usd", "premium");
  auto platinum = plan(8000, "usd", "premium");
  auto lite = plan(1000, "usd", "basic");
  auto in = percent(10, CouponDuration::kForever);
  in.applies_to_tiers = {tier("premium")};
  auto premium = coupon(in);
  auto sub = paying(gold, premium.id);
  subscriptions::ChangePlanInput to_platinum{platinum.id, std::nullopt, subscriptions::Proration::kNone, subscriptions::Effective::kNow};
  auto kept = t.app->subscriptions().change_plan(sub.id, to_platinum, std::nullopt, t.actor);
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_TRUE(kept->discount.has_value());
  subscriptions::ChangePlanInput to_lite{lite.id, std::nullopt, subscriptions::Proration::kNone, subscriptions::Effective::kNow};
  auto dropped = t.app->subscriptions().change_plan(sub.id, to_lite, std::nullopt, t.actor);
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  EXPECT_FALSE(dropped->discount.has_value());
  run_until("2026-02-28T10:00:00Z");
  auto latest = t.app->billing().service.list_invoices({sub.id,  std::nullopt, std::nullopt, {}, {.limit = 1}})->items.at(0);
  EXPECT_EQ(latest.total, 1000);
  EXPECT_EQ(latest.discount, 0);
}

TEST_F(CouponBillingTest, ADiscountCannotBeAppliedToACanceledSubscriptionAndARefusalCountsNothing) {
  auto sub = paying(plan(2000), "");
  auto c = coupon(percent(10));
  subscriptions::CancelInput now{false, "moving", std::nullopt};
  ASSERT_TRUE(t.app->subscriptions().cancel(sub.id, now, std::nullopt, t.actor).ok());
  auto refused = t.app->subscriptions().apply_discount(sub.id, {c.id, std::nullopt}, std::nullopt, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "subscription_canceled");
  EXPECT_EQ(times_redeemed(c.id), 0);
}

}  // namespace
}  // namespace recur::catalog
