// The billing calendar: intervals, cadences and the periods they cut time into, by Stripe's
// rules. Pure: plain functions of their arguments, shared by catalog (a plan's cadence),
// subscriptions (a subscription's periods) and billing.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "platform/time.h"

namespace recur {

enum class Interval { kDay, kWeek, kMonth, kYear };

std::optional<Interval> parse_interval(std::string_view text);  // "day|week|month|year"
std::string_view to_string(Interval interval);

struct Cadence {
  Interval interval = Interval::kMonth;
  int count = 1;  // interval_count, >= 1
  // A delivery day the periods keep to (a subscription's own schedule; plans have none):
  // a weekday for week intervals (1 Monday .. 7 Sunday, ISO 8601) or a day of the month
  // for month intervals (1..28, so no month clamps it). None: the anchor's own day.
  std::optional<int> day_of_week;
  std::optional<int> day_of_month;
  bool operator==(const Cadence&) const = default;
};

// Start of the n-th period (n >= 0) counted from `anchor`, by Stripe's rules:
// months and years are added to the anchor's calendar date (not chained), the day
// clamped to the target month's length, time of day kept. So a monthly anchor on
// Jan 31 gives Feb 28/29, Mar 31, Apr 30, May 31; a yearly anchor on Feb 29 gives
// Feb 28 in common years and Feb 29 again in leap years. Days and weeks add
// kSecondsPerDay * 1 or 7 * count seconds per period.
Timestamp period_start(Timestamp anchor, const Cadence& cadence, std::int64_t n);

struct Period {
  Timestamp start = 0;
  Timestamp end = 0;  // exclusive
};

// The period that contains `t` (anchor <= t), i.e. the n with start(n) <= t < start(n+1).
Period period_containing(Timestamp anchor, const Cadence& cadence, Timestamp t);
// The period starting at `start` where `start` is itself an anchor-aligned boundary.
Period period_from(Timestamp anchor, const Cadence& cadence, Timestamp start);

// A calendar started at `at` (a first period, a restart after a pause or a new cadence):
// the first period, and the anchor every later period is counted from. Without a delivery
// day the first period is [at, period_start(at, cadence, 1)) and the anchor is `at`. With
// one, the first period ends on the delivery day nearest to that end (the later one on a
// tie; never at or before `at`), the time of day kept, and the anchor is that end: so a
// box every 2 weeks on Thursday bought on a Monday ships now, then 11 days later, then
// every 14 days (docs/subscription-boxes.md).
struct Calendar {
  Timestamp anchor = 0;
  Period first;
};
Calendar calendar_from(Timestamp at, const Cadence& cadence);

// ISO weekday of `t`: 1 Monday .. 7 Sunday.
int iso_weekday(Timestamp t);

}  // namespace recur
