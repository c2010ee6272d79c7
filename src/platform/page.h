// One page of a cursor-paged list (Stripe's `{data, has_more}`), the one type every list
// returns. Lists read `limit + 1` rows (db::ListQuery): the extra row only says there is more.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "platform/time.h"

namespace recur {

// What a request asks of any list besides the list's own filters (docs/api-conventions.md,
// "Lists"): the page size, one cursor, bounds on `created`, and metadata to match.
struct ListParams {
  int limit = 10;
  std::optional<std::string> starting_after;  // the page after this id (in the list's order)
  std::optional<std::string> ending_before;   // the page before this id; never with starting_after
  std::optional<Timestamp> created_gte, created_gt, created_lte, created_lt;
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata[key]=value, all must hold
};

template <typename T>
struct Page {
  std::vector<T> items;
  bool has_more = false;
};

// The page of at most `limit` items from rows read with LIMIT limit + 1.
template <typename T>
Page<T> page_of(std::vector<T> rows, int limit) {
  Page<T> page;
  page.has_more = static_cast<int>(rows.size()) > limit;
  if (page.has_more) rows.resize(static_cast<std::size_t>(limit));
  page.items = std::move(rows);
  return page;
}

// The same, converting each stored row to an item with `convert`.
template <typename Row, typename Convert>
auto page_of(const std::vector<Row>& rows, int limit, Convert convert) -> Page<decltype(convert(rows.front()))> {
  Page<decltype(convert(rows.front()))> page;
  page.has_more = static_cast<int>(rows.size()) > limit;
  std::size_t n = page.has_more ? static_cast<std::size_t>(limit) : rows.size();
  page.items.reserve(n);
  for (std::size_t i = 0; i < n; ++i) page.items.push_back(convert(rows[i]));
  return page;
}

}  // namespace recur
