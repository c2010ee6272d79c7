// HTTP mapping of /v1/subscriptions and /v1/retention-offers.
#pragma once

#include <functional>

#include "platform/http/router.h"
#include "subscriptions/service.h"

namespace recur::subscriptions {

// How POST /v1/subscriptions creates: billing's checkout (which charges the first invoice in
// the request), given the body's `payment_behavior` ("" when absent). Unset: create only.
using Subscribe = std::function<Result<Subscription>(const CreateInput& input, const std::string& payment_behavior,
                                                     const events::Actor& actor)>;

void add_routes(http::Router& router, SubscriptionService& service, RetentionService& retention,
                Subscribe subscribe = {});

}  // namespace recur::subscriptions
