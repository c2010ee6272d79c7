// Customer use cases and SQL.
#include "customers/service.h"

namespace recur::customers {

Result<std::optional<Customer>> find_customer(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM customers WHERE id = $1", {id}));
  if (rows.empty()) return std::optional<Customer>();
  return std::optional<Customer>(customer_from_doc(Json::parse(rows[0].text(0))));
}

Result<Customer> CustomerService::create(const CustomerInput& in, const events::Actor& actor) {
  Customer c;
  c.id = ids_.next("cus");
  c.email = in.email;
  c.name = in.name;
  c.phone = in.phone;
  c.shipping_address = in.shipping_address;
  c.metadata = in.metadata;
  c.created = c.updated = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Customer> {
    RECUR_TRY(tx.exec("INSERT INTO customers (id, email, version, doc) VALUES ($1, $2, $3, $4)",
                      {c.id, c.email, c.version, to_json(c).dump()}));
    RECUR_TRY(events_.record(tx, "customer.created", c.id, actor, nullptr, to_json(c)));
    return c;
  });
}

Result<Customer> CustomerService::update(const std::string& id, const CustomerPatch& patch,
                                         std::int64_t expected_version, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Customer> {
    RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM customers WHERE id = $1" + std::string(tx.for_update()), {id}));
    if (rows.empty()) return Error::not_found("customer_not_found", "no customer with id '" + id + "'");
    Customer c = customer_from_doc(Json::parse(rows[0].text(0)));
    if (c.version != expected_version) return version_conflict("the customer", expected_version, c.version);
    Json before = to_json(c);
    if (patch.email) c.email = *patch.email;
    if (patch.name) c.name = *patch.name;
    if (patch.phone) c.phone = *patch.phone;
    if (patch.shipping_address) c.shipping_address = *patch.shipping_address;
    if (patch.metadata) c.metadata = *patch.metadata;
    c.updated = clock_.now();
    ++c.version;
    RECUR_ASSIGN(auto n, tx.exec("UPDATE customers SET email = $2, version = $3, doc = $4 WHERE id = $1 AND version = $5",
                                 {c.id, c.email, c.version, to_json(c).dump(), expected_version}));
    if (n != 1) return version_conflict("the customer", expected_version, c.version);
    RECUR_TRY(events_.record(tx, "customer.updated", c.id, actor, std::move(before), to_json(c)));
    return c;
  });
}

Result<Customer> CustomerService::get(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Customer> {
    RECUR_ASSIGN(auto found, find_customer(tx, id));
    if (!found) return Error::not_found("customer_not_found", "no customer with id '" + id + "'");
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page> CustomerService::list(const ListFilter& f) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Page> {
    std::string sql = "SELECT doc FROM customers WHERE 1 = 1";
    db::Params params;
    if (f.starting_after) {
      params.emplace_back(*f.starting_after);
      sql += " AND id < $1";
    }
    if (f.email) {
      params.emplace_back(*f.email);
      sql += " AND email = $" + std::to_string(params.size());
    }
    params.emplace_back(std::int64_t{f.limit + 1});
    sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
    RECUR_ASSIGN(auto rows, tx.query(sql, params));
    Page page;
    page.has_more = static_cast<int>(rows.size()) > f.limit;
    if (page.has_more) rows.pop_back();
    for (const auto& row : rows) page.items.push_back(customer_from_doc(Json::parse(row.text(0))));
    return page;
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::customers
