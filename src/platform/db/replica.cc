#include "platform/db/replica.h"

#include <utility>

#include "platform/read_consistency.h"

namespace recur::db {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::int64_t> postgres_replica_lag_ms(Database& replica) {
  // pg_stat_wal_receiver has a row while a WAL receiver runs (its pid is visible to any role).
  return transact(
      replica,
      [](Tx& tx) -> Result<std::int64_t> {
        RECUR_ASSIGN(auto rows,
                     tx.query("SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
                              " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
                              " AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0"
                              " ELSE COALESCE((EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)"
                              "::bigint, 9223372036854775807) END"));
        if (rows.empty() || rows[0].is_null(0)) return Error::internal("the replica did not report its lag");
        return rows[0].int64(0);
      },
      TxMode::kReadOnly);
}

ReplicaRouter::ReplicaRouter(std::unique_ptr<Database> primary, std::unique_ptr<Database> replica, LagProbe probe,
                             ReplicaOptions options)
    : primary_(std::move(primary)), replica_(std::move(replica)), probe_(std::move(probe)), options_(options) {
  prober_ = std::thread([this] { probe_loop(); });
}

ReplicaRouter::~ReplicaRouter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  prober_.join();
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
      return replica_->begin(TxMode::kReadOnly);
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
  RECUR_ASSIGN(auto primary, open(url, pool_size));
  RECUR_ASSIGN(auto replica, open(replica_url, pool_size));
  Database& probed = *replica;
  return std::make_unique<ReplicaRouter>(
      std::move(primary), std::move(replica), [&probed] { return postgres_replica_lag_ms(probed); }, options);
}

}  // namespace recur::db
