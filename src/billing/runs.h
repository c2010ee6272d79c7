// Billing runs: the lifecycle's due steps (renewals invoice), then the due charges on one
// or more workers, pending refunds and reminders, recorded in the run history with an
// operators' alert when charge failures jump; and when the next thing is due.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "billing/collector.h"
#include "billing/model.h"
#include "billing/refunds.h"
#include "billing/reminders.h"
#include "events/store.h"
#include "notify/outbox.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"
#include "subscriptions/service.h"

namespace recur::billing {

// How far a run has got, for `recur bill`'s progress bar.
struct Progress {
  std::string phase;  // "renewals", "charges"
  std::int64_t done = 0;
  std::int64_t total = 0;
};

struct RunOptions {
  // Renewals, and charges, a transaction (decision 0033): a worker claims this many due
  // subscriptions (then invoices) and writes them in one transaction, one by one if it fails.
  static constexpr int kDefaultBatch = 50;
  int batch = kDefaultBatch;
  std::int64_t attempt_lease_seconds = 300;  // a claimed attempt not recorded by then is asked again
  // Threads on PostgreSQL (SQLite runs one); claims skip rows another worker holds.
  int workers = 1;
  std::string ops_email;  // where a failure-rate alert goes ("": event and log only)
};

class BillingRuns {
 public:
  BillingRuns(db::Database& db, const Clock& clock, IdGenerator& ids, subscriptions::SubscriptionService& subscriptions,
              Collector& collector, Refunds& refunds, Reminders& reminders, notify::Outbox& outbox,
              RunOptions options)
      : db_(db), clock_(clock), ids_(ids), subscriptions_(subscriptions), collector_(collector), refunds_(refunds),
        reminders_(reminders), outbox_(outbox), options_(std::move(options)), events_(ids, clock) {}

  void on_progress(std::function<void(const Progress&)> listener) { progress_ = std::move(listener); }

  // Charges every open invoice whose attempt is due, in batches.
  Result<CollectReport> collect_due();
  // Lifecycle then collection, recorded in the run history.
  Result<BillingRun> run(const std::string& trigger);
  // The earliest time something billing-related is scheduled (the test clock's next stop).
  Result<std::optional<Timestamp>> next_due_at();

 private:
  // Alerts operators (an error log line and a `billing.failure_rate_high` event, which
  // webhooks and monitoring read) when this run's failure rate jumped.
  Result<bool> failure_rate_jumped(const BillingRun& run);
  int workers() const;  // options_.workers on PostgreSQL, 1 on SQLite

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  subscriptions::SubscriptionService& subscriptions_;
  Collector& collector_;
  Refunds& refunds_;
  Reminders& reminders_;
  notify::Outbox& outbox_;
  RunOptions options_;
  events::Recorder events_;
  std::function<void(const Progress&)> progress_;
};

}  // namespace recur::billing
