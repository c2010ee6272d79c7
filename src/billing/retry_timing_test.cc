// The retry rule that reads the decline: worked examples (docs/billing-rules.md).
#include "billing/retry_timing.h"

#include <gtest/gtest.h>

namespace recur::billing {
namespace {

Timestamp at(const char* text) { return *parse_rfc3339(text); }

std::string describe(const RetryPlan& plan) {
  std::string out = plan.card_blocked ? "blocked " : "";
  if (const Timestamp* t = std::get_if<Timestamp>(&plan.step)) return out + format_rfc3339(*t);
  return out + "final:" + std::string(to_string(std::get<FinalAction>(plan.step)));
}

const TimeZone& zone(const char* name) {
  static TimeZone utc;
  if (std::string(name) == "UTC") return utc;
  auto z = load_time_zone(name);
  EXPECT_TRUE(z.ok()) << name;
  static std::vector<std::shared_ptr<const TimeZone>> kept;
  kept.push_back(*z);
  return **z;
}

struct Case {
  const char* what;
  DunningMode mode;
  std::vector<std::int64_t> retry_days;
  const char* first_failed;
  const char* failed_at;
  std::int64_t attempt;
  std::optional<DeclineType> type;
  const char* code;
  const char* zone;
  const char* expected;
};

constexpr auto kSmart = DunningMode::kSmart;
constexpr auto kFixed = DunningMode::kFixed;
constexpr auto kHard = DeclineType::kHard;
constexpr auto kSoft = DeclineType::kSoft;

TEST(PlanRetry, ReadsTheDeclineInSmartModeAndFollowsTheScheduleInFixedMode) {
  const Case cases[] = {
      // Fixed: the schedule, whatever the decline.
      {"fixed, stolen", kFixed, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-10T14:00:00Z", 1, kHard, "stolen_card",
       "UTC", "2026-03-11T14:00:00Z"},
      {"fixed, funds", kFixed, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-10T14:00:00Z", 1, kSoft,
       "insufficient_funds", "America/New_York", "2026-03-11T14:00:00Z"},
      {"fixed, exhausted", kFixed, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-17T14:00:00Z", 5, kSoft,
       "insufficient_funds", "UTC", "final:cancel"},
      // Smart, hard: the card is blocked; the final action waits for the window's end.
      {"smart, stolen", kSmart, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-10T14:00:00Z", 1, kHard, "stolen_card",
       "UTC", "blocked 2026-03-17T14:00:00Z"},
      {"smart, hard on a later try", kSmart, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-13T14:00:00Z", 3, kHard,
       "do_not_honor", "UTC", "blocked 2026-03-17T14:00:00Z"},
      {"smart, hard on the last try", kSmart, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-17T14:00:00Z", 5, kHard,
       "expired_card", "UTC", "final:cancel"},
      // Smart, soft but not funds: the schedule.
      {"smart, processing_error", kSmart, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-10T14:00:00Z", 1, kSoft,
       "processing_error", "Europe/Berlin", "2026-03-11T14:00:00Z"},
      {"smart, no decline (no card)", kSmart, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-10T14:00:00Z", 1,
       std::nullopt, "", "Europe/Berlin", "2026-03-11T14:00:00Z"},
      // Smart, insufficient funds: 09:00 local on the scheduled day when no payday comes in
      // the window (failed 2 March, window to 9 March).
      {"funds, no payday in the window, UTC", kSmart, {1, 3, 5, 7}, "2026-03-02T14:00:00Z", "2026-03-02T14:00:00Z", 1,
       kSoft, "insufficient_funds", "UTC", "2026-03-03T09:00:00Z"},
      {"funds, Berlin winter (UTC+1)", kSmart, {1, 3, 5, 7}, "2026-03-02T14:00:00Z", "2026-03-02T14:00:00Z", 1, kSoft,
       "insufficient_funds", "Europe/Berlin", "2026-03-03T08:00:00Z"},
      {"funds, New York (UTC-5)", kSmart, {1, 3, 5, 7}, "2026-03-02T14:00:00Z", "2026-03-02T14:00:00Z", 1, kSoft,
       "insufficient_funds", "America/New_York", "2026-03-03T14:00:00Z"},
      // Late evening in New York is the next day in UTC: the local day counts.
      {"funds, local day differs from UTC day", kSmart, {1, 3, 5, 7}, "2026-03-03T03:00:00Z", "2026-03-03T03:00:00Z",
       1, kSoft, "insufficient_funds", "America/New_York", "2026-03-03T14:00:00Z"},
      {"funds, Kolkata (UTC+5:30)", kSmart, {1, 3, 5, 7}, "2026-03-02T14:00:00Z", "2026-03-02T14:00:00Z", 1, kSoft,
       "insufficient_funds", "Asia/Kolkata", "2026-03-03T03:30:00Z"},  // failed at 19:30 local on the 2nd
      // A payday in the window and none since the failure: wait for its morning.
      {"funds, waits for the 15th", kSmart, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-10T14:00:00Z", 1, kSoft,
       "insufficient_funds", "UTC", "2026-03-15T09:00:00Z"},
      {"funds, waits for the 1st across a month end", kSmart, {1, 3, 5, 7}, "2026-04-27T14:00:00Z",
       "2026-04-27T14:00:00Z", 1, kSoft, "insufficient_funds", "UTC", "2026-05-01T09:00:00Z"},
      {"funds, February's end (28 days)", kSmart, {1, 3, 5, 7}, "2026-02-26T10:00:00Z", "2026-02-26T10:00:00Z", 1,
       kSoft, "insufficient_funds", "UTC", "2026-03-01T09:00:00Z"},
      {"funds, a leap February's 29th", kSmart, {1, 3, 5, 7}, "2028-02-28T10:00:00Z", "2028-02-28T10:00:00Z", 1, kSoft,
       "insufficient_funds", "UTC", "2028-03-01T09:00:00Z"},
      // A payday passed since the failure: the scheduled day's morning (failed on the 14th,
      // scheduled the 15th is itself a payday; then the 17th after the 15th).
      {"funds, the scheduled day is payday", kSmart, {1, 3, 5, 7}, "2026-03-14T14:00:00Z", "2026-03-14T14:00:00Z", 1,
       kSoft, "insufficient_funds", "UTC", "2026-03-15T09:00:00Z"},
      {"funds, after the payday retry: the next scheduled day", kSmart, {1, 3, 5, 7}, "2026-03-14T14:00:00Z",
       "2026-03-15T09:00:00Z", 2, kSoft, "insufficient_funds", "UTC", "2026-03-17T09:00:00Z"},
      // A retry delayed to a payday leaves scheduled days behind: a day after it at the earliest.
      {"funds, scheduled day already passed", kSmart, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-15T09:00:00Z", 2,
       kSoft, "insufficient_funds", "UTC", "2026-03-16T09:00:00Z"},
      // Past the window's last day: the final action, at once.
      {"funds, window over", kSmart, {1, 3, 5, 7}, "2026-03-10T14:00:00Z", "2026-03-17T09:00:00Z", 4, kSoft,
       "insufficient_funds", "UTC", "final:cancel"},
      {"funds, the last retry day is the window's last morning", kSmart, {1, 3, 5, 7}, "2026-03-02T14:00:00Z",
       "2026-03-07T09:00:00Z", 4, kSoft, "insufficient_funds", "UTC", "2026-03-09T09:00:00Z"},
      // DST: 09:00 local is 08:00Z in CET and 07:00Z in CEST; the night of the change.
      {"funds, Berlin on the DST day", kSmart, {1, 2}, "2026-03-28T12:00:00Z", "2026-03-28T12:00:00Z", 1, kSoft,
       "insufficient_funds", "Europe/Berlin", "2026-03-29T07:00:00Z"},
      {"funds, New York after the fall back", kSmart, {1, 3, 5, 7}, "2026-10-31T16:00:00Z", "2026-10-31T16:00:00Z", 1,
       kSoft, "insufficient_funds", "America/New_York", "2026-11-01T14:00:00Z"},
      {"funds, New York to the 15th (EST)", kSmart, {1, 3, 5, 10}, "2026-11-09T16:00:00Z", "2026-11-09T16:00:00Z", 1,
       kSoft, "insufficient_funds", "America/New_York", "2026-11-15T14:00:00Z"},
      // The southern hemisphere's summer time.
      {"funds, Sydney (UTC+11 in January)", kSmart, {1, 3, 5, 7}, "2026-01-05T02:00:00Z", "2026-01-05T02:00:00Z", 1,
       kSoft, "insufficient_funds", "Australia/Sydney", "2026-01-05T22:00:00Z"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    DunningSettings s;
    s.mode = c.mode;
    s.retry_days = c.retry_days;
    FailedAttempt f{at(c.first_failed), at(c.failed_at), c.attempt, c.type, c.code};
    EXPECT_EQ(describe(plan_retry(s, f, zone(c.zone))), c.expected);
  }
}

TEST(PlanRetry, TheFinalActionIsTheSettings) {
  DunningSettings s;
  s.final_action = FinalAction::kPause;
  FailedAttempt f{at("2026-03-10T14:00:00Z"), at("2026-03-17T14:00:00Z"), 5, DeclineType::kSoft, "insufficient_funds"};
  EXPECT_EQ(describe(plan_retry(s, f, TimeZone())), "final:pause");
  EXPECT_EQ(window_end(s, at("2026-03-10T14:00:00Z")), at("2026-03-17T14:00:00Z"));
}

}  // namespace
}  // namespace recur::billing
