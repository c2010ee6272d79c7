// UTC time points as Unix seconds, civil-date arithmetic and RFC 3339 text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace recur {

// Seconds since 1970-01-01T00:00:00Z. Recur stores and computes time in UTC seconds.
using Timestamp = std::int64_t;

// A UTC day (Recur's timestamps have no leap seconds, as Unix time has none).
inline constexpr std::int64_t kSecondsPerDay = 86400;

struct CivilDate {
  int year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

struct CivilTime {
  CivilDate date;
  int seconds_of_day;  // 0..86399
};

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(const CivilDate& d);
CivilDate civil_from_days(std::int64_t days);
CivilTime to_civil(Timestamp t);
Timestamp from_civil(const CivilTime& c);
bool is_leap_year(int year);
unsigned days_in_month(int year, unsigned month);

// "2026-01-31T00:00:00Z". Always UTC, always whole seconds.
std::string format_rfc3339(Timestamp t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm)" and "YYYY-MM-DD" (midnight UTC).
std::optional<Timestamp> parse_rfc3339(std::string_view text);

// The API takes no time from 3000-01-01T00:00:00Z on: calendars are projected years ahead,
// and every date they can reach must stay printable in four digits.
inline constexpr Timestamp kLatestAcceptedTime = 32503680000;

}  // namespace recur
