// Keys for personal data at rest: a data key per customer (and one for data that belongs to
// no customer), stored wrapped by the master key; a separate blind-index key. The keyring is
// attached to the database (db::Attachment), so that every store reaches it from its
// transaction (privacy.h). docs/SECURITY.md, "Personal data encrypted at rest".
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/cache/invalidation.h"
#include "platform/clock.h"
#include "platform/crypto.h"
#include "platform/db/database.h"

namespace recur::privacy {

// The master key file: one or more 32-byte keys back to back, the first the current one
// (wraps new data keys), the others still read during a rotation.
struct MasterKeys {
  std::vector<crypto::Key> keys;
  const crypto::Key& current() const { return keys.front(); }
  const crypto::Key* find(std::string_view fingerprint) const;
};

// Reads `path`; when it does not exist, creates it (and its folder) with one random key,
// mode 600, and sets `*created`. Refuses a file whose size is not a multiple of 32 bytes.
Result<MasterKeys> load_or_create_master_keys(const std::filesystem::path& path, bool* created = nullptr);
Result<MasterKeys> load_master_keys(const std::filesystem::path& path);
// Writes the keys to `path` atomically (a temporary file, mode 600, renamed over it).
Status write_master_keys(const std::filesystem::path& path, const MasterKeys& keys);

// The id of the data key of data that belongs to no customer, and of the blind-index key.
inline constexpr std::string_view kSystemKey = "system";
inline constexpr std::string_view kIndexKey = "index";

class Keyring final : public db::Attachment {
 public:
  // `path` is re-read when a data key names a master key this process does not know yet
  // (another process is rotating); empty for keys given in memory (tests).
  Keyring(MasterKeys master, std::filesystem::path path, const Clock& clock);

  // The data key of `owner` (a customer id; "" for the system key), created on first use;
  // nullopt once it was destroyed (the customer was erased).
  Result<std::optional<crypto::Key>> data_key(db::Tx& tx, const std::string& owner);
  // The data key of `owner` only if it exists and was not destroyed (no key is created).
  Result<std::optional<crypto::Key>> existing_data_key(db::Tx& tx, const std::string& owner);
  // Crypto-shredding: the wrapped key is overwritten; every node forgets it after commit.
  Status destroy(db::Tx& tx, const std::string& owner);
  // Whether the owner's key was destroyed.
  Result<bool> destroyed(db::Tx& tx, const std::string& owner);
  // The keyed hash under the blind-index key of `kind` ("email", "phone") and a value.
  Result<std::string> blind_index(db::Tx& tx, std::string_view kind, std::string_view value);

  // Re-wraps every data key under the current master key, `batch` at a time; returns how
  // many were re-wrapped. Other processes keep working: they read the key file again when
  // they meet a key wrapped by a master key they do not know.
  Result<std::int64_t> rewrap_all(db::Database& db, int batch = 500);
  // Master-key rotation, online: a new key is put first in the key file (the old ones stay
  // after it), every process is given `grace` to read it (they read the file again when they
  // meet a data key wrapped by a key they do not know, and before wrapping a new data key
  // when the file changed), every data key is re-wrapped under it, and the file is rewritten
  // with the new key alone: the old key is gone. Returns how many data keys were re-wrapped.
  // Requires: a key file (path given).
  Result<std::int64_t> rotate_master(db::Database& db, std::chrono::milliseconds grace);
  // The current master key's fingerprint.
  std::string master_fingerprint();

  // Forget cached keys when another node destroys one (or everything, on a resync).
  void set_invalidation_bus(cache::InvalidationBus* bus);
  // `f` runs whenever a key is forgotten (destroyed here or on another node, or a resync): a
  // cache of what was opened with a key (a rendered subscription's address) drops then.
  // Requires: called before any transaction.
  void on_forget(std::function<void()> f) { on_forget_.push_back(std::move(f)); }

 private:
  struct Cached {
    std::optional<crypto::Key> key;
    Timestamp expires = 0;
  };
  Result<std::optional<crypto::Key>> lookup(db::Tx& tx, const std::string& id, bool create);
  Result<crypto::Key> unwrap_row(const std::string& id, const std::string& wrapped, const std::string& master_id);
  void forget(const std::string& id);
  // Caches a key. Requires: mu_ held.
  void remember(const std::string& id, Cached entry, Timestamp now);
  // Reads the key file again if it changed since it was last read (checked at most once a
  // second): a rotation in another process.
  void refresh_if_changed();

  std::mutex mu_;
  MasterKeys master_;
  std::filesystem::path path_;
  const Clock& clock_;
  std::unordered_map<std::string, Cached> cache_;
  std::uint64_t inserts_ = 0;     // into cache_, for its sweeps
  std::uint64_t forgotten_ = 0;  // db::next_sequence() at the last forget: older transactions do not cache
  cache::InvalidationBus* bus_ = nullptr;
  std::vector<std::function<void()>> on_forget_;
  std::filesystem::file_time_type file_time_{};
  std::chrono::steady_clock::time_point checked_{};
};

// The keyring attached to the transaction's database. Requires: one was attached.
Keyring& keyring_of(db::Tx& tx);

}  // namespace recur::privacy
