// The Square adapter without Square: recorded answers mapped to outcomes, the requests it
// builds, and webhook signatures.
#include "gateways/square.h"

#include <gtest/gtest.h>

#include "testing/gateway_fakes.h"

namespace recur::gateways {
namespace {

using testing::answer;
using testing::no_answer;
using testing::no_network;
using Recorder = testing::RecordingTransport;

Json sent(const Recorder& rec, std::size_t i) { return Json::parse(rec.requests.at(i).body); }

std::string payment(std::string_view status, std::string_view card_errors = "null") {
  return R"({"payment":{"id":"pay_1","status":")" + std::string(status) +
         R"(","amount_money":{"amount":1999,"currency":"USD"},"card_details":{"status":"FAILED","errors":)" +
         std::string(card_errors) + "}}}";
}

constexpr std::string_view kDecline =
    R"({"errors":[{"category":"PAYMENT_METHOD_ERROR","code":"INSUFFICIENT_FUNDS","detail":"Authorization error: 'INSUFFICIENT_FUNDS'"}],)"
    R"("payment":{"id":"pay_declined","status":"FAILED"}})";

// --- charges -------------------------------------------------------------------------

TEST(SquareCharge, CompletedPaymentSucceedsWithThePaymentId) {
  ChargeResult r = square::charge_from(answer(200, payment("COMPLETED")));
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  EXPECT_EQ(r.charge_id, "pay_1");
}

TEST(SquareCharge, PaymentMethodErrorFailsWithTheLowerCasedCodeAndKeepsThePaymentId) {
  ChargeResult r = square::charge_from(answer(400, std::string(kDecline)));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "insufficient_funds");
  EXPECT_EQ(r.failure_message, "Authorization error: 'INSUFFICIENT_FUNDS'");
  EXPECT_EQ(r.charge_id, "pay_declined");
}

TEST(SquareCharge, FailedPaymentFailsWithItsCardError) {
  ChargeResult r = square::charge_from(
      answer(200, payment("FAILED", R"([{"category":"PAYMENT_METHOD_ERROR","code":"GENERIC_DECLINE"}])")));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "generic_decline");
  EXPECT_EQ(square::charge_from(answer(200, payment("CANCELED"))).failure_code, "canceled");
}

TEST(SquareCharge, ApprovedOrPendingPaymentIsUnknown) {
  for (auto status : {"APPROVED", "PENDING"}) {
    ChargeResult r = square::charge_from(answer(200, payment(status)));
    EXPECT_EQ(r.outcome, Outcome::kUnknown) << status;
    EXPECT_EQ(r.charge_id, "pay_1") << status;
  }
}

TEST(SquareCharge, ServerErrorsThrottlingTimeoutsAndGarbageAreUnknown) {
  EXPECT_EQ(square::charge_from(answer(500, R"({"errors":[{"category":"API_ERROR","code":"INTERNAL_SERVER_ERROR"}]})")).outcome,
            Outcome::kUnknown);
  EXPECT_EQ(square::charge_from(answer(429, R"({"errors":[{"category":"RATE_LIMIT_ERROR","code":"RATE_LIMITED"}]})")).outcome,
            Outcome::kUnknown);
  EXPECT_EQ(square::charge_from(no_answer("timeout")).failure_code, "timeout");
  EXPECT_EQ(square::charge_from(no_answer("transport_error")).failure_code, "gateway_error");
  EXPECT_EQ(square::charge_from(answer(200, "<html/>")).outcome, Outcome::kUnknown);
}

TEST(SquareCharge, InvalidRequestFailsWithSquaresCode) {
  ChargeResult r = square::charge_from(answer(
      400, R"({"errors":[{"category":"INVALID_REQUEST_ERROR","code":"IDEMPOTENCY_KEY_REUSED","detail":"reused"}]})"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_code, "idempotency_key_reused");
}

TEST(SquareCharge, RefusedAccessTokenLeavesThePaymentUnknownNotTheCustomerDeclined) {
  for (long status : {401L, 403L}) {
    std::string body = R"({"errors":[{"category":"AUTHENTICATION_ERROR","code":"UNAUTHORIZED"}]})";
    EXPECT_EQ(square::charge_from(answer(status, body)).outcome, Outcome::kUnknown) << status;
    EXPECT_EQ(square::refund_from(answer(status, body)).outcome, Outcome::kUnknown) << status;
  }
}

TEST(SquareCharge, SuccessWithoutAPaymentIsUnknown) {
  EXPECT_EQ(square::charge_from(answer(200, "{}")).outcome, Outcome::kUnknown);
}

// --- refunds, customers, cards ---------------------------------------------------------

TEST(SquareRefund, CompletedSucceedsPendingIsUnknownRejectedFails) {
  EXPECT_EQ(square::refund_from(answer(200, R"({"refund":{"id":"r1","status":"COMPLETED"}})")).outcome, Outcome::kSucceeded);
  RefundResult pending = square::refund_from(answer(200, R"({"refund":{"id":"r1","status":"PENDING"}})"));
  EXPECT_EQ(pending.outcome, Outcome::kUnknown);
  EXPECT_EQ(pending.refund_id, "r1");
  EXPECT_EQ(square::refund_from(answer(200, R"({"refund":{"id":"r1","status":"REJECTED"}})")).outcome, Outcome::kFailed);
  RefundResult refused = square::refund_from(
      answer(400, R"({"errors":[{"category":"REFUND_ERROR","code":"REFUND_AMOUNT_INVALID","detail":"too much"}]})"));
  EXPECT_EQ(refused.outcome, Outcome::kFailed);
  EXPECT_EQ(refused.failure_code, "refund_amount_invalid");
  EXPECT_EQ(square::refund_from(answer(503, "")).outcome, Outcome::kUnknown);
}

TEST(SquareCustomer, AnswerGivesTheCustomerIdAndRefusalsAreInvalid) {
  auto id = square::customer_from(answer(200, R"({"customer":{"id":"SQ_C1"}})"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "SQ_C1");
  auto refused = square::customer_from(
      answer(400, R"({"errors":[{"category":"INVALID_REQUEST_ERROR","code":"INVALID_EMAIL_ADDRESS"}]})"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalid);
  auto bad_token = square::customer_from(
      answer(401, R"({"errors":[{"category":"AUTHENTICATION_ERROR","code":"UNAUTHORIZED"}]})"));
  ASSERT_FALSE(bad_token.ok());
  EXPECT_EQ(bad_token.error().kind, ErrorKind::kUnavailable);
}

TEST(SquareCard, CardOnFileGivesItsIdBrandLast4AndExpiry) {
  auto card = square::card_from(answer(
      200, R"({"card":{"id":"ccof:abc","card_brand":"AMERICAN_EXPRESS","last_4":"8431","exp_month":3,"exp_year":2030}})"));
  ASSERT_TRUE(card.ok());
  EXPECT_EQ(card->token, "ccof:abc");
  EXPECT_EQ(card->brand, "amex");
  EXPECT_EQ(card->last4, "8431");
  EXPECT_EQ(card->exp_month, 3);
  EXPECT_EQ(card->exp_year, 2030);
}

TEST(SquareCard, RefusedNonceIsPaymentMethodRefused) {
  auto card = square::card_from(
      answer(400, R"({"errors":[{"category":"PAYMENT_METHOD_ERROR","code":"INVALID_CARD_DATA","detail":"bad card"}]})"));
  ASSERT_FALSE(card.ok());
  EXPECT_EQ(card.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(card.error().code, "payment_method_refused");
}

// --- the requests ----------------------------------------------------------------------

SquareConfig config() {
  SquareConfig c;
  c.api_base = "https://square.test";
  c.access_token = "EAAA_token";
  c.location_id = "L1";
  c.webhook_signature_key = "sig_key";
  c.webhook_url = "https://recur.example.com/webhooks/square";
  return c;
}

ChargeRequest invoice_charge() {
  ChargeRequest req;
  req.gateway_customer = "SQ_C1";
  req.payment_method = "ccof:abc";
  req.amount = Money{1999, "usd"};
  req.description = "Invoice in_1";
  req.idempotency_key = "in_1:1";
  req.metadata = {{"invoice", "in_1"}};
  return req;
}

TEST(SquareRequests, PaymentChargesTheCardOnFileWithTheKeyInTheBody) {
  Recorder rec;
  rec.body = payment("COMPLETED");
  SquareGateway gw(config(), rec.transport());
  EXPECT_EQ(gw.charge(invoice_charge()).outcome, Outcome::kSucceeded);
  const auto& r = rec.requests.at(0);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://square.test/v2/payments");
  EXPECT_EQ(rec.header(0, "Authorization"), "Bearer EAAA_token");
  EXPECT_EQ(rec.header(0, "Square-Version"), "2025-08-20");
  EXPECT_EQ(rec.header(0, "Content-Type"), "application/json");
  EXPECT_EQ(sent(rec, 0), Json::parse(R"({"source_id":"ccof:abc","idempotency_key":"in_1:1",
      "amount_money":{"amount":1999,"currency":"USD"},"autocomplete":true,"customer_id":"SQ_C1",
      "location_id":"L1","note":"Invoice in_1","reference_id":"in_1"})"));
}

TEST(SquareRequests, KeyLongerThanSquareAllowsIsHashedTheSameWayEachTime) {
  std::string key(80, 'k');
  std::string sent = square::idempotency_key(key);
  EXPECT_EQ(sent.size(), 45u);
  EXPECT_EQ(sent, square::idempotency_key(key));
  EXPECT_NE(sent, square::idempotency_key(key + "x"));
  EXPECT_EQ(square::idempotency_key("in_1:1"), "in_1:1");
}

TEST(SquareRequests, CustomerCarriesRecursIdAsReference) {
  Recorder rec;
  rec.body = R"({"customer":{"id":"SQ_C1"}})";
  SquareGateway gw(config(), rec.transport());
  ASSERT_TRUE(gw.create_customer({"cus_recur_1", "ann@example.com", "Ann Lee", "key-1"}).ok());
  EXPECT_EQ(rec.requests[0].url, "https://square.test/v2/customers");
  EXPECT_EQ(sent(rec, 0), Json::parse(R"({"idempotency_key":"key-1","reference_id":"cus_recur_1",
      "email_address":"ann@example.com","given_name":"Ann Lee"})"));
}

TEST(SquareRequests, AttachStoresTheNonceAsACardOnFileUnderASubKey) {
  Recorder rec;
  rec.body = R"({"card":{"id":"ccof:abc","card_brand":"VISA","last_4":"1111","exp_month":11,"exp_year":2030}})";
  SquareGateway gw(config(), rec.transport());
  auto card = gw.attach_payment_method("SQ_C1", "cnon:card-nonce-ok", "key-1");
  ASSERT_TRUE(card.ok());
  EXPECT_EQ(card->token, "ccof:abc");
  EXPECT_EQ(rec.requests[0].url, "https://square.test/v2/cards");
  EXPECT_EQ(sent(rec, 0), Json::parse(R"({"idempotency_key":"key-1:attach","source_id":"cnon:card-nonce-ok",
      "card":{"customer_id":"SQ_C1"}})"));
}

TEST(SquareRequests, RefundAndFetchNameThePayment) {
  Recorder rec;
  rec.body = R"({"refund":{"id":"r1","status":"COMPLETED"}})";
  SquareGateway gw(config(), rec.transport());
  EXPECT_EQ(gw.refund({"pay_1", Money{500, "usd"}, "requested_by_customer", "refund-1"}).outcome, Outcome::kSucceeded);
  EXPECT_EQ(sent(rec, 0), Json::parse(R"({"idempotency_key":"refund-1","amount_money":{"amount":500,"currency":"USD"},
      "payment_id":"pay_1","reason":"requested_by_customer"})"));
  rec.body = payment("COMPLETED");
  EXPECT_EQ(gw.fetch_charge("pay_1").outcome, Outcome::kSucceeded);
  EXPECT_EQ(rec.requests[1].method, "GET");
  EXPECT_EQ(rec.requests[1].url, "https://square.test/v2/payments/pay_1");
  EXPECT_EQ(rec.requests[1].body, "");
}

// --- webhooks ------------------------------------------------------------------------

const std::string kEvent =
    R"({"merchant_id":"M1","type":"payment.updated","event_id":"evt-1","created_at":"2025-01-01T00:00:00Z",)"
    R"("data":{"type":"payment","id":"pay_1","object":{"payment":{"id":"pay_1","status":"COMPLETED"}}}})";

Result<WebhookEvent> deliver(const std::string& signature, const std::string& body, SquareConfig c = config()) {
  SquareGateway gw(c, no_network());
  return gw.verify_webhook({{"x-square-hmacsha256-signature", signature}}, body, 0);
}

std::string signed_by(std::string_view key, std::string_view url = "https://recur.example.com/webhooks/square") {
  return square::webhook_signature(key, url, kEvent);
}

TEST(SquareWebhook, SignatureIsBase64OfHmacOverUrlAndBody) {
  // Worked by hand: printf 'https://x.test/hook{}' | openssl dgst -sha256 -hmac key -binary | base64
  EXPECT_EQ(square::webhook_signature("key", "https://x.test/hook", "{}"), "fVmW2VbucuwczsuwyOfDOKTpjRYlCTEPNkvq/MUOESA=");
}

TEST(SquareWebhook, GoodSignatureGivesTheEventAndItsObject) {
  auto event = deliver(signed_by("sig_key"), kEvent);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->id, "evt-1");
  EXPECT_EQ(event->type, "payment.updated");
  EXPECT_EQ(event->data["payment"]["id"], "pay_1");
}

TEST(SquareWebhook, WrongKeyOtherUrlOrTamperedBodyIsRefused) {
  EXPECT_EQ(deliver(signed_by("other_key"), kEvent).error().kind, ErrorKind::kUnauthorized);
  EXPECT_EQ(deliver(signed_by("sig_key", "https://evil.example.com/hook"), kEvent).error().kind, ErrorKind::kUnauthorized);
  std::string tampered = kEvent;
  tampered.replace(tampered.find("COMPLETED"), 9, "FAILED---");
  EXPECT_EQ(deliver(signed_by("sig_key"), tampered).error().kind, ErrorKind::kUnauthorized);
}

TEST(SquareWebhook, MissingHeaderOrKeyIsRefused) {
  SquareGateway gw(config(), no_network());
  EXPECT_EQ(gw.verify_webhook({}, kEvent, 0).error().kind, ErrorKind::kUnauthorized);
  SquareConfig no_key = config();
  no_key.webhook_signature_key.clear();
  EXPECT_EQ(deliver(signed_by(""), kEvent, no_key).error().kind, ErrorKind::kUnauthorized);
}

TEST(SquareWebhook, SignedBodyThatIsNotAnEventIsABadRequest) {
  std::string body = R"({"hello":"world"})";
  auto event = deliver(square::webhook_signature("sig_key", config().webhook_url, body), body);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().kind, ErrorKind::kBadRequest);
}

// --- what notifications say about Recur's charges and refunds --------------------------

std::string notification(std::string_view type, std::string_view key, Json object) {
  return Json{{"merchant_id", "M1"}, {"type", type}, {"event_id", "evt-9"}, {"created_at", "2025-01-01T00:00:00Z"},
              {"data", {{"type", key}, {"id", "x"}, {"object", {{key, std::move(object)}}}}}}
      .dump();
}

Json square_payment(std::string_view status) {
  Json p = {{"id", "sq_pay_9"},
            {"status", status},
            {"reference_id", "in_1"},
            {"created_at", "2025-01-01T00:00:05.123Z"},
            {"amount_money", {{"amount", 2999}, {"currency", "USD"}}}};
  if (status == "FAILED") p["card_details"] = {{"errors", Json::array({{{"code", "CVV_FAILURE"}}})}};
  return p;
}

TEST(SquareEventNotice, PaymentUpdatedMapsCompletedFailedCanceledAndPending) {
  auto done = square::event_from(notification("payment.updated", "payment", square_payment("COMPLETED")));
  ASSERT_TRUE(done.ok() && done->charge.has_value()) << (done.ok() ? "" : done.error().message);
  EXPECT_EQ(done->charge->result.outcome, Outcome::kSucceeded);
  EXPECT_EQ(done->charge->result.charge_id, "sq_pay_9");
  EXPECT_EQ(done->charge->invoice, "in_1");  // Square has no metadata: the reference is the invoice
  EXPECT_EQ(done->charge->payment, "");
  EXPECT_EQ(done->charge->amount->amount, 2999);
  EXPECT_EQ(done->charge->amount->currency, "usd");
  EXPECT_EQ(done->charge->created, parse_rfc3339("2025-01-01T00:00:05Z"));
  auto failed = square::event_from(notification("payment.updated", "payment", square_payment("FAILED")));
  EXPECT_EQ(failed->charge->result.outcome, Outcome::kFailed);
  EXPECT_EQ(failed->charge->result.failure_code, "cvv_failure");
  auto canceled = square::event_from(notification("payment.updated", "payment", square_payment("CANCELED")));
  EXPECT_EQ(canceled->charge->result.outcome, Outcome::kFailed);
  auto approved = square::event_from(notification("payment.updated", "payment", square_payment("APPROVED")));
  EXPECT_EQ(approved->charge->result.outcome, Outcome::kUnknown);
}

TEST(SquareEventNotice, RefundUpdatedAndDisputesAreReadOtherTypesAreNot) {
  Json refund = {{"id", "sq_re_1"}, {"status", "COMPLETED"}, {"payment_id", "sq_pay_9"},
                 {"amount_money", {{"amount", 500}, {"currency", "USD"}}}};
  auto e = square::event_from(notification("refund.updated", "refund", refund));
  ASSERT_TRUE(e.ok() && e->refund.has_value());
  EXPECT_EQ(e->refund->result.outcome, Outcome::kSucceeded);
  EXPECT_EQ(e->refund->charge_id, "sq_pay_9");
  EXPECT_EQ(e->refund->amount->amount, 500);
  refund["status"] = "REJECTED";
  EXPECT_EQ(square::event_from(notification("refund.updated", "refund", refund))->refund->result.outcome,
            Outcome::kFailed);
  Json dispute = {{"dispute_id", "dp_sq"}, {"reason", "NOT_AS_DESCRIBED"}, {"disputed_payment", {{"payment_id", "sq_pay_9"}}},
                  {"amount_money", {{"amount", 2999}, {"currency", "USD"}}}};
  auto d = square::event_from(notification("dispute.created", "dispute", dispute));
  ASSERT_TRUE(d.ok() && d->dispute.has_value());
  EXPECT_EQ(d->dispute->dispute_id, "dp_sq");
  EXPECT_EQ(d->dispute->charge_id, "sq_pay_9");
  EXPECT_EQ(d->dispute->reason, "not_as_described");
  EXPECT_EQ(d->dispute->outcome, "");
  for (auto [state, outcome] : {std::pair{"WON", "won"}, {"INQUIRY_CLOSED", "won"}, {"LOST", "lost"},
                                {"ACCEPTED", "lost"}, {"PROCESSING", ""}}) {
    dispute["state"] = state;
    for (const char* type : {"dispute.state.updated", "dispute.state.changed"}) {
      auto u = square::event_from(notification(type, "dispute", dispute));
      ASSERT_TRUE(u.ok() && u->dispute.has_value()) << type;
      EXPECT_EQ(u->dispute->outcome, outcome) << state;
      EXPECT_EQ(u->dispute->charge_id, "sq_pay_9");
    }
  }
  auto other = square::event_from(notification("customer.created", "customer", {{"id", "C1"}}));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->charge || other->refund || other->dispute);
}

// --- decline codes ------------------------------------------------------------------

TEST(SquareDeclineCode, SquaresErrorCodesInStripesNames) {
  const std::pair<const char*, const char*> cases[] = {
      {"generic_decline", "generic_decline"},       {"insufficient_funds", "insufficient_funds"},
      {"chip_insufficient_funds", "insufficient_funds"}, {"card_expired", "expired_card"},
      {"invalid_expiration", "invalid_expiry_year"}, {"cvv_failure", "incorrect_cvc"},
      {"address_verification_failure", "incorrect_zip"}, {"invalid_account", "invalid_account"},
      {"invalid_card", "incorrect_number"},          {"card_not_supported", "card_not_supported"},
      {"card_declined_call_issuer", "call_issuer"},  {"card_declined_verification_required", "authentication_required"},
      {"transaction_limit", "card_velocity_exceeded"}, {"temporary_error", "processing_error"},
      {"allowable_pin_tries_exceeded", "pin_try_exceeded"},
      {"failed", "generic_decline"},                 {"canceled", "generic_decline"},
      {"idempotency_key_reused", ""},                {"not_found", ""},
      {"unauthorized", ""},                          {"http_400", ""},
  };
  for (const auto& [square_code, normalised] : cases)
    EXPECT_EQ(square_decline_code(square_code), normalised) << square_code;
}

TEST(SquareDeclineCode, RefusedPaymentsCarryTheirDeclineCode) {
  EXPECT_EQ(square::charge_from(answer(400, std::string(kDecline))).decline_code, "insufficient_funds");
  EXPECT_EQ(square::charge_from(
                answer(200, payment("FAILED", R"([{"category":"PAYMENT_METHOD_ERROR","code":"CARD_EXPIRED"}])")))
                .decline_code,
            "expired_card");
  EXPECT_EQ(square::charge_from(answer(200, payment("PENDING"))).decline_code, "");
  EXPECT_EQ(square::charge_from(answer(200, payment("COMPLETED"))).decline_code, "");
}

}  // namespace
}  // namespace recur::gateways
