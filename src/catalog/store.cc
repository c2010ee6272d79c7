// Catalog SQL.
#include "catalog/store.h"

#include "platform/db/list_query.h"
#include "platform/db/tx_memo.h"

namespace recur::catalog {
namespace {

struct ProductsTag;
using TxProducts = db::TxMemo<ProductsTag, std::optional<Product>>;

// Maps a row that starts with the document (and may carry more columns) to an object.
template <typename T>
using FromRow = T (*)(const db::Row& row);

template <typename T>
T from_doc_only(const db::Row& row, T (*from_doc)(const Json&)) {
  return from_doc(Json::parse(row.text(0)));
}

Product product_row(const db::Row& row) { return from_doc_only(row, product_from_doc); }
Plan plan_row(const db::Row& row) { return from_doc_only(row, plan_from_doc); }
Tier tier_row(const db::Row& row) { return from_doc_only(row, tier_from_doc); }
Coupon coupon_row(const db::Row& row) {
  Coupon c = coupon_from_doc(Json::parse(row.text(0)));
  c.times_redeemed = row.int64(1);
  return c;
}
PromotionCode promotion_code_row(const db::Row& row) {
  PromotionCode p = promotion_code_from_doc(Json::parse(row.text(0)));
  p.times_redeemed = row.int64(1);
  return p;
}

// `columns` starts with doc; `key` is the column matched against `value`.
template <typename T>
Result<std::optional<T>> find_row(db::Tx& tx, const std::string& table, const std::string& columns,
                                  const std::string& key, const std::string& value, bool for_update,
                                  FromRow<T> from_row) {
  std::string sql = "SELECT " + columns + " FROM " + table + " WHERE " + key + " = $1";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql, {value}));
  if (rows.empty()) return std::optional<T>();
  return std::optional<T>(from_row(rows[0]));
}

// Newest first; filters are (column, value) pairs ANDed together.
template <typename T>
Result<Page<T>> list_rows(db::Tx& tx, const std::string& table, const std::string& columns,
                          std::vector<std::pair<std::string, db::Value>> filters, const ListFilter& filter,
                          FromRow<T> from_row) {
  db::ListQuery query("SELECT " + columns + " FROM " + table);
  for (auto& [column, value] : filters) query.where(column + " = $?", std::move(value));
  RECUR_ASSIGN(auto rows, query.fetch(tx, filter.page));
  return page_of(rows, filter.page.limit, from_row);
}

// Adds one to times_redeemed unless max_redemptions is reached, in one statement, so the
// check and the count cannot be separated by another redemption.
Result<bool> count_redemption(db::Tx& tx, const std::string& table, const std::string& id) {
  RECUR_ASSIGN(auto n, tx.exec("UPDATE " + table + " SET times_redeemed = times_redeemed + 1 WHERE id = $1"
                               " AND (max_redemptions IS NULL OR times_redeemed < max_redemptions)",
                               {id}));
  return n == 1;
}

}  // namespace

Status insert_product(db::Tx& tx, const Product& p) {
  TxProducts::forget(tx, p.id);
  auto r = tx.exec("INSERT INTO products (id, sku, active, version, doc, track_inventory, created_at)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                   {p.id, p.sku, std::int64_t{p.active}, p.version, to_json(p).dump(), std::int64_t{p.track_inventory},
                    p.created});
  if (!r.ok()) {
    if (r.error().code == db::kUniqueViolation)
      return Error::conflict("sku_taken", "another product already has sku '" + p.sku + "'");
    return std::move(r).error();
  }
  return Ok{};
}

Result<bool> update_product(db::Tx& tx, const Product& p) {
  TxProducts::forget(tx, p.id);
  auto r = tx.exec("UPDATE products SET sku = $2, active = $3, version = $4, doc = $5, track_inventory = $7"
                   " WHERE id = $1 AND version = $6",
                   {p.id, p.sku, std::int64_t{p.active}, p.version, to_json(p).dump(), p.version - 1,
                    std::int64_t{p.track_inventory}});
  if (!r.ok()) {
    if (r.error().code == db::kUniqueViolation)
      return Error::conflict("sku_taken", "another product already has sku '" + p.sku + "'");
    return std::move(r).error();
  }
  return *r == 1;
}

Result<std::optional<Product>> find_product(db::Tx& tx, const std::string& id, bool for_update) {
  // Once a transaction (a batch of renewals ships the same products): insert_product and
  // update_product keep it current.
  if (!for_update)
    if (const auto* mine = TxProducts::find(tx, id)) return *mine;
  RECUR_ASSIGN(auto product, find_row<Product>(tx, "products", "doc", "id", id, for_update, product_row));
  TxProducts::put(tx, id, product);
  return product;
}

Result<std::optional<Product>> find_product_by_key(db::Tx& tx, const std::string& key, bool for_update) {
  return find_row<Product>(tx, "products", "doc", is_product_id(key) ? "id" : "sku", key, for_update, product_row);
}

Result<Page<Product>> list_products(db::Tx& tx, const ListFilter& f) {
  std::vector<std::pair<std::string, db::Value>> filters;
  if (f.active) filters.emplace_back("active", std::int64_t{*f.active});
  if (f.sku) filters.emplace_back("sku", *f.sku);
  return list_rows<Product>(tx, "products", "doc", std::move(filters), f, product_row);
}

Status insert_plan(db::Tx& tx, const Plan& p) {
  auto r = tx.exec("INSERT INTO plans (id, tier, active, version, doc, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                   {p.id, db::nullable(p.tier), std::int64_t{p.active}, p.version, to_json(p).dump(), p.created});
  if (!r.ok()) return std::move(r).error();
  if (auto* plans = tx.attached<PlanCache>()) plans->cache.invalidate_after_commit(tx, p.id);
  return Ok{};
}

Result<bool> update_plan(db::Tx& tx, const Plan& p) {
  if (auto* plans = tx.attached<PlanCache>()) plans->cache.invalidate_after_commit(tx, p.id);
  RECUR_ASSIGN(auto n, tx.exec("UPDATE plans SET tier = $2, active = $3, version = $4, doc = $5 WHERE id = $1 AND version = $6",
                               {p.id, db::nullable(p.tier), std::int64_t{p.active}, p.version, to_json(p).dump(),
                                p.version - 1}));
  return n == 1;
}

Result<std::optional<Plan>> find_plan(db::Tx& tx, const std::string& id, bool for_update) {
  auto* plans = for_update ? nullptr : tx.attached<PlanCache>();
  if (plans) {
    if (auto hit = plans->cache.get(tx, id)) return hit;
  }
  RECUR_ASSIGN(auto plan, find_row<Plan>(tx, "plans", "doc", "id", id, for_update, plan_row));
  if (plans && plan) plans->cache.fill(tx, id, *plan);
  return plan;
}

namespace {

Error rank_taken(const Tier& t) {
  return Error::conflict("tier_rank_taken", "another tier already has rank " + std::to_string(t.rank));
}

}  // namespace

Status insert_tier(db::Tx& tx, const Tier& t) {
  auto r = tx.exec("INSERT INTO tiers (id, rank, version, doc, created_at) VALUES ($1, $2, $3, $4, $5)",
                   {t.id, t.rank, t.version, to_json(t).dump(), t.created});
  if (!r.ok()) return r.error().code == db::kUniqueViolation ? rank_taken(t) : std::move(r).error();
  return Ok{};
}

namespace {
// A tier's entitlements are part of what a subscription on its plans shows: what is cached
// from plans goes (the plans themselves are unchanged, but a cache built on them listens).
void tiers_change(db::Tx& tx) {
  if (auto* plans = tx.attached<PlanCache>()) plans->cache.invalidate_all_after_commit(tx);
}
}  // namespace

Result<bool> update_tier(db::Tx& tx, const Tier& t) {
  tiers_change(tx);
  auto r = tx.exec("UPDATE tiers SET rank = $2, version = $3, doc = $4 WHERE id = $1 AND version = $5",
                   {t.id, t.rank, t.version, to_json(t).dump(), t.version - 1});
  if (!r.ok()) return r.error().code == db::kUniqueViolation ? rank_taken(t) : std::move(r).error();
  return *r == 1;
}

Status delete_tier(db::Tx& tx, const std::string& id) {
  tiers_change(tx);
  RECUR_TRY(tx.exec("DELETE FROM tiers WHERE id = $1", {id}));
  return Ok{};
}

Result<std::optional<Tier>> find_tier(db::Tx& tx, const std::string& id, bool for_update) {
  return find_row<Tier>(tx, "tiers", "doc", "id", id, for_update, tier_row);
}

Result<Page<Tier>> list_tiers(db::Tx& tx, const ListFilter& f) {
  return list_rows<Tier>(tx, "tiers", "doc", {}, f, tier_row);
}

Result<std::int64_t> plans_on_tier(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*) FROM plans WHERE tier = $1", {id}));
  return rows.at(0).int64(0);
}

Result<std::optional<Tier>> tier_of(db::Tx& tx, const Plan& plan) {
  if (!plan.tier) return std::optional<Tier>();
  return find_tier(tx, *plan.tier);
}

Result<std::vector<PlanItem>> box_items(db::Tx& tx, const Plan& plan, std::int64_t quantity) {
  std::vector<PlanItem> items;
  for (const auto& item : plan.items) items.push_back({item.product, item.quantity * quantity});
  RECUR_ASSIGN(auto tier, tier_of(tx, plan));
  if (tier)
    for (const auto& extra : tier->entitlements.extras) items.push_back({extra.product, extra.quantity * quantity});
  return items;
}

std::optional<Selection> with_extra_choices(const std::optional<Selection>& selection, const std::optional<Tier>& tier) {
  if (!selection || !tier) return selection;
  Selection s = *selection;
  s.choose += tier->entitlements.extra_choices;
  return s;
}

Result<std::optional<Selection>> box_selection(db::Tx& tx, const Plan& plan) {
  if (!plan.selection) return std::optional<Selection>();
  RECUR_ASSIGN(auto tier, tier_of(tx, plan));
  return with_extra_choices(plan.selection, tier);
}

Result<Page<Plan>> list_plans(db::Tx& tx, const ListFilter& f) {
  std::vector<std::pair<std::string, db::Value>> filters;
  if (f.active) filters.emplace_back("active", std::int64_t{*f.active});
  if (f.tier) filters.emplace_back("tier", *f.tier);
  return list_rows<Plan>(tx, "plans", "doc", std::move(filters), f, plan_row);
}

// ---------------------------------------------------------------- coupons

Status insert_coupon(db::Tx& tx, const Coupon& c) {
  RECUR_TRY(tx.exec("INSERT INTO coupons (id, active, max_redemptions, times_redeemed, version, created_at, doc)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    {c.id, std::int64_t{c.active}, db::nullable(c.max_redemptions), c.times_redeemed, c.version,
                     c.created, to_json(c).dump()}));
  return Ok{};
}

Result<bool> update_coupon(db::Tx& tx, const Coupon& c) {
  RECUR_ASSIGN(auto n, tx.exec("UPDATE coupons SET active = $2, version = $3, doc = $4 WHERE id = $1 AND version = $5",
                               {c.id, std::int64_t{c.active}, c.version, to_json(c).dump(), c.version - 1}));
  return n == 1;
}

Result<std::optional<Coupon>> find_coupon(db::Tx& tx, const std::string& id, bool for_update) {
  return find_row<Coupon>(tx, "coupons", "doc, times_redeemed", "id", id, for_update, coupon_row);
}

Result<Page<Coupon>> list_coupons(db::Tx& tx, const ListFilter& f) {
  std::vector<std::pair<std::string, db::Value>> filters;
  if (f.active) filters.emplace_back("active", std::int64_t{*f.active});
  return list_rows<Coupon>(tx, "coupons", "doc, times_redeemed", std::move(filters), f, coupon_row);
}

Result<bool> count_coupon_redemption(db::Tx& tx, const std::string& id) {
  return count_redemption(tx, "coupons", id);
}

Status insert_promotion_code(db::Tx& tx, const PromotionCode& p) {
  auto r = tx.exec("INSERT INTO promotion_codes (id, code_key, coupon_id, active, max_redemptions, times_redeemed,"
                   " version, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                   {p.id, promotion_code_key(p.code), p.coupon, std::int64_t{p.active},
                    db::nullable(p.max_redemptions), p.times_redeemed, p.version, p.created, to_json(p).dump()});
  if (!r.ok()) {
    if (r.error().code == db::kUniqueViolation)
      return Error::conflict("promotion_code_taken", "another promotion code is already '" + p.code +
                                                         "' (codes are unique regardless of case)");
    return std::move(r).error();
  }
  return Ok{};
}

Result<bool> update_promotion_code(db::Tx& tx, const PromotionCode& p) {
  RECUR_ASSIGN(auto n, tx.exec("UPDATE promotion_codes SET active = $2, version = $3, doc = $4"
                               " WHERE id = $1 AND version = $5",
                               {p.id, std::int64_t{p.active}, p.version, to_json(p).dump(), p.version - 1}));
  return n == 1;
}

Result<std::optional<PromotionCode>> find_promotion_code(db::Tx& tx, const std::string& id, bool for_update) {
  return find_row<PromotionCode>(tx, "promotion_codes", "doc, times_redeemed", "id", id, for_update,
                                 promotion_code_row);
}

Result<std::optional<PromotionCode>> find_promotion_code_by_code(db::Tx& tx, std::string_view code, bool for_update) {
  return find_row<PromotionCode>(tx, "promotion_codes", "doc, times_redeemed", "code_key", promotion_code_key(code),
                                 for_update, promotion_code_row);
}

Result<Page<PromotionCode>> list_promotion_codes(db::Tx& tx, const ListFilter& f) {
  std::vector<std::pair<std::string, db::Value>> filters;
  if (f.active) filters.emplace_back("active", std::int64_t{*f.active});
  if (f.code) filters.emplace_back("code_key", promotion_code_key(*f.code));
  if (f.coupon) filters.emplace_back("coupon_id", *f.coupon);
  return list_rows<PromotionCode>(tx, "promotion_codes", "doc, times_redeemed", std::move(filters), f,
                                  promotion_code_row);
}

Result<bool> count_promotion_code_redemption(db::Tx& tx, const std::string& id) {
  return count_redemption(tx, "promotion_codes", id);
}

Status insert_redemption(db::Tx& tx, const Redemption& r) {
  RECUR_TRY(tx.exec("INSERT INTO coupon_redemptions (id, coupon_id, promotion_code_id, customer_id, subscription_id,"
                    " created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    {r.id, r.coupon, db::nullable(r.promotion_code), r.customer, r.subscription, r.created}));
  return Ok{};
}

Result<std::int64_t> customer_redemptions(db::Tx& tx, const std::string& coupon, const std::string& customer) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*) FROM coupon_redemptions WHERE coupon_id = $1 AND customer_id = $2",
                                   {coupon, customer}));
  return rows.at(0).int64(0);
}

Result<std::map<std::int64_t, std::vector<std::string>>> plans_by_reminder_days(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, doc FROM plans"));
  std::map<std::int64_t, std::vector<std::string>> out;
  for (const auto& r : rows) {
    auto days = plan_from_doc(Json::parse(r.text(1))).renewal_reminder_days;
    if (days > 0) out[days].push_back(r.text(0));
  }
  return out;
}

namespace {
template <typename T>
std::vector<T> rows_to(const std::vector<db::Row>& rows, FromRow<T> from_row) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(from_row(r));
  return out;
}
}  // namespace

Result<std::vector<Product>> all_products(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM products ORDER BY id"));
  return rows_to<Product>(rows, product_row);
}

Result<std::vector<Plan>> all_plans(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM plans ORDER BY id"));
  return rows_to<Plan>(rows, plan_row);
}

Result<std::vector<Plan>> all_plans_with_extras(db::Tx& tx) {
  RECUR_ASSIGN(auto plans, all_plans(tx));
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM tiers"));
  std::map<std::string, Tier> tiers;
  for (const auto& t : rows_to<Tier>(rows, tier_row)) tiers.emplace(t.id, t);
  for (auto& plan : plans) {
    auto tier = plan.tier ? tiers.find(*plan.tier) : tiers.end();
    if (tier == tiers.end()) continue;
    for (const auto& extra : tier->second.entitlements.extras) plan.items.push_back(extra);
    plan.selection = with_extra_choices(plan.selection, tier->second);
  }
  return plans;
}

Result<std::vector<Product>> tracked_products(db::Tx& tx, const std::optional<std::string>& cursor, bool backward) {
  std::string sql = "SELECT doc FROM products WHERE track_inventory = 1";
  db::Params params;
  if (cursor) {
    params.emplace_back(*cursor);
    sql += backward ? " AND id < $1" : " AND id > $1";
  }
  sql += backward ? " ORDER BY id DESC" : " ORDER BY id";
  RECUR_ASSIGN(auto rows, tx.query(sql, params));
  return rows_to<Product>(rows, product_row);
}

Result<std::vector<Product>> other_active_products(db::Tx& tx, const std::string& id, int limit) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM products WHERE active = 1 AND id <> $1 ORDER BY id LIMIT $2",
                                   {id, std::int64_t{limit}}));
  return rows_to<Product>(rows, product_row);
}

}  // namespace recur::catalog
