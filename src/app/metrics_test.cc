#include "app/metrics.h"

#include <gtest/gtest.h>

namespace recur::app {
namespace {

TEST(SchedulerStall, TenPeriodsWithAFloorOfFiveMinutes) {
  struct Case {
    int tick;
    double threshold;
  } cases[] = {{1, 300}, {30, 300}, {31, 310}, {60, 600}, {3600, 36000}};
  for (const auto& c : cases) EXPECT_EQ(stall_threshold_seconds(c.tick), c.threshold) << c.tick;
}

TEST(SchedulerStall, StalledOnlyPastTheThreshold) {
  EXPECT_FALSE(scheduler_stalled(299, 30));
  EXPECT_FALSE(scheduler_stalled(300, 30));
  EXPECT_TRUE(scheduler_stalled(301, 30));
  EXPECT_FALSE(scheduler_stalled(599, 60));
  EXPECT_TRUE(scheduler_stalled(601, 60));
}

}  // namespace
}  // namespace recur::app
