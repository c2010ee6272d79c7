// The customers module's SQL.
#include "customers/store.h"

#include <algorithm>
#include <set>

#include "platform/db/list_query.h"
#include "privacy/privacy.h"

namespace recur::customers {
namespace {

constexpr std::string_view kColumns =
    "id, customer_id, gateway, gateway_customer, token, brand, last4, exp_month, exp_year, detached, created_at,"
    " updated_at, version, metadata, type, wallet";

PaymentMethod from_row(const db::Row& r) {
  PaymentMethod pm{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.text(6),
                   static_cast<int>(r.int64(7)), static_cast<int>(r.int64(8)), r.boolean(9), r.int64(10)};
  pm.updated = r.int64(11);
  pm.version = r.int64(12);
  pm.metadata = Json::parse(r.text(13));
  pm.type = r.text(14);
  return pm;
}

// A wallet's details as stored in the `wallet` column: {object, customer, <type>: {email}},
// sealed like any personal field (privacy/model.h names payment_method.<type>.email).
Result<std::string> sealed_wallet(db::Tx& tx, const PaymentMethod& pm) {
  Json wallet = {{"object", "payment_method"}, {"customer", pm.customer}, {pm.type, {{"email", pm.email}}}};
  RECUR_TRY(privacy::seal(tx, wallet, pm.id));
  return wallet.dump();
}

// A payment method as stored, its wallet's e-mail opened ("" once its customer is erased).
Result<PaymentMethod> method_of(db::Tx& tx, const db::Row& r) {
  PaymentMethod pm = from_row(r);
  if (r.is_null(15)) return pm;
  Json wallet = Json::parse(r.text(15));
  RECUR_TRY(privacy::open(tx, wallet, pm.id));
  const Json& details = wallet.value(pm.type, Json());
  if (details.is_object()) pm.email = doc_text(details, "email").value_or("");
  return pm;
}

Result<std::optional<PaymentMethod>> first_method(db::Tx& tx, const db::Rows& rows) {
  if (rows.empty()) return std::optional<PaymentMethod>();
  RECUR_ASSIGN(PaymentMethod pm, method_of(tx, rows[0]));
  return std::optional<PaymentMethod>(std::move(pm));
}

// A customer as stored: its personal fields opened (privacy/privacy.h).
Result<Customer> customer_of(db::Tx& tx, const db::Row& row) {
  auto doc = Json::parse(row.text(0));
  RECUR_TRY(privacy::open(tx, doc, doc.at("id")));
  return customer_from_doc(doc);
}

Result<std::optional<Customer>> first_customer(db::Tx& tx, const std::vector<db::Row>& rows) {
  if (rows.empty()) return std::optional<Customer>();
  RECUR_ASSIGN(auto c, customer_of(tx, rows[0]));
  return std::optional<Customer>(std::move(c));
}

// The row's doc (personal fields sealed) and blind indexes.
struct CustomerRow {
  std::string doc;
  db::Value email_index;
  db::Value phone_index;
};

Result<CustomerRow> customer_row(db::Tx& tx, const Customer& c) {
  // An erased customer's e-mail index is empty (the column is NOT NULL): nothing finds them.
  CustomerRow row{"", db::Value(std::string()), db::Value(nullptr)};
  auto doc = to_json(c);
  RECUR_TRY(privacy::seal(tx, doc, c.id));
  row.doc = doc.dump();
  if (!c.erased_at) {
    RECUR_ASSIGN(auto email, privacy::email_index(tx, c.email));
    row.email_index = email;
    if (c.phone) {
      RECUR_ASSIGN(auto phone, privacy::phone_index(tx, *c.phone));
      row.phone_index = phone;
    }
  }
  return row;
}

}  // namespace

Result<std::optional<Customer>> find_customer(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM customers WHERE id = $1", {id}));
  return first_customer(tx, rows);
}

Result<std::optional<Customer>> lock_customer(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM customers WHERE id = $1" + std::string(tx.for_update()), {id}));
  return first_customer(tx, rows);
}

recur::Status insert_customer(db::Tx& tx, const Customer& c) {
  RECUR_ASSIGN(auto row, customer_row(tx, c));
  RECUR_TRY(tx.exec("INSERT INTO customers (id, email_index, phone_index, version, doc, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    {c.id, row.email_index, row.phone_index, c.version, row.doc, c.created}));
  return Ok{};
}

Result<bool> update_customer(db::Tx& tx, const Customer& c, std::int64_t expected_version) {
  RECUR_ASSIGN(auto row, customer_row(tx, c));
  RECUR_ASSIGN(auto n, tx.exec("UPDATE customers SET email_index = $2, phone_index = $3, version = $4, doc = $5"
                               " WHERE id = $1 AND version = $6",
                               {c.id, row.email_index, row.phone_index, c.version, row.doc, expected_version}));
  return n == 1;
}

Result<std::vector<std::string>> not_erased(db::Tx& tx, const std::vector<std::string>& ids) {
  // An erased customer's e-mail index is empty (customer_row). In batches, so that the
  // statement's parameters stay few on either engine.
  constexpr std::size_t kBatch = 200;
  std::vector<std::string> kept;
  for (std::size_t at = 0; at < ids.size(); at += kBatch) {
    std::vector<db::Value> params;
    std::string sql = "SELECT id FROM customers WHERE email_index <> '' AND id IN (";
    for (std::size_t i = at; i < std::min(ids.size(), at + kBatch); ++i) {
      params.emplace_back(ids[i]);
      sql += (i == at ? "$" : ", $") + std::to_string(params.size());
    }
    RECUR_ASSIGN(auto rows, tx.query(sql + ")", params));
    std::set<std::string> found;
    for (const auto& row : rows) found.insert(row.text(0));
    for (std::size_t i = at; i < std::min(ids.size(), at + kBatch); ++i)
      if (found.count(ids[i])) kept.push_back(ids[i]);
  }
  return kept;
}

Result<Page<Customer>> list_customers(db::Tx& tx, const ListFilter& f) {
  std::optional<std::string> email_index;
  if (f.email) {
    RECUR_ASSIGN(auto index, privacy::email_index(tx, *f.email));
    email_index = index;
  }
  std::optional<std::string> phone_index;
  if (f.phone) {
    RECUR_ASSIGN(auto index, privacy::phone_index(tx, *f.phone));
    phone_index = index;
  }
  RECUR_ASSIGN(auto rows, db::ListQuery("SELECT doc FROM customers")
                              .where_equal("email_index", email_index)
                              .where_equal("phone_index", phone_index)
                              .fetch(tx, f.page));
  std::vector<Customer> customers;
  for (const auto& row : rows) {
    RECUR_ASSIGN(auto c, customer_of(tx, row));
    customers.push_back(std::move(c));
  }
  return page_of(customers, f.page.limit);
}

recur::Status insert_payment_method(db::Tx& tx, const PaymentMethod& pm, const std::string& request_key) {
  RECUR_TRY(db::release_stale_request_key(tx, "payment_methods", request_key, pm.created));
  db::Value wallet(nullptr);
  if (pm.type != "card") {
    RECUR_ASSIGN(std::string sealed, sealed_wallet(tx, pm));
    wallet = db::Value(std::move(sealed));
  }
  RECUR_TRY(tx.exec("INSERT INTO payment_methods (" + std::string(kColumns) +
                        ", request_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
                        " $17)",
                    {pm.id, pm.customer, pm.gateway, pm.gateway_customer, pm.token, pm.brand, pm.last4,
                     std::int64_t{pm.exp_month}, std::int64_t{pm.exp_year}, std::int64_t{pm.detached}, pm.created,
                     pm.updated, pm.version, pm.metadata.dump(), pm.type, std::move(wallet),
                     request_key.empty() ? db::Value(nullptr) : db::Value(request_key)}));
  return Ok{};
}

Result<std::optional<PaymentMethod>> find_payment_method_by_request(db::Tx& tx, const std::string& request_key,
                                                                   Timestamp now) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT " + std::string(kColumns) +
                                       " FROM payment_methods WHERE request_key = $1 AND created_at >= $2",
                                   {request_key, now - db::kRequestKeyLifetime}));
  return first_method(tx, rows);
}

Result<std::optional<PaymentMethod>> find_payment_method(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT " + std::string(kColumns) + " FROM payment_methods WHERE id = $1", {id}));
  return first_method(tx, rows);
}

Result<Page<PaymentMethod>> list_payment_methods(db::Tx& tx, const std::string& customer, const ListParams& page) {
  db::ListQuery query("SELECT " + std::string(kColumns) + " FROM payment_methods");
  query.where("customer_id = $?", customer).where("detached = 0").metadata_column("metadata");
  RECUR_ASSIGN(auto rows, query.fetch(tx, page));
  std::vector<PaymentMethod> methods;
  for (const auto& row : rows) {
    RECUR_ASSIGN(PaymentMethod pm, method_of(tx, row));
    methods.push_back(std::move(pm));
  }
  return page_of(std::move(methods), page.limit);
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
  // Cards only: a wallet has no expiry.
  RECUR_ASSIGN(auto rows, tx.query("SELECT id FROM payment_methods WHERE detached = 0 AND type = 'card'"
                                   " AND exp_year * 12 + exp_month <= $1 ORDER BY id LIMIT $2",
                                   {month, std::int64_t{limit}}));
  std::vector<std::string> ids;
  for (const auto& r : rows) ids.push_back(r.text(0));
  return ids;
}

}  // namespace recur::customers
