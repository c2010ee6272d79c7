// The one payment-gateway interface. Recur never sees card data: customers and payment
// methods are the gateway's tokens ("cus_...", "pm_..."), and every money-moving call
// carries an idempotency key so a retry after a timeout can never charge twice.
//
// Calls block (they run on the billing runner's thread or an HTTP worker). They never
// throw: a transport failure or a 5xx becomes Outcome::kUnknown (charges, refunds) or an
// ErrorKind::kUnavailable error (everything else).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "platform/json.h"
#include "platform/money.h"
#include "platform/result.h"
#include "platform/time.h"

namespace recur::gateways {

// A customer as the gateway knows it.
struct GatewayCustomerInput {
  std::string recur_customer;  // "cus_..." (Recur's id, sent as metadata)
  std::string email;
  std::string name;
  std::string idempotency_key;
};

// What kind of payment method a token is: a card, or a wallet (PayPal's own, or Venmo)
// charged off-session from its vaulted agreement.
inline constexpr std::string_view kPaymentMethodTypes[] = {"card", "paypal", "venmo"};

// A payment method attached to a gateway customer. Display data only (a card's brand, last
// 4 digits and expiry; a wallet's e-mail address): what a PCI SAQ-A merchant may keep.
struct PaymentMethodInfo {
  std::string token;  // the gateway's id of the payment method ("pm_...")
  std::string brand;  // "visa", "mastercard", ... (cards)
  std::string last4;
  int exp_month = 0;
  int exp_year = 0;
  std::string type = "card";  // one of kPaymentMethodTypes
  std::string email;          // a wallet's account e-mail, when the gateway names it
};

struct ChargeRequest {
  std::string gateway_customer;  // from create_customer
  std::string payment_method;    // PaymentMethodInfo::token
  Money amount;
  std::string description;
  std::string idempotency_key;   // derived from invoice and attempt: "in_...:1"
  std::map<std::string, std::string> metadata;  // invoice, subscription
  // When set, the caller waits no longer (checkout's --checkout-timeout: the customer is on
  // the page). Past it the answer is Outcome::kUnknown "timeout", and the charge may still
  // happen: it is asked about again later with the same idempotency key.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::string payment_method_type = "card";  // PaymentMethodInfo::type: how the token is charged
};

// The HTTP timeout of one call made for `request`: the adapter's own, shortened to what is
// left before the request's deadline (at least 1 ms, so that a call past it fails at once).
inline std::chrono::milliseconds time_left(std::chrono::milliseconds configured,
                                           std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (!deadline) return configured;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
  return std::clamp(left, std::chrono::milliseconds(1), std::max(configured, std::chrono::milliseconds(1)));
}
inline std::chrono::milliseconds time_left(std::chrono::milliseconds configured, const ChargeRequest& request) {
  return time_left(configured, request.deadline);
}

enum class Outcome {
  kSucceeded,
  kFailed,   // a definitive refusal (decline, insufficient funds): the money did not move
  kUnknown,  // timeout, 5xx, connection lost: ask again with the same idempotency key
  // Strong customer authentication (3-D Secure): the bank wants the customer to confirm the
  // payment. Neither success nor decline: the money has not moved, and it moves only if the
  // customer authenticates (then fetch_charge, or the gateway's webhook, says succeeded).
  kRequiresAction,
};

struct ChargeResult {
  Outcome outcome = Outcome::kUnknown;
  std::string charge_id;     // the gateway's id ("pi_...") when it answered
  std::string failure_code;  // "card_declined", "insufficient_funds", "timeout", "gateway_error"
  std::string failure_message;
  // A refusal by the card's issuer, in Stripe's decline-code names (billing/failure_codes.h
  // classifies them hard or soft): each adapter maps its gateway's codes. Empty when the
  // failure is not an issuer's decline (a bad request, an unsettled answer).
  std::string decline_code;
  // kRequiresAction: where the customer authenticates when the gateway gives a page for it
  // (Stripe's next_action.redirect_to_url); "" when the shop's page completes it with the
  // gateway's client SDK and the charge id.
  std::string action_url;
};

struct RefundRequest {
  std::string charge_id;
  Money amount;
  std::string reason;  // "requested_by_customer", "duplicate", "fraudulent"
  std::string idempotency_key;
};

struct RefundResult {
  Outcome outcome = Outcome::kUnknown;
  std::string refund_id;
  std::string failure_code;
  std::string failure_message;
};

// What a webhook says about a charge Recur asked for, read by the adapter that knows the
// gateway's format. Each link back to Recur is filled when the gateway sends it.
struct ChargeNotice {
  ChargeResult result;          // kUnknown while the gateway has not settled it either
  std::string payment;          // Recur's payment id (metadata of the charge)
  std::string invoice;          // Recur's invoice id (metadata, or Square's reference_id)
  std::string idempotency_key;  // of the request that made the charge
  std::optional<Money> amount;
  std::optional<Timestamp> created;  // when the gateway made the charge
};

// What a webhook says about a refund.
struct RefundNotice {
  RefundResult result;
  std::string charge_id;        // the charge it gives money back from
  std::string idempotency_key;  // of the request that made the refund ("refund:re_...")
  std::optional<Money> amount;
};

// A customer's bank disputes a charge: the money is held until the dispute is decided.
struct DisputeNotice {
  std::string dispute_id;
  std::string charge_id;
  std::optional<Money> amount;
  std::string reason;
  // "" while the dispute is open; "won" (the merchant keeps the money, or an inquiry closed
  // without a chargeback) or "lost" (the money went back to the customer) once closed.
  std::string outcome;
};

// An incoming webhook whose signature checked out. At most one notice is set; an event
// with none is one Recur records and otherwise ignores.
struct WebhookEvent {
  std::string id;
  std::string type;  // the gateway's own event type ("payment_intent.succeeded")
  Json data;
  std::optional<ChargeNotice> charge;
  std::optional<RefundNotice> refund;
  std::optional<DisputeNotice> dispute;
};

class Gateway {
 public:
  virtual ~Gateway() = default;
  virtual std::string name() const = 0;  // "sandbox", "stripe", ...

  // Returns the gateway's customer id.
  virtual Result<std::string> create_customer(const GatewayCustomerInput& input) = 0;
  // Attaches a token (made client-side by the gateway's own JS/SDK) to a customer.
  // A refused card is ErrorKind::kInvalid with code "payment_method_refused".
  virtual Result<PaymentMethodInfo> attach_payment_method(const std::string& gateway_customer,
                                                          const std::string& token,
                                                          const std::string& idempotency_key) = 0;
  // Charges off-session (the customer is not present), confirmed at once.
  virtual ChargeResult charge(const ChargeRequest& request) = 0;
  // Checks that a payment method can be charged off-session later, moving no money (a
  // signup with verify_payment_method that charges nothing now: Stripe's SetupIntent).
  // kSucceeded: it can; kFailed: refused (with the decline code); kRequiresAction: the bank
  // wants the customer to authenticate; kUnknown: no answer. This default is for gateways
  // whose attach_payment_method already verified the card with the issuer (Square's
  // cards on file, PayPal's vaulted payment tokens): nothing more to ask.
  virtual ChargeResult verify_payment_method(const std::string& gateway_customer, const std::string& token,
                                             const std::string& idempotency_key) {
    (void)gateway_customer;
    (void)token;
    (void)idempotency_key;
    return {Outcome::kSucceeded, "", "", ""};
  }
  virtual RefundResult refund(const RefundRequest& request) = 0;
  // The current state of a charge the gateway answered for.
  virtual ChargeResult fetch_charge(const std::string& charge_id) = 0;
  // Cancels a charge that waits for the customer's authentication (kRequiresAction), so that
  // it can never succeed later, and answers its state afterwards: kFailed once canceled,
  // kSucceeded when the customer authenticated it first, kUnknown without an answer. This
  // default is for gateways that never leave a charge waiting: it only asks.
  virtual ChargeResult cancel_charge(const std::string& charge_id) { return fetch_charge(charge_id); }
  // Checks an incoming webhook's signature (with a replay tolerance around `now`).
  // Header names are lower-case. A bad or stale signature is ErrorKind::kUnauthorized.
  virtual Result<WebhookEvent> verify_webhook(const std::map<std::string, std::string>& headers,
                                              const std::string& body, Timestamp now) = 0;
};

}  // namespace recur::gateways
