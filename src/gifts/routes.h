// Gift routes: POST/GET /v1/gifts, GET /v1/gifts/{id}, POST /v1/gifts/claim.
#pragma once

#include "gifts/service.h"
#include "platform/http/router.h"

namespace recur::gifts {

void add_routes(http::Router& router, GiftService& service);

}  // namespace recur::gifts
