// The actor recorded in history for a request made with an API key.
#pragma once

#include "events/model.h"
#include "platform/http/message.h"

namespace recur::access {

// With the request's id and the caller's address, which the audit log records.
inline events::Actor actor_of(const http::Request& request) {
  if (!request.principal) return events::Actor{"anonymous", "", "", request.request_id, request.remote_address};
  // A customer session acts as its customer (the session's id is no one the history knows).
  if (!request.principal->customer.empty())
    return events::Actor{"customer", request.principal->customer, "customer_session", request.request_id,
                         request.remote_address};
  return events::Actor{"api_key", request.principal->key_id, request.principal->role, request.request_id,
                       request.remote_address};
}

}  // namespace recur::access
