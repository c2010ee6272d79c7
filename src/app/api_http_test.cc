// The HTTP API end to end inside one process: real server, real pipeline, real database
// (SQLite or PostgreSQL per RECUR_TEST_ENGINE), a real socket client.
#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

#include "gateways/signature.h"
#include "platform/http/server.h"
#include "testing/api_server.h"
#include "testing/fixtures.h"
#include "testing/http_client.h"

namespace recur::app {
namespace {

using testing::HttpClient;
using testing::HttpReply;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(testing::at("2026-03-01T00:00:00Z"));
    admin = *t.app->keys().create("admin");
    analyst = *t.app->keys().create("analyst");
    server = std::make_unique<testing::ApiServer>(*t.app, 4, 64 * 1024);
  }

  HttpReply call(const std::string& method, const std::string& target, const std::string& body = "",
                 std::map<std::string, std::string> headers = {}, const std::string* key = nullptr) {
    headers.emplace("Authorization", "Bearer " + (key ? *key : admin.secret));
    return HttpClient(server->port()).call(method, target, body, headers);
  }
  static Json json(const HttpReply& r) { return Json::parse(r.body); }

  testing::TestApp t;
  access::CreatedKey admin, analyst;
  std::unique_ptr<testing::ApiServer> server;
};

TEST_F(ApiTest, MissingOrUnknownKeyIs401AndWrongRoleIs403) {
  HttpClient client(server->port());
  auto anonymous = client.call("GET", "/v1/products");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.header("content-type"), "application/problem+json");
  EXPECT_EQ(json(anonymous)["code"], "missing_api_key");
  std::string bogus = "rk_live_nope";
  EXPECT_EQ(call("GET", "/v1/products", "", {}, &bogus).status, 401);
  auto forbidden = call("POST", "/v1/products", R"({"name":"A","sku":"A-1"})", {}, &analyst.secret);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(json(forbidden)["code"], "permission_denied");
  EXPECT_EQ(call("GET", "/v1/products", "", {}, &analyst.secret).status, 200);
}

TEST_F(ApiTest, ValidationErrorsNameEveryFieldAndCreateNothing) {
  auto r = call("POST", "/v1/plans", R"({"name":"","amount":-5,"currency":"zzz","interval":"fortnight","color":1})");
  ASSERT_EQ(r.status, 422);
  auto doc = json(r);
  EXPECT_EQ(doc["code"], "validation_failed");
  EXPECT_EQ(doc["status"], 422);
  std::set<std::string> fields;
  for (const auto& e : doc["errors"]) fields.insert(e["field"].get<std::string>());
  EXPECT_EQ(fields, (std::set<std::string>{"name", "amount", "currency", "interval", "color"}));
  EXPECT_EQ(json(call("GET", "/v1/plans"))["data"].size(), 0u);
}

TEST_F(ApiTest, MalformedJsonIs400) {
  auto r = call("POST", "/v1/customers", "{\"email\": ");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json(r)["code"], "invalid_json");
}

TEST_F(ApiTest, IdempotencyKeyReplaysTheFirstResponseAndRefusesAnotherBody) {
  std::string body = R"({"email":"ada@example.com","name":"Ada"})";
  auto first = call("POST", "/v1/customers", body, {{"Idempotency-Key", "k-1"}});
  auto second = call("POST", "/v1/customers", body, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(first.status, 201);
  EXPECT_EQ(second.status, 201);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(second.header("idempotent-replayed"), "true");
  EXPECT_EQ(second.header("etag"), first.header("etag"));
  EXPECT_EQ(json(call("GET", "/v1/customers"))["data"].size(), 1u);
  auto other = call("POST", "/v1/customers", R"({"email":"bob@example.com","name":"Bob"})", {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(other.status, 422);
  EXPECT_EQ(json(other)["code"], "idempotency_key_reused");
}

TEST_F(ApiTest, ConcurrentRequestsWithOneIdempotencyKeyCreateOneObject) {
  std::string body = R"({"email":"race@example.com","name":"Race"})";
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      auto r = call("POST", "/v1/customers", body, {{"Idempotency-Key", "race-1"}});
      if (r.status == 201) ++created;
      else EXPECT_EQ(r.status, 409) << r.body;
    });
  for (auto& th : threads) th.join();
  EXPECT_GE(created.load(), 1);
  EXPECT_EQ(json(call("GET", "/v1/customers?email=race%40example.com"))["data"].size(), 1u);
}

TEST_F(ApiTest, PatchNeedsTheVersionAndRefusesAStaleOne) {
  auto created = json(call("POST", "/v1/products", R"({"name":"Beans","sku":"B-1"})"));
  std::string id = created["id"];
  auto missing = call("PATCH", "/v1/products/" + id, R"({"name":"Beans 2"})");
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(json(missing)["code"], "version_required");
  auto ok = call("PATCH", "/v1/products/" + id, R"({"name":"Beans 2"})", {{"If-Match", "\"1\""}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.header("etag"), "\"2\"");
  auto stale = call("PATCH", "/v1/products/" + id, R"({"name":"Beans 3","version":1})");
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(json(stale)["code"], "version_conflict");
  EXPECT_EQ(json(call("GET", "/v1/products/" + id))["name"], "Beans 2");
}

TEST_F(ApiTest, ListsPageWithStartingAfterWithoutGapsOrRepeats) {
  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(call("POST", "/v1/products", R"({"name":"P","sku":"SKU-)" + std::to_string(i) + "\"}").status, 201);
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  while (pages < 10) {
    auto page = json(call("GET", "/v1/products?limit=3" + (cursor.empty() ? "" : "&starting_after=" + cursor)));
    ++pages;
    for (const auto& p : page["data"]) EXPECT_TRUE(seen.insert(p["id"]).second);
    if (!page["has_more"].get<bool>()) break;
    cursor = page["data"].back()["id"];
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(call("GET", "/v1/products?limit=0").status, 422);
  EXPECT_EQ(call("GET", "/v1/products?colour=red").status, 422);
}

TEST_F(ApiTest, SubscriptionLifecycleOverHttp) {
  auto product = json(call("POST", "/v1/products", R"({"name":"Beans","sku":"B-1"})"));
  auto plan = json(call("POST", "/v1/plans", R"({"name":"Monthly","amount":2400,"currency":"USD","interval":"month",)"
                                              R"("interval_count":1,"items":[{"product":")" +
                                                  product["id"].get<std::string>() + R"(","quantity":1}]})"));
  ASSERT_EQ(plan["currency"], "usd");
  auto customer = json(call("POST", "/v1/customers", R"({"email":"ada@example.com","name":"Ada"})"));
  const std::string subscribe = R"({"customer":")" + customer["id"].get<std::string>() + R"(","plan":")" +
                                plan["id"].get<std::string>() + R"("})";
  // A box needs an address: neither the customer nor the subscription has one yet.
  auto nowhere = call("POST", "/v1/subscriptions", subscribe);
  EXPECT_EQ(nowhere.status, 422);
  EXPECT_EQ(json(nowhere)["code"], "shipping_address_required");
  auto moved = call("PATCH", "/v1/customers/" + customer["id"].get<std::string>(),
                    R"({"version":1,"shipping_address":{"line1":"1 Main St","city":"Springfield","postal_code":"12345",)"
                    R"("country":"US"}})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  // Without a card the first invoice cannot be paid at signup: incomplete (checkout's default).
  auto unpaid = call("POST", "/v1/subscriptions", subscribe);
  ASSERT_EQ(unpaid.status, 201) << unpaid.body;
  EXPECT_EQ(json(unpaid)["status"], "incomplete");
  auto card = call("POST", "/v1/customers/" + customer["id"].get<std::string>() + "/payment-methods",
                   R"({"token":"pm_card_visa"})");
  ASSERT_EQ(card.status, 201) << card.body;
  // The new card pays the waiting invoice at once: the first subscription is active now.
  EXPECT_EQ(json(call("GET", "/v1/subscriptions/" + json(unpaid)["id"].get<std::string>()))["status"], "active");
  auto created = call("POST", "/v1/subscriptions", subscribe);
  ASSERT_EQ(created.status, 201) << created.body;
  auto sub = json(created);
  std::string base = "/v1/subscriptions/" + sub["id"].get<std::string>();
  EXPECT_EQ(sub["status"], "active");  // its first invoice paid in the request
  EXPECT_EQ(sub["version"], 2);        // created incomplete, then activated
  EXPECT_EQ(sub["current_period"], (Json{{"start", "2026-03-01T00:00:00Z"}, {"end", "2026-04-01T00:00:00Z"}}));
  EXPECT_EQ(sub["currency"], "usd");

  auto upcoming = json(call("GET", base + "/upcoming?count=3"));
  ASSERT_EQ(upcoming["data"].size(), 3u);
  EXPECT_EQ(upcoming["data"][1]["period"]["start"], "2026-04-01T00:00:00Z");
  EXPECT_EQ(upcoming["data"][2]["amount"], 2400);

  auto paused = call("POST", base + "/pause", R"({"resumes_at":"2026-06-15T00:00:00Z"})");
  EXPECT_EQ(json(paused)["status"], "paused");
  EXPECT_EQ(call("POST", base + "/pause", "{}").status, 409);
  EXPECT_EQ(json(call("POST", base + "/resume", "{}"))["status"], "active");

  auto bad_cancel = call("POST", base + "/cancel", R"({"reason":"bored"})");
  EXPECT_EQ(bad_cancel.status, 422);
  auto cancel = json(call("POST", base + "/cancel", R"({"at":"now","reason":"moving","comment":"abroad"})"));
  EXPECT_EQ(cancel["status"], "canceled");
  EXPECT_EQ(cancel["cancellation"]["reason"], "moving");
  auto history = json(call("GET", base + "/history"));
  EXPECT_EQ(history["data"].back()["type"], "subscription.cancellation_requested");
  EXPECT_EQ(history["data"].back()["actor"]["id"], admin.id);
  EXPECT_EQ(call("DELETE", base).status, 409);
  EXPECT_EQ(call("GET", "/v1/subscriptions/sub_missing").status, 404);
}

TEST_F(ApiTest, HeadAnswersLikeGetWithoutABody) {
  auto get = call("GET", "/v1/products");
  auto head = call("HEAD", "/v1/products");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("content-length"), std::to_string(get.body.size()));
}

TEST_F(ApiTest, UnknownRouteIs404AndWrongMethodIs405) {
  EXPECT_EQ(call("GET", "/v1/nothing").status, 404);
  auto r = call("PUT", "/v1/products");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(json(r)["code"], "method_not_allowed");
  EXPECT_EQ(r.header("allow"), "GET, POST");
}

TEST_F(ApiTest, UrlsThatAreNotUtf8AreRefusedAndTheConnectionStaysUsable) {
  HttpClient client(server->port());
  std::map<std::string, std::string> auth{{"Authorization", "Bearer " + admin.secret}};
  for (const char* target : {"/%ff", "/v1/subscriptions/%ff", "/v1/customers?%ff=1", "/v1/customers?email=%c3"}) {
    auto r = client.call("GET", target, "", auth);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(json(r)["code"], "invalid_encoding") << target;
  }
  EXPECT_EQ(client.call("GET", "/v1/customers?email=%C3%A9%40example.com", "", auth).status, 200);
}

TEST_F(ApiTest, OversizedBodyIs413) {
  std::string big(100 * 1024, 'x');
  auto r = call("POST", "/v1/customers", "{\"name\":\"" + big + "\"}");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json(r)["code"], "payload_too_large");
  EXPECT_FALSE(r.header("x-request-id").empty());
}

TEST_F(ApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpClient client(server->port());
  std::map<std::string, std::string> auth{{"Authorization", "Bearer " + admin.secret}};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client.call("GET", "/v1/products", "", auth).status, 200);
}

TEST_F(ApiTest, EveryResponseCarriesARequestId) {
  auto r = call("GET", "/v1/products", "", {{"X-Request-Id", "trace-42"}});
  EXPECT_EQ(r.header("x-request-id"), "trace-42");
  auto e = call("GET", "/v1/plans/plan_missing");
  EXPECT_FALSE(e.header("x-request-id").empty());
  EXPECT_EQ(json(e)["request_id"], e.header("x-request-id"));
}

TEST_F(ApiTest, GatewayWebhooksAreAuthenticatedByTheGatewaysSignatureOverTheRawBody) {
  gateways::StripeConfig stripe;
  stripe.secret_key = "sk_test_http";
  stripe.webhook_secret = "whsec_http";
  stripe.api_base = "http://127.0.0.1:9";  // never called: a webhook asks the gateway nothing
  t.app->gateways().add(std::make_unique<gateways::StripeGateway>(stripe));
  // Raw bytes as Stripe sends them: not the order nlohmann would print them in.
  const std::string body =
      R"({"id":"evt_http_1","object":"event","type":"payment_intent.succeeded",)"
      R"( "data":{"object":{"id":"pi_http","object":"payment_intent","status":"succeeded","amount":100,)"
      R"("currency":"usd","metadata":{}}}})";
  Timestamp now = t.clock->now();
  auto gateway_events = [&] {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    return (*tx)->query("SELECT COUNT(*) FROM gateway_events")->at(0).int64(0);
  };
  HttpClient client(server->port());
  auto post = [&](const std::string& path, const std::string& signature) {
    return client.call("POST", path, body,
                       {{"Stripe-Signature", signature}, {"Content-Type", "application/json"}, {"Idempotency-Key", "k1"}});
  };

  auto forged = post("/v1/gateway-webhooks/stripe", gateways::sign_timestamped("whsec_guess", now, body));
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(forged.header("content-type"), "application/problem+json");
  EXPECT_EQ(json(forged)["code"], "invalid_signature");
  auto stale = post("/v1/gateway-webhooks/stripe", gateways::sign_timestamped("whsec_http", now - 301, body));
  EXPECT_EQ(stale.status, 401);
  EXPECT_EQ(gateway_events(), 0);

  auto good = post("/v1/gateway-webhooks/stripe", gateways::sign_timestamped("whsec_http", now, body));
  ASSERT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(json(good), (Json{{"received", true}, {"duplicate", false}}));
  auto again = post("/v1/gateway-webhooks/stripe", gateways::sign_timestamped("whsec_http", now, body));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json(again)["duplicate"], true);  // answered from the event's row, not an idempotency replay
  EXPECT_TRUE(again.header("idempotent-replayed").empty());
  EXPECT_EQ(gateway_events(), 1);

  // The sandbox signs with a public secret: not outside test mode. Unknown gateways: 404.
  EXPECT_EQ(post("/v1/gateway-webhooks/sandbox", gateways::sign_timestamped(gateways::kSandboxWebhookSecret, now, body)).status,
            404);
  auto unknown = post("/v1/gateway-webhooks/paypal", "t=1,v1=00");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json(unknown)["code"], "gateway_not_found");
  auto tx = t.app->database().begin(db::TxMode::kReadOnly);
  EXPECT_EQ((*tx)->query("SELECT COUNT(*) FROM idempotency_keys")->at(0).int64(0), 0);
}

// Graceful shutdown, on the bare server: a request in flight when stop() is called
// still gets its full response, and run() returns afterwards.
TEST(ServerShutdown, InFlightRequestFinishesAfterStop) {
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  http::ServerOptions options;
  options.port = 0;
  options.access_log = false;
  http::Server server(options, [&](http::Request&) {
    entered.set_value();
    released.wait();
    http::Response r;
    r.body = R"({"done":true})";
    return r;
  });
  std::string error;
  ASSERT_TRUE(server.listen(&error)) << error;
  std::thread runner([&] { server.run(false); });
  auto reply = std::async(std::launch::async, [&] { return HttpClient(server.port()).call("GET", "/slow"); });
  entered.get_future().wait();
  server.stop();
  release.set_value();
  auto r = reply.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"done":true})");
  runner.join();
}

}  // namespace
}  // namespace recur::app
