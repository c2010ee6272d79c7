// Purchasing SQL.
#include "inventory/purchasing_store.h"

#include <fmt/format.h>

#include "inventory/store.h"
#include "platform/db/list_query.h"
#include "platform/ids.h"

namespace recur::inventory {
namespace {

db::Value time_or_null(std::optional<Timestamp> t) { return t ? db::Value(*t) : db::Value(nullptr); }

template <typename T>
Result<std::vector<T>> docs_of(const db::Rows& rows, T (*from_doc)(const Json&)) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(from_doc(Json::parse(r.text(0))));
  return out;
}


Status save_supplied_products(db::Tx& tx, const Supplier& s) {
  RECUR_TRY(tx.exec("DELETE FROM supplier_products WHERE supplier_id = $1", {s.id}));
  for (const auto& p : s.products)
    RECUR_TRY(tx.exec("INSERT INTO supplier_products (supplier_id, product_id) VALUES ($1, $2)", {s.id, p.product}));
  return Ok{};
}

}  // namespace

// ------------------------------------------------------------------ suppliers

Status insert_supplier(db::Tx& tx, const Supplier& s) {
  RECUR_TRY(tx.exec("INSERT INTO suppliers (id, version, created_at, doc) VALUES ($1, $2, $3, $4)",
                    {s.id, s.version, s.created, to_json(s).dump()}));
  return save_supplied_products(tx, s);
}

Result<bool> update_supplier(db::Tx& tx, const Supplier& s) {
  RECUR_ASSIGN(auto n, tx.exec("UPDATE suppliers SET version = $2, doc = $3 WHERE id = $1 AND version = $4",
                               {s.id, s.version, to_json(s).dump(), s.version - 1}));
  if (n != 1) return false;
  RECUR_TRY(save_supplied_products(tx, s));
  return true;
}

Result<std::optional<Supplier>> find_supplier(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = "SELECT doc FROM suppliers WHERE id = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<Supplier>();
  return std::optional<Supplier>(supplier_from_doc(Json::parse(rows[0].text(0))));
}

Result<Page<Supplier>> list_suppliers(db::Tx& tx, const SupplierFilter& f) {
  db::ListQuery query("SELECT s.doc FROM suppliers s", "s.id");
  if (f.product) query.where("s.id IN (SELECT supplier_id FROM supplier_products WHERE product_id = $?)", *f.product);
  RECUR_ASSIGN(auto rows, query.created_column("s.created_at").doc_column("s.doc").fetch(tx, f.page));
  return page_of(rows, f.page.limit, [](const db::Row& r) { return supplier_from_doc(Json::parse(r.text(0))); });
}

Result<std::vector<Supplier>> suppliers_of(db::Tx& tx, const std::string& product) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT s.doc FROM suppliers s JOIN supplier_products p ON p.supplier_id = s.id"
                                   " WHERE p.product_id = $1 ORDER BY s.id",
                                   {product}));
  return docs_of(rows, supplier_from_doc);
}

Result<std::vector<std::string>> supplied_products(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT DISTINCT product_id FROM supplier_products ORDER BY product_id"));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.text(0));
  return out;
}

// ------------------------------------------------------------------ purchase orders

Result<std::string> next_purchase_order_number(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("UPDATE invoice_numbers SET next_value = next_value + 1 WHERE name = 'purchase_order'"
                                   " RETURNING next_value - 1"));
  if (rows.empty()) return Error::internal("the purchase_order number sequence is missing");
  return fmt::format("PO-{:06d}", rows[0].int64(0));
}

Result<bool> insert_purchase_order(db::Tx& tx, const PurchaseOrder& o) {
  RECUR_ASSIGN(auto n, tx.exec("INSERT INTO purchase_orders (id, number, supplier_id, status, expected_at, need_key,"
                               " version, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                               " ON CONFLICT (need_key) DO NOTHING",
                               {o.id, o.number, o.supplier, std::string(to_string(o.status)),
                                time_or_null(o.expected_at), db::nullable(o.need_key), o.version, o.created,
                                to_json(o).dump()}));
  if (n != 1) return false;
  for (const auto& l : o.lines)
    RECUR_TRY(tx.exec("INSERT INTO purchase_order_lines (purchase_order_id, product_id, quantity, received)"
                      " VALUES ($1, $2, $3, $4)",
                      {o.id, l.product, l.quantity, l.received}));
  return true;
}

Result<bool> update_purchase_order(db::Tx& tx, const PurchaseOrder& o) {
  RECUR_ASSIGN(auto n, tx.exec("UPDATE purchase_orders SET status = $2, expected_at = $3, version = $4, doc = $5"
                               " WHERE id = $1 AND version = $6",
                               {o.id, std::string(to_string(o.status)), time_or_null(o.expected_at), o.version,
                                to_json(o).dump(), o.version - 1}));
  if (n != 1) return false;
  for (const auto& l : o.lines)
    RECUR_TRY(tx.exec("UPDATE purchase_order_lines SET received = $3 WHERE purchase_order_id = $1 AND product_id = $2",
                      {o.id, l.product, l.received}));
  return true;
}

Result<std::optional<PurchaseOrder>> find_purchase_order(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = id.starts_with("PO-") ? "SELECT doc FROM purchase_orders WHERE number = $1"
                                          : "SELECT doc FROM purchase_orders WHERE id = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<PurchaseOrder>();
  return std::optional<PurchaseOrder>(purchase_order_from_doc(Json::parse(rows[0].text(0))));
}

Result<Page<PurchaseOrder>> list_purchase_orders(db::Tx& tx, const PurchaseOrderFilter& f) {
  db::ListQuery query("SELECT doc FROM purchase_orders");
  query.where_in("status", f.statuses).where_equal("supplier_id", f.supplier);
  RECUR_ASSIGN(auto rows, query.fetch(tx, f.page));
  return page_of(rows, f.page.limit, [](const db::Row& r) { return purchase_order_from_doc(Json::parse(r.text(0))); });
}

Result<bool> has_open_order(db::Tx& tx, const std::string& product) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*) FROM purchase_order_lines l JOIN purchase_orders o"
                                   " ON o.id = l.purchase_order_id WHERE l.product_id = $1"
                                   " AND o.status IN ('draft', 'sent', 'partially_received')",
                                   {product}));
  return rows.at(0).int64(0) > 0;
}

Result<std::int64_t> outstanding_on_order(db::Tx& tx, const std::string& product) {
  RECUR_ASSIGN(auto coming, arrivals(tx, product));
  std::int64_t units = 0;
  for (const auto& a : coming) units += a.quantity;
  return units;
}

Result<bool> claim_replenishment_alert(db::Tx& tx, const std::string& need_key, const std::string& product,
                                       Timestamp now) {
  RECUR_ASSIGN(auto n, tx.exec("INSERT INTO replenishment_alerts (need_key, product_id, created_at) VALUES ($1, $2, $3)"
                               " ON CONFLICT (need_key) DO NOTHING",
                               {need_key, product, now}));
  return n == 1;
}

// ------------------------------------------------------------------ receiving

Result<PurchaseOrder> receive_on_order_as(db::Tx& tx, const std::string& purchase_order, const std::string& product,
                                          std::int64_t quantity, std::optional<Timestamp> now) {
  RECUR_ASSIGN(auto found, find_purchase_order(tx, purchase_order, true));
  if (!found)
    return Error::not_found("purchase_order_not_found", no_object_message("purchase order", "po", purchase_order));
  PurchaseOrder o = std::move(*found);
  RECUR_TRY(record_receipt(o, product, quantity));
  if (now) {
    o.updated = *now;
    if (o.status == PurchaseOrderStatus::kReceived) o.received_at = *now;
  }
  ++o.version;
  RECUR_ASSIGN(bool saved, update_purchase_order(tx, o));
  // The row is locked: a different version means a caller changed it without the lock.
  if (!saved) return Error::internal("purchase order " + o.id + " changed while locked");
  return o;
}

recur::Status receive_on_order(db::Tx& tx, const std::string& purchase_order, const std::string& product,
                               std::int64_t quantity, std::optional<Timestamp> now) {
  RECUR_TRY(receive_on_order_as(tx, purchase_order, product, quantity, now));
  return Ok{};
}

}  // namespace recur::inventory
