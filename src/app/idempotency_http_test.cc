// Requests that commit in steps around a gateway call (decision 0009): a retry of one whose
// process died before its answer was stored resumes what the first try committed.
#include <gtest/gtest.h>

#include "testing/api_server.h"
#include "testing/fixtures.h"
#include "testing/http_client.h"

namespace recur::app {
namespace {

using testing::HttpClient;
using testing::HttpReply;

class StepsRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(testing::at("2026-03-01T00:00:00Z"));
    admin = *t.app->keys().create("admin");
    server = std::make_unique<testing::ApiServer>(*t.app, 4, 64 * 1024);
  }
  HttpReply post(const std::string& target, const std::string& body, const std::string& key) {
    return HttpClient(server->port())
        .call("POST", target, body, {{"Authorization", "Bearer " + admin.secret}, {"Idempotency-Key", key}});
  }
  // What a kill -9 after the request's work and before its answer was stored leaves: the key
  // in progress, its claim older than the lease (the retry takes it over).
  void forget_answers_as_a_crash_would() {
    ASSERT_TRUE(db::transact(t.app->database(), [](db::Tx& tx) {
                  return tx.exec("UPDATE idempotency_keys SET status = NULL, body = NULL, created_at = created_at - 3600");
                }).ok());
  }
  std::int64_t count(const std::string& sql) {
    auto rows = db::transact(t.app->database(), [&](db::Tx& tx) { return tx.query(sql); }, db::TxMode::kReadOnly);
    return rows->at(0).int64(0);
  }
  static Json json(const HttpReply& r) { return Json::parse(r.body); }

  testing::TestApp t;
  access::CreatedKey admin;
  std::unique_ptr<testing::ApiServer> server;
};

TEST_F(StepsRetryTest, AttachPayAndRefundRetriedAfterACrashResumeTheirFirstTryAndActOnce) {
  auto plan = testing::make_plan(t, 2500, Interval::kMonth);
  auto customer = testing::make_customer(t);

  auto attached = post("/v1/customers/" + customer.id + "/payment-methods", R"({"token":"pm_card_visa"})", "pm-1");
  ASSERT_EQ(attached.status, 201) << attached.body;
  forget_answers_as_a_crash_would();
  auto reattached = post("/v1/customers/" + customer.id + "/payment-methods", R"({"token":"pm_card_visa"})", "pm-1");
  ASSERT_EQ(reattached.status, 201) << reattached.body;
  EXPECT_NE(reattached.header("idempotent-replayed"), "true");  // run again, not replayed
  EXPECT_EQ(json(reattached)["id"], json(attached)["id"]);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_methods"), 1);

  auto sub = testing::subscribe(t, customer.id, plan.id);
  auto open = t.app->billing().service.list_invoices({sub.id,  std::nullopt, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->items.size(), 1u);
  const std::string invoice = open->items[0].id;
  auto paid = post("/v1/invoices/" + invoice + "/pay", "{}", "pay-1");
  ASSERT_EQ(paid.status, 200) << paid.body;
  EXPECT_EQ(json(paid)["status"], "paid");
  forget_answers_as_a_crash_would();
  auto repaid = post("/v1/invoices/" + invoice + "/pay", "{}", "pay-1");
  EXPECT_EQ(repaid.status, 200) << repaid.body;  // the invoice as it is, not 409 invoice_not_open
  EXPECT_EQ(json(repaid)["status"], "paid");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges"), 1);

  std::string refund_body = R"({"invoice":")" + invoice + R"(","amount":700})";
  auto refunded = post("/v1/refunds", refund_body, "re-1");
  ASSERT_EQ(refunded.status, 201) << refunded.body;
  forget_answers_as_a_crash_would();
  auto rerefunded = post("/v1/refunds", refund_body, "re-1");
  ASSERT_EQ(rerefunded.status, 201) << rerefunded.body;
  EXPECT_EQ(json(rerefunded)["id"], json(refunded)["id"]);
  EXPECT_EQ(count("SELECT COUNT(*) FROM refunds"), 1);
  EXPECT_EQ(count("SELECT COALESCE(SUM(amount), 0) FROM sandbox_refunds"), 700);

  // The same key for another request (another amount) is refused, never resumed.
  auto other = post("/v1/refunds", R"({"invoice":")" + invoice + R"(","amount":100})", "re-1");
  EXPECT_EQ(other.status, 422) << other.body;
  EXPECT_EQ(count("SELECT COUNT(*) FROM refunds"), 1);
}

}  // namespace
}  // namespace recur::app
