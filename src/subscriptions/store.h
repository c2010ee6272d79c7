// Subscription persistence: the columns the lifecycle and lists query, plus the document.
#pragma once

#include <optional>
#include <vector>

#include "platform/cache/tx_cache.h"
#include "platform/db/database.h"
#include "platform/page.h"
#include "subscriptions/subscription.h"

namespace recur::subscriptions {

struct ListFilter {
  std::optional<std::string> customer;
  std::optional<std::string> plan;
  std::vector<std::string> statuses;  // any of them; all when empty
  ListParams page;
};

// request_key: the scoped Idempotency-Key of the POST that creates it ("" for none); a retry
// of that request finds it with find_by_request for kRequestKeyLifetime (decision 0009).
recur::Status insert(db::Tx& tx, const Subscription& sub, const std::string& request_key = "");
Result<std::optional<std::string>> find_by_request(db::Tx& tx, const std::string& request_key, Timestamp now);
// The recovery point of a plan change that charges in steps (billing's checkout): the change's
// request key, its subscription and the invoice it issued at once ("" none). Written in the
// change's transaction, which deletes the rows older than kRequestKeyLifetime; found for
// kRequestKeyLifetime.
struct ChangeRequest {
  std::string subscription;
  std::string invoice;
};
recur::Status insert_change_request(db::Tx& tx, const std::string& request_key, const ChangeRequest& change,
                                    Timestamp now);
Result<std::optional<ChangeRequest>> find_change_request(db::Tx& tx, const std::string& request_key, Timestamp now);
// Writes `sub` if the stored version is still `expected_version`; false if it moved on.
Result<bool> update(db::Tx& tx, const Subscription& sub, std::int64_t expected_version);
recur::Status remove(db::Tx& tx, const std::string& id);
Result<std::optional<Subscription>> find(db::Tx& tx, const std::string& id, bool for_update);
Result<Page<Subscription>> list(db::Tx& tx, const ListFilter& filter);
// How many other subscriptions `customer` has that were created at or before `created`.
Result<std::int64_t> count_earlier_subscriptions(db::Tx& tx, const std::string& customer, const std::string& id,
                                                 Timestamp created);
// Customers every one of whose subscriptions is canceled (and who had one), by id: the
// candidates of the retention setting's erasure (docs/PRIVACY.md).
Result<std::vector<std::string>> lapsed_customers(db::Tx& tx);
// Up to `limit` subscriptions due at `now`, oldest due first, locked for this transaction
// (PostgreSQL: FOR UPDATE SKIP LOCKED, so that concurrent claimers take different ones;
// SQLite's write transaction holds the whole database), leaving out those in `skip`.
Result<std::vector<std::string>> claim_due(db::Tx& tx, Timestamp now, int limit, const std::vector<std::string>& skip);
// Ids after `after` whose next step falls in [from, until) (a blackout date's day), by id.
Result<std::vector<std::string>> due_between(db::Tx& tx, Timestamp from, Timestamp until, const std::string& after,
                                             int limit);

// The shop's blackout dates (table blackout_dates): days nothing ships.
struct BlackoutDate {
  std::int64_t day = 0;  // days since 1970-01-01 (UTC)
  std::string reason;    // "" for none
  Timestamp created = 0;
};
Result<std::vector<BlackoutDate>> list_blackout_dates(db::Tx& tx);
// Every load of a subscription reads these (a GET shows its next delivery): cached by the
// rules of cache::TxCache when the app attaches a ClosedDaysCache; put and delete drop it.
Result<ClosedDays> closed_days(db::Tx& tx);
// A subscription as GET /v1/subscriptions/{id} answers it (SubscriptionService::get_rendered).
struct RenderedSubscription {
  std::string body;  // the JSON text
  std::int64_t version = 0;
};
// GET's answers, kept by the rules of cache::TxCache until the subscription's next step is
// due at the latest (a GET shows it as of now). update and remove drop theirs; the app drops
// them all when what they were computed from changes: a plan or tier, the blackout dates, a
// data key (an erasure).
class SubscriptionViewCache final : public cache::AttachedCache<RenderedSubscription> {
 public:
  explicit SubscriptionViewCache(const Clock& clock) : AttachedCache("subscription:", clock) {}
};

class ClosedDaysCache final : public cache::AttachedCache<ClosedDays> {  // one key, ""
 public:
  explicit ClosedDaysCache(const Clock& clock) : AttachedCache("blackout_dates:", clock) {}
};
// Inserts or updates the day's reason; false when it was there already.
Result<bool> put_blackout_date(db::Tx& tx, const BlackoutDate& date);
// False when the day was not a blackout date.
Result<bool> delete_blackout_date(db::Tx& tx, std::int64_t day);

// The earliest next_action_at of any subscription (none when nothing is scheduled).
Result<std::optional<Timestamp>> next_action_due(db::Tx& tx);

// A subscription that renews (kRenewingStatuses) and when its next step is due.
struct DueRenewal {
  std::string id;
  Timestamp at = 0;
};
// Renewing subscriptions whose next step falls in (after, until], soonest first (then by id),
// from just past `cursor` on: billing's reminders page through them.
Result<std::vector<DueRenewal>> renewals_between(db::Tx& tx, Timestamp after, Timestamp until,
                                                 const std::optional<DueRenewal>& cursor, int limit);
// The earliest next step after `after` of a renewing subscription on one of `plans`.
Result<std::optional<Timestamp>> earliest_renewal(db::Tx& tx, Timestamp after, const std::vector<std::string>& plans);

// A line waiting for the next invoice (a proration charge or credit); billing owns the
// table and takes the line through PeriodBilling::add_pending_item.
struct PendingItem {
  std::string id;  // "ii_..."
  std::string subscription;
  std::string description;
  std::int64_t amount = 0;
  std::string currency;
  std::int64_t quantity = 1;
  Period period;
  bool proration = true;
};

// Inventory's demand forecast reads every subscription in one pass, inside the caller's
// transaction: each row's id and version, plan, billed periods, whether it ended and when it
// was created (for the retention curves), and, with `documents`, its stored document only where
// the forecast reads it: a live one on `plans` (empty: on any plan), or one created in
// [signups_from, signups_to) (the signup trend). Without `documents` none is read (a reader
// that kept the parsed documents by id and version asks documents_of for the changed ones).
// Rows are handed to `fn` as they are read and none is kept, so a million subscriptions hold
// only what `fn` keeps; `fn` may not use `tx` (see db::Tx::each).
struct ForecastRow {
  const std::string& id;
  std::int64_t version = 0;
  const std::string& plan;
  std::int64_t billed_periods = 0;
  bool canceled = false;
  Timestamp created = 0;
  const std::string* doc = nullptr;  // null: not asked for
};
recur::Status scan_for_forecast(db::Tx& tx, const std::vector<std::string>& plans, Timestamp signups_from,
                                Timestamp signups_to, bool documents,
                                const std::function<recur::Status(const ForecastRow&)>& fn);
// The stored documents of `ids` with their versions, a few hundred ids per statement; ids with
// no row are left out. `fn` as for scan_for_forecast.
recur::Status documents_of(
    db::Tx& tx, const std::vector<std::string>& ids,
    const std::function<recur::Status(const std::string& id, std::int64_t version, const std::string& doc)>& fn);
// A stored document's top-level quantity, read without building the document.
std::int64_t stored_quantity(std::string_view doc);
// A stored document as a subscription without its personal data (sealed fields come back
// null, unopened): for readers that need none. Pure: safe on any thread.
Subscription without_personal_data(std::string_view doc);

}  // namespace recur::subscriptions
