// Subscription SQL.
#include "subscriptions/store.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "platform/db/list_query.h"
#include "privacy/privacy.h"

namespace recur::subscriptions {
namespace {

// The row's columns; the doc's personal fields (shipping address, cancellation comment)
// sealed under the customer's data key.
Result<db::Params> columns(db::Tx& tx, const Subscription& s) {
  auto due = next_action_at(s);
  auto doc = to_json(s);
  RECUR_TRY(privacy::seal(tx, doc, s.id));
  return db::Params{s.id,
          s.customer,
          s.plan,
          std::string(to_string(s.status)),
          due ? db::Value(*due) : db::Value(nullptr),
          s.billed_periods,
          s.version,
          s.created,
          doc.dump()};
}

Result<Subscription> from_row(db::Tx& tx, const db::Row& row) {
  auto doc = Json::parse(row.text(0));
  RECUR_TRY(privacy::open(tx, doc, doc.at("id")));
  return subscription_from_doc(doc);
}

Result<std::vector<Subscription>> from_rows(db::Tx& tx, const std::vector<db::Row>& rows) {
  std::vector<Subscription> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    RECUR_ASSIGN(auto sub, from_row(tx, row));
    out.push_back(std::move(sub));
  }
  return out;
}

}  // namespace

recur::Status insert(db::Tx& tx, const Subscription& s, const std::string& request_key) {
  RECUR_ASSIGN(auto params, columns(tx, s));
  RECUR_TRY(db::release_stale_request_key(tx, "subscriptions", request_key, s.created));
  params.push_back(request_key.empty() ? db::Value(nullptr) : db::Value(request_key));
  RECUR_TRY(tx.exec("INSERT INTO subscriptions (id, customer_id, plan_id, status, next_action_at, billed_periods,"
                    " version, created_at, doc, request_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    params));
  return Ok{};
}

Result<std::optional<std::string>> find_by_request(db::Tx& tx, const std::string& request_key, Timestamp now) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id FROM subscriptions WHERE request_key = $1 AND created_at >= $2",
                                   {request_key, now - db::kRequestKeyLifetime}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows[0].text(0));
}

recur::Status insert_change_request(db::Tx& tx, const std::string& request_key, const ChangeRequest& change,
                                    Timestamp now) {
  // A key lives kRequestKeyLifetime: older rows are of no use (and free a reused key).
  RECUR_TRY(tx.exec("DELETE FROM subscription_requests WHERE created_at < $1", {now - db::kRequestKeyLifetime}));
  RECUR_TRY(
      tx.exec("INSERT INTO subscription_requests (request_key, subscription_id, invoice_id, created_at)"
              " VALUES ($1, $2, $3, $4)",
              {request_key, change.subscription,
               change.invoice.empty() ? db::Value(nullptr) : db::Value(change.invoice), now}));
  return Ok{};
}

Result<std::optional<ChangeRequest>> find_change_request(db::Tx& tx, const std::string& request_key, Timestamp now) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT subscription_id, invoice_id FROM subscription_requests"
                                   " WHERE request_key = $1 AND created_at >= $2",
                                   {request_key, now - db::kRequestKeyLifetime}));
  if (rows.empty()) return std::optional<ChangeRequest>();
  return std::optional<ChangeRequest>(ChangeRequest{rows[0].text(0), rows[0].is_null(1) ? "" : rows[0].text(1)});
}

namespace {
// (An insert drops nothing: an id is never cached before it exists.)
void subscription_changes(db::Tx& tx, const std::string& id) {
  if (auto* views = tx.attached<SubscriptionViewCache>()) views->cache.invalidate_after_commit(tx, id);
}
}  // namespace

Result<bool> update(db::Tx& tx, const Subscription& s, std::int64_t expected_version) {
  subscription_changes(tx, s.id);
  RECUR_ASSIGN(auto params, columns(tx, s));
  params.emplace_back(expected_version);
  RECUR_ASSIGN(auto n, tx.exec("UPDATE subscriptions SET customer_id = $2, plan_id = $3, status = $4,"
                               " next_action_at = $5, billed_periods = $6, version = $7, created_at = $8, doc = $9"
                               " WHERE id = $1 AND version = $10",
                               params));
  return n == 1;
}

recur::Status remove(db::Tx& tx, const std::string& id) {
  subscription_changes(tx, id);
  RECUR_TRY(tx.exec("DELETE FROM subscriptions WHERE id = $1", {id}));
  return Ok{};
}

Result<std::optional<Subscription>> find(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = "SELECT doc FROM subscriptions WHERE id = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<Subscription>();
  RECUR_ASSIGN(auto sub, from_row(tx, rows[0]));
  return std::optional<Subscription>(std::move(sub));
}

Result<Page<Subscription>> list(db::Tx& tx, const ListFilter& f) {
  db::ListQuery query("SELECT doc FROM subscriptions");
  query.where_equal("customer_id", f.customer).where_equal("plan_id", f.plan).where_in("status", f.statuses);
  RECUR_ASSIGN(auto rows, query.fetch(tx, f.page));
  RECUR_ASSIGN(auto subs, from_rows(tx, rows));
  return page_of(std::move(subs), f.page.limit);
}

Result<std::int64_t> count_earlier_subscriptions(db::Tx& tx, const std::string& customer, const std::string& id,
                                                 Timestamp created) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*) FROM subscriptions WHERE customer_id = $1 AND id <> $2"
                                   " AND created_at <= $3",
                                   {customer, id, created}));
  return rows.at(0).int64(0);
}

Result<std::vector<std::string>> lapsed_customers(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT customer_id FROM subscriptions GROUP BY customer_id"
                                   " HAVING SUM(CASE WHEN status = 'canceled' THEN 0 ELSE 1 END) = 0"
                                   " ORDER BY customer_id",
                                   {}));
  std::vector<std::string> ids;
  for (const auto& row : rows) ids.push_back(row.text(0));
  return ids;
}

Result<std::vector<std::string>> claim_due(db::Tx& tx, Timestamp now, int limit, const std::vector<std::string>& skip) {
  std::string sql = "SELECT id FROM subscriptions WHERE next_action_at <= $1";
  db::Params params{now, std::int64_t{limit}};
  if (!skip.empty()) {
    sql += " AND id NOT IN (";
    for (std::size_t i = 0; i < skip.size(); ++i) {
      sql += fmt::format("{}${}", i ? ", " : "", i + 3);
      params.emplace_back(skip[i]);
    }
    sql += ")";
  }
  sql += " ORDER BY next_action_at, id LIMIT $2";
  if (tx.engine() == db::Engine::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
  RECUR_ASSIGN(auto rows, tx.query(sql, params));
  std::vector<std::string> ids;
  for (const auto& row : rows) ids.push_back(row.text(0));
  return ids;
}

Result<std::vector<std::string>> due_between(db::Tx& tx, Timestamp from, Timestamp until, const std::string& after,
                                             int limit) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id FROM subscriptions WHERE next_action_at >= $1 AND next_action_at < $2"
                                   " AND id > $3 ORDER BY id LIMIT $4",
                                   {from, until, after, std::int64_t{limit}}));
  std::vector<std::string> ids;
  for (const auto& row : rows) ids.push_back(row.text(0));
  return ids;
}

Result<std::vector<BlackoutDate>> list_blackout_dates(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT day, reason, created_at FROM blackout_dates ORDER BY day"));
  std::vector<BlackoutDate> out;
  for (const auto& row : rows) out.push_back({row.int64(0), row.is_null(1) ? "" : row.text(1), row.int64(2)});
  return out;
}

Result<ClosedDays> closed_days(db::Tx& tx) {
  auto* days = tx.attached<ClosedDaysCache>();
  if (days) {
    if (auto hit = days->cache.get(tx, "")) return std::move(*hit);
  }
  RECUR_ASSIGN(auto rows, tx.query("SELECT day FROM blackout_dates ORDER BY day"));
  ClosedDays out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(row.int64(0));
  if (days) days->cache.fill(tx, "", out);
  return out;
}

namespace {
void blackout_dates_change(db::Tx& tx) {
  if (auto* days = tx.attached<ClosedDaysCache>()) days->cache.invalidate_after_commit(tx, "");
}
}  // namespace

Result<bool> put_blackout_date(db::Tx& tx, const BlackoutDate& date) {
  blackout_dates_change(tx);
  const db::Value reason = date.reason.empty() ? db::Value(nullptr) : db::Value(date.reason);
  RECUR_ASSIGN(auto updated, tx.exec("UPDATE blackout_dates SET reason = $2 WHERE day = $1", {date.day, reason}));
  if (updated > 0) return false;
  RECUR_TRY(tx.exec("INSERT INTO blackout_dates (day, reason, created_at) VALUES ($1, $2, $3)",
                    {date.day, reason, date.created}));
  return true;
}

Result<bool> delete_blackout_date(db::Tx& tx, std::int64_t day) {
  blackout_dates_change(tx);
  RECUR_ASSIGN(auto deleted, tx.exec("DELETE FROM blackout_dates WHERE day = $1", {day}));
  return deleted > 0;
}

Result<std::optional<Timestamp>> next_action_due(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT MIN(next_action_at) FROM subscriptions"));
  if (rows.empty() || rows[0].is_null(0)) return std::optional<Timestamp>();
  return std::optional<Timestamp>(rows[0].int64(0));
}

namespace {
// "('trialing', 'active', 'past_due')", from the one list in the model.
std::string renewing_statuses_sql() {
  std::string sql = "(";
  for (Status s : kRenewingStatuses) sql += (sql.size() > 1 ? ", '" : "'") + std::string(to_string(s)) + "'";
  return sql + ")";
}
}  // namespace

Result<std::vector<DueRenewal>> renewals_between(db::Tx& tx, Timestamp after, Timestamp until,
                                                 const std::optional<DueRenewal>& cursor, int limit) {
  std::string sql = "SELECT id, next_action_at FROM subscriptions WHERE status IN " + renewing_statuses_sql() +
                    " AND next_action_at > $1 AND next_action_at <= $2";
  db::Params params{after, until, std::int64_t{limit}};
  if (cursor) {
    sql += " AND (next_action_at > $4 OR (next_action_at = $4 AND id > $5))";
    params.emplace_back(cursor->at);
    params.emplace_back(cursor->id);
  }
  RECUR_ASSIGN(auto rows, tx.query(sql + " ORDER BY next_action_at, id LIMIT $3", params));
  std::vector<DueRenewal> out;
  for (const auto& row : rows) out.push_back({row.text(0), row.int64(1)});
  return out;
}

Result<std::optional<Timestamp>> earliest_renewal(db::Tx& tx, Timestamp after, const std::vector<std::string>& plans) {
  if (plans.empty()) return std::optional<Timestamp>();
  std::string sql = "SELECT MIN(next_action_at) FROM subscriptions WHERE status IN " + renewing_statuses_sql() +
                    " AND next_action_at > $1 AND plan_id IN (";
  db::Params params{after};
  for (const auto& p : plans) {
    params.emplace_back(p);
    sql += (params.size() > 2 ? ", $" : "$") + std::to_string(params.size());
  }
  RECUR_ASSIGN(auto rows, tx.query(sql + ")", params));
  if (rows.empty() || rows[0].is_null(0)) return std::optional<Timestamp>();
  return std::optional<Timestamp>(rows[0].int64(0));
}

recur::Status scan_for_forecast(db::Tx& tx, const std::vector<std::string>& plans, Timestamp signups_from,
                                Timestamp signups_to, bool documents,
                                const std::function<recur::Status(const ForecastRow&)>& fn) {
  db::Params params;
  std::string doc = ", NULL";
  if (documents) {
    params = {signups_from, signups_to};
    std::string on_plans;
    if (!plans.empty()) {
      on_plans = " AND plan_id IN (";
      for (const auto& plan : plans) {
        params.emplace_back(plan);
        on_plans += (params.size() > 3 ? ", $" : "$") + std::to_string(params.size());
      }
      on_plans += ")";
    }
    doc = ", CASE WHEN (status <> 'canceled'" + on_plans + ") OR (created_at >= $1 AND created_at < $2) THEN doc END";
  }
  std::string sql =
      "SELECT id, version, plan_id, billed_periods, CASE WHEN status = 'canceled' THEN 1 ELSE 0 END,"
      " created_at" +
      doc + " FROM subscriptions";
  return tx.each(sql, params, [&](const db::Row& row) {
    return fn({row.text(0), row.int64(1), row.text(2), row.int64(3), row.int64(4) != 0, row.int64(5),
               row.is_null(6) ? nullptr : &row.text(6)});
  });
}

recur::Status documents_of(
    db::Tx& tx, const std::vector<std::string>& ids,
    const std::function<recur::Status(const std::string& id, std::int64_t version, const std::string& doc)>& fn) {
  constexpr std::size_t kPerStatement = 500;  // far below either engine's limit on parameters
  // Always kPerStatement ids (the last one again to fill the last statement), so each
  // connection prepares this statement once.
  static const std::string sql = [] {
    std::string text = "SELECT id, version, doc FROM subscriptions WHERE id IN (";
    for (std::size_t i = 1; i <= kPerStatement; ++i) text += (i > 1 ? ", $" : "$") + std::to_string(i);
    return text + ")";
  }();
  for (std::size_t from = 0; from < ids.size(); from += kPerStatement) {
    db::Params params;
    params.reserve(kPerStatement);
    for (std::size_t i = from; i < from + kPerStatement; ++i) params.emplace_back(ids[std::min(i, ids.size() - 1)]);
    RECUR_TRY(tx.each(sql, params, [&](const db::Row& row) { return fn(row.text(0), row.int64(1), row.text(2)); }));
  }
  return Ok{};
}

// A signup count needs nothing else, and the trend window may hold a fifth of every subscription.
std::int64_t stored_quantity(std::string_view doc) {
  struct Reader : nlohmann::json_sax<Json> {
    int depth = 0;
    bool at_quantity = false;
    std::int64_t quantity = 1;
    bool value() { return !std::exchange(at_quantity, false); }  // false: found, stop reading
    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t v) override {
      if (at_quantity) quantity = v;
      return value();
    }
    bool number_unsigned(number_unsigned_t v) override {
      if (at_quantity) quantity = static_cast<std::int64_t>(v);
      return value();
    }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool string(string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool start_object(std::size_t) override {
      at_quantity = false;
      return ++depth > 0;
    }
    bool end_object() override { return --depth >= 0; }
    bool start_array(std::size_t) override {
      at_quantity = false;
      return ++depth > 0;
    }
    bool end_array() override { return --depth >= 0; }
    bool key(string_t& k) override {
      at_quantity = depth == 1 && k == "quantity";
      return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
  } reader;
  Json::sax_parse(doc, &reader);
  return reader.quantity;
}

Subscription without_personal_data(std::string_view doc) {
  auto parsed = Json::parse(doc);
  privacy::strip(parsed);  // forecasts need no personal data: sealed values are dropped, not opened
  return subscription_from_doc(parsed);
}

}  // namespace recur::subscriptions
