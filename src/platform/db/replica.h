// A read replica for reads that may lag (`recur serve --db-replica URL`, docs/OPERATIONS.md,
// "Read replica"). ReplicaRouter is the Database every module sees: each transaction goes to
// the primary, except a read-only one begun under a StaleReadsScope (platform/read_consistency.h)
// while the replica is usable, which goes to the replica. Usable means: the last lag probe
// succeeded less than 3 probe periods ago and measured at most max_lag. So a stale read is
// at most max_lag (plus three probe periods) behind the primary; past it, or with the replica
// down or unreachable, those reads go to the primary again within a probe period or two.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "platform/db/database.h"

namespace recur::db {

struct ReplicaOptions {
  std::chrono::milliseconds max_lag{5000};       // the staleness bound
  std::chrono::milliseconds probe_period{1000};  // how often the lag is measured
};

// How far the replica is behind the primary, in milliseconds; an error makes it unusable.
using LagProbe = std::function<Result<std::int64_t>()>;

// The replication lag of a PostgreSQL standby, read on the standby: 0 while its WAL receiver
// streams and it has replayed all it received; otherwise the age of the last transaction it
// replayed (so a standby cut off from its primary ages, and one that was promoted reads 0).
Result<std::int64_t> postgres_replica_lag_ms(Database& replica);

struct ReplicaStats {
  std::uint64_t replica_reads = 0;  // stale-tolerant reads the replica served
  std::uint64_t primary_reads = 0;  // stale-tolerant reads sent to the primary (replica unusable)
  bool usable = false;
  std::int64_t lag_ms = -1;  // the last probe's measure; -1 when it failed or none ran yet
};

class ReplicaRouter final : public Database {
 public:
  // Starts probing at once, on a thread of its own (stopped by the destructor).
  ReplicaRouter(std::unique_ptr<Database> primary, std::unique_ptr<Database> replica, LagProbe probe,
                ReplicaOptions options = {});
  ~ReplicaRouter() override;

  Engine engine() const override { return primary_->engine(); }
  std::string describe() const override { return primary_->describe() + " (replica " + replica_->describe() + ")"; }
  PoolStats pool_stats() override { return primary_->pool_stats(); }
  ReplicaStats stats() const;
  // Runs one probe now, on the caller's thread (tests; the probing thread does it by itself).
  void probe_now();

 protected:
  Result<std::unique_ptr<Tx>> open(TxMode mode) override;

 private:
  bool replica_usable() const;
  void probe_loop();

  std::unique_ptr<Database> primary_;
  std::unique_ptr<Database> replica_;
  LagProbe probe_;
  ReplicaOptions options_;
  std::atomic<std::int64_t> lag_ms_{-1};
  std::atomic<std::int64_t> probed_at_ms_{0};  // steady clock; 0: never succeeded
  std::atomic<std::uint64_t> replica_reads_{0};
  std::atomic<std::uint64_t> primary_reads_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread prober_;
};

// Opens `url` as the primary and `replica_url` as its replica (both postgresql://; each pool
// `pool_size` connections). The replica's URL should carry connect_timeout.
Result<std::unique_ptr<ReplicaRouter>> open_with_replica(std::string_view url, std::string_view replica_url,
                                                         int pool_size, ReplicaOptions options = {});

}  // namespace recur::db
