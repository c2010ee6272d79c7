// IANA time zones ("Europe/Berlin") read from the system's TZif files (/usr/share/zoneinfo,
// Debian package tzdata), without a date library: libstdc++ 12 has no std::chrono tzdb.
//
// A zone is its list of transitions (UTC instants where the offset changes) and the offset
// in force after each. Debian's tzdata ships "fat" TZif files, whose transitions are listed
// up to 2037; past the last listed transition the last offset holds (the file's POSIX-TZ
// footer rule is not read). UTC is the zone of no transitions and offset 0.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"
#include "platform/time.h"

namespace recur {

class TimeZone {
 public:
  struct Transition {
    Timestamp at;              // UTC instant from which `offset` applies
    std::int32_t offset = 0;   // seconds east of UTC (CET: 3600)
  };

  // UTC.
  TimeZone() = default;
  // `initial`: the offset before the first transition. Transitions ascending by `at`.
  TimeZone(std::string name, std::int32_t initial, std::vector<Transition> transitions)
      : name_(std::move(name)), initial_(initial), transitions_(std::move(transitions)) {}

  const std::string& name() const { return name_; }
  // Seconds east of UTC in force at the UTC instant `t`.
  std::int32_t offset_at(Timestamp t) const;
  // The civil (wall-clock) time at `t`.
  CivilTime local(Timestamp t) const { return to_civil(t + offset_at(t)); }
  // The UTC instant of the wall-clock time `wall`. A wall time skipped by a clock jump
  // forward (02:30 on a spring DST night) is read with the offset before the jump (so it
  // lands an hour later in the new offset); a repeated one (autumn) is the first.
  Timestamp utc_of(const CivilTime& wall) const;

 private:
  std::string name_ = "UTC";
  std::int32_t initial_ = 0;
  std::vector<Transition> transitions_;
};

// Whether `name` has the shape of an IANA zone name ("Area/Location", "UTC"): letters,
// digits, '_', '-', '+' and '/' separated parts, none "." or ".."; at most 64 characters.
bool is_zone_name_shape(std::string_view name);

// Reads a TZif file's bytes (version 1, 2, 3 or 4; the 64-bit data when present). Pure.
Result<TimeZone> parse_tzif(std::string name, std::string_view bytes);

// The zone `name` from `dir` (default /usr/share/zoneinfo), cached for the process.
// Unknown or malformed: ErrorKind::kInvalid "validation_failed".
Result<std::shared_ptr<const TimeZone>> load_time_zone(std::string_view name,
                                                       const std::string& dir = "/usr/share/zoneinfo");

}  // namespace recur
