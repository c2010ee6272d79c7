// HTTP mapping of the events API (/v1/events).
#pragma once

#include "platform/http/router.h"
#include "webhooks/events_api.h"

namespace recur::webhooks {

void add_routes(http::Router& router, EventsApi& events);

}  // namespace recur::webhooks
