// Checkout: a new subscription's first invoice charged inside the signup request, while the
// customer is still on the shop's page (Stripe's payment_behavior; docs/billing-rules.md,
// "Checkout").
//
// The subscription is created in its own transaction first (incomplete when its first period
// owes money: subscriptions::await_first_payment), then its invoice is charged on the
// exactly-once path of decision 0005 (Collector::attempt: a pending payment committed before
// the gateway is called), then the answer is made from what was recorded. A lost answer
// leaves the payment pending, settled later by a billing run or a webhook as any other.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "billing/collector.h"
#include "subscriptions/service.h"

namespace recur::billing {

inline constexpr std::chrono::milliseconds kDefaultCheckoutTimeout{20000};

enum class PaymentBehavior {
  kAllowIncomplete,    // charge now; a refusal leaves the subscription incomplete (default)
  kErrorIfIncomplete,  // charge now; a refusal answers 402 and ends the subscription at once
  kDefaultIncomplete,  // charge nothing now: the client pays the invoice (e.g. after a card)
};

std::optional<PaymentBehavior> payment_behavior_from(std::string_view text);
inline constexpr std::string_view kPaymentBehaviors[] = {"allow_incomplete", "error_if_incomplete",
                                                         "default_incomplete"};

class Checkout {
 public:
  // timeout: how long a signup waits for the gateway's answer (--checkout-timeout); past it
  // the subscription is answered incomplete with its payment pending, settled later.
  Checkout(db::Database& db, subscriptions::SubscriptionService& subscriptions, Collector& collector,
           gateways::Gateways& gateways, std::chrono::milliseconds timeout = kDefaultCheckoutTimeout)
      : db_(db), subscriptions_(subscriptions), collector_(collector), gateways_(gateways), timeout_(timeout) {}

  // POST /v1/subscriptions. input.request_key (the scoped Idempotency-Key) makes a retry
  // resume the first try: its subscription, its pending payment asked about again with the
  // same gateway key, never a second subscription or a second charge. The API always names
  // a behavior (allow_incomplete when the body does not); none (std::nullopt) creates without
  // checkout: active at once, the first invoice left to the next billing run.
  // Errors: those of SubscriptionService::create; with error_if_incomplete, 402 card_declined
  // (or the refusal's own failure code) after the subscription was ended (incomplete_expired,
  // its invoice void, its box released), the problem naming the subscription, the invoice,
  // the payment and the decline code.
  // verify_payment_method: before anything is created, the customer's default payment method
  // is checked with the gateway, moving no money (Stripe's SetupIntent; docs/billing-rules.md,
  // "Verifying the card"): refused, 402 card_declined (payment_method_required without one)
  // and nothing is created; no answer, 503 gateway_error. A retry that finds its subscription
  // does not check again.
  Result<subscriptions::Subscription> subscribe(const subscriptions::CreateInput& input, PaymentBehavior behavior,
                                                const events::Actor& actor, bool verify_payment_method = false);

  // POST /v1/subscriptions/{id}/change-plan: the change (SubscriptionService::change_plan),
  // then the invoice it issued at once (always_invoice, or a new period on an interval change)
  // charged in the request on the same exactly-once path, waiting at most the checkout
  // timeout. The change stands whatever the charge's answer (Stripe's allow_incomplete): a
  // refusal leaves the invoice open and the subscription past_due, and dunning follows;
  // default_incomplete charges nothing now (the run or POST /v1/invoices/{id}/pay does).
  // error_if_incomplete is not offered for changes (docs/billing-rules.md, "Plan changes").
  // input.request_key: a retry finds the first try's change and only asks again about its
  // charge.
  Result<subscriptions::Subscription> change_plan(const std::string& id, const subscriptions::ChangePlanInput& input,
                                                  PaymentBehavior behavior,
                                                  std::optional<std::int64_t> expected_version,
                                                  const events::Actor& actor);

 private:
  db::Database& db_;
  subscriptions::SubscriptionService& subscriptions_;
  // The customer's default payment method checked with its gateway (verify_payment_method).
  recur::Status verify_card(const std::string& customer, const std::string& request_key);

  Collector& collector_;
  gateways::Gateways& gateways_;
  std::chrono::milliseconds timeout_;
};

}  // namespace recur::billing
