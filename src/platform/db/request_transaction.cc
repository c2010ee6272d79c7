// One transaction per request: Database::begin() joins the thread's RequestTransaction
// through savepoints (decision 0009).
#include <atomic>
#include <string>

#include "platform/db/database.h"

namespace recur::db {
namespace {
thread_local RequestTransaction* current = nullptr;
std::atomic<std::uint64_t> sequence{0};
}  // namespace

std::uint64_t next_sequence() { return ++sequence; }

// A transaction of the request's: a savepoint in the shared transaction.
class JoinedTx final : public Tx {
 public:
  JoinedTx(RequestTransaction& scope, std::string savepoint) : scope_(scope), savepoint_(std::move(savepoint)) {}
  ~JoinedTx() override {
    --scope_.depth_;
    if (committed_) return;
    // As a transaction of its own would roll back: undo what it did, keep the rest.
    Tx& shared = scope_.tx();
    if (!shared.exec("ROLLBACK TO SAVEPOINT " + savepoint_).ok() ||
        !shared.exec("RELEASE SAVEPOINT " + savepoint_).ok())
      scope_.broken_ = true;
  }

  Result<Rows> query(std::string_view sql, const Params& params) override { return scope_.tx().query(sql, params); }
  Result<std::int64_t> exec(std::string_view sql, const Params& params) override {
    return scope_.tx().exec(sql, params);
  }
  Status each(std::string_view sql, const Params& params, const std::function<Status(const Row&)>& fn) override {
    return scope_.tx().each(sql, params, fn);
  }
  Status exec_later(std::string_view sql, Params params) override {
    return scope_.tx().exec_later(sql, std::move(params));
  }
  Status commit_now() override {
    // Not deferred: its deferred writes must succeed or fail here, as a COMMIT's would, or
    // their error would surface in (and be rolled back with) the next joined transaction.
    RECUR_TRY(scope_.tx().exec("RELEASE SAVEPOINT " + savepoint_, {}));
    committed_ = true;
    // Its after-commit work waits for the shared transaction's commit.
    for (auto& work : take_after_commit()) scope_.tx().after_commit(std::move(work));
    return Ok{};
  }
  Engine engine() const override { return scope_.shared_->engine(); }

 private:
  RequestTransaction& scope_;
  std::string savepoint_;
  bool committed_ = false;
};

bool RequestTransaction::open_on_this_thread() { return current != nullptr; }

Result<std::unique_ptr<Tx>> Database::begin(TxMode mode) {
  auto tx = [&]() -> Result<std::unique_ptr<Tx>> {
    for (RequestTransaction* scope = current; scope; scope = scope->outer_)
      if (&scope->db_ == this) return scope->join();
    return open(mode);
  }();
  if (tx.ok()) {
    (*tx)->attachments_ = &attachments_;
    if ((*tx)->began_ == 0) (*tx)->began_ = next_sequence();  // a router's replica Tx is stamped already
  }
  return tx;
}

RequestTransaction::RequestTransaction(Database& db) : db_(db), outer_(current) { current = this; }

RequestTransaction::~RequestTransaction() { current = outer_; }  // shared_ rolls back if not committed

Result<std::unique_ptr<Tx>> RequestTransaction::join() {
  if (!shared_) {
    // Read-write from the start: a read that later writes would have to upgrade its lock.
    RECUR_ASSIGN(shared_, db_.open(TxMode::kReadWrite));
    shared_->attachments_ = &db_.attachments_;  // tx() is handed out as it is
    if (shared_->began_ == 0) shared_->began_ = next_sequence();
  }
  // Never reused: a rollback to a savepoint that was not made (its SAVEPOINT lost with an
  // aborted pipeline) fails, and breaks the scope, instead of undoing another's work.
  ++depth_;
  std::string savepoint = "recur_join_" + std::to_string(++savepoints_);
  auto begun = shared_->exec_later("SAVEPOINT " + savepoint, {});
  if (!begun.ok()) {
    --depth_;
    return std::move(begun).error();
  }
  auto joined = std::make_unique<JoinedTx>(*this, std::move(savepoint));
  joined->began_ = shared_->began_;  // its reads are the shared transaction's
  return std::unique_ptr<Tx>(std::move(joined));
}

Status release_stale_request_key(Tx& tx, std::string_view table, const std::string& request_key,
                                 std::int64_t now) {
  if (request_key.empty()) return Ok{};
  RECUR_TRY(tx.exec("UPDATE " + std::string(table) + " SET request_key = NULL WHERE request_key = $1 AND created_at < $2",
                    {request_key, now - kRequestKeyLifetime}));
  return Ok{};
}

Status RequestTransaction::commit() {
  if (broken_) return Error::internal("a savepoint of the request's transaction could not be rolled back");
  RECUR_TRY(shared_->commit());
  shared_->run_after_commit();
  return Ok{};
}

}  // namespace recur::db
