// Runs work on a few threads at once, for batch jobs (billing runs) on engines that allow
// concurrent writers.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace recur {

// Calls work(i) for every i in [0, n), on `threads` threads (the caller's included);
// returns once every call has returned. `work` must be safe to call concurrently.
template <typename Work>
void parallel_for(int threads, std::size_t n, Work&& work) {
  threads = static_cast<int>(std::min<std::size_t>(std::max(threads, 1), n));
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i) work(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  auto loop = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) work(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(loop);
  loop();
  for (auto& t : pool) t.join();
}

// Runs work(k) once on each of `threads` threads (the caller's included) and waits for all.
template <typename Work>
void on_threads(int threads, Work&& work) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&work, t] { work(t); });
  work(0);
  for (auto& t : pool) t.join();
}

}  // namespace recur
