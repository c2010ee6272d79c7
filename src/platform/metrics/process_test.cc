#include "platform/metrics/process.h"

#include <gtest/gtest.h>

namespace recur::metrics {
namespace {

// Fields 3..24 of proc(5)'s stat line after "pid (comm)": utime 14 = 250, stime 15 = 50,
// starttime 22 = 1000, vsize 23 = 8192000, rss 24 = 300 pages.
constexpr const char* kTail =
    " S 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1000 8192000 300 18446744073709551615";

TEST(ProcStat, ReadsCpuMemoryAndStartFromTheFieldsAfterTheCommand) {
  auto s = parse_proc_stat(std::string("4242 (recur)") + kTail, 100, 4096);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(s->start_seconds, 10.0);
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 8192000);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 300.0 * 4096);
}

TEST(ProcStat, ACommandWithSpacesAndParenthesesDoesNotShiftTheFields) {
  auto s = parse_proc_stat(std::string("7 (a) b (c)") + kTail, 100, 4096);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.0);
}

TEST(ProcStat, TruncatedOrGarbledTextIsRefused) {
  EXPECT_FALSE(parse_proc_stat("4242 (recur) S 1 1", 100, 4096));
  EXPECT_FALSE(parse_proc_stat("no parenthesis here", 100, 4096));
  EXPECT_FALSE(
      parse_proc_stat(std::string("1 (x)") + " S 1 1 1 0 -1 4 100 0 0 0 x 50 0 0 20 0 4 0 1000 8 3", 100, 4096));
  EXPECT_FALSE(parse_proc_stat(std::string("4242 (recur)") + kTail, 0, 4096));
}

}  // namespace
}  // namespace recur::metrics
