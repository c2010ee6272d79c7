// Webhook endpoints and deliveries in SQL (the event outbox is the events module's).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "events/store.h"
#include "platform/db/database.h"
#include "platform/metrics/backlog.h"
#include "platform/page.h"
#include "webhooks/model.h"

namespace recur::webhooks {

Status insert(db::Tx& tx, const Endpoint& e);
// Writes `e` if the stored version is still `expected_version`; false if it moved on.
Result<bool> update(db::Tx& tx, const Endpoint& e, std::int64_t expected_version);
// Bookkeeping of the delivery workers, not an edit: the version stays.
Status set_failing_since(db::Tx& tx, const std::string& endpoint_id, std::optional<Timestamp> since);
Result<std::optional<Endpoint>> find_endpoint(db::Tx& tx, const std::string& id, bool for_update);
// The endpoint behind a supplier's webhook_url, locked for this transaction; none if it has none.
Result<std::optional<Endpoint>> find_supplier_endpoint(db::Tx& tx, const std::string& supplier_id);
Result<Page<Endpoint>> list_endpoints(db::Tx& tx, const ListParams& page);
// Removes the endpoint and its deliveries.
Status remove_endpoint(db::Tx& tx, const std::string& id);
Result<std::vector<Endpoint>> enabled_endpoints(db::Tx& tx);

// Inserts `d`; a fan-out delivery (origin "event") already there for its endpoint and event
// is left alone.
Status insert(db::Tx& tx, const Delivery& d);
Result<bool> update(db::Tx& tx, const Delivery& d, std::int64_t expected_version);
Result<std::optional<Delivery>> find_delivery(db::Tx& tx, const std::string& id, bool for_update);
// Pending deliveries due at `now` of enabled endpoints: per endpoint its longest due, at most
// `per_endpoint` less its count in `in_flight` (attempts already running); of those the
// `limit` longest due, locked (rows other workers hold are skipped on PostgreSQL).
struct DueQuery {
  Timestamp now = 0;
  int limit = 0;
  int per_endpoint = 0;
  std::vector<std::pair<std::string, int>> in_flight;
};
Result<std::vector<Delivery>> lock_due(db::Tx& tx, const DueQuery& query);
// When the next pending delivery is due (test clock stops).
Result<std::optional<Timestamp>> next_due_at(db::Tx& tx);

// A replay's events whose fan-out delivery to the endpoint is in `status`: those created in
// [from, to), oldest first, at most `limit`.
struct ReplayWindow {
  std::string endpoint_id;
  Timestamp from = 0;
  Timestamp to = 0;
  std::string status;
  int limit = 0;
};
Result<std::vector<events::OutboxEntry>> replay_events(db::Tx& tx, const ReplayWindow& window);

struct DeliveryFilter {
  std::string endpoint_id;
  std::vector<std::string> statuses;  // any of them; all when empty
  ListParams page;
};
Result<Page<Delivery>> list_deliveries(db::Tx& tx, const DeliveryFilter& filter);

// Deliveries waiting (/metrics): every pending one, and the earliest due time among those due
// by `now` (how late the senders are, not how long a receiver has been failing).
Result<metrics::Backlog> delivery_backlog(db::Tx& tx, Timestamp now);
// The stream outbox (decision 0015): events not yet published to NATS.
Result<metrics::Backlog> stream_backlog(db::Tx& tx);

}  // namespace recur::webhooks
