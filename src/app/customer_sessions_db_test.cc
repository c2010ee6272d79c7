// Customer sessions against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE),
// through the request pipeline as a client calls it: a cs_ token reaches its customer's own
// resources only (another's answers as an id that does not exist), merchant-only routes
// refuse it, it expires after 15 minutes, ends at sign-out and at erasure; a sign-in link
// works once, however many clicks race for it.
#include <gtest/gtest.h>

#include "testing/fixtures.h"

namespace recur::app {
namespace {
using testing::at;
using testing::TestApp;

class CustomerSessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-02T09:00:00Z"));
    plan = testing::make_plan(t, 2000, Interval::kMonth).id;
    ada = testing::make_customer_with(t, "ada@example.com", "pm_card_visa");
    bob = testing::make_customer_with(t, "bob@example.com", "pm_card_visa");
    ada_sub = testing::subscribe(t, ada, plan).id;
    bob_sub = testing::subscribe(t, bob, plan).id;
  }

  std::string token_for(const std::string& customer) {
    auto made = t.app->customer_sessions().create(customer, std::nullopt, customers::SessionKind::kApi);
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message);
    return made.ok() ? made->token : "";
  }

  http::Response call(const std::string& token, const std::string& method, const std::string& target,
                      const std::string& body = "") {
    http::Request r;
    r.method = method;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = http::parse_query(target.substr(q + 1));
    r.headers = {{"authorization", "Bearer " + token}, {"content-type", "application/json"}};
    r.body = body;
    return t.app->pipeline().handle(r);
  }

  static Json body_of(const http::Response& r) { return Json::parse(r.body, nullptr, false); }

  TestApp t;
  std::string plan, ada, bob, ada_sub, bob_sub;
};

TEST_F(CustomerSessionsTest, ASessionReachesItsCustomersOwnResources) {
  const std::string token = token_for(ada);
  auto me = call(token, "GET", "/v1/customers/" + ada);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(body_of(me)["id"], ada);
  auto sub = call(token, "GET", "/v1/subscriptions/" + ada_sub);
  ASSERT_EQ(sub.status, 200) << sub.body;
  // The list is the customer's only, with or without the filter.
  auto list = call(token, "GET", "/v1/subscriptions");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(body_of(list)["data"].size(), 1u);
  EXPECT_EQ(body_of(list)["data"][0]["id"], ada_sub);
  // An action, recorded as the customer's.
  auto paused = call(token, "POST", "/v1/subscriptions/" + ada_sub + "/pause", "{}");
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(body_of(paused)["status"], "paused");
  auto history = call(token, "GET", "/v1/subscriptions/" + ada_sub + "/history");
  ASSERT_EQ(history.status, 200) << history.body;
  bool by_customer = false;
  const Json events = body_of(history);
  for (const auto& e : events["data"])
    if (e.value("type", "") == "subscription.paused")
      by_customer = e["actor"]["type"] == "customer" && e["actor"]["id"] == ada;
  EXPECT_TRUE(by_customer) << history.body;
}

TEST_F(CustomerSessionsTest, AnotherCustomersResourceAnswersAsOneThatDoesNotExist) {
  const std::string token = token_for(ada);
  const std::string missing = "sub_0zzzzzzzzzzzzzzzzzzzzzzzzz";
  for (const auto& [method, suffix] : std::vector<std::pair<std::string, std::string>>{
           {"GET", ""}, {"GET", "/history"}, {"POST", "/pause"}, {"POST", "/skip"}}) {
    auto theirs = call(token, method, "/v1/subscriptions/" + bob_sub + suffix, method == "POST" ? "{}" : "");
    auto none = call(token, method, "/v1/subscriptions/" + missing + suffix, method == "POST" ? "{}" : "");
    EXPECT_EQ(theirs.status, 404) << method << suffix << ": " << theirs.body;
    EXPECT_EQ(none.status, 404) << method << suffix << ": " << none.body;
    std::string detail = body_of(theirs)["detail"];
    auto at_id = detail.find(bob_sub);
    ASSERT_NE(at_id, std::string::npos) << detail;
    detail.replace(at_id, bob_sub.size(), missing);
    EXPECT_EQ(detail, body_of(none)["detail"]);
    EXPECT_EQ(body_of(theirs)["code"], body_of(none)["code"]);
  }
  EXPECT_EQ(call(token, "GET", "/v1/customers/" + bob).status, 404);
  EXPECT_EQ(call(token, "GET", "/v1/subscriptions?customer=" + bob).status, 404);
  // Bob's subscription is as it was.
  auto untouched = t.app->subscriptions().get(bob_sub);
  ASSERT_TRUE(untouched.ok());
  EXPECT_EQ(untouched->status, subscriptions::Status::kActive);
}

TEST_F(CustomerSessionsTest, MerchantOnlyRoutesAreForbidden) {
  const std::string token = token_for(ada);
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/customers"},
           {"POST", "/v1/products"},
           {"GET", "/v1/settings/shop"},
           {"POST", "/v1/customer-sessions"},
           {"GET", "/v1/events"},
           {"DELETE", "/v1/subscriptions/" + ada_sub},
           {"POST", "/v1/subscriptions/" + ada_sub + "/discount"}}) {
    auto r = call(token, method, target, method == "POST" ? "{}" : "");
    EXPECT_EQ(r.status, 403) << method << " " << target << ": " << r.body;
    EXPECT_EQ(body_of(r)["code"], "customer_session_forbidden") << target;
  }
}

TEST_F(CustomerSessionsTest, TheMerchantsFieldsAreRefusedInASessionsBody) {
  const std::string token = token_for(ada);
  for (const auto& [method, target, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/v1/subscriptions", R"({"customer":")" + ada + R"(","plan":")" + plan + R"(","trial_end":"2028-01-01T00:00:00Z"})"},
           {"POST", "/v1/subscriptions", R"({"customer":")" + ada + R"(","plan":")" + plan + R"(","coupon":"co_1"})"},
           {"POST", "/v1/subscriptions/" + ada_sub + "/change-plan", R"({"plan":")" + plan + R"(","proration":"none"})"},
           {"PATCH", "/v1/customers/" + ada, R"({"metadata":{"vip":"yes"}})"}}) {
    auto r = call(token, method, target, body);
    EXPECT_EQ(r.status, 403) << method << " " << target << ": " << r.body;
    EXPECT_EQ(body_of(r)["code"], "customer_session_forbidden");
  }
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM subscriptions WHERE customer_id = $1", {ada}), 1);
}

TEST_F(CustomerSessionsTest, ASessionExpiresAfterFifteenMinutesAndEndsAtSignOutAndErasure) {
  const std::string token = token_for(ada);
  t.clock->advance(customers::kApiSessionSeconds - 1);
  EXPECT_EQ(call(token, "GET", "/v1/customers/" + ada).status, 200);
  t.clock->advance(1);
  auto expired = call(token, "GET", "/v1/customers/" + ada);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(body_of(expired)["code"], "customer_session_expired");

  const std::string second = token_for(ada);
  ASSERT_TRUE(t.app->customer_sessions().end(second).ok());
  EXPECT_EQ(body_of(call(second, "GET", "/v1/customers/" + ada))["code"], "customer_session_ended");

  const std::string third = token_for(ada);
  auto erased = call(third, "POST", "/v1/customers/" + ada + "/erase", R"({"reason":"asked"})");
  ASSERT_EQ(erased.status, 200) << erased.body;
  EXPECT_EQ(body_of(call(third, "GET", "/v1/customers/" + ada))["code"], "customer_session_ended");
  // And no new session for an erased customer.
  auto refused = t.app->customer_sessions().create(ada, std::nullopt, customers::SessionKind::kApi);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "customer_not_found");
}

TEST_F(CustomerSessionsTest, ASignInLinkOpensOneSessionHoweverManyClicksRace) {
  auto made = t.app->customer_sessions().create(ada, std::nullopt, customers::SessionKind::kApi);
  ASSERT_TRUE(made.ok());
  const std::string link = made->sign_in_token;
  ASSERT_FALSE(link.empty());
  auto outcomes = testing::race(4, [&](int) {
    auto s = t.app->customer_sessions().redeem_sign_in_link(link);
    return s.ok() ? std::string("session") : s.error().code;
  });
  auto tally = testing::tally(outcomes);
  EXPECT_EQ(tally["session"], 1) << testing::count(t, "SELECT COUNT(*) FROM customer_sessions");
  EXPECT_EQ(tally["sign_in_link_invalid"], 3);
  // A portal session lasts an hour.
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM customer_sessions WHERE kind = 'portal' AND expires_at - created_at = $1",
                           {customers::kPortalSessionSeconds}),
            1);
  // An expired link opens nothing.
  auto late = t.app->customer_sessions().create(ada, std::nullopt, customers::SessionKind::kApi);
  ASSERT_TRUE(late.ok());
  t.clock->advance(customers::kSignInLinkSeconds);
  auto refused = t.app->customer_sessions().redeem_sign_in_link(late->sign_in_token);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "sign_in_link_invalid");
}

}  // namespace
}  // namespace recur::app
