// The one cursor-page statement builder.
#include "platform/db/list_query.h"

#include <algorithm>
#include <stdexcept>

namespace recur::db {
namespace {

std::size_t count_placeholders(std::string_view condition) {
  std::size_t n = 0;
  for (auto at = condition.find("$?"); at != std::string_view::npos; at = condition.find("$?", at + 2)) ++n;
  return n;
}

}  // namespace

Error unknown_cursor(const std::string& cursor, const std::string& field) {
  return Error::invalid("validation_failed", field + " '" + cursor + "' is not the id of an item of this list",
                        {{field, "not_found", "not the id of an item of this list"}});
}

ListQuery& ListQuery::where(std::string_view condition, Value value) {
  return where(condition, std::vector<Value>{std::move(value)});
}

ListQuery& ListQuery::where(std::string_view condition, std::vector<Value> values) {
  if (count_placeholders(condition) != values.size())
    throw std::logic_error("ListQuery::where: the condition's $? do not match its values");
  conditions_.emplace_back(std::string(condition), std::move(values));
  return *this;
}

ListQuery& ListQuery::where(std::string_view condition) { return where(condition, std::vector<Value>{}); }

ListQuery& ListQuery::where_equal(std::string_view column, const std::optional<std::string>& value) {
  if (value) where(std::string(column) + " = $?", *value);
  return *this;
}

ListQuery& ListQuery::where_in(std::string_view column, const std::vector<std::string>& values) {
  if (values.empty()) return *this;
  std::string condition = std::string(column) + " IN (";
  std::vector<Value> bound;
  for (const auto& v : values) {
    condition += bound.empty() ? "$?" : ", $?";
    bound.emplace_back(v);
  }
  return where(condition + ")", std::move(bound));
}

ListQuery& ListQuery::created_column(std::string column) {
  created_ = std::move(column);
  return *this;
}

ListQuery& ListQuery::doc_column(std::string column) {
  doc_ = std::move(column);
  doc_is_metadata_ = false;
  return *this;
}

ListQuery& ListQuery::metadata_column(std::string column) {
  doc_ = std::move(column);
  doc_is_metadata_ = true;
  return *this;
}

std::pair<std::string, Params> ListQuery::statement(const ListParams& p, Engine engine) const {
  std::string sql = select_;
  Params params;
  bool first = true;
  auto add = [&](std::string condition, const std::vector<Value>& values) {
    for (const auto& value : values) {
      params.push_back(value);
      condition.replace(condition.find("$?"), 2, "$" + std::to_string(params.size()));
    }
    sql += (first ? " WHERE " : " AND ") + condition;
    first = false;
  };
  for (const auto& [condition, values] : conditions_) add(condition, values);

  bool has_created = p.created_gte || p.created_gt || p.created_lte || p.created_lt;
  if (has_created && created_.empty()) throw std::logic_error("ListQuery: this list has no created column");
  if (p.created_gte) add(created_ + " >= $?", {*p.created_gte});
  if (p.created_gt) add(created_ + " > $?", {*p.created_gt});
  if (p.created_lte) add(created_ + " <= $?", {*p.created_lte});
  if (p.created_lt) add(created_ + " < $?", {*p.created_lt});

  if (!p.metadata.empty() && doc_.empty()) throw std::logic_error("ListQuery: this list has no metadata");
  for (const auto& [key, value] : p.metadata) {
    // The key is bound, never spliced into the SQL: PostgreSQL takes it as a value; SQLite
    // as a JSON path whose quoted label the route has checked holds no '"'.
    if (engine == Engine::kPostgres) {
      std::string metadata = doc_ + "::jsonb" + (doc_is_metadata_ ? "" : " -> 'metadata'");
      add("(" + metadata + " ->> $?) = $?", {key, value});
    } else {
      std::string path = std::string(doc_is_metadata_ ? "$." : "$.metadata.") + "\"" + key + "\"";
      add("json_extract(" + doc_ + ", $?) = $?", {path, value});
    }
  }

  // Forward: the list's own order from starting_after; backward: the reverse from ending_before.
  bool newest_first = order_ == Order::kNewestFirst;
  bool backward = p.ending_before.has_value();
  bool descending = newest_first != backward;
  if (p.starting_after) add(key_ + (newest_first ? " < $?" : " > $?"), {*p.starting_after});
  if (p.ending_before) add(key_ + (newest_first ? " > $?" : " < $?"), {*p.ending_before});
  params.emplace_back(std::int64_t{p.limit} + 1);
  sql += " ORDER BY " + key_ + (descending ? " DESC" : "") + " LIMIT $" + std::to_string(params.size());
  return {std::move(sql), std::move(params)};
}

Result<Rows> ListQuery::fetch(Tx& tx, const ListParams& p) const {
  if (p.starting_after && p.ending_before) throw std::logic_error("ListQuery: both cursors");
  for (const auto& [cursor, field] : {std::pair{p.starting_after, "starting_after"}, {p.ending_before, "ending_before"}}) {
    if (!cursor) continue;
    // A cursor that names nothing would page from an arbitrary place (or restart the list):
    // the caller's mistake, said so, so a paginator never loops.
    RECUR_ASSIGN(auto found, tx.query(select_ + " WHERE " + key_ + " = $1 LIMIT 1", {*cursor}));
    if (found.empty()) return unknown_cursor(*cursor, field);
  }
  auto [sql, params] = statement(p, tx.engine());
  RECUR_ASSIGN(auto rows, tx.query(sql, params));
  if (p.ending_before) {
    // Read nearest-first from the cursor: the page is the first `limit`, in the list's
    // order; the extra row (the one further away) goes last, where page_of looks for it.
    auto page_end = rows.begin() + std::min<std::ptrdiff_t>(p.limit, static_cast<std::ptrdiff_t>(rows.size()));
    std::reverse(rows.begin(), page_end);
  }
  return rows;
}

}  // namespace recur::db
