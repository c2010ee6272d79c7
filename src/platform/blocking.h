// Threads that must not block. An HTTP I/O thread may answer a request itself when the
// answer needs nothing that blocks (a cache hit); everything that can block (borrowing a
// database connection: db::Pool::acquire) calls may_block() first, which, on such a thread,
// throws WouldBlock before anything has been done, and the server hands the request to its
// blocking pool instead, where it runs again from the start.
#pragma once

namespace recur {

// Thrown by may_block() under a NonBlockingScope. Deliberately not a std::exception, so the
// `catch (const std::exception&)` that turns handler failures into 500s lets it through.
struct WouldBlock {};

namespace detail {
inline thread_local bool blocking_forbidden = false;
}

inline bool blocking_forbidden() { return detail::blocking_forbidden; }

// Call before anything that may block the thread; throws WouldBlock where that is forbidden.
inline void may_block() {
  if (detail::blocking_forbidden) throw WouldBlock{};
}

// Forbids blocking on this thread for its lifetime (nests).
class NonBlockingScope {
 public:
  NonBlockingScope() : previous_(detail::blocking_forbidden) { detail::blocking_forbidden = true; }
  ~NonBlockingScope() { detail::blocking_forbidden = previous_; }
  NonBlockingScope(const NonBlockingScope&) = delete;
  NonBlockingScope& operator=(const NonBlockingScope&) = delete;

 private:
  bool previous_;
};

}  // namespace recur
