// Analytics' tables in SQL (migration 31): each subscription's MRR timeline, each customer's
// movements, daily aggregates per currency, invoice and refund facts, and subscribers'
// activity. Only analytics writes them; every row comes from an event (service.h).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "analytics/model.h"
#include "platform/db/database.h"

namespace recur::analytics {

// Acquisition sources: a subscription started by a signup, or by a gift's claim.
inline constexpr std::string_view kDirect = "direct";
inline constexpr std::string_view kGift = "gift";

// A subscription as analytics last saw it.
struct SubscriptionFacts {
  std::string id;
  std::string customer;
  std::string currency;
  std::string plan;
  std::optional<std::string> coupon;  // the coupon it was acquired with
  std::string status;
  std::int64_t mrr = 0;
  Timestamp last_at = 0;  // the time of its latest point (its timeline never goes back)
  std::int64_t points = 0;
  std::optional<Timestamp> started_at;  // first time it counted for MRR
  std::optional<Timestamp> ended_at;    // canceled (its end), none while it lives
  Timestamp created = 0;
  std::string source = std::string(kDirect);  // how it was acquired: kDirect or kGift
};
Result<std::optional<SubscriptionFacts>> find_subscription(db::Tx& tx, const std::string& id);
Status save_subscription(db::Tx& tx, const SubscriptionFacts& facts, bool is_new);

// A point of a subscription's timeline, as stored.
struct StoredPoint {
  std::string subscription;
  std::int64_t seq = 0;
  std::string customer;
  std::string currency;
  std::string plan;
  Timestamp at = 0;
  std::int64_t mrr_before = 0;
  std::int64_t mrr = 0;
  std::string cause;
};
Status add_point(db::Tx& tx, const StoredPoint& point);
// A customer's points in one currency, by (at, subscription, seq): customer_movements' input.
Result<std::vector<MrrPoint>> customer_points(db::Tx& tx, const std::string& customer, const std::string& currency);

// Holds the customer's analytics row for this transaction (creating it), so that two
// transactions never recompute one customer's movements at once.
Status lock_customer(db::Tx& tx, const std::string& customer, const std::string& currency);
// The earliest paid invoice of the customer in the currency: its cohort.
Status note_paid(db::Tx& tx, const std::string& customer, const std::string& currency, Timestamp paid_at);

// A customer's movements, as stored.
Result<std::vector<Movement>> stored_movements(db::Tx& tx, const std::string& customer, const std::string& currency);
Status delete_movement(db::Tx& tx, const std::string& customer, const std::string& currency, Timestamp at);
Status insert_movement(db::Tx& tx, const std::string& customer, const std::string& currency, const Movement& m);

// What one day adds (or, negated, takes away) in one shard of a currency.
struct DailyDelta {
  std::int64_t new_mrr = 0, expansion = 0, contraction = 0, churn = 0, reactivation = 0;
  std::int64_t count_new = 0, count_expansion = 0, count_contraction = 0, count_churn = 0, count_reactivation = 0;
  std::int64_t subscriptions_started = 0, subscriptions_stopped = 0;
  bool empty() const;
  void add(const Movement& m, int sign);
  // `count` movements of `kind` adding up to `amount`.
  void add(MovementKind kind, std::int64_t amount, std::int64_t count);
};
// The shard of a customer's rows in analytics_daily (0..15).
int shard_of(const std::string& customer);
Status add_daily(db::Tx& tx, const std::string& currency, Timestamp day, int shard, const DailyDelta& delta);

// Invoices and refunds, as their latest event shows them.
struct InvoiceFacts {
  std::string id;
  std::string customer;
  std::string subscription;
  std::string currency;
  std::string billing_reason;
  Timestamp due_at = 0;  // its period's start: when it came due
  std::string status;
  std::int64_t total = 0;
  std::int64_t amount_paid = 0;
  std::int64_t attempt_count = 0;
  std::optional<Timestamp> first_failed_at;
  std::optional<Timestamp> paid_at;
};
Status save_invoice(db::Tx& tx, const InvoiceFacts& invoice);
struct RefundFacts {
  std::string id;
  std::string invoice;
  std::string customer;
  std::string currency;
  std::int64_t amount = 0;
  Timestamp at = 0;
};
Status save_refund(db::Tx& tx, const RefundFacts& refund);  // once per refund

// Something a subscriber did (or suffered), for engagement, cancellations and risk.
struct Activity {
  std::string event_id;
  std::string subscription;
  std::string customer;
  Timestamp at = 0;
  std::string kind;  // see kActivityKinds in service.cc / docs/analytics.md
  std::optional<std::string> reason;
  std::optional<std::string> offer;
};
Status add_activity(db::Tx& tx, const Activity& a);

// Empties every analytics table (rebuild).
Status clear_all(db::Tx& tx);

// Where the ledger puts what it learns from an event: the tables, in the event's own
// transaction (service.cc's SqlSink), or memory (MemorySink: the rebuild's, written out once
// at the end in multi-row statements). The ledger's rules are the same code for both.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Result<std::optional<SubscriptionFacts>> subscription(const std::string& id) = 0;
  virtual Status save(const SubscriptionFacts& facts, bool is_new) = 0;
  // A new point of a subscription's timeline; its customer's movements follow from its points.
  virtual Status point(const StoredPoint& point) = 0;
  virtual Status daily(const std::string& currency, Timestamp day, int shard, const DailyDelta& delta) = 0;
  virtual Status paid(const std::string& customer, const std::string& currency, Timestamp paid_at) = 0;
  virtual Status invoice(const InvoiceFacts& invoice) = 0;
  virtual Status refund(const RefundFacts& refund) = 0;
  virtual Status activity(const Activity& activity) = 0;
};

// Everything in memory, as the tables would hold it after the same events (an invoice keeps
// its first customer, subscription, reason and due time; a refund and an activity their
// first row), then written to empty tables by flush(): movements from each customer's points
// by customer_movements, the daily sums from the movements and the points.
class MemorySink : public Sink {
 public:
  Result<std::optional<SubscriptionFacts>> subscription(const std::string& id) override;
  Status save(const SubscriptionFacts& facts, bool is_new) override;
  Status point(const StoredPoint& point) override;
  Status daily(const std::string& currency, Timestamp day, int shard, const DailyDelta& delta) override;
  Status paid(const std::string& customer, const std::string& currency, Timestamp paid_at) override;
  Status invoice(const InvoiceFacts& invoice) override;
  Status refund(const RefundFacts& refund) override;
  Status activity(const Activity& activity) override;
  // Requires: the analytics tables are empty.
  Status flush(db::Tx& tx);

 private:
  std::map<std::string, SubscriptionFacts> subscriptions_;
  std::map<std::pair<std::string, std::string>, std::vector<StoredPoint>> points_;  // (customer, currency)
  std::map<std::pair<std::string, std::string>, std::optional<Timestamp>> customers_;
  std::map<std::tuple<std::string, Timestamp, int>, DailyDelta> daily_;
  std::map<std::string, InvoiceFacts> invoices_;
  std::map<std::string, RefundFacts> refunds_;
  std::map<std::string, Activity> activity_;
};

// ---------------------------------------------------------------- reads

// The currencies analytics has seen (a subscription's).
Result<std::vector<std::string>> currencies(db::Tx& tx);

// Sums of analytics_daily over [from_day, to_day) (day starts), by day ascending.
struct DayRow {
  Timestamp day = 0;
  DailyDelta delta;
};
Result<std::vector<DayRow>> daily_rows(db::Tx& tx, const std::string& currency, Timestamp from_day, Timestamp to_day);
// The same sums over every day before `day` (one row).
Result<DailyDelta> daily_before(db::Tx& tx, const std::string& currency, Timestamp day);

// Reports read what grows with the data (every subscription, every movement in a year) a row
// at a time (db::Tx::each) and keep only their sums: a report's memory is its answer's, not the
// data's. Requires of every `fn` below: it does not use `tx`.
template <class T>
using Visit = std::function<Status(const T&)>;

// What the movements and subscription starts/stops with from <= at < to add up to (a partial
// day at a range's ends).
Result<DailyDelta> sums_between(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to);

// Movements with from <= at < to, by at, then customer.
struct CustomerMovement {
  std::string customer;
  Movement movement;
};
Status each_movement(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to, bool churn_only,
                     const Visit<CustomerMovement>& fn);

// Every point of the subscriptions matching the filter (a slice: plan ids, acquisition
// coupon), by customer, at, subscription, seq: the filtered figures are computed from it.
struct Slice {
  std::vector<std::string> plans;  // empty: any
  std::optional<std::string> coupon;
  std::optional<std::string> source;  // kDirect or kGift
  // Every subscription, but from the points (the from-scratch path the tests compare the
  // aggregates with).
  bool scan = false;
  bool any() const { return scan || !plans.empty() || coupon.has_value() || source.has_value(); }
};
Status each_slice_point(db::Tx& tx, const std::string& currency, const Slice& slice, const Visit<StoredPoint>& fn);

// Subscriptions analytics knows in the currency (the slice applied), by id.
Status each_subscription(db::Tx& tx, const std::string& currency, const Slice& slice,
                         const Visit<SubscriptionFacts>& fn);
// A customer's subscriptions in the currency, by id.
Result<std::vector<SubscriptionFacts>> customer_subscriptions(db::Tx& tx, const std::string& customer,
                                                              const std::string& currency);

// Invoices that came due in [from, to) on the subscriptions in the slice (with no slice, of
// any subscription or none), by due time, then id; with each, whether it is its subscription's
// first subscription_cycle invoice with a total above 0 (in due order, then id): a first
// renewal.
struct InvoiceDue {
  InvoiceFacts invoice;
  bool first_renewal = false;
};
Status each_invoice_due(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to, const Slice& slice,
                        const Visit<InvoiceDue>& fn);
// A customer's invoices and refunds (LTV).
Result<std::vector<InvoiceFacts>> customer_invoices(db::Tx& tx, const std::string& customer);
Result<std::vector<RefundFacts>> customer_refunds(db::Tx& tx, const std::string& customer);
// Paid and refunded totals per customer in a currency: {customer, paid, refunded, orders, first_paid_at}.
struct CustomerRevenue {
  std::string customer;
  std::int64_t paid = 0;
  std::int64_t refunded = 0;
  std::int64_t orders = 0;
  std::optional<Timestamp> first_paid_at;
};
// By customer id.
Status each_customer_revenue(db::Tx& tx, const std::string& currency, const Visit<CustomerRevenue>& fn);
// The same, for the customers whose first paid invoice is in [from, to) (a cohort table's).
Result<std::vector<CustomerRevenue>> revenue_of_cohort(db::Tx& tx, const std::string& currency, Timestamp from,
                                                       Timestamp to);

// Customers whose first paid invoice is in [from, to), with that time.
Result<std::vector<std::pair<std::string, Timestamp>>> cohort_members(db::Tx& tx, const std::string& currency,
                                                                      Timestamp from, Timestamp to);
// The movements of those customers, by customer, then at.
Status each_movement_of_cohort(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to,
                               const Visit<CustomerMovement>& fn);

// Activity with from <= at < to on the subscriptions in the currency and the slice, by at,
// then event id; only of `kinds` unless empty. With the activity, when its subscription ended.
struct SubscriptionActivity {
  Activity activity;
  std::optional<Timestamp> ended_at;
};
Status each_activity(db::Tx& tx, const std::string& currency, Timestamp from, Timestamp to, const Slice& slice,
                     const std::vector<std::string>& kinds, const Visit<SubscriptionActivity>& fn);

}  // namespace recur::analytics
