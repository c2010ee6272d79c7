// Renewal reminders and card-expiring notices.
#include "billing/reminders.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "billing/store.h"
#include "catalog/store.h"
#include "customers/service.h"
#include "customers/store.h"
#include "platform/money.h"
#include "subscriptions/store.h"

namespace recur::billing {

namespace {

constexpr std::int64_t kMaxReminderDays = 60;
constexpr int kRemindersPerRun = 1000;

// Renewals in (now, now + kMaxReminderDays] with no reminder claimed for that renewal yet,
// soonest first, at most kRemindersPerRun: subscriptions pages through its renewals, billing
// drops the ones its reminders table already has, a page at a time.
Result<std::vector<std::string>> unreminded_renewals(db::Tx& tx, Timestamp now) {
  std::vector<std::string> out;
  std::optional<subscriptions::DueRenewal> cursor;
  for (;;) {
    RECUR_ASSIGN(auto page, subscriptions::renewals_between(tx, now, now + kMaxReminderDays * kSecondsPerDay, cursor,
                                                            kRemindersPerRun));
    if (page.empty()) return out;
    std::vector<std::string> ids;
    for (const auto& due : page) ids.push_back(due.id);
    RECUR_ASSIGN(auto claimed, claimed_renewal_reminders(tx, ids));
    for (const auto& due : page) {
      if (claimed.count({due.id, due.at})) continue;
      out.push_back(due.id);
      if (static_cast<int>(out.size()) == kRemindersPerRun) return out;
    }
    if (static_cast<int>(page.size()) < kRemindersPerRun) return out;
    cursor = page.back();
  }
}

}  // namespace

Result<bool> Reminders::claim_reminder(db::Tx& tx, const std::string& key, const std::string& subscription,
                                            std::string_view kind, Timestamp due_at, Timestamp now) {
  return insert_reminder(tx, key, subscription, kind, due_at, now);
}

Result<bool> Reminders::remind_renewal(const std::string& id, Timestamp now) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<bool> {
    RECUR_ASSIGN(auto found, subscriptions::find(tx, id, false));
    if (!found) return false;
    const auto& sub = *found;
    auto renews = subscriptions::next_action_at(sub);
    // Only a renewal that will happen: not a period-end cancellation.
    bool renewing = subscriptions::renews_at_period_end(sub.status) && !sub.cancel_at_period_end && renews &&
                    *renews == sub.current.end;
    if (!renewing) return false;
    std::string plan_id = sub.pending_change ? sub.pending_change->plan : sub.plan;
    std::int64_t quantity = sub.pending_change ? sub.pending_change->quantity : sub.quantity;
    RECUR_ASSIGN(auto plan, catalog::find_plan(tx, plan_id));
    if (!plan || plan->renewal_reminder_days <= 0) return false;
    if (now < sub.current.end - plan->renewal_reminder_days * kSecondsPerDay) return false;
    // Not a skipped period (named by either of its starts: subscriptions::skip_applies), and
    // not a box an earlier prepaid charge paid for: nothing is charged then.
    const Period next = period_from(sub.billing_cycle_anchor, subscriptions::cadence_of(sub, *plan), sub.current.end);
    const bool skipped = std::any_of(sub.skipped_periods.begin(), sub.skipped_periods.end(), [&](Timestamp t) {
      return subscriptions::skip_applies(t, sub.current.start, next);
    });
    const bool prepaid_box = sub.prepaid && sub.prepaid->remaining > 0;
    RECUR_ASSIGN(bool fresh, claim_reminder(tx, "renewal:" + sub.id + ":" + std::to_string(sub.current.end), sub.id,
                                            "renewal", sub.current.end, now));
    // Claimed all the same, so the renewal is not looked at again every run.
    if (!fresh || skipped || prepaid_box) return false;
    // A prepaid charge is for all its deliveries.
    if (sub.prepaid) quantity *= sub.prepaid->deliveries;
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, sub.customer));
    if (!customer) return false;
    notify::Message m;
    m.template_name = "renewal_reminder";
    m.to = customer->email;
    m.customer = customer->id;
    m.resource = sub.id;
    m.data = {{"customer_name", customer->name},
              {"plan_name", plan->name},
              {"renewal_date", format_rfc3339(sub.current.end).substr(0, 10)},
              {"amount", format_amount(subscriptions::period_amount(*plan, quantity, sub.discount), plan->currency)}};
    // A message that cannot be queued fails the transaction: the claim rolls back with it,
    // so the reminder is tried again instead of being marked sent and never sent.
    RECUR_TRY(outbox_.enqueue(tx, m));
    return true;
  });
}

Result<bool> Reminders::remind_card_expiring(const std::string& pm_id, Timestamp now) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<bool> {
    RECUR_ASSIGN(auto pm, customers::find_payment_method(tx, pm_id));
    if (!pm || pm->detached) return false;
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, pm->customer));
    if (!customer || customer->default_payment_method != pm->id) return false;
    std::string expiry = std::to_string(pm->exp_month) + "/" + std::to_string(pm->exp_year);
    RECUR_ASSIGN(bool fresh, claim_reminder(tx, "card_expiring:" + pm->id + ":" + expiry, "", "card_expiring", now, now));
    if (!fresh) return false;
    notify::Message m;
    m.template_name = "card_expiring";
    m.to = customer->email;
    m.customer = customer->id;
    m.resource = pm->id;
    m.data = {{"customer_name", customer->name},
              {"card_brand", pm->brand},
              {"card_last4", pm->last4},
              {"expiry", expiry}};
    // As for renewal reminders: no queued message, no claim.
    RECUR_TRY(messages_.enqueue_with_payment_link(tx, m, {customer->id, std::nullopt, pm->id}));
    return true;
  });
}

Result<ReminderReport> Reminders::send_reminders(const std::string& run) {
  Timestamp now = clock_.now();
  CivilDate today = to_civil(now).date;
  std::int64_t this_month = static_cast<std::int64_t>(today.year) * 12 + today.month;
  struct Due {
    std::vector<std::string> renewals, cards;
  };
  RECUR_ASSIGN(Due due, db::transact(db_, [&](db::Tx& tx) -> Result<Due> {
    Due d;
    // Renewals inside the longest lead time that have no reminder for that period yet.
    RECUR_ASSIGN(d.renewals, unreminded_renewals(tx, now));
    // Attached cards that expire this month (or have expired).
    RECUR_ASSIGN(d.cards, customers::cards_expiring_by(tx, this_month, kRemindersPerRun));
    return d;
  }, db::TxMode::kReadOnly));
  ReminderReport report;
  // One reminder that cannot be sent must not hold up the others: it is logged and counted,
  // and tried again by the next run (its claim rolled back).
  auto tally = [&](std::string_view kind, const std::string& id, const Result<bool>& sent) {
    if (sent.ok()) {
      if (*sent) ++report.queued;
      return;
    }
    if (report.failed++ == 0) report.first_error = id + ": " + sent.error().message;
    spdlog::error("billing run {}: {} reminder for {} not queued: {} ({})", run.empty() ? "-" : run, kind, id,
                  sent.error().message, sent.error().code);
  };
  for (const auto& id : due.renewals) tally("renewal", id, remind_renewal(id, now));
  for (const auto& id : due.cards) tally("card_expiring", id, remind_card_expiring(id, now));
  return report;
}

Result<std::optional<Timestamp>> Reminders::next_reminder_at(db::Tx& tx, Timestamp now) {
  RECUR_ASSIGN(auto by_days, catalog::plans_by_reminder_days(tx));
  std::optional<Timestamp> next;
  for (const auto& [days, plans] : by_days) {
    RECUR_ASSIGN(auto renews, subscriptions::earliest_renewal(tx, now + days * kSecondsPerDay, plans));
    if (!renews) continue;
    Timestamp at = *renews - days * kSecondsPerDay;
    if (!next || at < *next) next = at;
  }
  return next;
}

}  // namespace recur::billing
