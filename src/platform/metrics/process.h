// The process's own figures, as every Prometheus client names them (process_*): resident and
// virtual memory, CPU seconds, open and allowed file descriptors, start time. Linux (/proc).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "platform/metrics/registry.h"

namespace recur::metrics {

struct ProcessStat {
  double cpu_seconds = 0;    // user + system
  double start_seconds = 0;  // since boot
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

// Reads /proc/<pid>/stat's text (the command may hold spaces and parentheses), with the
// clock ticks per second and page size of the machine; nullopt when it does not parse.
std::optional<ProcessStat> parse_proc_stat(std::string_view text, long ticks_per_second, long page_bytes);

// The allocator's own figures: bytes the program holds, and bytes the allocator keeps
// without use (glibc: free chunks in its arenas; jemalloc: resident pages beyond the bytes
// allocated).
struct HeapUsage {
  std::size_t in_use = 0;
  std::size_t free = 0;
};
HeapUsage heap_usage();
// Whether malloc is jemalloc's (the `recur` binary links it: decision 0031).
bool heap_is_jemalloc();

// Registers the process_* families, read from /proc/self at each scrape, and
// recur_process_heap_bytes (the allocator's in-use and free bytes).
void add_process_metrics(Registry& registry);

}  // namespace recur::metrics
