// What GET /metrics reports besides the HTTP server's own figures (docs/OPERATIONS.md, "Metrics"):
// the process, the database pool, billing runs and charges, the scheduler's ticks, and what
// waits in the database (outboxes, dunning, backorders), read at most every few seconds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "billing/model.h"
#include "gateways/gateway.h"
#include "platform/alerts/alerter.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/db/replica.h"
#include "platform/metrics/registry.h"
#include "platform/result.h"

namespace recur::app {

// The version and commit this binary was built from (build_info.cc).
std::string build_version();
std::string build_commit();

// When the scheduler counts as stalled: no tick finished for 10 periods, and never less than
// 5 minutes (a billing run of a big book may rightly take a few minutes).
double stall_threshold_seconds(int tick_seconds);
inline bool scheduler_stalled(double seconds_since_tick, int tick_seconds) {
  return seconds_since_tick > stall_threshold_seconds(tick_seconds);
}

class Metrics {
 public:
  // `clock` dates the rows read (created_at, next_attempt_at); the scheduler's and billing's
  // last-run times are wall-clock seconds, as Prometheus's time() compares them with.
  // `sqlite_path`: the database file whose size and filesystem are reported ("" on PostgreSQL).
  Metrics(db::Database& db, const Clock& clock, std::string sqlite_path);
  ~Metrics();  // stops the database reader (after the read in progress, if any)
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  metrics::Registry& registry() { return registry_; }
  std::string render() const { return registry_.render(); }

  void billing_run(const Result<billing::BillingRun>& run);
  void charge(const std::string& gateway, gateways::Outcome outcome, double seconds);
  void scheduler_ticked();
  void set_scheduler_period(int seconds);
  // Reports the alerter's sent, failed, dropped and suppressed alerts per sink. Requires:
  // `alerter` outlives every scrape.
  void watch_alerts(const alerts::Alerter& alerter);
  // Reports where the reads that may lag went and the replica's last measured lag
  // (--db-replica). Requires: `router` outlives every scrape.
  void watch_replica(db::ReplicaRouter& router);
  // Seconds since the scheduler's last tick ended; nullopt before the first one.
  std::optional<double> scheduler_tick_age() const;

 private:
  // What the database says, read in one read-only transaction every few seconds by a thread
  // of its own (started by the first scrape), so that a scrape never waits on the database: a
  // read that hangs (a pool exhausted, a host that drops packets) shows as recur_db_up 0 once
  // its snapshot is stale, and /metrics still answers.
  struct Snapshot {
    bool up = false;
    std::vector<metrics::Sample> outbox_depth, outbox_age, dunning, replica_lag;
    double invoices_retrying = 0, stock_outs = 0, backorders = 0, backorder_age = 0;
  };
  Snapshot snapshot() const;
  Result<Snapshot> read_database() const;
  void read_database_until_stopped() const;
  void add_database_families();
  void add_sqlite_families();

  db::Database& db_;
  const Clock& clock_;
  std::string sqlite_path_;
  metrics::Registry registry_;
  metrics::CounterFamily& renewals_;
  metrics::CounterFamily& runs_;
  metrics::Gauge& last_run_success_;
  metrics::Counter& failure_rate_jumps_;
  metrics::CounterFamily& charges_;
  metrics::HistogramFamily& charge_seconds_;
  metrics::Gauge& last_tick_;
  metrics::Counter& ticks_;
  metrics::Gauge& tick_period_;
  mutable std::mutex snapshot_mu_;  // the fields below
  mutable std::condition_variable snapshot_cv_;
  mutable std::optional<std::chrono::steady_clock::time_point> read_at_;  // when cached_ was read
  mutable Snapshot cached_;
  mutable bool stopping_ = false;
  mutable std::thread reader_;
};

}  // namespace recur::app
