// Bytes that are not what they claim, over HTTP on both engines: ill-formed UTF-8, NUL,
// card numbers and far dates are refused with problem+json and change nothing.
#include <gtest/gtest.h>

#include "testing/api_server.h"
#include "testing/fixtures.h"
#include "testing/http_client.h"

namespace recur::app {
namespace {

using testing::HttpClient;
using testing::HttpReply;

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(testing::at("2026-03-01T00:00:00Z"));
    admin = *t.app->keys().create("admin");
    server = std::make_unique<testing::ApiServer>(*t.app, 2);
  }
  HttpReply call(const std::string& method, const std::string& target, const std::string& body = "",
                 std::map<std::string, std::string> headers = {}) {
    headers.emplace("Authorization", "Bearer " + admin.secret);
    return HttpClient(server->port()).call(method, target, body, headers);
  }
  static Json json(const HttpReply& r) { return Json::parse(r.body); }
  std::string customer() {
    auto r = call("POST", "/v1/customers", R"({"email":"ada@example.com","name":"Ada"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return json(r)["id"];
  }
  std::int64_t customers() { return static_cast<std::int64_t>(json(call("GET", "/v1/customers?limit=100"))["data"].size()); }

  testing::TestApp t;
  access::CreatedKey admin;
  std::unique_ptr<testing::ApiServer> server;
};

TEST_F(HostileInputTest, IllFormedUtf8InAPathOrAQueryIs400InvalidEncoding) {
  for (const char* target : {"/v1/customers/%C0%80", "/v1/customers/%ED%A0%80", "/v1/customers/%F4%90%80%80",
                             "/v1/customers?email=%C0%80", "/v1/customers?starting_after=%ED%A0%80",
                             "/v1/customers?email=%E0%80%AF", "/v1/customers?%F5%80%80%80=1"}) {
    auto r = call("GET", target);
    EXPECT_EQ(r.status, 400) << target << " " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json") << target;
    EXPECT_EQ(json(r)["code"], "invalid_encoding") << target;
  }
}

TEST_F(HostileInputTest, IllFormedUtf8InAUsedHeaderIs400AndCreatesNothing) {
  auto key = call("POST", "/v1/customers", R"({"email":"ada@example.com"})", {{"Idempotency-Key", "\xff\xfe"}});
  EXPECT_EQ(key.status, 400) << key.body;
  EXPECT_EQ(json(key)["code"], "invalid_encoding");
  auto match = call("PATCH", "/v1/customers/cus_x", R"({"name":"B"})", {{"If-Match", "\"\xed\xa0\x80\""}});
  EXPECT_EQ(match.status, 400) << match.body;
  EXPECT_EQ(customers(), 0);
}

TEST_F(HostileInputTest, ANulInAPathIsRefusedInsteadOfCuttingTheIdShort) {
  std::string id = customer();
  auto r = call("GET", "/v1/customers/" + id + "%00junk");
  EXPECT_EQ(r.status, 400) << r.body;  // not the customer `id`
  EXPECT_EQ(json(r)["code"], "invalid_encoding");
  auto adjust = call("POST", "/v1/inventory/SKU%00junk/adjustments", R"({"quantity_delta":7,"reason":"count"})");
  EXPECT_EQ(adjust.status, 400) << adjust.body;
  EXPECT_EQ(call("GET", "/v1/customers?email=ada%00x@example.com").status, 400);
}

TEST_F(HostileInputTest, ANulInABodyStringIs422NamingTheFieldAndStoresNothing) {
  auto r = call("POST", "/v1/customers", R"({"email":"a\u0000@example.com","name":"A"})");
  ASSERT_EQ(r.status, 422) << r.body;
  auto doc = json(r);
  EXPECT_EQ(doc["errors"][0]["field"], "email");
  EXPECT_EQ(doc["errors"][0]["code"], "invalid_characters");
  auto nested = call("POST", "/v1/customers", R"({"email":"b@example.com","metadata":{"k":"v\u0000"}})");
  EXPECT_EQ(nested.status, 422) << nested.body;
  EXPECT_EQ(json(nested)["errors"][0]["field"], "metadata.k");
  EXPECT_EQ(customers(), 0);
}

TEST_F(HostileInputTest, BodiesThatAreNotUtf8OrHoldALoneSurrogateAreInvalidJson) {
  for (std::string body : {std::string("{\"name\":\"\xc0\x80\"}"), std::string("{\"name\":\"\xed\xa0\x80\"}"),
                           std::string("{\"name\":\"\xf4\x90\x80\x80\"}"), std::string("{\"name\":\"\xff\"}"),
                           std::string(R"({"name":"\ud800"})"), std::string(R"({"name":"\udc00x"})"),
                           std::string(R"({"name":"\ud800\u0041"})")}) {
    auto r = call("POST", "/v1/customers", body);
    EXPECT_EQ(r.status, 400) << body << " " << r.body;
    EXPECT_EQ(json(r)["code"], "invalid_json") << body;
  }
  EXPECT_EQ(customers(), 0);
  // A proper pair is a character like any other.
  EXPECT_EQ(call("POST", "/v1/customers", R"({"email":"c@example.com","name":"\ud83d\ude00"})").status, 201);
}

TEST_F(HostileInputTest, ACardNumberAsATokenIsRefusedWithoutBeingEchoed) {
  std::string id = customer();
  for (const char* pan : {"4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", "tok_4242424242424242"}) {
    auto r = call("POST", "/v1/customers/" + id + "/payment-methods", Json{{"token", pan}}.dump());
    EXPECT_EQ(r.status, 422) << pan << " " << r.body;
    EXPECT_EQ(json(r)["errors"][0]["code"], "card_number_not_accepted") << r.body;
    EXPECT_EQ(r.body.find("4242"), std::string::npos) << r.body;
  }
  EXPECT_EQ(json(call("GET", "/v1/customers/" + id + "/payment-methods"))["data"].size(), 0u);
  // Wherever else a message quotes the caller (an unknown id, an unknown field), no card number.
  auto unknown = call("GET", "/v1/customers/4242424242424242");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body.find("4242424242424242"), std::string::npos) << unknown.body;
  auto field = call("POST", "/v1/customers", R"({"email":"d@example.com","4242 4242 4242 4242":1})");
  EXPECT_EQ(field.status, 422);
  EXPECT_EQ(field.body.find("4242"), std::string::npos) << field.body;
  auto route = call("GET", "/v1/4242424242424242");
  EXPECT_EQ(route.body.find("4242424242424242"), std::string::npos) << route.body;
}

TEST_F(HostileInputTest, QueryDatesFollowTheBodiesRuleBefore3000) {
  auto product = call("POST", "/v1/products", R"({"name":"Beans","sku":"B-1"})");
  ASSERT_EQ(product.status, 201) << product.body;
  std::string id = json(product)["id"];
  auto far = call("GET", "/v1/products/" + id + "/availability?date=9999-01-01");
  ASSERT_EQ(far.status, 422) << far.body;
  EXPECT_EQ(json(far)["errors"][0]["code"], "out_of_range");
  EXPECT_EQ(call("GET", "/v1/products/" + id + "/availability?date=3000-01-01T00:00:00Z").status, 422);
  EXPECT_EQ(json(call("GET", "/v1/products/" + id + "/availability?date=junk"))["errors"][0]["code"],
            "invalid_timestamp");
  EXPECT_EQ(call("GET", "/v1/products/" + id + "/availability?date=2999-12-31").status, 200);
}

}  // namespace
}  // namespace recur::app
