// HTTP mapping of /v1/notifications (read-only: the delivery record).
#pragma once

#include "notify/service.h"
#include "platform/http/router.h"

namespace recur::notify {

void add_routes(http::Router& router, Notifier& notifier);

}  // namespace recur::notify
