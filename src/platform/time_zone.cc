// IANA time zones from TZif files (RFC 8536).
#include "platform/time_zone.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace recur {
namespace {

Error bad_zone(std::string_view name, std::string_view why) {
  return Error::invalid("validation_failed", "time zone '" + std::string(name) + "' " + std::string(why));
}

std::int64_t big_endian(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  if (width == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

struct Header {
  char version = 0;
  std::int64_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

constexpr std::size_t kHeaderSize = 44;

std::optional<Header> header_at(std::string_view bytes, std::size_t at) {
  if (bytes.size() < at + kHeaderSize || bytes.substr(at, 4) != "TZif") return std::nullopt;
  Header h;
  h.version = bytes[at + 4];
  std::int64_t* counts[] = {&h.isutcnt, &h.isstdcnt, &h.leapcnt, &h.timecnt, &h.typecnt, &h.charcnt};
  for (std::size_t i = 0; i < 6; ++i) *counts[i] = big_endian(bytes, at + 20 + 4 * i, 4);
  for (auto* c : counts)
    if (*c < 0 || *c > 100000) return std::nullopt;
  return h;
}

// Size of a data block after its header, with `time_size`-byte times.
std::size_t block_size(const Header& h, std::size_t time_size) {
  return static_cast<std::size_t>(h.timecnt * static_cast<std::int64_t>(time_size) + h.timecnt + h.typecnt * 6 +
                                  h.charcnt + h.leapcnt * static_cast<std::int64_t>(time_size + 4) + h.isstdcnt +
                                  h.isutcnt);
}

}  // namespace

std::int32_t TimeZone::offset_at(Timestamp t) const {
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t,
                             [](Timestamp v, const Transition& tr) { return v < tr.at; });
  if (it == transitions_.begin()) return initial_;
  return std::prev(it)->offset;
}

Timestamp TimeZone::utc_of(const CivilTime& wall) const {
  Timestamp w = from_civil(wall);
  // The offsets in force a day either side: any one transition near `w` lies between them.
  std::int32_t before = offset_at(w - kSecondsPerDay);
  std::int32_t after = offset_at(w + kSecondsPerDay);
  if (offset_at(w - before) == before) return w - before;  // the first of a repeated hour too
  if (offset_at(w - after) == after) return w - after;
  return w - before;  // skipped by a jump forward: read with the offset before it
}

bool is_zone_name_shape(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.back() == '/') return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                c == '+' || c == '.';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

Result<TimeZone> parse_tzif(std::string name, std::string_view bytes) {
  auto first = header_at(bytes, 0);
  if (!first) return bad_zone(name, "is not a TZif file");
  Header h = *first;
  std::size_t data = kHeaderSize;
  std::size_t time_size = 4;
  if (h.version >= '2') {
    // Skip the 32-bit block: the 64-bit one follows with its own header.
    auto second = header_at(bytes, kHeaderSize + block_size(h, 4));
    if (!second) return bad_zone(name, "has a malformed TZif version 2 header");
    h = *second;
    data = kHeaderSize + block_size(*first, 4) + kHeaderSize;
    time_size = 8;
  }
  if (bytes.size() < data + block_size(h, time_size) || h.typecnt < 1) return bad_zone(name, "is truncated");
  std::size_t types_at = data + static_cast<std::size_t>(h.timecnt) * (time_size + 1);
  auto type_offset = [&](std::int64_t index) {
    return static_cast<std::int32_t>(big_endian(bytes, types_at + static_cast<std::size_t>(index) * 6, 4));
  };
  std::vector<TimeZone::Transition> transitions;
  transitions.reserve(static_cast<std::size_t>(h.timecnt));
  for (std::int64_t i = 0; i < h.timecnt; ++i) {
    Timestamp at = big_endian(bytes, data + static_cast<std::size_t>(i) * time_size, time_size);
    auto index = static_cast<unsigned char>(bytes[data + static_cast<std::size_t>(h.timecnt) * time_size +
                                                  static_cast<std::size_t>(i)]);
    if (index >= h.typecnt) return bad_zone(name, "names a missing local time type");
    if (!transitions.empty() && at <= transitions.back().at) return bad_zone(name, "has unsorted transitions");
    transitions.push_back({at, type_offset(index)});
  }
  return TimeZone(std::move(name), type_offset(0), std::move(transitions));
}

Result<std::shared_ptr<const TimeZone>> load_time_zone(std::string_view name, const std::string& dir) {
  if (!is_zone_name_shape(name)) return bad_zone(name, "is not an IANA time zone name such as Europe/Berlin");
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> cache;
  std::string key = dir + "/" + std::string(name);
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  std::ifstream in(key, std::ios::binary);
  if (!in) return bad_zone(name, "is not a known IANA time zone");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  RECUR_ASSIGN(TimeZone zone, parse_tzif(std::string(name), bytes.str()));
  auto shared = std::make_shared<const TimeZone>(std::move(zone));
  std::lock_guard lock(mutex);
  cache.emplace(std::move(key), shared);
  return std::shared_ptr<const TimeZone>(shared);
}

}  // namespace recur
