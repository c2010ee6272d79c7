// Notification SQL.
#include "notify/store.h"

#include "platform/db/list_query.h"

namespace recur::notify {
namespace {

Notification from_row(const db::Row& row) { return notification_from_doc(Json::parse(row.text(0))); }

}  // namespace

Status insert(db::Tx& tx, const Notification& n) {
  // Nothing acts on its result: it travels with the next statement (which sees it) or COMMIT.
  return tx.exec_later("INSERT INTO notifications (id, channel, template, customer_id, resource_id, status,"
                       " next_attempt_at, version, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                       {n.id, std::string(to_string(n.channel)), n.template_name, db::nullable(n.customer),
                        db::nullable(n.resource), std::string(to_string(n.status)), db::nullable(n.next_attempt_at),
                        n.version, n.created, to_doc(n).dump()});
}

Result<bool> update(db::Tx& tx, const Notification& n, std::int64_t expected_version) {
  RECUR_ASSIGN(auto changed, tx.exec("UPDATE notifications SET status = $2, next_attempt_at = $3, version = $4,"
                                     " doc = $5 WHERE id = $1 AND version = $6",
                                     {n.id, std::string(to_string(n.status)), db::nullable(n.next_attempt_at),
                                      n.version, to_doc(n).dump(), expected_version}));
  return changed == 1;
}

Result<std::optional<Notification>> find(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = "SELECT doc FROM notifications WHERE id = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<Notification>();
  return std::optional<Notification>(from_row(rows[0]));
}

Result<Page<Notification>> list(db::Tx& tx, const ListFilter& f) {
  db::ListQuery query("SELECT doc FROM notifications");
  query.where_equal("customer_id", f.customer)
      .where_in("status", f.statuses)
      .where_in("channel", f.channels)
      .where_equal("template", f.template_name)
      .where_equal("resource_id", f.resource);
  RECUR_ASSIGN(auto rows, query.fetch(tx, f.page));
  return page_of(rows, f.page.limit, from_row);
}

Result<std::optional<Notification>> lock_next_due(db::Tx& tx, Timestamp now) {
  std::string sql = "SELECT doc FROM notifications WHERE next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT 1";
  if (tx.engine() == db::Engine::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
  RECUR_ASSIGN(auto rows, tx.query(sql, {now}));
  if (rows.empty()) return std::optional<Notification>();
  return std::optional<Notification>(from_row(rows[0]));
}

}  // namespace recur::notify
