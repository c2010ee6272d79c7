// Engine constructors behind db::open(); callers use db::open() with a URL.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/db/database.h"

namespace recur::db {

struct SqliteOptions {
  // PRAGMA synchronous: FULL (the default) syncs the WAL at every commit, so a power failure
  // loses nothing committed; NORMAL syncs only at checkpoints (faster; the last commits may
  // be lost on power failure, never on a process crash). `sqlite:PATH?synchronous=normal`.
  bool synchronous_full = true;
  // `sqlite:PATH?log_statements=FILE`: every statement written to FILE with its values, each
  // transaction's when it ends, so the file replays through the sqlite3 CLI in commit order
  // (SQLite's counterpart of PostgreSQL's log_statement = all; for benchmarks: the file holds
  // what the rows hold). "" (the default): no log.
  std::string log_statements;
};

// Reads "PATH[?synchronous=full|normal][&log_statements=FILE]" (what follows "sqlite:" in a database URL).
Result<std::pair<std::string, SqliteOptions>> parse_sqlite_target(std::string_view target);
Result<std::unique_ptr<Database>> open_sqlite(const std::string& path, int pool_size, SqliteOptions options = {});
struct PostgresOptions {
  // Connect once at open, and fail when the server does not answer. Without it the first
  // transaction connects (a replica that is down at start must not stop a node).
  bool connect_now = true;
  // Connection parameters given before the URL's own (which win): keepalives, a
  // statement_timeout through `options`.
  std::vector<std::pair<std::string, std::string>> defaults;
};
Result<std::unique_ptr<Database>> open_postgres(const std::string& conninfo, int pool_size,
                                                PostgresOptions options = {});

// Text parameters may not hold NUL on either engine: PostgreSQL's text cannot, and libpq
// would cut the value short at it. Callers refuse NUL at the edge; this is the backstop,
// so a NUL is an error (400 invalid_text) and never a silently shortened value.
inline constexpr std::string_view kInvalidText = "invalid_text";
Error invalid_text_error();
Status text_parameters(const Params& params);

}  // namespace recur::db
