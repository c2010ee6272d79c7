// The database port: one interface, two engines (SQLite embedded, PostgreSQL in production).
// SQL is written once in PostgreSQL's dialect with $1..$n parameters; the SQLite engine
// rewrites placeholders. Transactions are RAII scopes: a Tx not committed rolls back.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <variant>
#include <vector>

#include "platform/db/pool.h"
#include "platform/result.h"

namespace recur::db {

// A bound parameter. Booleans are stored as 0/1 integers on both engines.
using Value = std::variant<std::nullptr_t, std::int64_t, std::string>;
using Params = std::vector<Value>;

inline Value nullable(const std::optional<std::string>& s) {
  return s ? Value(*s) : Value(nullptr);
}
inline Value nullable(const std::optional<std::int64_t>& v) {
  return v ? Value(*v) : Value(nullptr);
}

// One result row, every column as text (or null), with typed accessors.
class Row {
 public:
  explicit Row(std::vector<std::optional<std::string>> cells) : cells_(std::move(cells)) {}
  bool is_null(std::size_t i) const { return !cells_.at(i).has_value(); }
  const std::string& text(std::size_t i) const;  // Requires: !is_null(i)
  std::int64_t int64(std::size_t i) const;       // Requires: !is_null(i)
  bool boolean(std::size_t i) const { return int64(i) != 0; }
  std::optional<std::string> opt_text(std::size_t i) const { return cells_.at(i); }
  std::optional<std::int64_t> opt_int64(std::size_t i) const;
  std::size_t size() const { return cells_.size(); }

 private:
  std::vector<std::optional<std::string>> cells_;
};

using Rows = std::vector<Row>;

enum class Engine { kSqlite, kPostgres };

// Database errors carry these codes; a unique violation is a conflict a caller may expect.
inline constexpr std::string_view kUniqueViolation = "unique_violation";
inline constexpr std::string_view kSerializationFailure = "serialization_failure";

class Tx;

// What the app attaches to a database for the modules to reach from any of its transactions
// (privacy's keyring, the event log's observers): set when the app opens the database,
// before any transaction.
class Attachment {
 public:
  virtual ~Attachment() = default;
  // `tx` changed stored rows behind the modules' backs (a migration's SQL and rewrite): what
  // is cached from them must go once it commits.
  virtual void rows_rewritten(Tx& tx) { (void)tx; }
};

class Tx {
 public:
  virtual ~Tx() = default;
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;
  // The rows of a query one at a time, without holding them all: a scan whose result grows
  // with the data (a report over every subscription) keeps only what `fn` keeps. SQLite steps
  // its statement; PostgreSQL reads in single-row mode. The first error `fn` returns stops the
  // calls and is returned (PostgreSQL reads the rest of the rows and drops them). `fn` may not
  // use this transaction (the connection is busy with the rows until the last one): a
  // statement from it fails.
  virtual Status each(std::string_view sql, const Params& params, const std::function<Status(const Row&)>& fn) {
    RECUR_ASSIGN(Rows rows, query(sql, params));
    for (const auto& r : rows) RECUR_TRY(fn(r));
    return Ok{};
  }
  // Returns the number of rows changed.
  virtual Result<std::int64_t> exec(std::string_view sql, const Params& params = {}) = 0;
  // A write whose result nobody reads before COMMIT (an event, an outbox row): PostgreSQL
  // sends it with the transaction's next statement or its COMMIT, in one round trip. Its
  // error, if any, is the error of that next statement (or of commit), and the transaction
  // rolls back as it would have. Never for a write whose row count or unique violation the
  // caller acts on. SQLite runs it at once.
  virtual Status exec_later(std::string_view sql, Params params) {
    auto changed = exec(sql, params);
    if (!changed.ok()) return std::move(changed).error();
    return Ok{};
  }
  // Runs the before-commit work (in the order it was added; its first error is returned and
  // nothing commits), then commits.
  Status commit() {
    while (!before_commit_.empty()) {
      auto work = std::move(before_commit_.front());
      before_commit_.erase(before_commit_.begin());
      RECUR_TRY(work(*this));
    }
    return commit_now();
  }
  virtual Engine engine() const = 0;

  // " FOR UPDATE" on PostgreSQL; empty on SQLite, where a write transaction already
  // holds the database's write lock from its first statement (BEGIN IMMEDIATE).
  std::string_view for_update() const {
    return engine() == Engine::kPostgres ? " FOR UPDATE" : "";
  }

  // Work that must be the last of this transaction, just before it commits: a statement that
  // takes a lock every writer needs (the gapless invoice counter) holds it for the commit's
  // round trip only. It may add more work of its own. Dropped on rollback.
  void before_commit(std::function<Status(Tx&)> work) { before_commit_.push_back(std::move(work)); }
  // State of type T that lives as long as this transaction, created empty on first use (what
  // the before-commit work of a module gathers over the transaction).
  template <class T>
  T& local() {
    auto& slot = locals_[std::type_index(typeid(T))];
    if (!slot) slot = std::make_shared<T>();
    return *std::static_pointer_cast<T>(slot);
  }

  // Work to do once this transaction has committed (cache invalidation, wake-ups); run by
  // transact() after a successful commit, dropped on rollback.
  void after_commit(std::function<void()> work) { after_commit_.push_back(std::move(work)); }
  void run_after_commit() {
    for (auto& w : take_after_commit()) w();
  }
  std::vector<std::function<void()>> take_after_commit() {
    auto work = std::move(after_commit_);
    after_commit_.clear();
    return work;
  }

  // Read on a replica that may lag the primary (db::ReplicaRouter): what it reads may be up to
  // the staleness bound old, so nothing it reads may be kept beyond the request (a cache).
  bool may_lag() const { return may_lag_; }
  // When this transaction began (a savepoint: when the request's transaction did), in the
  // sequence next_sequence() draws from. A cache filled from what the transaction read
  // compares it with the sequence of its last invalidation: a snapshot may be older than the
  // read (SQLite's is taken at the first statement), never older than the begin.
  std::uint64_t began() const { return began_; }

  // The database's attachment of type T (null when none was attached).
  template <class T>
  T* attached() const {
    if (!attachments_) return nullptr;
    for (Attachment* a : *attachments_)
      if (auto* t = dynamic_cast<T*>(a)) return t;
    return nullptr;
  }
  // Tells every attachment that this transaction rewrote stored rows (Attachment::rows_rewritten).
  void rows_rewritten() {
    if (!attachments_) return;
    for (Attachment* a : *attachments_) a->rows_rewritten(*this);
  }
  // Every attachment of type T, in the order attached.
  template <class T, class F>
  Status each_attached(F&& f) const {
    if (!attachments_) return Ok{};
    for (Attachment* a : *attachments_)
      if (auto* t = dynamic_cast<T*>(a)) {
        auto done = f(*t);
        if (!done.ok()) return done;
      }
    return Ok{};
  }

 private:
  friend class Database;
  friend class RequestTransaction;
  virtual Status commit_now() = 0;

  std::vector<std::function<Status(Tx&)>> before_commit_;
  std::map<std::type_index, std::shared_ptr<void>> locals_;
  std::vector<std::function<void()>> after_commit_;
  const std::vector<Attachment*>* attachments_ = nullptr;
  bool may_lag_ = false;
  std::uint64_t began_ = 0;
};

// The next number of a process-wide sequence: every transaction's begin takes one (Tx::began).
std::uint64_t next_sequence();

enum class TxMode { kReadWrite, kReadOnly };

class RequestTransaction;

// How long an Idempotency-Key lives (decision 0004), and with it the recovery point of a
// request that commits in steps: a row's `request_key` (decision 0009).
inline constexpr std::int64_t kRequestKeyLifetime = 24 * 3600;
// Frees `request_key` on a row of `table` older than a key lives, so that a new request may
// use the key again. Requires: `table` has request_key (unique) and created_at columns.
Status release_stale_request_key(Tx& tx, std::string_view table, const std::string& request_key,
                                 std::int64_t now);

class Database {
 public:
  virtual ~Database() = default;
  // A new transaction; or, while a RequestTransaction on this database is open on this
  // thread, a savepoint inside the request's one transaction (see RequestTransaction).
  Result<std::unique_ptr<Tx>> begin(TxMode mode = TxMode::kReadWrite);
  virtual Engine engine() const = 0;
  // A short description for logs: "sqlite:var/recur.db", "postgresql://host:port/db".
  virtual std::string describe() const = 0;
  // The connection pool's figures (/metrics).
  virtual PoolStats pool_stats() = 0;
  // Every transaction begun afterwards carries `attachment` (owned by the caller, who
  // keeps it alive as long as the database), beside those attached before.
  void attach(Attachment* attachment) { attachments_.push_back(attachment); }
  // The attachment of type T (null when none was attached), for work outside a transaction.
  template <class T>
  T* attached() const {
    for (Attachment* a : attachments_)
      if (auto* t = dynamic_cast<T*>(a)) return t;
    return nullptr;
  }

 protected:
  // The engine's own transaction, never joined to a request's.
  virtual Result<std::unique_ptr<Tx>> open(TxMode mode) = 0;
  // Marks a transaction of a replica that may lag (Tx::may_lag).
  static void mark_may_lag(Tx& tx) { tx.may_lag_ = true; }

 private:
  friend class RequestTransaction;
  std::vector<Attachment*> attachments_;
};

// Makes everything one request commits one transaction, so that its effects and the record
// of its answer (the idempotency key's stored response) commit together or not at all
// (decision 0009). While it is open, every Database::begin() of `db` on this thread joins
// one shared read-write transaction, begun at the first begin(): each joined Tx is a
// savepoint, so a joined Tx that commits is released into the shared one and one dropped
// without commit rolls back to its savepoint, exactly as a transaction of its own would,
// except that nothing becomes visible to others before commit(). Its after-commit work
// runs after commit(). Never for work that must commit before calling another system (a
// gateway charge, decision 0005): that work would be held, and a crash would lose it.
class RequestTransaction {
 public:
  explicit RequestTransaction(Database& db);
  ~RequestTransaction();  // rolls back what was not committed
  RequestTransaction(const RequestTransaction&) = delete;
  RequestTransaction& operator=(const RequestTransaction&) = delete;

  // Some work began a transaction (so there is something to commit).
  bool started() const { return shared_ != nullptr; }
  // A savepoint could not be rolled back: the shared transaction must not commit.
  bool broken() const { return broken_; }
  // The shared transaction. Requires: started().
  Tx& tx() { return *shared_; }
  // Commits the shared transaction, then runs the after-commit work of what joined it.
  // Requires: started(), no joined Tx still open.
  Status commit();
  // Work that must not be held in a request's transaction (a gateway call) checks this.
  static bool open_on_this_thread();

 private:
  friend class Database;
  friend class JoinedTx;
  Result<std::unique_ptr<Tx>> join();

  Database& db_;
  RequestTransaction* outer_;  // the scope this one hides, restored on destruction
  std::unique_ptr<Tx> shared_;
  int depth_ = 0;       // open joined transactions
  int savepoints_ = 0;  // savepoints made, which name them
  bool broken_ = false;
};

// Opens "sqlite:PATH" or "postgresql://..." / "postgres://...". pool_size bounds connections.
Result<std::unique_ptr<Database>> open(std::string_view url, int pool_size = 8);

}  // namespace recur::db

namespace recur::db {

// Runs `work(tx)` in one transaction: commits when it succeeds, rolls back when it fails.
// Requires: `work` returns a Result<...>.
template <typename Work>
auto transact(Database& db, Work&& work, TxMode mode = TxMode::kReadWrite) -> decltype(work(std::declval<Tx&>())) {
  auto tx = db.begin(mode);
  if (!tx.ok()) return std::move(tx).error();
  auto result = work(**tx);
  if (!result.ok()) return result;
  auto committed = (*tx)->commit();
  if (!committed.ok()) return std::move(committed).error();
  (*tx)->run_after_commit();
  return result;
}

}  // namespace recur::db
