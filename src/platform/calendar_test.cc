// Worked examples for the billing calendar (Stripe's period rules).
#include "platform/calendar.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "testing/calendar_examples.h"
#include <vector>

namespace recur {
namespace {

using namespace recur::testing;  // at() and the cadences of the worked examples

// The starts of periods 0..N-1, as text so a failure reads like the calendar.
std::vector<std::string> starts(std::string_view anchor, const Cadence& cadence, int count) {
  std::vector<std::string> out;
  for (int n = 0; n < count; ++n) {
    out.push_back(format_rfc3339(period_start(at(anchor), cadence, n)));
  }
  return out;
}

std::pair<std::string, std::string> text(const Period& p) {
  return {format_rfc3339(p.start), format_rfc3339(p.end)};
}

using Span = std::pair<std::string, std::string>;

TEST(Names, IntervalsRoundTripThroughText) {
  for (std::string_view name : {"day", "week", "month", "year"}) {
    const auto interval = parse_interval(name);
    ASSERT_TRUE(interval.has_value()) << name;
    EXPECT_EQ(to_string(*interval), name);
  }
  EXPECT_FALSE(parse_interval("Month").has_value());
  EXPECT_FALSE(parse_interval("months").has_value());
  EXPECT_FALSE(parse_interval("").has_value());
}


TEST(PeriodStart, MonthlyAnchorOn31stClampsEachMonthWithoutDrifting) {
  // Each start is the anchor plus n months, never the previous start plus one, so the
  // short months do not pull later periods off the 31st. 2028 is a leap year.
  EXPECT_EQ(starts("2027-01-31T00:00:00Z", kMonthly, 15),
            (std::vector<std::string>{
                "2027-01-31T00:00:00Z", "2027-02-28T00:00:00Z", "2027-03-31T00:00:00Z",
                "2027-04-30T00:00:00Z", "2027-05-31T00:00:00Z", "2027-06-30T00:00:00Z",
                "2027-07-31T00:00:00Z", "2027-08-31T00:00:00Z", "2027-09-30T00:00:00Z",
                "2027-10-31T00:00:00Z", "2027-11-30T00:00:00Z", "2027-12-31T00:00:00Z",
                "2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z"}));
}

TEST(PeriodStart, MonthlyKeepsTheAnchorsTimeOfDay) {
  EXPECT_EQ(starts("2027-01-31T14:30:15Z", kMonthly, 4),
            (std::vector<std::string>{"2027-01-31T14:30:15Z", "2027-02-28T14:30:15Z",
                                      "2027-03-31T14:30:15Z", "2027-04-30T14:30:15Z"}));
}

TEST(PeriodStart, YearlyAnchorOnFebruary29ReturnsToIt) {
  EXPECT_EQ(starts("2028-02-29T09:00:00Z", kYearly, 6),
            (std::vector<std::string>{"2028-02-29T09:00:00Z", "2029-02-28T09:00:00Z",
                                      "2030-02-28T09:00:00Z", "2031-02-28T09:00:00Z",
                                      "2032-02-29T09:00:00Z", "2033-02-28T09:00:00Z"}));
}

TEST(PeriodStart, EveryTwoYearsCountsYearsFromTheAnchor) {
  EXPECT_EQ(starts("2028-02-29T00:00:00Z", Cadence{Interval::kYear, 2}, 3),
            (std::vector<std::string>{"2028-02-29T00:00:00Z", "2030-02-28T00:00:00Z",
                                      "2032-02-29T00:00:00Z"}));
}

TEST(PeriodStart, QuarterlyAddsThreeMonthsPerPeriodAndClamps) {
  EXPECT_EQ(starts("2026-11-30T00:00:00Z", kQuarterly, 6),
            (std::vector<std::string>{"2026-11-30T00:00:00Z", "2027-02-28T00:00:00Z",
                                      "2027-05-30T00:00:00Z", "2027-08-30T00:00:00Z",
                                      "2027-11-30T00:00:00Z", "2028-02-29T00:00:00Z"}));
}

TEST(PeriodStart, WeeklyAddsSevenDaysPerPeriod) {
  EXPECT_EQ(starts("2026-01-05T09:00:00Z", kWeekly, 5),
            (std::vector<std::string>{"2026-01-05T09:00:00Z", "2026-01-12T09:00:00Z",
                                      "2026-01-19T09:00:00Z", "2026-01-26T09:00:00Z",
                                      "2026-02-02T09:00:00Z"}));
}

TEST(PeriodStart, BiWeeklyAddsFourteenDaysPerPeriod) {
  EXPECT_EQ(starts("2026-01-05T09:00:00Z", kBiWeekly, 4),
            (std::vector<std::string>{"2026-01-05T09:00:00Z", "2026-01-19T09:00:00Z",
                                      "2026-02-02T09:00:00Z", "2026-02-16T09:00:00Z"}));
}

TEST(PeriodStart, DailyCrossesTheLeapDay) {
  EXPECT_EQ(starts("2028-02-28T23:00:00Z", kDaily, 3),
            (std::vector<std::string>{"2028-02-28T23:00:00Z", "2028-02-29T23:00:00Z",
                                      "2028-03-01T23:00:00Z"}));
}

TEST(PeriodStart, EveryTenDaysAddsTenDaysPerPeriod) {
  EXPECT_EQ(starts("2026-01-05T00:00:00Z", Cadence{Interval::kDay, 10}, 4),
            (std::vector<std::string>{"2026-01-05T00:00:00Z", "2026-01-15T00:00:00Z",
                                      "2026-01-25T00:00:00Z", "2026-02-04T00:00:00Z"}));
}

TEST(PeriodContaining, ABoundaryBelongsToThePeriodItStarts) {
  const Timestamp anchor = at("2027-01-31T00:00:00Z");
  EXPECT_EQ(text(period_containing(anchor, kMonthly, at("2027-02-28T00:00:00Z"))),
            Span("2027-02-28T00:00:00Z", "2027-03-31T00:00:00Z"));
  EXPECT_EQ(text(period_containing(anchor, kMonthly, at("2027-02-27T23:59:59Z"))),
            Span("2027-01-31T00:00:00Z", "2027-02-28T00:00:00Z"));
  EXPECT_EQ(text(period_containing(anchor, kMonthly, at("2027-03-30T23:59:59Z"))),
            Span("2027-02-28T00:00:00Z", "2027-03-31T00:00:00Z"));
  EXPECT_EQ(text(period_containing(anchor, kMonthly, anchor)),
            Span("2027-01-31T00:00:00Z", "2027-02-28T00:00:00Z"));
}

TEST(PeriodContaining, TimeOfDayMovesTheBoundaryWithinTheDay) {
  const Timestamp anchor = at("2026-01-31T12:00:00Z");
  EXPECT_EQ(text(period_containing(anchor, kMonthly, at("2026-02-28T11:59:59Z"))),
            Span("2026-01-31T12:00:00Z", "2026-02-28T12:00:00Z"));
  EXPECT_EQ(text(period_containing(anchor, kMonthly, at("2026-02-28T12:00:00Z"))),
            Span("2026-02-28T12:00:00Z", "2026-03-31T12:00:00Z"));
}

TEST(PeriodContaining, BeforeTheAnchorGivesTheFirstPeriod) {
  const Timestamp anchor = at("2027-01-31T00:00:00Z");
  EXPECT_EQ(text(period_containing(anchor, kMonthly, at("2026-06-01T00:00:00Z"))),
            Span("2027-01-31T00:00:00Z", "2027-02-28T00:00:00Z"));
}

TEST(PeriodContaining, FindsPeriod500WithoutWalkingFromTheAnchor) {
  // 2026-01-31 + 500 months = 2067-09 (clamped to the 30th); + 501 = 2067-10-31.
  const Timestamp anchor = at("2026-01-31T00:00:00Z");
  EXPECT_EQ(format_rfc3339(period_start(anchor, kMonthly, 500)), "2067-09-30T00:00:00Z");
  EXPECT_EQ(text(period_containing(anchor, kMonthly, at("2067-10-15T12:00:00Z"))),
            Span("2067-09-30T00:00:00Z", "2067-10-31T00:00:00Z"));
  EXPECT_EQ(text(period_containing(anchor, kMonthly, at("2067-09-30T00:00:00Z"))),
            Span("2067-09-30T00:00:00Z", "2067-10-31T00:00:00Z"));
  EXPECT_EQ(text(period_containing(anchor, kMonthly, at("2067-09-29T23:59:59Z"))),
            Span("2067-08-31T00:00:00Z", "2067-09-30T00:00:00Z"));
}

TEST(PeriodContaining, FindsWeek1000AndYear300) {
  const Timestamp anchor = at("2026-01-05T09:00:00Z");
  const Timestamp week_1000 = anchor + 1000LL * 7 * kSecondsPerDay;
  EXPECT_EQ(text(period_containing(anchor, kWeekly, week_1000 + 5)),
            Span(format_rfc3339(week_1000), format_rfc3339(week_1000 + 7 * kSecondsPerDay)));
  const Timestamp leap_anchor = at("2028-02-29T00:00:00Z");
  EXPECT_EQ(text(period_containing(leap_anchor, kYearly, at("2328-02-28T23:59:59Z"))),
            Span("2327-02-28T00:00:00Z", "2328-02-29T00:00:00Z"));
}

TEST(PeriodContaining, AgreesWithAWalkFromTheAnchorForEveryCadence) {
  const Timestamp anchors[] = {at("2027-01-31T14:30:15Z"), at("2028-02-29T00:00:00Z"),
                               at("2026-08-31T23:59:59Z")};
  const Cadence cadences[] = {kMonthly, kQuarterly, kYearly, kWeekly, kBiWeekly, kDaily,
                              Cadence{Interval::kMonth, 7}};
  for (Timestamp anchor : anchors) {
    for (const Cadence& c : cadences) {
      for (std::int64_t n = 0; n < 60; ++n) {
        const Timestamp start = period_start(anchor, c, n);
        const Timestamp end = period_start(anchor, c, n + 1);
        ASSERT_LT(start, end);
        for (Timestamp t : {start, start + 1, (start + end) / 2, end - 1}) {
          const Period p = period_containing(anchor, c, t);
          ASSERT_EQ(p.start, start) << format_rfc3339(t);
          ASSERT_EQ(p.end, end) << format_rfc3339(t);
        }
      }
    }
  }
}

TEST(PeriodStart, RefusesAnIntervalCountBelowOne) {
  EXPECT_THROW((void)period_start(0, Cadence{Interval::kMonth, 0}, 1), std::invalid_argument);
  EXPECT_THROW((void)period_containing(0, Cadence{Interval::kDay, 0}, 10), std::invalid_argument);
}

TEST(PeriodFrom, AnAlignedStartGivesThePeriodItBegins) {
  const Timestamp anchor = at("2027-01-31T00:00:00Z");
  EXPECT_EQ(text(period_from(anchor, kMonthly, at("2027-04-30T00:00:00Z"))),
            Span("2027-04-30T00:00:00Z", "2027-05-31T00:00:00Z"));
  EXPECT_EQ(text(period_from(anchor, kMonthly, at("2028-02-29T00:00:00Z"))),
            Span("2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z"));
}

TEST(PeriodFrom, AnUnalignedStartGivesThePeriodContainingIt) {
  const Timestamp anchor = at("2027-01-31T00:00:00Z");
  EXPECT_EQ(text(period_from(anchor, kMonthly, at("2027-04-15T00:00:00Z"))),
            Span("2027-03-31T00:00:00Z", "2027-04-30T00:00:00Z"));
}

TEST(IsoWeekday, CountsFromMondayAsOne) {
  EXPECT_EQ(iso_weekday(at("1970-01-01T00:00:00Z")), 4);  // a Thursday
  EXPECT_EQ(iso_weekday(at("2026-12-07T23:59:59Z")), 1);  // a Monday
  EXPECT_EQ(iso_weekday(at("2026-12-13T00:00:00Z")), 7);  // a Sunday
}

// calendar_from: the first period and the anchor of a calendar started at `at`.
struct CalendarCase {
  const char* name;
  const char* at;
  Cadence cadence;
  const char* first_end;
  const char* anchor;
};

TEST(CalendarFrom, ADeliveryDayEndsTheFirstPeriodOnTheNearestOne) {
  const Cadence every_2_weeks_thursday{Interval::kWeek, 2, 4, std::nullopt};
  const Cadence weekly_monday{Interval::kWeek, 1, 1, std::nullopt};
  const Cadence monthly_15th{Interval::kMonth, 1, std::nullopt, 15};
  const Cadence every_2_months_1st{Interval::kMonth, 2, std::nullopt, 1};
  const CalendarCase cases[] = {
      // Without a delivery day: the plain period, anchored where it starts.
      {"plain monthly", "2027-01-31T10:00:00Z", kMonthly, "2027-02-28T10:00:00Z", "2027-01-31T10:00:00Z"},
      // Mon 2026-12-07 + 2 weeks = Mon 12-21; Thursdays around it: 12-17 (4 days before), 12-24 (3 after).
      {"2 weeks, Thursday, from a Monday", "2026-12-07T09:30:00Z", every_2_weeks_thursday, "2026-12-24T09:30:00Z",
       "2026-12-24T09:30:00Z"},
      // Fri 12-11 + 2 weeks = Fri 12-25: Thursday 12-24 is 1 day before.
      {"2 weeks, Thursday, from a Friday", "2026-12-11T00:00:00Z", every_2_weeks_thursday, "2026-12-24T00:00:00Z",
       "2026-12-24T00:00:00Z"},
      // Already on the day: a plain period.
      {"on the day", "2026-12-10T08:00:00Z", every_2_weeks_thursday, "2026-12-24T08:00:00Z", "2026-12-24T08:00:00Z"},
      // Thu 12-10 + 1 week = Thu 12-17: Mondays 12-14 (3 before) and 12-21 (4 after).
      {"weekly Monday from a Thursday", "2026-12-10T00:00:00Z", weekly_monday, "2026-12-14T00:00:00Z",
       "2026-12-14T00:00:00Z"},
      // Fri 12-11 + 1 week = Fri 12-18: Mondays 12-14 and 12-21 are 4 and 3 days away.
      {"weekly Monday from a Friday", "2026-12-11T00:00:00Z", weekly_monday, "2026-12-21T00:00:00Z",
       "2026-12-21T00:00:00Z"},
      // Jan 16 + 1 month = Feb 16: the 15th of February is nearest (never Jan 15, before the start).
      {"monthly 15th from the 16th", "2027-01-16T12:00:00Z", monthly_15th, "2027-02-15T12:00:00Z",
       "2027-02-15T12:00:00Z"},
      // Jan 30 + 1 month = Feb 28 (clamped): Feb 15 is 13 days before, Mar 15 15 days after.
      {"monthly 15th from the 30th", "2027-01-30T00:00:00Z", monthly_15th, "2027-02-15T00:00:00Z",
       "2027-02-15T00:00:00Z"},
      // Dec 20 + 2 months = Feb 20: Feb 1 is 19 days before, Mar 1 9 days after.
      {"2 months on the 1st across a year", "2026-12-20T00:00:00Z", every_2_months_1st, "2027-03-01T00:00:00Z",
       "2027-03-01T00:00:00Z"},
  };
  for (const auto& c : cases) {
    const Calendar cal = calendar_from(at(c.at), c.cadence);
    EXPECT_EQ(format_rfc3339(cal.first.start), c.at) << c.name;
    EXPECT_EQ(format_rfc3339(cal.first.end), c.first_end) << c.name;
    EXPECT_EQ(format_rfc3339(cal.anchor), c.anchor) << c.name;
    // Every later period keeps the day.
    if (c.cadence.day_of_week) {
      for (int n = 0; n < 6; ++n)
        EXPECT_EQ(iso_weekday(period_start(cal.anchor, c.cadence, n)), *c.cadence.day_of_week) << c.name;
    }
    if (c.cadence.day_of_month) {
      for (int n = 0; n < 14; ++n)
        EXPECT_EQ(to_civil(period_start(cal.anchor, c.cadence, n)).date.day,
                  static_cast<unsigned>(*c.cadence.day_of_month))
            << c.name;
    }
  }
}

TEST(CalendarFrom, OnATieTheLaterDayIsTaken) {
  // Weekdays cannot tie (a week has an odd number of days); months can. 2027-01-31 + 1
  // month = Feb 28 (clamped); monthly on the 14th: Feb 14 is 14 days before, Mar 14 14 after.
  const Calendar cal = calendar_from(at("2027-01-31T00:00:00Z"), Cadence{Interval::kMonth, 1, std::nullopt, 14});
  EXPECT_EQ(format_rfc3339(cal.first.end), "2027-03-14T00:00:00Z");
}

}  // namespace
}  // namespace recur
