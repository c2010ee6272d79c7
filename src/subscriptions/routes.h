// HTTP mapping of /v1/subscriptions and /v1/retention-offers.
#pragma once

#include "platform/http/router.h"
#include "subscriptions/service.h"

namespace recur::subscriptions {

void add_routes(http::Router& router, SubscriptionService& service, RetentionService& retention);

}  // namespace recur::subscriptions
