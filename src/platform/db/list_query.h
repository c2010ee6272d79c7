// The one way a list reads its page (Stripe's cursor paging, keyset on the id): conditions
// ANDed, then `key < cursor ORDER BY key DESC` (newest first, every API list) or
// `key > cursor ORDER BY key` (oldest first, a resource's history), LIMIT limit + 1 so the
// extra row tells has_more (recur::page_of in platform/page.h). `ending_before` reads the
// other way from its cursor and hands the rows back in the list's order, so has_more then
// says whether there is more before the page.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/db/database.h"
#include "platform/page.h"

namespace recur::db {

class ListQuery {
 public:
  enum class Order { kNewestFirst, kOldestFirst };

  // `select`: the statement up to its conditions ("SELECT doc FROM products", no WHERE);
  // `key`: the unique column the cursor and order use ("id", "s.id").
  explicit ListQuery(std::string select, std::string key = "id", Order order = Order::kNewestFirst)
      : select_(std::move(select)), key_(std::move(key)), order_(order) {}

  // Each `$?` in `condition` becomes the placeholder of the next of `values`: "status = $?",
  // "s.id IN (SELECT supplier_id FROM supplier_products WHERE product_id = $?)".
  ListQuery& where(std::string_view condition, Value value);
  ListQuery& where(std::string_view condition, std::vector<Value> values);
  // A condition without a value ("track_inventory = 1").
  ListQuery& where(std::string_view condition);
  // `column = value`, or nothing when the filter is absent.
  ListQuery& where_equal(std::string_view column, const std::optional<std::string>& value);
  // `column IN (values...)`, or nothing when `values` is empty.
  ListQuery& where_in(std::string_view column, const std::vector<std::string>& values);

  // The column of Unix seconds that ListParams' created bounds compare (default
  // "created_at"), and the JSON document column whose `metadata` ListParams' metadata
  // matches (default "doc"). Empty: the list has none, and a request for it is a bug of
  // the route (it must not let the parameter through).
  ListQuery& created_column(std::string column);
  ListQuery& doc_column(std::string column);
  // Instead of doc_column: the JSON column that is the metadata itself ("metadata", for a
  // table of columns rather than a document).
  ListQuery& metadata_column(std::string column);

  // The statement and its parameters for the page `params` asks for.
  std::pair<std::string, Params> statement(const ListParams& params, Engine engine) const;
  // Runs it: at most limit + 1 rows, in the list's order, the extra one last. A cursor that
  // is not the key of a row the select reads (whatever the conditions) is refused: 422
  // validation_failed, field starting_after or ending_before.
  Result<Rows> fetch(Tx& tx, const ListParams& params) const;

 private:
  std::string select_;
  std::string key_;
  Order order_;
  std::string created_ = "created_at";
  std::string doc_ = "doc";
  bool doc_is_metadata_ = false;  // doc_ holds the metadata object, not a document with one
  std::vector<std::pair<std::string, std::vector<Value>>> conditions_;
};

// The 422 for a cursor that names no item of a list (also for lists not built here).
Error unknown_cursor(const std::string& cursor, const std::string& field = "starting_after");

}  // namespace recur::db
