// Reads that may lag. A request on a route declared to tolerate a bounded staleness (lists,
// analytics, forecasts: http::Router::reads_may_lag) runs under a StaleReadsScope; while one
// is open on the thread, db::ReplicaRouter may serve its read-only transactions from a
// streaming replica (docs/OPERATIONS.md, "Read replica"). Everything else, writes and the
// reads that must see them, stays on the primary.
#pragma once

#include <cstdint>

namespace recur {

namespace detail {
inline thread_local bool stale_reads_allowed = false;
inline thread_local std::uint64_t replica_reads = 0;
}  // namespace detail

inline bool stale_reads_allowed() { return detail::stale_reads_allowed; }

// Transactions this thread has begun on the replica (db::ReplicaRouter counts them): the
// pipeline asks the primary again when a request read there answered 404 or 422.
inline std::uint64_t replica_reads_on_this_thread() { return detail::replica_reads; }
inline void note_replica_read() { ++detail::replica_reads; }

// Allows stale reads on this thread for its lifetime (nests).
class StaleReadsScope {
 public:
  StaleReadsScope() : previous_(detail::stale_reads_allowed) { detail::stale_reads_allowed = true; }
  ~StaleReadsScope() { detail::stale_reads_allowed = previous_; }
  StaleReadsScope(const StaleReadsScope&) = delete;
  StaleReadsScope& operator=(const StaleReadsScope&) = delete;

 private:
  bool previous_;
};

}  // namespace recur
