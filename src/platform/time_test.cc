// Worked examples for civil-date arithmetic and RFC 3339 text.
#include "platform/time.h"

#include <gtest/gtest.h>

namespace recur {
namespace {

Timestamp at(std::string_view text) {
  const auto t = parse_rfc3339(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(0);
}

TEST(CivilDays, EpochIsDayZero) {
  EXPECT_EQ(days_from_civil({1970, 1, 1}), 0);
  const CivilDate d = civil_from_days(0);
  EXPECT_EQ(d.year, 1970);
  EXPECT_EQ(d.month, 1u);
  EXPECT_EQ(d.day, 1u);
}

TEST(CivilDays, KnownDatesMatchTheirDayNumbers) {
  EXPECT_EQ(days_from_civil({2000, 3, 1}), 11017);
  EXPECT_EQ(days_from_civil({2026, 1, 31}), 20484);
  EXPECT_EQ(days_from_civil({1969, 12, 31}), -1);
  EXPECT_EQ(days_from_civil({1600, 3, 1}), -135080);
}

TEST(CivilDays, RoundTripEveryDayOverEightCenturies) {
  // -135080 is 1600-03-01 and 157000 is in 2399: covers 400-year era edges both sides of 1970.
  for (std::int64_t day = -135080; day <= 157000; ++day) {
    ASSERT_EQ(days_from_civil(civil_from_days(day)), day);
  }
}

TEST(ToCivil, NegativeTimestampsFallOnThePreviousDay) {
  const CivilTime c = to_civil(-1);
  EXPECT_EQ(c.date.year, 1969);
  EXPECT_EQ(c.date.month, 12u);
  EXPECT_EQ(c.date.day, 31u);
  EXPECT_EQ(c.seconds_of_day, 86399);
  EXPECT_EQ(from_civil(c), -1);
  EXPECT_EQ(to_civil(-86400).date.day, 31u);
  EXPECT_EQ(to_civil(-86400).seconds_of_day, 0);
}

TEST(ToCivil, KeepsTimeOfDay) {
  const CivilTime c = to_civil(1769817600 + 14 * 3600 + 30 * 60 + 15);  // 2026-01-31T14:30:15Z
  EXPECT_EQ(c.date.year, 2026);
  EXPECT_EQ(c.date.month, 1u);
  EXPECT_EQ(c.date.day, 31u);
  EXPECT_EQ(c.seconds_of_day, 52215);
}

TEST(LeapYear, DivisibleByFourExceptCenturiesNotDivisibleByFourHundred) {
  EXPECT_TRUE(is_leap_year(2000));
  EXPECT_TRUE(is_leap_year(2024));
  EXPECT_TRUE(is_leap_year(2028));
  EXPECT_FALSE(is_leap_year(1900));
  EXPECT_FALSE(is_leap_year(2026));
  EXPECT_FALSE(is_leap_year(2100));
}

TEST(DaysInMonth, FebruaryDependsOnLeapYear) {
  EXPECT_EQ(days_in_month(2026, 2), 28u);
  EXPECT_EQ(days_in_month(2028, 2), 29u);
  EXPECT_EQ(days_in_month(2100, 2), 28u);
  EXPECT_EQ(days_in_month(2026, 4), 30u);
  EXPECT_EQ(days_in_month(2026, 12), 31u);
}

TEST(FormatRfc3339, WholeSecondsInUtcWithZ) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(1769817600), "2026-01-31T00:00:00Z");
  EXPECT_EQ(format_rfc3339(1769817600 + 52215), "2026-01-31T14:30:15Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_rfc3339(253402300799), "9999-12-31T23:59:59Z");
}

TEST(ParseRfc3339, AcceptsUtcAndBareDates) {
  EXPECT_EQ(parse_rfc3339("2026-01-31T00:00:00Z"), 1769817600);
  EXPECT_EQ(parse_rfc3339("2026-01-31T14:30:15z"), 1769869815);
  EXPECT_EQ(parse_rfc3339("2026-01-31t14:30:15Z"), 1769869815);
  EXPECT_EQ(parse_rfc3339("2026-01-31"), 1769817600);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59Z"), 253402300799);
  EXPECT_EQ(parse_rfc3339("2028-02-29"), 1835395200);
}

TEST(ParseRfc3339, TruncatesFractionalSeconds) {
  EXPECT_EQ(parse_rfc3339("2026-01-31T14:30:15.999999Z"), 1769869815);
  EXPECT_EQ(parse_rfc3339("2026-01-31T14:30:15.5+00:00"), 1769869815);
}

TEST(ParseRfc3339, AppliesTheOffsetToGiveUtc) {
  // 14:30:15 at +05:30 is 09:00:15 UTC; at -08:00 it is 22:30:15 UTC.
  EXPECT_EQ(parse_rfc3339("2026-01-31T14:30:15+05:30"), at("2026-01-31T09:00:15Z"));
  EXPECT_EQ(parse_rfc3339("2026-01-31T14:30:15-08:00"), at("2026-01-31T22:30:15Z"));
  EXPECT_EQ(parse_rfc3339("2026-01-01T00:30:00+01:00"), at("2025-12-31T23:30:00Z"));
  EXPECT_EQ(parse_rfc3339("2026-01-31T00:00:00-00:00"), 1769817600);
}

TEST(ParseRfc3339, OffsetMayCrossBackBefore1970) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00+01:00"), -3600);
}

TEST(ParseRfc3339, RoundTripsWhatFormatProduces) {
  for (Timestamp t : {Timestamp{0}, Timestamp{1769817600}, Timestamp{1835395200 + 86399},
                      Timestamp{4102444800}, Timestamp{253402300799}}) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << t;
  }
}

TEST(ParseRfc3339, RejectsOutOfRangeFields) {
  for (std::string_view bad : {
           "2026-13-01T00:00:00Z",  // month 13
           "2026-00-10T00:00:00Z",  // month 0
           "2026-04-31T00:00:00Z",  // April has 30 days
           "2026-02-29",            // 2026 is not a leap year
           "2026-01-00",            // day 0
           "2026-01-01T24:00:00Z",  // hour 24
           "2026-01-01T00:60:00Z",  // minute 60
           "2026-01-01T23:59:60Z",  // leap second: Unix time cannot hold it
           "2026-01-01T00:00:00+24:00",
           "2026-01-01T00:00:00+05:60",
           "1969-12-31T23:59:59Z",  // before the supported range
           "0000-01-01",
       }) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

TEST(ParseRfc3339, RejectsMalformedText) {
  for (std::string_view bad : {
           "",
           "2026",
           "2026-1-31",
           "2026/01/31",
           "2026-01-31T00:00:00",       // no offset
           "2026-01-31T00:00Z",         // no seconds
           "2026-01-31 00:00:00Z",      // space separator
           "2026-01-31T00:00:00.Z",     // empty fraction
           "2026-01-31T00:00:00+0530",  // offset without colon
           "2026-01-31T00:00:00+5:30",
           "2026-01-31T00:00:00ZZ",     // trailing garbage
           "2026-01-31T00:00:00Z ",
           "2026-01-31x",
           " 2026-01-31",
           "+2026-01-31",
           "2026-01-31T0a:00:00Z",
       }) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace recur
