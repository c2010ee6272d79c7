// Webhook endpoints, the event outbox and deliveries in SQL.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "platform/db/database.h"
#include "platform/page.h"
#include "webhooks/model.h"

namespace recur::webhooks {

Status insert(db::Tx& tx, const Endpoint& e);
// Writes `e` if the stored version is still `expected_version`; false if it moved on.
Result<bool> update(db::Tx& tx, const Endpoint& e, std::int64_t expected_version);
Result<std::optional<Endpoint>> find_endpoint(db::Tx& tx, const std::string& id, bool for_update);
Result<Page<Endpoint>> list_endpoints(db::Tx& tx, const ListParams& page);
// Removes the endpoint and its deliveries.
Status remove_endpoint(db::Tx& tx, const std::string& id);
Result<std::vector<Endpoint>> enabled_endpoints(db::Tx& tx);

// An event waiting in the outbox.
struct OutboxEntry {
  std::string event_id;
  std::string type;
};
// Up to `limit` outbox entries, oldest first, locked for this transaction (on PostgreSQL
// rows other workers hold are skipped; SQLite's write transaction holds the database).
Result<std::vector<OutboxEntry>> lock_outbox(db::Tx& tx, int limit);
Status remove_from_outbox(db::Tx& tx, const std::string& event_id);

// Inserts `d`; a fan-out delivery (origin "event") already there for its endpoint and event
// is left alone.
Status insert(db::Tx& tx, const Delivery& d);
Result<bool> update(db::Tx& tx, const Delivery& d, std::int64_t expected_version);
Result<std::optional<Delivery>> find_delivery(db::Tx& tx, const std::string& id, bool for_update);
// The pending delivery due longest ago (next_attempt_at <= now), locked, skipping rows other
// workers hold on PostgreSQL.
Result<std::optional<Delivery>> lock_next_due(db::Tx& tx, Timestamp now);
// When the next pending delivery is due (test clock stops).
Result<std::optional<Timestamp>> next_due_at(db::Tx& tx);
Result<bool> outbox_empty(db::Tx& tx);

// A replay's events: those created in [from, to) of a type the endpoint wants, oldest first,
// at most `limit`; with `status`, only those whose fan-out delivery to the endpoint is in it.
struct ReplayWindow {
  std::string endpoint_id;
  Timestamp from = 0;
  Timestamp to = 0;
  std::optional<std::string> status;
  int limit = 0;
};
Result<std::vector<OutboxEntry>> replay_events(db::Tx& tx, const ReplayWindow& window);

struct DeliveryFilter {
  std::string endpoint_id;
  std::vector<std::string> statuses;  // any of them; all when empty
  ListParams page;
};
Result<Page<Delivery>> list_deliveries(db::Tx& tx, const DeliveryFilter& filter);

}  // namespace recur::webhooks
