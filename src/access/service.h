// API keys: created once (the secret shown once), stored as SHA-256 hashes, checked on
// every request through a short-lived in-process cache that a revocation empties on every
// node through the invalidation bus; custom roles beside the five built-in ones.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "events/model.h"
#include "events/store.h"
#include "platform/cache/invalidation.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/http/pipeline.h"
#include "platform/ids.h"
#include "platform/page.h"

namespace recur::access {

// An API key as the API shows it (never its secret, which is not stored: only its hash).
struct ApiKey {
  std::string id;      // "key_..."
  std::string name;
  std::string role;    // a built-in role or a custom one
  std::string prefix;  // "rk_live_xxxx": enough to recognise a key, not to use it
  Timestamp created = 0;
  std::optional<Timestamp> expires_at, last_used_at, revoked_at;
};

struct CreatedKey {
  std::string id;      // "key_..."
  std::string role;
  std::string secret;  // "rk_live_..." (rk_test_... in test mode) shown once, never stored
  ApiKey key;
};

struct KeyInput {
  std::string role;
  std::string name;
  std::optional<Timestamp> expires_at;  // must be in the future
};

// A role: one of the five built-in ones, or a custom role made of the permissions the API
// declares (x-permission). Custom roles are never changed or removed once created.
struct Role {
  std::string name;
  std::vector<std::string> permissions;
  bool builtin = false;
  std::optional<Timestamp> created;  // custom roles only
};

class ApiKeys final : public http::Authenticator {
 public:
  // How long a checked key stays cached in this process when no bus tells of revocations:
  // a key revoked on another node without --redis-url stops working within this.
  static constexpr Timestamp kCacheSeconds = 30;

  ApiKeys(db::Database& db, const Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids), events_(ids, clock) {}

  // Secrets made in test mode start with rk_test_, else rk_live_.
  void set_test_mode(bool test_mode) { test_mode_ = test_mode; }
  // Drop a revoked key from every node's cache at once (it publishes "access:api_key:<id>").
  void set_invalidation_bus(cache::InvalidationBus* bus);

  // Refuses an unknown role or a past expires_at (422 validation_failed).
  Result<CreatedKey> create(const KeyInput& input, const events::Actor& actor);
  // The CLI's first key (`recur keys create`), and tests'.
  Result<CreatedKey> create(const std::string& role, const std::string& name = "");
  Result<Page<ApiKey>> list(const ListParams& page);
  Result<ApiKey> get(const std::string& id);
  // Revoking a revoked key answers it as it is (no second event).
  Result<ApiKey> revoke(const std::string& id, const events::Actor& actor);
  Result<int> count_active();

  // Built-in roles first (kRoles' order), then custom ones by name.
  Result<std::vector<Role>> roles();
  // Refuses a name that is taken, malformed or built-in, and an unknown permission (422).
  Result<Role> create_role(const std::string& name, const std::vector<std::string>& permissions,
                           const events::Actor& actor);

  // Tokens starting "cs_" are customer sessions (customers/sessions.h), checked by `check`.
  using SessionCheck = std::function<Result<std::optional<http::Principal>>(std::string_view token)>;
  void set_customer_sessions(SessionCheck check) { sessions_ = std::move(check); }

  // http::Authenticator: an unknown key is nullopt; a revoked or expired one is a 401 error
  // (api_key_revoked, api_key_expired).
  Result<std::optional<http::Principal>> authenticate(std::string_view bearer_token) override;
  bool allowed(const http::Principal& who, std::string_view permission) const override;

 private:
  struct Cached {
    std::optional<http::Principal> principal;  // nullopt: no such key
    std::optional<Timestamp> expires_at, revoked_at;
    Timestamp until;  // cache entry's end
  };
  void forget(const std::string& key_id);
  void note_used(const std::string& key_id, Timestamp now);
  Result<std::optional<Role>> find_role(db::Tx& tx, const std::string& name);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
  bool test_mode_ = false;
  cache::InvalidationBus* bus_ = nullptr;
  SessionCheck sessions_;
  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;  // by key hash
  std::uint64_t generation_ = 0;                    // bumped by every forget
  std::unordered_map<std::string, Timestamp> last_used_written_;  // by key id (this node)
};

Json to_json(const ApiKey& key);
Json to_json(const CreatedKey& created);  // the key with its secret, as `key`
Json to_json(const Role& role);

// Hex SHA-256; API keys carry 192 random bits, so a fast hash is enough (no brute force).
std::string hash_secret(std::string_view secret);

// Idempotency keys in SQL; a key lives 24 hours. A claim still in progress after `lease`
// seconds is taken to have died with its process, and a retry of the same request takes it
// over; the first try, if it was only slow, then finds the claim no longer its own and
// commits nothing (run_once), so the request still takes effect once.
class SqlIdempotencyStore final : public http::IdempotencyStore {
 public:
  static constexpr Timestamp kDefaultLease = 300;
  SqlIdempotencyStore(db::Database& db, const Clock& clock, Timestamp lease = kDefaultLease)
      : db_(db), clock_(clock), lease_(lease) {}
  Result<Claim> claim(const std::string& key, const std::string& fingerprint) override;
  Result<http::Response> run_once(const std::string& key, const std::string& token,
                                  const std::function<http::Response()>& handler) override;
  recur::Status complete(const std::string& key, const std::string& token, const http::Response& response) override;
  // Frees the claim of a request that failed (5xx) so that its retry runs at once. A release
  // the database refused (it was down: the very failure that made the 5xx) is remembered and
  // tried again before each later claim on this node, so a retry after the database is back
  // is not refused 409 for the whole lease (tests/cluster/failover.py).
  recur::Status release(const std::string& key, const std::string& token) override;
  // Releases remembered and not yet done (at most kMaxUnreleased; the lease frees the rest).
  std::size_t unreleased() const;
  static constexpr std::size_t kMaxUnreleased = 10000;

 private:
  // Stores the answer under our claim in `tx`; false if the claim is no longer ours.
  Result<bool> store_answer(db::Tx& tx, const std::string& key, const std::string& token,
                            const http::Response& response);
  recur::Status delete_claim(const std::string& key, const std::string& token);
  void retry_releases();

  db::Database& db_;
  const Clock& clock_;
  Timestamp lease_;
  mutable std::mutex unreleased_mu_;
  std::vector<std::pair<std::string, std::string>> unreleased_;  // (key, claim token)
  std::atomic<bool> any_unreleased_{false};
};

}  // namespace recur::access
