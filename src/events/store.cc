// Event log persistence.
#include "events/store.h"

#include "audit/store.h"
#include "platform/db/list_query.h"
#include "privacy/privacy.h"

namespace recur::events {

Json previous_attributes(const Json& before, const Json& after) {
  if (!before.is_object() || !after.is_object()) return nullptr;
  Json changed = Json::object();
  for (const auto& [key, value] : before.items()) {
    auto now = after.find(key);
    if (now == after.end() || *now != value) changed[key] = value;
  }
  for (const auto& [key, value] : after.items())
    if (!before.contains(key)) changed[key] = nullptr;
  return changed;
}

Json to_json(const Event& e) {
  return Json{{"id", e.id},
              {"object", "event"},
              {"type", e.type},
              {"created", format_rfc3339(e.created)},
              {"resource", {{"type", e.resource_type}, {"id", e.resource_id}}},
              {"actor", to_json(e.actor)},
              {"data", {{"object", e.after.is_null() ? e.before : e.after},
                        {"previous_attributes", previous_attributes(e.before, e.after)}}},
              {"details", e.details.is_null() ? Json::object() : e.details}};
}

namespace {

// The owner of an event's details: the customer its object belongs to.
std::string details_owner(const Json& before, const Json& after) {
  return privacy::owner_of(after.is_object() ? after : before, "");
}


// The audit entry of an appended event: who, from where, and the names of the fields that
// changed, read from the plaintext before/after (the values stay out of the audit log).
audit::Entry audit_entry(const Event& e) {
  audit::Entry a;
  a.id = "aud_" + e.id.substr(e.id.find('_') + 1);  // the event's time-sortable id, one entry per event
  a.created = e.created;
  a.actor_type = audit::actor_kind(e.actor.type, e.actor.role);
  a.actor_id = e.actor.id;
  a.actor_role = e.actor.role;
  a.request_id = e.actor.request_id;
  a.source_ip = e.actor.source_ip;
  a.resource_type = e.resource_type;
  a.resource_id = e.resource_id;
  a.action = e.type;
  a.fields = audit::changed_fields(e.before, e.after);
  a.event_id = e.id;
  return a;
}

}  // namespace

Status append(db::Tx& tx, const Event& e) {
  // Every change is an audit entry, committed with it (audit/store.h).
  RECUR_TRY(audit::record(tx, audit_entry(e)));
  Json payload = {{"before", e.before}, {"after", e.after}, {"details", e.details}};
  // Personal fields of the copies are sealed like the rows they copy (privacy/model.h).
  RECUR_TRY(privacy::seal(tx, payload["before"], e.id));
  RECUR_TRY(privacy::seal(tx, payload["after"], e.id));
  RECUR_TRY(privacy::seal(tx, payload["details"], e.id, "event_details", details_owner(e.before, e.after)));
  // Nothing acts on their results: they travel with the next statement (which sees them) or
  // COMMIT. With it, its row in the outbox webhooks fan out from: it commits, or rolls back,
  // with the event. On PostgreSQL both in one statement (a renewal records six events).
  static constexpr const char* kInsertEvent =
      "INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
  db::Params row{e.id,       e.type,       e.resource_type, e.resource_id, e.actor.type,
                 e.actor.id, e.actor.role, e.created,       payload.dump()};
  if (tx.engine() == db::Engine::kPostgres) {
    static const std::string with_outbox =
        std::string("WITH event AS (") + kInsertEvent +
        ") INSERT INTO event_outbox (event_id, type, created_at) VALUES ($1, $2, $8)";
    RECUR_TRY(tx.exec_later(with_outbox, std::move(row)));
  } else {
    RECUR_TRY(tx.exec_later(kInsertEvent, std::move(row)));
    RECUR_TRY(tx.exec_later("INSERT INTO event_outbox (event_id, type, created_at) VALUES ($1, $2, $3)",
                            {e.id, e.type, e.created}));
  }
  return tx.each_attached<AppendObserver>([&](AppendObserver& o) { return o.appended(tx, e); });
}

Status Recorder::record(db::Tx& tx, const std::string& type, const std::string& resource_id, const Actor& actor,
                        Json before, Json after, Json details) {
  Event e{ids_.next("evt"), type, type.substr(0, type.find('.')), resource_id, actor, clock_.now(),
          std::move(before), std::move(after), std::move(details)};
  return append(tx, e);
}

namespace {

constexpr const char* kEventColumns =
    "SELECT id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload FROM events";

Result<Event> event_from_row(db::Tx& tx, const db::Row& row) {
  Event e{row.text(0), row.text(1), row.text(2), row.text(3),
          Actor{row.text(4), row.text(5), row.text(6)}, row.int64(7), nullptr, nullptr, nullptr};
  Json payload = Json::parse(row.text(8), nullptr, false);
  if (payload.is_object()) {
    e.before = payload.value("before", Json());
    e.after = payload.value("after", Json());
    e.details = payload.value("details", Json());
    RECUR_TRY(privacy::open(tx, e.before, e.id));
    RECUR_TRY(privacy::open(tx, e.after, e.id));
    RECUR_TRY(privacy::open(tx, e.details, e.id, "event_details", details_owner(e.before, e.after)));
  }
  return e;
}

Result<std::vector<Event>> events_from_rows(db::Tx& tx, const std::vector<db::Row>& rows) {
  std::vector<Event> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    RECUR_ASSIGN(auto e, event_from_row(tx, row));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

Result<Page<Event>> list_for_resource(db::Tx& tx, const std::string& resource_id, const ListParams& page) {
  db::ListQuery query(kEventColumns, "id", db::ListQuery::Order::kOldestFirst);
  RECUR_ASSIGN(auto rows, query.where("resource_id = $?", resource_id).doc_column("").fetch(tx, page));
  RECUR_ASSIGN(auto events, events_from_rows(tx, rows));
  return page_of(std::move(events), page.limit);
}

Result<Page<Event>> list_events(db::Tx& tx, const EventFilter& f) {
  db::ListQuery query(kEventColumns);
  query.where("created_at >= $?", f.visible_from).where_equal("resource_id", f.resource).doc_column("");
  // Exact types and "<resource>.*" wildcards (an event's resource_type is its type's first
  // word), any of them.
  std::vector<std::string> exact, resources;
  for (const auto& type : f.types) {
    if (type.ends_with(".*")) resources.push_back(type.substr(0, type.size() - 2));
    else exact.push_back(type);
  }
  auto placeholders = [](std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += i ? ", $?" : "$?";
    return out;
  };
  std::vector<std::string> any;
  std::vector<db::Value> values;
  if (!exact.empty()) any.push_back("type IN (" + placeholders(exact.size()) + ")");
  if (!resources.empty()) any.push_back("resource_type IN (" + placeholders(resources.size()) + ")");
  for (auto& v : exact) values.emplace_back(std::move(v));
  for (auto& v : resources) values.emplace_back(std::move(v));
  if (any.size() == 1) query.where(any[0], std::move(values));
  if (any.size() == 2) query.where("(" + any[0] + " OR " + any[1] + ")", std::move(values));
  RECUR_ASSIGN(auto rows, query.fetch(tx, f.page));
  RECUR_ASSIGN(auto events, events_from_rows(tx, rows));
  return page_of(std::move(events), f.page.limit);
}

Result<std::optional<Event>> find_event(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query(std::string(kEventColumns) + " WHERE id = $1", {id}));
  if (rows.empty()) return std::optional<Event>();
  RECUR_ASSIGN(auto e, event_from_row(tx, rows[0]));
  return std::optional<Event>(std::move(e));
}

Result<std::vector<Event>> find_events(db::Tx& tx, const std::vector<std::string>& ids) {
  std::vector<Event> out;
  if (ids.empty()) return out;
  std::string sql = std::string(kEventColumns) + " WHERE id IN (";
  db::Params params;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    sql += (i ? ", $" : "$") + std::to_string(i + 1);
    params.emplace_back(ids[i]);
  }
  RECUR_ASSIGN(auto rows, tx.query(sql + ")", params));
  return events_from_rows(tx, rows);
}

Result<std::vector<OutboxEntry>> events_between(db::Tx& tx, Timestamp from, Timestamp to, int limit) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, type, created_at FROM events WHERE created_at >= $1 AND created_at < $2"
                                   " ORDER BY created_at, id LIMIT " + std::to_string(limit),
                                   {from, to}));
  std::vector<OutboxEntry> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back({row.text(0), row.text(1), row.int64(2)});
  return out;
}

namespace {
// A row of `SELECT event_id, type, created_at, seq FROM event_outbox`.
OutboxEntry outbox_entry(const db::Row& row) { return {row.text(0), row.text(1), row.int64(2), row.int64(3)}; }
}  // namespace

Result<std::vector<OutboxEntry>> lock_outbox(db::Tx& tx, int limit) {
  std::string sql = "SELECT event_id, type, created_at, seq FROM event_outbox ORDER BY seq LIMIT " +
                    std::to_string(limit);
  if (tx.engine() == db::Engine::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
  RECUR_ASSIGN(auto rows, tx.query(sql));
  std::vector<OutboxEntry> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(outbox_entry(row));
  return out;
}

Status remove_from_outbox(db::Tx& tx, const std::string& event_id) {
  return tx.exec_later("DELETE FROM event_outbox WHERE event_id = $1", {event_id});
}

Result<std::optional<OutboxEntry>> oldest_in_outbox(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT event_id, type, created_at, seq FROM event_outbox ORDER BY seq LIMIT 1"));
  if (rows.empty()) return std::optional<OutboxEntry>();
  return std::optional<OutboxEntry>(outbox_entry(rows[0]));
}

Result<bool> outbox_empty(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT event_id FROM event_outbox LIMIT 1"));
  return rows.empty();
}

Result<std::vector<StoredEvent>> events_before(db::Tx& tx, const std::string& resource_type, Timestamp until) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT resource_id, type, created_at, payload, id, actor_type FROM events"
                                   " WHERE resource_type = $1 AND created_at < $2"
                                   " ORDER BY resource_id, created_at, id",
                                   {resource_type, until}));
  std::vector<StoredEvent> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back({row.text(0), row.text(1), row.int64(2), row.text(3), row.text(4), row.text(5)});
  return out;
}

Result<metrics::Backlog> outbox_backlog(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*), MIN(created_at) FROM event_outbox"));
  return metrics::Backlog{rows.at(0).int64(0), rows.at(0).opt_int64(1)};
}

}  // namespace recur::events
