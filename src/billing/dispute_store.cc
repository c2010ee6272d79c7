// The disputes table and the dispute settings.
#include "billing/dispute_store.h"

namespace recur::billing {
namespace {

Result<std::optional<Dispute>> one_dispute(db::Tx& tx, const std::string& sql, const db::Params& params) {
  RECUR_ASSIGN(auto rows, tx.query(sql, params));
  if (rows.empty()) return std::optional<Dispute>();
  return std::optional<Dispute>(dispute_from_doc(Json::parse(rows[0].text(0))));
}

}  // namespace

recur::Status insert_dispute(db::Tx& tx, const Dispute& d) {
  RECUR_TRY(tx.exec("INSERT INTO disputes (id, gateway, gateway_dispute_id, payment_id, invoice_id, customer_id, status,"
                    " created_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    {d.id, d.gateway, d.gateway_reference, d.payment, d.invoice, d.customer,
                     std::string(to_string(d.status)), d.created, to_json(d).dump()}));
  return Ok{};
}

recur::Status update_dispute(db::Tx& tx, const Dispute& d) {
  RECUR_TRY(tx.exec("UPDATE disputes SET status = $2, doc = $3 WHERE id = $1",
                    {d.id, std::string(to_string(d.status)), to_json(d).dump()}));
  return Ok{};
}

Result<std::optional<Dispute>> find_dispute_by_reference(db::Tx& tx, const std::string& gateway,
                                                         const std::string& gateway_dispute_id, bool for_update) {
  std::string sql = "SELECT doc FROM disputes WHERE gateway = $1 AND gateway_dispute_id = $2";
  if (for_update) sql += tx.for_update();
  return one_dispute(tx, sql, {gateway, gateway_dispute_id});
}

Result<std::optional<Dispute>> find_dispute(db::Tx& tx, const std::string& id) {
  return one_dispute(tx, "SELECT doc FROM disputes WHERE id = $1", {id});
}

Result<DisputeSettings> load_dispute_settings(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM billing_settings WHERE name = 'disputes'"));
  if (rows.empty()) return DisputeSettings{};
  return dispute_settings_from_doc(Json::parse(rows[0].text(0)));
}

Result<bool> lock_dispute_settings(db::Tx& tx) {
  RECUR_ASSIGN(auto rows,
               tx.query("SELECT 1 FROM billing_settings WHERE name = 'disputes'" + std::string(tx.for_update())));
  return !rows.empty();
}

recur::Status save_dispute_settings(db::Tx& tx, const DisputeSettings& s, bool existed) {
  if (existed)
    RECUR_TRY(tx.exec("UPDATE billing_settings SET doc = $1 WHERE name = 'disputes'", {to_json(s).dump()}));
  else
    RECUR_TRY(tx.exec("INSERT INTO billing_settings (name, doc) VALUES ('disputes', $1)", {to_json(s).dump()}));
  return Ok{};
}

}  // namespace recur::billing
