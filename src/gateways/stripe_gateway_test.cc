// The Stripe adapter against Stripe's published contract (a Prism mock of it, started by
// tests/gateways/run.sh) and against a scripted local server that fails the ways Stripe can.
#include <gtest/gtest.h>

#include "gateways/stripe.h"
#include "gateways/fault_server.h"
#include "gateways/prism_witness.h"

namespace recur::gateways {
namespace {

using testing::FaultAnswer;
using testing::FaultServer;
using testing::PrismWitness;

StripeConfig config_for(std::string base, std::chrono::milliseconds timeout = std::chrono::milliseconds(15000)) {
  StripeConfig c;
  c.api_base = std::move(base);
  c.secret_key = "sk_test_recur";
  c.webhook_secret = "whsec_test";
  c.timeout = timeout;
  return c;
}

ChargeRequest invoice_charge(std::string customer, std::string payment_method) {
  ChargeRequest req;
  req.gateway_customer = std::move(customer);
  req.payment_method = std::move(payment_method);
  req.amount = Money{1999, "usd"};
  req.description = "Recur invoice in_1";
  req.idempotency_key = "in_1:1";
  req.metadata = {{"invoice", "in_1"}, {"subscription", "sub_1"}};
  return req;
}

class StripeContract : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::prism_url("RECUR_TEST_STRIPE_URL");
    ASSERT_FALSE(url_.empty()) << "RECUR_TEST_STRIPE_URL is not set: run tests/gateways/run.sh (ctest -R gateway)";
  }
  std::string url_;
  PrismWitness witness_;
};

TEST_F(StripeContract, EveryRequestOfABillingCycleKeepsStripesContractAndItsAnswersParse) {
  StripeGateway gw(config_for(url_), witness_.transport());

  auto customer = gw.create_customer({"cus_recur_1", "ann@example.com", "Ann Lee", "cust-1"});
  ASSERT_TRUE(customer.ok()) << customer.error().message;
  EXPECT_EQ(customer->rfind("cus_", 0), 0u) << *customer;

  auto card = gw.attach_payment_method(*customer, "pm_card_visa", "cust-1");
  ASSERT_TRUE(card.ok()) << card.error().message;
  EXPECT_EQ(card->token.rfind("pm_", 0), 0u);
  EXPECT_EQ(card->brand, "visa");  // the spec's example card
  EXPECT_EQ(card->last4, "4242");
  EXPECT_EQ(card->exp_month, 8);
  EXPECT_EQ(card->exp_year, 2023);

  // Prism always answers the spec's example PaymentIntent, whose status is
  // requires_payment_method: the id parses, and that status reads as a failure.
  ChargeResult charge = gw.charge(invoice_charge(*customer, card->token));
  EXPECT_EQ(charge.charge_id, "pi_1KmRa3ARuRTs9TwLhA84P9aj");
  EXPECT_EQ(charge.outcome, Outcome::kFailed);
  EXPECT_EQ(charge.failure_code, "requires_payment_method");

  ChargeResult fetched = gw.fetch_charge(charge.charge_id);
  EXPECT_EQ(fetched.charge_id, "pi_1KmRa3ARuRTs9TwLhA84P9aj");

  // verify_payment_method's SetupIntent keeps the contract and its answer parses (the
  // spec's example SetupIntent, whatever its status: an id, never unknown).
  ChargeResult setup = gw.verify_payment_method(*customer, card->token, "verify:pmt_1:key-1");
  EXPECT_EQ(setup.charge_id.rfind("seti_", 0), 0u) << setup.charge_id;
  EXPECT_NE(setup.outcome, Outcome::kUnknown);
  // Canceling a charge that waits for authentication keeps the contract too.
  ChargeResult canceled = gw.cancel_charge(charge.charge_id);
  EXPECT_EQ(canceled.charge_id, "pi_1KmRa3ARuRTs9TwLhA84P9aj");
  EXPECT_NE(canceled.outcome, Outcome::kUnknown);

  RefundResult refund = gw.refund({charge.charge_id, Money{500, "usd"}, "requested_by_customer", "in_1:refund:1"});
  EXPECT_EQ(refund.outcome, Outcome::kSucceeded);
  EXPECT_EQ(refund.refund_id, "re_1KnYOVARuRTs9TwL4WnZApSp");
  RefundResult no_reason = gw.refund({charge.charge_id, Money{500, "usd"}, "", "in_1:refund:2"});
  EXPECT_EQ(no_reason.outcome, Outcome::kSucceeded);

  EXPECT_EQ(witness_.exchanges(), 8u);
  EXPECT_EQ(witness_.refusals(), "");
}

TEST_F(StripeContract, ChargeWithoutDescriptionOrMetadataKeepsTheContract) {
  StripeGateway gw(config_for(url_), witness_.transport());
  ChargeRequest bare = invoice_charge("cus_x", "pm_card_visa");
  bare.description.clear();
  bare.metadata.clear();
  EXPECT_EQ(gw.charge(bare).charge_id, "pi_1KmRa3ARuRTs9TwLhA84P9aj");
  auto customer = gw.create_customer({"cus_recur_2", "", "", "cust-2"});
  EXPECT_TRUE(customer.ok());
  EXPECT_EQ(witness_.refusals(), "");
}

// The witness would notice: Prism does refuse a request that breaks Stripe's contract.
TEST_F(StripeContract, PrismRefusesAPaymentIntentWithoutAnAmount) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = url_ + "/v1/payment_intents";
  req.headers = {{"Authorization", "Bearer sk_test_recur"}, {"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "currency=usd&confirm=true";
  auto response = witness_.transport()(req);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 422);
  EXPECT_NE(witness_.refusals().find("amount"), std::string::npos) << witness_.refusals();
}

TEST_F(StripeContract, PrismRefusesARequestWithoutTheSecretKey) {
  StripeConfig keyless = config_for(url_);
  keyless.secret_key.clear();
  StripeGateway gw(keyless, witness_.transport());
  auto customer = gw.create_customer({"cus_recur_1", "ann@example.com", "Ann", "cust-3"});
  EXPECT_FALSE(customer.ok());
  EXPECT_NE(witness_.refusals(), "");
}

// --- faults: a local server that fails the ways Stripe can ---------------------------

ChargeResult charge_against(const FaultAnswer& answer, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                            std::optional<std::chrono::milliseconds> deadline_in = std::nullopt) {
  FaultServer server(answer);
  StripeGateway gw(config_for(server.base_url(), timeout));
  ChargeRequest request = invoice_charge("cus_1", "pm_card_visa");
  if (deadline_in) request.deadline = std::chrono::steady_clock::now() + *deadline_in;
  ChargeResult r = gw.charge(request);
  EXPECT_EQ(server.requests_seen(), 1);
  return r;
}

TEST(StripeFaults, ServerErrorLeavesTheChargeUnknown) {
  ChargeResult r = charge_against(FaultAnswer::respond(500, R"({"error":{"type":"api_error","message":"boom"}})"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "gateway_error");
}

TEST(StripeFaults, ThrottlingLeavesTheChargeUnknown) {
  ChargeResult r = charge_against(FaultAnswer::respond(429, R"({"error":{"type":"rate_limit_error"}})"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
}

TEST(StripeFaults, CardDeclineFailsTheChargeWithTheDeclineCode) {
  ChargeResult r = charge_against(FaultAnswer::respond(
      402, R"({"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined.","payment_intent":{"id":"pi_d"}}})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "generic_decline");
  EXPECT_EQ(r.failure_message, "Your card was declined.");
  EXPECT_EQ(r.charge_id, "pi_d");
}

// 3-D Secure over HTTP: an on-session PaymentIntent left requires_action, and an off-session
// charge refused with authentication_required, both wait for the customer (never a decline).
TEST(StripeFaults, AChargeTheBankChallengesWaitsForTheCustomer) {
  ChargeResult on_session = charge_against(FaultAnswer::respond(
      200, R"({"id":"pi_3ds","object":"payment_intent","amount":1999,"currency":"usd","status":"requires_action",)"
           R"("next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/3d_secure_2/x",)"
           R"("return_url":"https://shop.example.com/done"}},"last_payment_error":null})"));
  EXPECT_EQ(on_session.outcome, Outcome::kRequiresAction);
  EXPECT_EQ(on_session.charge_id, "pi_3ds");
  EXPECT_EQ(on_session.action_url, "https://hooks.stripe.com/3d_secure_2/x");
  ChargeResult off_session = charge_against(FaultAnswer::respond(
      402, R"({"error":{"type":"card_error","code":"authentication_required","decline_code":"authentication_required",)"
           R"("message":"Your card was declined. This transaction requires authentication.",)"
           R"("payment_intent":{"id":"pi_off","status":"requires_payment_method"}}})"));
  EXPECT_EQ(off_session.outcome, Outcome::kRequiresAction);
  EXPECT_EQ(off_session.charge_id, "pi_off");
}

// Checkout's --checkout-timeout: the customer waits no longer than the charge's deadline,
// however long the adapter's own timeout.
TEST(StripeFaults, NoAnswerBeforeTheChargesDeadlineLeavesTheChargeUnknownAtTheDeadline) {
  auto started = std::chrono::steady_clock::now();
  ChargeResult r = charge_against(FaultAnswer::hang(), std::chrono::milliseconds(60000), std::chrono::milliseconds(300));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));  // not the adapter's 60 s
}

TEST(StripeFaults, NoAnswerWithinTheTimeoutLeavesTheChargeUnknown) {
  auto started = std::chrono::steady_clock::now();
  ChargeResult r = charge_against(FaultAnswer::hang(), std::chrono::milliseconds(300));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));  // the timeout is honoured
}

TEST(StripeFaults, GarbageBodyLeavesTheChargeUnknown) {
  ChargeResult r = charge_against(FaultAnswer::respond(200, "<html>502 Bad Gateway</html>", "text/html"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "gateway_error");
}

TEST(StripeFaults, DroppedConnectionLeavesTheChargeUnknown) {
  ChargeResult r = charge_against(FaultAnswer::close());
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "gateway_error");
}

TEST(StripeFaults, NobodyListeningLeavesTheChargeUnknown) {
  std::string url;
  {
    FaultServer gone(FaultAnswer::close());
    url = gone.base_url();
  }  // the port is closed again
  StripeGateway gw(config_for(url));
  ChargeResult r = gw.charge(invoice_charge("cus_1", "pm_card_visa"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "gateway_error");
}

TEST(StripeFaults, RefundAndFetchDuringAnOutageAreUnknown) {
  FaultServer server(FaultAnswer::respond(503, "Service Unavailable", "text/plain"));
  StripeGateway gw(config_for(server.base_url()));
  EXPECT_EQ(gw.refund({"pi_1", Money{100, "usd"}, "", "r-1"}).outcome, Outcome::kUnknown);
  EXPECT_EQ(gw.fetch_charge("pi_1").outcome, Outcome::kUnknown);
}

TEST(StripeFaults, CustomerCallsDuringAnOutageAreUnavailable) {
  FaultServer server(FaultAnswer::respond(503, "Service Unavailable", "text/plain"));
  StripeGateway gw(config_for(server.base_url()));
  auto customer = gw.create_customer({"cus_recur_1", "ann@example.com", "Ann", "k"});
  ASSERT_FALSE(customer.ok());
  EXPECT_EQ(customer.error().kind, ErrorKind::kUnavailable);
  auto card = gw.attach_payment_method("cus_1", "pm_card_visa", "k");
  ASSERT_FALSE(card.ok());
  EXPECT_EQ(card.error().kind, ErrorKind::kUnavailable);
}

TEST(StripeFaults, CardRefusedAtAttachIsPaymentMethodRefused) {
  FaultServer server(FaultAnswer::respond(
      402, R"({"error":{"type":"card_error","code":"card_declined","message":"Your card was declined."}})"));
  StripeGateway gw(config_for(server.base_url()));
  auto card = gw.attach_payment_method("cus_1", "pm_card_chargeDeclined", "k");
  ASSERT_FALSE(card.ok());
  EXPECT_EQ(card.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(card.error().code, "payment_method_refused");
}

}  // namespace
}  // namespace recur::gateways
