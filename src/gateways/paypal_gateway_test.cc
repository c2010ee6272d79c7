// The PayPal adapter against PayPal's published contracts (Payment Method Tokens v3, Orders
// v2 and Payments v2 merged into one Prism mock by tests/gateways/run.sh) and against a
// scripted local server: for failures, and for the OAuth token call, which is not in the
// published files.
#include <gtest/gtest.h>

#include "gateways/paypal.h"
#include "gateways/fault_server.h"
#include "gateways/prism_witness.h"

namespace recur::gateways {
namespace {

using testing::FaultAnswer;
using testing::FaultServer;
using testing::PrismWitness;
using testing::SeenRequest;

constexpr std::string_view kTokenPath = "/v1/oauth2/token";
constexpr std::string_view kToken = R"({"scope":"https://uri.paypal.com/services/payments/payment",)"
                                    R"("access_token":"A21AA_first","token_type":"Bearer","expires_in":32400})";

PayPalConfig config_for(std::string base, std::chrono::milliseconds timeout = std::chrono::milliseconds(15000)) {
  PayPalConfig c;
  c.api_base = std::move(base);
  c.client_id = "AZ_recur_client";
  c.client_secret = "EL_recur_secret";
  c.timeout = timeout;
  return c;
}

ChargeRequest invoice_charge(std::string customer, std::string token) {
  ChargeRequest req;
  req.gateway_customer = std::move(customer);
  req.payment_method = std::move(token);
  req.amount = Money{1999, "eur"};
  req.description = "Recur invoice in_1";
  req.idempotency_key = "in_1:1";
  req.metadata = {{"invoice", "in_1"}, {"subscription", "sub_1"}};
  return req;
}

// The token call goes nowhere near Prism (it is not in the published files; the OAuth tests
// below check it against a local server); every other request goes to Prism through the witness.
Transport token_then(Transport next) {
  return [next = std::move(next)](const net::HttpRequest& r) -> Result<net::HttpResponse> {
    if (r.url.ends_with(kTokenPath)) return net::HttpResponse{200, {}, std::string(kToken)};
    return next(r);
  };
}

class PayPalContract : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::prism_url("RECUR_TEST_PAYPAL_URL");
    ASSERT_FALSE(url_.empty()) << "RECUR_TEST_PAYPAL_URL is not set: run tests/gateways/run.sh (ctest -R gateway)";
  }
  std::string url_;
  PrismWitness witness_;
};

TEST_F(PayPalContract, EveryRequestOfABillingCycleKeepsPayPalsContractAndItsAnswersParse) {
  PayPalGateway gw(config_for(url_), token_then(witness_.transport()));

  auto customer = gw.create_customer({"cus_01J9Z3K4M5N6P7Q8R9S0T1V2W3", "ann@example.com", "Ann Lee", "cust-1"});
  ASSERT_TRUE(customer.ok()) << customer.error().message;

  auto card = gw.attach_payment_method(*customer, "5C991763VB2781612", "attach:cus_1:5C991763VB2781612");
  ASSERT_TRUE(card.ok()) << card.error().message;
  EXPECT_EQ(card->token, "8kk8451t");  // the spec's example
  EXPECT_EQ(card->brand, "visa");
  EXPECT_EQ(card->last4, "1111");
  EXPECT_EQ(card->exp_month, 2);
  EXPECT_EQ(card->exp_year, 2027);

  // Orders v2 has no example order for 200: Prism makes one from the schema, whose first
  // capture is COMPLETED with the id "string".
  ChargeResult charge = gw.charge(invoice_charge(*customer, card->token));
  EXPECT_EQ(charge.outcome, Outcome::kSucceeded) << charge.failure_code << " " << charge.failure_message;
  EXPECT_FALSE(charge.charge_id.empty());

  ChargeResult fetched = gw.fetch_charge(charge.charge_id);
  EXPECT_EQ(fetched.outcome, Outcome::kSucceeded) << fetched.failure_code;

  // The schema's first refund status is CANCELLED.
  RefundResult refund = gw.refund({charge.charge_id, Money{500, "eur"}, "requested_by_customer", "in_1:refund:1"});
  EXPECT_EQ(refund.outcome, Outcome::kFailed);
  EXPECT_EQ(refund.failure_code, "cancelled");
  EXPECT_FALSE(refund.refund_id.empty());

  EXPECT_EQ(witness_.exchanges(), 4u);
  EXPECT_EQ(witness_.refusals(), "");
}

TEST_F(PayPalContract, ZeroAndThreeDecimalCurrenciesBareChargesAndLongKeysKeepTheContract) {
  PayPalGateway gw(config_for(url_), token_then(witness_.transport()));
  ChargeRequest bare = invoice_charge("0123456789abcdef012345", "8kk8451t");
  bare.amount = Money{500, "jpy"};
  bare.description.clear();
  bare.metadata.clear();
  bare.idempotency_key = std::string(200, 'k');  // longer than PayPal-Request-Id's 108
  (void)gw.charge(bare);
  ChargeRequest three_decimals = invoice_charge("0123456789abcdef012345", "8kk8451t");
  three_decimals.amount = Money{1234, "kwd"};
  three_decimals.description = std::string(300, 'd');  // cut to the 127 PayPal takes
  (void)gw.charge(three_decimals);
  (void)gw.refund({"3C679366HH908993F", Money{150000, "huf"}, "", std::string(200, 'r')});
  // Vaulted wallets: charged with their own payment_source.
  for (const char* type : {"paypal", "venmo"}) {
    ChargeRequest wallet = invoice_charge("0123456789abcdef012345", "9ww8451w");
    wallet.payment_method_type = type;
    EXPECT_EQ(gw.charge(wallet).outcome, Outcome::kSucceeded) << type;
  }
  EXPECT_EQ(witness_.exchanges(), 5u);
  // An order waiting for the payer: asked about (and captured when approved) by its id.
  (void)gw.fetch_charge("order:5O190127TN364715T");
  (void)gw.cancel_charge("order:5O190127TN364715T");
  EXPECT_GE(witness_.exchanges(), 7u);
  EXPECT_EQ(witness_.refusals(), "");
}

// The witness would notice: Prism does refuse requests that break PayPal's contract.
TEST_F(PayPalContract, PrismRefusesAnOrderWithALowerCaseIntentAndACommaInTheAmount) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = url_ + "/v2/checkout/orders";
  req.headers = {{"Authorization", "Bearer A21AA_first"}, {"Content-Type", "application/json"},
                 {"PayPal-Request-Id", "in_1:1"}};
  req.body = R"({"intent":"capture","purchase_units":[{"amount":{"currency_code":"EUR","value":"19,99"}}]})";
  auto response = witness_.transport()(req);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 422);
  EXPECT_NE(witness_.refusals().find("intent"), std::string::npos) << witness_.refusals();
  EXPECT_NE(witness_.refusals().find("value"), std::string::npos) << witness_.refusals();
}

TEST_F(PayPalContract, PrismRefusesAVaultRequestWithAnUnknownTokenTypeOrWithoutABearerToken) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = url_ + "/v3/vault/payment-tokens";
  req.headers = {{"Authorization", "Bearer A21AA_first"}, {"Content-Type", "application/json"},
                 {"PayPal-Request-Id", "k"}};
  req.body = R"({"payment_source":{"token":{"id":"5C991763VB2781612","type":"NONCE"}}})";
  auto response = witness_.transport()(req);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 422);
  EXPECT_NE(witness_.refusals().find("payment_source.token.type"), std::string::npos) << witness_.refusals();

  req.headers.erase(req.headers.begin());
  req.body = R"({"payment_source":{"token":{"id":"5C991763VB2781612","type":"SETUP_TOKEN"}}})";
  response = witness_.transport()(req);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 401);
}

// --- faults -------------------------------------------------------------------------

// A PayPal that hands out tokens and answers every other request with `api`.
FaultServer::Script paypal_answering(FaultAnswer api) {
  return [api = std::move(api)](const SeenRequest& r) {
    if (r.target == kTokenPath) return FaultAnswer::respond(200, std::string(kToken));
    return api;
  };
}

ChargeResult charge_against(const FaultAnswer& api, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                            std::optional<std::chrono::milliseconds> deadline_in = std::nullopt) {
  FaultServer server(paypal_answering(api));
  PayPalGateway gw(config_for(server.base_url(), timeout));
  ChargeRequest request = invoice_charge("0123456789abcdef012345", "8kk8451t");
  if (deadline_in) request.deadline = std::chrono::steady_clock::now() + *deadline_in;
  ChargeResult r = gw.charge(request);
  EXPECT_EQ(server.requests_seen(), 2);  // the token, then the order
  return r;
}

// The token call counts against a charge's deadline too (checkout's --checkout-timeout).
TEST(PayPalFaults, ATokenCallThatHangsIsBoundByTheChargesDeadline) {
  FaultServer server([](const SeenRequest& r) {
    return r.target == kTokenPath ? FaultAnswer::hang() : FaultAnswer::respond(500, "{}");
  });
  PayPalGateway gw(config_for(server.base_url(), std::chrono::milliseconds(60000)));
  ChargeRequest request = invoice_charge("0123456789abcdef012345", "8kk8451t");
  auto started = std::chrono::steady_clock::now();
  request.deadline = started + std::chrono::milliseconds(300);
  ChargeResult r = gw.charge(request);
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));  // not the adapter's 60 s
  EXPECT_EQ(server.requests_seen(), 1);  // no order without a token
}

TEST(PayPalFaults, ServerErrorLeavesThePaymentUnknown) {
  ChargeResult r = charge_against(FaultAnswer::respond(500, R"({"name":"INTERNAL_SERVER_ERROR","details":[]})"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "gateway_error");
}

TEST(PayPalFaults, UnprocessableDeclineFailsThePaymentWithTheIssue) {
  ChargeResult r = charge_against(FaultAnswer::respond(
      422, R"({"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"INSTRUMENT_DECLINED","description":"The instrument presented was either declined by the processor or bank."}],"debug_id":"90957fca61718"})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "instrument_declined");
}

TEST(PayPalFaults, DeclinedCaptureFailsThePaymentWithTheCaptureId) {
  ChargeResult r = charge_against(FaultAnswer::respond(
      201, R"({"id":"5O1","status":"COMPLETED","purchase_units":[{"payments":{"captures":[{"id":"3C6","status":"DECLINED"}]}}]})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.charge_id, "3C6");
}

// Checkout's --checkout-timeout: the customer waits no longer than the charge's deadline,
// however long the adapter's own timeout.
TEST(PayPalFaults, NoAnswerBeforeTheChargesDeadlineLeavesThePaymentUnknownAtTheDeadline) {
  auto started = std::chrono::steady_clock::now();
  ChargeResult r = charge_against(FaultAnswer::hang(), std::chrono::milliseconds(60000), std::chrono::milliseconds(300));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));  // not the adapter's 60 s
}

TEST(PayPalFaults, NoAnswerWithinTheTimeoutLeavesThePaymentUnknown) {
  ChargeResult r = charge_against(FaultAnswer::hang(), std::chrono::milliseconds(300));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "timeout");
}

TEST(PayPalFaults, GarbageOrDroppedConnectionLeavesThePaymentUnknown) {
  EXPECT_EQ(charge_against(FaultAnswer::respond(201, "not json", "text/plain")).outcome, Outcome::kUnknown);
  EXPECT_EQ(charge_against(FaultAnswer::close()).outcome, Outcome::kUnknown);
}

TEST(PayPalFaults, VaultAndRefundCallsDuringAnOutageAreUnavailableOrUnknown) {
  FaultServer server(paypal_answering(FaultAnswer::respond(503, "Service Unavailable", "text/plain")));
  PayPalGateway gw(config_for(server.base_url()));
  auto card = gw.attach_payment_method("0123456789abcdef012345", "5C991763VB2781612", "k");
  ASSERT_FALSE(card.ok());
  EXPECT_EQ(card.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(gw.refund({"3C6", Money{100, "eur"}, "", "r"}).outcome, Outcome::kUnknown);
}

// --- OAuth (not in the published files: checked against PayPal's documented form) ---------

constexpr std::string_view kCompletedOrder =
    R"({"id":"5O1","status":"COMPLETED","purchase_units":[{"payments":{"captures":[{"id":"3C6","status":"COMPLETED"}]}}]})";

TEST(PayPalOAuth, TokenIsAskedWithBasicClientCredentialsAndAFormGrant) {
  FaultServer server(paypal_answering(FaultAnswer::respond(201, std::string(kCompletedOrder))));
  PayPalGateway gw(config_for(server.base_url()));
  ASSERT_EQ(gw.charge(invoice_charge("c", "8kk8451t")).outcome, Outcome::kSucceeded);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  const SeenRequest& token = seen[0];
  EXPECT_EQ(token.method, "POST");
  EXPECT_EQ(token.target, kTokenPath);
  // printf 'AZ_recur_client:EL_recur_secret' | base64
  EXPECT_EQ(token.headers.at("authorization"), "Basic QVpfcmVjdXJfY2xpZW50OkVMX3JlY3VyX3NlY3JldA==");
  EXPECT_EQ(token.headers.at("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(token.body, "grant_type=client_credentials");
  EXPECT_EQ(seen[1].target, "/v2/checkout/orders");
  EXPECT_EQ(seen[1].headers.at("authorization"), "Bearer A21AA_first");
}

// Answers tokens "A21AA_1", "A21AA_2", ... living `expires_in` seconds; an API request with
// a token in `revoked` gets 401, any other a completed order.
struct TokenIssuer {
  std::int64_t expires_in = 32400;
  std::vector<std::string> revoked;
  int issued = 0;

  FaultServer::Script script() {
    return [this](const SeenRequest& r) {
      if (r.target == kTokenPath) {
        ++issued;
        return FaultAnswer::respond(200, R"({"access_token":"A21AA_)" + std::to_string(issued) +
                                             R"(","token_type":"Bearer","expires_in":)" +
                                             std::to_string(expires_in) + "}");
      }
      auto auth = r.headers.find("authorization");
      for (const auto& token : revoked)
        if (auth != r.headers.end() && auth->second == "Bearer " + token)
          return FaultAnswer::respond(401, R"({"error":"invalid_token","error_description":"Token signature verification failed"})");
      return FaultAnswer::respond(201, std::string(kCompletedOrder));
    };
  }
};

TEST(PayPalOAuth, TokenIsReusedUntilShortlyBeforeItExpires) {
  TokenIssuer issuer;
  issuer.expires_in = 3600;
  FaultServer server(issuer.script());
  Timestamp now = 1'000'000;
  PayPalGateway gw(config_for(server.base_url()), net::send, [&now] { return now; });
  EXPECT_EQ(gw.charge(invoice_charge("c", "8kk8451t")).outcome, Outcome::kSucceeded);
  now += 3600 - 121;
  EXPECT_EQ(gw.charge(invoice_charge("c", "8kk8451t")).outcome, Outcome::kSucceeded);
  EXPECT_EQ(server.seen().size(), 3u);  // one token, two orders
  now += 1;                             // 120 s before expiry: renewed
  EXPECT_EQ(gw.charge(invoice_charge("c", "8kk8451t")).outcome, Outcome::kSucceeded);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[3].target, kTokenPath);
  EXPECT_EQ(seen[4].headers.at("authorization"), "Bearer A21AA_2");
}

TEST(PayPalOAuth, A401RenewsTheTokenOnceAndAsksAgainWithTheSameRequestId) {
  TokenIssuer issuer;
  issuer.revoked = {"A21AA_1"};
  FaultServer server(issuer.script());
  PayPalGateway gw(config_for(server.base_url()));
  ChargeResult r = gw.charge(invoice_charge("c", "8kk8451t"));
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 4u);  // token, order (401), token, order
  EXPECT_EQ(seen[2].target, kTokenPath);
  EXPECT_EQ(seen[3].headers.at("authorization"), "Bearer A21AA_2");
  EXPECT_EQ(seen[1].headers.at("paypal-request-id"), "in_1:1");
  EXPECT_EQ(seen[3].headers.at("paypal-request-id"), "in_1:1");
  EXPECT_EQ(seen[1].body, seen[3].body);
}

TEST(PayPalOAuth, A401AfterRenewalLeavesThePaymentUnknownWithoutAThirdTry) {
  TokenIssuer issuer;
  issuer.revoked = {"A21AA_1", "A21AA_2", "A21AA_3"};
  FaultServer server(issuer.script());
  PayPalGateway gw(config_for(server.base_url()));
  ChargeResult r = gw.charge(invoice_charge("c", "8kk8451t"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(server.seen().size(), 4u);
}

TEST(PayPalOAuth, RefusedClientCredentialsLeaveChargesUnknownAndVaultingUnavailable) {
  FaultServer server([](const SeenRequest&) {
    return FaultAnswer::respond(401, R"({"error":"invalid_client","error_description":"Client Authentication failed"})");
  });
  PayPalGateway gw(config_for(server.base_url()));
  ChargeResult r = gw.charge(invoice_charge("c", "8kk8451t"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_NE(r.failure_message.find("Client Authentication failed"), std::string::npos) << r.failure_message;
  auto card = gw.attach_payment_method("c", "5C991763VB2781612", "k");
  ASSERT_FALSE(card.ok());
  EXPECT_EQ(card.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(server.requests_seen(), 2);  // only token requests
}

}  // namespace
}  // namespace recur::gateways

// --- webhook verification (not in the published files: checked against PayPal's documented
// POST /v1/notifications/verify-webhook-signature) -------------------------------------------

namespace recur::gateways {
namespace {

constexpr std::string_view kVerifyPath = "/v1/notifications/verify-webhook-signature";
const std::map<std::string, std::string> kPayPalHeaders = {
    {"paypal-auth-algo", "SHA256withRSA"},
    {"paypal-cert-url", "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42"},
    {"paypal-transmission-id", "69cd13f0-d67a-11e5-baa3-778b53f4ae55"},
    {"paypal-transmission-sig", "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz"},
    {"paypal-transmission-time", "2026-02-18T20:01:35Z"}};
// Keys in PayPal's order, not sorted: what PayPal verifies is these bytes.
constexpr std::string_view kCaptureEvent =
    R"({"id":"WH-2WR32451HC0233532","event_type":"PAYMENT.CAPTURE.COMPLETED","resource_type":"capture",)"
    R"("resource":{"id":"3C679366HH908993F","status":"COMPLETED","amount":{"value":"19.99","currency_code":"EUR"},)"
    R"("custom_id":"in_1","create_time":"2026-02-18T20:01:30Z"}})";

// A PayPal that hands out tokens and answers the verification as `verify` says, checking
// the request's shape as PayPal documents it (a 400 otherwise).
FaultServer::Script verifier(FaultAnswer verify) {
  return [verify = std::move(verify)](const SeenRequest& r) {
    if (r.target == kTokenPath) return FaultAnswer::respond(200, std::string(kToken));
    if (r.target != kVerifyPath || r.method != "POST")
      return FaultAnswer::respond(404, R"({"name":"RESOURCE_NOT_FOUND"})");
    Json body = Json::parse(r.body, nullptr, false);
    for (const char* field : {"auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time",
                              "webhook_id"})
      if (!body.is_object() || !body.contains(field) || !body[field].is_string())
        return FaultAnswer::respond(400, R"({"name":"VALIDATION_ERROR","details":[{"issue":"MISSING_REQUIRED_PARAMETER"}]})");
    if (!body.contains("webhook_event") || !body["webhook_event"].is_object())
      return FaultAnswer::respond(400, R"({"name":"VALIDATION_ERROR","details":[{"issue":"MISSING_REQUIRED_PARAMETER"}]})");
    return verify;
  };
}

PayPalConfig webhook_config(std::string base, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  PayPalConfig c = config_for(std::move(base), timeout);
  c.webhook_id = "1JE4291016473214C";
  return c;
}

TEST(PayPalWebhookVerification, SuccessAcceptsTheEventAfterAskingPayPalWithTheHeadersAndTheRawEvent) {
  FaultServer server(verifier(FaultAnswer::respond(200, R"({"verification_status":"SUCCESS"})")));
  PayPalGateway gw(webhook_config(server.base_url()));
  auto event = gw.verify_webhook(kPayPalHeaders, std::string(kCaptureEvent), 0);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->id, "WH-2WR32451HC0233532");
  ASSERT_TRUE(event->charge.has_value());
  EXPECT_EQ(event->charge->invoice, "in_1");
  EXPECT_EQ(event->charge->result.charge_id, "3C679366HH908993F");
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);  // the token, then the verification
  EXPECT_EQ(seen[1].target, kVerifyPath);
  EXPECT_EQ(seen[1].headers.at("authorization"), "Bearer A21AA_first");
  EXPECT_EQ(seen[1].headers.at("content-type"), "application/json");
  Json sent = Json::parse(seen[1].body);
  EXPECT_EQ(sent.at("auth_algo"), "SHA256withRSA");
  EXPECT_EQ(sent.at("cert_url"), kPayPalHeaders.at("paypal-cert-url"));
  EXPECT_EQ(sent.at("transmission_id"), "69cd13f0-d67a-11e5-baa3-778b53f4ae55");
  EXPECT_EQ(sent.at("transmission_sig"), kPayPalHeaders.at("paypal-transmission-sig"));
  EXPECT_EQ(sent.at("transmission_time"), "2026-02-18T20:01:35Z");
  EXPECT_EQ(sent.at("webhook_id"), "1JE4291016473214C");
  EXPECT_NE(seen[1].body.find(std::string(kCaptureEvent)), std::string::npos);  // byte for byte
}

TEST(PayPalWebhookVerification, FailureIsABadSignature) {
  FaultServer server(verifier(FaultAnswer::respond(200, R"({"verification_status":"FAILURE"})")));
  PayPalGateway gw(webhook_config(server.base_url()));
  auto event = gw.verify_webhook(kPayPalHeaders, std::string(kCaptureEvent), 0);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().kind, ErrorKind::kUnauthorized);
  EXPECT_EQ(event.error().code, "invalid_signature");
}

TEST(PayPalWebhookVerification, MissingHeadersAreRefusedWithoutAskingPayPal) {
  FaultServer server(verifier(FaultAnswer::respond(200, R"({"verification_status":"SUCCESS"})")));
  PayPalGateway gw(webhook_config(server.base_url()));
  auto headers = kPayPalHeaders;
  headers.erase("paypal-transmission-sig");
  auto event = gw.verify_webhook(headers, std::string(kCaptureEvent), 0);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().kind, ErrorKind::kUnauthorized);
  EXPECT_EQ(server.requests_seen(), 0);
}

TEST(PayPalWebhookVerification, AServerErrorOrNoAnswerAcceptsNothing) {
  for (const FaultAnswer& answer : {FaultAnswer::respond(500, R"({"name":"INTERNAL_SERVICE_ERROR"})"),
                                    FaultAnswer::respond(503, "Service Unavailable", "text/plain"),
                                    FaultAnswer::close(), FaultAnswer::hang()}) {
    FaultServer server(verifier(answer));
    PayPalGateway gw(webhook_config(server.base_url(), std::chrono::milliseconds(300)));
    auto event = gw.verify_webhook(kPayPalHeaders, std::string(kCaptureEvent), 0);
    ASSERT_FALSE(event.ok());
    EXPECT_EQ(event.error().kind, ErrorKind::kUnavailable) << event.error().message;
  }
}

}  // namespace
}  // namespace recur::gateways
