// Renewal reminders (each plan's renewal_reminder_days before a renewal) and notices of
// default cards expiring this month, each queued once (a `reminders` row per key).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "billing/messages.h"
#include "billing/model.h"
#include "notify/outbox.h"
#include "platform/clock.h"
#include "platform/db/database.h"

namespace recur::billing {

class Reminders {
 public:
  Reminders(db::Database& db, const Clock& clock, notify::Outbox& outbox, PaymentMessages& messages)
      : db_(db), clock_(clock), outbox_(outbox), messages_(messages) {}

  // Queues what is due now. A reminder whose message cannot be queued is not marked sent:
  // it is counted in `failed`, logged with `run` (the billing run's id, if any) and tried
  // again next time.
  Result<ReminderReport> send_reminders(const std::string& run = "");
  // When the next renewal reminder falls due (the test clock's next stop), if any.
  Result<std::optional<Timestamp>> next_reminder_at(db::Tx& tx, Timestamp now);

 private:
  Result<bool> remind_renewal(const std::string& subscription, Timestamp now);
  Result<bool> remind_card_expiring(const std::string& payment_method, Timestamp now);
  // Marks a reminder sent; false when it was sent before.
  Result<bool> claim_reminder(db::Tx& tx, const std::string& key, const std::string& subscription,
                              std::string_view kind, Timestamp due_at, Timestamp now);

  db::Database& db_;
  const Clock& clock_;
  notify::Outbox& outbox_;
  PaymentMessages& messages_;
};

}  // namespace recur::billing
