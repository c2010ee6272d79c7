// HTTP mapping of the events API (/v1/events) and webhook endpoints (/v1/webhook-endpoints).
#pragma once

#include "platform/http/router.h"
#include "webhooks/events_api.h"
#include "webhooks/service.h"

namespace recur::webhooks {

void add_routes(http::Router& router, EventsApi& events);
void add_endpoint_routes(http::Router& router, WebhookService& webhooks);

// The API's objects: a webhook endpoint (its secret only when `with_secret`: on creation and
// rotation; null elsewhere) and a delivery with its attempts.
Json to_json(const Endpoint& endpoint, bool with_secret);
Json to_json(const Delivery& delivery);

}  // namespace recur::webhooks
