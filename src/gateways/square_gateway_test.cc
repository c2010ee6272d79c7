// The Square adapter against Square's published contract (a Prism mock of it, started by
// tests/gateways/run.sh) and against a scripted local server that fails the ways Square can.
#include <gtest/gtest.h>

#include "gateways/square.h"
#include "gateways/fault_server.h"
#include "gateways/prism_witness.h"

namespace recur::gateways {
namespace {

using testing::FaultAnswer;
using testing::FaultServer;
using testing::PrismWitness;

SquareConfig config_for(std::string base, std::chrono::milliseconds timeout = std::chrono::milliseconds(15000)) {
  SquareConfig c;
  c.api_base = std::move(base);
  c.access_token = "EAAA_test_recur";
  c.location_id = "L88917AVBK2S5";
  c.timeout = timeout;
  return c;
}

ChargeRequest invoice_charge(std::string customer, std::string card) {
  ChargeRequest req;
  req.gateway_customer = std::move(customer);
  req.payment_method = std::move(card);
  req.amount = Money{1999, "usd"};
  req.description = "Recur invoice in_1";
  req.idempotency_key = "in_1:1";
  req.metadata = {{"invoice", "in_1"}, {"subscription", "sub_1"}};
  return req;
}

class SquareContract : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::prism_url("RECUR_TEST_SQUARE_URL");
    ASSERT_FALSE(url_.empty()) << "RECUR_TEST_SQUARE_URL is not set: run tests/gateways/run.sh (ctest -R gateway)";
  }
  std::string url_;
  PrismWitness witness_;
};

TEST_F(SquareContract, EveryRequestOfABillingCycleKeepsSquaresContractAndItsAnswersParse) {
  SquareGateway gw(config_for(url_), witness_.transport());

  auto customer = gw.create_customer({"cus_recur_1", "ann@example.com", "Ann Lee", "cust-1"});
  ASSERT_TRUE(customer.ok()) << customer.error().message;
  EXPECT_EQ(*customer, "JDKYHBWT1D4F8MFH63DBMEN8Y4");  // the spec's example

  auto card = gw.attach_payment_method(*customer, "cnon:card-nonce-ok", "cust-1");
  ASSERT_TRUE(card.ok()) << card.error().message;
  EXPECT_EQ(card->token, "ccof:uIbfJXhXETSP197M3GB");
  EXPECT_EQ(card->brand, "visa");
  EXPECT_EQ(card->last4, "1111");
  EXPECT_EQ(card->exp_month, 11);
  EXPECT_EQ(card->exp_year, 2022);

  ChargeResult charge = gw.charge(invoice_charge(*customer, card->token));
  EXPECT_EQ(charge.outcome, Outcome::kSucceeded);  // the example payment is COMPLETED
  EXPECT_EQ(charge.charge_id, "R2B3Z8WMVt3EAmzYWLZvz7Y69EbZY");

  ChargeResult fetched = gw.fetch_charge(charge.charge_id);
  EXPECT_EQ(fetched.outcome, Outcome::kSucceeded);
  EXPECT_FALSE(fetched.charge_id.empty());

  // The example refund is PENDING: Square has it, it has not settled.
  RefundResult refund = gw.refund({charge.charge_id, Money{500, "usd"}, "requested_by_customer", "in_1:refund:1"});
  EXPECT_EQ(refund.outcome, Outcome::kUnknown);
  EXPECT_EQ(refund.failure_code, "pending");
  EXPECT_FALSE(refund.refund_id.empty());

  EXPECT_EQ(witness_.exchanges(), 5u);
  EXPECT_EQ(witness_.refusals(), "");
}

TEST_F(SquareContract, LongKeysBareChargesAndNamelessCustomersKeepTheContract) {
  SquareConfig c = config_for(url_);
  c.location_id.clear();
  SquareGateway gw(c, witness_.transport());
  ChargeRequest bare = invoice_charge("C1", "ccof:1");
  bare.description.clear();
  bare.metadata.clear();
  bare.idempotency_key = std::string(100, 'k');  // longer than Square's 45
  EXPECT_EQ(gw.charge(bare).outcome, Outcome::kSucceeded);
  EXPECT_TRUE(gw.create_customer({"cus_recur_2", "bob@example.com", "", "cust-2"}).ok());
  EXPECT_EQ(witness_.refusals(), "");
}

// The witness would notice: Prism does refuse a request that breaks Square's contract.
TEST_F(SquareContract, PrismRefusesAPaymentWithoutAnIdempotencyKeyOrWithALowerCaseCurrency) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = url_ + "/v2/payments";
  req.headers = {{"Authorization", "Bearer EAAA_test_recur"}, {"Content-Type", "application/json"}};
  req.body = R"({"source_id":"ccof:1","amount_money":{"amount":1999,"currency":"usd"}})";
  auto response = witness_.transport()(req);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 422);
  EXPECT_NE(witness_.refusals().find("idempotency_key"), std::string::npos) << witness_.refusals();
  EXPECT_NE(witness_.refusals().find("currency"), std::string::npos) << witness_.refusals();
}

// --- faults -------------------------------------------------------------------------

ChargeResult charge_against(const FaultAnswer& answer, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                            std::optional<std::chrono::milliseconds> deadline_in = std::nullopt) {
  FaultServer server(answer);
  SquareGateway gw(config_for(server.base_url(), timeout));
  ChargeRequest request = invoice_charge("C1", "ccof:1");
  if (deadline_in) request.deadline = std::chrono::steady_clock::now() + *deadline_in;
  ChargeResult r = gw.charge(request);
  EXPECT_EQ(server.requests_seen(), 1);
  return r;
}

TEST(SquareFaults, ServerErrorLeavesThePaymentUnknown) {
  ChargeResult r = charge_against(
      FaultAnswer::respond(500, R"({"errors":[{"category":"API_ERROR","code":"INTERNAL_SERVER_ERROR"}]})"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "gateway_error");
}

TEST(SquareFaults, DeclineFailsThePaymentWithTheDeclineCode) {
  ChargeResult r = charge_against(FaultAnswer::respond(
      400, R"({"errors":[{"category":"PAYMENT_METHOD_ERROR","code":"GENERIC_DECLINE","detail":"Authorization error: 'GENERIC_DECLINE'"}],"payment":{"id":"pay_d","status":"FAILED"}})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "generic_decline");
  EXPECT_EQ(r.charge_id, "pay_d");
}

// Checkout's --checkout-timeout: the customer waits no longer than the charge's deadline,
// however long the adapter's own timeout.
TEST(SquareFaults, NoAnswerBeforeTheChargesDeadlineLeavesThePaymentUnknownAtTheDeadline) {
  auto started = std::chrono::steady_clock::now();
  ChargeResult r = charge_against(FaultAnswer::hang(), std::chrono::milliseconds(60000), std::chrono::milliseconds(300));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));  // not the adapter's 60 s
}

TEST(SquareFaults, NoAnswerWithinTheTimeoutLeavesThePaymentUnknown) {
  ChargeResult r = charge_against(FaultAnswer::hang(), std::chrono::milliseconds(300));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "timeout");
}

TEST(SquareFaults, GarbageOrDroppedConnectionLeavesThePaymentUnknown) {
  EXPECT_EQ(charge_against(FaultAnswer::respond(200, "not json", "text/plain")).outcome, Outcome::kUnknown);
  EXPECT_EQ(charge_against(FaultAnswer::close()).outcome, Outcome::kUnknown);
}

TEST(SquareFaults, CustomerAndCardCallsDuringAnOutageAreUnavailable) {
  FaultServer server(FaultAnswer::respond(503, "Service Unavailable", "text/plain"));
  SquareGateway gw(config_for(server.base_url()));
  auto customer = gw.create_customer({"cus_recur_1", "ann@example.com", "Ann", "k"});
  ASSERT_FALSE(customer.ok());
  EXPECT_EQ(customer.error().kind, ErrorKind::kUnavailable);
  auto card = gw.attach_payment_method("C1", "cnon:1", "k");
  ASSERT_FALSE(card.ok());
  EXPECT_EQ(card.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(gw.refund({"pay_1", Money{100, "usd"}, "", "r"}).outcome, Outcome::kUnknown);
}

}  // namespace
}  // namespace recur::gateways
