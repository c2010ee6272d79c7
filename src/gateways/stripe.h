// The Stripe adapter: the Gateway interface over Stripe's REST API (version 2020-08-27):
// form-encoded bodies, a bearer secret key, an Idempotency-Key on every POST.
//
// Keys: charge, refund and create_customer send the caller's idempotency key as it is;
// attach_payment_method sends key + ":attach", so one use case may pass the same key to
// create_customer and then to attach without Stripe refusing the second as a reuse.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gateways/exchange.h"
#include "gateways/gateway.h"

namespace recur::gateways {

// The normalised decline code (billing/failure_codes.h) of a refused charge's most specific
// Stripe code (its decline_code, else its error code or the PaymentIntent's status); empty
// for a failure that is no decline. Pure.
std::string stripe_decline_code(std::string_view code);

inline constexpr std::string_view kStripeApiVersion = "2020-08-27";

struct StripeConfig {
  std::string api_base = "https://api.stripe.com";
  std::string secret_key;      // "sk_live_..." or "sk_test_..."
  std::string webhook_secret;  // "whsec_...", the signing secret of Recur's webhook endpoint
  std::chrono::milliseconds timeout{15000};
};

class StripeGateway final : public Gateway {
 public:
  explicit StripeGateway(StripeConfig config, Transport transport = net::send);

  std::string name() const override { return "stripe"; }
  Result<std::string> create_customer(const GatewayCustomerInput& input) override;
  Result<PaymentMethodInfo> attach_payment_method(const std::string& gateway_customer, const std::string& token,
                                                  const std::string& idempotency_key) override;
  ChargeResult charge(const ChargeRequest& request) override;
  // POST /v1/setup_intents (confirm, usage off_session): moves no money.
  ChargeResult verify_payment_method(const std::string& gateway_customer, const std::string& token,
                                     const std::string& idempotency_key) override;
  RefundResult refund(const RefundRequest& request) override;
  ChargeResult fetch_charge(const std::string& charge_id) override;
  // POST /v1/payment_intents/{id}/cancel (cancellation_reason abandoned); when Stripe refuses
  // (the PaymentIntent succeeded or was canceled meanwhile), its state as fetched.
  ChargeResult cancel_charge(const std::string& charge_id) override;
  Result<WebhookEvent> verify_webhook(const std::map<std::string, std::string>& headers, const std::string& body,
                                      Timestamp now) override;

 private:
  using Fields = std::vector<std::pair<std::string, std::string>>;
  // timeout: this call's, when shorter than the configured one (a charge's deadline).
  Result<net::HttpResponse> post(const std::string& path, const Fields& fields, const std::string& idempotency_key,
                                 std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<net::HttpResponse> get(const std::string& path);
  net::HttpRequest request(std::string method, const std::string& path) const;

  StripeConfig config_;
  Transport transport_;
};

std::unique_ptr<Gateway> make_stripe_gateway(StripeConfig config);

// How Stripe's answers map onto Recur's results. Pure, so tests feed them recorded answers.
namespace stripe {

// A PaymentIntent (or Stripe's error) as a charge: "succeeded" succeeds; a card_error, an
// intent that needs a new payment method or authentication, other 4xx fail; "processing",
// 409, 401/403 (Recur's key refused), 5xx, 429, no answer and non-JSON bodies are unknown.
ChargeResult charge_from(const Result<net::HttpResponse>& response);
// A SetupIntent (or Stripe's error) as a verification: "succeeded" succeeds,
// "requires_action" waits for the customer, "requires_payment_method" and card errors fail
// with the last setup error's decline code, what settles nothing is unknown (as charges).
ChargeResult setup_from(const Result<net::HttpResponse>& response);
// The answer to a PaymentIntent cancel: the PaymentIntent it returns, read as a charge
// (canceled: kFailed; succeeded: kSucceeded); any refusal or missing answer is kUnknown,
// since it says nothing certain of the PaymentIntent (ask it: fetch_charge).
ChargeResult cancel_from(const Result<net::HttpResponse>& response);
// A Refund: "succeeded" succeeds, "failed"/"canceled" and 4xx fail, "pending" is unknown
// (so are 409, 401/403 and what settles nothing, as for charges).
RefundResult refund_from(const Result<net::HttpResponse>& response);
// The customer's id; a 4xx is ErrorKind::kInvalid "customer_refused".
Result<std::string> customer_from(const Result<net::HttpResponse>& response);
// The card's display data; a 4xx is ErrorKind::kInvalid "payment_method_refused".
Result<PaymentMethodInfo> payment_method_from(const Result<net::HttpResponse>& response);
// An Event object: its id, type and data.object, and what it says about money Recur asked
// for: payment_intent.succeeded / .payment_failed / .canceled (a charge notice, linked by
// metadata[payment], metadata[invoice] and request.idempotency_key), refund.updated,
// charge.refund.updated and charge.refunded (the newest refund), charge.dispute.created and
// charge.dispute.closed (status won or warning_closed: won; lost: lost).
Result<WebhookEvent> event_from(const std::string& body);

}  // namespace stripe
}  // namespace recur::gateways
