// The events API (GET /v1/events, /v1/events/{id}): the event log read out, newest first,
// within the retention window. The log itself is kept: it is each resource's history, the
// forecast's replay and the analytics' source (decision 0014).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "events/store.h"
#include "platform/clock.h"
#include "platform/db/database.h"

namespace recur::webhooks {

inline constexpr int kDefaultEventRetentionDays = 30;

// What GET /v1/events may filter on: types (exact or "<resource>.*"), a resource id,
// created bounds and the page.
struct EventQuery {
  std::vector<std::string> types;
  std::optional<std::string> resource;
  ListParams page;
};

class EventsApi {
 public:
  EventsApi(db::Database& db, const Clock& clock, int retention_days = kDefaultEventRetentionDays)
      : db_(db), clock_(clock), retention_days_(retention_days) {}

  Result<Page<events::Event>> list(const EventQuery& query);
  // 404 event_not_found for an unknown id and for one older than the window.
  Result<events::Event> get(const std::string& id);
  // The oldest time the API shows now.
  Timestamp visible_from() const;

 private:
  db::Database& db_;
  const Clock& clock_;
  int retention_days_;
};

// True when `pattern` is an event type the catalogue names, "<resource>.*" for a resource
// the catalogue has, or "*" (webhook endpoints' enabled_events; "*" only where `star`).
bool is_event_pattern(std::string_view pattern, bool star);
// The event types Recur records (docs/events.md, checked by ctest event_types).
const std::vector<std::string_view>& event_types();

}  // namespace recur::webhooks
