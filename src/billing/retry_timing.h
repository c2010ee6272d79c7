// When dunning tries a failed invoice again, reading the decline (docs/billing-rules.md,
// "Retries that read the decline"). Pure: the settings, the failure and the customer's time
// zone in, the next attempt's time or the final action out.
//
// `fixed` mode: the schedule (retry_days after the first failure), whatever the decline.
// `smart` mode (the default):
//   - a hard decline stops retrying the card: no attempt is made on it again; the invoice's
//     next step is the final action at the end of the schedule's window (the last retry
//     day), unless the customer gives a new card first (which is charged at once);
//   - insufficient_funds is retried at kRetryMorningHour in the customer's time zone, on
//     the scheduled day, or on the next payday (the 1st or the 15th, local) when one comes
//     before the window ends and none has passed since the failure;
//   - other soft declines follow the schedule.
// Every retry stays within the window; past it, the final action applies.
#pragma once

#include <optional>
#include <string_view>

#include "billing/failure_codes.h"
#include "billing/model.h"
#include "platform/time_zone.h"

namespace recur::billing {

// The local hour insufficient_funds retries are made at: 09:00, once the day's deposits
// (salaries land overnight) are on the account and before the day's spending.
inline constexpr int kRetryMorningHour = 9;
// The days of the month paychecks typically arrive (semi-monthly pay): the 1st and the 15th.
inline constexpr unsigned kPaydays[] = {1, 15};

struct FailedAttempt {
  Timestamp first_failed = 0;  // the invoice's first failure
  Timestamp failed_at = 0;     // this failure
  std::int64_t attempt = 1;    // this attempt's number (>= 1); every one before it failed too
  std::optional<DeclineType> decline_type;  // none: not an issuer's decline (no card, ...)
  std::string_view decline_code;            // normalised (billing/failure_codes.h)
};

struct RetryPlan {
  DunningStep step;           // the next attempt's time, or the final action now
  bool card_blocked = false;  // a hard decline: the card is not charged again for the invoice;
                              // `step` is then the window's end, when the final action applies
};

RetryPlan plan_retry(const DunningSettings& settings, const FailedAttempt& failure, const TimeZone& zone);

// The last moment of the schedule's window: the first failure plus the last retry day.
Timestamp window_end(const DunningSettings& settings, Timestamp first_failed);

}  // namespace recur::billing
