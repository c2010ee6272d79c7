// The one cursor-page statement builder.
#include "platform/db/list_query.h"

#include <stdexcept>

namespace recur::db {

Error unknown_cursor(const std::string& cursor) {
  return Error::invalid("validation_failed", "starting_after '" + cursor + "' is not the id of an item of this list",
                        {{"starting_after", "not_found", "not the id of an item of this list"}});
}

ListQuery& ListQuery::where(std::string_view condition, Value value) {
  if (condition.find("$?") == std::string_view::npos)
    throw std::logic_error("ListQuery::where: the condition has no $? for its value");
  conditions_.emplace_back(std::string(condition), std::move(value));
  return *this;
}

ListQuery& ListQuery::where_equal(std::string_view column, const std::optional<std::string>& value) {
  if (value) where(std::string(column) + " = $?", *value);
  return *this;
}

ListQuery& ListQuery::where(std::string_view condition) {
  conditions_.emplace_back(std::string(condition), std::nullopt);
  return *this;
}

std::pair<std::string, Params> ListQuery::statement(const std::optional<std::string>& cursor, int limit) const {
  std::string sql = select_;
  Params params;
  bool first = true;
  auto add = [&](std::string condition, const std::optional<Value>& value) {
    if (value) {
      params.push_back(*value);
      condition.replace(condition.find("$?"), 2, "$" + std::to_string(params.size()));
    }
    sql += (first ? " WHERE " : " AND ") + condition;
    first = false;
  };
  for (const auto& [condition, value] : conditions_) add(condition, value);
  bool newest_first = order_ == Order::kNewestFirst;
  if (cursor) add(key_ + (newest_first ? " < $?" : " > $?"), Value(*cursor));
  params.emplace_back(std::int64_t{limit} + 1);
  sql += " ORDER BY " + key_ + (newest_first ? " DESC" : "") + " LIMIT $" + std::to_string(params.size());
  return {std::move(sql), std::move(params)};
}

Result<Rows> ListQuery::fetch(Tx& tx, const std::optional<std::string>& cursor, int limit) const {
  if (cursor) {
    // A cursor that names nothing would page from an arbitrary place (or restart the list):
    // the caller's mistake, said so, so a paginator never loops.
    RECUR_ASSIGN(auto found, tx.query(select_ + " WHERE " + key_ + " = $1 LIMIT 1", {*cursor}));
    if (found.empty()) return unknown_cursor(*cursor);
  }
  auto [sql, params] = statement(cursor, limit);
  return tx.query(sql, params);
}

}  // namespace recur::db
