// The actor recorded in history for a request made with an API key.
#pragma once

#include "events/model.h"
#include "platform/http/message.h"

namespace recur::access {

inline events::Actor actor_of(const http::Request& request) {
  if (!request.principal) return events::Actor{"anonymous", "", ""};
  return events::Actor{"api_key", request.principal->key_id, request.principal->role};
}

}  // namespace recur::access
