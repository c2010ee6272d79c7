// A bounded pool of connections shared by both engines: one connection serves one
// thread at a time; borrowers block until one is free.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "platform/blocking.h"
#include "platform/result.h"

namespace recur::db {

// What a pool is doing, for /metrics.
struct PoolStats {
  int capacity = 0;
  int in_use = 0;                 // lent out
  int idle = 0;                   // open, waiting to be lent
  int waiters = 0;                // threads blocked in acquire() now
  std::uint64_t acquires = 0;     // since start
  double wait_seconds_total = 0;  // time acquire() spent blocked, summed
};

template <typename Conn>
class Pool {
 public:
  using Factory = std::function<Result<std::unique_ptr<Conn>>()>;

  Pool(int size, Factory factory) : capacity_(size), factory_(std::move(factory)) {}

  // A borrowed connection; returned to the pool when destroyed (unless discarded).
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        release();
        pool_ = std::exchange(other.pool_, nullptr);
        conn_ = std::move(other.conn_);
      }
      return *this;
    }
    ~Lease() { release(); }
    Conn* operator->() const { return conn_.get(); }
    Conn& operator*() const { return *conn_; }
    // Drops a broken connection instead of returning it; the pool opens a new one later.
    void discard() { conn_.reset(); }

   private:
    void release() {
      if (!pool_) return;
      if (conn_) pool_->give_back(std::move(conn_));
      else pool_->forget();
      pool_ = nullptr;
    }

    Pool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  // Blocks until a connection is free; throws WouldBlock on a thread that must not block
  // (platform/blocking.h), before anything else happens.
  Result<Lease> acquire() {
    may_block();
    std::unique_lock lock(mu_);
    ++acquires_;
    if (idle_.empty() && open_ >= capacity_) {
      auto began = std::chrono::steady_clock::now();
      ++waiters_;
      cv_.wait(lock, [&] { return !idle_.empty() || open_ < capacity_; });
      --waiters_;
      wait_ns_ +=
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - began).count();
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    auto made = factory_();
    if (!made.ok()) {
      forget();
      return std::move(made).error();
    }
    return Lease(this, std::move(made).value());
  }

  PoolStats stats() {
    std::lock_guard lock(mu_);
    int idle = static_cast<int>(idle_.size());
    return PoolStats{capacity_, open_ - idle, idle, waiters_, acquires_, static_cast<double>(wait_ns_) / 1e9};
  }

 private:
  void give_back(std::unique_ptr<Conn> conn) {
    {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
  }
  void forget() {
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    cv_.notify_one();
  }

  const int capacity_;
  Factory factory_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int open_ = 0;
  int waiters_ = 0;  // under mu_, as the figures below
  std::uint64_t acquires_ = 0;
  std::int64_t wait_ns_ = 0;
};

}  // namespace recur::db
