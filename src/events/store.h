// The event log (outbox) in SQL.
#pragma once

#include <vector>

#include "events/model.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"
#include "platform/metrics/backlog.h"
#include "platform/page.h"

namespace recur::events {

// Hears of every appended event inside the transaction that appends it (analytics keeps its
// timelines so, committed or rolled back with the change): attached to the database by the
// app (db::Database::attach). An error fails the append, and with it the change.
class AppendObserver : public db::Attachment {
 public:
  virtual Status appended(db::Tx& tx, const Event& event) = 0;
};

// Stores the event and puts it in the outbox (event_outbox, below) webhooks deliver from,
// then tells the database's AppendObservers (the plaintext event).
// Requires: called inside the transaction that made the change.
Status append(db::Tx& tx, const Event& event);

// Oldest first; `starting_after` is an event id.
Result<Page<Event>> list_for_resource(db::Tx& tx, const std::string& resource_id, const ListParams& page);

// GET /v1/events: newest first, of any of `types` (exact, or "invoice.*" for a resource's
// every type), about `resource` (an id), created at or after `visible_from` (the retention
// window the API shows).
struct EventFilter {
  std::vector<std::string> types;
  std::optional<std::string> resource;
  Timestamp visible_from = 0;
  ListParams page;
};
Result<Page<Event>> list_events(db::Tx& tx, const EventFilter& filter);
Result<std::optional<Event>> find_event(db::Tx& tx, const std::string& id);
// The events of `ids` that exist, in no particular order.
Result<std::vector<Event>> find_events(db::Tx& tx, const std::vector<std::string>& ids);

// An event by id, type and time: an outbox entry, or one of a window's events.
struct OutboxEntry {
  std::string event_id;
  std::string type;
  Timestamp created = 0;
  // The outbox's commit-order sequence (event_outbox.seq, migration 34); 0 outside it.
  std::int64_t seq = 0;
};
// The events created in [from, to), oldest first, at most `limit` (webhook replays).
Result<std::vector<OutboxEntry>> events_between(db::Tx& tx, Timestamp from, Timestamp to, int limit);

// The outbox: every appended event waits in it until its readers (webhooks' fan-out) have
// taken it. Its `seq` is taken from a database sequence when the event is inserted, after
// the business transaction wrote the resource's row: two events of one resource get their
// numbers in commit order on every node (the row lock orders them), which ids and times,
// made from each node's whole-second clock, do not (decision 0015).
// Up to `limit` entries, lowest seq first, locked for this transaction (PostgreSQL
// skips rows other workers hold; SQLite's write transaction holds the whole database).
Result<std::vector<OutboxEntry>> lock_outbox(db::Tx& tx, int limit);
Status remove_from_outbox(db::Tx& tx, const std::string& event_id);
Result<bool> outbox_empty(db::Tx& tx);
// The entry waiting longest, not locked (the stream publisher holds back what is newer).
Result<std::optional<OutboxEntry>> oldest_in_outbox(db::Tx& tx);

// Appends events stamped with a fresh id and the injected clock's time. The resource type
// is the event type's first word: "subscription.paused" -> "subscription".
class Recorder {
 public:
  Recorder(IdGenerator& ids, const Clock& clock) : ids_(ids), clock_(clock) {}
  // Requires: called inside the transaction that made the change.
  Status record(db::Tx& tx, const std::string& type, const std::string& resource_id, const Actor& actor, Json before,
                Json after, Json details = nullptr);

 private:
  IdGenerator& ids_;
  const Clock& clock_;
};

// An event as stored, its payload unparsed ({"before", "after", "details"} as JSON text).
struct StoredEvent {
  std::string resource_id;
  std::string type;
  Timestamp created = 0;
  std::string payload;
  std::string id;
  std::string actor_type;
};
// Every event about resources of `resource_type` created before `until`, by resource, then
// time, then id (inventory's forecast replays subscriptions from them; analytics rebuilds).
Result<std::vector<StoredEvent>> events_before(db::Tx& tx, const std::string& resource_type, Timestamp until);

// The outbox's size and its oldest event's time (/metrics): fan-out empties it in seconds.
Result<metrics::Backlog> outbox_backlog(db::Tx& tx);

}  // namespace recur::events
