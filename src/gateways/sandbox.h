// The sandbox gateway: deterministic, driven by Stripe's documented test payment methods,
// with a switch to inject faults. It remembers what it charged (in its own tables, in its
// own transactions, as a remote gateway would), so an idempotency key answers the same
// after a crash of Recur, and tests can count the charges that really happened.
//
// Payment methods (Stripe's test ids; each "attaches", as in Stripe's docs):
//   pm_card_visa, pm_card_mastercard, pm_card_amex     every charge succeeds
//   pm_card_chargeDeclined                             declined: card_declined
//   pm_card_chargeDeclinedInsufficientFunds            declined: insufficient_funds
//   pm_card_chargeCustomerFail                         attaches; every charge declined
//   pm_card_visa_chargeDeclinedStolenCard              declined: stolen_card (hard)
//   pm_card_visa_chargeDeclinedLostCard                declined: lost_card (hard)
//   pm_card_chargeDeclinedFraudulent                   declined: fraudulent (hard)
//   pm_card_chargeDeclinedExpiredCard                  declined: expired_card (hard)
//   pm_card_chargeDeclinedIncorrectCvc                 declined: incorrect_cvc (hard)
//   pm_card_chargeDeclinedProcessingError              declined: processing_error (soft)
// Decline codes are Stripe's (card_declined is the normalised generic_decline).
//   pm_card_expiring                                   succeeds; expires this month
//   pm_card_authenticationRequired                     every charge requires_action (3-D Secure):
//                                                      authenticate() then settles it
// Wallets (type paypal or venmo: an e-mail, no card details), charged off-session:
//   pm_paypal, pm_venmo                                every charge succeeds
//   pm_paypal_chargeDeclined                           declined: card_declined
// Anything else is refused at attach with payment_method_refused.
#pragma once

#include <mutex>
#include <random>

#include "gateways/gateway.h"
#include "platform/clock.h"
#include "platform/db/database.h"

namespace recur::gateways {

// Fault injection: each is a probability in [0, 1], drawn from a seeded generator.
struct SandboxFaults {
  double timeout_before_charge = 0;  // the request never reached the gateway
  double timeout_after_charge = 0;   // the charge happened; the answer was lost
  double server_error = 0;           // a 5xx before anything happened
  std::uint64_t seed = 1;
  int latency_ms = 0;                // each charge and refund takes this long to answer
};

// Parses "timeout_before_charge=0.1,timeout_after_charge=0.2,server_error=0.1,seed=7,latency_ms=5".
Result<SandboxFaults> parse_sandbox_faults(std::string_view spec);

// The sandbox's webhooks are Stripe Event objects signed like Stripe's (header
// Sandbox-Signature) with this well-known secret: anyone can sign them, so App accepts
// them over HTTP only in test mode.
inline constexpr std::string_view kSandboxWebhookSecret = "whsec_sandbox";

class SandboxGateway final : public Gateway {
 public:
  SandboxGateway(db::Database& db, const Clock& clock, SandboxFaults faults = {});

  void set_faults(const SandboxFaults& faults);

  std::string name() const override { return "sandbox"; }
  Result<std::string> create_customer(const GatewayCustomerInput& input) override;
  Result<PaymentMethodInfo> attach_payment_method(const std::string& gateway_customer, const std::string& token,
                                                  const std::string& idempotency_key) override;
  ChargeResult charge(const ChargeRequest& request) override;
  // As a charge would answer, moving no money and recording nothing (its faults apply).
  ChargeResult verify_payment_method(const std::string& gateway_customer, const std::string& token,
                                     const std::string& idempotency_key) override;
  RefundResult refund(const RefundRequest& request) override;
  ChargeResult fetch_charge(const std::string& charge_id) override;
  ChargeResult cancel_charge(const std::string& charge_id) override;
  // The customer's answer to a charge's 3-D Secure challenge (what the bank's page does in
  // Stripe's test mode): approved, the charge succeeds; refused, it fails with
  // authentication_failed. Returns the charge as it now is; a charge not waiting for it is
  // answered as it is (kFailed resource_missing when unknown).
  ChargeResult authenticate(const std::string& charge_id, bool approve);
  Result<WebhookEvent> verify_webhook(const std::map<std::string, std::string>& headers, const std::string& body,
                                      Timestamp now) override;

 private:
  enum class Fault { kNone, kTimeoutBefore, kTimeoutAfter, kServerError };
  Fault draw();
  // A charge waiting in requires_action takes `status` (and `failure_code`, or none); any
  // other is left as it is. Returns the charge as it now is.
  ChargeResult end_challenge(const std::string& charge_id, const char* status, const char* failure_code);
  int latency() {
    std::lock_guard lock(mu_);
    return faults_.latency_ms;
  }

  db::Database& db_;
  const Clock& clock_;
  std::mutex mu_;
  SandboxFaults faults_;
  std::mt19937_64 rng_;
};

}  // namespace recur::gateways
