// The one list path: the statement ListQuery builds, and page_of's has_more.
#include "platform/db/list_query.h"

#include <gtest/gtest.h>

#include "platform/page.h"

namespace recur::db {
namespace {

TEST(ListQuery, StatementsForEachShapeOfList) {
  struct Case {
    const char* name;
    ListQuery query;
    std::optional<std::string> cursor;
    int limit;
    std::string sql;
    Params params;
  };
  std::vector<Case> cases;
  cases.push_back({"no filter, first page", ListQuery("SELECT doc FROM plans"), std::nullopt, 10,
                   "SELECT doc FROM plans ORDER BY id DESC LIMIT $1", {std::int64_t{11}}});
  cases.push_back({"absent filters add nothing",
                   ListQuery("SELECT doc FROM invoices").where_equal("status", std::nullopt).where_equal("customer_id", "cus_1"),
                   std::nullopt, 5, "SELECT doc FROM invoices WHERE customer_id = $1 ORDER BY id DESC LIMIT $2",
                   {std::string("cus_1"), std::int64_t{6}}});
  cases.push_back({"filters then the cursor, newest first",
                   ListQuery("SELECT doc FROM shipments").where_equal("customer_id", "cus_1").where_equal("status", "ready"),
                   "shp_9", 2,
                   "SELECT doc FROM shipments WHERE customer_id = $1 AND status = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
                   {std::string("cus_1"), std::string("ready"), std::string("shp_9"), std::int64_t{3}}});
  cases.push_back({"a condition with its placeholder inside, another key",
                   ListQuery("SELECT s.doc FROM suppliers s", "s.id")
                       .where("s.id IN (SELECT supplier_id FROM supplier_products WHERE product_id = $?)", "prod_1"),
                   "sup_2", 1,
                   "SELECT s.doc FROM suppliers s WHERE s.id IN (SELECT supplier_id FROM supplier_products WHERE "
                   "product_id = $1) AND s.id < $2 ORDER BY s.id DESC LIMIT $3",
                   {std::string("prod_1"), std::string("sup_2"), std::int64_t{2}}});
  cases.push_back({"oldest first pages forward",
                   ListQuery("SELECT id FROM events", "id", ListQuery::Order::kOldestFirst).where("resource_id = $?", "sub_1"),
                   "evt_3", 50, "SELECT id FROM events WHERE resource_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                   {std::string("sub_1"), std::string("evt_3"), std::int64_t{51}}});
  cases.push_back({"a condition without a value",
                   ListQuery("SELECT doc FROM products").where("track_inventory = 1").where_equal("sku", "A"),
                   std::nullopt, 3, "SELECT doc FROM products WHERE track_inventory = 1 AND sku = $1 ORDER BY id DESC LIMIT $2",
                   {std::string("A"), std::int64_t{4}}});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto [sql, params] = c.query.statement(c.cursor, c.limit);
    EXPECT_EQ(sql, c.sql);
    EXPECT_EQ(params, c.params);
  }
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
