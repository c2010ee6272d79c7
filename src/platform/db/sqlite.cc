// SQLite engine: WAL mode (synchronous=FULL unless asked otherwise), a small connection pool, cached prepared statements,
// BEGIN IMMEDIATE for write transactions so writers queue instead of deadlocking.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "platform/db/engines.h"
#include "platform/db/pool.h"

namespace recur::db {
namespace {

// "$1" -> "?1": SQLite reads "$1" as a named parameter.
std::string rewrite_placeholders(std::string_view sql) {
  std::string out(sql);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '$' && i + 1 < out.size() && std::isdigit(static_cast<unsigned char>(out[i + 1])))
      out[i] = '?';
  }
  return out;
}

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xff;
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    return Error::conflict(std::string(kUniqueViolation), msg);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Error::unavailable("database_busy", msg);
  return Error::internal(msg);
}

// The statement log (SqliteOptions::log_statements): one file shared by the pool's
// connections; each connection keeps its transaction's statements and writes them at once
// when the transaction ends. SQLite runs one write transaction at a time and a writer's
// COMMIT is traced while it still holds the lock, so the file lists writes in commit order.
class StatementLog {
 public:
  static Result<std::shared_ptr<StatementLog>> open(const std::string& path) {
    // It holds what the rows hold: the owner's alone, and not a link someone else placed.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Error::internal("log_statements: cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
      ::close(fd);
      return Error::internal("log_statements: " + path +
                             " must belong to this user and be readable by it alone (0600)");
    }
    spdlog::warn("SQLite statement log on: every statement and its values go to {}", path);
    return std::make_shared<StatementLog>(fd, path);
  }
  StatementLog(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~StatementLog() { ::close(fd_); }
  StatementLog(const StatementLog&) = delete;
  StatementLog& operator=(const StatementLog&) = delete;

  // One write(2) a block where it fits (O_APPEND keeps blocks whole between processes).
  void write(std::string_view statements) {
    std::lock_guard lock(mutex_);
    while (!statements.empty()) {
      ssize_t n = ::write(fd_, statements.data(), statements.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (!failed_)
          spdlog::error("SQLite statement log {}: a write failed ({}): the log is incomplete", path_,
                        std::strerror(errno));
        failed_ = true;
        return;
      }
      statements.remove_prefix(static_cast<std::size_t>(n));
    }
  }

 private:
  std::mutex mutex_;
  int fd_;
  std::string path_;
  bool failed_ = false;
};

// This process's write transactions take turns here, first come first served, before BEGIN
// IMMEDIATE. SQLite's own wait for its write lock (the busy handler) sleeps 1 to 100 ms between
// tries: under load the lock sat free while every writer slept, and a writer could wait
// seconds behind later ones (benchmark 8 in docs/PERFORMANCE.md). Writers of other processes
// still meet the busy handler.
class WriterTurns {
 public:
  // Waits for this writer's turn, `timeout` at most (false: not given).
  bool take(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    std::uint64_t ticket = next_++;
    queue_.push_back(ticket);
    if (!cv_.wait_for(lock, timeout, [&] { return !held_ && queue_.front() == ticket; })) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
      cv_.notify_all();  // the writer behind it may be first now
      return false;
    }
    queue_.pop_front();
    held_ = true;
    return true;
  }
  void give_back() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::uint64_t> queue_;  // tickets waiting, oldest first
  std::uint64_t next_ = 0;
  bool held_ = false;
};

// A writer's turn, given back when the transaction ends.
class Turn {
 public:
  Turn() = default;
  explicit Turn(WriterTurns* turns) : turns_(turns) {}
  Turn(Turn&& other) noexcept : turns_(std::exchange(other.turns_, nullptr)) {}
  Turn& operator=(Turn&&) = delete;
  ~Turn() { give_back(); }
  void give_back() {
    if (turns_) std::exchange(turns_, nullptr)->give_back();
  }

 private:
  WriterTurns* turns_ = nullptr;
};

constexpr std::chrono::milliseconds kBusyTimeout{10000};

// SQLite's wait for a lock another process holds (the busy handler): a try every millisecond,
// for kBusyTimeout. sqlite3_busy_timeout's sleeps grow to 100 ms, which lost nearly every race
// against a process whose writers take turns (above) and pass the lock on at once; only each
// process's first writer in line polls here, so short sleeps cost little.
int busy_wait(void*, int tries) {
  if (tries >= kBusyTimeout.count()) return 0;  // SQLITE_BUSY: database_busy
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return 1;
}

class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() {
    for (auto& [_, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() const { return db_; }

  Result<sqlite3_stmt*> prepare(std::string_view sql) {
    auto it = statements_.find(std::string(sql));
    if (it != statements_.end()) return it->second;
    std::string text = rewrite_placeholders(sql);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "prepare");
    statements_.emplace(std::string(sql), stmt);
    return stmt;
  }

  // Every statement this connection runs goes to `log`, with its values.
  void log_to(std::shared_ptr<StatementLog> log) {
    log_ = std::move(log);
    sqlite3_trace_v2(db_, SQLITE_TRACE_STMT, &Connection::traced, this);
  }

  // A COMMIT that failed after it was logged: the log says so where a replay would diverge.
  void log_failed_commit() {
    if (!log_) return;
    pending_ += "-- recur: the COMMIT above failed in the logged process: what follows does not match it\n";
    flush_log();
  }

  Status run_simple(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Ok{};
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return sqlite_error(nullptr, rc, msg);
  }

 private:
  static int traced(unsigned, void* self, void* stmt, void* text) {
    auto* conn = static_cast<Connection*>(self);
    auto* statement = static_cast<sqlite3_stmt*>(stmt);
    // A trigger's statements are traced with another text: the statement that fired it replays them.
    if (static_cast<const char*>(text) != sqlite3_sql(statement)) return 0;
    std::string_view sql(static_cast<const char*>(text));
    if (sql.starts_with("BEGIN")) conn->pending_.clear();  // left by a BEGIN that failed
    char* expanded = sqlite3_expanded_sql(statement);
    // Without its values the statement would replay with NULLs: make the replay fail there instead.
    conn->pending_ += expanded ? std::string_view(expanded) : "SELECT recur_log_lost_this_statements_values()";
    conn->pending_ += ";\n";
    sqlite3_free(expanded);
    // Traced before it runs. The transaction's end is the COMMIT or ROLLBACK that SqliteTx sends
    // (not a savepoint's ROLLBACK TO); outside a transaction a statement is one of its own.
    bool ends =
        sql == "COMMIT" || sql == "ROLLBACK" || (sqlite3_get_autocommit(conn->db_) && !sql.starts_with("BEGIN"));
    if (ends) conn->flush_log();
    return 0;
  }

  void flush_log() {
    log_->write(pending_);
    pending_.clear();
    if (pending_.capacity() > (1 << 20)) pending_.shrink_to_fit();  // a migration's, say
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
  std::shared_ptr<StatementLog> log_;
  std::string pending_;  // the log's statements of the open transaction
};

Status bind_all(sqlite3* db, sqlite3_stmt* stmt, const Params& params) {
  RECUR_TRY(text_parameters(params));  // SQLite could hold a NUL; PostgreSQL cannot: same rule
  for (std::size_t i = 0; i < params.size(); ++i) {
    int idx = static_cast<int>(i + 1);
    int rc = std::visit(
        [&](const auto& v) -> int {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::nullptr_t>) return sqlite3_bind_null(stmt, idx);
          else if constexpr (std::is_same_v<V, std::int64_t>) return sqlite3_bind_int64(stmt, idx, v);
          else return sqlite3_bind_text(stmt, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        },
        params[i]);
    if (rc != SQLITE_OK) return sqlite_error(db, rc, "bind");
  }
  return Ok{};
}

class SqliteTx final : public Tx {
 public:
  using Lease = Pool<Connection>::Lease;
  SqliteTx(Lease lease, Turn turn) : lease_(std::move(lease)), turn_(std::move(turn)) {}
  ~SqliteTx() override {
    // A connection whose ROLLBACK failed may still be inside its transaction: not lent again.
    if (!done_ && !lease_->run_simple("ROLLBACK").ok()) lease_.discard();
    turn_.give_back();
  }

  Result<Rows> query(std::string_view sql, const Params& params) override {
    RECUR_TRY(not_streaming());
    Rows rows;
    RECUR_TRY(step_all(sql, params, &rows));
    return rows;
  }

  Status each(std::string_view sql, const Params& params, const std::function<Status(const Row&)>& fn) override {
    RECUR_TRY(not_streaming());
    streaming_ = true;
    struct Streaming {
      bool& flag;
      ~Streaming() { flag = false; }
    } streaming{streaming_};
    return step_all(sql, params, nullptr, &fn);
  }

  Result<std::int64_t> exec(std::string_view sql, const Params& params) override {
    RECUR_TRY(not_streaming());
    RECUR_TRY(step_all(sql, params, nullptr));
    return static_cast<std::int64_t>(sqlite3_changes(lease_->handle()));
  }

  Status commit_now() override {
    RECUR_TRY(not_streaming());
    if (auto committed = lease_->run_simple("COMMIT"); !committed.ok()) {
      lease_->log_failed_commit();
      return committed;
    }
    done_ = true;
    turn_.give_back();
    return Ok{};
  }

  Engine engine() const override { return Engine::kSqlite; }

 private:
  // Every row into `out`, or to `fn` (until it fails), or nowhere.
  Status step_all(std::string_view sql, const Params& params, Rows* out,
                  const std::function<Status(const Row&)>* fn = nullptr) {
    sqlite3* db = lease_->handle();
    RECUR_ASSIGN(sqlite3_stmt * stmt, lease_->prepare(sql));
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    RECUR_TRY(bind_all(db, stmt, params));
    struct Reset {  // however the steps end (`fn` may throw), the statement is reset
      sqlite3_stmt* stmt;
      ~Reset() { sqlite3_reset(stmt); }
    } reset{stmt};
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return sqlite_error(db, sqlite3_extended_errcode(db), "step");
      if (out) out->push_back(read_row(stmt));
      if (fn) RECUR_TRY((*fn)(read_row(stmt)));
    }
    return Ok{};
  }

  // As on PostgreSQL (where the connection is busy with the rows), nothing runs on the
  // transaction from inside each()'s callback: the same SQL would restart the statement.
  Status not_streaming() const {
    if (streaming_) return Error::internal("a statement on the transaction from inside Tx::each's callback");
    return Ok{};
  }

  static Row read_row(sqlite3_stmt* stmt) {
    int n = sqlite3_column_count(stmt);
    std::vector<std::optional<std::string>> cells;
    cells.reserve(n);
    for (int c = 0; c < n; ++c) {
      if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
        cells.emplace_back(std::nullopt);
        continue;
      }
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
      cells.emplace_back(std::string(text, sqlite3_column_bytes(stmt, c)));
    }
    return Row(std::move(cells));
  }

  Lease lease_;
  Turn turn_;  // a write transaction's
  bool done_ = false;
  bool streaming_ = false;  // inside each()
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::string path, int pool_size, SqliteOptions options, std::shared_ptr<StatementLog> log)
      : path_(std::move(path)),
        options_(std::move(options)),
        log_(std::move(log)),
        pool_(pool_size, [this] { return connect(); }) {}

  Result<std::unique_ptr<Tx>> open(TxMode mode) override {
    RECUR_ASSIGN(auto lease, pool_.acquire());
    bool writes = mode == TxMode::kReadWrite;
    if (writes && !turns_.take(kBusyTimeout))
      return Error::unavailable("database_busy", "no turn to write within " + std::to_string(kBusyTimeout.count()) +
                                                     " ms: the writers before it held the database that long");
    Turn turn(writes ? &turns_ : nullptr);  // given back if BEGIN fails
    const char* sql = writes ? "BEGIN IMMEDIATE" : "BEGIN";
    RECUR_TRY(lease->run_simple(sql));
    return std::unique_ptr<Tx>(std::make_unique<SqliteTx>(std::move(lease), std::move(turn)));
  }
  Engine engine() const override { return Engine::kSqlite; }
  PoolStats pool_stats() override { return pool_.stats(); }
  std::string describe() const override {
    return "sqlite:" + path_ + (options_.synchronous_full ? "" : "?synchronous=normal");
  }

 private:
  Result<std::unique_ptr<Connection>> connect() {
    sqlite3* raw = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path_.c_str(), &raw, flags, nullptr);
    auto conn = std::make_unique<Connection>(raw);
    if (rc != SQLITE_OK) return sqlite_error(raw, rc, "open " + path_);
    if (log_) conn->log_to(log_);
    sqlite3_busy_handler(raw, busy_wait, nullptr);
    RECUR_TRY(conn->run_simple("PRAGMA journal_mode=WAL"));
    // FULL: a commit is on disk when COMMIT returns, power failure included (see engines.h).
    RECUR_TRY(conn->run_simple(options_.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
    RECUR_TRY(conn->run_simple("PRAGMA foreign_keys=ON"));
    return conn;
  }

  std::string path_;
  SqliteOptions options_;
  std::shared_ptr<StatementLog> log_;  // before pool_: the connections write to it until they close
  WriterTurns turns_;                  // before pool_: outlives every transaction
  Pool<Connection> pool_;
};

}  // namespace

Result<std::unique_ptr<Database>> open_sqlite(const std::string& path, int pool_size, SqliteOptions options) {
  std::shared_ptr<StatementLog> log;
  if (!options.log_statements.empty()) {
    RECUR_ASSIGN(log, StatementLog::open(options.log_statements));
  }
  auto db = std::make_unique<SqliteDatabase>(path, pool_size, options, std::move(log));
  // Open one connection now so a bad path fails at start, not on the first request.
  RECUR_ASSIGN(auto tx, db->begin(TxMode::kReadOnly));
  tx.reset();
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace recur::db
