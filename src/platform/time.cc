// Civil-date arithmetic (proleptic Gregorian, UTC) and RFC 3339 formatting/parsing.
#include "platform/time.h"

#include <cstdio>

namespace recur {
namespace {


// Floor division: to_civil must map -1 to 1969-12-31T23:59:59, not to 1970-01-01.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

// H. Hinnant, "chrono-Compatible Low-Level Date Algorithms": eras of 400 years
// (146097 days) starting on March 1 so the leap day falls at the end of a year.
std::int64_t days_from_civil(const CivilDate& d) {
  const std::int64_t y = static_cast<std::int64_t>(d.year) - (d.month <= 2 ? 1 : 0);
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;                                    // [0, 399]
  const std::int64_t mp = d.month > 2 ? d.month - 3 : d.month + 9;           // [0, 11]
  const std::int64_t doy = (153 * mp + 2) / 5 + static_cast<std::int64_t>(d.day) - 1;  // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + doe - 719468;
}

CivilDate civil_from_days(std::int64_t days) {
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;                                   // [0, 146096]
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);            // [0, 365]
  const std::int64_t mp = (5 * doy + 2) / 153;                                 // [0, 11]
  const unsigned day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const unsigned month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  const int year = static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0));
  return {year, month, day};
}

CivilTime to_civil(Timestamp t) {
  const std::int64_t days = floor_div(t, kSecondsPerDay);
  return {civil_from_days(days), static_cast<int>(t - days * kSecondsPerDay)};
}

Timestamp from_civil(const CivilTime& c) {
  return days_from_civil(c.date) * kSecondsPerDay + c.seconds_of_day;
}

bool is_leap_year(int year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

unsigned days_in_month(int year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && is_leap_year(year)) return 29;
  return kDays[month - 1];
}

std::string format_rfc3339(Timestamp t) {
  const CivilTime c = to_civil(t);
  const int s = c.seconds_of_day;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", c.date.year, c.date.month,
                c.date.day, s / 3600, s / 60 % 60, s % 60);
  return buf;
}

namespace {

// A left-to-right reader over the text; every read fails softly so the parser
// can stay a flat sequence of checks.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }

  // Exactly `width` ASCII digits.
  std::optional<int> digits(int width) {
    if (text_.size() - pos_ < static_cast<std::size_t>(width)) return std::nullopt;
    int value = 0;
    for (int i = 0; i < width; ++i) {
      const char ch = text_[pos_ + i];
      if (ch < '0' || ch > '9') return std::nullopt;
      value = value * 10 + (ch - '0');
    }
    pos_ += width;
    return value;
  }

  bool literal(char expected) {
    if (done() || text_[pos_] != expected) return false;
    ++pos_;
    return true;
  }

  // Consumes any run of digits; returns how many.
  int skip_digits() {
    int n = 0;
    for (; !done() && peek() >= '0' && peek() <= '9'; ++pos_) ++n;
    return n;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

std::optional<CivilDate> read_date(Cursor& in) {
  const auto y = in.digits(4);
  if (!y || !in.literal('-')) return std::nullopt;
  const auto m = in.digits(2);
  if (!m || !in.literal('-')) return std::nullopt;
  const auto d = in.digits(2);
  if (!d) return std::nullopt;
  if (*y < 1970 || *m < 1 || *m > 12) return std::nullopt;
  const CivilDate date{*y, static_cast<unsigned>(*m), static_cast<unsigned>(*d)};
  if (date.day < 1 || date.day > days_in_month(date.year, date.month)) return std::nullopt;
  return date;
}

// "HH:MM:SS[.fraction]"; the fraction is dropped because Recur keeps whole seconds.
// Leap second 60 is rejected: Unix time has no representation for it.
std::optional<int> read_time_of_day(Cursor& in) {
  const auto h = in.digits(2);
  if (!h || !in.literal(':')) return std::nullopt;
  const auto m = in.digits(2);
  if (!m || !in.literal(':')) return std::nullopt;
  const auto s = in.digits(2);
  if (!s || *h > 23 || *m > 59 || *s > 59) return std::nullopt;
  if (in.literal('.') && in.skip_digits() == 0) return std::nullopt;
  return *h * 3600 + *m * 60 + *s;
}

// Seconds east of UTC: "Z" -> 0, "+05:30" -> 19800, "-08:00" -> -28800.
std::optional<int> read_offset(Cursor& in) {
  if (in.literal('Z') || in.literal('z')) return 0;
  const int sign = in.literal('+') ? 1 : in.literal('-') ? -1 : 0;
  if (sign == 0) return std::nullopt;
  const auto h = in.digits(2);
  if (!h || !in.literal(':')) return std::nullopt;
  const auto m = in.digits(2);
  if (!m || *h > 23 || *m > 59) return std::nullopt;
  return sign * (*h * 3600 + *m * 60);
}

}  // namespace

std::optional<Timestamp> parse_rfc3339(std::string_view text) {
  Cursor in(text);
  const auto date = read_date(in);
  if (!date) return std::nullopt;
  if (in.done()) return from_civil({*date, 0});
  // RFC 3339 section 5.6 allows a lower-case "t" as the separator.
  if (!in.literal('T') && !in.literal('t')) return std::nullopt;
  const auto seconds = read_time_of_day(in);
  if (!seconds) return std::nullopt;
  const auto offset = read_offset(in);
  if (!offset || !in.done()) return std::nullopt;
  return from_civil({*date, *seconds}) - *offset;
}

}  // namespace recur
