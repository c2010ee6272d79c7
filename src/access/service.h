// API keys: created once (the secret shown once), stored as SHA-256 hashes, checked on
// every request through a short-lived in-process cache.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/http/pipeline.h"
#include "platform/ids.h"

namespace recur::access {

struct CreatedKey {
  std::string id;      // "key_..."
  std::string role;
  std::string secret;  // "rk_live_..." shown once, never stored
};

class ApiKeys final : public http::Authenticator {
 public:
  ApiKeys(db::Database& db, const Clock& clock, IdGenerator& ids) : db_(db), clock_(clock), ids_(ids) {}

  Result<CreatedKey> create(const std::string& role);
  Result<int> count_active();

  // http::Authenticator
  Result<std::optional<http::Principal>> authenticate(std::string_view bearer_token) override;
  bool allowed(const http::Principal& who, std::string_view permission) const override;

 private:
  struct Cached {
    std::optional<http::Principal> principal;
    Timestamp expires;
  };
  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;  // by key hash
};

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
  recur::Status release(const std::string& key, const std::string& token) override;

 private:
  // Stores the answer under our claim in `tx`; false if the claim is no longer ours.
  Result<bool> store_answer(db::Tx& tx, const std::string& key, const std::string& token,
                            const http::Response& response);

  db::Database& db_;
  const Clock& clock_;
  Timestamp lease_;
};

}  // namespace recur::access
