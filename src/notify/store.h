// Notification persistence: the columns lists and the dispatcher query, plus the document.
#pragma once

#include <optional>
#include <vector>

#include "notify/model.h"
#include "platform/db/database.h"
#include "platform/metrics/backlog.h"
#include "platform/page.h"

namespace recur::notify {

struct ListFilter {
  std::optional<std::string> customer;
  std::vector<std::string> statuses;  // any of them; all when empty
  std::vector<std::string> channels;  // "email", "sms": any of them; all when empty
  std::optional<std::string> template_name;
  std::optional<std::string> resource;
  ListParams page;
};

Status insert(db::Tx& tx, const Notification& n);
// The customer's messages not sent yet (queued, or failed with a retry due), locked.
Result<std::vector<Notification>> pending_for_customer(db::Tx& tx, const std::string& customer);
// Writes `n` if the stored version is still `expected_version`; false if it moved on.
Result<bool> update(db::Tx& tx, const Notification& n, std::int64_t expected_version);
Result<std::optional<Notification>> find(db::Tx& tx, const std::string& id, bool for_update);
Result<Page<Notification>> list(db::Tx& tx, const ListFilter& filter);
// The message due longest ago (next_attempt_at <= now), locked for this transaction. On
// PostgreSQL rows other dispatchers hold are skipped (SKIP LOCKED), so each takes its own;
// on SQLite the write transaction already holds the database lock.
Result<std::optional<Notification>> lock_next_due(db::Tx& tx, Timestamp now);

// Messages waiting to be sent or retried (/metrics), and the earliest due time among those
// due by `now` (how late the dispatcher is).
Result<metrics::Backlog> notification_backlog(db::Tx& tx, Timestamp now);

}  // namespace recur::notify
