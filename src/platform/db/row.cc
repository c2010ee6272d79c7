// Row accessors shared by both engines.
#include <charconv>
#include <stdexcept>

#include "platform/db/database.h"

namespace recur::db {

const std::string& Row::text(std::size_t i) const {
  const auto& cell = cells_.at(i);
  if (!cell) throw std::logic_error("Row::text on a null column");
  return *cell;
}

std::int64_t Row::int64(std::size_t i) const {
  const std::string& s = text(i);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc()) {
    if (s == "t" || s == "true") return 1;  // PostgreSQL boolean text
    if (s == "f" || s == "false") return 0;
    throw std::logic_error("Row::int64 on a non-integer column: " + s);
  }
  return v;
}

std::optional<std::int64_t> Row::opt_int64(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return int64(i);
}

}  // namespace recur::db
