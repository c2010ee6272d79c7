// /metrics beyond the HTTP server (see metrics.h).
#include "app/metrics.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <filesystem>

#include "billing/store.h"
#include "events/store.h"
#include "inventory/store.h"
#include "notify/store.h"
#include "platform/metrics/process.h"
#include "webhooks/store.h"

namespace recur::app {
namespace {

using metrics::Sample;
using metrics::Type;

// The database is read this often, however often it is scraped (/metrics is public unless
// --metrics-listen moves it: a scrape storm must not become a query storm). A snapshot older
// than kStaleAfter (its read hangs) reports the database down.
constexpr std::chrono::seconds kDatabaseReadEvery{5};
constexpr std::chrono::seconds kStaleAfter{15};
constexpr std::chrono::seconds kFirstReadWait{3};

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* outcome_name(gateways::Outcome outcome) {
  switch (outcome) {
    case gateways::Outcome::kSucceeded:
      return "succeeded";
    case gateways::Outcome::kFailed:
      return "failed";
    case gateways::Outcome::kUnknown:
      return "unknown";
    case gateways::Outcome::kRequiresAction:
      return "requires_action";
  }
  return "unknown";
}

double age(const metrics::Backlog& backlog, Timestamp now) {
  return backlog.oldest && *backlog.oldest < now ? static_cast<double>(now - *backlog.oldest) : 0;
}

std::vector<Sample> one(double value) { return {Sample{{}, value}}; }

}  // namespace

double stall_threshold_seconds(int tick_seconds) { return std::max(300.0, 10.0 * tick_seconds); }

Metrics::Metrics(db::Database& db, const Clock& clock, std::string sqlite_path)
    : db_(db),
      clock_(clock),
      sqlite_path_(std::move(sqlite_path)),
      renewals_(registry_.counter("recur_renewals_total",
                                  "Subscriptions the billing runs advanced (renewed, trial ended, canceled at period "
                                  "end), and those whose step failed and is retried by the next run.",
                                  {"outcome"})),
      runs_(registry_.counter("recur_billing_runs_total", "Billing runs of this node, by whether they completed.",
                              {"outcome"})),
      last_run_success_(registry_
                            .gauge("recur_billing_run_last_success_timestamp_seconds",
                                   "Wall-clock time the last billing run of this node completed.")
                            .only()),
      failure_rate_jumps_(registry_
                              .counter("recur_billing_failure_rate_jumps_total",
                                       "Billing runs whose charge failures jumped well above the recent runs' rate.")
                              .only()),
      charges_(registry_.counter("recur_charges_total", "Charges asked of a gateway, by gateway and outcome.",
                                 {"gateway", "outcome"})),
      charge_seconds_(registry_.histogram("recur_charge_duration_seconds", "Seconds a gateway took to answer a charge.",
                                          {"gateway"}, {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
      last_tick_(registry_
                     .gauge("recur_scheduler_last_tick_timestamp_seconds",
                            "Wall-clock time the lifecycle scheduler's last tick ended on this node.")
                     .only()),
      ticks_(registry_.counter("recur_scheduler_ticks_total", "Lifecycle scheduler ticks on this node.").only()),
      tick_period_(
          registry_.gauge("recur_scheduler_tick_seconds", "The scheduler's configured period (--tick).").only()) {
  for (const char* outcome : {"advanced", "failed"}) renewals_.with({outcome});  // every series from the start
  for (const char* outcome : {"ok", "error"}) runs_.with({outcome});
  registry_.gauge("recur_build_info", "The version and commit recur was built from.", {"version", "commit"})
      .with({build_version(), build_commit()})
      .set(1);
  registry_.read_at_scrape("recur_scheduler_last_tick_age_seconds",
                           "Seconds since the scheduler's last tick ended on this node (absent before the first).",
                           Type::kGauge, {}, [this] {
                             auto tick_age = scheduler_tick_age();
                             return tick_age ? one(*tick_age) : std::vector<Sample>{};
                           });
  metrics::add_process_metrics(registry_);
  registry_.read_at_scrape("recur_db_pool_connections", "Database connections of this node's pool, by state.",
                           Type::kGauge, {"state"}, [this] {
                             auto s = db_.pool_stats();
                             return std::vector<Sample>{{{"idle"}, double(s.idle)}, {{"in_use"}, double(s.in_use)}};
                           });
  registry_.read_at_scrape("recur_db_pool_max_connections", "The size of this node's database pool.", Type::kGauge, {},
                           [this] { return one(db_.pool_stats().capacity); });
  registry_.read_at_scrape("recur_db_pool_waiters", "Threads waiting for a database connection now.", Type::kGauge, {},
                           [this] { return one(db_.pool_stats().waiters); });
  registry_.read_at_scrape("recur_db_pool_acquires_total", "Database connections borrowed from the pool.",
                           Type::kCounter, {}, [this] { return one(double(db_.pool_stats().acquires)); });
  registry_.read_at_scrape("recur_db_pool_wait_seconds_total",
                           "Seconds threads spent waiting for a database connection, summed.", Type::kCounter, {},
                           [this] { return one(db_.pool_stats().wait_seconds_total); });
  add_database_families();
  if (!sqlite_path_.empty()) add_sqlite_families();
}

void Metrics::watch_replica(db::ReplicaRouter& router) {
  registry_.read_at_scrape(
      "recur_db_stale_reads_total",
      "Read-only transactions of routes whose reads may lag (lists, analytics, forecasts), by "
      "the database that served them: the replica, or the primary while the replica was "
      "unusable (down, or behind the staleness bound).",
      Type::kCounter, {"served_by"}, [&router] {
        auto s = router.stats();
        return std::vector<Sample>{{{"replica"}, double(s.replica_reads)}, {{"primary"}, double(s.primary_reads)}};
      });
  registry_.read_at_scrape("recur_db_replica_usable",
                           "1 while this node serves reads that may lag from the replica (its last probe is recent and "
                           "within the staleness bound), else 0.",
                           Type::kGauge, {}, [&router] { return one(router.stats().usable ? 1 : 0); });
  registry_.read_at_scrape("recur_db_replica_pool_connections",
                           "Connections of this node's pool to the replica, by state.", Type::kGauge, {"state"},
                           [&router] {
                             auto s = router.replica_pool_stats();
                             return std::vector<Sample>{{{"in_use"}, double(s.in_use)}, {{"idle"}, double(s.idle)}};
                           });
  registry_.read_at_scrape("recur_db_replica_pool_waiters", "Threads waiting for a connection to the replica now.",
                           Type::kGauge, {}, [&router] { return one(router.replica_pool_stats().waiters); });
  registry_.read_at_scrape("recur_db_replica_probe_lag_seconds",
                           "The replica's replication lag as this node last measured it: the age of the newest "
                           "primary WAL position the replica has replayed (absent when the probe failed).",
                           Type::kGauge, {}, [&router] {
                             auto s = router.stats();
                             return s.lag_ms < 0 ? std::vector<Sample>{} : one(double(s.lag_ms) / 1000.0);
                           });
}

void Metrics::add_database_families() {
  registry_.read_at_scrape("recur_db_up", "1 when the database answered this node's last probe, else 0.", Type::kGauge,
                           {}, [this] { return one(snapshot().up ? 1 : 0); });
  registry_.read_at_scrape("recur_outbox_depth",
                           "Rows waiting in each outbox: events to fan out, webhook deliveries pending, notifications "
                           "to send or retry, events to publish to the stream. Database-wide.",
                           Type::kGauge, {"outbox"}, [this] { return snapshot().outbox_depth; });
  registry_.read_at_scrape("recur_outbox_oldest_age_seconds",
                           "How late each outbox's oldest due row is (0 when none is due). Database-wide.",
                           Type::kGauge, {"outbox"}, [this] { return snapshot().outbox_age; });
  registry_.read_at_scrape("recur_dunning_subscriptions", "Subscriptions whose invoice is unpaid, by status.",
                           Type::kGauge, {"status"}, [this] { return snapshot().dunning; });
  registry_.read_at_scrape("recur_dunning_invoices_retrying", "Open invoices with a payment retry scheduled.",
                           Type::kGauge, {}, [this] {
                             auto s = snapshot();
                             return s.up ? one(s.invoices_retrying) : std::vector<Sample>{};
                           });
  registry_.read_at_scrape("recur_stock_outs", "Stock rows (product and warehouse) with nothing left to reserve.",
                           Type::kGauge, {}, [this] {
                             auto s = snapshot();
                             return s.up ? one(s.stock_outs) : std::vector<Sample>{};
                           });
  registry_.read_at_scrape("recur_backorders", "Boxes waiting for stock.", Type::kGauge, {}, [this] {
    auto s = snapshot();
    return s.up ? one(s.backorders) : std::vector<Sample>{};
  });
  registry_.read_at_scrape("recur_backorder_oldest_age_seconds", "How long the oldest backordered box has waited.",
                           Type::kGauge, {}, [this] {
                             auto s = snapshot();
                             return s.up ? one(s.backorder_age) : std::vector<Sample>{};
                           });
  registry_.read_at_scrape("recur_db_replica_lag_seconds",
                           "Replay lag of each streaming replica, as the PostgreSQL primary sees it.", Type::kGauge,
                           {"replica"}, [this] { return snapshot().replica_lag; });
}

void Metrics::add_sqlite_families() {
  registry_.read_at_scrape("recur_sqlite_file_bytes", "Size of the SQLite database file and its write-ahead log.",
                           Type::kGauge, {}, [this] {
                             double bytes = 0;
                             for (const char* suffix : {"", "-wal"}) {
                               struct stat st {};
                               if (::stat((sqlite_path_ + suffix).c_str(), &st) == 0) bytes += double(st.st_size);
                             }
                             return one(bytes);
                           });
  auto filesystem = [this](bool free) {
    auto dir = std::filesystem::path(sqlite_path_).parent_path();
    struct statvfs fs {};
    if (::statvfs(dir.empty() ? "." : dir.c_str(), &fs) != 0) return std::vector<Sample>{};
    double block = double(fs.f_frsize);
    return one(free ? double(fs.f_bavail) * block : double(fs.f_blocks) * block);
  };
  registry_.read_at_scrape("recur_sqlite_filesystem_free_bytes",
                           "Bytes free to recur on the filesystem of the SQLite database.", Type::kGauge, {},
                           [filesystem] { return filesystem(true); });
  registry_.read_at_scrape("recur_sqlite_filesystem_size_bytes", "Size of the filesystem of the SQLite database.",
                           Type::kGauge, {}, [filesystem] { return filesystem(false); });
}

Metrics::~Metrics() {
  {
    std::lock_guard lock(snapshot_mu_);
    stopping_ = true;
  }
  snapshot_cv_.notify_all();
  if (reader_.joinable()) reader_.join();
}

Metrics::Snapshot Metrics::snapshot() const {
  std::unique_lock lock(snapshot_mu_);
  if (!reader_.joinable() && !stopping_) reader_ = std::thread([this] { read_database_until_stopped(); });
  // The first scrape waits a little for the first read; later ones never wait.
  snapshot_cv_.wait_for(lock, kFirstReadWait, [this] { return read_at_.has_value() || stopping_; });
  if (!read_at_ || std::chrono::steady_clock::now() - *read_at_ > kStaleAfter) return Snapshot{};  // down
  return cached_;
}

void Metrics::read_database_until_stopped() const {
  std::unique_lock lock(snapshot_mu_);
  while (!stopping_) {
    lock.unlock();
    auto read = read_database();
    lock.lock();
    cached_ = read.ok() ? std::move(*read) : Snapshot{};  // failed: only recur_db_up 0 is reported
    read_at_ = std::chrono::steady_clock::now();
    snapshot_cv_.notify_all();
    snapshot_cv_.wait_for(lock, kDatabaseReadEvery, [this] { return stopping_; });
  }
}

Result<Metrics::Snapshot> Metrics::read_database() const {
  return db::transact(
      db_,
      [this](db::Tx& tx) -> Result<Snapshot> {
        Timestamp now = clock_.now();
        Snapshot s;
        s.up = true;
        RECUR_ASSIGN(auto events, events::outbox_backlog(tx));
        RECUR_ASSIGN(auto deliveries, webhooks::delivery_backlog(tx, now));
        RECUR_ASSIGN(auto notifications, notify::notification_backlog(tx, now));
        RECUR_ASSIGN(auto stream, webhooks::stream_backlog(tx));
        for (const auto& [name, backlog] : {std::pair{"events", events}, std::pair{"webhooks", deliveries},
                                            std::pair{"notifications", notifications}, std::pair{"stream", stream}}) {
          s.outbox_depth.push_back({{name}, double(backlog.depth)});
          s.outbox_age.push_back({{name}, age(backlog, now)});
        }
        RECUR_ASSIGN(auto dunning, billing::dunning_counts(tx));
        for (const auto& [status, count] : dunning.subscriptions) s.dunning.push_back({{status}, double(count)});
        s.invoices_retrying = double(dunning.invoices_retrying);
        RECUR_ASSIGN(auto stock, inventory::stock_health(tx));
        s.stock_outs = double(stock.stock_outs);
        s.backorders = double(stock.backorders.depth);
        s.backorder_age = age(stock.backorders, now);
        if (db_.engine() == db::Engine::kPostgres) {
          // Named by application_name and address (replicas may share the name walreceiver); a
          // lag PostgreSQL does not show (no pg_monitor role, none measured yet) is left out.
          RECUR_ASSIGN(auto replicas, tx.query("SELECT application_name || '@' || COALESCE(host(client_addr), 'local'),"
                                               " EXTRACT(EPOCH FROM replay_lag)::TEXT FROM pg_stat_replication"));
          for (const auto& row : replicas)
            if (!row.is_null(1)) s.replica_lag.push_back({{row.text(0)}, std::stod(row.text(1))});
        }
        return s;
      },
      db::TxMode::kReadOnly);
}

void Metrics::billing_run(const Result<billing::BillingRun>& run) {
  if (!run.ok()) {
    runs_.with({"error"}).inc();
    return;
  }
  runs_.with({"ok"}).inc();
  renewals_.with({"advanced"}).inc(run->subscriptions_advanced);
  renewals_.with({"failed"}).inc(run->lifecycle_failures);
  if (run->failure_rate_alert) failure_rate_jumps_.inc();
  last_run_success_.set(wall_seconds());
}

void Metrics::charge(const std::string& gateway, gateways::Outcome outcome, double seconds) {
  charges_.with({gateway, outcome_name(outcome)}).inc();
  charge_seconds_.with({gateway}).observe(seconds);
}

void Metrics::scheduler_ticked() {
  last_tick_.set(wall_seconds());  // before the count: a reader seeing a tick sees its time
  ticks_.inc();
}

void Metrics::set_scheduler_period(int seconds) { tick_period_.set(seconds); }

void Metrics::watch_alerts(const alerts::Alerter& alerter) {
  auto family = [&](const char* name, const char* help, std::uint64_t alerts::AlertStats::*field) {
    registry_.read_at_scrape(name, help, Type::kCounter, {"sink"}, [&alerter, field] {
      auto stats = alerter.stats();
      return std::vector<Sample>{{{"sentry"}, double(stats.sentry.*field)},
                                 {{"webhook"}, double(stats.webhook.*field)}};
    });
  };
  family("recur_alerts_sent_total", "Alerts a sink accepted.", &alerts::AlertStats::sent);
  family("recur_alerts_failed_total", "Alerts a sink refused or did not answer.", &alerts::AlertStats::failed);
  family("recur_alerts_dropped_total", "Alerts dropped: the queue was full, or recur was stopping.",
         &alerts::AlertStats::dropped);
  family("recur_alerts_suppressed_total", "Alerts held back by the per-kind rate limit.",
         &alerts::AlertStats::suppressed);
}

std::optional<double> Metrics::scheduler_tick_age() const {
  double last = last_tick_.value();
  if (last <= 0) return std::nullopt;
  return std::max(0.0, wall_seconds() - last);
}

}  // namespace recur::app
