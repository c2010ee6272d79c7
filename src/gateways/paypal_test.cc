// The PayPal adapter without PayPal: amounts as PayPal's decimal strings, recorded answers
// mapped to outcomes, and the requests it builds.
#include "gateways/paypal.h"

#include <gtest/gtest.h>

#include "testing/gateway_fakes.h"

namespace recur::gateways {
namespace {

using testing::answer;
using testing::no_answer;
using testing::no_network;

// --- amounts -------------------------------------------------------------------------

TEST(PayPalAmount, MinorUnitsBecomeADecimalStringInTheCurrencysExponent) {
  struct Case {
    Money money;
    std::string value;
  };
  for (const auto& [money, value] : std::vector<Case>{{{1999, "eur"}, "19.99"},
                                                       {{1999, "EUR"}, "19.99"},
                                                       {{5, "usd"}, "0.05"},
                                                       {{100, "usd"}, "1.00"},
                                                       {{500, "jpy"}, "500"},
                                                       {{1234, "kwd"}, "1.234"},
                                                       {{7, "kwd"}, "0.007"},
                                                       {{150000, "huf"}, "1500"},
                                                       {{9'007'199'254'740'993, "usd"}, "90071992547409.93"}}) {
    auto got = paypal::amount_value(money);
    ASSERT_TRUE(got.ok()) << money.amount << " " << money.currency;
    EXPECT_EQ(*got, value) << money.amount << " " << money.currency;
  }
}

TEST(PayPalAmount, ZeroNegativeUnknownCurrencyAndFractionsPayPalRefusesAreInvalid) {
  for (const Money& money : {Money{0, "eur"}, Money{-1999, "eur"}, Money{100, "xyz"}, Money{100, ""},
                             Money{150050, "huf"}, Money{1, "twd"}}) {
    auto got = paypal::amount_value(money);
    ASSERT_FALSE(got.ok()) << money.amount << " " << money.currency;
    EXPECT_EQ(got.error().kind, ErrorKind::kInvalid);
    EXPECT_EQ(got.error().code, "invalid_amount");
  }
}

// --- ids -------------------------------------------------------------------------------

TEST(PayPalIds, VaultCustomerIdIsStableAndFitsTheVault) {
  std::string id = paypal::vault_customer_id("cus_01J9Z3K4M5N6P7Q8R9S0T1V2W3");
  EXPECT_EQ(id, paypal::vault_customer_id("cus_01J9Z3K4M5N6P7Q8R9S0T1V2W3"));
  EXPECT_NE(id, paypal::vault_customer_id("cus_01J9Z3K4M5N6P7Q8R9S0T1V2W4"));
  EXPECT_EQ(id.size(), 22u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(PayPalIds, LongIdempotencyKeysAreHashedToFitPayPalRequestId) {
  EXPECT_EQ(paypal::request_id("in_1:1"), "in_1:1");
  std::string long_key(200, 'k');
  EXPECT_EQ(paypal::request_id(long_key).size(), 64u);
  EXPECT_EQ(paypal::request_id(long_key), paypal::request_id(long_key));
  EXPECT_EQ(paypal::request_id(std::string(108, 'k')), std::string(108, 'k'));
}

// --- charges -------------------------------------------------------------------------

std::string order(std::string_view order_status, std::string_view captures) {
  return R"({"id":"5O190127TN364715T","status":")" + std::string(order_status) +
         R"(","purchase_units":[{"reference_id":"default","payments":{"captures":)" + std::string(captures) + "}}]}";
}

std::string capture(std::string_view status, std::string_view extra = "") {
  return R"({"id":"3C679366HH908993F","status":")" + std::string(status) + "\"" + std::string(extra) + "}";
}

TEST(PayPalCharge, CompletedCaptureSucceedsWithTheCaptureId) {
  ChargeResult r = paypal::charge_from_order(answer(201, order("COMPLETED", "[" + capture("COMPLETED") + "]")));
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  EXPECT_EQ(r.charge_id, "3C679366HH908993F");
}

TEST(PayPalCharge, DeclinedOrFailedCaptureFailsAndKeepsTheCaptureId) {
  ChargeResult r = paypal::charge_from_order(answer(
      201, order("COMPLETED", "[" + capture("DECLINED", R"(,"processor_response":{"response_code":"5120"})") + "]")));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "declined");
  EXPECT_EQ(r.charge_id, "3C679366HH908993F");
  EXPECT_NE(r.failure_message.find("5120"), std::string::npos) << r.failure_message;
  EXPECT_EQ(paypal::charge_from_order(answer(201, order("COMPLETED", "[" + capture("FAILED") + "]"))).failure_code,
            "failed");
}

TEST(PayPalCharge, PendingCaptureIsUnknown) {
  ChargeResult r = paypal::charge_from_order(answer(
      201, order("COMPLETED", "[" + capture("PENDING", R"(,"status_details":{"reason":"PENDING_REVIEW"})") + "]")));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "pending");
  EXPECT_EQ(r.charge_id, "3C679366HH908993F");
}

TEST(PayPalCharge, AnOrderWaitingForThePayerRequiresActionAVoidedOneFailsElseUnknown) {
  const std::string waiting =
      R"({"id":"5O190127TN364715T","status":"PAYER_ACTION_REQUIRED","links":[{"href":"https://api-m.paypal.com/v2/checkout/orders/5O190127TN364715T","rel":"self","method":"GET"},)"
      R"({"href":"https://www.paypal.com/checkoutnow?token=5O190127TN364715T","rel":"payer-action","method":"GET"}]})";
  ChargeResult action = paypal::charge_from_order(answer(200, waiting));
  EXPECT_EQ(action.outcome, Outcome::kRequiresAction);
  EXPECT_EQ(action.charge_id, "order:5O190127TN364715T");
  EXPECT_EQ(action.action_url, "https://www.paypal.com/checkoutnow?token=5O190127TN364715T");
  EXPECT_EQ(paypal::charge_from_order(answer(200, order("PAYER_ACTION_REQUIRED", "[]"))).outcome,
            Outcome::kRequiresAction);
  EXPECT_EQ(paypal::charge_from_order(answer(200, order("VOIDED", "[]"))).outcome, Outcome::kFailed);
  ChargeResult created = paypal::charge_from_order(answer(200, order("CREATED", "null")));
  EXPECT_EQ(created.outcome, Outcome::kUnknown);
  EXPECT_EQ(created.failure_code, "unexpected_status");
}

constexpr std::string_view kDeclined =
    R"({"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"INSTRUMENT_DECLINED","description":"The instrument presented was either declined by the processor or bank, or it can't be used for this payment."}],)"
    R"("message":"The requested action could not be performed, semantically incorrect, or failed business validation.","debug_id":"90957fca61718"})";

TEST(PayPalCharge, UnprocessableEntityFailsWithTheLowerCasedIssue) {
  ChargeResult r = paypal::charge_from_order(answer(422, std::string(kDeclined)));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "instrument_declined");
  EXPECT_NE(r.failure_message.find("declined by the processor"), std::string::npos);
  EXPECT_NE(r.failure_message.find("90957fca61718"), std::string::npos);
  ChargeResult bad = paypal::charge_from_order(answer(400, R"({"name":"INVALID_REQUEST","message":"bad"})"));
  EXPECT_EQ(bad.outcome, Outcome::kFailed);
  EXPECT_EQ(bad.failure_code, "invalid_request");
}

TEST(PayPalCharge, RefusedCredentialsConflictsServerFaultsAndSilenceAreUnknown) {
  EXPECT_EQ(paypal::charge_from_order(answer(401, R"({"error":"invalid_token"})")).outcome, Outcome::kUnknown);
  EXPECT_EQ(paypal::charge_from_order(answer(403, R"({"name":"NOT_AUTHORIZED"})")).outcome, Outcome::kUnknown);
  EXPECT_EQ(paypal::charge_from_order(answer(409, R"({"name":"RESOURCE_CONFLICT"})")).outcome, Outcome::kUnknown);
  EXPECT_EQ(paypal::charge_from_order(answer(500, R"({"name":"INTERNAL_SERVER_ERROR"})")).failure_code,
            "gateway_error");
  EXPECT_EQ(paypal::charge_from_order(answer(429, "{}")).outcome, Outcome::kUnknown);
  EXPECT_EQ(paypal::charge_from_order(answer(201, "<html>")).outcome, Outcome::kUnknown);
  EXPECT_EQ(paypal::charge_from_order(no_answer("timeout")).failure_code, "timeout");
  constexpr std::string_view kNoCaptureId =
      R"({"status":"COMPLETED","purchase_units":[{"payments":{"captures":[{"status":"COMPLETED"}]}}]})";
  EXPECT_EQ(paypal::charge_from_order(answer(201, std::string(kNoCaptureId))).outcome, Outcome::kUnknown);
}

TEST(PayPalCharge, FetchedCaptureFollowsTheSameRules) {
  EXPECT_EQ(paypal::charge_from_capture(answer(200, capture("COMPLETED"))).outcome, Outcome::kSucceeded);
  EXPECT_EQ(paypal::charge_from_capture(answer(200, capture("PARTIALLY_REFUNDED"))).outcome, Outcome::kSucceeded);
  EXPECT_EQ(paypal::charge_from_capture(answer(200, capture("DECLINED"))).outcome, Outcome::kFailed);
  EXPECT_EQ(paypal::charge_from_capture(answer(200, capture("PENDING"))).outcome, Outcome::kUnknown);
  ChargeResult missing = paypal::charge_from_capture(answer(404, R"({"name":"RESOURCE_NOT_FOUND"})"));
  EXPECT_EQ(missing.outcome, Outcome::kFailed);
  EXPECT_EQ(missing.failure_code, "resource_not_found");
}

// --- refunds -------------------------------------------------------------------------

std::string refund(std::string_view status) {
  return R"({"id":"1JU08902781691411","status":")" + std::string(status) + "\"}";
}

TEST(PayPalRefund, CompletedSucceedsCancelledOrFailedFailsPendingIsUnknown) {
  RefundResult done = paypal::refund_from(answer(201, refund("COMPLETED")));
  EXPECT_EQ(done.outcome, Outcome::kSucceeded);
  EXPECT_EQ(done.refund_id, "1JU08902781691411");
  EXPECT_EQ(paypal::refund_from(answer(201, refund("CANCELLED"))).failure_code, "cancelled");
  EXPECT_EQ(paypal::refund_from(answer(201, refund("FAILED"))).outcome, Outcome::kFailed);
  EXPECT_EQ(paypal::refund_from(answer(201, refund("PENDING"))).outcome, Outcome::kUnknown);
  RefundResult too_much = paypal::refund_from(answer(
      422, R"({"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"REFUND_AMOUNT_EXCEEDED"}]})"));
  EXPECT_EQ(too_much.outcome, Outcome::kFailed);
  EXPECT_EQ(too_much.failure_code, "refund_amount_exceeded");
  EXPECT_EQ(paypal::refund_from(answer(503, "")).outcome, Outcome::kUnknown);
}

// --- payment tokens and access tokens --------------------------------------------------

TEST(PayPalPaymentToken, CardTokenGivesBrandLastDigitsAndExpiry) {
  auto card = paypal::payment_token_from(answer(
      200, R"({"id":"8kk8451t","customer":{"id":"c1"},"payment_source":{"card":{"last_digits":"1111","expiry":"2027-02","brand":"VISA"}}})"));
  ASSERT_TRUE(card.ok()) << card.error().message;
  EXPECT_EQ(card->token, "8kk8451t");
  EXPECT_EQ(card->brand, "visa");
  EXPECT_EQ(card->last4, "1111");
  EXPECT_EQ(card->exp_month, 2);
  EXPECT_EQ(card->exp_year, 2027);
  auto union_pay = paypal::payment_token_from(
      answer(201, R"({"id":"t2","payment_source":{"card":{"brand":"CHINA_UNION_PAY","expiry":"soon"}}})"));
  ASSERT_TRUE(union_pay.ok());
  EXPECT_EQ(union_pay->brand, "unionpay");
  EXPECT_EQ(union_pay->exp_month, 0);
}

TEST(PayPalPaymentToken, WalletsGiveTheirTypeAndEmailOtherSourcesAndRefusalsAreInvalidOutagesUnavailable) {
  struct Case {
    const char* source;
    const char* type;
    const char* email;
  };
  for (const Case& c : {Case{R"({"paypal":{"email_address":"ann@example.com","payer_id":"QYR5Z8XDVJNXQ"}})", "paypal",
                             "ann@example.com"},
                        Case{R"({"venmo":{"user_name":"ann-v"}})", "venmo", ""}}) {
    auto got = paypal::payment_token_from(answer(201, R"({"id":"v1","payment_source":)" + std::string(c.source) + "}"));
    ASSERT_TRUE(got.ok()) << c.source << ": " << got.error().message;
    EXPECT_EQ(got->token, "v1");
    EXPECT_EQ(got->type, c.type);
    EXPECT_EQ(got->email, c.email);
    EXPECT_EQ(got->last4, "");
    EXPECT_EQ(got->exp_year, 0);
  }
  for (auto source : {R"({"apple_pay":{}})", R"({"bank":{"ach_debit":{}}})", "null"}) {
    auto got = paypal::payment_token_from(answer(201, R"({"id":"v1","payment_source":)" + std::string(source) + "}"));
    ASSERT_FALSE(got.ok()) << source;
    EXPECT_EQ(got.error().code, "payment_method_refused") << source;
  }
  auto refused = paypal::payment_token_from(answer(
      422, R"({"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"SETUP_TOKEN_NOT_TOKENIZED"}]})"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(paypal::payment_token_from(answer(401, "{}")).error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(paypal::payment_token_from(answer(502, "")).error().kind, ErrorKind::kUnavailable);
}

TEST(PayPalAccessToken, BearerTokenAndItsLifeAreRead) {
  auto token = paypal::access_token_from(answer(
      200, R"({"scope":"https://uri.paypal.com/services/payments/payment","access_token":"A21AAF","token_type":"Bearer","app_id":"APP-80W284485P519543T","expires_in":32400,"nonce":"n"})"));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->token, "A21AAF");
  EXPECT_EQ(token->expires_in, 32400);
  auto refused = paypal::access_token_from(
      answer(401, R"({"error":"invalid_client","error_description":"Client Authentication failed"})"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(refused.error().message.find("Client Authentication failed"), std::string::npos);
  EXPECT_FALSE(paypal::access_token_from(answer(200, R"({"token_type":"Bearer"})")).ok());
}

// --- requests ------------------------------------------------------------------------

using Recorder = testing::RecordingTransport;

Json sent(const Recorder& rec, std::size_t i) { return Json::parse(rec.requests.at(i).body); }

// Answers PayPal's token request itself (counting them) and passes every other to `rec`.
Transport with_token(Recorder& rec, int& token_requests) {
  return [next = rec.transport(), &token_requests](const net::HttpRequest& r) -> Result<net::HttpResponse> {
    if (!r.url.ends_with("/v1/oauth2/token")) return next(r);
    ++token_requests;
    return net::HttpResponse{200, {}, R"({"access_token":"A21AA_T","token_type":"Bearer","expires_in":32400})"};
  };
}

PayPalConfig config() {
  PayPalConfig c;
  c.api_base = "https://paypal.test";
  c.client_id = "client";
  c.client_secret = "secret";
  return c;
}

ChargeRequest invoice_charge(std::string token) {
  ChargeRequest req;
  req.gateway_customer = "0123456789abcdef012345";
  req.payment_method = std::move(token);
  req.amount = Money{1999, "eur"};
  req.description = "Recur invoice in_1";
  req.idempotency_key = "in_1:1";
  req.metadata = {{"invoice", "in_1"}, {"subscription", "sub_1"}};
  return req;
}

TEST(PayPalRequests, ChargeIsACaptureOrderPaidByTheVaultedCard) {
  Recorder rec;
  int tokens = 0;
  rec.body = order("COMPLETED", "[" + capture("COMPLETED") + "]");
  PayPalGateway gw(config(), with_token(rec, tokens));
  EXPECT_EQ(gw.charge(invoice_charge("8kk8451t")).outcome, Outcome::kSucceeded);
  ASSERT_EQ(rec.requests.size(), 1u);
  EXPECT_EQ(rec.requests[0].method, "POST");
  EXPECT_EQ(rec.requests[0].url, "https://paypal.test/v2/checkout/orders");
  EXPECT_EQ(rec.header(0, "Authorization"), "Bearer A21AA_T");
  EXPECT_EQ(rec.header(0, "PayPal-Request-Id"), "in_1:1");
  EXPECT_EQ(rec.header(0, "Prefer"), "return=representation");
  EXPECT_EQ(rec.header(0, "Content-Type"), "application/json");
  EXPECT_EQ(sent(rec, 0), Json::parse(R"({"intent":"CAPTURE","purchase_units":[{"amount":{"currency_code":"EUR",
      "value":"19.99"},"description":"Recur invoice in_1","custom_id":"in_1","invoice_id":"in_1"}],
      "payment_source":{"card":{"vault_id":"8kk8451t"}}})"));
}

TEST(PayPalRequests, AVaultedWalletIsChargedAsItsOwnPaymentSource) {
  for (const char* type : {"paypal", "venmo"}) {
    Recorder rec;
    int tokens = 0;
    rec.body = order("COMPLETED", "[" + capture("COMPLETED") + "]");
    PayPalGateway gw(config(), with_token(rec, tokens));
    ChargeRequest req = invoice_charge("9ww8451w");
    req.payment_method_type = type;
    EXPECT_EQ(gw.charge(req).outcome, Outcome::kSucceeded) << type;
    ASSERT_EQ(rec.requests.size(), 1u);
    EXPECT_EQ(sent(rec, 0)["payment_source"], (Json{{type, {{"vault_id", "9ww8451w"}}}})) << type;
  }
}

TEST(PayPalRequests, BareChargeSendsOnlyTheAmountInWholeYen) {
  Recorder rec;
  int tokens = 0;
  PayPalGateway gw(config(), with_token(rec, tokens));
  ChargeRequest req = invoice_charge("8kk8451t");
  req.amount = Money{500, "jpy"};
  req.metadata.clear();
  req.description.clear();
  (void)gw.charge(req);
  EXPECT_EQ(sent(rec, 0), Json::parse(R"({"intent":"CAPTURE","purchase_units":[{"amount":{"currency_code":"JPY",
      "value":"500"}}],"payment_source":{"card":{"vault_id":"8kk8451t"}}})"));
}

TEST(PayPalRequests, RefusedAmountsAndMissingKeysNeverReachPayPal) {
  PayPalGateway gw(config(), no_network());
  ChargeRequest zero = invoice_charge("8kk8451t");
  zero.amount.amount = 0;
  ChargeResult r = gw.charge(zero);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "invalid_amount");
  ChargeRequest no_key = invoice_charge("8kk8451t");
  no_key.idempotency_key.clear();
  EXPECT_EQ(gw.charge(no_key).failure_code, "idempotency_key_missing");
  EXPECT_EQ(gw.refund({"3C6", Money{-5, "eur"}, "", "r"}).failure_code, "invalid_amount");
  EXPECT_FALSE(gw.attach_payment_method("c", "TOKEN", "").ok());
}

TEST(PayPalRequests, AttachVaultsTheSetupTokenForTheCustomer) {
  Recorder rec;
  int tokens = 0;
  rec.body = R"({"id":"8kk8451t","payment_source":{"card":{"last_digits":"1111","expiry":"2027-02","brand":"VISA"}}})";
  PayPalGateway gw(config(), with_token(rec, tokens));
  auto card = gw.attach_payment_method("0123456789abcdef012345", "5C991763VB2781612", "attach:cus_1:x");
  ASSERT_TRUE(card.ok()) << card.error().message;
  EXPECT_EQ(rec.requests[0].url, "https://paypal.test/v3/vault/payment-tokens");
  EXPECT_EQ(rec.header(0, "PayPal-Request-Id"), "attach:cus_1:x:attach");
  EXPECT_EQ(sent(rec, 0), Json::parse(R"({"customer":{"id":"0123456789abcdef012345"},
      "payment_source":{"token":{"id":"5C991763VB2781612","type":"SETUP_TOKEN"}}})"));
}

TEST(PayPalRequests, RefundAndFetchNameTheCapture) {
  Recorder rec;
  int tokens = 0;
  rec.body = refund("COMPLETED");
  PayPalGateway gw(config(), with_token(rec, tokens));
  EXPECT_EQ(gw.refund({"3C679366HH908993F", Money{500, "eur"}, "requested_by_customer", "refund-1"}).outcome,
            Outcome::kSucceeded);
  EXPECT_EQ(rec.requests[0].url, "https://paypal.test/v2/payments/captures/3C679366HH908993F/refund");
  EXPECT_EQ(rec.header(0, "PayPal-Request-Id"), "refund-1");
  EXPECT_EQ(sent(rec, 0), Json::parse(R"({"amount":{"currency_code":"EUR","value":"5.00"}})"));
  rec.status = 200;
  rec.body = capture("COMPLETED");
  EXPECT_EQ(gw.fetch_charge("3C679366HH908993F").outcome, Outcome::kSucceeded);
  EXPECT_EQ(rec.requests[1].method, "GET");
  EXPECT_EQ(rec.requests[1].url, "https://paypal.test/v2/payments/captures/3C679366HH908993F");
  EXPECT_EQ(rec.header(1, "PayPal-Request-Id"), "<absent>");
  EXPECT_EQ(rec.requests[1].body, "");
  EXPECT_EQ(tokens, 1);  // one token for both calls
}

TEST(PayPalRequests, CustomerIsDerivedWithoutARequest) {
  PayPalGateway gw(config(), no_network());
  auto id = gw.create_customer({"cus_recur_1", "ann@example.com", "Ann", "customer:cus_recur_1"});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, paypal::vault_customer_id("cus_recur_1"));
  EXPECT_FALSE(gw.create_customer({"", "", "", "k"}).ok());
}

TEST(PayPalWebhook, WithoutAWebhookIdWebhooksAreRefusedAsUnsupported) {
  PayPalGateway gw(config(), no_network());
  auto event = gw.verify_webhook({{"paypal-transmission-sig", "x"}}, R"({"id":"WH-1"})", 0);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(event.error().code, "webhooks_unsupported");
}

// --- decline codes ------------------------------------------------------------------

TEST(PayPalDeclineCode, ProcessorResponsesWinOverIssuesAndStatuses) {
  struct Case {
    const char* code;
    const char* processor_response;
    const char* normalised;
  };
  const Case cases[] = {
      {"declined", "5120", "insufficient_funds"},  {"declined", "0500", "do_not_honor"},
      {"declined", "5400", "expired_card"},        {"declined", "9500", "fraudulent"},
      {"declined", "9520", "lost_card"},           {"declined", "5180", "restricted_card"},
      {"declined", "5110", "incorrect_cvc"},       {"declined", "9540", "do_not_try_again"},
      {"declined", "", "generic_decline"},         {"declined", "1234", "generic_decline"},
      {"failed", "", "generic_decline"},           {"voided", "", "generic_decline"},
      {"instrument_declined", "", "generic_decline"}, {"transaction_refused", "", "do_not_honor"},
      {"card_expired", "", "expired_card"},        {"payer_action_required", "", "authentication_required"},
      {"compliance_violation", "", "do_not_try_again"},
      {"transaction_limit_exceeded", "", "card_velocity_exceeded"},
      {"invalid_request", "", ""},                 {"duplicate_invoice_id", "", ""},
      {"payee_account_restricted", "", ""},
  };
  for (const auto& c : cases)
    EXPECT_EQ(paypal_decline_code(c.code, c.processor_response), c.normalised)
        << c.code << " " << c.processor_response;
}

TEST(PayPalDeclineCode, RefusedCapturesAndOrdersCarryTheirDeclineCode) {
  EXPECT_EQ(paypal::charge_from_order(answer(
                201, order("COMPLETED", "[" + capture("DECLINED", R"(,"processor_response":{"response_code":"5120"})") + "]")))
                .decline_code,
            "insufficient_funds");
  EXPECT_EQ(paypal::charge_from_order(answer(422, std::string(kDeclined))).decline_code, "generic_decline");
  // Waiting for the payer is no decline.
  EXPECT_EQ(paypal::charge_from_order(answer(200, order("PAYER_ACTION_REQUIRED", "[]"))).decline_code, "");
  EXPECT_EQ(paypal::charge_from_order(answer(400, R"({"name":"INVALID_REQUEST","message":"bad"})")).decline_code, "");
  EXPECT_EQ(paypal::charge_from_order(answer(409, R"({"name":"RESOURCE_CONFLICT"})")).decline_code, "");
}

std::string shown(const std::optional<Money>& m) {
  return m ? std::to_string(m->amount) + " " + m->currency : "none";
}

const std::map<std::string, std::string> kTransmission = {
    {"paypal-auth-algo", "SHA256withRSA"},
    {"paypal-cert-url", "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42"},
    {"paypal-transmission-id", "69cd13f0-d67a-11e5-baa3-778b53f4ae55"},
    {"paypal-transmission-sig", "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz+Zjh3s3boXB07VXCXUZy"},
    {"paypal-transmission-time", "2026-02-18T20:01:35Z"}};

TEST(PayPalWebhook, EveryTransmissionHeaderIsRequired) {
  ASSERT_TRUE(paypal::transmission_from(kTransmission).ok());
  for (const auto& [name, value] : kTransmission) {
    auto less = kTransmission;
    less.erase(name);
    auto t = paypal::transmission_from(less);
    ASSERT_FALSE(t.ok()) << name;
    EXPECT_EQ(t.error().kind, ErrorKind::kUnauthorized);
    EXPECT_EQ(t.error().code, "invalid_signature");
  }
}

// Found by the webhook_signatures fuzzer: a header of bytes that are not UTF-8 made building
// the verification request's JSON throw.
TEST(PayPalWebhook, AHeaderOfOtherThanPrintableAsciiIsRefused) {
  for (const std::string& bad : {std::string("SHA256\xff\xfe"), std::string("a\nb"), std::string("caf\xc3\xa9")}) {
    auto headers = kTransmission;
    headers["paypal-transmission-id"] = bad;
    auto t = paypal::transmission_from(headers);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.error().code, "invalid_signature");
  }
}

TEST(PayPalWebhook, TheVerifyRequestCarriesTheEventByteForByte) {
  // Keys out of order and a spaced number: a re-serialized object would differ.
  const std::string event = R"({"id":"WH-1","event_type":"X","resource":{"b":1,"a":2.50}})";
  std::string body = paypal::verify_request_body(*paypal::transmission_from(kTransmission), "1JE4291016473214C", event);
  EXPECT_NE(body.find(R"("webhook_event":)" + event + "}"), std::string::npos) << body;
  Json parsed = Json::parse(body);
  EXPECT_EQ(parsed.at("auth_algo"), "SHA256withRSA");
  EXPECT_EQ(parsed.at("transmission_id"), "69cd13f0-d67a-11e5-baa3-778b53f4ae55");
  EXPECT_EQ(parsed.at("transmission_time"), "2026-02-18T20:01:35Z");
  EXPECT_EQ(parsed.at("webhook_id"), "1JE4291016473214C");
  EXPECT_EQ(parsed.at("webhook_event").at("id"), "WH-1");
}

TEST(PayPalWebhook, OnlySuccessIsAcceptedAndNoAnswerIsNotARefusal) {
  EXPECT_TRUE(paypal::verification_from(answer(200, R"({"verification_status":"SUCCESS"})")).ok());
  struct Case {
    Result<net::HttpResponse> response;
    ErrorKind kind;
  };
  std::vector<Case> cases;
  cases.push_back({answer(200, R"({"verification_status":"FAILURE"})"), ErrorKind::kUnauthorized});
  cases.push_back({answer(400, R"({"name":"VALIDATION_ERROR","details":[{"issue":"INVALID_PARAMETER"}]})"),
                   ErrorKind::kUnauthorized});
  cases.push_back({answer(200, R"({"verification_status":"MAYBE"})"), ErrorKind::kUnavailable});
  cases.push_back({answer(200, R"({})"), ErrorKind::kUnavailable});
  cases.push_back({answer(500, R"({"name":"INTERNAL_SERVICE_ERROR"})"), ErrorKind::kUnavailable});
  cases.push_back({answer(503, "down"), ErrorKind::kUnavailable});
  cases.push_back({answer(401, R"({"error":"invalid_token"})"), ErrorKind::kUnavailable});
  cases.push_back({no_answer("timeout"), ErrorKind::kUnavailable});
  for (const auto& c : cases) {
    auto st = paypal::verification_from(c.response);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().kind, c.kind) << st.error().message;
  }
}

TEST(PayPalWebhook, MoneyComesBackInMinorUnits) {
  EXPECT_EQ(shown(paypal::money_from({{"currency_code", "EUR"}, {"value", "19.99"}})), "1999 eur");
  EXPECT_EQ(shown(paypal::money_from({{"currency_code", "USD"}, {"value", "10"}})), "1000 usd");
  EXPECT_EQ(shown(paypal::money_from({{"currency_code", "USD"}, {"value", "0.5"}})), "50 usd");
  EXPECT_EQ(shown(paypal::money_from({{"currency_code", "JPY"}, {"value", "500"}})), "500 jpy");
  EXPECT_EQ(shown(paypal::money_from({{"currency_code", "HUF"}, {"value", "1500"}})), "150000 huf");
  EXPECT_EQ(shown(paypal::money_from({{"currency_code", "KWD"}, {"value", "1.234"}})), "1234 kwd");
  EXPECT_FALSE(paypal::money_from({{"currency_code", "USD"}, {"value", "1.234"}}));
  EXPECT_FALSE(paypal::money_from({{"currency_code", "USD"}, {"value", "-1"}}));
  EXPECT_FALSE(paypal::money_from({{"currency_code", "XXX"}, {"value", "1"}}));
  EXPECT_FALSE(paypal::money_from(Json()));
}

Json paypal_event(const std::string& type, Json resource) {
  return {{"id", "WH-58D329510W468432D-8HN650336L201105X"},
          {"event_version", "1.0"},
          {"create_time", "2026-03-01T10:00:05.000Z"},
          {"resource_type", "capture"},
          {"event_type", type},
          {"resource", std::move(resource)}};
}

TEST(PayPalWebhook, CaptureEventsAreChargeNoticesLinkedByTheInvoice) {
  Json capture = {{"id", "3C679366HH908993F"},
                  {"status", "COMPLETED"},
                  {"amount", {{"currency_code", "EUR"}, {"value", "19.99"}}},
                  {"custom_id", "in_1"},
                  {"invoice_id", "in_1"},
                  {"create_time", "2026-03-01T10:00:00Z"}};
  auto e = paypal::event_from(paypal_event("PAYMENT.CAPTURE.COMPLETED", capture).dump());
  ASSERT_TRUE(e.ok() && e->charge.has_value());
  EXPECT_EQ(e->id, "WH-58D329510W468432D-8HN650336L201105X");
  EXPECT_EQ(e->type, "PAYMENT.CAPTURE.COMPLETED");
  EXPECT_EQ(e->charge->result.outcome, Outcome::kSucceeded);
  EXPECT_EQ(e->charge->result.charge_id, "3C679366HH908993F");
  EXPECT_EQ(e->charge->invoice, "in_1");
  EXPECT_EQ(shown(e->charge->amount), "1999 eur");
  EXPECT_TRUE(e->charge->created.has_value());
  capture["status"] = "DECLINED";
  EXPECT_EQ(paypal::event_from(paypal_event("PAYMENT.CAPTURE.DENIED", capture).dump())->charge->result.outcome,
            Outcome::kFailed);
  capture["status"] = "PENDING";
  EXPECT_EQ(paypal::event_from(paypal_event("PAYMENT.CAPTURE.PENDING", capture).dump())->charge->result.outcome,
            Outcome::kUnknown);
}

TEST(PayPalWebhook, ARefundEventNamesItsCaptureFromTheUpLink) {
  Json refund = {{"id", "1JU08902781691411"},
                 {"status", "COMPLETED"},
                 {"amount", {{"currency_code", "EUR"}, {"value", "5.00"}}},
                 {"links",
                  {{{"rel", "self"}, {"href", "https://api.paypal.com/v2/payments/refunds/1JU08902781691411"}},
                   {{"rel", "up"}, {"href", "https://api.paypal.com/v2/payments/captures/3C679366HH908993F"}}}}};
  auto e = paypal::event_from(paypal_event("PAYMENT.CAPTURE.REFUNDED", refund).dump());
  ASSERT_TRUE(e.ok() && e->refund.has_value());
  EXPECT_EQ(e->refund->result.outcome, Outcome::kSucceeded);
  EXPECT_EQ(e->refund->result.refund_id, "1JU08902781691411");
  EXPECT_EQ(e->refund->charge_id, "3C679366HH908993F");
  EXPECT_EQ(shown(e->refund->amount), "500 eur");
}

TEST(PayPalWebhook, DisputeEventsOpenAndResolve) {
  Json dispute = {{"dispute_id", "PP-D-27803"},
                  {"reason", "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"},
                  {"status", "OPEN"},
                  {"dispute_amount", {{"currency_code", "EUR"}, {"value", "19.99"}}},
                  {"disputed_transactions", {{{"seller_transaction_id", "3C679366HH908993F"}}}}};
  auto opened = paypal::event_from(paypal_event("CUSTOMER.DISPUTE.CREATED", dispute).dump());
  ASSERT_TRUE(opened.ok() && opened->dispute.has_value());
  EXPECT_EQ(opened->dispute->dispute_id, "PP-D-27803");
  EXPECT_EQ(opened->dispute->charge_id, "3C679366HH908993F");
  EXPECT_EQ(shown(opened->dispute->amount), "1999 eur");
  EXPECT_EQ(opened->dispute->reason, "merchandise_or_service_not_received");
  EXPECT_EQ(opened->dispute->outcome, "");
  for (auto [code, outcome] : {std::pair{"RESOLVED_BUYER_FAVOUR", "lost"}, {"ACCEPTED", "lost"},
                               {"RESOLVED_SELLER_FAVOUR", "won"}, {"CANCELED_BY_BUYER", "won"}, {"DENIED", "won"},
                               {"RESOLVED_WITH_PAYOUT", "won"}, {"NONE", ""}}) {
    dispute["dispute_outcome"] = {{"outcome_code", code}};
    auto resolved = paypal::event_from(paypal_event("CUSTOMER.DISPUTE.RESOLVED", dispute).dump());
    ASSERT_TRUE(resolved.ok() && resolved->dispute.has_value());
    EXPECT_EQ(resolved->dispute->outcome, outcome) << code;
  }
  auto other = paypal::event_from(paypal_event("BILLING.SUBSCRIPTION.CREATED", {{"id", "I-1"}}).dump());
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->charge || other->refund || other->dispute);
  EXPECT_FALSE(paypal::event_from("[]").ok());
  EXPECT_FALSE(paypal::event_from(R"({"resource":{}})").ok());
}

// --- an order waiting for the payer ------------------------------------------------------

// A transport that answers each path from a table (the token request aside), recording them.
struct Scripted {
  std::map<std::string, std::pair<long, std::string>> answers;  // "METHOD path" -> status, body
  std::vector<net::HttpRequest> requests;
  Transport transport() {
    return [this](const net::HttpRequest& r) -> Result<net::HttpResponse> {
      if (r.url.ends_with("/v1/oauth2/token"))
        return net::HttpResponse{200, {}, R"({"access_token":"A21AA_T","token_type":"Bearer","expires_in":32400})"};
      requests.push_back(r);
      auto it = answers.find(r.method + " " + r.url.substr(std::string("https://paypal.test").size()));
      if (it == answers.end()) return net::HttpResponse{404, {}, R"({"name":"RESOURCE_NOT_FOUND"})"};
      return net::HttpResponse{it->second.first, {}, it->second.second};
    };
  }
};

TEST(PayPalWaitingOrder, FetchAsksTheOrderAndCapturesItOnceThePayerApprovedIt) {
  Scripted pp;
  PayPalGateway gw(config(), pp.transport());
  const std::string path = "/v2/checkout/orders/5O190127TN364715T";
  pp.answers["GET " + path] = {200, order("PAYER_ACTION_REQUIRED", "[]")};
  EXPECT_EQ(gw.fetch_charge("order:5O190127TN364715T").outcome, Outcome::kRequiresAction);
  ASSERT_EQ(pp.requests.size(), 1u);  // asked only: nothing to capture yet

  pp.answers["GET " + path] = {200, R"({"id":"5O190127TN364715T","status":"APPROVED"})"};
  pp.answers["POST " + path + "/capture"] = {201, order("COMPLETED", "[" + capture("COMPLETED") + "]")};
  ChargeResult paid = gw.fetch_charge("order:5O190127TN364715T");
  EXPECT_EQ(paid.outcome, Outcome::kSucceeded);
  EXPECT_EQ(paid.charge_id, "3C679366HH908993F");  // the capture: what refunds use
  ASSERT_EQ(pp.requests.size(), 3u);
  EXPECT_EQ(pp.requests[2].method, "POST");
  bool keyed = false;
  for (const auto& [n, v] : pp.requests[2].headers) keyed = keyed || (n == "PayPal-Request-Id" && v == "capture:5O190127TN364715T");
  EXPECT_TRUE(keyed);

  // Captured by someone else already: the order shows its capture, nothing is captured again.
  pp.answers["GET " + path] = {200, order("COMPLETED", "[" + capture("COMPLETED") + "]")};
  EXPECT_EQ(gw.fetch_charge("order:5O190127TN364715T").outcome, Outcome::kSucceeded);
  EXPECT_EQ(pp.requests.size(), 4u);
  // A capture id is still asked about as a capture.
  pp.answers["GET /v2/payments/captures/3C679366HH908993F"] = {200, capture("COMPLETED")};
  EXPECT_EQ(gw.fetch_charge("3C679366HH908993F").outcome, Outcome::kSucceeded);
  EXPECT_EQ(pp.requests.back().url, "https://paypal.test/v2/payments/captures/3C679366HH908993F");
}

TEST(PayPalWaitingOrder, CancelGivesUpAWaitingOrderForCertainAndCapturesAnApprovedOne) {
  Scripted pp;
  PayPalGateway gw(config(), pp.transport());
  const std::string path = "/v2/checkout/orders/5O190127TN364715T";
  pp.answers["GET " + path] = {200, order("PAYER_ACTION_REQUIRED", "[]")};
  ChargeResult given_up = gw.cancel_charge("order:5O190127TN364715T");
  EXPECT_EQ(given_up.outcome, Outcome::kFailed);
  EXPECT_EQ(given_up.charge_id, "order:5O190127TN364715T");  // certain: it names the order
  EXPECT_EQ(given_up.failure_code, "canceled");
  // No answer: nothing is certain.
  pp.answers["GET " + path] = {503, R"({"name":"SERVICE_UNAVAILABLE"})"};
  EXPECT_EQ(gw.cancel_charge("order:5O190127TN364715T").outcome, Outcome::kUnknown);
  // Approved meanwhile: the customer did authenticate, so it is captured, not given up.
  pp.answers["GET " + path] = {200, R"({"id":"5O190127TN364715T","status":"APPROVED"})"};
  pp.answers["POST " + path + "/capture"] = {201, order("COMPLETED", "[" + capture("COMPLETED") + "]")};
  EXPECT_EQ(gw.cancel_charge("order:5O190127TN364715T").outcome, Outcome::kSucceeded);
}

TEST(PayPalWaitingOrder, AVoidedGoneOrDeclinedOrderIsACertainFailureNamingTheOrder) {
  const std::string path = "/v2/checkout/orders/5O190127TN364715T";
  struct Case {
    const char* name;
    std::pair<long, std::string> get;
    std::pair<long, std::string> capture;
  };
  const Case cases[] = {
      {"voided", {200, order("VOIDED", "[]")}, {0, ""}},
      {"gone", {404, R"({"name":"RESOURCE_NOT_FOUND"})"}, {0, ""}},
      {"capture declined",
       {200, R"({"id":"5O190127TN364715T","status":"APPROVED"})"},
       {422, R"({"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"ORDER_EXPIRED"}]})"}},
  };
  for (const auto& c : cases) {
    for (bool cancel : {false, true}) {
      Scripted pp;
      PayPalGateway gw(config(), pp.transport());
      pp.answers["GET " + path] = c.get;
      if (c.capture.first) pp.answers["POST " + path + "/capture"] = c.capture;
      ChargeResult r = cancel ? gw.cancel_charge("order:5O190127TN364715T") : gw.fetch_charge("order:5O190127TN364715T");
      EXPECT_EQ(r.outcome, Outcome::kFailed) << c.name;
      EXPECT_EQ(r.charge_id, "order:5O190127TN364715T") << c.name;  // certain
    }
  }
}

}  // namespace
}  // namespace recur::gateways
