// The Square adapter.
#include "gateways/square.h"

#include "platform/digest.h"

namespace recur::gateways {

std::string square_decline_code(std::string_view code) {
  // Square's payment error codes (https://developer.squareup.com/reference/square/enums/ErrorCode),
  // lower-cased by the adapter, in Stripe's decline-code names.
  static constexpr std::pair<std::string_view, std::string_view> kSquareDeclines[] = {
      {"generic_decline", "generic_decline"},
      {"insufficient_funds", "insufficient_funds"},
      {"chip_insufficient_funds", "insufficient_funds"},
      {"card_expired", "expired_card"},
      {"invalid_expiration", "invalid_expiry_year"},
      {"bad_expiration", "invalid_expiry_year"},
      {"expiration_failure", "invalid_expiry_year"},
      {"cvv_failure", "incorrect_cvc"},
      {"address_verification_failure", "incorrect_zip"},
      {"invalid_postal_code", "incorrect_zip"},
      {"invalid_account", "invalid_account"},
      {"invalid_card", "incorrect_number"},
      {"pan_failure", "incorrect_number"},
      {"card_not_supported", "card_not_supported"},
      {"card_declined_call_issuer", "call_issuer"},
      {"voice_failure", "call_issuer"},
      {"card_declined_verification_required", "authentication_required"},
      {"transaction_limit", "card_velocity_exceeded"},
      {"payment_limit_exceeded", "card_velocity_exceeded"},
      {"allowable_pin_tries_exceeded", "pin_try_exceeded"},
      {"invalid_pin", "incorrect_pin"},
      {"temporary_error", "processing_error"},
      // A FAILED or CANCELED payment with no card error on record.
      {"failed", "generic_decline"},
      {"canceled", "generic_decline"},
  };
  for (const auto& [square, normalised] : kSquareDeclines)
    if (square == code) return std::string(normalised);
  return "";  // not a decline: a bad request, an idempotency or configuration error
}

namespace {

constexpr std::size_t kMaxIdempotencyKey = 45;
constexpr std::size_t kMaxNote = 500;
constexpr std::size_t kMaxReference = 40;

Json money_json(const Money& money) { return {{"amount", money.amount}, {"currency", upper_case(money.currency)}}; }

// Square's first error: {"errors": [{"category", "code", "detail", "field"}]}.
struct SquareError {
  std::string category;
  std::string code;  // lower-cased: "generic_decline", "insufficient_funds"
  std::string message;
};

SquareError error_of(const Reply& reply) {
  const Json& errors = member_of(reply.body, "errors");
  const Json& first = errors.is_array() && !errors.empty() ? errors[0] : Json();
  SquareError e{text_of(first, "category"), lower_case(text_of(first, "code")), text_of(first, "detail")};
  if (e.code.empty()) e.code = "http_" + std::to_string(reply.status);
  if (e.message.empty()) e.message = "Square answered HTTP " + std::to_string(reply.status);
  return e;
}

// A refusal of a non-money call; refused credentials read as the gateway being unavailable.
Error refusal(const Reply& reply, std::string code) {
  SquareError e = error_of(reply);
  if (reply.credentials_refused()) return Error::unavailable("gateway_error", e.message);
  return Error::invalid(std::move(code), e.message);
}

Error missing(std::string_view what) {
  return Error::unavailable("gateway_error", "Square's answer has no " + std::string(what));
}

ChargeResult with_decline(ChargeResult r) {
  if (r.outcome == Outcome::kFailed) r.decline_code = square_decline_code(r.failure_code);
  return r;
}

ChargeResult charge_from_payment(const Json& payment) {
  std::string id = text_of(payment, "id");
  std::string status = text_of(payment, "status");
  if (id.empty()) return {Outcome::kUnknown, "", "gateway_error", "Square's answer has no payment id"};
  if (status == "COMPLETED") return {Outcome::kSucceeded, std::move(id), "", ""};
  if (status == "FAILED" || status == "CANCELED") {
    const Json& errors = member_of(member_of(payment, "card_details"), "errors");
    const Json& first = errors.is_array() && !errors.empty() ? errors[0] : Json();
    std::string code = lower_case(text_of(first, "code"));
    return with_decline({Outcome::kFailed, std::move(id), code.empty() ? lower_case(status) : code,
                         "the payment is " + lower_case(status)});
  }
  // APPROVED (not yet completed) or PENDING: the money's fate is not settled yet.
  return {Outcome::kUnknown, std::move(id), status.empty() ? "unexpected_status" : lower_case(status),
          "the payment is " + lower_case(status)};
}

ChargeResult charge_from_error(const Reply& reply) {
  SquareError e = error_of(reply);
  // A declined payment still exists; Square may send it beside the errors.
  Outcome outcome = reply.credentials_refused() ? Outcome::kUnknown : Outcome::kFailed;
  return with_decline({outcome, text_of(member_of(reply.body, "payment"), "id"), std::move(e.code), std::move(e.message)});
}

RefundResult refund_from_object(const Json& refund) {
  std::string id = text_of(refund, "id");
  std::string status = text_of(refund, "status");
  if (id.empty()) return {Outcome::kUnknown, "", "gateway_error", "Square's answer has no refund id"};
  if (status == "COMPLETED") return {Outcome::kSucceeded, std::move(id), "", ""};
  if (status == "REJECTED" || status == "FAILED")
    return {Outcome::kFailed, std::move(id), lower_case(status), "the refund is " + lower_case(status)};
  return {Outcome::kUnknown, std::move(id), status.empty() ? "unexpected_status" : lower_case(status),
          "the refund is " + lower_case(status)};
}

// Square's amount_money ({"amount": 2999, "currency": "USD"}).
std::optional<Money> money_of(const Json& object) {
  const Json& money = member_of(object, "amount_money");
  const Json& amount = member_of(money, "amount");
  std::string currency = text_of(money, "currency");
  if (!amount.is_number_integer() || currency.empty()) return std::nullopt;
  return Money{amount.get<std::int64_t>(), normalize_currency(currency)};
}

// A Dispute's state as its outcome: WON and INQUIRY_CLOSED (no chargeback came of the
// inquiry) are won; LOST and ACCEPTED (the seller accepted it) are lost; any other state is
// still open ("").
std::string dispute_outcome(const std::string& state) {
  if (state == "WON" || state == "INQUIRY_CLOSED") return "won";
  if (state == "LOST" || state == "ACCEPTED") return "lost";
  return "";
}

// The notices Recur acts on; every other event type is recorded and ignored.
void read_notices(WebhookEvent& event) {
  if (event.type == "payment.updated") {
    const Json& payment = member_of(event.data, "payment");
    ChargeNotice n{charge_from_payment(payment), "", text_of(payment, "reference_id"), "", money_of(payment),
                   parse_rfc3339(text_of(payment, "created_at"))};
    event.charge = std::move(n);
  } else if (event.type == "refund.updated") {
    const Json& refund = member_of(event.data, "refund");
    event.refund = RefundNotice{refund_from_object(refund), text_of(refund, "payment_id"), "", money_of(refund)};
  } else if (event.type == "dispute.created" || event.type == "dispute.state.updated" ||
             event.type == "dispute.state.changed") {
    const Json& dispute = member_of(event.data, "dispute");
    std::string id = text_of(dispute, "dispute_id");
    event.dispute = DisputeNotice{id.empty() ? text_of(dispute, "id") : id,
                                  text_of(member_of(dispute, "disputed_payment"), "payment_id"), money_of(dispute),
                                  lower_case(text_of(dispute, "reason")),
                                  event.type == "dispute.created" ? "" : dispute_outcome(text_of(dispute, "state"))};
  }
}

Json payment_body(const ChargeRequest& req, const std::string& location_id) {
  Json body = {{"source_id", req.payment_method},
               {"idempotency_key", square::idempotency_key(req.idempotency_key)},
               {"amount_money", money_json(req.amount)},
               {"autocomplete", true},
               {"customer_id", req.gateway_customer}};
  if (!location_id.empty()) body["location_id"] = location_id;
  if (!req.description.empty()) body["note"] = truncated_utf8(req.description, kMaxNote);
  // Square has no metadata on payments; the invoice id is the natural reference.
  auto invoice = req.metadata.find("invoice");
  if (invoice != req.metadata.end() && invoice->second.size() <= kMaxReference) body["reference_id"] = invoice->second;
  return body;
}

}  // namespace

namespace square {

std::string idempotency_key(const std::string& key) {
  return key.size() <= kMaxIdempotencyKey ? key : sha256_hex(key).substr(0, kMaxIdempotencyKey);
}

std::string webhook_signature(std::string_view signature_key, std::string_view notification_url, std::string_view body) {
  std::string payload(notification_url);
  payload += body;
  return base64(hmac_sha256_raw(signature_key, payload));
}

ChargeResult charge_from(const Result<net::HttpResponse>& response) {
  auto reply = read_reply(response);
  if (!reply.ok()) return unknown_charge(reply.error());
  if (!reply->succeeded()) return charge_from_error(*reply);
  return charge_from_payment(member_of(reply->body, "payment"));
}

RefundResult refund_from(const Result<net::HttpResponse>& response) {
  auto reply = read_reply(response);
  if (!reply.ok()) return unknown_refund(reply.error());
  if (reply->succeeded()) return refund_from_object(member_of(reply->body, "refund"));
  SquareError e = error_of(*reply);
  Outcome outcome = reply->credentials_refused() ? Outcome::kUnknown : Outcome::kFailed;
  return {outcome, "", std::move(e.code), std::move(e.message)};
}

Result<std::string> customer_from(const Result<net::HttpResponse>& response) {
  RECUR_ASSIGN(Reply reply, read_reply(response));
  if (!reply.succeeded()) return refusal(reply, "customer_refused");
  std::string id = text_of(member_of(reply.body, "customer"), "id");
  if (id.empty()) return missing("customer id");
  return id;
}

Result<PaymentMethodInfo> card_from(const Result<net::HttpResponse>& response) {
  RECUR_ASSIGN(Reply reply, read_reply(response));
  if (!reply.succeeded()) return refusal(reply, "payment_method_refused");
  const Json& card = member_of(reply.body, "card");
  PaymentMethodInfo info{text_of(card, "id"), card_brand(text_of(card, "card_brand")), text_of(card, "last_4"),
                         static_cast<int>(integer_of(card, "exp_month")), static_cast<int>(integer_of(card, "exp_year"))};
  if (info.token.empty()) return missing("card id");
  return info;
}

Result<WebhookEvent> event_from(const std::string& body) {
  Json doc = Json::parse(body, nullptr, false);
  const Json& object = member_of(member_of(doc, "data"), "object");
  std::string id = text_of(doc, "event_id");
  std::string type = text_of(doc, "type");
  if (id.empty() || type.empty() || !object.is_object())
    return Error::bad_request("invalid_webhook", "the webhook body is not a Square event notification");
  WebhookEvent event{.id = std::move(id), .type = std::move(type), .data = object};
  read_notices(event);
  return event;
}

}  // namespace square

SquareGateway::SquareGateway(SquareConfig config, Transport transport)
    : config_(std::move(config)), transport_(std::move(transport)) {}

Result<net::HttpResponse> SquareGateway::send(std::string method, const std::string& path, const Json* body,
                                              std::optional<std::chrono::milliseconds> timeout) {
  net::HttpRequest req;
  req.method = std::move(method);
  req.url = config_.api_base + path;
  req.timeout = timeout.value_or(config_.timeout);
  req.headers = {{"Authorization", "Bearer " + config_.access_token},
                 {"Square-Version", std::string(kSquareApiVersion)},
                 {"Accept", "application/json"}};
  if (body) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = body->dump();
  }
  return transport_(req);
}

Result<std::string> SquareGateway::create_customer(const GatewayCustomerInput& input) {
  if (input.idempotency_key.empty()) return Error::invalid("idempotency_key_missing", "an idempotency key is required");
  Json body = {{"idempotency_key", square::idempotency_key(input.idempotency_key)},
               {"reference_id", input.recur_customer}};
  if (!input.email.empty()) body["email_address"] = input.email;
  // Square splits names; Recur keeps one, which Square shows whole as the given name.
  if (!input.name.empty()) body["given_name"] = input.name;
  return square::customer_from(send("POST", "/v2/customers", &body));
}

Result<PaymentMethodInfo> SquareGateway::attach_payment_method(const std::string& gateway_customer,
                                                               const std::string& token,
                                                               const std::string& idempotency_key) {
  if (idempotency_key.empty()) return Error::invalid("idempotency_key_missing", "an idempotency key is required");
  if (gateway_customer.empty() || token.empty())
    return Error::invalid("payment_method_refused", "a gateway customer and a card nonce are required");
  Json body = {{"idempotency_key", square::idempotency_key(idempotency_key + ":attach")},
               {"source_id", token},
               {"card", {{"customer_id", gateway_customer}}}};
  return square::card_from(send("POST", "/v2/cards", &body));
}

ChargeResult SquareGateway::charge(const ChargeRequest& req) {
  if (req.idempotency_key.empty())
    return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  Json body = payment_body(req, config_.location_id);
  return square::charge_from(send("POST", "/v2/payments", &body, time_left(config_.timeout, req)));
}

RefundResult SquareGateway::refund(const RefundRequest& req) {
  if (req.idempotency_key.empty())
    return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  Json body = {{"idempotency_key", square::idempotency_key(req.idempotency_key)},
               {"amount_money", money_json(req.amount)},
               {"payment_id", req.charge_id}};
  if (!req.reason.empty()) body["reason"] = req.reason;
  return square::refund_from(send("POST", "/v2/refunds", &body));
}

ChargeResult SquareGateway::fetch_charge(const std::string& charge_id) {
  if (charge_id.empty()) return {Outcome::kFailed, "", "not_found", "no payment id to fetch"};
  return square::charge_from(send("GET", "/v2/payments/" + net::url_encode(charge_id), nullptr));
}

Result<WebhookEvent> SquareGateway::verify_webhook(const std::map<std::string, std::string>& headers,
                                                   const std::string& body, Timestamp) {
  // An empty key would make every signature forgeable; the URL is part of what is signed.
  if (config_.webhook_signature_key.empty() || config_.webhook_url.empty())
    return Error::unauthorized("invalid_signature", "no Square webhook key and URL are configured");
  auto it = headers.find("x-square-hmacsha256-signature");
  if (it == headers.end())
    return Error::unauthorized("invalid_signature", "the x-square-hmacsha256-signature header is missing");
  std::string expected = square::webhook_signature(config_.webhook_signature_key, config_.webhook_url, body);
  if (!constant_time_equal(it->second, expected))
    return Error::unauthorized("invalid_signature", "no signature matches the payload");
  return square::event_from(body);
}

std::unique_ptr<Gateway> make_square_gateway(SquareConfig config) {
  return std::make_unique<SquareGateway>(std::move(config));
}

}  // namespace recur::gateways
