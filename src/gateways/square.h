// The Square adapter: the Gateway interface over Square's REST API (Customers, Cards,
// Payments and Refunds v2): JSON bodies, a bearer access token, the idempotency key in
// the body of every POST.
//
// Keys: charge, refund and create_customer send the caller's key; attach_payment_method
// sends key + ":attach" (one use case may share its key between the two). Square accepts
// at most 45 characters, so a longer key is sent as the first 45 hex digits of its SHA-256:
// the same key always maps to the same Square key.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "gateways/exchange.h"
#include "gateways/gateway.h"

namespace recur::gateways {

// The normalised decline code (billing/failure_codes.h) of a refused charge's Square error
// code (lower-cased) or payment status; empty for a failure that is no decline. Pure.
std::string square_decline_code(std::string_view code);

inline constexpr std::string_view kSquareApiVersion = "2025-08-20";  // the spec's Square-Version

struct SquareConfig {
  std::string api_base = "https://connect.squareup.com";
  std::string access_token;
  std::string location_id;            // where payments are taken; "" = the seller's main location
  std::string webhook_signature_key;  // of Recur's webhook subscription
  std::string webhook_url;            // its notification URL, exactly as registered: Square signs it
  std::chrono::milliseconds timeout{15000};
};

class SquareGateway final : public Gateway {
 public:
  explicit SquareGateway(SquareConfig config, Transport transport = net::send);

  std::string name() const override { return "square"; }
  Result<std::string> create_customer(const GatewayCustomerInput& input) override;
  // `token` is a card nonce from Square's Web Payments SDK ("cnon:..."); the answer's token
  // is the card on file ("ccof:...") that charges use.
  Result<PaymentMethodInfo> attach_payment_method(const std::string& gateway_customer, const std::string& token,
                                                  const std::string& idempotency_key) override;
  ChargeResult charge(const ChargeRequest& request) override;
  RefundResult refund(const RefundRequest& request) override;
  ChargeResult fetch_charge(const std::string& charge_id) override;
  // Square's signature covers the notification URL and the body, with no timestamp, so
  // `now` is not used: replays must be absorbed by handling each event id once.
  Result<WebhookEvent> verify_webhook(const std::map<std::string, std::string>& headers, const std::string& body,
                                      Timestamp now) override;

 private:
  // timeout: this call's, when shorter than the configured one (a charge's deadline).
  Result<net::HttpResponse> send(std::string method, const std::string& path, const Json* body,
                                 std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  SquareConfig config_;
  Transport transport_;
};

std::unique_ptr<Gateway> make_square_gateway(SquareConfig config);

// How Square's answers map onto Recur's results. Pure, so tests feed them recorded answers.
namespace square {

// The key Square accepts for `key` (at most 45 characters).
std::string idempotency_key(const std::string& key);
// base64(HMAC-SHA256(signature_key, notification_url + body)): the expected signature.
std::string webhook_signature(std::string_view signature_key, std::string_view notification_url, std::string_view body);

// A Payment (or Square's errors) as a charge: COMPLETED succeeds; FAILED, CANCELED, a
// PAYMENT_METHOD_ERROR and other 4xx fail (codes lower-cased: "generic_decline");
// APPROVED, PENDING, 401/403 (Recur's token refused), 5xx, 429, no answer and non-JSON
// bodies are unknown.
ChargeResult charge_from(const Result<net::HttpResponse>& response);
// A PaymentRefund: COMPLETED succeeds, REJECTED/FAILED and 4xx fail, PENDING is unknown.
RefundResult refund_from(const Result<net::HttpResponse>& response);
Result<std::string> customer_from(const Result<net::HttpResponse>& response);
Result<PaymentMethodInfo> card_from(const Result<net::HttpResponse>& response);
// An event notification: its event_id, type and data.object, and what it says about
// money Recur asked for: payment.updated (a charge notice, linked by reference_id = the
// invoice), refund.updated, dispute.created and dispute.state.updated (.changed, its older
// name; WON/INQUIRY_CLOSED are won, LOST/ACCEPTED lost, other states still open).
Result<WebhookEvent> event_from(const std::string& body);

}  // namespace square
}  // namespace recur::gateways
