// When dunning tries again, reading the decline.
#include "billing/retry_timing.h"

#include <algorithm>

namespace recur::billing {
namespace {

bool is_payday(std::int64_t day) {
  unsigned d = civil_from_days(day).day;
  return std::find(std::begin(kPaydays), std::end(kPaydays), d) != std::end(kPaydays);
}

std::int64_t local_day(const TimeZone& zone, Timestamp t) { return days_from_civil(zone.local(t).date); }

Timestamp morning_of(const TimeZone& zone, std::int64_t day) {
  return zone.utc_of({civil_from_days(day), kRetryMorningHour * 3600});
}

// insufficient_funds: the morning of the scheduled day, or of the next payday when none has
// come since the failure and one comes before the window's last day. None past the window.
std::optional<Timestamp> funds_retry_at(const TimeZone& zone, Timestamp failed_at, Timestamp scheduled,
                                        Timestamp end) {
  const std::int64_t failed_day = local_day(zone, failed_at);
  const std::int64_t scheduled_day = local_day(zone, scheduled);
  const std::int64_t last_day = local_day(zone, end);
  if (scheduled_day > last_day) return std::nullopt;
  bool paid_since = false;
  for (std::int64_t d = failed_day + 1; d <= scheduled_day && !paid_since; ++d) paid_since = is_payday(d);
  std::int64_t day = scheduled_day;
  if (!paid_since) {
    for (std::int64_t d = scheduled_day + 1; d <= last_day; ++d)
      if (is_payday(d)) {
        day = d;
        break;
      }
  }
  Timestamp at = morning_of(zone, day);
  // The scheduled day's morning is after the failure (the day is a later one); kept safe.
  return at > failed_at ? at : scheduled;
}

}  // namespace

Timestamp window_end(const DunningSettings& settings, Timestamp first_failed) {
  return first_failed + settings.retry_days.back() * kSecondsPerDay;
}

RetryPlan plan_retry(const DunningSettings& s, const FailedAttempt& f, const TimeZone& zone) {
  DunningStep scheduled = dunning_step(s, f.first_failed, f.attempt);
  if (s.mode == DunningMode::kFixed || !f.decline_type || std::holds_alternative<FinalAction>(scheduled))
    return {scheduled, false};
  if (*f.decline_type == DeclineType::kHard) return {window_end(s, f.first_failed), true};
  if (f.decline_code != "insufficient_funds") return {scheduled, false};
  // A retry delayed to a payday may leave the next scheduled day behind: a day after this
  // failure at the earliest.
  Timestamp earliest = std::max(std::get<Timestamp>(scheduled), f.failed_at + kSecondsPerDay);
  if (auto at = funds_retry_at(zone, f.failed_at, earliest, window_end(s, f.first_failed))) return {*at, false};
  return {s.final_action, false};
}

}  // namespace recur::billing
