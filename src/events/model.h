// Domain events: what changed, on which resource, by whom. Appended in the same
// transaction as the change (the outbox); history and webhooks read them after commit.
#pragma once

#include <optional>
#include <string>

#include "platform/json.h"
#include "platform/time.h"

namespace recur::events {

// Who caused a change: an API key, the system (scheduler), or a CLI operator.
struct Actor {
  std::string type = "system";  // "api_key" | "system" | "cli"
  std::string id;               // "key_..." for api_key
  std::string role;
  static Actor system() { return Actor{"system", "scheduler", ""}; }
};

struct Event {
  std::string id;             // "evt_..."
  std::string type;           // "subscription.paused"
  std::string resource_type;  // "subscription"
  std::string resource_id;
  Actor actor;
  Timestamp created = 0;
  Json before;                // the resource before the change (null on create)
  Json after;                 // after the change (null on delete)
  Json details;               // extra facts: reason, proration lines, offer...
};

Json to_json(const Event& event);

}  // namespace recur::events
