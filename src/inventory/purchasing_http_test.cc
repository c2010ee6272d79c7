// /v1/suppliers and /v1/purchase-orders over HTTP: permissions, validation that names every
// field and changes nothing, the status machine's 409s, and the supplier's e-mail in
// /v1/notifications.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "platform/http/server.h"
#include "testing/api_server.h"
#include "testing/fixtures.h"
#include "testing/http_client.h"

namespace recur::inventory {
namespace {

using testing::HttpClient;
using testing::HttpReply;

class PurchasingApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(testing::at("2026-03-02T08:00:00Z"));
    admin = *t.app->keys().create("admin");
    analyst = *t.app->keys().create("analyst");
    server = std::make_unique<testing::ApiServer>(*t.app);
  }

  HttpReply call(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::string* key = nullptr) {
    return HttpClient(server->port())
        .call(method, target, body, {{"Authorization", "Bearer " + (key ? *key : admin.secret)}});
  }
  static Json json(const HttpReply& r) { return Json::parse(r.body); }

  std::string product(const std::string& sku) {
    auto p = call("POST", "/v1/products", Json{{"name", sku}, {"sku", sku}, {"track_inventory", true}}.dump());
    EXPECT_EQ(p.status, 201) << p.body;
    return json(p)["id"];
  }

  testing::TestApp t;
  access::CreatedKey admin, analyst;
  std::unique_ptr<testing::ApiServer> server;
};

TEST_F(PurchasingApiTest, AnalystsReadAndOnlyWritersOrder) {
  EXPECT_EQ(call("GET", "/v1/suppliers", "", &analyst.secret).status, 200);
  EXPECT_EQ(call("GET", "/v1/purchase-orders", "", &analyst.secret).status, 200);
  auto refused = call("POST", "/v1/suppliers", R"({"name":"A","email":"a@example.com"})", &analyst.secret);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(json(refused)["code"], "permission_denied");
  std::string bogus = "rk_live_nope";
  EXPECT_EQ(call("GET", "/v1/suppliers", "", &bogus).status, 401);
}

TEST_F(PurchasingApiTest, InvalidSupplierNamesEveryFieldAndCreatesNothing) {
  auto r = call("POST", "/v1/suppliers",
                R"({"name":"","email":"nope","webhook_url":"ftp://x.example","pack_size":0,"lead_time_days":-1,)"
                R"("products":[{"product":"prod_x","unit_cost":-1,"currency":"usd"}],"colour":"red"})");
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  std::set<std::string> fields;
  Json problem = json(r);  // kept: a range-for over a temporary's member would dangle
  for (const auto& e : problem["errors"]) fields.insert(e["field"].get<std::string>());
  EXPECT_EQ(fields, (std::set<std::string>{"name", "email", "webhook_url", "pack_size", "lead_time_days",
                                           "products[0].unit_cost", "colour"}))
      << r.body;
  EXPECT_EQ(json(call("GET", "/v1/suppliers"))["data"].size(), 0u);
}

TEST_F(PurchasingApiTest, DraftSendAndRefuseASecondSend) {
  std::string beans = product("COF-250");
  auto supplier = call("POST", "/v1/suppliers",
                       Json{{"name", "Yirga Roasters"},
                            {"email", "orders@yirga.example"},
                            {"lead_time_days", 10},
                            {"products", {{{"product", beans}, {"unit_cost", 450}, {"currency", "USD"}}}}}
                           .dump());
  ASSERT_EQ(supplier.status, 201) << supplier.body;
  std::string sup = json(supplier)["id"];
  EXPECT_EQ(json(supplier)["products"][0]["currency"], "usd");

  auto empty = call("POST", "/v1/purchase-orders", Json{{"supplier", sup}, {"lines", Json::array()}}.dump());
  EXPECT_EQ(empty.status, 422);
  auto created = call("POST", "/v1/purchase-orders",
                      Json{{"supplier", sup}, {"lines", {{{"product", beans}, {"quantity", 96}}}}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  auto po = json(created);
  EXPECT_EQ(po["number"], "PO-000001");
  EXPECT_EQ(po["status"], "draft");
  EXPECT_EQ(po["total"], 96 * 450);
  EXPECT_EQ(json(call("GET", "/v1/purchase-orders?status=draft&supplier=" + sup))["data"].size(), 1u);
  EXPECT_EQ(call("GET", "/v1/purchase-orders?status=open").status, 422);

  std::string id = po["id"];
  auto sent = call("POST", "/v1/purchase-orders/" + id + "/send");
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(json(sent)["expected_at"], "2026-03-12T08:00:00Z");
  auto again = call("POST", "/v1/purchase-orders/" + id + "/send");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(json(again)["code"], "purchase_order_not_sendable");
  EXPECT_EQ(json(call("GET", "/v1/purchase-orders/PO-000001"))["status"], "sent");
  EXPECT_EQ(call("GET", "/v1/purchase-orders/po_nope").status, 404);

  auto mail = json(call("GET", "/v1/notifications?template=purchase_order&resource=" + id));
  ASSERT_EQ(mail["data"].size(), 1u);
  EXPECT_EQ(mail["data"][0]["to"], "orders@yirga.example");

  auto canceled = call("POST", "/v1/purchase-orders/" + id + "/cancel");
  EXPECT_EQ(json(canceled)["status"], "canceled");
  EXPECT_EQ(json(call("POST", "/v1/purchase-orders/" + id + "/cancel"))["code"], "purchase_order_not_cancellable");
}

TEST_F(PurchasingApiTest, ReceivingByOrderOrBySkuPutsStockOnHandAndStopsAtWhatWasOrdered) {
  std::string beans = product("COF-250");
  std::string sup = json(call("POST", "/v1/suppliers",
                              Json{{"name", "Yirga Roasters"},
                                   {"email", "orders@yirga.example"},
                                   {"products", {{{"product", beans}, {"unit_cost", 450}, {"currency", "usd"}}}}}
                                  .dump()))["id"];
  std::string id = json(call("POST", "/v1/purchase-orders",
                             Json{{"supplier", sup}, {"lines", {{{"product", beans}, {"quantity", 10}}}}}.dump()))["id"];
  EXPECT_EQ(json(call("POST", "/v1/purchase-orders/" + id + "/receive",
                      Json{{"lines", {{{"product", beans}, {"quantity", 1}}}}}.dump()))["code"],
            "purchase_order_not_receivable");  // a draft
  ASSERT_EQ(call("POST", "/v1/purchase-orders/" + id + "/send").status, 200);
  EXPECT_EQ(json(call("GET", "/v1/inventory/COF-250"))["incoming"], 10);

  auto part = call("POST", "/v1/purchase-orders/" + id + "/receive",
                   Json{{"lines", {{{"product", beans}, {"quantity", 4}}}}}.dump());
  ASSERT_EQ(part.status, 200) << part.body;
  EXPECT_EQ(json(part)["status"], "partially_received");
  auto by_sku = call("POST", "/v1/inventory/COF-250/receipts", Json{{"quantity", 5}, {"purchase_order", id}}.dump());
  ASSERT_EQ(by_sku.status, 201) << by_sku.body;
  EXPECT_EQ(json(by_sku)["on_hand"], 9);
  EXPECT_EQ(json(by_sku)["incoming"], 1);

  auto too_much = call("POST", "/v1/inventory/COF-250/receipts", Json{{"quantity", 2}, {"purchase_order", id}}.dump());
  EXPECT_EQ(too_much.status, 409);
  EXPECT_EQ(json(too_much)["code"], "receipt_exceeds_order");
  EXPECT_EQ(json(call("GET", "/v1/inventory/COF-250"))["on_hand"], 9);  // nothing changed

  auto rest = call("POST", "/v1/purchase-orders/PO-000001/receive",
                   Json{{"lines", {{{"product", beans}, {"quantity", 1}}}}}.dump());
  EXPECT_EQ(json(rest)["status"], "received");
  auto stock = json(call("GET", "/v1/inventory/COF-250"));
  EXPECT_EQ(stock["on_hand"], 10);
  EXPECT_EQ(stock["incoming"], 0);
}

}  // namespace
}  // namespace recur::inventory
