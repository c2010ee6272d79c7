// The production clock: wall time from the operating system, in whole UTC seconds.
#include "platform/clock.h"

#include <chrono>

namespace recur {

Timestamp SystemClock::now() const {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace recur
