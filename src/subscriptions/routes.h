// HTTP mapping of /v1/subscriptions and /v1/retention-offers.
#pragma once

#include <functional>

#include "platform/http/router.h"
#include "subscriptions/service.h"

namespace recur::subscriptions {

// What POST /v1/subscriptions asks of billing's checkout beside the subscription.
struct CheckoutRequest {
  std::string payment_behavior;        // "" when absent
  bool verify_payment_method = false;  // check the card before creating (a signup charging nothing)
};
// How POST /v1/subscriptions creates: billing's checkout (which charges the first invoice in
// the request). Unset: create only.
using Subscribe = std::function<Result<Subscription>(const CreateInput& input, const CheckoutRequest& checkout,
                                                     const events::Actor& actor)>;
// How POST /v1/subscriptions/{id}/change-plan changes: billing's checkout (which charges the
// invoice the change issues at once in the request). payment_behavior: "" when absent.
using ChangePlan = std::function<Result<Subscription>(
    const std::string& id, const ChangePlanInput& input, const std::string& payment_behavior,
    std::optional<std::int64_t> expected_version, const events::Actor& actor)>;
// Billing's ways in; unset: the route only creates or changes.
struct CheckoutHooks {
  Subscribe subscribe;
  ChangePlan change_plan;
};

void add_routes(http::Router& router, SubscriptionService& service, RetentionService& retention,
                CheckoutHooks checkout = {});

}  // namespace recur::subscriptions
