// The billing calendar; see calendar.h.
#include "platform/calendar.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace recur {
namespace {

// Indexed by the enum's underlying value, so the order must follow the declaration.
constexpr std::string_view kIntervalNames[] = {"day", "week", "month", "year"};

}  // namespace

std::optional<Interval> parse_interval(std::string_view text) {
  for (std::size_t i = 0; i < std::size(kIntervalNames); ++i)
    if (kIntervalNames[i] == text) return static_cast<Interval>(i);
  return std::nullopt;
}
std::string_view to_string(Interval interval) { return kIntervalNames[static_cast<int>(interval)]; }

namespace {

// Months since year 0 of a civil date: makes "add k months" plain integer addition.
std::int64_t month_index(const CivilDate& d) {
  return static_cast<std::int64_t>(d.year) * 12 + (d.month - 1);
}

// The anchor's date moved by `months`, the day clamped to the target month's length
// and the time of day kept. Always measured from the anchor, so a Jan 31 anchor that
// visits Feb 28 still lands on Mar 31 afterwards.
Timestamp add_months_to_anchor(Timestamp anchor, std::int64_t months) {
  const CivilTime a = to_civil(anchor);
  const std::int64_t target = month_index(a.date) + months;
  // target >= 0: Recur's years are 1970..9999 and n >= 0.
  const std::int64_t year = target / 12;
  const unsigned month = static_cast<unsigned>(target % 12 + 1);
  const unsigned day = std::min(a.date.day, days_in_month(static_cast<int>(year), month));
  return from_civil({{static_cast<int>(year), month, day}, a.seconds_of_day});
}

// A zero or negative count would make every period empty and the searches below loop.
void require_valid(const Cadence& c) {
  if (c.count < 1) throw std::invalid_argument("cadence: interval_count must be >= 1");
}

// Calendar months per period, or 0 for fixed-length (day/week) cadences.
std::int64_t months_per_period(const Cadence& c) {
  if (c.interval == Interval::kMonth) return c.count;
  if (c.interval == Interval::kYear) return 12LL * c.count;
  return 0;
}

std::int64_t seconds_per_period(const Cadence& c) {
  const std::int64_t days = c.interval == Interval::kWeek ? 7 : 1;
  return days * kSecondsPerDay * c.count;
}

// First guess of the period index containing t (t >= anchor). Exact for fixed-length
// cadences; for calendar cadences it is off by at most one because clamping and time
// of day move a boundary by less than a month.
std::int64_t estimate_index(Timestamp anchor, const Cadence& c, Timestamp t) {
  const std::int64_t months = months_per_period(c);
  if (months == 0) return (t - anchor) / seconds_per_period(c);
  const std::int64_t elapsed = month_index(to_civil(t).date) - month_index(to_civil(anchor).date);
  return elapsed / months;
}

}  // namespace

Timestamp period_start(Timestamp anchor, const Cadence& cadence, std::int64_t n) {
  require_valid(cadence);
  const std::int64_t months = months_per_period(cadence);
  if (months == 0) return anchor + n * seconds_per_period(cadence);
  return add_months_to_anchor(anchor, n * months);
}

Period period_containing(Timestamp anchor, const Cadence& cadence, Timestamp t) {
  require_valid(cadence);
  if (t < anchor) return {anchor, period_start(anchor, cadence, 1)};
  std::int64_t n = estimate_index(anchor, cadence, t);
  while (n > 0 && period_start(anchor, cadence, n) > t) --n;
  while (period_start(anchor, cadence, n + 1) <= t) ++n;
  return {period_start(anchor, cadence, n), period_start(anchor, cadence, n + 1)};
}

Period period_from(Timestamp anchor, const Cadence& cadence, Timestamp start) {
  // An aligned `start` is contained in exactly the period it begins, so one search
  // answers both the aligned case and the tolerant unaligned one.
  return period_containing(anchor, cadence, start);
}

int iso_weekday(Timestamp t) {
  const std::int64_t days = t / kSecondsPerDay - (t % kSecondsPerDay < 0 ? 1 : 0);
  // 1970-01-01 was a Thursday (4).
  return static_cast<int>(((days + 3) % 7 + 7) % 7) + 1;
}

namespace {

// The delivery-day candidates around `end` (each at end's time of day), for the nearest.
std::vector<Timestamp> delivery_days_around(Timestamp end, const Cadence& c) {
  std::vector<Timestamp> out;
  if (c.day_of_week) {
    const int back = ((iso_weekday(end) - *c.day_of_week) % 7 + 7) % 7;
    const Timestamp before = end - back * kSecondsPerDay;
    out = {before, before + 7 * kSecondsPerDay};
  } else if (c.day_of_month) {
    const CivilTime e = to_civil(end);
    for (int shift = -1; shift <= 1; ++shift) {
      const std::int64_t month = static_cast<std::int64_t>(e.date.year) * 12 + (e.date.month - 1) + shift;
      out.push_back(from_civil({{static_cast<int>(month / 12), static_cast<unsigned>(month % 12 + 1),
                                 static_cast<unsigned>(*c.day_of_month)},
                                e.seconds_of_day}));
    }
  }
  return out;
}

}  // namespace

Calendar calendar_from(Timestamp at, const Cadence& cadence) {
  const Timestamp end = period_start(at, cadence, 1);
  const auto candidates = delivery_days_around(end, cadence);
  if (candidates.empty()) return {at, {at, end}};
  std::optional<Timestamp> best;
  for (Timestamp c : candidates) {
    if (c <= at) continue;
    // Nearest to the plain end; on a tie the later one (candidates are in order).
    if (!best || std::llabs(c - end) <= std::llabs(*best - end)) best = c;
  }
  return {*best, {at, *best}};
}

}  // namespace recur
