// The one list path: the statement ListQuery builds, and page_of's has_more.
#include "platform/db/list_query.h"

#include <gtest/gtest.h>

#include "platform/page.h"

namespace recur::db {
namespace {

ListParams page(int limit, std::optional<std::string> after = std::nullopt) {
  ListParams p;
  p.limit = limit;
  p.starting_after = std::move(after);
  return p;
}

TEST(ListQuery, StatementsForEachShapeOfList) {
  struct Case {
    const char* name;
    ListQuery query;
    ListParams page;
    std::string sql;
    Params params;
    Engine engine = Engine::kSqlite;
  };
  std::vector<Case> cases;
  cases.push_back({"no filter, first page", ListQuery("SELECT doc FROM plans"), page(10),
                   "SELECT doc FROM plans ORDER BY id DESC LIMIT $1", {std::int64_t{11}}});
  cases.push_back({"absent filters add nothing",
                   ListQuery("SELECT doc FROM invoices").where_equal("status", std::nullopt).where_equal("customer_id", "cus_1"),
                   page(5), "SELECT doc FROM invoices WHERE customer_id = $1 ORDER BY id DESC LIMIT $2",
                   {std::string("cus_1"), std::int64_t{6}}});
  cases.push_back({"filters then the cursor, newest first",
                   ListQuery("SELECT doc FROM shipments").where_equal("customer_id", "cus_1").where_equal("status", "ready"),
                   page(2, "shp_9"),
                   "SELECT doc FROM shipments WHERE customer_id = $1 AND status = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
                   {std::string("cus_1"), std::string("ready"), std::string("shp_9"), std::int64_t{3}}});
  cases.push_back({"a condition with its placeholder inside, another key",
                   ListQuery("SELECT s.doc FROM suppliers s", "s.id")
                       .where("s.id IN (SELECT supplier_id FROM supplier_products WHERE product_id = $?)", "prod_1"),
                   page(1, "sup_2"),
                   "SELECT s.doc FROM suppliers s WHERE s.id IN (SELECT supplier_id FROM supplier_products WHERE "
                   "product_id = $1) AND s.id < $2 ORDER BY s.id DESC LIMIT $3",
                   {std::string("prod_1"), std::string("sup_2"), std::int64_t{2}}});
  cases.push_back({"oldest first pages forward",
                   ListQuery("SELECT id FROM events", "id", ListQuery::Order::kOldestFirst).where("resource_id = $?", "sub_1"),
                   page(50, "evt_3"), "SELECT id FROM events WHERE resource_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                   {std::string("sub_1"), std::string("evt_3"), std::int64_t{51}}});
  cases.push_back({"a condition without a value",
                   ListQuery("SELECT doc FROM products").where("track_inventory = 1").where_equal("sku", "A"), page(3),
                   "SELECT doc FROM products WHERE track_inventory = 1 AND sku = $1 ORDER BY id DESC LIMIT $2",
                   {std::string("A"), std::int64_t{4}}});
  cases.push_back({"a list of values, none of them",
                   ListQuery("SELECT doc FROM invoices").where_in("status", {"open", "paid"}).where_in("kind", {}), page(3),
                   "SELECT doc FROM invoices WHERE status IN ($1, $2) ORDER BY id DESC LIMIT $3",
                   {std::string("open"), std::string("paid"), std::int64_t{4}}});
  ListParams before = page(2);
  before.ending_before = "in_5";
  cases.push_back({"ending_before reads backwards from its cursor", ListQuery("SELECT doc FROM invoices"), before,
                   "SELECT doc FROM invoices WHERE id > $1 ORDER BY id LIMIT $2", {std::string("in_5"), std::int64_t{3}}});
  cases.push_back({"ending_before on an oldest-first list",
                   ListQuery("SELECT id FROM events", "id", ListQuery::Order::kOldestFirst), before,
                   "SELECT id FROM events WHERE id < $1 ORDER BY id DESC LIMIT $2", {std::string("in_5"), std::int64_t{3}}});
  ListParams created = page(10);
  created.created_gte = 100;
  created.created_lt = 200;
  cases.push_back({"created bounds on the created column", ListQuery("SELECT doc FROM subscriptions"), created,
                   "SELECT doc FROM subscriptions WHERE created_at >= $1 AND created_at < $2 ORDER BY id DESC LIMIT $3",
                   {std::int64_t{100}, std::int64_t{200}, std::int64_t{11}}});
  ListParams open_bounds = page(10);
  open_bounds.created_gt = 1;
  open_bounds.created_lte = 2;
  cases.push_back({"created bounds on another column",
                   ListQuery("SELECT doc FROM billing_runs").created_column("started_at"), open_bounds,
                   "SELECT doc FROM billing_runs WHERE started_at > $1 AND started_at <= $2 ORDER BY id DESC LIMIT $3",
                   {std::int64_t{1}, std::int64_t{2}, std::int64_t{11}}});
  ListParams tagged = page(10);
  tagged.metadata = {{"order", "42"}};
  cases.push_back({"metadata on SQLite: the key in a bound JSON path",
                   ListQuery("SELECT doc FROM customers").where_equal("email", "a@b.c"), tagged,
                   "SELECT doc FROM customers WHERE email = $1 AND json_extract(doc, $2) = $3 ORDER BY id DESC LIMIT $4",
                   {std::string("a@b.c"), std::string("$.metadata.\"order\""), std::string("42"), std::int64_t{11}}});
  cases.push_back({"metadata on PostgreSQL: the key bound as a value", ListQuery("SELECT doc FROM customers"), tagged,
                   "SELECT doc FROM customers WHERE (doc::jsonb -> 'metadata' ->> $1) = $2 ORDER BY id DESC LIMIT $3",
                   {std::string("order"), std::string("42"), std::int64_t{11}}, Engine::kPostgres});
  cases.push_back({"a metadata column on SQLite",
                   ListQuery("SELECT id FROM payment_methods").metadata_column("metadata"), tagged,
                   "SELECT id FROM payment_methods WHERE json_extract(metadata, $1) = $2 ORDER BY id DESC LIMIT $3",
                   {std::string("$.\"order\""), std::string("42"), std::int64_t{11}}});
  cases.push_back({"a metadata column on PostgreSQL",
                   ListQuery("SELECT id FROM payment_methods").metadata_column("metadata"), tagged,
                   "SELECT id FROM payment_methods WHERE (metadata::jsonb ->> $1) = $2 ORDER BY id DESC LIMIT $3",
                   {std::string("order"), std::string("42"), std::int64_t{11}}, Engine::kPostgres});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto [sql, params] = c.query.statement(c.page, c.engine);
    EXPECT_EQ(sql, c.sql);
    EXPECT_EQ(params, c.params);
  }
}

TEST(ListQuery, AListWithoutCreatedOrMetadataRefusesThem) {
  ListParams created;
  created.created_gte = 1;
  EXPECT_THROW(ListQuery("SELECT doc FROM x").created_column("").statement(created, Engine::kSqlite), std::logic_error);
  ListParams tagged;
  tagged.metadata = {{"a", "b"}};
  EXPECT_THROW(ListQuery("SELECT doc FROM x").doc_column("").statement(tagged, Engine::kSqlite), std::logic_error);
}

TEST(ListQuery, AConditionForAValueMustSayWhereItGoes) {
  ListQuery query("SELECT doc FROM plans");
  EXPECT_THROW(query.where("tier = tier", "x"), std::logic_error);
}

TEST(PageOf, TheExtraRowOnlySaysThereIsMore) {
  struct Case {
    std::vector<int> rows;
    int limit;
    std::vector<int> items;
    bool has_more;
  };
  const std::vector<Case> cases = {
      {{}, 3, {}, false},
      {{5, 4}, 3, {5, 4}, false},
      {{5, 4, 3}, 3, {5, 4, 3}, false},
      {{5, 4, 3, 2}, 3, {5, 4, 3}, true},
  };
  for (const auto& c : cases) {
    auto page = page_of(c.rows, c.limit);
    EXPECT_EQ(page.items, c.items);
    EXPECT_EQ(page.has_more, c.has_more);
    auto converted = page_of(c.rows, c.limit, [](int v) { return v * 10; });
    ASSERT_EQ(converted.items.size(), c.items.size());
    for (std::size_t i = 0; i < c.items.size(); ++i) EXPECT_EQ(converted.items[i], c.items[i] * 10);
    EXPECT_EQ(converted.has_more, c.has_more);
  }
}

}  // namespace
}  // namespace recur::db
