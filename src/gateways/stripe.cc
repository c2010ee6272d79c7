// The Stripe adapter.
#include "gateways/stripe.h"

#include "gateways/signature.h"
#include "platform/money.h"

namespace recur::gateways {

std::string stripe_decline_code(std::string_view code) {
  // Stripe's decline codes are Recur's normalised names (https://docs.stripe.com/declines/codes);
  // some also come as the error's `code` when there is no decline_code (expired_card, ...).
  static constexpr std::string_view kStripeDeclineCodes[] = {
      "approve_with_id", "authentication_required", "call_issuer", "card_not_supported", "card_velocity_exceeded",
      "currency_not_supported", "do_not_honor", "do_not_try_again", "duplicate_transaction", "expired_card",
      "fraudulent", "generic_decline", "incorrect_cvc", "incorrect_number", "incorrect_pin", "incorrect_zip",
      "insufficient_funds", "invalid_account", "invalid_cvc", "invalid_expiry_month", "invalid_expiry_year",
      "invalid_number", "invalid_pin", "issuer_not_available", "lost_card", "merchant_blacklist",
      "new_account_information_available", "no_action_taken", "not_permitted", "offline_pin_required",
      "online_or_offline_pin_required", "pickup_card", "pin_try_exceeded", "processing_error", "reenter_transaction",
      "restricted_card", "revocation_of_all_authorizations", "revocation_of_authorization", "security_violation",
      "service_not_allowed", "stolen_card", "stop_payment_order", "testmode_decline", "transaction_not_allowed",
      "try_again_later", "withdrawal_count_limit_exceeded"};
  for (std::string_view known : kStripeDeclineCodes)
    if (known == code) return std::string(code);
  // A decline without an issuer's reason: the error's code, or a PaymentIntent left
  // requiring a payment method with no error on record.
  if (code == "card_declined" || code == "requires_payment_method") return "generic_decline";
  return "";  // not a decline: a bad request, an idempotency or API error
}

namespace {

// Stripe's error object: {"error": {"type", "code", "decline_code", "message", "payment_intent"}}.
struct StripeError {
  std::string type;
  std::string code;
  std::string decline_code;
  std::string message;
  std::string intent_id;  // a declined PaymentIntent still exists: its id, when Stripe says it
};

StripeError error_of(const Reply& reply) {
  const Json& e = member_of(reply.body, "error");
  StripeError error{text_of(e, "type"), text_of(e, "code"), text_of(e, "decline_code"), text_of(e, "message"),
                    text_of(member_of(e, "payment_intent"), "id")};
  if (error.message.empty()) error.message = "Stripe answered HTTP " + std::to_string(reply.status);
  return error;
}

// The most specific reason Stripe gives: the issuer's decline code, else Stripe's code.
std::string failure_code(const StripeError& e, long status) {
  if (!e.decline_code.empty()) return e.decline_code;
  if (!e.code.empty()) return e.code;
  if (!e.type.empty()) return e.type;
  return "http_" + std::to_string(status);
}

// Not settled: 409 means another request with the same idempotency key is still running at
// Stripe (the first may yet succeed; asking again with the key settles it), and refused
// credentials are Recur's problem (see Reply::credentials_refused).
bool unsettled(const Reply& reply) { return reply.status == 409 || reply.credentials_refused(); }

// A refusal of a non-money call; an unsettled answer reads as the gateway being unavailable.
Error refusal(const Reply& reply, std::string code) {
  StripeError e = error_of(reply);
  if (unsettled(reply)) return Error::unavailable("gateway_error", e.message);
  return Error::invalid(std::move(code), e.message);
}

// The decline code of a refused charge (an unsettled answer has none).
ChargeResult with_decline(ChargeResult r) {
  if (r.outcome == Outcome::kFailed) r.decline_code = stripe_decline_code(r.failure_code);
  return r;
}

ChargeResult failed_with_last_error(const Json& intent, std::string id) {
  const Json& last = member_of(intent, "last_payment_error");
  StripeError e{text_of(last, "type"), text_of(last, "code"), text_of(last, "decline_code"), text_of(last, "message"), ""};
  // With no error on record, the status itself is the most precise reason.
  std::string code = e.decline_code.empty() && e.code.empty() ? text_of(intent, "status") : failure_code(e, 0);
  if (e.message.empty()) e.message = "the payment method was not charged";
  return with_decline({Outcome::kFailed, std::move(id), std::move(code), std::move(e.message)});
}

ChargeResult charge_from_intent(const Json& intent) {
  std::string id = text_of(intent, "id");
  std::string status = text_of(intent, "status");
  if (id.empty()) return {Outcome::kUnknown, "", "gateway_error", "Stripe's answer has no PaymentIntent id"};
  if (status == "succeeded") return {Outcome::kSucceeded, std::move(id), "", ""};
  if (status == "processing")
    return {Outcome::kUnknown, std::move(id), "processing", "the payment is still processing"};
  // 3-D Secure: the customer confirms the PaymentIntent on the shop's page (stripe.js), or on
  // the bank's page when Stripe gives one. An off-session charge that needs it is refused
  // with authentication_required and left requiring a payment method: the same wait, since
  // the customer confirms that PaymentIntent on-session with the card.
  if (status == "requires_action" ||
      (status == "requires_payment_method" && text_of(member_of(intent, "last_payment_error"), "code") ==
                                                  "authentication_required")) {
    ChargeResult r{Outcome::kRequiresAction, std::move(id), "authentication_required",
                   "the bank asks the customer to authenticate this payment"};
    r.action_url = text_of(member_of(member_of(intent, "next_action"), "redirect_to_url"), "url");
    return r;
  }
  if (status == "requires_payment_method" || status == "canceled") return failed_with_last_error(intent, std::move(id));
  // requires_confirmation / requires_capture cannot follow confirm=true with automatic
  // capture; if they do, the money's fate is not known yet.
  return {Outcome::kUnknown, std::move(id), "unexpected_status", "the PaymentIntent is " + status};
}

ChargeResult setup_from_intent(const Json& intent) {
  std::string id = text_of(intent, "id");
  std::string status = text_of(intent, "status");
  if (id.empty()) return {Outcome::kUnknown, "", "gateway_error", "Stripe's answer has no SetupIntent id"};
  if (status == "succeeded") return {Outcome::kSucceeded, std::move(id), "", ""};
  if (status == "processing") return {Outcome::kUnknown, std::move(id), "processing", "the setup is still processing"};
  if (status == "requires_action") {
    ChargeResult r{Outcome::kRequiresAction, std::move(id), "authentication_required",
                   "the bank asks the customer to authenticate this card"};
    r.action_url = text_of(member_of(member_of(intent, "next_action"), "redirect_to_url"), "url");
    return r;
  }
  const Json& last = member_of(intent, "last_setup_error");
  StripeError e{text_of(last, "type"), text_of(last, "code"), text_of(last, "decline_code"), text_of(last, "message"), ""};
  std::string code = e.decline_code.empty() && e.code.empty() ? status : failure_code(e, 0);
  if (e.message.empty()) e.message = "the card could not be set up: " + status;
  return with_decline({Outcome::kFailed, std::move(id), std::move(code), std::move(e.message)});
}

ChargeResult charge_from_error(const Reply& reply) {
  StripeError e = error_of(reply);
  if (!unsettled(reply) && (e.code == "authentication_required" || e.decline_code == "authentication_required") &&
      !e.intent_id.empty())
    return {Outcome::kRequiresAction, std::move(e.intent_id), "authentication_required", std::move(e.message)};
  Outcome outcome = unsettled(reply) ? Outcome::kUnknown : Outcome::kFailed;
  return with_decline({outcome, std::move(e.intent_id), failure_code(e, reply.status), std::move(e.message)});
}

RefundResult refund_from_object(const Json& refund) {
  std::string id = text_of(refund, "id");
  std::string status = text_of(refund, "status");
  if (id.empty()) return {Outcome::kUnknown, "", "gateway_error", "Stripe's answer has no Refund id"};
  if (status == "succeeded") return {Outcome::kSucceeded, std::move(id), "", ""};
  if (status == "failed" || status == "canceled") {
    std::string reason = text_of(refund, "failure_reason");
    return {Outcome::kFailed, std::move(id), reason.empty() ? status : reason, "the refund is " + status};
  }
  // "pending" (and "requires_action"): Stripe has the refund; it has not settled yet.
  return {Outcome::kUnknown, std::move(id), status.empty() ? "unexpected_status" : status, "the refund is " + status};
}

// Stripe's amount + currency of a PaymentIntent, Refund or Dispute.
std::optional<Money> money_of(const Json& object) {
  const Json& amount = member_of(object, "amount");
  std::string currency = text_of(object, "currency");
  if (!amount.is_number_integer() || currency.empty()) return std::nullopt;
  return Money{amount.get<std::int64_t>(), normalize_currency(currency)};
}

// Recur charges PaymentIntents and keeps their ids; a Charge or Refund names its intent.
std::string intent_of(const Json& object) {
  std::string intent = text_of(object, "payment_intent");
  return intent.empty() ? text_of(object, "charge") : intent;
}

ChargeNotice charge_notice(const Json& intent, std::string idempotency_key) {
  const Json& metadata = member_of(intent, "metadata");
  ChargeNotice n{charge_from_intent(intent), text_of(metadata, "payment"), text_of(metadata, "invoice"),
                 std::move(idempotency_key), money_of(intent), std::nullopt};
  if (const Json& created = member_of(intent, "created"); created.is_number_integer())
    n.created = created.get<Timestamp>();
  return n;
}

RefundNotice refund_notice(const Json& refund, std::string charge_id, std::string idempotency_key) {
  if (charge_id.empty()) charge_id = intent_of(refund);
  return {refund_from_object(refund), std::move(charge_id), std::move(idempotency_key), money_of(refund)};
}

// The notices Recur acts on; every other event type is recorded and ignored.
void read_notices(WebhookEvent& event, const Json& request) {
  const Json& object = event.data;
  std::string key = text_of(request, "idempotency_key");
  if (event.type == "payment_intent.succeeded" || event.type == "payment_intent.payment_failed" ||
      event.type == "payment_intent.canceled") {
    event.charge = charge_notice(object, std::move(key));
  } else if (event.type == "refund.updated" || event.type == "charge.refund.updated") {
    event.refund = refund_notice(object, "", std::move(key));
  } else if (event.type == "charge.refunded") {
    // A Charge with its refunds, newest first: the newest is the one this event is about.
    const Json& refunds = member_of(member_of(object, "refunds"), "data");
    if (refunds.is_array() && !refunds.empty())
      event.refund = refund_notice(refunds[0], intent_of(object).empty() ? text_of(object, "id") : intent_of(object),
                                   std::move(key));
  } else if (event.type == "charge.dispute.created" || event.type == "charge.dispute.closed") {
    // Closed: won or lost; warning_closed is an inquiry that closed without a chargeback
    // (the money never left), which Recur counts as won.
    std::string status = text_of(object, "status");
    std::string outcome;
    if (event.type == "charge.dispute.closed")
      outcome = status == "lost" ? "lost" : (status == "won" || status == "warning_closed") ? "won" : "";
    event.dispute = DisputeNotice{text_of(object, "id"), intent_of(object), money_of(object), text_of(object, "reason"),
                                  std::move(outcome)};
  }
}

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields charge_fields(const ChargeRequest& req) {
  Fields fields{
      {"amount", std::to_string(req.amount.amount)},
      {"currency", normalize_currency(req.amount.currency)},
      {"customer", req.gateway_customer},
      {"payment_method", req.payment_method},
      {"off_session", "true"},
      {"confirm", "true"},
  };
  if (!req.description.empty()) fields.emplace_back("description", req.description);
  for (const auto& [key, value] : req.metadata) fields.emplace_back("metadata[" + key + "]", value);
  return fields;
}

}  // namespace

namespace stripe {

ChargeResult charge_from(const Result<net::HttpResponse>& response) {
  auto reply = read_reply(response);
  if (!reply.ok()) return unknown_charge(reply.error());
  return reply->succeeded() ? charge_from_intent(reply->body) : charge_from_error(*reply);
}

ChargeResult cancel_from(const Result<net::HttpResponse>& response) {
  auto reply = read_reply(response);
  if (!reply.ok()) return unknown_charge(reply.error());
  if (!reply->succeeded())
    return {Outcome::kUnknown, "", "cancel_refused", "Stripe refused to cancel: " + error_of(*reply).message};
  return charge_from_intent(reply->body);
}

ChargeResult setup_from(const Result<net::HttpResponse>& response) {
  auto reply = read_reply(response);
  if (!reply.ok()) return unknown_charge(reply.error());
  if (reply->succeeded()) return setup_from_intent(reply->body);
  ChargeResult r = charge_from_error(*reply);
  if (r.outcome == Outcome::kRequiresAction) r.outcome = Outcome::kFailed;  // a setup has no waiting PaymentIntent
  return r;
}

RefundResult refund_from(const Result<net::HttpResponse>& response) {
  auto reply = read_reply(response);
  if (!reply.ok()) return unknown_refund(reply.error());
  if (reply->succeeded()) return refund_from_object(reply->body);
  StripeError e = error_of(*reply);
  Outcome outcome = unsettled(*reply) ? Outcome::kUnknown : Outcome::kFailed;
  return {outcome, "", failure_code(e, reply->status), std::move(e.message)};
}

Result<std::string> customer_from(const Result<net::HttpResponse>& response) {
  RECUR_ASSIGN(Reply reply, read_reply(response));
  if (!reply.succeeded()) return refusal(reply, "customer_refused");
  std::string id = text_of(reply.body, "id");
  if (id.empty()) return Error::unavailable("gateway_error", "Stripe's answer has no customer id");
  return id;
}

Result<PaymentMethodInfo> payment_method_from(const Result<net::HttpResponse>& response) {
  RECUR_ASSIGN(Reply reply, read_reply(response));
  if (!reply.succeeded()) return refusal(reply, "payment_method_refused");
  PaymentMethodInfo info;
  info.token = text_of(reply.body, "id");
  if (info.token.empty()) return Error::unavailable("gateway_error", "Stripe's answer has no payment method id");
  const Json& card = member_of(reply.body, "card");
  if (!card.is_object())
    return Error::invalid("payment_method_refused", "only cards can be attached, not '" +
                                                        text_of(reply.body, "type") + "'");
  info.brand = card_brand(text_of(card, "brand"));
  info.last4 = text_of(card, "last4");
  info.exp_month = static_cast<int>(integer_of(card, "exp_month"));
  info.exp_year = static_cast<int>(integer_of(card, "exp_year"));
  return info;
}

Result<WebhookEvent> event_from(const std::string& body) {
  Json doc = Json::parse(body, nullptr, false);
  const Json& object = member_of(member_of(doc, "data"), "object");
  std::string id = text_of(doc, "id");
  std::string type = text_of(doc, "type");
  if (id.empty() || type.empty() || !object.is_object())
    return Error::bad_request("invalid_webhook", "the webhook body is not a Stripe event");
  WebhookEvent event{.id = std::move(id), .type = std::move(type), .data = object};
  read_notices(event, member_of(doc, "request"));
  return event;
}

}  // namespace stripe

StripeGateway::StripeGateway(StripeConfig config, Transport transport)
    : config_(std::move(config)), transport_(std::move(transport)) {}

net::HttpRequest StripeGateway::request(std::string method, const std::string& path) const {
  net::HttpRequest req;
  req.method = std::move(method);
  req.url = config_.api_base + path;
  req.timeout = config_.timeout;
  req.headers = {{"Authorization", "Bearer " + config_.secret_key},
                 {"Stripe-Version", std::string(kStripeApiVersion)},
                 {"Accept", "application/json"}};
  return req;
}

Result<net::HttpResponse> StripeGateway::post(const std::string& path, const Fields& fields,
                                              const std::string& idempotency_key,
                                              std::optional<std::chrono::milliseconds> timeout) {
  net::HttpRequest req = request("POST", path);
  if (timeout) req.timeout = *timeout;
  req.headers.emplace_back("Idempotency-Key", idempotency_key);
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.body = net::form_encode(fields);
  return transport_(req);
}

Result<net::HttpResponse> StripeGateway::get(const std::string& path) { return transport_(request("GET", path)); }

Result<std::string> StripeGateway::create_customer(const GatewayCustomerInput& input) {
  if (input.idempotency_key.empty()) return Error::invalid("idempotency_key_missing", "an idempotency key is required");
  Fields fields;
  if (!input.email.empty()) fields.emplace_back("email", input.email);
  if (!input.name.empty()) fields.emplace_back("name", input.name);
  fields.emplace_back("metadata[recur_customer]", input.recur_customer);
  return stripe::customer_from(post("/v1/customers", fields, input.idempotency_key));
}

Result<PaymentMethodInfo> StripeGateway::attach_payment_method(const std::string& gateway_customer,
                                                               const std::string& token,
                                                               const std::string& idempotency_key) {
  if (idempotency_key.empty()) return Error::invalid("idempotency_key_missing", "an idempotency key is required");
  if (gateway_customer.empty() || token.empty())
    return Error::invalid("payment_method_refused", "a gateway customer and a payment method token are required");
  return stripe::payment_method_from(post("/v1/payment_methods/" + net::url_encode(token) + "/attach",
                                          {{"customer", gateway_customer}}, idempotency_key + ":attach"));
}

ChargeResult StripeGateway::charge(const ChargeRequest& req) {
  if (req.idempotency_key.empty())
    return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  return stripe::charge_from(
      post("/v1/payment_intents", charge_fields(req), req.idempotency_key, time_left(config_.timeout, req)));
}

ChargeResult StripeGateway::verify_payment_method(const std::string& gateway_customer, const std::string& token,
                                                  const std::string& idempotency_key) {
  if (idempotency_key.empty())
    return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  Fields fields{{"customer", gateway_customer},
                {"payment_method", token},
                {"confirm", "true"},
                {"usage", "off_session"},
                {"payment_method_types[]", "card"}};
  return stripe::setup_from(post("/v1/setup_intents", fields, idempotency_key, config_.timeout));
}

RefundResult StripeGateway::refund(const RefundRequest& req) {
  if (req.idempotency_key.empty())
    return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  Fields fields{{"payment_intent", req.charge_id}, {"amount", std::to_string(req.amount.amount)}};
  if (!req.reason.empty()) fields.emplace_back("reason", req.reason);
  return stripe::refund_from(post("/v1/refunds", fields, req.idempotency_key));
}

ChargeResult StripeGateway::fetch_charge(const std::string& charge_id) {
  if (charge_id.empty()) return {Outcome::kFailed, "", "resource_missing", "no charge id to fetch"};
  return stripe::charge_from(get("/v1/payment_intents/" + net::url_encode(charge_id)));
}

ChargeResult StripeGateway::cancel_charge(const std::string& charge_id) {
  if (charge_id.empty()) return {Outcome::kFailed, "", "resource_missing", "no charge id to cancel"};
  ChargeResult r = stripe::cancel_from(post("/v1/payment_intents/" + net::url_encode(charge_id) + "/cancel",
                                            {{"cancellation_reason", "abandoned"}}, "cancel:" + charge_id,
                                            config_.timeout));
  // A refusal (payment_intent_unexpected_state: it succeeded or is processing meanwhile) or
  // a lost answer says nothing certain: ask the PaymentIntent itself.
  if (r.outcome == Outcome::kUnknown) return fetch_charge(charge_id);
  return r;
}

Result<WebhookEvent> StripeGateway::verify_webhook(const std::map<std::string, std::string>& headers,
                                                   const std::string& body, Timestamp now) {
  // An empty secret would make every signature forgeable.
  if (config_.webhook_secret.empty())
    return Error::unauthorized("invalid_signature", "no Stripe webhook secret is configured");
  auto it = headers.find("stripe-signature");
  if (it == headers.end()) return Error::unauthorized("invalid_signature", "the Stripe-Signature header is missing");
  RECUR_TRY(verify_timestamped(config_.webhook_secret, it->second, body, now));
  return stripe::event_from(body);
}

std::unique_ptr<Gateway> make_stripe_gateway(StripeConfig config) {
  return std::make_unique<StripeGateway>(std::move(config));
}

}  // namespace recur::gateways
