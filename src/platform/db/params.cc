// Checks on parameters shared by both engines (see engines.h).
#include <variant>

#include "platform/db/engines.h"

namespace recur::db {

Error invalid_text_error() {
  return Error::bad_request(std::string(kInvalidText), "a text value is not well-formed UTF-8 or holds a NUL character");
}

Status text_parameters(const Params& params) {
  for (const auto& p : params)
    if (const auto* s = std::get_if<std::string>(&p); s && s->find('\0') != std::string::npos)
      return invalid_text_error();
  return Ok{};
}

Result<std::pair<std::string, SqliteOptions>> parse_sqlite_target(std::string_view target) {
  constexpr std::string_view kLogStatements = "log_statements=";
  SqliteOptions options;
  auto q = target.find('?');
  std::string path(target.substr(0, q));
  if (q == std::string_view::npos) return std::make_pair(std::move(path), options);
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair == "synchronous=full") options.synchronous_full = true;
    else if (pair == "synchronous=normal") options.synchronous_full = false;
    else if (pair.starts_with(kLogStatements) && pair.size() > kLogStatements.size())
      options.log_statements = pair.substr(kLogStatements.size());
    else
      return Error::invalid("invalid_database_url", "unknown SQLite URL parameter '" + std::string(pair) +
                                                        "'; they are synchronous=full|normal and log_statements=FILE");
  }
  return std::make_pair(std::move(path), options);
}

}  // namespace recur::db
