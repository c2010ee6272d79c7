// Billing runs and the operators' failure-rate alert.
#include "billing/runs.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "billing/store.h"
#include "platform/parallel.h"
#include "subscriptions/store.h"

namespace recur::billing {

int BillingRuns::workers() const {
  return db_.engine() == db::Engine::kPostgres ? std::max(options_.workers, 1) : 1;
}

Result<CollectReport> BillingRuns::collect_due() {
  CollectReport report;
  Timestamp now = clock_.now();
  Progress progress{"charges", 0, 0};
  if (progress_) {
    RECUR_ASSIGN(progress.total, db::transact(db_, [&](db::Tx& tx) { return count_due_invoices(tx, now); },
                                              db::TxMode::kReadOnly));
    progress_(progress);
  }
  std::mutex mu;  // guards report, progress, claim_error and claim_limit
  std::optional<Error> claim_error;
  // How many invoices a claim takes: the batch, or, once a batch was cut short by a slow
  // gateway (half its lease gone), what that batch asked, doubling back after each batch
  // asked in full. A slow gateway's claims stay small, so the other workers and nodes take
  // the rest instead of waiting behind one.
  int claim_limit = options_.batch;
  // Every worker claims its own batches (FOR UPDATE SKIP LOCKED, then a lease) until
  // nothing is left: what one claimed, no other attempts in this run.
  on_threads(workers(), [&](int) {
    for (;;) {
      int limit = 0;
      {
        std::lock_guard lock(mu);
        limit = claim_limit;
      }
      // The lease from the claim's own time: a run may last longer than one lease.
      const Timestamp held_until = clock_.now() + options_.attempt_lease_seconds;
      auto ids = db::transact(db_, [&](db::Tx& tx) { return claim_due_invoices(tx, now, limit, held_until); });
      if (!ids.ok()) {
        std::lock_guard lock(mu);
        if (!claim_error) claim_error = std::move(ids).error();
        return;
      }
      // The claimed batch is one unit of work (decision 0033).
      auto batch = collector_.attempt_batch(*ids, options_.attempt_lease_seconds, held_until);
      const auto done = static_cast<std::int64_t>(ids->size() - batch.released);
      const auto asked = static_cast<int>(ids->size() - batch.not_asked);
      std::lock_guard lock(mu);
      for (std::size_t i = 0; i < ids->size(); ++i) Collector::count(report, (*ids)[i], batch.results[i]);
      if (progress_) {
        progress.done = std::min<std::int64_t>(progress.total, progress.done + done);
        progress_(progress);
      }
      if (batch.not_asked > 0) {
        claim_limit = std::clamp(asked, 1, claim_limit);
        continue;  // what was given back is claimed again
      }
      if (static_cast<int>(ids->size()) < limit) return;
      if (limit == claim_limit) claim_limit = std::min(options_.batch, 2 * limit);
    }
  });
  if (claim_error) return *claim_error;
  if (progress_ && progress.done < progress.total) {
    progress.done = progress.total;  // another worker took the rest
    progress_(progress);
  }
  return report;
}

Result<BillingRun> BillingRuns::run(const std::string& trigger) {
  BillingRun r;
  r.id = ids_.next("brun");
  r.trigger = trigger;
  r.started = r.as_of = clock_.now();
  RECUR_ASSIGN(auto lifecycle, subscriptions_.run_due(workers(), options_.batch));
  if (progress_) progress_({"renewals", lifecycle.subscriptions, lifecycle.subscriptions});
  r.subscriptions_advanced = lifecycle.subscriptions;
  r.lifecycle_events = lifecycle.events;
  r.lifecycle_failures = lifecycle.failures;
  // Before the due charges: an expired challenge's failure schedules its retry (dunning).
  Collector::ExpiryReport expired = collector_.expire_waiting(r.started, options_.batch);
  RECUR_ASSIGN(r.payments, collect_due());
  r.payments.authentication_expired = expired.settled;
  r.payments.errors += expired.errors;
  if (r.payments.first_error.empty()) r.payments.first_error = expired.first_error;
  RECUR_ASSIGN(r.payments.refunds_resumed, refunds_.resume_pending_refunds());
  RECUR_ASSIGN(ReminderReport reminders, reminders_.send_reminders(r.id));
  r.payments.reminders_queued = reminders.queued;
  r.payments.reminders_failed = reminders.failed;
  r.finished = clock_.now();
  RECUR_ASSIGN(r.failure_rate_alert, failure_rate_jumped(r));
  // Quiet runs (nothing due) are not worth a row: the history lists runs that did work.
  if (r.subscriptions_advanced + r.payments.attempted + r.lifecycle_failures + r.payments.errors +
          r.payments.refunds_resumed + r.payments.reminders_queued + r.payments.reminders_failed +
          r.payments.authentication_expired ==
      0)
    return r;
  auto recorded = db::transact(db_, [&](db::Tx& tx) { return insert_run(tx, r); });
  if (!recorded.ok()) {
    // The run's work is done and committed; only its record is missing. Say which run.
    spdlog::error("billing run {}: could not record the run: {}", r.id, recorded.error().message);
    return std::move(recorded).error();
  }
  return r;
}

Result<bool> BillingRuns::failure_rate_jumped(const BillingRun& run) {
  const auto& p = run.payments;
  if (p.attempted < kAlertMinAttempts) return false;
  double rate = static_cast<double>(p.failed + p.unknown) / p.attempted;
  // The usual rate: the last recorded runs that charged enough to mean something.
  ListParams last;
  last.limit = 20;
  RECUR_ASSIGN(auto recent, db::transact(db_, [&](db::Tx& tx) { return list_runs(tx, last); }, db::TxMode::kReadOnly));
  std::int64_t attempted = 0, failed = 0;
  for (const auto& r : recent.items) {
    if (r.payments.attempted < kAlertMinAttempts) continue;
    attempted += r.payments.attempted;
    failed += r.payments.failed + r.payments.unknown;
  }
  double usual = attempted > 0 ? static_cast<double>(failed) / attempted : 0.0;
  if (!failure_rate_is_alarming(rate, usual)) return false;
  spdlog::error("billing: failure rate jumped to {:.0f}% of {} charges (usual {:.0f}%)", rate * 100, p.attempted,
                usual * 100);
  RECUR_TRY(db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    // The run as GET /v1/billing/runs will list it, alert raised (it is stored after this).
    BillingRun shown = run;
    shown.failure_rate_alert = true;
    RECUR_TRY(events_.record(tx, "billing.failure_rate_high", run.id, events::Actor::system(), nullptr,
                             to_json(shown), {{"rate", rate}, {"usual_rate", usual}, {"attempted", p.attempted}}));
    if (options_.ops_email.empty()) return Ok{};
    notify::Message m;
    m.template_name = "billing_failure_rate";
    m.to = options_.ops_email;
    m.resource = run.id;
    m.data = {{"run_id", run.id},
              {"trigger", run.trigger},
              {"rate", fmt::format("{:.0f} %", rate * 100)},
              {"usual_rate", fmt::format("{:.0f} %", usual * 100)},
              {"attempted", p.attempted},
              {"failed", p.failed},
              {"unknown", p.unknown},
              {"as_of", format_rfc3339(run.as_of)}};
    // An alert that cannot be queued must not fail the run: the event and the log remain.
    auto queued = outbox_.enqueue(tx, m);
    if (!queued.ok()) spdlog::warn("billing: failure-rate alert for {} not queued: {}", run.id, queued.error().message);
    return Ok{};
  }));
  return true;
}

Result<std::optional<Timestamp>> BillingRuns::next_due_at() {
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<Timestamp>> {
    std::optional<Timestamp> next;
    auto consider = [&next](std::optional<Timestamp> t) {
      if (t && (!next || *t < *next)) next = t;
    };
    RECUR_ASSIGN(auto invoices, next_attempt_due(tx));
    RECUR_ASSIGN(auto lifecycle, subscriptions::next_action_due(tx));
    RECUR_ASSIGN(auto reminder, reminders_.next_reminder_at(tx, clock_.now()));
    RECUR_ASSIGN(auto waiting, next_waiting_expiry(tx));
    consider(waiting);
    consider(invoices);
    consider(lifecycle);
    consider(reminder);
    return next;
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::billing
