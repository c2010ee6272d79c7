// The gifts module's SQL.
#include "gifts/store.h"

#include "platform/db/list_query.h"
#include "platform/digest.h"
#include "privacy/privacy.h"

namespace recur::gifts {
namespace {

Result<Gift> gift_of(db::Tx& tx, const db::Row& row) {
  auto doc = Json::parse(row.text(0));
  const std::string id = doc.at("id");
  RECUR_TRY(privacy::open(tx, doc, id));
  return gift_from_doc(doc);
}

Result<std::optional<Gift>> first_gift(db::Tx& tx, const db::Rows& rows) {
  if (rows.empty()) return std::optional<Gift>();
  RECUR_ASSIGN(auto g, gift_of(tx, rows[0]));
  return std::optional<Gift>(std::move(g));
}

Result<std::string> sealed_doc(db::Tx& tx, const Gift& g) {
  auto doc = to_json(g, true);  // the code stays, sealed
  RECUR_TRY(privacy::seal(tx, doc, g.id));
  return doc.dump();
}

db::Value optional_text(const std::optional<std::string>& s) { return s ? db::Value(*s) : db::Value(nullptr); }

}  // namespace

std::string claim_code_hash(std::string_view normalized_code) { return sha256_hex(normalized_code); }

recur::Status insert_gift(db::Tx& tx, const Gift& g) {
  RECUR_ASSIGN(auto doc, sealed_doc(tx, g));
  auto n = tx.exec(
      "INSERT INTO gifts (id, purchaser_id, status, claim_code_hash, invoice_id, subscription_id, send_at, expires_at,"
      " created_at, version, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      {g.id, g.purchaser, std::string(to_string(g.status)), claim_code_hash(normalize_claim_code(g.claim_code)),
       g.invoice, optional_text(g.subscription), g.send_at, g.expires_at, g.created, g.version, doc});
  if (!n.ok()) return std::move(n).error();
  return Ok{};
}

Result<bool> update_gift(db::Tx& tx, const Gift& g, std::int64_t expected_version) {
  RECUR_ASSIGN(auto doc, sealed_doc(tx, g));
  RECUR_ASSIGN(auto n, tx.exec("UPDATE gifts SET status = $1, subscription_id = $2, version = $3, doc = $4"
                               " WHERE id = $5 AND version = $6",
                               {std::string(to_string(g.status)), optional_text(g.subscription), g.version, doc, g.id,
                                expected_version}));
  return n == 1;
}

Result<std::optional<Gift>> find_gift(db::Tx& tx, const std::string& id, bool for_update) {
  RECUR_ASSIGN(auto rows,
               tx.query("SELECT doc FROM gifts WHERE id = $1" + std::string(for_update ? tx.for_update() : ""), {id}));
  return first_gift(tx, rows);
}

Result<std::optional<Gift>> find_gift_by_code(db::Tx& tx, const std::string& normalized_code, bool for_update) {
  if (normalized_code.empty()) return std::optional<Gift>();
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM gifts WHERE claim_code_hash = $1" +
                                       std::string(for_update ? tx.for_update() : ""),
                                   {claim_code_hash(normalized_code)}));
  return first_gift(tx, rows);
}

Result<std::optional<Gift>> find_gift_by_invoice(db::Tx& tx, const std::string& invoice) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM gifts WHERE invoice_id = $1", {invoice}));
  return first_gift(tx, rows);
}

Result<std::optional<Gift>> find_gift_by_subscription(db::Tx& tx, const std::string& subscription) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM gifts WHERE subscription_id = $1", {subscription}));
  return first_gift(tx, rows);
}

Result<Page<Gift>> list_gifts(db::Tx& tx, const GiftFilter& f) {
  RECUR_ASSIGN(auto rows, db::ListQuery("SELECT doc FROM gifts")
                              .where_equal("purchaser_id", f.purchaser)
                              .where_equal("status", f.status)
                              .fetch(tx, f.page));
  std::vector<Gift> gifts;
  for (const auto& row : rows) {
    RECUR_ASSIGN(auto g, gift_of(tx, row));
    gifts.push_back(std::move(g));
  }
  return page_of(gifts, f.page.limit);
}

Result<std::vector<std::string>> due_gifts(db::Tx& tx, Timestamp now, int limit, const std::string& after) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id FROM gifts WHERE id > $1 AND ((status = 'pending' AND send_at <= $2)"
                                   " OR (status IN ('pending', 'sent') AND expires_at <= $2)) ORDER BY id LIMIT $3",
                                   {after, now, std::int64_t{limit}}));
  std::vector<std::string> ids;
  for (const auto& r : rows) ids.push_back(r.text(0));
  return ids;
}

Result<std::optional<Timestamp>> next_send_at(db::Tx& tx, Timestamp now) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT MIN(send_at) FROM gifts WHERE status = 'pending' AND send_at > $1", {now}));
  if (rows.empty() || rows[0].is_null(0)) return std::optional<Timestamp>();
  return std::optional<Timestamp>(rows[0].int64(0));
}

}  // namespace recur::gifts
