// How much work waits in a queue table (an outbox), and since when: what /metrics reports
// for each. Each module reads its own tables into one.
#pragma once

#include <cstdint>
#include <optional>

#include "platform/time.h"

namespace recur::metrics {

struct Backlog {
  std::int64_t depth = 0;           // rows waiting
  std::optional<Timestamp> oldest;  // when the longest-waiting one became due; none when empty
};

}  // namespace recur::metrics
