// The PayPal adapter: the Gateway interface over PayPal's REST APIs (Payment Method Tokens
// v3 to vault, Orders v2 to charge a vaulted token, Payments v2 to refund and read
// captures): JSON bodies, an OAuth2 bearer token from client credentials, the idempotency
// key in the PayPal-Request-Id header of every POST.
//
// Customers: PayPal has no customer object of its own; a vaulted token carries the
// merchant's customer id. create_customer therefore calls nothing and returns
// paypal::vault_customer_id(Recur's customer id), the same id every time.
// Payment methods: vaulted cards, PayPal wallets and Venmo (payment tokens made from a setup
// token the buyer approved); each is charged off-session with its own payment_source (card,
// paypal, venmo) and its vault id. Other sources (Apple Pay, bank) are refused at attach.
// Keys: charge and refund send the caller's key; attach_payment_method sends key + ":attach";
// a key longer than PayPal's 108 characters is sent as its SHA-256 in hex.
// Webhooks: PayPal signs them with a certificate and checks the signature itself through
// POST /v1/notifications/verify-webhook-signature (the PAYPAL-* transmission headers, the
// configured webhook id and the event as received); only verification_status SUCCESS is
// accepted. Without a configured webhook id every webhook is refused.
#pragma once

#include <chrono>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "gateways/exchange.h"
#include "gateways/gateway.h"

namespace recur::gateways {

// The normalised decline code (billing/failure_codes.h) of a refused charge: PayPal's issue
// or status (lower-cased) and, for a declined capture, the card processor's response code
// ("5120"), which wins when known; empty for a failure that is no decline. Pure.
std::string paypal_decline_code(std::string_view code, std::string_view processor_response);

inline constexpr std::string_view kPayPalSandboxBase = "https://api-m.sandbox.paypal.com";
inline constexpr std::string_view kPayPalLiveBase = "https://api-m.paypal.com";

struct PayPalConfig {
  std::string api_base = std::string(kPayPalSandboxBase);  // kPayPalLiveBase in production
  std::string client_id;
  std::string client_secret;
  // The id PayPal gave the webhook subscription (Developer Dashboard / POST /v1/notifications/
  // webhooks); required to verify webhooks ("": webhooks are refused).
  std::string webhook_id;
  std::chrono::milliseconds timeout{15000};
};

// An OAuth2 access token and how long PayPal says it lives.
struct PayPalAccessToken {
  std::string token;
  std::int64_t expires_in = 0;  // seconds
};

class PayPalGateway final : public Gateway {
 public:
  // Seconds on a clock that only moves forward; it times the access token's life.
  using Now = std::function<Timestamp()>;
  explicit PayPalGateway(PayPalConfig config, Transport transport = net::send, Now now = {});

  std::string name() const override { return "paypal"; }
  // No request: see the file comment.
  Result<std::string> create_customer(const GatewayCustomerInput& input) override;
  // `token` is a setup token the customer approved in PayPal's JS SDK (card fields); it
  // becomes a vaulted card of `gateway_customer`, whose vault id is the answer's token.
  Result<PaymentMethodInfo> attach_payment_method(const std::string& gateway_customer, const std::string& token,
                                                  const std::string& idempotency_key) override;
  // An order with intent CAPTURE paid by the vaulted token; the charge id is the capture's.
  ChargeResult charge(const ChargeRequest& request) override;
  RefundResult refund(const RefundRequest& request) override;
  // A capture's state; for an order waiting for the payer (paypal::kOrderReference), the
  // order's: still waiting, or approved by the payer and then captured here (PayPal-Request-Id
  // "capture:<order>", so that two askers capture once), or voided.
  ChargeResult fetch_charge(const std::string& charge_id) override;
  // PayPal has no call that cancels an order, but only Recur captures its orders: an order
  // still waiting for the payer is answered kFailed "canceled" (certain: it is never captured
  // afterwards, since its payment is then recorded failed); one the payer approved meanwhile
  // is captured (the customer did authenticate) and answered as that capture.
  ChargeResult cancel_charge(const std::string& charge_id) override;
  // Asks PayPal whether the webhook is genuine (see the file comment): FAILURE, a missing
  // PAYPAL-* header or a 4xx is ErrorKind::kUnauthorized "invalid_signature"; no answer, a
  // 5xx or refused credentials are ErrorKind::kUnavailable (not accepted: PayPal retries);
  // no webhook id configured is kUnavailable "webhooks_unsupported". `now` is not used:
  // PayPal's check covers the transmission time, and a replayed event acts once anyway.
  Result<WebhookEvent> verify_webhook(const std::map<std::string, std::string>& headers, const std::string& body,
                                      Timestamp now) override;

 private:
  // The request with a bearer token; a 401 drops the token and sends once more with a new one.
  // deadline: a charge's (ChargeRequest::deadline); each call's timeout is what is left of it.
  using Deadline = std::optional<std::chrono::steady_clock::time_point>;
  Result<net::HttpResponse> send(const std::string& method, const std::string& path, const Json* body,
                                 const std::string& request_id, Deadline deadline = std::nullopt);
  Result<net::HttpResponse> send_text(const std::string& method, const std::string& path, const std::string* body,
                                      const std::string& request_id, Deadline deadline = std::nullopt);
  Result<net::HttpResponse> send_once(const std::string& method, const std::string& path, const std::string* body,
                                      const std::string& request_id, const std::string& token, Deadline deadline);
  // The cached token, or a new one when there is none or it is about to expire (asked for
  // within what is left of `deadline`).
  Result<std::string> access_token(Deadline deadline = std::nullopt);
  void forget_token(const std::string& token);

  PayPalConfig config_;
  Transport transport_;
  Now now_;
  std::mutex token_mu_;  // held while a token is fetched, so concurrent calls fetch one
  std::string token_;
  Timestamp token_renew_at_ = 0;
};

std::unique_ptr<Gateway> make_paypal_gateway(PayPalConfig config);

// PayPal's requests and answers, as pure functions, so tests feed them recorded answers.
namespace paypal {

inline constexpr std::size_t kMaxRequestId = 108;  // Orders v2's PayPal-Request-Id

// `money` as PayPal's decimal string in the currency's exponent: EUR 1999 -> "19.99",
// JPY 500 -> "500", KWD 1234 -> "1.234"; HUF and TWD, which PayPal takes in whole units
// only, HUF 150000 -> "1500" (a fraction is refused). Zero, negative and unknown currencies
// are ErrorKind::kInvalid "invalid_amount" (PayPal moves positive amounts only).
Result<std::string> amount_value(const Money& money);
// The PayPal-Request-Id for `key` (at most kMaxRequestId characters, the same for the same key).
std::string request_id(const std::string& key);
// The vault's customer id for Recur's customer: the first 22 hex digits of SHA-256 of the
// id (the vault accepts at most 22 characters of [0-9a-zA-Z_-]; Recur's ids are longer).
std::string vault_customer_id(const std::string& recur_customer);
// The body of POST /v1/oauth2/token's answer.
Result<PayPalAccessToken> access_token_from(const Result<net::HttpResponse>& response);
// A charge waiting for the payer is an order, not a capture yet: its charge id is
// kOrderReference + the order id, so that fetch_charge and cancel_charge ask about the
// order (and capture it once the payer approved it) rather than about a capture.
inline constexpr std::string_view kOrderReference = "order:";
// An Order (with its first capture) or PayPal's error as a charge: a COMPLETED capture
// succeeds; an order waiting for the payer (PAYER_ACTION_REQUIRED: 3-D Secure, or a wallet
// that needs the buyer again) is kRequiresAction with the order's reference and its
// payer-action link as action_url; a DECLINED or FAILED capture, a VOIDED order and other
// 4xx fail (422 issues lower-cased: "instrument_declined"); a PENDING capture, 401/403
// (Recur's credentials refused), 409, 5xx, 429, no answer and non-JSON bodies are unknown.
ChargeResult charge_from_order(const Result<net::HttpResponse>& response);
// A Capture (GET /v2/payments/captures/{id}) as a charge, by the same rules.
ChargeResult charge_from_capture(const Result<net::HttpResponse>& response);
// A Refund: COMPLETED succeeds, CANCELLED/FAILED and 4xx fail, PENDING is unknown.
RefundResult refund_from(const Result<net::HttpResponse>& response);
// A payment token's card: its vault id, brand, last digits and expiry; other payment
// sources and 4xx are ErrorKind::kInvalid "payment_method_refused".
Result<PaymentMethodInfo> payment_token_from(const Result<net::HttpResponse>& response);

// The PAYPAL-* transmission headers (names lower-case) every webhook carries; a missing one
// is ErrorKind::kUnauthorized "invalid_signature".
struct Transmission {
  std::string auth_algo, cert_url, transmission_id, transmission_sig, transmission_time;
};
Result<Transmission> transmission_from(const std::map<std::string, std::string>& headers);
// The verify-webhook-signature request body: the transmission, the webhook id and the event
// exactly as received (spliced in, not re-serialized). Requires: `event` is a JSON object.
std::string verify_request_body(const Transmission& t, const std::string& webhook_id, const std::string& event);
// Its answer: SUCCESS is accepted; FAILURE and other 4xx are kUnauthorized
// "invalid_signature"; no answer, 5xx, 401/403 (Recur's credentials) and anything else
// are kUnavailable.
Status verification_from(const Result<net::HttpResponse>& response);
// PayPal's {"currency_code", "value"} in minor units ("19.99" EUR -> 1999; HUF "1500" ->
// 150000); none when it is not that shape.
std::optional<Money> money_from(const Json& amount);
// A webhook event (its id, event_type and resource) and its notice:
// PAYMENT.CAPTURE.COMPLETED / .DENIED / .DECLINED / .PENDING (a charge notice: the capture,
// linked by custom_id = Recur's invoice), PAYMENT.CAPTURE.REFUNDED (a refund notice: the
// refund, its capture from the "up" link), CUSTOMER.DISPUTE.CREATED / .UPDATED / .RESOLVED
// (a dispute notice: the first disputed transaction's seller_transaction_id is the capture;
// dispute_outcome RESOLVED_BUYER_FAVOUR / ACCEPTED is lost, RESOLVED_SELLER_FAVOUR /
// CANCELED_BY_BUYER / DENIED / RESOLVED_WITH_PAYOUT won).
Result<WebhookEvent> event_from(const std::string& body);

}  // namespace paypal
}  // namespace recur::gateways
