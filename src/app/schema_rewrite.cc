#include "app/schema_rewrite.h"

#include <string>

namespace recur::app {

Status rewrite_documents(db::Tx& tx, std::string_view table, std::string_view resource_type,
                         const std::function<void(Json&)>& fix) {
  const std::string name(table);
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, doc FROM " + name));
  for (const auto& row : rows) {
    Json doc = Json::parse(row.text(1), nullptr, false);
    if (!doc.is_object()) continue;
    Json fixed = doc;
    fix(fixed);
    if (fixed == doc) continue;
    RECUR_TRY(tx.exec("UPDATE " + name + " SET doc = $1 WHERE id = $2", {fixed.dump(), row.text(0)}));
  }
  RECUR_ASSIGN(auto events, tx.query("SELECT id, payload FROM events WHERE resource_type = $1",
                                     {std::string(resource_type)}));
  for (const auto& row : events) {
    Json payload = Json::parse(row.text(1), nullptr, false);
    if (!payload.is_object()) continue;
    Json fixed = payload;
    for (const char* side : {"before", "after"})
      if (fixed.contains(side) && fixed[side].is_object()) fix(fixed[side]);
    if (fixed == payload) continue;
    RECUR_TRY(tx.exec("UPDATE events SET payload = $1 WHERE id = $2", {fixed.dump(), row.text(0)}));
  }
  return Ok{};
}

void rename_key(Json& doc, const char* from, const char* to) {
  if (!doc.contains(from) || doc.contains(to)) return;
  doc[to] = std::move(doc[from]);
  doc.erase(from);
}

Status fill_created_at(db::Tx& tx, std::string_view table) {
  const std::string name(table);
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, doc FROM " + name + " WHERE created_at IS NULL"));
  for (const auto& row : rows) {
    Json doc = Json::parse(row.text(1), nullptr, false);
    if (!doc.is_object() || !doc.contains("created")) continue;
    RECUR_TRY(tx.exec("UPDATE " + name + " SET created_at = $1 WHERE id = $2",
                      {doc_required_time(doc, "created"), row.text(0)}));
  }
  return Ok{};
}

Status fill_tracking_numbers(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, doc FROM shipments WHERE tracking_number IS NULL"));
  for (const auto& row : rows) {
    Json doc = Json::parse(row.text(1), nullptr, false);
    if (!doc.is_object() || !doc.value("tracking_number", Json()).is_string()) continue;
    RECUR_TRY(tx.exec("UPDATE shipments SET tracking_number = $1 WHERE id = $2",
                      {doc["tracking_number"].get<std::string>(), row.text(0)}));
  }
  return Ok{};
}

// ------------------------------------------------------------ migration 18: billing

Status reshape_billing_18(db::Tx& tx) {
  (void)tx;
  return Ok{};
}

// ------------------------------------------------------------ migration 18: the others

Status reshape_others_18(db::Tx& tx) {
  (void)tx;
  return Ok{};
}

}  // namespace recur::app
