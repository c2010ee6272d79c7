// API key and idempotency-key persistence.
#include "access/service.h"

#include <spdlog/spdlog.h>

#include "access/model.h"
#include "platform/digest.h"
#include "platform/json.h"
#include "privacy/privacy.h"

namespace recur::access {
namespace {
constexpr Timestamp kCacheSeconds = 30;  // a revoked key stops working within this
constexpr Timestamp kIdempotencyTtl = db::kRequestKeyLifetime;
}  // namespace

std::string hash_secret(std::string_view secret) { return sha256_hex(secret); }

Result<CreatedKey> ApiKeys::create(const std::string& role) {
  if (!is_role(role)) return Error::invalid("invalid_role", "unknown role '" + role + "'");
  CreatedKey key{ids_.next("key"), role, "rk_live_" + random_token(24)};
  RECUR_ASSIGN(auto tx, db_.begin());
  RECUR_TRY(tx->exec("INSERT INTO api_keys (id, role, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)",
                     {key.id, role, hash_secret(key.secret), key.secret.substr(0, 12), clock_.now()}));
  RECUR_TRY(tx->commit());
  return key;
}

Result<int> ApiKeys::count_active() {
  RECUR_ASSIGN(auto tx, db_.begin(db::TxMode::kReadOnly));
  RECUR_ASSIGN(auto rows, tx->query("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL"));
  return static_cast<int>(rows.at(0).int64(0));
}

Result<std::optional<http::Principal>> ApiKeys::authenticate(std::string_view bearer_token) {
  if (bearer_token.empty() || bearer_token.size() > 200) return std::optional<http::Principal>();
  std::string hash = hash_secret(bearer_token);
  Timestamp now = clock_.now();
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end() && it->second.expires > now) return it->second.principal;
  }
  auto rows = db::transact(db_, [&](db::Tx& tx) {
    return tx.query("SELECT id, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", {hash});
  }, db::TxMode::kReadOnly);
  if (!rows.ok()) {
    // Never tell a caller their key is bad because the database is down.
    return Error::unavailable("authentication_unavailable",
                              "API keys cannot be checked right now: " + rows.error().message);
  }
  std::optional<http::Principal> principal;
  if (!rows->empty()) principal = http::Principal{rows->at(0).text(0), rows->at(0).text(1)};
  std::lock_guard lock(mu_);
  if (cache_.size() > 10000) cache_.clear();  // bounded: unknown tokens must not grow it forever
  cache_[hash] = Cached{principal, now + kCacheSeconds};
  return principal;
}

bool ApiKeys::allowed(const http::Principal& who, std::string_view permission) const {
  return role_allows(who.role, permission);
}

namespace {

// A stored answer keeps the personal data it shows sealed like the rows it came from (an
// erased customer's fields replay as null); an answer that is not JSON is sealed whole under
// the system key. The key (the caller's Idempotency-Key) is the associated data.
Result<std::string> seal_answer(db::Tx& tx, const std::string& key, const std::string& body) {
  auto doc = Json::parse(body, nullptr, false);
  if (!doc.is_structured()) return privacy::seal_text(tx, body, key);
  RECUR_TRY(privacy::seal(tx, doc, key));
  return doc.dump();
}

Result<std::string> open_answer(db::Tx& tx, const std::string& key, const std::string& stored) {
  auto doc = Json::parse(stored, nullptr, false);
  if (!doc.is_structured()) return privacy::open_text(tx, stored, key);
  RECUR_TRY(privacy::open(tx, doc, key));
  return doc.dump();
}

}  // namespace

Result<http::IdempotencyStore::Claim> SqlIdempotencyStore::claim(const std::string& key,
                                                                  const std::string& fingerprint) {
  Timestamp now = clock_.now();
  Claim ours{std::nullopt, random_token(12)};
  RECUR_ASSIGN(auto tx, db_.begin());
  RECUR_TRY(tx->exec("DELETE FROM idempotency_keys WHERE key = $1 AND created_at < $2", {key, now - kIdempotencyTtl}));
  RECUR_ASSIGN(auto rows, tx->query("SELECT fingerprint, status, content_type, body, headers FROM idempotency_keys"
                                    " WHERE key = $1",
                                    {key}));
  RECUR_ASSIGN(auto abandoned, tx->exec("UPDATE idempotency_keys SET created_at = $3, claim = $5 WHERE key = $1"
                                        " AND fingerprint = $2 AND status IS NULL AND created_at < $4",
                                        {key, fingerprint, now, now - lease_, ours.token}));
  if (abandoned == 1) {
    RECUR_TRY(tx->commit());
    spdlog::warn("an idempotency key was abandoned in progress for {} s; taken over by a retry", lease_);
    return ours;
  }
  if (!rows.empty()) {
    const auto& row = rows[0];
    Stored stored;
    stored.fingerprint = row.text(0);
    stored.complete = !row.is_null(1);
    if (stored.complete) {
      stored.status = static_cast<int>(row.int64(1));
      stored.content_type = row.text(2);
      RECUR_ASSIGN(auto body, open_answer(*tx, key, row.text(3)));
      stored.body = std::move(body);
      for (const auto& pair : Json::parse(row.opt_text(4).value_or("[]"), nullptr, false))
        if (pair.is_array() && pair.size() == 2) stored.headers.emplace_back(pair[0], pair[1]);
    }
    return Claim{std::move(stored), ""};
  }
  auto inserted = tx->exec("INSERT INTO idempotency_keys (key, fingerprint, created_at, claim) VALUES ($1, $2, $3, $4)",
                           {key, fingerprint, now, ours.token});
  if (!inserted.ok()) {
    // Two first requests raced on PostgreSQL: the loser sees the winner's row as in use.
    if (inserted.error().code == db::kUniqueViolation) return Claim{Stored{fingerprint, false, 0, "", ""}, ""};
    return std::move(inserted).error();
  }
  RECUR_TRY(tx->commit());
  return ours;
}

Result<bool> SqlIdempotencyStore::store_answer(db::Tx& tx, const std::string& key, const std::string& token,
                                               const http::Response& response) {
  Json headers = Json::array();
  for (const auto& [name, value] : response.headers) headers.push_back({name, value});
  RECUR_ASSIGN(auto body, seal_answer(tx, key, response.body));
  RECUR_ASSIGN(auto stored, tx.exec("UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5, headers = $6"
                                    " WHERE key = $1 AND claim = $2 AND status IS NULL",
                                    {key, token, std::int64_t{response.status}, response.content_type, body,
                                     headers.dump()}));
  return stored == 1;
}

Result<http::Response> SqlIdempotencyStore::run_once(const std::string& key, const std::string& token,
                                                    const std::function<http::Response()>& handler) {
  http::Response response;
  bool changed_nothing = false;
  recur::Status kept = Ok{};
  {
    db::RequestTransaction request(db_);
    response = handler();
    if (response.status >= 500) {
      kept = Error::internal("the request failed");  // nothing of it is kept: the scope rolls back
    } else if (!request.started()) {
      changed_nothing = true;  // answered before reading anything (below)
    } else if (request.broken()) {
      kept = Error::internal("the request's transaction could not roll back a failed part");
    } else {
      auto ours = store_answer(request.tx(), key, token, response);
      if (!ours.ok()) kept = std::move(ours).error();
      else if (!*ours)
        // A retry took the key over (this request ran past the lease): it runs the request;
        // this one's effects roll back.
        return Error::conflict("idempotency_key_in_use",
                               "a retry with this Idempotency-Key took the request over; retry to see its answer");
      else kept = request.commit();
    }
  }
  if (changed_nothing && response.status >= 400) {
    // Refused before it began executing (its input failed validation): as Stripe, nothing is
    // kept under the key, so the caller may send the corrected request with the same key.
    if (auto released = release(key, token); !released.ok())
      spdlog::error("idempotency claim {}: could not release it: {}", token, released.error().message);
    return response;
  }
  if (changed_nothing) {
    if (auto stored = complete(key, token, response); !stored.ok())
      spdlog::error("idempotency claim {}: could not store its answer: {}", token, stored.error().message);
    return response;
  }
  if (kept.ok()) return response;
  if (auto released = release(key, token); !released.ok())
    spdlog::error("idempotency claim {}: could not release it: {}", token, released.error().message);
  if (response.status >= 500) return response;
  return std::move(kept).error();
}

recur::Status SqlIdempotencyStore::complete(const std::string& key, const std::string& token,
                                           const http::Response& response) {
  RECUR_ASSIGN(bool ours, db::transact(db_, [&](db::Tx& tx) { return store_answer(tx, key, token, response); }));
  if (!ours) spdlog::warn("idempotency claim {}: taken over by a retry before it answered", token);
  return Ok{};
}

recur::Status SqlIdempotencyStore::release(const std::string& key, const std::string& token) {
  RECUR_TRY(db::transact(db_, [&](db::Tx& tx) {
    return tx.exec("DELETE FROM idempotency_keys WHERE key = $1 AND claim = $2 AND status IS NULL", {key, token});
  }));
  return Ok{};
}

}  // namespace recur::access
