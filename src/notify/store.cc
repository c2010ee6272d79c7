// Notification SQL.
#include "notify/store.h"

#include "platform/db/list_query.h"
#include "privacy/privacy.h"

namespace recur::notify {
namespace {

// Recipient, subject, bodies and the link secrets are sealed under the customer's data key
// (the system key for messages to no customer: the ops team, suppliers).
Result<std::string> sealed_doc(db::Tx& tx, const Notification& n) {
  auto doc = to_doc(n);
  RECUR_TRY(privacy::seal(tx, doc, n.id));
  return doc.dump();
}

Result<Notification> from_row(db::Tx& tx, const db::Row& row) {
  auto doc = Json::parse(row.text(0));
  RECUR_TRY(privacy::open(tx, doc, doc.at("id")));
  return notification_from_doc(doc);
}

Result<std::optional<Notification>> first(db::Tx& tx, const std::vector<db::Row>& rows) {
  if (rows.empty()) return std::optional<Notification>();
  RECUR_ASSIGN(auto n, from_row(tx, rows[0]));
  return std::optional<Notification>(std::move(n));
}

}  // namespace

Status insert(db::Tx& tx, const Notification& n) {
  RECUR_ASSIGN(auto doc, sealed_doc(tx, n));
  // Nothing acts on its result: it travels with the next statement (which sees it) or COMMIT.
  return tx.exec_later("INSERT INTO notifications (id, channel, template, customer_id, resource_id, status,"
                       " next_attempt_at, version, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                       {n.id, std::string(to_string(n.channel)), n.template_name, db::nullable(n.customer),
                        db::nullable(n.resource), std::string(to_string(n.status)), db::nullable(n.next_attempt_at),
                        n.version, n.created, doc});
}

Result<bool> update(db::Tx& tx, const Notification& n, std::int64_t expected_version) {
  RECUR_ASSIGN(auto doc, sealed_doc(tx, n));
  RECUR_ASSIGN(auto changed, tx.exec("UPDATE notifications SET status = $2, next_attempt_at = $3, version = $4,"
                                     " doc = $5 WHERE id = $1 AND version = $6",
                                     {n.id, std::string(to_string(n.status)), db::nullable(n.next_attempt_at),
                                      n.version, doc, expected_version}));
  return changed == 1;
}

Result<std::optional<Notification>> find(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = "SELECT doc FROM notifications WHERE id = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  return first(tx, rows);
}

Result<Page<Notification>> list(db::Tx& tx, const ListFilter& f) {
  db::ListQuery query("SELECT doc FROM notifications");
  query.where_equal("customer_id", f.customer)
      .where_in("status", f.statuses)
      .where_in("channel", f.channels)
      .where_equal("template", f.template_name)
      .where_equal("resource_id", f.resource);
  RECUR_ASSIGN(auto rows, query.fetch(tx, f.page));
  std::vector<Notification> out;
  for (const auto& row : rows) {
    RECUR_ASSIGN(auto n, from_row(tx, row));
    out.push_back(std::move(n));
  }
  return page_of(std::move(out), f.page.limit);
}

Result<std::vector<Notification>> pending_for_customer(db::Tx& tx, const std::string& customer) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM notifications WHERE customer_id = $1 AND next_attempt_at IS NOT NULL"
                                   " ORDER BY id" + std::string(tx.for_update()),
                                   {customer}));
  std::vector<Notification> out;
  for (const auto& row : rows) {
    RECUR_ASSIGN(auto n, from_row(tx, row));
    out.push_back(std::move(n));
  }
  return out;
}

Result<std::optional<Notification>> lock_next_due(db::Tx& tx, Timestamp now) {
  std::string sql = "SELECT doc FROM notifications WHERE next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT 1";
  if (tx.engine() == db::Engine::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
  RECUR_ASSIGN(auto rows, tx.query(sql, {now}));
  return first(tx, rows);
}

Result<metrics::Backlog> notification_backlog(db::Tx& tx, Timestamp now) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*), MIN(CASE WHEN next_attempt_at <= $1 THEN next_attempt_at END)"
                                   " FROM notifications WHERE next_attempt_at IS NOT NULL",
                                   {now}));
  return metrics::Backlog{rows.at(0).int64(0), rows.at(0).opt_int64(1)};
}

}  // namespace recur::notify
