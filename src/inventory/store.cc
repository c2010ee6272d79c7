// Inventory SQL.
#include "inventory/store.h"

#include "platform/db/list_query.h"
#include "privacy/privacy.h"

namespace recur::inventory {
namespace {

// The shipping address is sealed under the customer's data key (privacy/privacy.h).
Result<std::string> shipment_doc(db::Tx& tx, const Shipment& s) {
  auto doc = to_json(s);
  RECUR_TRY(privacy::seal(tx, doc, s.id));
  return doc.dump();
}

Result<Shipment> shipment_of(db::Tx& tx, const db::Row& row) {
  auto doc = Json::parse(row.text(0));
  RECUR_TRY(privacy::open(tx, doc, doc.at("id")));
  return shipment_from_doc(doc);
}

Result<std::vector<Shipment>> shipments_of(db::Tx& tx, const std::vector<db::Row>& rows) {
  std::vector<Shipment> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    RECUR_ASSIGN(auto s, shipment_of(tx, row));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

namespace {

constexpr const char* kLevelColumns =
    "product_id, warehouse, on_hand, reserved, low_stock_threshold, low_alerted, version, updated_at, doc";

StockLevel level_from_row(const db::Row& r) {
  StockLevel l;
  l.product = r.text(0);
  l.warehouse = r.text(1);
  l.on_hand = r.int64(2);
  l.reserved = r.int64(3);
  l.low_stock_threshold = r.int64(4);
  l.low_alerted = r.boolean(5);
  l.version = r.int64(6);
  l.updated = r.int64(7);
  l.alert_email = doc_text(Json::parse(r.text(8)), "alert_email");
  return l;
}

Json level_doc(const StockLevel& l) { return {{"alert_email", to_json_text(l.alert_email)}}; }

// stock_movements.actor holds the actor object as JSON (since migration 18); a row without
// one was made by the system.
events::Actor actor_from_column(const std::optional<std::string>& text) {
  if (!text) return events::Actor::system();
  Json j = Json::parse(*text, nullptr, false);
  if (!j.is_object()) return events::Actor::system();
  return events::actor_from_json(j);
}

Movement movement_from_row(const db::Row& r) {
  Movement m;
  m.id = r.text(0);
  m.product = r.text(1);
  m.warehouse = r.text(2);
  m.kind = parse_movement_kind(r.text(3)).value_or(MovementKind::kAdjustment);
  m.on_hand_delta = r.int64(4);
  m.reserved_delta = r.int64(5);
  m.reason = r.opt_text(6);
  m.reference = r.opt_text(7);
  m.actor = actor_from_column(r.opt_text(8));
  m.created = r.int64(9);
  return m;
}

constexpr const char* kMovementColumns =
    "id, product_id, warehouse, kind, on_hand_delta, reserved_delta, reason, reference, actor, created_at";

// Creates the zero level the first time a product is touched in a warehouse.
recur::Status ensure_level(db::Tx& tx, const std::string& product, const std::string& warehouse, Timestamp at) {
  RECUR_TRY(tx.exec("INSERT INTO stock_levels (product_id, warehouse, on_hand, reserved, low_stock_threshold,"
                    " low_alerted, version, updated_at, doc) VALUES ($1, $2, 0, 0, 0, 0, 1, $3, '{\"alert_email\":null}')"
                    " ON CONFLICT (product_id, warehouse) DO NOTHING",
                    {product, warehouse, at}));
  return Ok{};
}

}  // namespace

Result<std::optional<StockLevel>> find_level(db::Tx& tx, const std::string& product, const std::string& warehouse) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT ") + kLevelColumns +
                                       " FROM stock_levels WHERE product_id = $1 AND warehouse = $2",
                                   {product, warehouse}));
  if (rows.empty()) return std::optional<StockLevel>();
  return std::optional<StockLevel>(level_from_row(rows[0]));
}

Result<StockLevel> load_level(db::Tx& tx, const std::string& product, const std::string& warehouse, bool for_update) {
  std::string sql = std::string("SELECT ") + kLevelColumns + " FROM stock_levels WHERE product_id = $1 AND warehouse = $2";
  if (for_update) {
    RECUR_TRY(ensure_level(tx, product, warehouse, 0));
    sql += tx.for_update();
  }
  RECUR_ASSIGN(auto rows, tx.query(sql, {product, warehouse}));
  if (rows.empty()) {
    StockLevel zero;
    zero.product = product;
    zero.warehouse = warehouse;
    return zero;
  }
  return level_from_row(rows[0]);
}

Result<StockLevel> total_level(db::Tx& tx, const std::string& product) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT ") + kLevelColumns +
                                       " FROM stock_levels WHERE product_id = $1 ORDER BY warehouse",
                                   {product}));
  StockLevel total;
  total.product = product;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    StockLevel l = level_from_row(rows[i]);
    if (i == 0) total = l;  // settings of the first (default) warehouse
    else {
      total.on_hand += l.on_hand;
      total.reserved += l.reserved;
      total.updated = std::max(total.updated, l.updated);
    }
  }
  return total;
}

recur::Status save_level_settings(db::Tx& tx, const StockLevel& l) {
  RECUR_TRY(ensure_level(tx, l.product, l.warehouse, l.updated));
  RECUR_ASSIGN(auto n, tx.exec("UPDATE stock_levels SET low_stock_threshold = $3, low_alerted = $4, version = version + 1,"
                               " updated_at = $5, doc = $6 WHERE product_id = $1 AND warehouse = $2",
                               {l.product, l.warehouse, l.low_stock_threshold, std::int64_t{l.low_alerted ? 1 : 0},
                                l.updated, level_doc(l).dump()}));
  if (n != 1) return Error::internal("stock level of " + l.product + " vanished");
  return Ok{};
}

Result<bool> apply_movement(db::Tx& tx, const Movement& m) {
  RECUR_TRY(ensure_level(tx, m.product, m.warehouse, m.created));
  // One statement checks and applies: on PostgreSQL a concurrent writer's change is
  // re-read before the WHERE is judged (READ COMMITTED), so two reservations of the last
  // unit cannot both succeed; SQLite writers are serialized anyway.
  RECUR_ASSIGN(auto n, tx.exec("UPDATE stock_levels SET on_hand = on_hand + $3, reserved = reserved + $4,"
                               " version = version + 1, updated_at = $5"
                               " WHERE product_id = $1 AND warehouse = $2 AND on_hand + $3 >= 0 AND reserved + $4 >= 0"
                               " AND reserved + $4 <= on_hand + $3",
                               {m.product, m.warehouse, m.on_hand_delta, m.reserved_delta, m.created}));
  if (n != 1) return false;
  RECUR_TRY(tx.exec(std::string("INSERT INTO stock_movements (") + kMovementColumns +
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    {m.id, m.product, m.warehouse, std::string(to_string(m.kind)), m.on_hand_delta, m.reserved_delta,
                     db::nullable(m.reason), db::nullable(m.reference), events::to_json(m.actor).dump(), m.created}));
  return true;
}

Result<Page<Movement>> list_movements(db::Tx& tx, const MovementFilter& f) {
  db::ListQuery query(std::string("SELECT ") + kMovementColumns + " FROM stock_movements");
  query.where("product_id = $?", f.product).where_in("kind", f.kinds).doc_column("");
  RECUR_ASSIGN(auto rows, query.fetch(tx, f.page));
  return page_of(rows, f.page.limit, movement_from_row);
}

Result<std::vector<Movement>> all_movements(db::Tx& tx, const std::string& product) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT ") + kMovementColumns +
                                       " FROM stock_movements WHERE product_id = $1 ORDER BY id",
                                   {product}));
  std::vector<Movement> out;
  for (const auto& r : rows) out.push_back(movement_from_row(r));
  return out;
}

Result<std::vector<Arrival>> arrivals(db::Tx& tx, const std::string& product) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COALESCE(o.expected_at, 0), SUM(l.quantity - l.received)"
                                   " FROM purchase_order_lines l JOIN purchase_orders o ON o.id = l.purchase_order_id"
                                   " WHERE l.product_id = $1 AND o.status IN ('sent', 'partially_received')"
                                   " GROUP BY COALESCE(o.expected_at, 0) ORDER BY 1",
                                   {product}));
  std::vector<Arrival> out;
  for (const auto& r : rows) {
    if (r.int64(1) > 0) out.push_back({r.int64(0), r.int64(1)});
  }
  return out;
}

Result<bool> insert_shipment(db::Tx& tx, const Shipment& s) {
  RECUR_ASSIGN(auto doc, shipment_doc(tx, s));
  RECUR_ASSIGN(auto n, tx.exec("INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status,"
                               " backordered_at, created_at, version, doc, tracking_number, invoice_id, paid)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                               " ON CONFLICT (subscription_id, period_seq) DO NOTHING",
                               {s.id, s.subscription, s.customer, s.period_seq, std::string(to_string(s.status)),
                                db::nullable(s.backordered_at), s.created, s.version, doc,
                                db::nullable(s.tracking_number), db::nullable(s.invoice), std::int64_t{s.paid ? 1 : 0}}));
  return n == 1;
}

recur::Status update_shipment(db::Tx& tx, const Shipment& s) {
  RECUR_ASSIGN(auto doc, shipment_doc(tx, s));
  RECUR_ASSIGN(auto n, tx.exec("UPDATE shipments SET status = $2, backordered_at = $3, version = $4, doc = $5,"
                               " tracking_number = $6, invoice_id = $7, paid = $8 WHERE id = $1",
                               {s.id, std::string(to_string(s.status)), db::nullable(s.backordered_at), s.version,
                                doc, db::nullable(s.tracking_number), db::nullable(s.invoice),
                                std::int64_t{s.paid ? 1 : 0}}));
  if (n != 1) return Error::internal("shipment " + s.id + " vanished while being updated");
  return Ok{};
}

Result<std::optional<Shipment>> find_shipment(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = "SELECT doc FROM shipments WHERE id = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<Shipment>();
  RECUR_ASSIGN(auto shipment, shipment_of(tx, rows[0]));
  return std::optional<Shipment>(std::move(shipment));
}

Result<Page<Shipment>> list_shipments(db::Tx& tx, const ShipmentFilter& f) {
  db::ListQuery query("SELECT doc FROM shipments");
  query.where_equal("subscription_id", f.subscription)
      .where_equal("customer_id", f.customer)
      .where_in("status", f.statuses)
      .where_equal("tracking_number", f.tracking_number)
      .where_equal("invoice_id", f.invoice);
  if (f.paid) query.where("paid = $?", std::int64_t{*f.paid ? 1 : 0});
  RECUR_ASSIGN(auto rows, query.fetch(tx, f.page));
  RECUR_ASSIGN(auto shipments, shipments_of(tx, rows));
  return page_of(std::move(shipments), f.page.limit);
}

Result<std::vector<Shipment>> shipments_of_invoice(db::Tx& tx, const std::string& invoice, bool for_update) {
  std::string sql = "SELECT doc FROM shipments WHERE invoice_id = $1 ORDER BY id";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {invoice}));
  return shipments_of(tx, rows);
}

Result<std::vector<Shipment>> backorders(db::Tx& tx, bool for_update) {
  std::string sql = "SELECT doc FROM shipments WHERE status = 'backordered' ORDER BY backordered_at, id";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql));
  return shipments_of(tx, rows);
}

Result<StockHealth> stock_health(db::Tx& tx) {
  RECUR_ASSIGN(auto outs, tx.query("SELECT COUNT(*) FROM stock_levels WHERE on_hand - reserved <= 0"));
  RECUR_ASSIGN(auto waiting,
               tx.query("SELECT COUNT(*), MIN(backordered_at) FROM shipments WHERE status = 'backordered'"));
  return StockHealth{outs.at(0).int64(0), metrics::Backlog{waiting.at(0).int64(0), waiting.at(0).opt_int64(1)}};
}

}  // namespace recur::inventory
