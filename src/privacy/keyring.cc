#include "privacy/keyring.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "platform/base64.h"
#include "platform/db/tx_memo.h"

namespace recur::privacy {
namespace {

constexpr Timestamp kCacheSeconds = 300;  // a safety net under the bus's invalidation
constexpr std::size_t kCacheMax = 200000;
constexpr std::uint64_t kSweepEvery = 1024;  // inserts between two sweeps of expired keys

std::string purpose(const std::string& id) { return "recur data key|" + id; }

std::string bus_key(const std::string& id) { return "privacy:data_key:" + id; }

// A key this transaction read, and the keyring's last forget then: a key forgotten since (an
// erasure committed here or on another node) is read again, so an open transaction stops
// opening an erased customer's data as it would without the memo.
struct MemoKey {
  std::optional<crypto::Key> key;
  std::uint64_t forgotten;
};
struct DataKeys;  // the memo's tag
using TxKeys = db::TxMemo<DataKeys, MemoKey>;

}  // namespace

const crypto::Key* MasterKeys::find(std::string_view fingerprint) const {
  for (const auto& k : keys)
    if (k.fingerprint() == fingerprint) return &k;
  return nullptr;
}

Result<MasterKeys> load_master_keys(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::unavailable("master_key_unreadable", "cannot read the master key file " + path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty() || bytes.size() % crypto::kKeyBytes != 0)
    return Error::invalid("master_key_invalid", "the master key file " + path.string() +
                                                    " must hold one or more 32-byte keys");
  MasterKeys out;
  for (std::size_t at = 0; at < bytes.size(); at += crypto::kKeyBytes)
    out.keys.push_back(*crypto::Key::from_bytes(std::string_view(bytes).substr(at, crypto::kKeyBytes)));
  std::fill(bytes.begin(), bytes.end(), '\0');
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    spdlog::warn("master key file {} is readable by others than its owner: chmod 600 it", path.string());
  return out;
}

Status write_master_keys(const std::filesystem::path& path, const MasterKeys& keys) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  auto temp = path;
  temp += ".tmp";
  ::unlink(temp.c_str());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Error::unavailable("master_key_unwritable", "cannot write the master key file " + temp.string());
  bool ok = true;
  for (const auto& k : keys.keys) {
    auto bytes = k.bytes();
    ok = ok && ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return Error::unavailable("master_key_unwritable", "cannot write the master key file " + path.string());
  }
  return Ok{};
}

Result<MasterKeys> load_or_create_master_keys(const std::filesystem::path& path, bool* created) {
  if (created) *created = false;
  if (!std::filesystem::exists(path)) {
    MasterKeys fresh;
    fresh.keys.push_back(crypto::Key::random());
    RECUR_TRY(write_master_keys(path, fresh));
    if (created) *created = true;
    return fresh;
  }
  return load_master_keys(path);
}

Keyring::Keyring(MasterKeys master, std::filesystem::path path, const Clock& clock)
    : master_(std::move(master)), path_(std::move(path)), clock_(clock) {
  std::error_code ec;
  if (!path_.empty()) file_time_ = std::filesystem::last_write_time(path_, ec);
}

void Keyring::refresh_if_changed() {
  if (path_.empty()) return;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (now - checked_ < std::chrono::seconds(1)) return;
    checked_ = now;
  }
  std::error_code ec;
  auto time = std::filesystem::last_write_time(path_, ec);
  if (ec) return;
  {
    std::lock_guard lock(mu_);
    if (time == file_time_) return;
  }
  auto fresh = load_master_keys(path_);
  if (!fresh.ok()) {
    spdlog::warn("the master key file {} changed but cannot be read: {}", path_.string(), fresh.error().message);
    return;
  }
  std::lock_guard lock(mu_);
  master_ = std::move(*fresh);
  file_time_ = time;
}

std::string Keyring::master_fingerprint() {
  std::lock_guard lock(mu_);
  return master_.current().fingerprint();
}

Result<std::int64_t> Keyring::rotate_master(db::Database& db, std::chrono::milliseconds grace) {
  if (path_.empty()) return Error::invalid("master_key_invalid", "no master key file to rotate");
  RECUR_ASSIGN(auto keys, load_master_keys(path_));
  MasterKeys next;
  next.keys.push_back(crypto::Key::random());
  for (auto& k : keys.keys) next.keys.push_back(k);
  RECUR_TRY(write_master_keys(path_, next));
  {
    std::lock_guard lock(mu_);
    master_ = next;
    std::error_code ec;
    file_time_ = std::filesystem::last_write_time(path_, ec);
  }
  // Other processes wrap new data keys under the old key until they notice the new file.
  std::this_thread::sleep_for(grace);
  RECUR_ASSIGN(auto rewrapped, rewrap_all(db));
  // A data key made under the old key by a transaction still open during the pass: a second
  // pass, a grace later, before the old key goes.
  std::this_thread::sleep_for(grace);
  RECUR_ASSIGN(auto late, rewrap_all(db));
  rewrapped += late;
  MasterKeys only;
  only.keys.push_back(next.current());
  RECUR_TRY(write_master_keys(path_, only));
  std::lock_guard lock(mu_);
  master_ = std::move(only);
  std::error_code ec;
  file_time_ = std::filesystem::last_write_time(path_, ec);
  return rewrapped;
}

void Keyring::set_invalidation_bus(cache::InvalidationBus* bus) {
  bus_ = bus;
  if (!bus_) return;
  bus_->subscribe(
      [this](const std::string& key) {
        static const std::string kPrefix = "privacy:data_key:";
        if (key.starts_with(kPrefix)) forget(key.substr(kPrefix.size()));
      },
      [this] {
        {
          std::lock_guard lock(mu_);
          cache_.clear();
          forgotten_ = db::next_sequence();
        }
        for (auto& f : on_forget_) f();
      });
}

void Keyring::remember(const std::string& id, Cached entry, Timestamp now) {
  // Expired keys are swept out now and then, so a cache that is never full still lets go of
  // the keys nobody has read for kCacheSeconds (the soak's memory, docs/OPERATIONS.md).
  // A full cache that the sweep cannot bring under 90 % is cleared, so that a full cache of
  // live keys is not rescanned at every insert.
  if (++inserts_ % kSweepEvery == 0 || cache_.size() >= kCacheMax) {
    std::erase_if(cache_, [now](const auto& kv) { return kv.second.expires <= now; });
    if (cache_.size() >= kCacheMax / 10 * 9) cache_.clear();
  }
  cache_[id] = std::move(entry);
}

void Keyring::forget(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    cache_.erase(id);
    forgotten_ = db::next_sequence();
  }
  for (auto& f : on_forget_) f();
}

Result<crypto::Key> Keyring::unwrap_row(const std::string& id, const std::string& wrapped,
                                        const std::string& master_id) {
  auto bytes = base64_decode(wrapped);
  if (!bytes) return Error::internal("the data key of " + id + " is not base64");
  for (int attempt = 0; attempt < 2; ++attempt) {
    const crypto::Key* kek = nullptr;
    {
      std::lock_guard lock(mu_);
      kek = master_.find(master_id);
      if (kek) {
        auto key = crypto::unwrap(*kek, *bytes, purpose(id));
        if (!key) return Error::internal("the data key of " + id + " does not open");
        return *key;
      }
    }
    // Wrapped by a master key this process has not read yet: a rotation is under way.
    if (attempt == 0 && !path_.empty()) {
      RECUR_ASSIGN(auto fresh, load_master_keys(path_));
      std::lock_guard lock(mu_);
      master_ = std::move(fresh);
    }
  }
  return Error::unavailable("master_key_unknown", "the data key of " + id +
                                                      " was wrapped by a master key this node does not have");
}

Result<std::optional<crypto::Key>> Keyring::lookup(db::Tx& tx, const std::string& id, bool create) {
  // Read (or made) by this transaction already: a batch of renewals opens a customer's data
  // several times per renewal in one transaction (destroy() forgets it).
  auto now = clock_.now();
  std::uint64_t forgotten = 0;
  {
    std::lock_guard lock(mu_);
    forgotten = forgotten_;
    if (const auto* mine = TxKeys::find(tx, id); mine && mine->forgotten == forgotten) return mine->key;
    if (auto it = cache_.find(id); it != cache_.end() && it->second.expires > now) return it->second.key;
  }
  RECUR_ASSIGN(auto rows, tx.query("SELECT wrapped, master_id FROM data_keys WHERE id = $1", {id}));
  if (rows.empty() && create) {
    refresh_if_changed();  // wrap under the newest master key (a rotation may be under way)
    auto key = crypto::Key::random();
    std::string master_id;
    std::string wrapped;
    {
      std::lock_guard lock(mu_);
      master_id = master_.current().fingerprint();
      wrapped = base64(crypto::wrap(master_.current(), key, purpose(id)));
    }
    RECUR_TRY(tx.exec("INSERT INTO data_keys (id, wrapped, master_id, created_at) VALUES ($1, $2, $3, $4)"
                      " ON CONFLICT (id) DO NOTHING",
                      {id, wrapped, master_id, now}));
    RECUR_ASSIGN(rows, tx.query("SELECT wrapped, master_id FROM data_keys WHERE id = $1", {id}));
    if (rows.empty()) return Error::unavailable("database_busy", "the data key of " + id + " is being made; retry");
  }
  std::optional<crypto::Key> key;
  if (!rows.empty() && !rows[0].is_null(0)) {
    RECUR_ASSIGN(auto k, unwrap_row(id, rows[0].text(0), rows[0].text(1)));
    key = std::move(k);
  }
  if (rows.empty()) return key;  // no key and none made: nothing to cache
  TxKeys::put(tx, id, MemoKey{key, forgotten});
  // A key read on a replica that may lag is never cached: it may be the key of a customer
  // erased on the primary since, and the bus's invalidation of it has come and gone.
  if (tx.may_lag()) return key;
  // Cached once the transaction that read (or made) it commits: a key made by a transaction
  // that rolls back never existed. Not when a key was forgotten after the transaction began:
  // its snapshot may predate an erasure that committed meanwhile (here or on another node).
  tx.after_commit([this, id, key, now, began = tx.began()] {
    std::lock_guard lock(mu_);
    if (began > forgotten_) remember(id, Cached{key, now + kCacheSeconds}, now);
  });
  return key;
}

Result<std::optional<crypto::Key>> Keyring::data_key(db::Tx& tx, const std::string& owner) {
  return lookup(tx, owner.empty() ? std::string(kSystemKey) : owner, true);
}

Result<std::optional<crypto::Key>> Keyring::existing_data_key(db::Tx& tx, const std::string& owner) {
  return lookup(tx, owner.empty() ? std::string(kSystemKey) : owner, false);
}

Result<bool> Keyring::destroyed(db::Tx& tx, const std::string& owner) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT destroyed_at FROM data_keys WHERE id = $1", {owner}));
  return !rows.empty() && !rows[0].is_null(0);
}

Status Keyring::destroy(db::Tx& tx, const std::string& owner) {
  auto now = clock_.now();
  RECUR_TRY(tx.exec("INSERT INTO data_keys (id, wrapped, master_id, created_at, destroyed_at)"
                    " VALUES ($1, NULL, '', $2, $2)"
                    " ON CONFLICT (id) DO UPDATE SET wrapped = NULL, master_id = '',"
                    " destroyed_at = COALESCE(data_keys.destroyed_at, excluded.destroyed_at)",
                    {owner, now}));
  TxKeys::forget(tx, owner);
  forget(owner);
  tx.after_commit([this, owner] {
    forget(owner);
    if (bus_) bus_->publish(bus_key(owner));
  });
  return Ok{};
}

Result<std::string> Keyring::blind_index(db::Tx& tx, std::string_view kind, std::string_view value) {
  RECUR_ASSIGN(auto key, lookup(tx, std::string(kIndexKey), true));
  if (!key) return Error::internal("the blind-index key was destroyed");
  return crypto::keyed_hash_hex(*key, std::string(kind) + ":" + std::string(value));
}

Result<std::int64_t> Keyring::rewrap_all(db::Database& db, int batch) {
  std::int64_t total = 0;
  while (true) {
    std::string current_id;
    {
      std::lock_guard lock(mu_);
      current_id = master_.current().fingerprint();
    }
    RECUR_ASSIGN(auto tx, db.begin());
    RECUR_ASSIGN(auto rows, tx->query("SELECT id, wrapped, master_id FROM data_keys WHERE wrapped IS NOT NULL"
                                      " AND master_id <> $1 ORDER BY id LIMIT $2" +
                                          std::string(tx->for_update()),
                                      {current_id, std::int64_t{batch}}));
    if (rows.empty()) return total;
    for (const auto& row : rows) {
      auto id = row.text(0);
      RECUR_ASSIGN(auto key, unwrap_row(id, row.text(1), row.text(2)));
      std::string wrapped;
      {
        std::lock_guard lock(mu_);
        wrapped = base64(crypto::wrap(master_.current(), key, purpose(id)));
      }
      RECUR_ASSIGN(auto n, tx->exec("UPDATE data_keys SET wrapped = $2, master_id = $3 WHERE id = $1 AND master_id = $4",
                                    {id, wrapped, current_id, row.text(2)}));
      total += n;
    }
    RECUR_TRY(tx->commit());
  }
}

Keyring& keyring_of(db::Tx& tx) {
  auto* keyring = tx.attached<Keyring>();
  if (!keyring) throw std::logic_error("no privacy::Keyring attached to the database");
  return *keyring;
}

}  // namespace recur::privacy
