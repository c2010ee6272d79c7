// The customers module's SQL.
#include "customers/store.h"

#include "platform/db/list_query.h"


namespace recur::customers {
namespace {

constexpr std::string_view kColumns =
    "id, customer_id, gateway, gateway_customer, token, brand, last4, exp_month, exp_year, detached, created_at,"
    " updated_at, version, metadata";

PaymentMethod from_row(const db::Row& r) {
  PaymentMethod pm{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.text(6),
                   static_cast<int>(r.int64(7)), static_cast<int>(r.int64(8)), r.boolean(9), r.int64(10)};
  pm.updated = r.int64(11);
  pm.version = r.int64(12);
  pm.metadata = Json::parse(r.text(13));
  return pm;
}

std::optional<Customer> first_customer(const std::vector<db::Row>& rows) {
  if (rows.empty()) return std::nullopt;
  return customer_from_doc(Json::parse(rows[0].text(0)));
}

}  // namespace

Result<std::optional<Customer>> find_customer(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM customers WHERE id = $1", {id}));
  return first_customer(rows);
}

Result<std::optional<Customer>> lock_customer(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM customers WHERE id = $1" + std::string(tx.for_update()), {id}));
  return first_customer(rows);
}

recur::Status insert_customer(db::Tx& tx, const Customer& c) {
  RECUR_TRY(tx.exec("INSERT INTO customers (id, email, version, doc, created_at) VALUES ($1, $2, $3, $4, $5)",
                    {c.id, c.email, c.version, to_json(c).dump(), c.created}));
  return Ok{};
}

Result<bool> update_customer(db::Tx& tx, const Customer& c, std::int64_t expected_version) {
  RECUR_ASSIGN(auto n, tx.exec("UPDATE customers SET email = $2, version = $3, doc = $4 WHERE id = $1 AND version = $5",
                               {c.id, c.email, c.version, to_json(c).dump(), expected_version}));
  return n == 1;
}

Result<Page<Customer>> list_customers(db::Tx& tx, const ListFilter& f) {
  RECUR_ASSIGN(auto rows, db::ListQuery("SELECT doc FROM customers").where_equal("email", f.email)
                              .fetch(tx, f.page));
  return page_of(rows, f.page.limit, [](const db::Row& row) { return customer_from_doc(Json::parse(row.text(0))); });
}

recur::Status insert_payment_method(db::Tx& tx, const PaymentMethod& pm, const std::string& request_key) {
  RECUR_TRY(db::release_stale_request_key(tx, "payment_methods", request_key, pm.created));
  RECUR_TRY(tx.exec("INSERT INTO payment_methods (" + std::string(kColumns) +
                        ", request_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                    {pm.id, pm.customer, pm.gateway, pm.gateway_customer, pm.token, pm.brand, pm.last4,
                     std::int64_t{pm.exp_month}, std::int64_t{pm.exp_year}, std::int64_t{pm.detached}, pm.created,
                     pm.updated, pm.version, pm.metadata.dump(),
                     request_key.empty() ? db::Value(nullptr) : db::Value(request_key)}));
  return Ok{};
}

Result<std::optional<PaymentMethod>> find_payment_method_by_request(db::Tx& tx, const std::string& request_key,
                                                                   Timestamp now) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT " + std::string(kColumns) +
                                       " FROM payment_methods WHERE request_key = $1 AND created_at >= $2",
                                   {request_key, now - db::kRequestKeyLifetime}));
  if (rows.empty()) return std::optional<PaymentMethod>();
  return std::optional<PaymentMethod>(from_row(rows[0]));
}

Result<std::optional<PaymentMethod>> find_payment_method(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT " + std::string(kColumns) + " FROM payment_methods WHERE id = $1", {id}));
  if (rows.empty()) return std::optional<PaymentMethod>();
  return std::optional<PaymentMethod>(from_row(rows[0]));
}

Result<Page<PaymentMethod>> list_payment_methods(db::Tx& tx, const std::string& customer, const ListParams& page) {
  db::ListQuery query("SELECT " + std::string(kColumns) + " FROM payment_methods");
  query.where("customer_id = $?", customer).where("detached = 0").metadata_column("metadata");
  RECUR_ASSIGN(auto rows, query.fetch(tx, page));
  return page_of(rows, page.limit, from_row);
}

recur::Status mark_detached(db::Tx& tx, const PaymentMethod& pm) {
  RECUR_TRY(tx.exec("UPDATE payment_methods SET detached = 1, updated_at = $2, version = $3 WHERE id = $1",
                    {pm.id, pm.updated, pm.version}));
  return Ok{};
}

Result<std::optional<std::string>> find_gateway_customer(db::Tx& tx, const std::string& customer,
                                                         const std::string& gateway) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT gateway_customer FROM gateway_customers WHERE customer_id = $1 AND gateway = $2",
                                   {customer, gateway}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows[0].text(0));
}

Result<std::string> remember_gateway_customer(db::Tx& tx, const std::string& customer, const std::string& gateway,
                                              const std::string& gateway_customer, Timestamp now) {
  RECUR_TRY(tx.exec("INSERT INTO gateway_customers (customer_id, gateway, gateway_customer, created_at)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id, gateway) DO NOTHING",
                    {customer, gateway, gateway_customer, now}));
  RECUR_ASSIGN(auto stored, find_gateway_customer(tx, customer, gateway));
  return stored.value_or(gateway_customer);
}

Result<std::optional<PaymentMethod>> default_payment_method(db::Tx& tx, const std::string& customer) {
  RECUR_ASSIGN(auto c, find_customer(tx, customer));
  if (!c || !c->default_payment_method) return std::optional<PaymentMethod>();
  RECUR_ASSIGN(auto pm, find_payment_method(tx, *c->default_payment_method));
  if (!pm || pm->detached) return std::optional<PaymentMethod>();
  return pm;
}

Result<std::vector<std::string>> cards_expiring_by(db::Tx& tx, std::int64_t month, int limit) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id FROM payment_methods WHERE detached = 0"
                                   " AND exp_year * 12 + exp_month <= $1 ORDER BY id LIMIT $2",
                                   {month, std::int64_t{limit}}));
  std::vector<std::string> ids;
  for (const auto& r : rows) ids.push_back(r.text(0));
  return ids;
}

}  // namespace recur::customers
