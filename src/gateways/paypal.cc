// The PayPal adapter.
#include "gateways/paypal.h"

#include <algorithm>
#include <cctype>

#include "platform/clock.h"
#include "platform/digest.h"
#include "platform/money.h"

namespace recur::gateways {

std::string paypal_decline_code(std::string_view code, std::string_view processor_response) {
  // The card processor's response code of a declined capture is the most precise
  // (PayPal's "processor response codes").
  static constexpr std::pair<std::string_view, std::string_view> kProcessorResponses[] = {
      {"0500", "do_not_honor"},        {"5100", "generic_decline"},  {"5120", "insufficient_funds"},
      {"5400", "expired_card"},        {"9500", "fraudulent"},       {"9520", "lost_card"},
      {"5180", "restricted_card"},     {"5110", "incorrect_cvc"},    {"5650", "authentication_required"},
      {"9540", "do_not_try_again"},
  };
  for (const auto& [response, normalised] : kProcessorResponses)
    if (response == processor_response) return std::string(normalised);
  // PayPal's issues (lower-cased) and capture or order statuses.
  static constexpr std::pair<std::string_view, std::string_view> kIssues[] = {
      {"instrument_declined", "generic_decline"},
      {"transaction_refused", "do_not_honor"},
      {"payer_cannot_pay", "generic_decline"},
      {"redirect_payer_for_alternate_funding", "generic_decline"},
      {"card_expired", "expired_card"},
      {"transaction_limit_exceeded", "card_velocity_exceeded"},
      {"compliance_violation", "do_not_try_again"},
      {"payer_action_required", "authentication_required"},
      {"declined", "generic_decline"},
      {"failed", "generic_decline"},
      {"voided", "generic_decline"},
  };
  for (const auto& [issue, normalised] : kIssues)
    if (issue == code) return std::string(normalised);
  return "";  // not a decline: a bad request, an idempotency or merchant-account error
}

namespace {

constexpr std::size_t kMaxVaultCustomerId = 22;
constexpr std::size_t kMaxOrderText = 127;  // description, custom_id, invoice_id
// An access token is renewed this long before PayPal says it expires (at most half its life),
// so a call never starts with a token about to lapse.
constexpr std::int64_t kRenewEarlySeconds = 120;

Error unavailable(std::string code, std::string message) {
  return Error::unavailable(std::move(code), std::move(message));
}

// PayPal's error: {"name", "message", "debug_id", "details": [{"issue", "description"}]}.
struct PayPalError {
  std::string code;  // the first detail's issue, else the name, lower-cased: "instrument_declined"
  std::string message;
};

PayPalError error_of(const Reply& reply) {
  const Json& details = member_of(reply.body, "details");
  const Json& first = details.is_array() && !details.empty() ? details[0] : Json();
  PayPalError e{lower_case(text_of(first, "issue")), text_of(first, "description")};
  if (e.code.empty()) e.code = lower_case(text_of(reply.body, "name"));
  if (e.code.empty()) e.code = "http_" + std::to_string(reply.status);
  if (e.message.empty()) e.message = text_of(reply.body, "message");
  if (e.message.empty()) e.message = "PayPal answered HTTP " + std::to_string(reply.status);
  std::string debug_id = text_of(reply.body, "debug_id");
  if (!debug_id.empty()) e.message += " (debug_id " + debug_id + ")";
  return e;
}

// Not settled: refused credentials are Recur's problem (see Reply::credentials_refused) and
// 409 means a request with the same PayPal-Request-Id is still in progress.
bool unsettled(const Reply& reply) { return reply.credentials_refused() || reply.status == 409; }

// A refusal of a non-money call; an unsettled answer reads as the gateway being unavailable.
Error refusal(const Reply& reply, std::string code) {
  PayPalError e = error_of(reply);
  if (unsettled(reply)) return unavailable("gateway_error", e.message);
  return Error::invalid(std::move(code), e.message);
}

// A Capture's status as a charge (the capture is where the money moves).
ChargeResult charge_from_capture_object(const Json& capture) {
  std::string id = text_of(capture, "id");
  std::string status = text_of(capture, "status");
  if (id.empty()) return {Outcome::kUnknown, "", "gateway_error", "PayPal's answer has no capture id"};
  // A refunded capture was paid first; the refund is a record of its own.
  if (status == "COMPLETED" || status == "PARTIALLY_REFUNDED" || status == "REFUNDED")
    return {Outcome::kSucceeded, std::move(id), "", ""};
  if (status == "DECLINED" || status == "FAILED") {
    std::string message = "the capture is " + lower_case(status);
    std::string response_code = text_of(member_of(capture, "processor_response"), "response_code");
    if (!response_code.empty()) message += " (processor response " + response_code + ")";
    ChargeResult r{Outcome::kFailed, std::move(id), lower_case(status), std::move(message)};
    r.decline_code = paypal_decline_code(r.failure_code, response_code);
    return r;
  }
  // PENDING (e.g. an eCheck or a review): the money's fate is not settled yet.
  std::string reason = lower_case(text_of(member_of(capture, "status_details"), "reason"));
  return {Outcome::kUnknown, std::move(id), status.empty() ? "unexpected_status" : lower_case(status),
          "the capture is " + lower_case(status) + (reason.empty() ? "" : " (" + reason + ")")};
}

// An Order after create: its first purchase unit's first capture decides; with none, the
// order's own status says why nothing was captured.
ChargeResult charge_from_order_object(const Json& order) {
  const Json& units = member_of(order, "purchase_units");
  const Json& unit = units.is_array() && !units.empty() ? units[0] : Json();
  const Json& captures = member_of(member_of(unit, "payments"), "captures");
  if (captures.is_array() && !captures.empty()) return charge_from_capture_object(captures[0]);
  std::string status = text_of(order, "status");
  if (status == "PAYER_ACTION_REQUIRED") {
    // Neither paid nor declined: the payer approves it on PayPal's page (3-D Secure, or a
    // wallet that needs them again); Recur captures it once they did (fetch_charge).
    ChargeResult waiting{Outcome::kRequiresAction, std::string(paypal::kOrderReference) + text_of(order, "id"),
                         "payer_action_required", "PayPal asks the customer to approve this payment"};
    const Json& links = member_of(order, "links");
    if (links.is_array())
      for (const auto& link : links)
        if (text_of(link, "rel") == "payer-action") waiting.action_url = text_of(link, "href");
    return waiting;
  }
  if (status == "VOIDED") return {Outcome::kFailed, "", "voided", "PayPal voided the order", "generic_decline"};
  // CREATED, SAVED, APPROVED or COMPLETED with no capture: nothing says the money moved or not.
  return {Outcome::kUnknown, "", "unexpected_status",
          "the order " + text_of(order, "id") + " is " + (status.empty() ? "without status" : lower_case(status)) +
              " and has no capture"};
}

ChargeResult charge_from_error(const Reply& reply) {
  PayPalError e = error_of(reply);
  ChargeResult r{unsettled(reply) ? Outcome::kUnknown : Outcome::kFailed, "", std::move(e.code), std::move(e.message)};
  if (r.outcome == Outcome::kFailed) r.decline_code = paypal_decline_code(r.failure_code, "");
  return r;
}

RefundResult refund_from_object(const Json& refund) {
  std::string id = text_of(refund, "id");
  std::string status = text_of(refund, "status");
  if (id.empty()) return {Outcome::kUnknown, "", "gateway_error", "PayPal's answer has no refund id"};
  if (status == "COMPLETED") return {Outcome::kSucceeded, std::move(id), "", ""};
  if (status == "CANCELLED" || status == "FAILED")
    return {Outcome::kFailed, std::move(id), lower_case(status), "the refund is " + lower_case(status)};
  return {Outcome::kUnknown, std::move(id), status.empty() ? "unexpected_status" : lower_case(status),
          "the refund is " + lower_case(status)};
}

// "2027-02" -> {2, 2027}; {0, 0} when it is not that shape.
std::pair<int, int> expiry_of(const std::string& expiry) {
  if (expiry.size() != 7 || expiry[4] != '-') return {0, 0};
  for (std::size_t i = 0; i < expiry.size(); ++i)
    if (i != 4 && !std::isdigit(static_cast<unsigned char>(expiry[i]))) return {0, 0};
  return {std::stoi(expiry.substr(5, 2)), std::stoi(expiry.substr(0, 4))};
}

// Currencies ISO 4217 gives decimals but PayPal refuses any (its currency codes table).
bool paypal_whole_units_only(const std::string& currency) {
  std::string code = lower_case(currency);
  return code == "huf" || code == "twd";
}

// "amount" objects of orders and refunds.
Json money_json(const Money& money, const std::string& value) {
  return {{"currency_code", upper_case(money.currency)}, {"value", value}};
}

Json order_body(const ChargeRequest& req, const std::string& value) {
  Json unit = {{"amount", money_json(req.amount, value)}};
  if (!req.description.empty()) unit["description"] = truncated_utf8(req.description, kMaxOrderText);
  auto invoice = req.metadata.find("invoice");
  if (invoice != req.metadata.end() && !invoice->second.empty() && invoice->second.size() <= kMaxOrderText) {
    unit["custom_id"] = invoice->second;
    // PayPal refuses a second payment of one invoice_id: a guard against paying twice.
    unit["invoice_id"] = invoice->second;
  }
  // No stored_credential: with a vault_id PayPal derives it (merchant-initiated, subsequent).
  // A vaulted wallet is charged as its own payment source (paypal, venmo), a card as card.
  const std::string source = req.payment_method_type == "card" ? "card" : req.payment_method_type;
  return {{"intent", "CAPTURE"},
          {"purchase_units", Json::array({unit})},
          {"payment_source", {{source, {{"vault_id", req.payment_method}}}}}};
}

}  // namespace

namespace paypal {

Result<std::string> amount_value(const Money& money) {
  if (!is_known_currency(money.currency))
    return Error::invalid("invalid_amount", "'" + money.currency + "' is not a currency PayPal can be paid in");
  if (money.amount <= 0) return Error::invalid("invalid_amount", "PayPal moves positive amounts only");
  int exponent = currency_exponent(money.currency);
  std::string digits = std::to_string(money.amount);
  if (exponent == 0) return digits;
  if (paypal_whole_units_only(money.currency)) {
    std::int64_t unit = exponent == 2 ? 100 : 1000;
    if (money.amount % unit != 0)
      return Error::invalid("invalid_amount", "PayPal takes whole " + upper_case(money.currency) + " only");
    return std::to_string(money.amount / unit);
  }
  if (digits.size() <= static_cast<std::size_t>(exponent))
    digits.insert(0, static_cast<std::size_t>(exponent) + 1 - digits.size(), '0');
  digits.insert(digits.size() - static_cast<std::size_t>(exponent), ".");
  return digits;
}

std::string request_id(const std::string& key) { return key.size() <= kMaxRequestId ? key : sha256_hex(key); }

std::string vault_customer_id(const std::string& recur_customer) {
  return sha256_hex(recur_customer).substr(0, kMaxVaultCustomerId);
}

Result<PayPalAccessToken> access_token_from(const Result<net::HttpResponse>& response) {
  RECUR_ASSIGN(Reply reply, read_reply(response));
  if (!reply.succeeded()) {
    // OAuth's own error shape: {"error": "invalid_client", "error_description": "..."}.
    std::string why = text_of(reply.body, "error_description");
    if (why.empty()) why = text_of(reply.body, "error");
    return unavailable("gateway_error", "PayPal refused Recur's client credentials (HTTP " +
                                            std::to_string(reply.status) + (why.empty() ? "" : ": " + why) + ")");
  }
  PayPalAccessToken token{text_of(reply.body, "access_token"), integer_of(reply.body, "expires_in")};
  if (token.token.empty() || lower_case(text_of(reply.body, "token_type")) != "bearer")
    return unavailable("gateway_error", "PayPal's token answer has no bearer access_token");
  return token;
}

ChargeResult charge_from_order(const Result<net::HttpResponse>& response) {
  auto reply = read_reply(response);
  if (!reply.ok()) return unknown_charge(reply.error());
  return reply->succeeded() ? charge_from_order_object(reply->body) : charge_from_error(*reply);
}

ChargeResult charge_from_capture(const Result<net::HttpResponse>& response) {
  auto reply = read_reply(response);
  if (!reply.ok()) return unknown_charge(reply.error());
  return reply->succeeded() ? charge_from_capture_object(reply->body) : charge_from_error(*reply);
}

RefundResult refund_from(const Result<net::HttpResponse>& response) {
  auto reply = read_reply(response);
  if (!reply.ok()) return unknown_refund(reply.error());
  if (reply->succeeded()) return refund_from_object(reply->body);
  PayPalError e = error_of(*reply);
  return {unsettled(*reply) ? Outcome::kUnknown : Outcome::kFailed, "", std::move(e.code), std::move(e.message)};
}

Result<PaymentMethodInfo> payment_token_from(const Result<net::HttpResponse>& response) {
  RECUR_ASSIGN(Reply reply, read_reply(response));
  if (!reply.succeeded()) return refusal(reply, "payment_method_refused");
  std::string id = text_of(reply.body, "id");
  if (id.empty()) return unavailable("gateway_error", "PayPal's answer has no payment token id");
  const Json& source = member_of(reply.body, "payment_source");
  const Json& card = member_of(source, "card");
  if (card.is_object()) {
    auto [month, year] = expiry_of(text_of(card, "expiry"));
    return PaymentMethodInfo{std::move(id), card_brand(text_of(card, "brand")), text_of(card, "last_digits"), month,
                             year};
  }
  // A PayPal wallet or Venmo: charged off-session from its vaulted agreement; its display
  // data is the account's e-mail address.
  for (const char* wallet : {"paypal", "venmo"}) {
    const Json& w = member_of(source, wallet);
    if (!w.is_object()) continue;
    PaymentMethodInfo info;
    info.token = std::move(id);
    info.type = wallet;
    info.email = text_of(w, "email_address");
    return info;
  }
  return Error::invalid("payment_method_refused", "only cards, PayPal wallets and Venmo can be attached");
}

Result<Transmission> transmission_from(const std::map<std::string, std::string>& headers) {
  auto header = [&](const char* name) {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  };
  Transmission t{header("paypal-auth-algo"), header("paypal-cert-url"), header("paypal-transmission-id"),
                 header("paypal-transmission-sig"), header("paypal-transmission-time")};
  if (t.auth_algo.empty() || t.cert_url.empty() || t.transmission_id.empty() || t.transmission_sig.empty() ||
      t.transmission_time.empty())
    return Error::unauthorized("invalid_signature", "the webhook lacks PayPal's transmission headers");
  // PayPal's are printable ASCII (an algorithm's name, a URL, an id, base64, a time); other
  // bytes are not PayPal's, and invalid UTF-8 could not travel in the verification's JSON.
  for (const std::string* value : {&t.auth_algo, &t.cert_url, &t.transmission_id, &t.transmission_sig,
                                   &t.transmission_time})
    if (!std::all_of(value->begin(), value->end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; }))
      return Error::unauthorized("invalid_signature", "a PayPal transmission header holds other than printable ASCII");
  return t;
}

std::string verify_request_body(const Transmission& t, const std::string& webhook_id, const std::string& event) {
  Json fields = {{"auth_algo", t.auth_algo},
                 {"cert_url", t.cert_url},
                 {"transmission_id", t.transmission_id},
                 {"transmission_sig", t.transmission_sig},
                 {"transmission_time", t.transmission_time},
                 {"webhook_id", webhook_id}};
  // The event as PayPal sent it: its signature covers those bytes, which a re-serialized
  // object (keys sorted, numbers reformatted) would not reproduce.
  std::string text = fields.dump();
  text.pop_back();  // the closing brace
  return text + ",\"webhook_event\":" + event + "}";
}

Status verification_from(const Result<net::HttpResponse>& response) {
  RECUR_ASSIGN(Reply reply, read_reply(response));
  if (reply.credentials_refused())
    return unavailable("gateway_error", "PayPal refused Recur's credentials while verifying a webhook");
  if (!reply.succeeded()) {
    PayPalError e = error_of(reply);
    return Error::unauthorized("invalid_signature", "PayPal refused to verify the webhook: " + e.message);
  }
  std::string status = text_of(reply.body, "verification_status");
  if (status == "SUCCESS") return Ok{};
  if (status == "FAILURE") return Error::unauthorized("invalid_signature", "PayPal says the webhook's signature is not its own");
  return unavailable("gateway_error", "PayPal's verification answered '" + status + "'");
}

std::optional<Money> money_from(const Json& amount) {
  std::string currency = lower_case(text_of(amount, "currency_code"));
  std::string value = text_of(amount, "value");
  if (currency.empty() || value.empty() || !is_known_currency(currency)) return std::nullopt;
  const int exponent = currency_exponent(currency);
  std::string whole = value, fraction;
  if (auto dot = value.find('.'); dot != std::string::npos) {
    whole = value.substr(0, dot);
    fraction = value.substr(dot + 1);
  }
  if (whole.empty() || whole.size() > 15 || fraction.size() > static_cast<std::size_t>(exponent)) return std::nullopt;
  for (char c : whole + fraction)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  fraction.append(static_cast<std::size_t>(exponent) - fraction.size(), '0');
  return Money{std::stoll(whole + fraction), currency};
}

namespace {

// The capture a refund gives money back from: its "up" link ends in /captures/{id}.
std::string capture_of_refund(const Json& refund) {
  const Json& links = member_of(refund, "links");
  if (!links.is_array()) return "";
  for (const auto& link : links) {
    if (text_of(link, "rel") != "up") continue;
    std::string href = text_of(link, "href");
    auto at = href.rfind("/captures/");
    if (at != std::string::npos) return href.substr(at + std::string_view("/captures/").size());
  }
  return "";
}

std::string dispute_outcome(const Json& dispute) {
  std::string code = text_of(member_of(dispute, "dispute_outcome"), "outcome_code");
  if (code == "RESOLVED_BUYER_FAVOUR" || code == "ACCEPTED") return "lost";
  if (code == "RESOLVED_SELLER_FAVOUR" || code == "CANCELED_BY_BUYER" || code == "DENIED" ||
      code == "RESOLVED_WITH_PAYOUT")
    return "won";
  return "";
}

}  // namespace

Result<WebhookEvent> event_from(const std::string& body) {
  Json event = Json::parse(body, nullptr, false);
  if (event.is_discarded() || !event.is_object())
    return Error::invalid("invalid_webhook", "the webhook's body is not a JSON object");
  WebhookEvent e;
  e.id = text_of(event, "id");
  e.type = text_of(event, "event_type");
  if (e.id.empty() || e.type.empty()) return Error::invalid("invalid_webhook", "the event has no id or event_type");
  e.data = member_of(event, "resource");
  const Json& r = e.data;
  if (e.type == "PAYMENT.CAPTURE.COMPLETED" || e.type == "PAYMENT.CAPTURE.DENIED" ||
      e.type == "PAYMENT.CAPTURE.DECLINED" || e.type == "PAYMENT.CAPTURE.PENDING") {
    ChargeNotice n;
    n.result = charge_from_capture_object(r);
    // Recur's order sets custom_id and invoice_id to its invoice id.
    n.invoice = text_of(r, "custom_id");
    if (n.invoice.empty()) n.invoice = text_of(r, "invoice_id");
    n.amount = money_from(member_of(r, "amount"));
    n.created = parse_rfc3339(text_of(r, "create_time"));
    e.charge = std::move(n);
  } else if (e.type == "PAYMENT.CAPTURE.REFUNDED") {
    e.refund = RefundNotice{refund_from_object(r), capture_of_refund(r), "", money_from(member_of(r, "amount"))};
  } else if (e.type == "CUSTOMER.DISPUTE.CREATED" || e.type == "CUSTOMER.DISPUTE.UPDATED" ||
             e.type == "CUSTOMER.DISPUTE.RESOLVED") {
    const Json& transactions = member_of(r, "disputed_transactions");
    const Json& first = transactions.is_array() && !transactions.empty() ? transactions[0] : Json();
    e.dispute = DisputeNotice{text_of(r, "dispute_id"), text_of(first, "seller_transaction_id"),
                              money_from(member_of(r, "dispute_amount")), lower_case(text_of(r, "reason")),
                              dispute_outcome(r)};
  }
  return e;
}

}  // namespace paypal

PayPalGateway::PayPalGateway(PayPalConfig config, Transport transport, Now now)
    : config_(std::move(config)), transport_(std::move(transport)), now_(std::move(now)) {
  if (!now_) now_ = [] { return SystemClock().now(); };
}

Result<std::string> PayPalGateway::access_token(Deadline deadline) {
  std::lock_guard lock(token_mu_);
  if (!token_.empty() && now_() < token_renew_at_) return token_;
  net::HttpRequest req;
  req.method = "POST";
  req.url = config_.api_base + "/v1/oauth2/token";
  req.timeout = time_left(config_.timeout, deadline);
  req.headers = {{"Authorization", "Basic " + base64(config_.client_id + ":" + config_.client_secret)},
                 {"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.body = "grant_type=client_credentials";
  RECUR_ASSIGN(PayPalAccessToken fresh, paypal::access_token_from(transport_(req)));
  token_ = std::move(fresh.token);
  token_renew_at_ = now_() + fresh.expires_in - std::min(kRenewEarlySeconds, fresh.expires_in / 2);
  return token_;
}

void PayPalGateway::forget_token(const std::string& token) {
  std::lock_guard lock(token_mu_);
  if (token_ == token) token_.clear();  // another call may have renewed it already
}

Result<net::HttpResponse> PayPalGateway::send_once(const std::string& method, const std::string& path,
                                                   const std::string* body, const std::string& request_id,
                                                   const std::string& token, Deadline deadline) {
  net::HttpRequest req;
  req.method = method;
  req.url = config_.api_base + path;
  req.timeout = time_left(config_.timeout, deadline);
  req.headers = {{"Authorization", "Bearer " + token}, {"Accept", "application/json"}};
  if (body) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.headers.emplace_back("PayPal-Request-Id", paypal::request_id(request_id));
    // The whole resource in the answer: the order's captures, the refund's status.
    req.headers.emplace_back("Prefer", "return=representation");
    req.body = *body;
  }
  return transport_(req);
}

Result<net::HttpResponse> PayPalGateway::send(const std::string& method, const std::string& path, const Json* body,
                                              const std::string& request_id, Deadline deadline) {
  if (!body) return send_text(method, path, nullptr, request_id, deadline);
  const std::string text = body->dump();
  return send_text(method, path, &text, request_id, deadline);
}

Result<net::HttpResponse> PayPalGateway::send_text(const std::string& method, const std::string& path,
                                                   const std::string* body, const std::string& request_id,
                                                   Deadline deadline) {
  RECUR_ASSIGN(std::string token, access_token(deadline));
  auto response = send_once(method, path, body, request_id, token, deadline);
  if (!response.ok() || response->status != 401) return response;
  // The token expired or was revoked early: one new token, one more try with the same key.
  forget_token(token);
  RECUR_ASSIGN(token, access_token(deadline));
  return send_once(method, path, body, request_id, token, deadline);
}

Result<std::string> PayPalGateway::create_customer(const GatewayCustomerInput& input) {
  if (input.recur_customer.empty()) return Error::invalid("customer_refused", "Recur's customer id is required");
  return paypal::vault_customer_id(input.recur_customer);
}

Result<PaymentMethodInfo> PayPalGateway::attach_payment_method(const std::string& gateway_customer,
                                                               const std::string& token,
                                                               const std::string& idempotency_key) {
  if (idempotency_key.empty()) return Error::invalid("idempotency_key_missing", "an idempotency key is required");
  if (gateway_customer.empty() || token.empty())
    return Error::invalid("payment_method_refused", "a gateway customer and a setup token are required");
  Json body = {{"customer", {{"id", gateway_customer}}},
               {"payment_source", {{"token", {{"id", token}, {"type", "SETUP_TOKEN"}}}}}};
  return paypal::payment_token_from(send("POST", "/v3/vault/payment-tokens", &body, idempotency_key + ":attach"));
}

ChargeResult PayPalGateway::charge(const ChargeRequest& req) {
  if (req.idempotency_key.empty())
    return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  if (req.payment_method.empty()) return {Outcome::kFailed, "", "payment_method_missing", "no vaulted token to charge"};
  auto value = paypal::amount_value(req.amount);
  if (!value.ok()) return {Outcome::kFailed, "", value.error().code, value.error().message};
  Json body = order_body(req, *value);
  return paypal::charge_from_order(send("POST", "/v2/checkout/orders", &body, req.idempotency_key, req.deadline));
}

RefundResult PayPalGateway::refund(const RefundRequest& req) {
  if (req.idempotency_key.empty())
    return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  if (req.charge_id.empty()) return {Outcome::kFailed, "", "not_found", "no capture id to refund"};
  auto value = paypal::amount_value(req.amount);
  if (!value.ok()) return {Outcome::kFailed, "", value.error().code, value.error().message};
  // PayPal shows note_to_payer to the customer; Recur's reason codes are not for them.
  Json body = {{"amount", money_json(req.amount, *value)}};
  return paypal::refund_from(
      send("POST", "/v2/payments/captures/" + net::url_encode(req.charge_id) + "/refund", &body, req.idempotency_key));
}

ChargeResult PayPalGateway::fetch_charge(const std::string& charge_id) {
  if (charge_id.empty()) return {Outcome::kFailed, "", "not_found", "no capture id to fetch"};
  if (!charge_id.starts_with(paypal::kOrderReference))
    return paypal::charge_from_capture(send("GET", "/v2/payments/captures/" + net::url_encode(charge_id), nullptr, ""));
  const std::string order = charge_id.substr(paypal::kOrderReference.size());
  const std::string path = "/v2/checkout/orders/" + net::url_encode(order);
  // A definite refusal about the order (voided, gone, its capture declined) is certain: only
  // Recur captures its orders, so no money moved. It names the order, so callers know it.
  auto certain = [&](ChargeResult r) {
    if (r.outcome == Outcome::kFailed && r.charge_id.empty()) r.charge_id = charge_id;
    return r;
  };
  auto reply = send("GET", path, nullptr, "");
  ChargeResult state = certain(paypal::charge_from_order(reply));
  if (state.outcome != Outcome::kUnknown || !reply.ok() || reply->status != 200) return state;
  // Approved by the payer and not captured yet: capture it now, once whoever asks.
  const Json body = Json::parse(reply->body, nullptr, false);
  if (!body.is_object() || text_of(body, "status") != "APPROVED") return state;
  const Json nothing = Json::object();
  return certain(paypal::charge_from_order(send("POST", path + "/capture", &nothing, "capture:" + order)));
}

ChargeResult PayPalGateway::cancel_charge(const std::string& charge_id) {
  ChargeResult state = fetch_charge(charge_id);
  if (state.outcome != Outcome::kRequiresAction) return state;
  return {Outcome::kFailed, charge_id, "canceled",
          "Recur will not capture this order: the payer had not approved it when it was given up"};
}

Result<WebhookEvent> PayPalGateway::verify_webhook(const std::map<std::string, std::string>& headers,
                                                   const std::string& body, Timestamp) {
  if (config_.webhook_id.empty())
    return unavailable("webhooks_unsupported", "PayPal webhooks need the webhook id (--paypal-webhook-id)");
  RECUR_ASSIGN(paypal::Transmission t, paypal::transmission_from(headers));
  Json event = Json::parse(body, nullptr, false);
  if (event.is_discarded() || !event.is_object())
    return Error::unauthorized("invalid_signature", "the webhook's body is not a JSON object");
  const std::string request = paypal::verify_request_body(t, config_.webhook_id, body);
  RECUR_TRY(paypal::verification_from(
      send_text("POST", "/v1/notifications/verify-webhook-signature", &request, "verify:" + t.transmission_id)));
  return paypal::event_from(body);
}

std::unique_ptr<Gateway> make_paypal_gateway(PayPalConfig config) {
  return std::make_unique<PayPalGateway>(std::move(config));
}

}  // namespace recur::gateways
