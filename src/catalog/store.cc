// Catalog SQL.
#include "catalog/store.h"

namespace recur::catalog {
namespace {

template <typename T, typename FromDoc>
Result<std::optional<T>> find_doc(db::Tx& tx, const std::string& table, const std::string& id, bool for_update,
                                  FromDoc from_doc) {
  std::string sql = "SELECT doc FROM " + table + " WHERE id = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<T>();
  return std::optional<T>(from_doc(Json::parse(rows[0].text(0))));
}

// Newest first; filters are (column, value) pairs ANDed together.
template <typename T, typename FromDoc>
Result<Page<T>> list_docs(db::Tx& tx, const std::string& table, std::vector<std::pair<std::string, db::Value>> filters,
                          const ListFilter& page, FromDoc from_doc) {
  std::string sql = "SELECT doc FROM " + table + " WHERE 1 = 1";
  db::Params params;
  for (auto& [column, value] : filters) {
    params.push_back(std::move(value));
    sql += " AND " + column + " = $" + std::to_string(params.size());
  }
  if (page.starting_after) {
    params.emplace_back(*page.starting_after);
    sql += " AND id < $" + std::to_string(params.size());
  }
  params.emplace_back(std::int64_t{page.limit + 1});
  sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
  RECUR_ASSIGN(auto rows, tx.query(sql, params));
  Page<T> out;
  out.has_more = static_cast<int>(rows.size()) > page.limit;
  if (out.has_more) rows.pop_back();
  for (const auto& row : rows) out.items.push_back(from_doc(Json::parse(row.text(0))));
  return out;
}

}  // namespace

Status insert_product(db::Tx& tx, const Product& p) {
  auto r = tx.exec("INSERT INTO products (id, sku, active, version, doc) VALUES ($1, $2, $3, $4, $5)",
                   {p.id, p.sku, std::int64_t{p.active}, p.version, to_json(p).dump()});
  if (!r.ok()) {
    if (r.error().code == db::kUniqueViolation)
      return Error::conflict("sku_taken", "another product already has sku '" + p.sku + "'");
    return std::move(r).error();
  }
  return Ok{};
}

Result<bool> update_product(db::Tx& tx, const Product& p) {
  auto r = tx.exec("UPDATE products SET sku = $2, active = $3, version = $4, doc = $5 WHERE id = $1 AND version = $6",
                   {p.id, p.sku, std::int64_t{p.active}, p.version, to_json(p).dump(), p.version - 1});
  if (!r.ok()) {
    if (r.error().code == db::kUniqueViolation)
      return Error::conflict("sku_taken", "another product already has sku '" + p.sku + "'");
    return std::move(r).error();
  }
  return *r == 1;
}

Result<std::optional<Product>> find_product(db::Tx& tx, const std::string& id, bool for_update) {
  return find_doc<Product>(tx, "products", id, for_update, product_from_doc);
}

Result<Page<Product>> list_products(db::Tx& tx, const ListFilter& f) {
  std::vector<std::pair<std::string, db::Value>> filters;
  if (f.active) filters.emplace_back("active", std::int64_t{*f.active});
  if (f.sku) filters.emplace_back("sku", *f.sku);
  return list_docs<Product>(tx, "products", std::move(filters), f, product_from_doc);
}

Status insert_plan(db::Tx& tx, const Plan& p) {
  auto r = tx.exec("INSERT INTO plans (id, tier, active, version, doc) VALUES ($1, $2, $3, $4, $5)",
                   {p.id, db::nullable(p.tier), std::int64_t{p.active}, p.version, to_json(p).dump()});
  if (!r.ok()) return std::move(r).error();
  return Ok{};
}

Result<bool> update_plan(db::Tx& tx, const Plan& p) {
  RECUR_ASSIGN(auto n, tx.exec("UPDATE plans SET tier = $2, active = $3, version = $4, doc = $5 WHERE id = $1 AND version = $6",
                               {p.id, db::nullable(p.tier), std::int64_t{p.active}, p.version, to_json(p).dump(),
                                p.version - 1}));
  return n == 1;
}

Result<std::optional<Plan>> find_plan(db::Tx& tx, const std::string& id, bool for_update) {
  return find_doc<Plan>(tx, "plans", id, for_update, plan_from_doc);
}

Result<Page<Plan>> list_plans(db::Tx& tx, const ListFilter& f) {
  std::vector<std::pair<std::string, db::Value>> filters;
  if (f.active) filters.emplace_back("active", std::int64_t{*f.active});
  if (f.tier) filters.emplace_back("tier", *f.tier);
  return list_docs<Plan>(tx, "plans", std::move(filters), f, plan_from_doc);
}

}  // namespace recur::catalog
