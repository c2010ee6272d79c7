// A cache of rows that transactions read, kept in step with the writes of this node and,
// through the invalidation bus, of every other: a plan, the shop's blackout dates.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "platform/cache/invalidation.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/db/tx_memo.h"

namespace recur::cache {

// The rules that make a stale answer impossible on one node:
//  - A write drops the key at once and again after its commit, and marks the moment
//    (db::next_sequence()); a transaction begun before the last such mark neither reads the
//    cache nor fills it. The writer itself is one of them, so it reads its own write.
//  - A value read is cached after the reading transaction commits (a read of a transaction
//    that rolled back is not kept), and only if no write was marked since that transaction
//    began: its snapshot may predate a write that committed meanwhile.
// Across nodes a committed write is published on the bus and every node drops the key when
// the message arrives. While the bus is down (Redis unreachable) the cache is neither read
// nor filled: an outage costs the cache, never a stale answer. A node resubscribed after an
// outage drops everything (it may have missed messages). Every entry also expires after
// `ttl_seconds`, for what no rule covers (a message lost while the bus looked up, a row
// changed by hand in SQL).
//
// Requires: every write to what a key caches calls invalidate_after_commit in its
// transaction; V is copyable.
template <class V>
class TxCache {
 public:
  // `prefix` names this cache's keys on the shared bus ("plan:").
  TxCache(std::string prefix, const Clock& clock, std::int64_t ttl_seconds, std::size_t max_entries = 10000)
      : prefix_(std::move(prefix)), clock_(clock), ttl_(ttl_seconds), max_entries_(max_entries) {}
  TxCache(const TxCache&) = delete;
  TxCache& operator=(const TxCache&) = delete;

  // What `tx` itself read for `key` (fill) and has not written since, else the value cached
  // for `key` if `tx` may use it; otherwise read it and call fill().
  std::optional<V> get(db::Tx& tx, const std::string& key) {
    if (const V* mine = Memo::find(tx, prefix_ + key)) return *mine;
    std::lock_guard lock(mu_);
    if (!usable(tx.began())) {
      ++misses_;
      return std::nullopt;
    }
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.expires <= clock_.now()) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
    return it->second.value;
  }

  // The value cached for `key`, for work outside any transaction that would begin now (a
  // request answered from the cache without the database): as get() for such a transaction.
  std::optional<V> peek(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if ((bus_ && !bus_->live()) || it == entries_.end() || it->second.expires <= clock_.now()) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
    return it->second.value;
  }

  // What `tx` read for `key`: cached once `tx` commits, if the rules above allow, until
  // `until` at the latest (what it shows may change by itself then).
  // Kept for the rest of `tx` at once (TxMemo).
  void fill(db::Tx& tx, const std::string& key, V value, std::optional<Timestamp> until = std::nullopt) {
    Memo::put(tx, prefix_ + key, value);
    if (tx.may_lag()) return;  // a replica's read may be older than a write already heard of
    tx.after_commit([this, key, until, value = std::move(value), began = tx.began()]() mutable {
      std::lock_guard lock(mu_);
      if (!usable(began)) return;
      if (entries_.size() >= max_entries_) entries_.clear();
      Timestamp expires = clock_.now() + ttl_;
      if (until && *until < expires) expires = *until;
      entries_.insert_or_assign(key, Entry{std::move(value), expires});
    });
  }

  // `tx` writes what `key` caches: dropped now, and on every node once `tx` commits.
  void invalidate_after_commit(db::Tx& tx, const std::string& key) {
    Memo::forget(tx, prefix_ + key);
    drop(key);
    tx.after_commit([this, key] {
      drop(key);
      if (bus_) bus_->publish(prefix_ + key);
    });
  }
  // `tx` writes what every key may cache (what they were all computed from).
  void invalidate_all_after_commit(db::Tx& tx) {
    Memo::forget_all(tx);
    drop_all();
    tx.after_commit([this] {
      drop_all();
      if (bus_) bus_->publish(prefix_ + kAll);
    });
  }

  // Listens to the other nodes' writes. Requires: called once, before any transaction.
  void connect(InvalidationBus* bus) {
    bus_ = bus;
    if (!bus_) return;
    bus_->subscribe(
        [this](const std::string& message) {
          if (message.rfind(prefix_, 0) != 0) return;
          auto key = message.substr(prefix_.size());
          if (key == kAll)
            drop_all();
          else
            drop(key);
        },
        [this] { drop_all(); });
  }

  // Everything dropped, here only (a write elsewhere that this cache's values depend on).
  void drop_all() {
    {
      std::lock_guard lock(mu_);
      mark_ = db::next_sequence();
      entries_.clear();
    }
    for (auto& f : on_drop_) f();
  }

  // `f` runs after every drop here (a write on this node, or heard from another): a cache of
  // values computed from this one's (a rendered subscription shows its plan) drops with it.
  // Requires: called before any transaction.
  void on_drop(std::function<void()> f) { on_drop_.push_back(std::move(f)); }

  std::uint64_t hits() const {
    std::lock_guard lock(mu_);
    return hits_;
  }
  std::uint64_t misses() const {
    std::lock_guard lock(mu_);
    return misses_;
  }

 private:
  struct Entry {
    V value;
    Timestamp expires;
  };

  static constexpr const char* kAll = "*";
  using Memo = db::TxMemo<TxCache, V>;  // keyed by prefix_ + key: caches of one V share it

  void drop(const std::string& key) {
    {
      std::lock_guard lock(mu_);
      mark_ = db::next_sequence();
      entries_.erase(key);
    }
    for (auto& f : on_drop_) f();
  }
  // Requires: mu_ held.
  bool usable(std::uint64_t began) const { return began > mark_ && (!bus_ || bus_->live()); }

  const std::string prefix_;
  const Clock& clock_;
  const std::int64_t ttl_;
  const std::size_t max_entries_;
  InvalidationBus* bus_ = nullptr;
  std::vector<std::function<void()>> on_drop_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t mark_ = 0;  // db::next_sequence() at the last drop
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

// A TxCache the app attaches to the database (db::Database::attach), so that the store
// functions that read and write its rows find it from their transaction; a migration drops it.
template <class V>
class AttachedCache : public db::Attachment {
 public:
  static constexpr std::int64_t kTtlSeconds = 60;
  AttachedCache(std::string prefix, const Clock& clock) : cache(std::move(prefix), clock, kTtlSeconds) {}
  void rows_rewritten(db::Tx& tx) override { cache.invalidate_all_after_commit(tx); }
  TxCache<V> cache;
};

}  // namespace recur::cache
