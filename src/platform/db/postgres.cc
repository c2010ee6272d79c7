// PostgreSQL engine over libpq: a connection pool, per-connection prepared statements,
// text-format parameters, SQLSTATEs mapped onto Recur's error codes.
#include <libpq-fe.h>

#include <string>
#include <unordered_map>

#include "platform/db/engines.h"
#include "platform/db/pool.h"

namespace recur::db {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

Error pg_error(PGconn* conn, const PGresult* res, std::string_view what) {
  // A result's own message first: in a pipeline the connection's is the last one's.
  const char* own = res ? PQresultErrorMessage(res) : nullptr;
  std::string msg = std::string(what) + ": " + (own && *own ? own : PQerrorMessage(conn));
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  if (sqlstate == "23505") return Error::conflict(std::string(kUniqueViolation), msg);
  // Bytes that are not UTF-8 (22021) or a NUL (22P05) are the caller's, if an edge check
  // missed them: a 400, never a 500 (and the server's message, quoting bytes, stays out).
  if (sqlstate == "22021" || sqlstate == "22P05") return invalid_text_error();
  if (sqlstate == "40001" || sqlstate == "40P01") return Error::unavailable(std::string(kSerializationFailure), msg);
  if (PQstatus(conn) != CONNECTION_OK) return Error::unavailable("database_unavailable", msg);
  return Error::internal(msg);
}

class Connection {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  // The session settings every connection gets (also after a reset).
  Status setup() {
    RECUR_TRY(run_simple("SET client_min_messages TO warning"));
    return run_simple("SET TIME ZONE 'UTC'");
  }
  // Reconnects a broken connection (e.g. after a server restart); prepared statements are gone.
  Status reset() {
    statements_.clear();
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK)
      return Error::unavailable("database_unavailable",
                                std::string("cannot reconnect to PostgreSQL: ") + PQerrorMessage(conn_));
    return setup();
  }
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* handle() const { return conn_; }
  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

  // Returns the name of a prepared statement for `sql`, preparing it on first use.
  Result<const std::string*> prepared(std::string_view sql) {
    auto it = statements_.find(std::string(sql));
    if (it != statements_.end()) return &it->second;
    std::string name = "s" + std::to_string(statements_.size());
    PgResult res(PQprepare(conn_, name.c_str(), std::string(sql).c_str(), 0, nullptr));
    if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) return pg_error(conn_, res.get(), "prepare");
    auto [pos, _] = statements_.emplace(std::string(sql), std::move(name));
    return &pos->second;
  }

  Status run_simple(const char* sql) {
    PgResult res(PQexec(conn_, sql));
    auto st = PQresultStatus(res.get());
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Ok{};
    return pg_error(conn_, res.get(), sql);
  }

 private:
  PGconn* conn_;
  std::unordered_map<std::string, std::string> statements_;
};

// BEGIN is not a round trip of its own: it is sent in one pipeline with the transaction's
// first statement (and a transaction that sends nothing sends neither BEGIN nor COMMIT).
//
// A read-only transaction runs each statement as a read-only transaction of its own, BEGIN
// READ ONLY, the statement and COMMIT in one pipeline: one round trip per statement and none
// for commit(). Under READ COMMITTED (the only level Recur uses) every statement takes its own
// snapshot inside a transaction block too, so what it reads is the same; the block held
// nothing but a second round trip. each() opens a block instead (its rows come in
// single-row mode), which commit() ends.
class PostgresTx final : public Tx {
 public:
  using Lease = Pool<Connection>::Lease;
  PostgresTx(Lease lease, TxMode mode)
      : lease_(std::move(lease)),
        read_only_(mode == TxMode::kReadOnly),
        begin_sql_(read_only_ ? "BEGIN READ ONLY" : "BEGIN") {}
  ~PostgresTx() override {
    if (done_) return;
    if (!begun_) {  // nothing to roll back; a connection left broken is not returned
      if (!lease_->healthy() || PQpipelineStatus(lease_->handle()) != PQ_PIPELINE_OFF) lease_.discard();
      return;
    }
    if (!lease_->healthy() || !lease_->run_simple("ROLLBACK").ok()) lease_.discard();
  }

  Result<Rows> query(std::string_view sql, const Params& params) override {
    RECUR_TRY(not_streaming());
    RECUR_TRY(text_parameters(params));
    RECUR_ASSIGN(PgResult res, run(sql, params));
    Rows rows;
    int n = PQntuples(res.get());
    rows.reserve(n);
    for (int r = 0; r < n; ++r) rows.push_back(row_of(res.get(), r));
    return rows;
  }

  // Single-row mode: libpq hands each row over as it arrives. The transaction is begun (and
  // the deferred writes sent) first, in a round trip of their own.
  Status each(std::string_view sql, const Params& params, const std::function<Status(const Row&)>& fn) override {
    RECUR_TRY(not_streaming());
    RECUR_TRY(text_parameters(params));
    if (!begun_ || !deferred_.empty()) {
      RECUR_TRY(run(std::string_view("SELECT 1"), Params{}, /*open_block=*/true));
    }
    RECUR_ASSIGN(const std::string* name, lease_->prepared(sql));
    PGconn* conn = lease_->handle();
    Values v(params);
    if (PQsendQueryPrepared(conn, name->c_str(), v.count(), v.values.data(), v.lengths.data(), nullptr, 0) != 1)
      return pg_error(conn, nullptr, "query");
    PQsetSingleRowMode(conn);  // when it fails, every row comes at once: slower in memory, never wrong
    // Every result up to the end, whatever happens (an error, or `fn` throwing): the
    // connection then serves the next statement.
    struct Streaming {
      PostgresTx& tx;
      PGconn* conn;
      explicit Streaming(PostgresTx& t, PGconn* c) : tx(t), conn(c) { tx.streaming_ = true; }
      ~Streaming() {
        while (PGresult* rest = PQgetResult(conn)) PQclear(rest);
        tx.streaming_ = false;
      }
    } streaming(*this, conn);
    Status out = Ok{};  // the first error: nothing more is handed over after it
    while (PGresult* raw = PQgetResult(conn)) {
      PgResult res(raw);
      auto st = PQresultStatus(raw);
      if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
        for (int r = 0, n = PQntuples(raw); r < n && out.ok(); ++r) out = fn(row_of(raw, r));
      } else if (out.ok()) {
        out = pg_error(conn, raw, "query");
      }
    }
    return out;
  }

  Result<std::int64_t> exec(std::string_view sql, const Params& params) override {
    RECUR_TRY(not_streaming());
    RECUR_TRY(text_parameters(params));
    RECUR_ASSIGN(PgResult res, run(sql, params));
    const char* n = PQcmdTuples(res.get());
    return n && *n ? std::stoll(n) : 0;
  }

  // Sent with the next statement (or COMMIT) in one pipeline: one round trip for all.
  Status exec_later(std::string_view sql, Params params) override {
    RECUR_TRY(not_streaming());
    RECUR_TRY(text_parameters(params));
    deferred_.push_back({std::string(sql), std::move(params)});
    return Ok{};
  }

  Status commit_now() override {
    RECUR_TRY(not_streaming());
    if (!deferred_.empty()) {
      RECUR_TRY(run(std::optional<std::string_view>(), Params{}));  // [BEGIN,] the deferred writes, COMMIT
    } else if (begun_) {
      RECUR_TRY(lease_->run_simple("COMMIT"));
    }
    done_ = true;
    return Ok{};
  }

  Engine engine() const override { return Engine::kPostgres; }

 private:
  struct Deferred {
    std::string sql;
    Params params;
  };

  // Runs `sql` (or, when it is null, COMMIT). The transaction's first statement goes with
  // BEGIN, and writes deferred by exec_later go ahead of it, all in one pipeline. A
  // read-only transaction's statement also takes its COMMIT along, unless `open_block`.
  Result<PgResult> run(std::optional<std::string_view> sql, const Params& params, bool open_block = false) {
    if (begun_ && deferred_.empty()) return run_prepared(*sql, params);
    if (begun_) return pipelined(sql, params, false);
    bool close = read_only_ && sql && !open_block;
    // An idle connection may have died (a server restart): nothing of this transaction
    // has run yet (or, read-only, nothing but statements already committed), so reconnect
    // once and send it all again.
    auto first = pipelined(sql, params, close);
    if (first.ok() || begun_ || lease_->healthy()) return first;
    RECUR_TRY(lease_->reset());
    return pipelined(sql, params, close);
  }
  Result<PgResult> run(std::string_view sql, const Params& params, bool open_block = false) {
    return run(std::optional(sql), params, open_block);
  }

  // [BEGIN,] the deferred writes, `sql` or COMMIT [, COMMIT when `close`], in one pipeline.
  Result<PgResult> pipelined(std::optional<std::string_view> sql, const Params& params, bool close) {
    // Statement names first: preparing is a round trip of its own, outside the pipeline.
    std::vector<const std::string*> names;
    for (const auto& d : deferred_) {
      RECUR_ASSIGN(const std::string* name, lease_->prepared(d.sql));
      names.push_back(name);
    }
    const std::string* final_name = nullptr;
    if (sql) {
      RECUR_ASSIGN(final_name, lease_->prepared(*sql));
    }
    PGconn* conn = lease_->handle();
    if (PQenterPipelineMode(conn) != 1) return pg_error(conn, nullptr, "pipeline");
    bool with_begin = !begun_;
    bool sent = !with_begin || PQsendQueryParams(conn, begin_sql_, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    for (std::size_t i = 0; sent && i < deferred_.size(); ++i) {
      Values v(deferred_[i].params);
      sent = PQsendQueryPrepared(conn, names[i]->c_str(), v.count(), v.values.data(), v.lengths.data(), nullptr, 0) == 1;
    }
    Values v(params);
    if (sent)
      sent = final_name ? PQsendQueryPrepared(conn, final_name->c_str(), v.count(), v.values.data(),
                                              v.lengths.data(), nullptr, 0) == 1
                        : PQsendQueryParams(conn, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    if (sent && close) sent = PQsendQueryParams(conn, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    sent = sent && PQpipelineSync(conn) == 1;
    // Read every result sent, in order, up to the sync, before leaving pipeline mode.
    std::vector<PgResult> results;
    bool complete = false;
    while (sent && !complete) {
      PGresult* r = PQgetResult(conn);
      if (!r) {
        if (PQstatus(conn) != CONNECTION_OK) break;
        continue;  // the end of one query's results
      }
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        complete = true;
      } else {
        results.emplace_back(r);
      }
    }
    if (complete) PQexitPipelineMode(conn);
    if (!complete)  // the connection broke (the caller reconnects it, or the pool drops it)
      return Error::unavailable("database_unavailable", std::string("query: ") + PQerrorMessage(conn));
    std::size_t expected = (with_begin ? 1 : 0) + deferred_.size() + 1 + (close ? 1 : 0);
    if (results.size() != expected) {
      begun_ = true;  // whatever ran: the destructor rolls back (or drops the connection)
      return Error::internal("pipeline: " + std::to_string(results.size()) + " results for " +
                             std::to_string(expected) + " statements");
    }
    std::size_t at = 0;
    if (with_begin) {
      if (PQresultStatus(results[0].get()) != PGRES_COMMAND_OK) return pg_error(conn, results[0].get(), begin_sql_);
      begun_ = true;  // from here a failure leaves an open (aborted) transaction to roll back
      at = 1;
    }
    // The deferred writes are spent whatever happened: an error aborted the transaction.
    auto deferred = std::move(deferred_);
    deferred_.clear();
    for (std::size_t i = 0; i < deferred.size(); ++i, ++at) {
      auto st = PQresultStatus(results[at].get());
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_error(conn, results[at].get(), "deferred write");
    }
    auto st = PQresultStatus(results[at].get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_error(conn, results[at].get(), sql ? "query" : "COMMIT");
    if (close) {
      if (PQresultStatus(results[at + 1].get()) != PGRES_COMMAND_OK) return pg_error(conn, results[at + 1].get(), "COMMIT");
      begun_ = false;  // the statement's own transaction has ended
    }
    return std::move(results[at]);
  }

  // Parameters as libpq wants them: text with its length, or null. Lengths matter only to
  // binary format, so libpq still reads text parameters up to a NUL: text_parameters()
  // refuses a NUL before anything is sent, instead of letting it cut the value short.
  struct Values {
    explicit Values(const Params& params)
        : texts(params.size()), values(params.size(), nullptr), lengths(params.size(), 0) {
      for (std::size_t i = 0; i < params.size(); ++i) {
        if (const auto* s = std::get_if<std::string>(&params[i])) {
          values[i] = s->data();
          lengths[i] = static_cast<int>(s->size());
        } else if (const auto* n = std::get_if<std::int64_t>(&params[i])) {
          texts[i] = std::to_string(*n);
          values[i] = texts[i].c_str();
          lengths[i] = static_cast<int>(texts[i].size());
        }
      }
    }
    int count() const { return static_cast<int>(values.size()); }
    std::vector<std::string> texts;
    std::vector<const char*> values;
    std::vector<int> lengths;
  };

  Result<PgResult> run_prepared(std::string_view sql, const Params& params) {
    RECUR_ASSIGN(const std::string* name, lease_->prepared(sql));
    Values v(params);
    PgResult res(PQexecPrepared(lease_->handle(), name->c_str(), v.count(), v.values.data(), v.lengths.data(),
                                nullptr, 0));
    auto st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_error(lease_->handle(), res.get(), "query");
    return res;
  }

  // The connection is busy with each()'s rows until the last: a statement from its callback
  // would make libpq drop them.
  Status not_streaming() const {
    if (streaming_) return Error::internal("a statement on the transaction from inside Tx::each's callback");
    return Ok{};
  }

  static Row row_of(const PGresult* res, int r) {
    int cols = PQnfields(res);
    std::vector<std::optional<std::string>> cells;
    cells.reserve(cols);
    for (int c = 0; c < cols; ++c) {
      if (PQgetisnull(res, r, c))
        cells.emplace_back(std::nullopt);
      else
        cells.emplace_back(std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c)));
    }
    return Row(std::move(cells));
  }

  Lease lease_;
  bool read_only_;
  const char* begin_sql_;
  std::vector<Deferred> deferred_;  // exec_later's writes, not sent yet
  bool begun_ = false;  // BEGIN has been sent (with the first statement)
  bool done_ = false;
  bool streaming_ = false;  // inside each()
};

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(std::string conninfo, int pool_size, PostgresOptions options)
      : conninfo_(std::move(conninfo)),
        pool_size_(pool_size),
        options_(std::move(options)),
        pool_(pool_size, [this] { return connect(); }) {}

  Result<std::unique_ptr<Tx>> open(TxMode mode) override {
    // BEGIN goes with the first statement; a connection found dead then (after a server
    // restart) is reconnected there, before anything of the transaction has run.
    RECUR_ASSIGN(auto lease, pool_.acquire());
    return std::unique_ptr<Tx>(std::make_unique<PostgresTx>(std::move(lease), mode));
  }
  Engine engine() const override { return Engine::kPostgres; }
  PoolStats pool_stats() override { return pool_.stats(); }
  std::string describe() const override {
    // Never log the password: show host, port and database name only.
    return "postgresql (" + redacted_ + ")";
  }

  Status init() {
    PQconninfoOption* opts = PQconninfoParse(conninfo_.c_str(), nullptr);
    if (!opts) return Error::invalid("invalid_database_url", "cannot parse the PostgreSQL URL");
    std::string host, port, dbname;
    for (auto* o = opts; o->keyword; ++o) {
      if (!o->val) continue;
      std::string key = o->keyword;
      if (key == "host") host = o->val;
      if (key == "port") port = o->val;
      if (key == "dbname") dbname = o->val;
    }
    PQconninfoFree(opts);
    redacted_ = "host=" + host + " port=" + port + " dbname=" + dbname;
    if (!options_.connect_now) return Ok{};
    RECUR_ASSIGN(auto tx, begin(TxMode::kReadOnly));
    RECUR_TRY(tx->query("SELECT 1"));  // connects, and checks the server answers
    return Ok{};
  }

 private:
  Result<std::unique_ptr<Connection>> connect() {
    // The defaults first, then the URL (expanded from "dbname"): a parameter given twice keeps
    // its last value, so the URL's own settings win.
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : options_.defaults) {
      keys.push_back(k.c_str());
      values.push_back(v.c_str());
    }
    keys.push_back("dbname");
    values.push_back(conninfo_.c_str());
    keys.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* raw = PQconnectdbParams(keys.data(), values.data(), 1);
    auto conn = std::make_unique<Connection>(raw);
    if (PQstatus(raw) != CONNECTION_OK)
      return Error::unavailable("database_unavailable",
                                std::string("cannot connect to PostgreSQL: ") + PQerrorMessage(raw));
    RECUR_TRY(conn->setup());
    return conn;
  }

  std::string conninfo_;
  int pool_size_;
  PostgresOptions options_;
  std::string redacted_;
  Pool<Connection> pool_;
};

}  // namespace

Result<std::unique_ptr<Database>> open_postgres(const std::string& conninfo, int pool_size, PostgresOptions options) {
  auto db = std::make_unique<PostgresDatabase>(conninfo, pool_size, std::move(options));
  RECUR_TRY(db->init());
  return std::unique_ptr<Database>(std::move(db));
}

Result<std::unique_ptr<Database>> open(std::string_view url, int pool_size) {
  if (url.rfind("sqlite:", 0) == 0) {
    RECUR_ASSIGN(auto target, parse_sqlite_target(url.substr(7)));
    return open_sqlite(target.first, pool_size, target.second);
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return open_postgres(std::string(url), pool_size);
  return Error::invalid("invalid_database_url",
                        "database URL must start with sqlite: or postgresql:// (got '" + std::string(url) + "')");
}

}  // namespace recur::db
