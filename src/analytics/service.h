// Analytics' use cases (issue 16, docs/analytics.md).
//
// Kept: the Ledger hears every appended event inside its transaction (an
// events::AppendObserver attached to the database) and keeps analytics' tables from it: a
// subscription's MRR timeline (a point whenever its MRR changes, at the step's effective
// time), its customer's movements (recomputed from the customer's points by the pure
// customer_movements, the difference written back), daily per-currency aggregates, invoice
// and refund facts (a lost dispute counts as a refund of its amount), and subscribers'
// activity. rebuild() replays the event log through the
// same code from empty tables: its result equals what the events kept, row for row.
//
// Answered: Reports reads the aggregates (and, for a slice by plan, tier or coupon, the
// points of the matching subscriptions) and answers each report as the API's JSON.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analytics/model.h"
#include "analytics/store.h"
#include "events/store.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/json.h"

namespace recur::analytics {

// What analytics needs of a plan (its price and cadence never change once created).
struct PlanFacts {
  std::string id;
  std::int64_t amount = 0;
  std::string currency;
  Cadence cadence;
  std::optional<std::string> tier;
};

class Ledger : public events::AppendObserver {
 public:
  Status appended(db::Tx& tx, const events::Event& event) override;

 private:
  Result<PlanFacts> plan(db::Tx& tx, const std::string& id);
  std::mutex mu_;
  std::map<std::string, PlanFacts> plans_;
  friend Result<std::int64_t> rebuild(db::Tx& tx);
};

// Empties analytics' tables and replays every event (subscriptions, invoices, refunds,
// shipments, disputes) in the log's order per resource; returns how many events it read.
// Requires: a write transaction (the migration's, or `recur analytics rebuild`'s).
Result<std::int64_t> rebuild(db::Tx& tx);

// A report's request: its currency, range, bucket interval and slice.
struct ReportQuery {
  std::optional<std::string> currency;  // required when more than one is billed
  Timestamp at = 0;
  Timestamp from = 0;
  Timestamp to = 0;
  BucketInterval interval = BucketInterval::kMonth;
  std::optional<std::string> plan;
  std::optional<std::string> tier;
  std::optional<std::string> coupon;
  std::optional<std::string> source;  // direct | gift: how the subscriptions were acquired
  std::string group_by = "plan";      // survival: plan | tier | coupon | source
  int limit = 50;
  std::string sort = "ltv";
};

class Reports {
 public:
  Reports(db::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  Result<Json> mrr(const ReportQuery& q);
  Result<Json> movements(const ReportQuery& q);
  Result<Json> churn(const ReportQuery& q);
  Result<Json> ltv(const ReportQuery& q);
  Result<Json> renewals(const ReportQuery& q);
  Result<Json> cohorts(const ReportQuery& q);
  Result<Json> survival(const ReportQuery& q);
  Result<Json> engagement(const ReportQuery& q);
  Result<Json> cancellations(const ReportQuery& q);
  Result<Json> at_risk(const ReportQuery& q);
  Result<Json> customers(const ReportQuery& q);
  // GET /v1/customers/{id}/ltv (404 when analytics has never seen the customer).
  Result<Json> customer_ltv(const std::string& customer, const ReportQuery& q);

  // The figures of every bucket of [from, to), from the aggregates (or the slice's points).
  // Requires: `buckets` contiguous, by time (each starts where the last ended).
  struct BucketFigures {
    Bucket bucket;
    MovementTotals totals;
    std::int64_t customers_start = 0;
    std::int64_t customers_end = 0;
    std::int64_t subscriptions_start = 0;
    std::int64_t subscriptions_started = 0;
    std::int64_t subscriptions_end = 0;
    std::int64_t churned_customers = 0;
    std::int64_t voluntary = 0;
    std::int64_t involuntary = 0;
  };
  // `churned`: also count the distinct customers who churned in each bucket (a read of the
  // churn movements in the range; the movements report needs none).
  Result<std::vector<BucketFigures>> figures(db::Tx& tx, const std::string& currency, const std::vector<Bucket>& buckets,
                                             const Slice& slice, bool churned = true);

 private:
  Result<std::string> currency_of(db::Tx& tx, const ReportQuery& q);
  Result<Slice> slice_of(db::Tx& tx, const ReportQuery& q);
  Result<std::vector<Bucket>> buckets_of(const ReportQuery& q);
  Result<std::vector<SurvivalStep>> survival_curve(db::Tx& tx, const std::string& currency, const Slice& slice,
                                                   Timestamp now);

  db::Database& db_;
  const Clock& clock_;
};

}  // namespace recur::analytics
