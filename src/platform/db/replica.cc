#include "platform/db/replica.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

#include "platform/read_consistency.h"

namespace recur::db {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void LagTracker::primary_at(std::int64_t at_ms, std::uint64_t lsn) {
  seen_.emplace_back(at_ms, lsn);
  while (seen_.size() > 1 && seen_.front().first < at_ms - keep_ms_) seen_.pop_front();
}

std::int64_t LagTracker::lag_ms(std::int64_t now_ms, std::uint64_t replayed) const {
  for (auto it = seen_.rbegin(); it != seen_.rend(); ++it)
    if (it->second <= replayed) return std::max<std::int64_t>(0, now_ms - it->first);
  return kUnknown;
}

namespace {

// A pg_lsn as bytes from the start of the WAL, read as text (`lsn - '0/0'` is numeric).
Result<std::uint64_t> wal_position(Tx& tx, const char* sql) {
  RECUR_ASSIGN(auto rows, tx.query(sql));
  if (rows.empty() || rows[0].is_null(0)) return Error::internal("no WAL position");
  const std::string& text = rows[0].text(0);
  std::uint64_t position = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), position);
  if (ec != std::errc() || end != text.data() + text.size())
    return Error::internal("a WAL position that is not a number: " + text);
  return position;
}

}  // namespace

PostgresLagProbe::PostgresLagProbe(std::unique_ptr<Database> primary, std::unique_ptr<Database> replica,
                                   ReplicaOptions options)
    : primary_(std::move(primary)),
      replica_(std::move(replica)),
      tracker_(options.max_lag + 3 * options.probe_period) {}

Result<std::int64_t> PostgresLagProbe::operator()() {
  const std::int64_t asked = steady_ms();
  RECUR_ASSIGN(
      auto at,
      transact(
          *primary_, [](Tx& tx) { return wal_position(tx, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text"); },
          TxMode::kReadOnly));
  tracker_.primary_at(asked, at);
  RECUR_ASSIGN(auto replayed, transact(
                                  *replica_,
                                  [](Tx& tx) -> Result<std::uint64_t> {
                                    RECUR_ASSIGN(auto rows, tx.query("SELECT pg_is_in_recovery()"));
                                    if (rows.empty() || rows[0].text(0) != "t")
                                      return Error::unavailable("replica_not_in_recovery",
                                                                "the replica is not a standby (it is not in recovery)");
                                    return wal_position(tx, "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::text");
                                  },
                                  TxMode::kReadOnly));
  const std::int64_t lag = tracker_.lag_ms(steady_ms(), replayed);
  if (lag == LagTracker::kUnknown)
    return Error::unavailable("replica_behind", "the replica has replayed none of the primary's recent WAL positions");
  return lag;
}

ReplicaRouter::ReplicaRouter(std::unique_ptr<Database> primary, std::unique_ptr<Database> replica, LagProbe probe,
                             ReplicaOptions options)
    : primary_(std::move(primary)), replica_(std::move(replica)), probe_(std::move(probe)), options_(options) {
  if (options_.probe_thread) prober_ = std::thread([this] { probe_loop(); });
}

ReplicaRouter::~ReplicaRouter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (prober_.joinable()) prober_.join();
}

void ReplicaRouter::probe_now() {
  auto lag = probe_();
  if (!lag.ok()) {
    lag_ms_ = -1;
    return;
  }
  lag_ms_ = *lag;
  probed_at_ms_ = steady_ms();
}

void ReplicaRouter::probe_loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    probe_now();
    lock.lock();
    cv_.wait_for(lock, options_.probe_period, [this] { return stop_; });
  }
}

bool ReplicaRouter::replica_usable() const {
  const std::int64_t lag = lag_ms_;
  const std::int64_t at = probed_at_ms_;
  return lag >= 0 && lag <= options_.max_lag.count() && at != 0 &&
         steady_ms() - at <= 3 * options_.probe_period.count();
}

ReplicaStats ReplicaRouter::stats() const {
  return ReplicaStats{replica_reads_, primary_reads_, replica_usable(), lag_ms_};
}

Result<std::unique_ptr<Tx>> ReplicaRouter::open(TxMode mode) {
  if (mode == TxMode::kReadOnly && stale_reads_allowed()) {
    if (replica_usable()) {
      ++replica_reads_;
      RECUR_ASSIGN(auto tx, replica_->begin(TxMode::kReadOnly));
      mark_may_lag(*tx);
      note_replica_read();
      return tx;
    }
    ++primary_reads_;
  }
  return primary_->begin(mode);
}

Result<std::unique_ptr<ReplicaRouter>> open_with_replica(std::string_view url, std::string_view replica_url,
                                                         int pool_size, ReplicaOptions options) {
  auto postgres = [](std::string_view u) { return u.rfind("postgresql://", 0) == 0 || u.rfind("postgres://", 0) == 0; };
  if (!postgres(url) || !postgres(replica_url))
    return Error::invalid("invalid_db_replica",
                          "--db-replica needs a PostgreSQL primary and a PostgreSQL replica (postgresql://...)");
  // A dead peer is noticed in seconds (keepalives; unacknowledged data by tcp_user_timeout),
  // and connecting gives up too; a statement the replica holds fails at the timeout.
  auto hang_proof = [](std::chrono::milliseconds statement_timeout) {
    return PostgresOptions{false,
                           {{"connect_timeout", "3"},
                            {"keepalives", "1"},
                            {"keepalives_idle", "5"},
                            {"keepalives_interval", "2"},
                            {"keepalives_count", "3"},
                            {"tcp_user_timeout", "10000"},
                            {"options", "-c statement_timeout=" + std::to_string(statement_timeout.count())}}};
  };
  RECUR_ASSIGN(auto primary, open(url, pool_size));
  RECUR_ASSIGN(auto replica, open_postgres(std::string(replica_url), pool_size, hang_proof(kReplicaStatementTimeout)));
  const auto probe_timeout = std::max(options.probe_period, std::chrono::milliseconds(1000));
  RECUR_ASSIGN(auto probe_primary, open_postgres(std::string(url), 1, hang_proof(probe_timeout)));
  RECUR_ASSIGN(auto probe_replica, open_postgres(std::string(replica_url), 1, hang_proof(probe_timeout)));
  auto probe = std::make_shared<PostgresLagProbe>(std::move(probe_primary), std::move(probe_replica), options);
  return std::make_unique<ReplicaRouter>(
      std::move(primary), std::move(replica), [probe] { return (*probe)(); }, options);
}

}  // namespace recur::db
