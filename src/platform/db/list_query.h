// The one way a list reads its page (Stripe's cursor paging, keyset on the id): conditions
// ANDed, then `key < cursor ORDER BY key DESC` (newest first, every API list) or
// `key > cursor ORDER BY key` (oldest first, a resource's history), LIMIT limit + 1 so the
// extra row tells has_more (recur::page_of in platform/page.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/db/database.h"

namespace recur::db {

class ListQuery {
 public:
  enum class Order { kNewestFirst, kOldestFirst };

  // `select`: the statement up to its conditions ("SELECT doc FROM products", no WHERE);
  // `key`: the unique column the cursor and order use ("id", "s.id").
  explicit ListQuery(std::string select, std::string key = "id", Order order = Order::kNewestFirst)
      : select_(std::move(select)), key_(std::move(key)), order_(order) {}

  // `condition` holds one `$?`, which becomes `value`'s placeholder: "status = $?",
  // "s.id IN (SELECT supplier_id FROM supplier_products WHERE product_id = $?)".
  ListQuery& where(std::string_view condition, Value value);
  // `column = value`, or nothing when the filter is absent.
  ListQuery& where_equal(std::string_view column, const std::optional<std::string>& value);
  // A condition without a value ("track_inventory = 1").
  ListQuery& where(std::string_view condition);

  // The statement and its parameters for the page after `cursor` (none: the first page).
  std::pair<std::string, Params> statement(const std::optional<std::string>& cursor, int limit) const;
  // Runs it: at most limit + 1 rows. A cursor that is not the key of a row the select reads
  // (whatever the conditions) is refused: 422 validation_failed, field starting_after.
  Result<Rows> fetch(Tx& tx, const std::optional<std::string>& cursor, int limit) const;

 private:
  std::string select_;
  std::string key_;
  Order order_;
  std::vector<std::pair<std::string, std::optional<Value>>> conditions_;
};

// The 422 for a cursor that names no item of a list (also for lists not built here).
Error unknown_cursor(const std::string& cursor);

}  // namespace recur::db
