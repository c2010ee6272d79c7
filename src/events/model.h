// Domain events: what changed, on which resource, by whom. Appended in the same
// transaction as the change (the outbox); history and webhooks read them after commit.
#pragma once

#include <optional>
#include <string>

#include "platform/json.h"
#include "platform/time.h"

namespace recur::events {

// Who caused a change: an API key, the system (scheduler), a CLI operator, or a customer on
// the payment-update page ("customer", role "payment_update_token").
struct Actor {
  std::string type = "system";  // "api_key" | "system" | "cli" | "customer"
  std::string id;               // "key_..." for api_key
  std::string role;
  // Where the change came from, for the audit log (not in the event's actor object): the
  // request's id and the peer's address, on the request path; empty elsewhere.
  std::string request_id;
  std::string source_ip;
  static Actor system() { return Actor{"system", "scheduler", ""}; }
};

// The one JSON shape of an actor, in events and stock movements alike:
// {"type", "id", "role"}; a role that is empty (the scheduler's) is null.
inline Json to_json(const Actor& a) { return Json{{"type", a.type}, {"id", a.id}, {"role", text_or_null(a.role)}}; }
// Reads what to_json wrote. Requires: j is an object with "type" and "id".
inline Actor actor_from_json(const Json& j) {
  const auto& role = j.value("role", Json());
  return Actor{j.at("type"), j.at("id"), role.is_string() ? role.get<std::string>() : std::string()};
}

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

// The API's event object (docs/events.md): {id, object: "event", type, created, resource,
// actor, data: {object, previous_attributes}, details}. data.object is the resource after
// the change (before it, for a deletion; null for an event about no stored resource);
// previous_attributes, on a change of an existing resource only, holds the old value of
// each top-level field that changed (null for a field that did not exist), else null.
Json to_json(const Event& event);

// The old values of the top-level fields that differ between `before` and `after` (both
// objects); null unless both are objects.
Json previous_attributes(const Json& before, const Json& after);

}  // namespace recur::events
