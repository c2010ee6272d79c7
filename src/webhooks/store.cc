// Webhook SQL.
#include "webhooks/store.h"

#include "platform/db/list_query.h"

namespace recur::webhooks {
namespace {

constexpr const char* kEndpointColumns =
    "SELECT id, url, status, enabled_events, secret, previous_secret, previous_secret_expires_at, description,"
     " metadata, created_at, updated_at, version, failing_since, supplier_id FROM webhook_endpoints";

Endpoint endpoint_from_row(const db::Row& row) {
  Endpoint e;
  e.id = row.text(0);
  e.url = row.text(1);
  e.status = row.text(2);
  Json events = Json::parse(row.text(3), nullptr, false);
  if (events.is_array())
    for (const auto& v : events) e.enabled_events.push_back(v.get<std::string>());
  e.secret = row.text(4);
  e.previous_secret = row.opt_text(5);
  e.previous_secret_expires_at = row.opt_int64(6);
  e.description = row.opt_text(7);
  Json metadata = Json::parse(row.text(8), nullptr, false);
  e.metadata = metadata.is_object() ? metadata : Json::object();
  e.created = row.int64(9);
  e.updated = row.int64(10);
  e.version = row.int64(11);
  e.failing_since = row.opt_int64(12);
  e.supplier_id = row.opt_text(13);
  return e;
}

std::string events_text(const Endpoint& e) { return Json(e.enabled_events).dump(); }

constexpr const char* kDeliveryColumns =
    "SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.origin, d.status, d.attempts, d.next_attempt_at,"
    " d.last_status_code, d.last_error, d.last_duration_ms, d.history, d.created_at, d.updated_at, d.version,"
    " d.event_created FROM webhook_deliveries d";

// A disabled endpoint's pending deliveries wait until it is enabled again.
constexpr const char* kOfEnabledEndpoint =
    " d.endpoint_id IN (SELECT id FROM webhook_endpoints WHERE status = 'enabled')";

Delivery delivery_from_row(const db::Row& row) {
  Delivery d;
  d.id = row.text(0);
  d.endpoint_id = row.text(1);
  d.event_id = row.text(2);
  d.event_type = row.text(3);
  d.origin = row.text(4);
  d.status = row.text(5);
  d.attempts = static_cast<int>(row.int64(6));
  d.next_attempt_at = row.opt_int64(7);
  if (auto code = row.opt_int64(8)) d.last_status_code = static_cast<int>(*code);
  d.last_error = row.opt_text(9);
  d.last_duration_ms = row.opt_int64(10);
  Json history = Json::parse(row.text(11), nullptr, false);
  if (history.is_array())
    for (const auto& a : history) d.history.push_back(attempt_from_json(a));
  d.created = row.int64(12);
  d.updated = row.int64(13);
  d.version = row.int64(14);
  d.event_created = row.int64(15);
  return d;
}

std::string history_text(const Delivery& d) {
  Json out = Json::array();
  for (const auto& a : d.history) out.push_back(to_json(a));
  return out.dump();
}

db::Value nullable_int(const std::optional<int>& v) { return v ? db::Value(std::int64_t{*v}) : db::Value(nullptr); }

}  // namespace

Status insert(db::Tx& tx, const Endpoint& e) {
  return tx.exec_later("INSERT INTO webhook_endpoints (id, url, status, enabled_events, secret, previous_secret,"
                       " previous_secret_expires_at, description, metadata, created_at, updated_at, version,"
                       " failing_since, supplier_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
                       " $14)",
                       {e.id, e.url, e.status, events_text(e), e.secret, db::nullable(e.previous_secret),
                        db::nullable(e.previous_secret_expires_at), db::nullable(e.description), e.metadata.dump(),
                        e.created, e.updated, e.version, db::nullable(e.failing_since), db::nullable(e.supplier_id)});
}

Result<bool> update(db::Tx& tx, const Endpoint& e, std::int64_t expected_version) {
  RECUR_ASSIGN(auto changed,
               tx.exec("UPDATE webhook_endpoints SET url = $2, status = $3, enabled_events = $4, secret = $5,"
                       " previous_secret = $6, previous_secret_expires_at = $7, description = $8, metadata = $9,"
                       " updated_at = $10, version = $11, failing_since = $13 WHERE id = $1 AND version = $12",
                       {e.id, e.url, e.status, events_text(e), e.secret, db::nullable(e.previous_secret),
                        db::nullable(e.previous_secret_expires_at), db::nullable(e.description), e.metadata.dump(),
                        e.updated, e.version, expected_version, db::nullable(e.failing_since)}));
  return changed == 1;
}

Status set_failing_since(db::Tx& tx, const std::string& endpoint_id, std::optional<Timestamp> since) {
  return tx.exec_later("UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1",
                       {endpoint_id, db::nullable(since)});
}

Result<std::optional<Endpoint>> find_endpoint(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = std::string(kEndpointColumns) + " WHERE id = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<Endpoint>();
  return std::optional<Endpoint>(endpoint_from_row(rows[0]));
}

Result<std::optional<Endpoint>> find_supplier_endpoint(db::Tx& tx, const std::string& supplier_id) {
  std::string sql = std::string(kEndpointColumns) + " WHERE supplier_id = $1";
  sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {supplier_id}));
  if (rows.empty()) return std::optional<Endpoint>();
  return std::optional<Endpoint>(endpoint_from_row(rows[0]));
}

Result<Page<Endpoint>> list_endpoints(db::Tx& tx, const ListParams& page) {
  db::ListQuery query(kEndpointColumns);
  query.doc_column("");
  RECUR_ASSIGN(auto rows, query.fetch(tx, page));
  return page_of(rows, page.limit, endpoint_from_row);
}

Status remove_endpoint(db::Tx& tx, const std::string& id) {
  RECUR_TRY(tx.exec("DELETE FROM webhook_deliveries WHERE endpoint_id = $1", {id}));
  RECUR_TRY(tx.exec("DELETE FROM webhook_endpoints WHERE id = $1", {id}));
  return Ok{};
}

Result<std::vector<Endpoint>> enabled_endpoints(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query(std::string(kEndpointColumns) + " WHERE status = 'enabled' ORDER BY id"));
  std::vector<Endpoint> out;
  for (const auto& row : rows) out.push_back(endpoint_from_row(row));
  return out;
}

Status insert(db::Tx& tx, const Delivery& d) {
  return tx.exec_later("INSERT INTO webhook_deliveries (id, endpoint_id, event_id, origin, status, attempts,"
                       " next_attempt_at, last_status_code, last_error, last_duration_ms, created_at, updated_at,"
                       " version, history, event_type, event_created)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                       " ON CONFLICT DO NOTHING",
                       {d.id, d.endpoint_id, d.event_id, d.origin, d.status, std::int64_t{d.attempts},
                        db::nullable(d.next_attempt_at), nullable_int(d.last_status_code), db::nullable(d.last_error),
                        db::nullable(d.last_duration_ms), d.created, d.updated, d.version, history_text(d),
                        d.event_type, d.event_created});
}

Result<bool> update(db::Tx& tx, const Delivery& d, std::int64_t expected_version) {
  RECUR_ASSIGN(auto changed,
               tx.exec("UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4,"
                       " last_status_code = $5, last_error = $6, last_duration_ms = $7, updated_at = $8, version = $9,"
                       " history = $10 WHERE id = $1 AND version = $11",
                       {d.id, d.status, std::int64_t{d.attempts}, db::nullable(d.next_attempt_at),
                        nullable_int(d.last_status_code), db::nullable(d.last_error), db::nullable(d.last_duration_ms),
                        d.updated, d.version, history_text(d), expected_version}));
  return changed == 1;
}

Result<std::optional<Delivery>> find_delivery(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = std::string(kDeliveryColumns) + " WHERE d.id = $1";
  if (for_update && tx.engine() == db::Engine::kPostgres) sql += " FOR UPDATE OF d";
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<Delivery>();
  return std::optional<Delivery>(delivery_from_row(rows[0]));
}

Result<std::vector<Delivery>> lock_due(db::Tx& tx, const DueQuery& q) {
  // A lane per endpoint: its longest due deliveries, at most per_endpoint less what is in
  // flight (so one endpoint's backlog never fills a batch), each read from the pending
  // deliveries' index on (endpoint_id, next_attempt_at): a claim costs the same whatever the
  // backlog. Then the longest due of all lanes, locked.
  RECUR_ASSIGN(auto endpoints, tx.query("SELECT id FROM webhook_endpoints WHERE status = 'enabled' ORDER BY id"));
  std::string lanes;
  db::Params params{q.now};
  for (const auto& row : endpoints) {
    std::string endpoint = row.text(0);
    int cap = q.per_endpoint;
    for (const auto& [busy, running] : q.in_flight)
      if (busy == endpoint) cap -= running;
    if (cap <= 0) continue;
    params.emplace_back(std::move(endpoint));
    std::string n = std::to_string(params.size());
    if (!lanes.empty()) lanes += " UNION ALL ";
    lanes += "SELECT * FROM (SELECT id, next_attempt_at FROM webhook_deliveries WHERE endpoint_id = $" + n +
             " AND status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT " +
             std::to_string(cap) + ") lane" + n;
  }
  std::vector<Delivery> out;
  if (lanes.empty()) return out;
  std::string sql = std::string(kDeliveryColumns) + " WHERE d.id IN (SELECT id FROM (" + lanes +
                    ") due ORDER BY next_attempt_at, id LIMIT " + std::to_string(q.limit) +
                    ") AND d.status = 'pending' AND d.next_attempt_at <= $1 ORDER BY d.next_attempt_at, d.id";
  if (tx.engine() == db::Engine::kPostgres) sql += " FOR UPDATE OF d SKIP LOCKED";
  RECUR_ASSIGN(auto rows, tx.query(sql, params));
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(delivery_from_row(row));
  return out;
}

Result<std::optional<Timestamp>> next_due_at(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d"
                                               " WHERE d.status = 'pending' AND") + kOfEnabledEndpoint));
  return rows.empty() ? std::optional<Timestamp>() : rows[0].opt_int64(0);
}

Result<std::vector<events::OutboxEntry>> replay_events(db::Tx& tx, const ReplayWindow& w) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT event_id, event_type, event_created FROM webhook_deliveries"
                                   " WHERE endpoint_id = $1 AND origin = 'event' AND status = $2"
                                   " AND event_created >= $3 AND event_created < $4"
                                   " ORDER BY event_created, event_id LIMIT " + std::to_string(w.limit),
                                   {w.endpoint_id, w.status, w.from, w.to}));
  std::vector<events::OutboxEntry> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back({row.text(0), row.text(1), row.int64(2)});
  return out;
}

Result<Page<Delivery>> list_deliveries(db::Tx& tx, const DeliveryFilter& f) {
  db::ListQuery query(kDeliveryColumns, "d.id");
  query.where("d.endpoint_id = $?", f.endpoint_id).where_in("d.status", f.statuses).created_column("d.created_at");
  query.doc_column("");
  RECUR_ASSIGN(auto rows, query.fetch(tx, f.page));
  return page_of(rows, f.page.limit, delivery_from_row);
}

Result<metrics::Backlog> delivery_backlog(db::Tx& tx, Timestamp now) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*), MIN(CASE WHEN next_attempt_at <= $1 THEN next_attempt_at END)"
                                   " FROM webhook_deliveries WHERE status = 'pending'",
                                   {now}));
  return metrics::Backlog{rows.at(0).int64(0), rows.at(0).opt_int64(1)};
}

Result<metrics::Backlog> stream_backlog(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*), MIN(created_at) FROM stream_outbox"));
  return metrics::Backlog{rows.at(0).int64(0), rows.at(0).opt_int64(1)};
}

}  // namespace recur::webhooks
