// Retention offers' SQL.
#include "subscriptions/retention_store.h"

#include "platform/db/list_query.h"

namespace recur::subscriptions {
namespace {

std::vector<RetentionOffer> offers_of(const std::vector<db::Row>& rows) {
  std::vector<RetentionOffer> out;
  for (const auto& row : rows) out.push_back(offer_from_doc(Json::parse(row.text(0))));
  return out;
}

}  // namespace

recur::Status insert_offer(db::Tx& tx, const RetentionOffer& o) {
  RECUR_TRY(tx.exec("INSERT INTO retention_offers (id, reason, active, version, doc, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    {o.id, o.reason, std::int64_t{o.active}, o.version, to_json(o).dump(), o.created}));
  return Ok{};
}

Result<std::optional<RetentionOffer>> find_offer(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = "SELECT doc FROM retention_offers WHERE id = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<RetentionOffer>();
  return std::optional<RetentionOffer>(offer_from_doc(Json::parse(rows[0].text(0))));
}

recur::Status update_offer(db::Tx& tx, const RetentionOffer& o) {
  RECUR_TRY(tx.exec("UPDATE retention_offers SET active = $2, version = $3, doc = $4 WHERE id = $1",
                    {o.id, std::int64_t{o.active}, o.version, to_json(o).dump()}));
  return Ok{};
}

Result<Page<RetentionOffer>> list_offers(db::Tx& tx, const std::string& reason, const ListParams& page) {
  db::ListQuery query("SELECT doc FROM retention_offers");
  if (!reason.empty()) query.where("reason = $?", reason);
  RECUR_ASSIGN(auto rows, query.fetch(tx, page));
  return page_of(rows, page.limit, [](const db::Row& row) { return offer_from_doc(Json::parse(row.text(0))); });
}

Result<std::vector<RetentionOffer>> active_offers(db::Tx& tx, const std::string& reason) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM retention_offers WHERE reason = $1 AND active = 1 ORDER BY id",
                                   {reason}));
  return offers_of(rows);
}

recur::Status record_outcome(db::Tx& tx, const std::string& id, const std::string& subscription,
                             const std::string& offer, const std::string& reason, std::string_view outcome,
                             Timestamp now) {
  RECUR_TRY(tx.exec("INSERT INTO retention_outcomes (id, subscription_id, offer_id, reason, outcome, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    {id, subscription, offer, reason, std::string(outcome), now}));
  return Ok{};
}

Result<std::optional<OfferState>> latest_outcome(db::Tx& tx, const std::string& subscription,
                                                 const std::string& offer) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT outcome, reason FROM retention_outcomes WHERE subscription_id = $1"
                                   " AND offer_id = $2 ORDER BY id DESC LIMIT 1",
                                   {subscription, offer}));
  if (rows.empty()) return std::optional<OfferState>();
  return std::optional<OfferState>(OfferState{rows[0].text(0), rows[0].text(1)});
}

Result<std::map<std::string, OfferState>> latest_outcomes(db::Tx& tx, const std::string& subscription) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT offer_id, outcome, reason FROM retention_outcomes"
                                   " WHERE subscription_id = $1 ORDER BY id",
                                   {subscription}));
  std::map<std::string, OfferState> latest;
  for (const auto& row : rows) latest[row.text(0)] = {row.text(1), row.text(2)};
  return latest;
}

}  // namespace recur::subscriptions
