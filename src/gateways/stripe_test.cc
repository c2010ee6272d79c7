// The Stripe adapter without Stripe: recorded answers mapped to outcomes, the requests it
// builds, and webhook signatures.
#include "gateways/stripe.h"

#include <gtest/gtest.h>

#include "gateways/signature.h"
#include "testing/gateway_fakes.h"

namespace recur::gateways {
namespace {

using testing::answer;
using testing::no_answer;
using testing::no_network;
using Recorder = testing::RecordingTransport;

std::string intent(std::string_view status, std::string_view last_error = "null") {
  return R"({"id":"pi_123","object":"payment_intent","amount":1999,"currency":"usd","status":")" +
         std::string(status) + R"(","last_payment_error":)" + std::string(last_error) + "}";
}

constexpr std::string_view kDecline =
    R"({"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",)"
    R"("message":"Your card has insufficient funds.","payment_intent":{"id":"pi_declined","status":"requires_payment_method"}}})";

// --- charges -------------------------------------------------------------------------

TEST(StripeCharge, SucceededIntentIsASucceededChargeWithTheIntentId) {
  ChargeResult r = stripe::charge_from(answer(200, intent("succeeded")));
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  EXPECT_EQ(r.charge_id, "pi_123");
  EXPECT_EQ(r.failure_code, "");
}

TEST(StripeCharge, CardErrorFailsWithTheIssuersDeclineCodeAndKeepsTheIntentId) {
  ChargeResult r = stripe::charge_from(answer(402, std::string(kDecline)));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "insufficient_funds");
  EXPECT_EQ(r.failure_message, "Your card has insufficient funds.");
  EXPECT_EQ(r.charge_id, "pi_declined");
}

TEST(StripeCharge, CardErrorWithoutDeclineCodeFailsWithStripesCode) {
  ChargeResult r = stripe::charge_from(
      answer(402, R"({"error":{"type":"card_error","code":"expired_card","message":"Your card has expired."}})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "expired_card");
}

TEST(StripeCharge, RequiresActionWaitsForTheCustomerWithTheIntentId) {
  ChargeResult r = stripe::charge_from(answer(200, intent("requires_action")));
  EXPECT_EQ(r.outcome, Outcome::kRequiresAction);
  EXPECT_EQ(r.failure_code, "authentication_required");
  EXPECT_EQ(r.charge_id, "pi_123");
  EXPECT_EQ(r.action_url, "");  // use_stripe_sdk: the shop's page confirms with stripe.js
}

TEST(StripeCharge, RequiresActionKeepsTheBanksPageWhenStripeGivesOne) {
  std::string body = intent("requires_action");
  body.insert(body.size() - 1,
              R"(,"next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/3d/x"}})");
  ChargeResult r = stripe::charge_from(answer(200, body));
  EXPECT_EQ(r.outcome, Outcome::kRequiresAction);
  EXPECT_EQ(r.action_url, "https://hooks.stripe.com/3d/x");
}

TEST(StripeCharge, OffSessionAuthenticationRequiredWaitsOnTheDeclinedIntent) {
  ChargeResult r = stripe::charge_from(answer(
      402, R"({"error":{"type":"card_error","code":"authentication_required","decline_code":"authentication_required",)"
           R"("message":"This payment requires authentication.","payment_intent":{"id":"pi_3ds","status":"requires_payment_method"}}})"));
  EXPECT_EQ(r.outcome, Outcome::kRequiresAction);
  EXPECT_EQ(r.charge_id, "pi_3ds");
  // Fetched later, the same PaymentIntent still waits (its last error says why).
  ChargeResult fetched = stripe::charge_from(
      answer(200, intent("requires_payment_method", R"({"type":"card_error","code":"authentication_required"})")));
  EXPECT_EQ(fetched.outcome, Outcome::kRequiresAction);
}

TEST(StripeCancel, OnlyTheCanceledPaymentIntentItselfIsBelieved) {
  ChargeResult canceled = stripe::cancel_from(answer(200, intent("canceled")));
  EXPECT_EQ(canceled.outcome, Outcome::kFailed);
  EXPECT_EQ(canceled.charge_id, "pi_123");
  EXPECT_EQ(stripe::cancel_from(answer(200, intent("succeeded"))).outcome, Outcome::kSucceeded);
  // Refused because it succeeded meanwhile: the error names the PaymentIntent, but says
  // nothing certain of it, so it is unknown (the adapter then fetches it).
  ChargeResult refused = stripe::cancel_from(answer(
      400, R"({"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state",)"
           R"("message":"You cannot cancel this PaymentIntent because it has a status of succeeded.",)"
           R"("payment_intent":{"id":"pi_123","status":"succeeded"}}})"));
  EXPECT_EQ(refused.outcome, Outcome::kUnknown);
  EXPECT_EQ(stripe::cancel_from(no_answer("timeout")).outcome, Outcome::kUnknown);
}

TEST(StripeSetup, ASetupIntentReadsAsAVerification) {
  auto setup = [](std::string_view status, std::string_view last_error = "null") {
    return R"({"id":"seti_1","object":"setup_intent","status":")" + std::string(status) +
           R"(","last_setup_error":)" + std::string(last_error) + "}";
  };
  EXPECT_EQ(stripe::setup_from(answer(200, setup("succeeded"))).outcome, Outcome::kSucceeded);
  EXPECT_EQ(stripe::setup_from(answer(200, setup("requires_action"))).outcome, Outcome::kRequiresAction);
  EXPECT_EQ(stripe::setup_from(answer(200, setup("processing"))).outcome, Outcome::kUnknown);
  ChargeResult refused = stripe::setup_from(answer(
      200, setup("requires_payment_method",
                 R"({"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"No."})")));
  EXPECT_EQ(refused.outcome, Outcome::kFailed);
  EXPECT_EQ(refused.charge_id, "seti_1");
  EXPECT_EQ(refused.decline_code, "insufficient_funds");
  ChargeResult card_error = stripe::setup_from(answer(402, std::string(kDecline)));
  EXPECT_EQ(card_error.outcome, Outcome::kFailed);
  EXPECT_EQ(card_error.failure_code, "insufficient_funds");
  EXPECT_EQ(stripe::setup_from(answer(500, R"({"error":{"type":"api_error"}})")).outcome, Outcome::kUnknown);
}

TEST(StripeCharge, RequiresPaymentMethodFailsWithTheLastPaymentErrorCode) {
  ChargeResult r = stripe::charge_from(answer(
      200, intent("requires_payment_method",
                  R"({"type":"card_error","code":"card_declined","decline_code":"do_not_honor","message":"Declined."})")));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "do_not_honor");
  EXPECT_EQ(r.failure_message, "Declined.");
}

TEST(StripeCharge, RequiresPaymentMethodWithoutAnErrorFailsWithTheStatus) {
  ChargeResult r = stripe::charge_from(answer(200, intent("requires_payment_method")));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "requires_payment_method");
}

TEST(StripeCharge, ProcessingIsUnknownWithTheIntentIdToAskAgain) {
  ChargeResult r = stripe::charge_from(answer(200, intent("processing")));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.charge_id, "pi_123");
}

TEST(StripeCharge, ServerErrorsAndThrottlingAreUnknown) {
  for (long status : {500L, 502L, 503L, 429L}) {
    ChargeResult r = stripe::charge_from(answer(status, R"({"error":{"type":"api_error","message":"boom"}})"));
    EXPECT_EQ(r.outcome, Outcome::kUnknown) << status;
    EXPECT_EQ(r.failure_code, "gateway_error") << status;
  }
}

TEST(StripeCharge, NoAnswerInTimeIsUnknownTimeout) {
  ChargeResult r = stripe::charge_from(no_answer("timeout"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "timeout");
}

TEST(StripeCharge, TransportFailureIsUnknownGatewayError) {
  ChargeResult r = stripe::charge_from(no_answer("transport_error"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "gateway_error");
}

TEST(StripeCharge, BodyThatIsNotJsonIsUnknownWhateverTheStatus) {
  for (long status : {200L, 402L}) {
    ChargeResult r = stripe::charge_from(answer(status, "<html>upstream</html>"));
    EXPECT_EQ(r.outcome, Outcome::kUnknown) << status;
    EXPECT_EQ(r.failure_code, "gateway_error") << status;
  }
}

TEST(StripeCharge, SuccessWithoutAnIdIsUnknown) {
  EXPECT_EQ(stripe::charge_from(answer(200, R"({"status":"succeeded"})")).outcome, Outcome::kUnknown);
}

TEST(StripeCharge, InvalidRequestFailsWithStripesCode) {
  ChargeResult r = stripe::charge_from(answer(
      400, R"({"error":{"type":"invalid_request_error","code":"parameter_missing","message":"Missing amount"}})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "parameter_missing");
}

TEST(StripeCharge, IdempotencyKeyReusedWithOtherParametersFails) {
  ChargeResult r =
      stripe::charge_from(answer(400, R"({"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "idempotency_error");
}

TEST(StripeCharge, SameKeyStillInFlightIsUnknown) {
  ChargeResult r = stripe::charge_from(
      answer(409, R"({"error":{"type":"invalid_request_error","code":"idempotency_key_in_use","message":"in use"}})"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.failure_code, "idempotency_key_in_use");
}

TEST(StripeCharge, RefusedSecretKeyLeavesTheChargeUnknownNotTheCustomerDeclined) {
  for (long status : {401L, 403L}) {
    ChargeResult r = stripe::charge_from(
        answer(status, R"({"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}})"));
    EXPECT_EQ(r.outcome, Outcome::kUnknown) << status;
    EXPECT_EQ(stripe::refund_from(answer(status, "{}")).outcome, Outcome::kUnknown) << status;
  }
}

TEST(StripeCharge, MissingPaymentIntentFailsAsResourceMissing) {
  ChargeResult r = stripe::charge_from(answer(
      404, R"({"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent"}})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "resource_missing");
}

// --- refunds -------------------------------------------------------------------------

TEST(StripeRefund, SucceededRefundSucceedsWithItsId) {
  RefundResult r = stripe::refund_from(answer(200, R"({"id":"re_1","object":"refund","status":"succeeded"})"));
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  EXPECT_EQ(r.refund_id, "re_1");
}

TEST(StripeRefund, PendingRefundIsUnknown) {
  RefundResult r = stripe::refund_from(answer(200, R"({"id":"re_1","status":"pending"})"));
  EXPECT_EQ(r.outcome, Outcome::kUnknown);
  EXPECT_EQ(r.refund_id, "re_1");
}

TEST(StripeRefund, FailedRefundFailsWithItsReason) {
  RefundResult r = stripe::refund_from(answer(200, R"({"id":"re_1","status":"failed","failure_reason":"expired_or_canceled_card"})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "expired_or_canceled_card");
}

TEST(StripeRefund, RefusedRefundFailsWithStripesCode) {
  RefundResult r = stripe::refund_from(answer(
      400, R"({"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"already"}})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "charge_already_refunded");
}

TEST(StripeRefund, ServerErrorOrNoAnswerIsUnknown) {
  EXPECT_EQ(stripe::refund_from(answer(500, "{}")).outcome, Outcome::kUnknown);
  EXPECT_EQ(stripe::refund_from(no_answer("timeout")).failure_code, "timeout");
}

// --- customers and payment methods ---------------------------------------------------

TEST(StripeCustomer, AnswerGivesTheCustomerId) {
  auto id = stripe::customer_from(answer(200, R"({"id":"cus_9","object":"customer"})"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "cus_9");
}

TEST(StripeCustomer, RefusalIsInvalidButBadCredentialsAndOutagesAreUnavailable) {
  auto refused = stripe::customer_from(answer(400, R"({"error":{"type":"invalid_request_error","message":"Invalid email"}})"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(refused.error().code, "customer_refused");
  auto bad_key = stripe::customer_from(answer(401, R"({"error":{"type":"invalid_request_error","message":"Invalid API Key"}})"));
  ASSERT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.error().kind, ErrorKind::kUnavailable);
  auto down = stripe::customer_from(answer(503, "Service Unavailable"));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().kind, ErrorKind::kUnavailable);
}

TEST(StripePaymentMethod, AttachedCardGivesBrandLast4AndExpiry) {
  auto pm = stripe::payment_method_from(answer(
      200, R"({"id":"pm_1","type":"card","card":{"brand":"mastercard","last4":"4444","exp_month":12,"exp_year":2031}})"));
  ASSERT_TRUE(pm.ok());
  EXPECT_EQ(pm->token, "pm_1");
  EXPECT_EQ(pm->brand, "mastercard");
  EXPECT_EQ(pm->last4, "4444");
  EXPECT_EQ(pm->exp_month, 12);
  EXPECT_EQ(pm->exp_year, 2031);
}

TEST(StripePaymentMethod, CardErrorOrUnknownTokenIsPaymentMethodRefused) {
  for (auto [status, body] : {std::pair{402L, std::string(kDecline)},
                              std::pair{400L, std::string(R"({"error":{"type":"card_error","code":"incorrect_cvc"}})")},
                              std::pair{404L, std::string(R"({"error":{"type":"invalid_request_error","code":"resource_missing"}})")}}) {
    auto pm = stripe::payment_method_from(answer(status, body));
    ASSERT_FALSE(pm.ok()) << status;
    EXPECT_EQ(pm.error().kind, ErrorKind::kInvalid) << status;
    EXPECT_EQ(pm.error().code, "payment_method_refused") << status;
  }
}

TEST(StripePaymentMethod, NonCardPaymentMethodIsRefused) {
  auto pm = stripe::payment_method_from(answer(200, R"({"id":"pm_1","type":"sepa_debit","card":null})"));
  ASSERT_FALSE(pm.ok());
  EXPECT_EQ(pm.error().code, "payment_method_refused");
}

// --- the requests ----------------------------------------------------------------------

StripeConfig config() {
  StripeConfig c;
  c.api_base = "https://stripe.test";
  c.secret_key = "sk_test_abc";
  c.webhook_secret = "whsec_test";
  return c;
}

ChargeRequest invoice_charge() {
  ChargeRequest req;
  req.gateway_customer = "cus_9";
  req.payment_method = "pm_card_visa";
  req.amount = Money{1999, "USD"};
  req.description = "Invoice in_1";
  req.idempotency_key = "in_1:1";
  req.metadata = {{"invoice", "in_1"}, {"subscription", "sub_1"}};
  return req;
}

TEST(StripeRequests, ChargeIsAConfirmedOffSessionPaymentIntentWithTheCallersKey) {
  Recorder rec;
  rec.body = intent("succeeded");
  StripeGateway gw(config(), rec.transport());
  EXPECT_EQ(gw.charge(invoice_charge()).outcome, Outcome::kSucceeded);
  ASSERT_EQ(rec.requests.size(), 1u);
  const auto& r = rec.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://stripe.test/v1/payment_intents");
  EXPECT_EQ(r.body,
            "amount=1999&currency=usd&customer=cus_9&payment_method=pm_card_visa&off_session=true&confirm=true"
            "&description=Invoice%20in_1&metadata%5Binvoice%5D=in_1&metadata%5Bsubscription%5D=sub_1");
  EXPECT_EQ(rec.header(0, "Authorization"), "Bearer sk_test_abc");
  EXPECT_EQ(rec.header(0, "Stripe-Version"), "2020-08-27");
  EXPECT_EQ(rec.header(0, "Idempotency-Key"), "in_1:1");
  EXPECT_EQ(rec.header(0, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(r.timeout, std::chrono::milliseconds(15000));
}

TEST(StripeRequests, CustomerCarriesRecursIdAsMetadata) {
  Recorder rec;
  rec.body = R"({"id":"cus_9"})";
  StripeGateway gw(config(), rec.transport());
  ASSERT_TRUE(gw.create_customer({"cus_recur_1", "ann@example.com", "Ann Lee", "key-1"}).ok());
  EXPECT_EQ(rec.requests[0].url, "https://stripe.test/v1/customers");
  EXPECT_EQ(rec.requests[0].body, "email=ann%40example.com&name=Ann%20Lee&metadata%5Brecur_customer%5D=cus_recur_1");
  EXPECT_EQ(rec.header(0, "Idempotency-Key"), "key-1");
}

TEST(StripeRequests, AttachUsesASubKeySoOneUseCaseMayShareItsKey) {
  Recorder rec;
  rec.body = R"({"id":"pm_card_visa","card":{"brand":"visa","last4":"4242","exp_month":1,"exp_year":2030}})";
  StripeGateway gw(config(), rec.transport());
  ASSERT_TRUE(gw.attach_payment_method("cus_9", "pm_card_visa", "key-1").ok());
  EXPECT_EQ(rec.requests[0].url, "https://stripe.test/v1/payment_methods/pm_card_visa/attach");
  EXPECT_EQ(rec.requests[0].body, "customer=cus_9");
  EXPECT_EQ(rec.header(0, "Idempotency-Key"), "key-1:attach");
}

TEST(StripeRequests, RefundNamesThePaymentIntentAndLeavesOutAnEmptyReason) {
  Recorder rec;
  rec.body = R"({"id":"re_1","status":"succeeded"})";
  StripeGateway gw(config(), rec.transport());
  EXPECT_EQ(gw.refund({"pi_123", Money{500, "usd"}, "", "refund-1"}).outcome, Outcome::kSucceeded);
  EXPECT_EQ(gw.refund({"pi_123", Money{500, "usd"}, "duplicate", "refund-2"}).outcome, Outcome::kSucceeded);
  EXPECT_EQ(rec.requests[0].body, "payment_intent=pi_123&amount=500");
  EXPECT_EQ(rec.requests[1].body, "payment_intent=pi_123&amount=500&reason=duplicate");
  EXPECT_EQ(rec.header(1, "Idempotency-Key"), "refund-2");
}

TEST(StripeRequests, FetchChargeIsAGetOfThePaymentIntent) {
  Recorder rec;
  rec.body = intent("succeeded");
  StripeGateway gw(config(), rec.transport());
  EXPECT_EQ(gw.fetch_charge("pi_123").outcome, Outcome::kSucceeded);
  EXPECT_EQ(rec.requests[0].method, "GET");
  EXPECT_EQ(rec.requests[0].url, "https://stripe.test/v1/payment_intents/pi_123");
  EXPECT_EQ(rec.requests[0].body, "");
  EXPECT_EQ(rec.header(0, "Idempotency-Key"), "<absent>");
}

TEST(StripeRequests, MoneyCallWithoutAnIdempotencyKeyIsRefusedBeforeAnyRequest) {
  Recorder rec;
  StripeGateway gw(config(), rec.transport());
  ChargeRequest req = invoice_charge();
  req.idempotency_key.clear();
  EXPECT_EQ(gw.charge(req).failure_code, "idempotency_key_missing");
  EXPECT_EQ(gw.refund({"pi_1", Money{1, "usd"}, "", ""}).outcome, Outcome::kFailed);
  EXPECT_TRUE(rec.requests.empty());
}

// --- webhooks ------------------------------------------------------------------------

constexpr Timestamp kNow = 1'700'000'000;
const std::string kEvent =
    R"({"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_123","object":"payment_intent"}}})";

Result<WebhookEvent> deliver(const std::string& signature, const std::string& body, Timestamp now = kNow) {
  StripeGateway gw(config(), no_network());
  return gw.verify_webhook({{"stripe-signature", signature}}, body, now);
}

TEST(StripeWebhook, GoodSignatureGivesTheEventAndItsObject) {
  auto event = deliver(sign_timestamped("whsec_test", kNow - 10, kEvent), kEvent);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->id, "evt_1");
  EXPECT_EQ(event->type, "payment_intent.succeeded");
  EXPECT_EQ(event->data["id"], "pi_123");
}

TEST(StripeWebhook, SignatureWithAnotherSecretIsRefused) {
  auto event = deliver(sign_timestamped("whsec_other", kNow, kEvent), kEvent);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().kind, ErrorKind::kUnauthorized);
}

TEST(StripeWebhook, TimestampOutsideFiveMinutesIsRefusedEvenWhenSigned) {
  EXPECT_FALSE(deliver(sign_timestamped("whsec_test", kNow - 301, kEvent), kEvent).ok());
  EXPECT_FALSE(deliver(sign_timestamped("whsec_test", kNow + 301, kEvent), kEvent).ok());
  EXPECT_TRUE(deliver(sign_timestamped("whsec_test", kNow - 300, kEvent), kEvent).ok());
}

TEST(StripeWebhook, TamperedBodyIsRefused) {
  std::string tampered = kEvent;
  tampered.replace(tampered.find("pi_123"), 6, "pi_999");
  auto event = deliver(sign_timestamped("whsec_test", kNow, kEvent), tampered);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().kind, ErrorKind::kUnauthorized);
}

TEST(StripeWebhook, OneMatchingV1AmongSeveralIsEnough) {
  // Stripe sends one v1 per active secret while a secret is being rolled.
  std::string good = sign_timestamped("whsec_test", kNow, kEvent);
  std::string v1 = good.substr(good.find("v1="));
  std::string header = "t=" + std::to_string(kNow) + ",v1=" + std::string(64, 'a') + "," + v1 + ",v0=deadbeef";
  EXPECT_TRUE(deliver(header, kEvent).ok());
  EXPECT_FALSE(deliver("t=" + std::to_string(kNow) + ",v1=" + std::string(64, 'a') + ",v1=" + std::string(64, 'b'), kEvent).ok());
}

TEST(StripeWebhook, MissingHeaderOrSecretIsRefused) {
  StripeGateway gw(config(), no_network());
  EXPECT_EQ(gw.verify_webhook({}, kEvent, kNow).error().kind, ErrorKind::kUnauthorized);
  StripeConfig no_secret = config();
  no_secret.webhook_secret.clear();
  StripeGateway unsigned_gw(no_secret, no_network());
  auto event = unsigned_gw.verify_webhook({{"stripe-signature", sign_timestamped("", kNow, kEvent)}}, kEvent, kNow);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().kind, ErrorKind::kUnauthorized);
}

TEST(StripeWebhook, SignedBodyThatIsNotAnEventIsABadRequest) {
  std::string body = R"({"hello":"world"})";
  auto event = deliver(sign_timestamped("whsec_test", kNow, body), body);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().kind, ErrorKind::kBadRequest);
}

// --- what events say about Recur's charges and refunds ---------------------------------

Json stripe_event(std::string_view type, Json object, std::string_view key = "") {
  Json e = {{"id", "evt_9"}, {"object", "event"}, {"type", type}, {"data", {{"object", std::move(object)}}}};
  e["request"] = key.empty() ? Json{{"id", nullptr}, {"idempotency_key", nullptr}}
                             : Json{{"id", "req_1"}, {"idempotency_key", key}};
  return e;
}

Json intent_object(std::string_view status) {
  return {{"id", "pi_9"},
          {"object", "payment_intent"},
          {"amount", 2999},
          {"currency", "usd"},
          {"created", 1'700'000'100},
          {"status", status},
          {"metadata", {{"invoice", "in_1"}, {"payment", "pay_1"}, {"subscription", "sub_1"}}},
          {"last_payment_error",
           status == "succeeded" ? Json(nullptr)
                                 : Json{{"type", "card_error"}, {"code", "card_declined"},
                                        {"decline_code", "insufficient_funds"}, {"message", "Insufficient funds."}}}};
}

TEST(StripeEventNotice, SucceededIntentIsASucceededChargeLinkedByMetadataAndKey) {
  auto e = stripe::event_from(stripe_event("payment_intent.succeeded", intent_object("succeeded"), "in_1:1").dump());
  ASSERT_TRUE(e.ok()) << e.error().message;
  ASSERT_TRUE(e->charge.has_value());
  EXPECT_FALSE(e->refund.has_value());
  EXPECT_EQ(e->charge->result.outcome, Outcome::kSucceeded);
  EXPECT_EQ(e->charge->result.charge_id, "pi_9");
  EXPECT_EQ(e->charge->payment, "pay_1");
  EXPECT_EQ(e->charge->invoice, "in_1");
  EXPECT_EQ(e->charge->idempotency_key, "in_1:1");
  ASSERT_TRUE(e->charge->amount.has_value());
  EXPECT_EQ(e->charge->amount->amount, 2999);
  EXPECT_EQ(e->charge->amount->currency, "usd");
  EXPECT_EQ(e->charge->created, 1'700'000'100);
}

TEST(StripeEventNotice, PaymentFailedIsAFailedChargeWithTheDeclineCode) {
  auto e = stripe::event_from(stripe_event("payment_intent.payment_failed", intent_object("requires_payment_method")).dump());
  ASSERT_TRUE(e.ok() && e->charge.has_value());
  EXPECT_EQ(e->charge->result.outcome, Outcome::kFailed);
  EXPECT_EQ(e->charge->result.failure_code, "insufficient_funds");
  EXPECT_EQ(e->charge->idempotency_key, "");
}

TEST(StripeEventNotice, ARefundUpdateCarriesTheRefundTheIntentAndRecursKey) {
  Json refund = {{"id", "re_9"}, {"object", "refund"}, {"amount", 500}, {"currency", "usd"},
                 {"payment_intent", "pi_9"}, {"charge", "ch_9"}, {"status", "succeeded"}};
  auto e = stripe::event_from(stripe_event("refund.updated", refund, "refund:re_recur").dump());
  ASSERT_TRUE(e.ok() && e->refund.has_value());
  EXPECT_EQ(e->refund->result.outcome, Outcome::kSucceeded);
  EXPECT_EQ(e->refund->result.refund_id, "re_9");
  EXPECT_EQ(e->refund->charge_id, "pi_9");
  EXPECT_EQ(e->refund->idempotency_key, "refund:re_recur");
  EXPECT_EQ(e->refund->amount->amount, 500);
  // charge.refunded carries the Charge: the newest of its refunds is the one.
  Json charge = {{"id", "ch_9"}, {"object", "charge"}, {"payment_intent", "pi_9"},
                 {"refunds", {{"data", Json::array({refund, {{"id", "re_old"}, {"status", "succeeded"}}})}}}};
  auto refunded = stripe::event_from(stripe_event("charge.refunded", charge).dump());
  ASSERT_TRUE(refunded.ok() && refunded->refund.has_value());
  EXPECT_EQ(refunded->refund->result.refund_id, "re_9");
  EXPECT_EQ(refunded->refund->charge_id, "pi_9");
}

TEST(StripeEventNotice, AFailedRefundFailsAndAPendingOneSettlesNothing) {
  Json refund = {{"id", "re_9"}, {"amount", 500}, {"currency", "usd"}, {"payment_intent", "pi_9"}, {"status", "failed"},
                 {"failure_reason", "expired_or_canceled_card"}};
  auto failed = stripe::event_from(stripe_event("refund.updated", refund).dump());
  EXPECT_EQ(failed->refund->result.outcome, Outcome::kFailed);
  EXPECT_EQ(failed->refund->result.failure_code, "expired_or_canceled_card");
  refund["status"] = "pending";
  EXPECT_EQ(stripe::event_from(stripe_event("refund.updated", refund).dump())->refund->result.outcome, Outcome::kUnknown);
}

TEST(StripeEventNotice, ADisputeNamesTheIntentAndOtherEventsSayNothing) {
  Json dispute = {{"id", "dp_1"}, {"object", "dispute"}, {"amount", 2999}, {"currency", "usd"}, {"charge", "ch_9"},
                  {"payment_intent", "pi_9"}, {"reason", "fraudulent"}, {"status", "needs_response"}};
  auto e = stripe::event_from(stripe_event("charge.dispute.created", dispute).dump());
  ASSERT_TRUE(e.ok() && e->dispute.has_value());
  EXPECT_EQ(e->dispute->dispute_id, "dp_1");
  EXPECT_EQ(e->dispute->charge_id, "pi_9");
  EXPECT_EQ(e->dispute->reason, "fraudulent");
  auto other = stripe::event_from(stripe_event("customer.created", {{"id", "cus_1"}}).dump());
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->charge || other->refund || other->dispute);
  EXPECT_EQ(e->dispute->outcome, "");  // opened
  // Closed: won and warning_closed (an inquiry without a chargeback) are won, lost is lost.
  for (auto [status, outcome] : {std::pair{"won", "won"}, {"warning_closed", "won"}, {"lost", "lost"},
                                 {"under_review", ""}}) {
    dispute["status"] = status;
    auto closed = stripe::event_from(stripe_event("charge.dispute.closed", dispute).dump());
    ASSERT_TRUE(closed.ok() && closed->dispute.has_value()) << status;
    EXPECT_EQ(closed->dispute->outcome, outcome) << status;
    EXPECT_EQ(closed->dispute->dispute_id, "dp_1");
    EXPECT_EQ(closed->dispute->amount->amount, 2999);
  }
  // An intent still processing is a charge notice that settles nothing.
  auto processing = stripe::event_from(stripe_event("payment_intent.succeeded", intent_object("processing")).dump());
  EXPECT_EQ(processing->charge->result.outcome, Outcome::kUnknown);
}

// --- decline codes ------------------------------------------------------------------

TEST(StripeDeclineCode, StripesCodesAreTheNormalisedNamesAndOtherErrorsAreNoDecline) {
  const std::pair<const char*, const char*> cases[] = {
      {"insufficient_funds", "insufficient_funds"}, {"stolen_card", "stolen_card"},
      {"lost_card", "lost_card"},                   {"pickup_card", "pickup_card"},
      {"fraudulent", "fraudulent"},                 {"do_not_honor", "do_not_honor"},
      {"expired_card", "expired_card"},             {"incorrect_cvc", "incorrect_cvc"},
      {"processing_error", "processing_error"},     {"try_again_later", "try_again_later"},
      {"card_declined", "generic_decline"},          // a card_error without decline_code
      {"requires_payment_method", "generic_decline"},  // an intent left without an error
      {"authentication_required", "authentication_required"},
      {"idempotency_key_reused", ""},               {"resource_missing", ""},
      {"invalid_request_error", ""},                {"http_402", ""},
  };
  for (const auto& [stripe_code, normalised] : cases)
    EXPECT_EQ(stripe_decline_code(stripe_code), normalised) << stripe_code;
}

TEST(StripeDeclineCode, RefusedChargesCarryTheirDeclineCodeAndUnknownOnesNone) {
  EXPECT_EQ(stripe::charge_from(answer(402, std::string(kDecline))).decline_code, "insufficient_funds");
  EXPECT_EQ(stripe::charge_from(answer(402, R"({"error":{"type":"card_error","code":"card_declined"}})")).decline_code,
            "generic_decline");
  EXPECT_EQ(stripe::charge_from(answer(200, intent("requires_payment_method",
                                                   R"({"type":"card_error","code":"card_declined","decline_code":"stolen_card"})")))
                .decline_code,
            "stolen_card");
  EXPECT_EQ(stripe::charge_from(answer(400, R"({"error":{"type":"invalid_request_error","code":"resource_missing"}})"))
                .decline_code,
            "");
  EXPECT_EQ(stripe::charge_from(answer(200, intent("succeeded"))).decline_code, "");
  EXPECT_EQ(stripe::charge_from(answer(409, std::string(kDecline))).decline_code, "");  // unsettled
}

}  // namespace
}  // namespace recur::gateways
