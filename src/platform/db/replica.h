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
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "platform/db/database.h"
#include "platform/db/engines.h"

namespace recur::db {

struct ReplicaOptions {
  std::chrono::milliseconds max_lag{5000};       // the staleness bound
  std::chrono::milliseconds probe_period{1000};  // how often the lag is measured
  bool probe_thread = true;                      // false: only probe_now() probes (tests)
};

// How far the replica is behind the primary, in milliseconds; an error makes it unusable.
using LagProbe = std::function<Result<std::int64_t>()>;

// How stale a replica is, from WAL positions. Each probe reads the primary's WAL write
// position (every commit acknowledged by then lies before it; with synchronous_commit off, all
// but the last wal_writer_delay's), then the position the replica has replayed. Not the insert
// position: at a page boundary it points past the next page's header, which an idle primary's
// replica never reaches. Once the replica has replayed a position
// the primary had reached at time t, it holds every commit acknowledged before t, so what it
// serves is at most now - t old. A pure rule: times are the caller's
// (steady clock, ms).
class LagTracker {
 public:
  // Positions older than `keep` are forgotten (give it more than the staleness bound).
  explicit LagTracker(std::chrono::milliseconds keep) : keep_ms_(keep.count()) {}
  // The primary was at `lsn` when asked at `at_ms` (taken before asking).
  void primary_at(std::int64_t at_ms, std::uint64_t lsn);
  // The replica's staleness at `now_ms`, having replayed up to `replayed`: now - the time of
  // the newest position kept that it has replayed; kUnknown when it has replayed none of them
  // (just started, cut off, or on another timeline than the positions kept).
  std::int64_t lag_ms(std::int64_t now_ms, std::uint64_t replayed) const;
  static constexpr std::int64_t kUnknown = INT64_MAX;

 private:
  std::int64_t keep_ms_;
  std::deque<std::pair<std::int64_t, std::uint64_t>> seen_;  // (at_ms, lsn), oldest first
};

// The probe of `--db-replica`: on connections of its own (one to each server, so a pool
// that is busy or hung never holds the probe back), the primary's WAL position, then the
// replica's replayed position; a server that is not in recovery is not a replica, and fails
// the probe. Not thread-safe: one probing thread calls it.
class PostgresLagProbe {
 public:
  PostgresLagProbe(std::unique_ptr<Database> primary, std::unique_ptr<Database> replica, ReplicaOptions options);
  Result<std::int64_t> operator()();

 private:
  std::unique_ptr<Database> primary_;
  std::unique_ptr<Database> replica_;
  LagTracker tracker_;
};

struct ReplicaStats {
  std::uint64_t replica_reads = 0;  // stale-tolerant reads the replica served
  std::uint64_t primary_reads = 0;  // stale-tolerant reads sent to the primary (replica unusable)
  bool usable = false;
  std::int64_t lag_ms = -1;  // the last probe's measure; -1 when it failed or none ran yet
};

class ReplicaRouter final : public Database {
 public:
  // Starts probing at once, on a thread of its own (stopped by the destructor), unless
  // options.probe_thread is false (tests call probe_now()).
  ReplicaRouter(std::unique_ptr<Database> primary, std::unique_ptr<Database> replica, LagProbe probe,
                ReplicaOptions options = {});
  ~ReplicaRouter() override;

  Engine engine() const override { return primary_->engine(); }
  std::string describe() const override { return primary_->describe() + " (replica " + replica_->describe() + ")"; }
  PoolStats pool_stats() override { return primary_->pool_stats(); }
  PoolStats replica_pool_stats() { return replica_->pool_stats(); }
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

// How long a statement may run on the replica before it is cancelled.
inline constexpr std::chrono::milliseconds kReplicaStatementTimeout{60000};

// Opens `url` as the primary and `replica_url` as its replica (both postgresql://; each pool
// `pool_size` connections), and the probe's own two connections. The replica is not
// connected at open: a node starts while its replica is down, and reads the primary until
// the replica answers. The replica's connections carry TCP keepalives, a TCP user timeout
// and a statement_timeout (kReplicaStatementTimeout), so a replica that hangs fails its
// reads instead of holding them; the URL may override each.
Result<std::unique_ptr<ReplicaRouter>> open_with_replica(std::string_view url, std::string_view replica_url,
                                                         int pool_size, ReplicaOptions options = {});

}  // namespace recur::db
