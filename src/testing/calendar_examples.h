// What the calendar's worked examples share: a time from RFC 3339 text, and the cadences
// they use (platform/calendar_test.cc, subscriptions/model_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "platform/calendar.h"
#include "platform/time.h"

namespace recur::testing {

inline Timestamp at(std::string_view text) {
  const auto t = parse_rfc3339(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(0);
}

inline constexpr Cadence kMonthly{Interval::kMonth, 1};
inline constexpr Cadence kQuarterly{Interval::kMonth, 3};
inline constexpr Cadence kYearly{Interval::kYear, 1};
inline constexpr Cadence kWeekly{Interval::kWeek, 1};
inline constexpr Cadence kBiWeekly{Interval::kWeek, 2};
inline constexpr Cadence kDaily{Interval::kDay, 1};

}  // namespace recur::testing
