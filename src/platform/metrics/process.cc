// process_* metrics from /proc/self (see process.h).
#include "platform/metrics/process.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

// jemalloc's control interface, when the binary links it (weak: null under glibc's malloc).
// It tells what the binary links, not what runs: an allocator put in front by LD_PRELOAD is
// not seen (decision 0031).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace recur::metrics {

bool heap_is_jemalloc() { return mallctl != nullptr; }

HeapUsage heap_usage() {
  if (heap_is_jemalloc()) {
    std::uint64_t epoch = 1;  // refreshes jemalloc's statistics
    std::size_t len = sizeof epoch;
    mallctl("epoch", &epoch, &len, &epoch, len);
    std::size_t allocated = 0, resident = 0;
    len = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0) return {};
    len = sizeof resident;
    if (mallctl("stats.resident", &resident, &len, nullptr, 0) != 0) return {};
    return {allocated, resident > allocated ? resident - allocated : 0};
  }
  struct mallinfo2 m = mallinfo2();
  return {m.uordblks + m.hblkhd, m.fordblks};
}

std::optional<ProcessStat> parse_proc_stat(std::string_view text, long ticks_per_second, long page_bytes) {
  // "pid (comm) state ppid ...": comm may hold ") ", so the fields start after the last ')'.
  auto close = text.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state)
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty()) {
    auto start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    auto end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  // proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24 (pages).
  auto field = [&](int number, double& out) {
    std::size_t at = static_cast<std::size_t>(number - 3);
    if (at >= fields.size()) return false;
    unsigned long long v = 0;
    auto [ptr, ec] = std::from_chars(fields[at].data(), fields[at].data() + fields[at].size(), v);
    if (ec != std::errc() || ptr != fields[at].data() + fields[at].size()) return false;
    out = static_cast<double>(v);
    return true;
  };
  double utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;
  if (!field(14, utime) || !field(15, stime) || !field(22, start) || !field(23, vsize) || !field(24, rss))
    return std::nullopt;
  double ticks = static_cast<double>(ticks_per_second);
  return ProcessStat{(utime + stime) / ticks, start / ticks, vsize, rss * static_cast<double>(page_bytes)};
}

namespace {

std::optional<ProcessStat> read_self() {
  std::ifstream in("/proc/self/stat");
  std::stringstream text;
  text << in.rdbuf();
  return parse_proc_stat(text.str(), sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
}

// Seconds since the epoch at boot (/proc/stat's btime), for the start time.
double boot_time() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::end(it);
       it.increment(ec))
    ++n;
  return n > 0 ? n - 1 : 0;  // the iterator's own descriptor
}

std::vector<Sample> one(double value) { return {Sample{{}, value}}; }

}  // namespace

void add_process_metrics(Registry& registry) {
  registry.read_at_scrape("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                          Type::kCounter, {}, [] {
                            auto s = read_self();
                            return s ? one(s->cpu_seconds) : std::vector<Sample>{};
                          });
  registry.read_at_scrape("process_resident_memory_bytes", "Resident memory size in bytes.", Type::kGauge, {}, [] {
    auto s = read_self();
    return s ? one(s->resident_bytes) : std::vector<Sample>{};
  });
  registry.read_at_scrape("process_virtual_memory_bytes", "Virtual memory size in bytes.", Type::kGauge, {}, [] {
    auto s = read_self();
    return s ? one(s->virtual_bytes) : std::vector<Sample>{};
  });
  const double booted = boot_time();
  registry.read_at_scrape("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                          Type::kGauge, {}, [booted] {
                            auto s = read_self();
                            return s && booted > 0 ? one(booted + s->start_seconds) : std::vector<Sample>{};
                          });
  registry.read_at_scrape("process_open_fds", "Number of open file descriptors.", Type::kGauge, {},
                          [] { return one(open_fds()); });
  // The allocator's view (heap_usage: jemalloc's or glibc's): bytes the program holds, and
  // bytes the allocator keeps without use. A growing in-use figure is a leak or a cache; a growing RSS with flat in-use is the
  // allocator's fragmentation (docs/OPERATIONS.md, "Load tests").
  registry.read_at_scrape("recur_process_heap_bytes",
                          "Heap bytes by state: in use by the program, or kept by the allocator without use.",
                          Type::kGauge, {"state"}, [] {
                            auto h = heap_usage();
                            return std::vector<Sample>{{{"in_use"}, static_cast<double>(h.in_use)},
                                                       {{"free"}, static_cast<double>(h.free)}};
                          });
  registry.read_at_scrape("process_max_fds", "Maximum number of open file descriptors.", Type::kGauge, {}, [] {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::vector<Sample>{};
    return one(static_cast<double>(limit.rlim_cur));
  });
}

}  // namespace recur::metrics
