// Router: literal segments beat parameters; wrong methods are told apart from unknown paths.
#include "platform/http/router.h"

#include <gtest/gtest.h>

namespace recur::http {
namespace {

Response named(std::string name) {
  Response r;
  r.body = std::move(name);
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.add("GET", "/v1/subscriptions/{id}", "p", [](Request&) { return named("get"); });
    router.add("POST", "/v1/subscriptions/{id}/change-plan/preview", "p", [](Request&) { return named("preview"); });
    router.add("POST", "/v1/subscriptions/{id}/{action}/preview", "p", [](Request&) { return named("generic"); });
    router.add("POST", "/v1/subscriptions/{id}/cancellation-offers/{offer}/accept", "p",
               [](Request&) { return named("accept"); });
  }
  Router router;
};

TEST_F(RouterTest, ParametersAreCaptured) {
  Request req{"POST", "/v1/subscriptions/sub_1/cancellation-offers/rof_9/accept"};
  auto m = router.match(req);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->handler(req).body, "accept");
  EXPECT_EQ(req.path_params["id"], "sub_1");
  EXPECT_EQ(req.path_params["offer"], "rof_9");
}

TEST_F(RouterTest, LiteralSegmentsWinOverParameters) {
  Request req{"POST", "/v1/subscriptions/sub_1/change-plan/preview"};
  auto m = router.match(req);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->handler(req).body, "preview");
}

TEST_F(RouterTest, WrongMethodIsKnownPathUnknownPathIsNot) {
  Request wrong{"DELETE", "/v1/subscriptions/sub_1/change-plan/preview"};
  auto m = router.match(wrong);
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"POST"}));
  Request unknown{"GET", "/v1/subscriptions/sub_1/nothing"};
  auto n = router.match(unknown);
  EXPECT_EQ(n.route, nullptr);
  EXPECT_TRUE(n.allowed.empty());
}

TEST(QueryParsing, DecodesPercentAndPlus) {
  auto q = parse_query("email=ada%40example.com&name=Ada+L&empty=&=skip");
  EXPECT_EQ(q.find("email")->second, "ada@example.com");
  EXPECT_EQ(q.find("name")->second, "Ada L");
  EXPECT_EQ(q.find("empty")->second, "");
  EXPECT_EQ(url_decode("%zz%4", false), "%zz%4");
}

}  // namespace
}  // namespace recur::http
