// The injected Clock: every read of "now" goes through one, so tests drive time.
#pragma once

#include <atomic>

#include "platform/time.h"

namespace recur {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
};

// A clock that only moves when told to: tests and `serve --test-mode`.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(Timestamp start) : now_(start) {}
  Timestamp now() const override { return now_.load(); }
  void set(Timestamp t) { now_.store(t); }
  void advance(std::int64_t seconds) { now_.fetch_add(seconds); }

 private:
  std::atomic<Timestamp> now_;
};

}  // namespace recur
