#include "analytics/store.h"

#include <functional>

namespace recur::analytics {

namespace {

constexpr const char* kSubscriptionColumns =
    "subscription_id, customer_id, currency, plan_id, coupon, status, mrr, last_at, points, started_at, ended_at,"
    " created_at, source";

SubscriptionFacts subscription_from_row(const db::Row& r) {
  return SubscriptionFacts{r.text(0),      r.text(1),       r.text(2),       r.text(3),
                           r.opt_text(4),  r.text(5),       r.int64(6),      r.int64(7),
                           r.int64(8),     r.opt_int64(9),  r.opt_int64(10), r.int64(11),
                           r.text(12)};
}

constexpr const char* kPointColumns = "subscription_id, seq, customer_id, currency, plan_id, at, mrr_before, mrr, cause";

StoredPoint point_from_row(const db::Row& r) {
  return StoredPoint{r.text(0), r.int64(1), r.text(2), r.text(3), r.text(4), r.int64(5), r.int64(6), r.int64(7), r.text(8)};
}

std::optional<MovementKind> kind_from(std::string_view text) {
  for (MovementKind k : kAllMovementKinds)
    if (to_string(k) == text) return k;
  return std::nullopt;
}

Movement movement_from_row(const db::Row& r, std::size_t first) {
  Movement m;
  m.at = r.int64(first);
  m.kind = kind_from(r.text(first + 1)).value_or(MovementKind::kNew);
  m.amount = r.int64(first + 2);
  m.before = r.int64(first + 3);
  m.after = r.int64(first + 4);
  m.churn_type = r.text(first + 5);
  return m;
}

constexpr const char* kDailySums =
    "SUM(new_mrr), SUM(expansion), SUM(contraction), SUM(churn), SUM(reactivation), SUM(count_new),"
    " SUM(count_expansion), SUM(count_contraction), SUM(count_churn), SUM(count_reactivation),"
    " SUM(subscriptions_started), SUM(subscriptions_stopped)";

DailyDelta delta_from_row(const db::Row& r, std::size_t first) {
  auto v = [&](std::size_t i) { return r.opt_int64(first + i).value_or(0); };
  DailyDelta d;
  d.new_mrr = v(0);
  d.expansion = v(1);
  d.contraction = v(2);
  d.churn = v(3);
  d.reactivation = v(4);
  d.count_new = v(5);
  d.count_expansion = v(6);
  d.count_contraction = v(7);
  d.count_churn = v(8);
  d.count_reactivation = v(9);
  d.subscriptions_started = v(10);
  d.subscriptions_stopped = v(11);
  return d;
}

constexpr const char* kInvoiceColumns =
    "invoice_id, customer_id, subscription_id, currency, billing_reason, due_at, status, total, amount_paid,"
    " attempt_count, first_failed_at, paid_at";

// "a, b, c" as "p.a, p.b, p.c": a column list with its table's alias, for a join.
std::string prefixed(std::string_view columns, std::string_view alias) {
  std::string out(alias);
  for (char c : columns) {
    out += c;
    if (c == ' ') out += alias;
  }
  return out;
}

db::Value subscription_or_null(const InvoiceFacts& i) {
  return i.subscription.empty() ? db::Value(nullptr) : db::Value(i.subscription);
}

InvoiceFacts invoice_from_row(const db::Row& r) {
  // subscription_id is NULL for a one-off invoice.
  return InvoiceFacts{r.text(0),  r.text(1),  r.is_null(2) ? std::string() : r.text(2),
                      r.text(3),  r.text(4),  r.int64(5),
                      r.text(6),  r.int64(7), r.int64(8),
                      r.int64(9), r.opt_int64(10), r.opt_int64(11)};
}

// "plan_id IN ($3, $4)" and "coupon = $5" for a slice, numbering from `next`.
std::string slice_sql(const Slice& slice, db::Params& params, const char* table_alias) {
  std::string sql;
  if (!slice.plans.empty()) {
    sql += std::string(" AND ") + table_alias + ".plan_id IN (";
    for (std::size_t i = 0; i < slice.plans.size(); ++i) {
      params.emplace_back(slice.plans[i]);
      sql += (i ? ", $" : "$") + std::to_string(params.size());
    }
    sql += ")";
  }
  if (slice.coupon) {
    params.emplace_back(*slice.coupon);
    sql += std::string(" AND ") + table_alias + ".coupon = $" + std::to_string(params.size());
  }
  if (slice.source) {
    params.emplace_back(*slice.source);
    sql += std::string(" AND ") + table_alias + ".source = $" + std::to_string(params.size());
  }
  return sql;
}

}  // namespace

Result<std::optional<SubscriptionFacts>> find_subscription(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT ") + kSubscriptionColumns +
                                       " FROM analytics_subscriptions WHERE subscription_id = $1",
                                   {id}));
  if (rows.empty()) return std::optional<SubscriptionFacts>();
  return std::optional<SubscriptionFacts>(subscription_from_row(rows[0]));
}

Status save_subscription(db::Tx& tx, const SubscriptionFacts& f, bool is_new) {
  db::Params params{f.id, f.customer, f.currency, f.plan, db::nullable(f.coupon), f.status, f.mrr, f.last_at,
                    f.points, db::nullable(f.started_at), db::nullable(f.ended_at), f.created, f.source};
  if (is_new)
    return tx.exec_later(std::string("INSERT INTO analytics_subscriptions (") + kSubscriptionColumns +
                             ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                         std::move(params));
  return tx.exec_later(
      "UPDATE analytics_subscriptions SET customer_id = $2, currency = $3, plan_id = $4, coupon = $5, status = $6,"
      " mrr = $7, last_at = $8, points = $9, started_at = $10, ended_at = $11, created_at = $12, source = $13"
      " WHERE subscription_id = $1",
      std::move(params));
}

Status add_point(db::Tx& tx, const StoredPoint& p) {
  return tx.exec_later(std::string("INSERT INTO analytics_points (") + kPointColumns +
                           ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                       {p.subscription, p.seq, p.customer, p.currency, p.plan, p.at, p.mrr_before, p.mrr, p.cause});
}

Result<std::vector<MrrPoint>> customer_points(db::Tx& tx, const std::string& customer, const std::string& currency) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT subscription_id, at, mrr, cause FROM analytics_points"
                                   " WHERE customer_id = $1 AND currency = $2 ORDER BY at, subscription_id, seq",
                                   {customer, currency}));
  std::vector<MrrPoint> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(MrrPoint{r.text(0), r.int64(1), r.int64(2), r.text(3)});
  return out;
}

Status lock_customer(db::Tx& tx, const std::string& customer, const std::string& currency) {
  RECUR_TRY(tx.exec("INSERT INTO analytics_customers (customer_id, currency) VALUES ($1, $2)"
                    " ON CONFLICT (customer_id, currency) DO NOTHING",
                    {customer, currency}));
  RECUR_TRY(tx.query(std::string("SELECT customer_id FROM analytics_customers WHERE customer_id = $1 AND currency = $2") +
                         std::string(tx.for_update()),
                     {customer, currency}));
  return Ok{};
}

Status note_paid(db::Tx& tx, const std::string& customer, const std::string& currency, Timestamp paid_at) {
  RECUR_TRY(tx.exec("INSERT INTO analytics_customers (customer_id, currency, first_paid_at) VALUES ($1, $2, $3)"
                    " ON CONFLICT (customer_id, currency) DO UPDATE SET first_paid_at = CASE"
                    " WHEN analytics_customers.first_paid_at IS NULL OR analytics_customers.first_paid_at > $3"
                    " THEN $3 ELSE analytics_customers.first_paid_at END",
                    {customer, currency, paid_at}));
  return Ok{};
}

Result<std::vector<Movement>> stored_movements(db::Tx& tx, const std::string& customer, const std::string& currency) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT at, kind, amount, mrr_before, mrr_after, churn_type FROM analytics_movements"
                                   " WHERE customer_id = $1 AND currency = $2 ORDER BY at",
                                   {customer, currency}));
  std::vector<Movement> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(movement_from_row(r, 0));
  return out;
}

Status delete_movement(db::Tx& tx, const std::string& customer, const std::string& currency, Timestamp at) {
  return tx.exec_later("DELETE FROM analytics_movements WHERE customer_id = $1 AND currency = $2 AND at = $3",
                       {customer, currency, at});
}

Status insert_movement(db::Tx& tx, const std::string& customer, const std::string& currency, const Movement& m) {
  return tx.exec_later(
      "INSERT INTO analytics_movements (customer_id, currency, at, kind, amount, mrr_before, mrr_after, churn_type)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      {customer, currency, m.at, std::string(to_string(m.kind)), m.amount, m.before, m.after, m.churn_type});
}

bool DailyDelta::empty() const {
  return new_mrr == 0 && expansion == 0 && contraction == 0 && churn == 0 && reactivation == 0 && count_new == 0 &&
         count_expansion == 0 && count_contraction == 0 && count_churn == 0 && count_reactivation == 0 &&
         subscriptions_started == 0 && subscriptions_stopped == 0;
}

void DailyDelta::add(const Movement& m, int sign) { add(m.kind, sign * m.amount, sign); }

void DailyDelta::add(MovementKind kind, std::int64_t amount, std::int64_t count) {
  switch (kind) {
    case MovementKind::kNew:
      new_mrr += amount;
      count_new += count;
      break;
    case MovementKind::kExpansion:
      expansion += amount;
      count_expansion += count;
      break;
    case MovementKind::kContraction:
      contraction += amount;
      count_contraction += count;
      break;
    case MovementKind::kChurn:
      churn += amount;
      count_churn += count;
      break;
    case MovementKind::kReactivation:
      reactivation += amount;
      count_reactivation += count;
      break;
  }
}

int shard_of(const std::string& customer) {
  // FNV-1a: stable across builds and nodes (std::hash is not promised to be).
  std::uint32_t h = 2166136261u;
  for (unsigned char c : customer) h = (h ^ c) * 16777619u;
  return static_cast<int>(h % 16);
}

Status add_daily(db::Tx& tx, const std::string& currency, Timestamp day, int shard, const DailyDelta& d) {
  return tx.exec_later(
      "INSERT INTO analytics_daily (currency, day, shard, new_mrr, expansion, contraction, churn, reactivation,"
      " count_new, count_expansion, count_contraction, count_churn, count_reactivation, subscriptions_started,"
      " subscriptions_stopped) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
      " ON CONFLICT (currency, day, shard) DO UPDATE SET new_mrr = analytics_daily.new_mrr + excluded.new_mrr,"
      " expansion = analytics_daily.expansion + excluded.expansion,"
      " contraction = analytics_daily.contraction + excluded.contraction,"
      " churn = analytics_daily.churn + excluded.churn,"
      " reactivation = analytics_daily.reactivation + excluded.reactivation,"
      " count_new = analytics_daily.count_new + excluded.count_new,"
      " count_expansion = analytics_daily.count_expansion + excluded.count_expansion,"
      " count_contraction = analytics_daily.count_contraction + excluded.count_contraction,"
      " count_churn = analytics_daily.count_churn + excluded.count_churn,"
      " count_reactivation = analytics_daily.count_reactivation + excluded.count_reactivation,"
      " subscriptions_started = analytics_daily.subscriptions_started + excluded.subscriptions_started,"
      " subscriptions_stopped = analytics_daily.subscriptions_stopped + excluded.subscriptions_stopped",
      {currency, day, static_cast<std::int64_t>(shard), d.new_mrr, d.expansion, d.contraction, d.churn,
       d.reactivation, d.count_new, d.count_expansion, d.count_contraction, d.count_churn, d.count_reactivation,
       d.subscriptions_started, d.subscriptions_stopped});
}

Status save_invoice(db::Tx& tx, const InvoiceFacts& i) {
  return tx.exec_later(
      std::string("INSERT INTO analytics_invoices (") + kInvoiceColumns +
          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
          " ON CONFLICT (invoice_id) DO UPDATE SET status = excluded.status, total = excluded.total,"
          " amount_paid = excluded.amount_paid, attempt_count = excluded.attempt_count,"
          " first_failed_at = excluded.first_failed_at, paid_at = excluded.paid_at",
      {i.id, i.customer, subscription_or_null(i), i.currency, i.billing_reason, i.due_at, i.status, i.total,
       i.amount_paid, i.attempt_count, db::nullable(i.first_failed_at), db::nullable(i.paid_at)});
}

Status save_refund(db::Tx& tx, const RefundFacts& r) {
  return tx.exec_later("INSERT INTO analytics_refunds (refund_id, invoice_id, customer_id, currency, amount, at)"
                       " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (refund_id) DO NOTHING",
                       {r.id, r.invoice, r.customer, r.currency, r.amount, r.at});
}

Status add_activity(db::Tx& tx, const Activity& a) {
  return tx.exec_later("INSERT INTO analytics_activity (event_id, subscription_id, customer_id, at, kind, reason, offer)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
                       {a.event_id, a.subscription, a.customer, a.at, a.kind, db::nullable(a.reason),
                        db::nullable(a.offer)});
}

Status clear_all(db::Tx& tx) {
  for (const char* table : {"analytics_subscriptions", "analytics_points", "analytics_movements", "analytics_customers",
                            "analytics_daily", "analytics_invoices", "analytics_refunds", "analytics_activity"})
    RECUR_TRY(tx.exec(std::string("DELETE FROM ") + table));
  return Ok{};
}

// ---------------------------------------------------------------- reads

Result<std::vector<std::string>> currencies(db::Tx& tx) {
  // A loose index scan (one index probe per currency), not a read of every subscription.
  RECUR_ASSIGN(auto rows, tx.query("WITH RECURSIVE c(currency) AS ("
                                   " SELECT MIN(currency) FROM analytics_subscriptions"
                                   " UNION ALL SELECT (SELECT MIN(currency) FROM analytics_subscriptions"
                                   " WHERE currency > c.currency) FROM c WHERE c.currency IS NOT NULL)"
                                   " SELECT currency FROM c WHERE currency IS NOT NULL"));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.text(0));
  return out;
}

Result<std::vector<DayRow>> daily_rows(db::Tx& tx, const std::string& currency, Timestamp from_day, Timestamp to_day) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT day, ") + kDailySums +
                                       " FROM analytics_daily WHERE currency = $1 AND day >= $2 AND day < $3"
                                       " GROUP BY day ORDER BY day",
                                   {currency, from_day, to_day}));
  std::vector<DayRow> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(DayRow{r.int64(0), delta_from_row(r, 1)});
  return out;
}

Result<DailyDelta> daily_before(db::Tx& tx, const std::string& currency, Timestamp day) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT ") + kDailySums +
                                       " FROM analytics_daily WHERE currency = $1 AND day < $2",
                                   {currency, day}));
  if (rows.empty()) return DailyDelta{};
  return delta_from_row(rows[0], 0);
}

Result<DailyDelta> sums_between(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to) {
  DailyDelta d;
  RECUR_ASSIGN(auto kinds, tx.query("SELECT kind, COUNT(*), COALESCE(SUM(amount), 0) FROM analytics_movements"
                                    " WHERE currency = $1 AND at >= $2 AND at < $3 GROUP BY kind",
                                    {currency, from, to}));
  // As movement_from_row reads it: a kind this build does not know counts as new.
  for (const auto& r : kinds) d.add(kind_from(r.text(0)).value_or(MovementKind::kNew), r.int64(2), r.int64(1));
  RECUR_ASSIGN(auto steps, tx.query("SELECT COALESCE(SUM(CASE WHEN mrr_before = 0 AND mrr > 0 THEN 1 ELSE 0 END), 0),"
                                    " COALESCE(SUM(CASE WHEN mrr_before > 0 AND mrr = 0 THEN 1 ELSE 0 END), 0)"
                                    " FROM analytics_points WHERE currency = $1 AND at >= $2 AND at < $3",
                                    {currency, from, to}));
  d.subscriptions_started = steps.at(0).int64(0);
  d.subscriptions_stopped = steps.at(0).int64(1);
  return d;
}

Status each_movement(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to, bool churn_only,
                     const Visit<CustomerMovement>& fn) {
  return tx.each(std::string("SELECT customer_id, at, kind, amount, mrr_before, mrr_after, churn_type"
                             " FROM analytics_movements WHERE currency = $1 AND at >= $2 AND at < $3") +
                     (churn_only ? " AND kind = 'churn'" : "") + " ORDER BY at, customer_id",
                 {currency, from, to}, [&](const db::Row& r) {
                   return fn(CustomerMovement{r.text(0), movement_from_row(r, 1)});
                 });
}

Status each_slice_point(db::Tx& tx, const std::string& currency, const Slice& slice, const Visit<StoredPoint>& fn) {
  db::Params params{currency};
  std::string sql =
      "SELECT p.subscription_id, p.seq, p.customer_id, p.currency, p.plan_id, p.at, p.mrr_before, p.mrr, p.cause"
      " FROM analytics_points p JOIN analytics_subscriptions s ON s.subscription_id = p.subscription_id"
      " WHERE p.currency = $1";
  sql += slice_sql(slice, params, "s");
  sql += " ORDER BY p.customer_id, p.at, p.subscription_id, p.seq";
  return tx.each(sql, params, [&](const db::Row& r) { return fn(point_from_row(r)); });
}

Status each_subscription(db::Tx& tx, const std::string& currency, const Slice& slice,
                         const Visit<SubscriptionFacts>& fn) {
  db::Params params{currency};
  std::string sql = std::string("SELECT ") + kSubscriptionColumns + " FROM analytics_subscriptions s WHERE s.currency = $1";
  sql += slice_sql(slice, params, "s");
  sql += " ORDER BY subscription_id";
  return tx.each(sql, params, [&](const db::Row& r) { return fn(subscription_from_row(r)); });
}

Result<std::vector<SubscriptionFacts>> customer_subscriptions(db::Tx& tx, const std::string& customer,
                                                              const std::string& currency) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT ") + kSubscriptionColumns +
                                       " FROM analytics_subscriptions WHERE customer_id = $1 AND currency = $2"
                                       " ORDER BY subscription_id",
                                   {customer, currency}));
  std::vector<SubscriptionFacts> out;
  for (const auto& r : rows) out.push_back(subscription_from_row(r));
  return out;
}

Status each_invoice_due(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to, const Slice& slice,
                        const Visit<InvoiceDue>& fn) {
  db::Params params{currency, from, to};
  std::string sql = "SELECT " + prefixed(kInvoiceColumns, "i.") +
                    ", CASE WHEN i.billing_reason = 'subscription_cycle' AND i.total > 0"
                    " AND NOT EXISTS (SELECT 1 FROM analytics_invoices j WHERE j.subscription_id = i.subscription_id"
                    " AND j.billing_reason = 'subscription_cycle' AND j.total > 0"
                    " AND (j.due_at < i.due_at OR (j.due_at = i.due_at AND j.invoice_id < i.invoice_id)))"
                    " THEN 1 ELSE 0 END FROM analytics_invoices i";
  if (slice.any()) sql += " JOIN analytics_subscriptions s ON s.subscription_id = i.subscription_id";
  sql += " WHERE i.currency = $1 AND i.due_at >= $2 AND i.due_at < $3";
  if (slice.any()) sql += slice_sql(slice, params, "s");
  sql += " ORDER BY i.due_at, i.invoice_id";
  return tx.each(sql, params, [&](const db::Row& r) { return fn(InvoiceDue{invoice_from_row(r), r.int64(12) != 0}); });
}

Result<std::vector<InvoiceFacts>> customer_invoices(db::Tx& tx, const std::string& customer) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT ") + kInvoiceColumns +
                                       " FROM analytics_invoices WHERE customer_id = $1 ORDER BY due_at, invoice_id",
                                   {customer}));
  std::vector<InvoiceFacts> out;
  for (const auto& r : rows) out.push_back(invoice_from_row(r));
  return out;
}

Result<std::vector<RefundFacts>> customer_refunds(db::Tx& tx, const std::string& customer) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT refund_id, invoice_id, customer_id, currency, amount, at FROM analytics_refunds"
                                   " WHERE customer_id = $1 ORDER BY at, refund_id",
                                   {customer}));
  std::vector<RefundFacts> out;
  for (const auto& r : rows)
    out.push_back(RefundFacts{r.text(0), r.text(1), r.text(2), r.text(3), r.int64(4), r.int64(5)});
  return out;
}

Status each_customer_revenue(db::Tx& tx, const std::string& currency, const Visit<CustomerRevenue>& fn) {
  return tx.each(
      "SELECT i.customer_id, SUM(i.amount_paid), SUM(CASE WHEN i.paid_at IS NULL THEN 0 ELSE 1 END),"
      " MIN(i.paid_at), COALESCE((SELECT SUM(r.amount) FROM analytics_refunds r"
      " WHERE r.customer_id = i.customer_id AND r.currency = $1), 0)"
      " FROM analytics_invoices i WHERE i.currency = $1 GROUP BY i.customer_id ORDER BY i.customer_id",
      {currency}, [&](const db::Row& r) {
        return fn(CustomerRevenue{r.text(0), r.opt_int64(1).value_or(0), r.opt_int64(4).value_or(0),
                                  r.opt_int64(2).value_or(0), r.opt_int64(3)});
      });
}

Result<std::vector<CustomerRevenue>> revenue_of_cohort(db::Tx& tx, const std::string& currency, Timestamp from,
                                                       Timestamp to) {
  RECUR_ASSIGN(auto rows,
               tx.query("SELECT c.customer_id,"
                        " COALESCE((SELECT SUM(i.amount_paid) FROM analytics_invoices i"
                        " WHERE i.customer_id = c.customer_id AND i.currency = $1), 0),"
                        " COALESCE((SELECT SUM(r.amount) FROM analytics_refunds r"
                        " WHERE r.customer_id = c.customer_id AND r.currency = $1), 0)"
                        " FROM analytics_customers c"
                        " WHERE c.currency = $1 AND c.first_paid_at >= $2 AND c.first_paid_at < $3",
                        {currency, from, to}));
  std::vector<CustomerRevenue> out;
  out.reserve(rows.size());
  for (const auto& r : rows)
    out.push_back(CustomerRevenue{r.text(0), r.opt_int64(1).value_or(0), r.opt_int64(2).value_or(0), 0, std::nullopt});
  return out;
}

Result<std::vector<std::pair<std::string, Timestamp>>> cohort_members(db::Tx& tx, const std::string& currency,
                                                                      Timestamp from, Timestamp to) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT customer_id, first_paid_at FROM analytics_customers"
                                   " WHERE currency = $1 AND first_paid_at >= $2 AND first_paid_at < $3"
                                   " ORDER BY first_paid_at, customer_id",
                                   {currency, from, to}));
  std::vector<std::pair<std::string, Timestamp>> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.emplace_back(r.text(0), r.int64(1));
  return out;
}

Status each_movement_of_cohort(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to,
                               const Visit<CustomerMovement>& fn) {
  return tx.each(
      "SELECT m.customer_id, m.at, m.kind, m.amount, m.mrr_before, m.mrr_after, m.churn_type"
      " FROM analytics_movements m JOIN analytics_customers c"
      " ON c.customer_id = m.customer_id AND c.currency = m.currency"
      " WHERE m.currency = $1 AND c.first_paid_at >= $2 AND c.first_paid_at < $3"
      " ORDER BY m.customer_id, m.at",
      {currency, from, to}, [&](const db::Row& r) {
        return fn(CustomerMovement{r.text(0), movement_from_row(r, 1)});
      });
}

Status each_activity(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to, const Slice& slice,
                     const std::vector<std::string>& kinds, const Visit<SubscriptionActivity>& fn) {
  db::Params params{currency, from, to};
  std::string sql =
      "SELECT a.event_id, a.subscription_id, a.customer_id, a.at, a.kind, a.reason, a.offer, s.ended_at"
      " FROM analytics_activity a JOIN analytics_subscriptions s ON s.subscription_id = a.subscription_id"
      " WHERE s.currency = $1 AND a.at >= $2 AND a.at < $3";
  sql += slice_sql(slice, params, "s");
  if (!kinds.empty()) {
    sql += " AND a.kind IN (";
    for (std::size_t i = 0; i < kinds.size(); ++i) {
      params.emplace_back(kinds[i]);
      sql += (i ? ", $" : "$") + std::to_string(params.size());
    }
    sql += ")";
  }
  sql += " ORDER BY a.at, a.event_id";
  return tx.each(sql, params, [&](const db::Row& r) {
    return fn(SubscriptionActivity{
        Activity{r.text(0), r.text(1), r.text(2), r.int64(3), r.text(4), r.opt_text(5), r.opt_text(6)},
        r.opt_int64(7)});
  });
}

}  // namespace recur::analytics

// ---------------------------------------------------------------- the rebuild's memory

namespace recur::analytics {

Result<std::optional<SubscriptionFacts>> MemorySink::subscription(const std::string& id) {
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end()) return std::optional<SubscriptionFacts>();
  return std::optional<SubscriptionFacts>(it->second);
}

Status MemorySink::save(const SubscriptionFacts& f, bool) {
  subscriptions_[f.id] = f;
  return Ok{};
}

Status MemorySink::point(const StoredPoint& p) {
  points_[{p.customer, p.currency}].push_back(p);
  customers_.try_emplace({p.customer, p.currency});
  return Ok{};
}

Status MemorySink::daily(const std::string& currency, Timestamp day, int shard, const DailyDelta& d) {
  DailyDelta& sum = daily_[{currency, day, shard}];
  sum.subscriptions_started += d.subscriptions_started;
  sum.subscriptions_stopped += d.subscriptions_stopped;
  sum.new_mrr += d.new_mrr;
  sum.expansion += d.expansion;
  sum.contraction += d.contraction;
  sum.churn += d.churn;
  sum.reactivation += d.reactivation;
  sum.count_new += d.count_new;
  sum.count_expansion += d.count_expansion;
  sum.count_contraction += d.count_contraction;
  sum.count_churn += d.count_churn;
  sum.count_reactivation += d.count_reactivation;
  return Ok{};
}

Status MemorySink::paid(const std::string& customer, const std::string& currency, Timestamp paid_at) {
  auto& first = customers_[{customer, currency}];
  if (!first || *first > paid_at) first = paid_at;
  return Ok{};
}

Status MemorySink::invoice(const InvoiceFacts& i) {
  auto [it, inserted] = invoices_.try_emplace(i.id, i);
  if (!inserted) {  // as save_invoice's upsert: the state changes, the rest stays
    InvoiceFacts& f = it->second;
    f.status = i.status;
    f.total = i.total;
    f.amount_paid = i.amount_paid;
    f.attempt_count = i.attempt_count;
    f.first_failed_at = i.first_failed_at;
    f.paid_at = i.paid_at;
  }
  return Ok{};
}

Status MemorySink::refund(const RefundFacts& r) {
  refunds_.try_emplace(r.id, r);
  return Ok{};
}

Status MemorySink::activity(const Activity& a) {
  activity_.try_emplace(a.event_id, a);
  return Ok{};
}

namespace {

// INSERT INTO table (columns) VALUES (...), (...): up to 400 rows a statement.
class Inserter {
 public:
  Inserter(db::Tx& tx, std::string table_and_columns, std::size_t columns)
      : tx_(tx), head_("INSERT INTO " + std::move(table_and_columns) + " VALUES "), columns_(columns) {}
  Status add(db::Params row) {
    for (auto& v : row) params_.push_back(std::move(v));
    if (++rows_ == 400) return flush();
    return Ok{};
  }
  Status flush() {
    if (rows_ == 0) return Ok{};
    std::string sql = head_;
    std::size_t n = 0;
    for (std::size_t r = 0; r < rows_; ++r) {
      sql += r ? ", (" : "(";
      for (std::size_t c = 0; c < columns_; ++c) sql += (c ? ", $" : "$") + std::to_string(++n);
      sql += ")";
    }
    RECUR_TRY(tx_.exec(sql, params_));
    params_.clear();
    rows_ = 0;
    return Ok{};
  }

 private:
  db::Tx& tx_;
  std::string head_;
  std::size_t columns_;
  db::Params params_;
  std::size_t rows_ = 0;
};

}  // namespace

Status MemorySink::flush(db::Tx& tx) {
  Inserter subs(tx, std::string("analytics_subscriptions (") + kSubscriptionColumns + ")", 13);
  for (const auto& [_, f] : subscriptions_)
    RECUR_TRY(subs.add({f.id, f.customer, f.currency, f.plan, db::nullable(f.coupon), f.status, f.mrr, f.last_at,
                        f.points, db::nullable(f.started_at), db::nullable(f.ended_at), f.created, f.source}));
  RECUR_TRY(subs.flush());

  Inserter points(tx, std::string("analytics_points (") + kPointColumns + ")", 9);
  Inserter moves(tx,
                 "analytics_movements (customer_id, currency, at, kind, amount, mrr_before, mrr_after, churn_type)", 8);
  for (auto& [key, list] : points_) {
    const auto& [customer, currency] = key;
    // The order customer_points reads them in: by time, subscription, sequence.
    std::stable_sort(list.begin(), list.end(), [](const StoredPoint& a, const StoredPoint& b) {
      return std::tie(a.at, a.subscription, a.seq) < std::tie(b.at, b.subscription, b.seq);
    });
    std::vector<MrrPoint> mine;
    mine.reserve(list.size());
    for (const auto& p : list) {
      RECUR_TRY(points.add({p.subscription, p.seq, p.customer, p.currency, p.plan, p.at, p.mrr_before, p.mrr, p.cause}));
      mine.push_back(MrrPoint{p.subscription, p.at, p.mrr, p.cause});
    }
    const int shard = shard_of(customer);
    for (const auto& m : customer_movements(mine)) {
      RECUR_TRY(moves.add({customer, currency, m.at, std::string(to_string(m.kind)), m.amount, m.before, m.after,
                           m.churn_type}));
      DailyDelta d;
      d.add(m, +1);
      RECUR_TRY(daily(currency, m.at - (((m.at % 86400) + 86400) % 86400), shard, d));
    }
  }
  RECUR_TRY(points.flush());
  RECUR_TRY(moves.flush());

  Inserter customers(tx, "analytics_customers (customer_id, currency, first_paid_at)", 3);
  for (const auto& [key, first] : customers_) RECUR_TRY(customers.add({key.first, key.second, db::nullable(first)}));
  RECUR_TRY(customers.flush());

  Inserter days(tx,
                "analytics_daily (currency, day, shard, new_mrr, expansion, contraction, churn, reactivation,"
                " count_new, count_expansion, count_contraction, count_churn, count_reactivation,"
                " subscriptions_started, subscriptions_stopped)",
                15);
  for (const auto& [key, d] : daily_) {
    if (d.empty()) continue;
    const auto& [currency, day, shard] = key;
    RECUR_TRY(days.add({currency, day, static_cast<std::int64_t>(shard), d.new_mrr, d.expansion, d.contraction,
                        d.churn, d.reactivation, d.count_new, d.count_expansion, d.count_contraction, d.count_churn,
                        d.count_reactivation, d.subscriptions_started, d.subscriptions_stopped}));
  }
  RECUR_TRY(days.flush());

  Inserter invoices(tx, std::string("analytics_invoices (") + kInvoiceColumns + ")", 12);
  for (const auto& [_, i] : invoices_)
    RECUR_TRY(invoices.add({i.id, i.customer, subscription_or_null(i), i.currency, i.billing_reason, i.due_at, i.status,
                            i.total, i.amount_paid, i.attempt_count, db::nullable(i.first_failed_at),
                            db::nullable(i.paid_at)}));
  RECUR_TRY(invoices.flush());

  Inserter refunds(tx, "analytics_refunds (refund_id, invoice_id, customer_id, currency, amount, at)", 6);
  for (const auto& [_, r] : refunds_) RECUR_TRY(refunds.add({r.id, r.invoice, r.customer, r.currency, r.amount, r.at}));
  RECUR_TRY(refunds.flush());

  Inserter acts(tx, "analytics_activity (event_id, subscription_id, customer_id, at, kind, reason, offer)", 7);
  for (const auto& [_, a] : activity_)
    RECUR_TRY(acts.add({a.event_id, a.subscription, a.customer, a.at, a.kind, db::nullable(a.reason),
                        db::nullable(a.offer)}));
  return acts.flush();
}

}  // namespace recur::analytics
