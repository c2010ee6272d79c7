// API key and idempotency-key persistence.
#include "access/service.h"

#include <spdlog/spdlog.h>

#include "access/model.h"
#include "platform/blocking.h"
#include "platform/db/list_query.h"
#include "platform/digest.h"
#include "platform/json.h"
#include "privacy/privacy.h"

namespace recur::access {
namespace {
constexpr Timestamp kIdempotencyTtl = db::kRequestKeyLifetime;
constexpr const char* kBusPrefix = "access:api_key:";  // + the key's id, when it is revoked
constexpr const char* kKeyColumns =
    "SELECT id, name, role, prefix, created_at, expires_at, last_used_at, revoked_at FROM api_keys";

ApiKey key_from_row(const db::Row& row) {
  ApiKey k;
  k.id = row.text(0);
  k.name = row.text(1);
  k.role = row.text(2);
  k.prefix = row.text(3);
  k.created = row.int64(4);
  k.expires_at = row.opt_int64(5);
  k.last_used_at = row.opt_int64(6);
  k.revoked_at = row.opt_int64(7);
  return k;
}

Result<std::optional<ApiKey>> find_key(db::Tx& tx, const std::string& id, bool lock) {
  std::string sql = std::string(kKeyColumns) + " WHERE id = $1" + (lock ? std::string(tx.for_update()) : "");
  RECUR_ASSIGN(auto rows, tx.query(sql, {id}));
  if (rows.empty()) return std::optional<ApiKey>();
  return std::optional<ApiKey>(key_from_row(rows[0]));
}

Error key_not_found(const std::string& id) { return Error::not_found("api_key_not_found", "no API key '" + id + "'"); }

std::vector<std::string> permissions_from_text(const std::optional<std::string>& text) {
  std::vector<std::string> out;
  for (const auto& p : Json::parse(text.value_or("[]"), nullptr, false))
    if (p.is_string()) out.push_back(p.get<std::string>());
  return out;
}

}  // namespace

std::string hash_secret(std::string_view secret) { return sha256_hex(secret); }

Json to_json(const ApiKey& k) {
  return Json{{"id", k.id},
              {"object", "api_key"},
              {"name", k.name},
              {"role", k.role},
              {"created", format_rfc3339(k.created)},
              {"expires_at", to_json_time(k.expires_at)},
              {"last_used_at", to_json_time(k.last_used_at)},
              {"revoked_at", to_json_time(k.revoked_at)}};
}

Json to_json(const CreatedKey& created) {
  Json out = to_json(created.key);
  out["key"] = created.secret;
  return out;
}

Json to_json(const Role& r) {
  return Json{{"object", "role"},
              {"name", r.name},
              {"permissions", r.permissions},
              {"builtin", r.builtin},
              {"created", to_json_time(r.created)}};
}

void ApiKeys::set_invalidation_bus(cache::InvalidationBus* bus) {
  bus_ = bus;
  if (!bus_) return;
  bus_->subscribe(
      [this](const std::string& key) {
        if (key.starts_with(kBusPrefix)) forget(key.substr(std::string_view(kBusPrefix).size()));
      },
      [this] {
        std::lock_guard lock(mu_);
        cache_.clear();
        ++generation_;
      });
}

void ApiKeys::forget(const std::string& key_id) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& entry) {
    return entry.second.principal && entry.second.principal->key_id == key_id;
  });
  ++generation_;  // an authentication reading the database meanwhile must not cache what it read
}

Result<std::optional<Role>> ApiKeys::find_role(db::Tx& tx, const std::string& name) {
  if (is_role(name)) return std::optional<Role>(Role{name, permissions_of(name), true, std::nullopt});
  RECUR_ASSIGN(auto rows, tx.query("SELECT name, permissions, created_at FROM roles WHERE name = $1", {name}));
  if (rows.empty()) return std::optional<Role>();
  return std::optional<Role>(Role{rows[0].text(0), permissions_from_text(rows[0].opt_text(1)), false,
                                  rows[0].int64(2)});
}

Result<CreatedKey> ApiKeys::create(const KeyInput& input, const events::Actor& actor) {
  Timestamp now = clock_.now();
  if (input.expires_at && *input.expires_at <= now)
    return Error::invalid("validation_failed", "expires_at must be in the future",
                          {{"expires_at", "in_the_past", "expires_at must be in the future"}});
  std::string secret = std::string(test_mode_ ? "rk_test_" : "rk_live_") + random_token(24);
  CreatedKey created{ids_.next("key"), input.role, secret, {}};
  created.key = ApiKey{created.id, input.name, input.role, secret.substr(0, 12), now, input.expires_at,
                       std::nullopt, std::nullopt};
  RECUR_TRY(db::transact(db_, [&](db::Tx& tx) -> Result<bool> {
    RECUR_ASSIGN(auto role, find_role(tx, input.role));
    if (!role) {
      std::string message = "role must be a built-in role or a custom one (GET /v1/roles), not '" + input.role + "'";
      return Error::invalid("validation_failed", message, {{"role", "invalid_value", message}});
    }
    RECUR_TRY(tx.exec("INSERT INTO api_keys (id, role, key_hash, prefix, created_at, name, expires_at)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                      {created.id, input.role, hash_secret(secret), created.key.prefix, now, input.name,
                       db::nullable(input.expires_at)}));
    RECUR_TRY(events_.record(tx, "api_key.created", created.id, actor, nullptr, to_json(created.key)));
    return true;
  }));
  return created;
}

Result<CreatedKey> ApiKeys::create(const std::string& role, const std::string& name) {
  return create(KeyInput{role, name, std::nullopt}, events::Actor{"cli", "keys create", ""});
}

Result<Page<ApiKey>> ApiKeys::list(const ListParams& page) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Page<ApiKey>> {
    db::ListQuery query(kKeyColumns);
    query.doc_column("");
    RECUR_ASSIGN(auto rows, query.fetch(tx, page));
    return page_of(rows, page.limit, key_from_row);
  }, db::TxMode::kReadOnly);
}

Result<ApiKey> ApiKeys::get(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<ApiKey> {
    RECUR_ASSIGN(auto found, find_key(tx, id, false));
    if (!found) return key_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<ApiKey> ApiKeys::revoke(const std::string& id, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<ApiKey> {
    RECUR_ASSIGN(auto found, find_key(tx, id, true));
    if (!found) return key_not_found(id);
    if (found->revoked_at) return *found;
    ApiKey after = *found;
    after.revoked_at = clock_.now();
    RECUR_TRY(tx.exec("UPDATE api_keys SET revoked_at = $2 WHERE id = $1", {id, *after.revoked_at}));
    RECUR_TRY(events_.record(tx, "api_key.revoked", id, actor, to_json(*found), to_json(after)));
    tx.after_commit([this, id] {
      forget(id);
      if (bus_) bus_->publish(kBusPrefix + id);
    });
    return after;
  });
}

Result<int> ApiKeys::count_active() {
  RECUR_ASSIGN(auto tx, db_.begin(db::TxMode::kReadOnly));
  RECUR_ASSIGN(auto rows, tx->query("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL"));
  return static_cast<int>(rows.at(0).int64(0));
}

Result<std::vector<Role>> ApiKeys::roles() {
  std::vector<Role> out;
  for (auto name : kRoles) out.push_back(Role{std::string(name), permissions_of(name), true, std::nullopt});
  RECUR_ASSIGN(auto rows, db::transact(db_, [&](db::Tx& tx) {
    return tx.query("SELECT name, permissions, created_at FROM roles ORDER BY name");
  }, db::TxMode::kReadOnly));
  for (const auto& row : rows)
    out.push_back(Role{row.text(0), permissions_from_text(row.opt_text(1)), false, row.int64(2)});
  return out;
}

Result<Role> ApiKeys::create_role(const std::string& name, const std::vector<std::string>& permissions,
                                  const events::Actor& actor) {
  std::vector<FieldError> errors;
  if (auto problem = role_name_problem(name)) errors.push_back({"name", "invalid_value", *problem});
  auto unknown = unknown_permissions(permissions);
  for (std::size_t i = 0; i < permissions.size(); ++i)
    if (std::find(unknown.begin(), unknown.end(), permissions[i]) != unknown.end())
      errors.push_back({"permissions[" + std::to_string(i) + "]", "invalid_value",
                        "'" + permissions[i] + "' is no permission (x-permission in api/openapi.yaml)"});
  if (!errors.empty()) {
    std::string message = errors.front().message;
    return Error::invalid("validation_failed", message, std::move(errors));
  }
  Role role{name, {}, false, clock_.now()};
  for (auto p : all_permissions())  // once each, in the list's order
    if (std::find(permissions.begin(), permissions.end(), p) != permissions.end()) role.permissions.emplace_back(p);
  return db::transact(db_, [&](db::Tx& tx) -> Result<Role> {
    RECUR_ASSIGN(auto existing, find_role(tx, name));
    if (existing) return Error::conflict("role_taken", "a role named '" + name + "' exists");
    auto inserted = tx.exec("INSERT INTO roles (name, permissions, created_at) VALUES ($1, $2, $3)",
                            {name, Json(role.permissions).dump(), *role.created});
    if (!inserted.ok()) {
      if (inserted.error().code == db::kUniqueViolation)
        return Error::conflict("role_taken", "a role named '" + name + "' exists");
      return std::move(inserted).error();
    }
    RECUR_TRY(events_.record(tx, "role.created", name, actor, nullptr, to_json(role)));
    return role;
  });
}

Result<std::optional<http::Principal>> ApiKeys::authenticate(std::string_view bearer_token) {
  if (bearer_token.empty() || bearer_token.size() > 200) return std::optional<http::Principal>();
  if (bearer_token.starts_with("cs_")) return sessions_ ? sessions_(bearer_token) : std::optional<http::Principal>();
  std::string hash = hash_secret(bearer_token);
  Timestamp now = clock_.now();
  auto judged = [&](const Cached& c) -> Result<std::optional<http::Principal>> {
    if (!c.principal) return std::optional<http::Principal>();
    switch (key_state(c.revoked_at, c.expires_at, now)) {
      case KeyState::kRevoked: return Error::unauthorized("api_key_revoked", "the API key was revoked");
      case KeyState::kExpired: return Error::unauthorized("api_key_expired", "the API key has expired");
      case KeyState::kActive: break;
    }
    note_used(c.principal->key_id, now);
    return c.principal;
  };
  std::uint64_t generation = 0;
  std::optional<Cached> hit;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end() && it->second.until > now) hit = it->second;
    generation = generation_;
  }
  if (hit) return judged(*hit);
  auto rows = db::transact(db_, [&](db::Tx& tx) {
    return tx.query("SELECT k.id, k.role, k.expires_at, k.revoked_at, r.permissions FROM api_keys k"
                    " LEFT JOIN roles r ON r.name = k.role WHERE k.key_hash = $1",
                    {hash});
  }, db::TxMode::kReadOnly);
  if (!rows.ok()) {
    // Never tell a caller their key is bad because the database is down.
    return Error::unavailable("authentication_unavailable",
                              "API keys cannot be checked right now: " + rows.error().message);
  }
  Cached entry{std::nullopt, std::nullopt, std::nullopt, now + kCacheSeconds};
  if (!rows->empty()) {
    const auto& row = rows->at(0);
    http::Principal principal{row.text(0), row.text(1), {}};
    if (!is_role(principal.role)) principal.permissions = permissions_from_text(row.opt_text(4));
    entry.principal = std::move(principal);
    entry.expires_at = row.opt_int64(2);
    entry.revoked_at = row.opt_int64(3);
  }
  {
    std::lock_guard lock(mu_);
    if (generation == generation_) {  // no revocation arrived while we read
      if (cache_.size() > 10000) cache_.clear();  // bounded: unknown tokens must not grow it forever
      cache_[hash] = entry;
    }
  }
  return judged(entry);
}

void ApiKeys::note_used(const std::string& key_id, Timestamp now) {
  // On an HTTP I/O thread (an inline route's cache hit) nothing may block: the next request
  // on the pool writes it.
  if (blocking_forbidden()) return;
  {
    std::lock_guard lock(mu_);
    auto it = last_used_written_.find(key_id);
    if (!last_used_due(it == last_used_written_.end() ? std::nullopt : std::optional<Timestamp>(it->second), now))
      return;
    if (last_used_written_.size() > 10000) last_used_written_.clear();
    last_used_written_[key_id] = now;  // claimed: concurrent requests of this key do not write too
  }
  auto written = db::transact(db_, [&](db::Tx& tx) {
    return tx.exec("UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
                   {key_id, now});
  });
  if (!written.ok()) spdlog::warn("API key {}: last_used_at not written: {}", key_id, written.error().message);
}

bool ApiKeys::allowed(const http::Principal& who, std::string_view permission) const {
  if (is_role(who.role)) return role_allows(who.role, permission);
  return std::find(who.permissions.begin(), who.permissions.end(), permission) != who.permissions.end();
}

namespace {

// A stored answer keeps the personal data it shows sealed like the rows it came from (an
// erased customer's fields replay as null); an answer that is not JSON is sealed whole under
// the system key. The key (the caller's Idempotency-Key) is the associated data.
// A new API key's secret (POST /v1/api-keys) is never stored in the clear, here either: the
// answer keeps it sealed under the system key for the key's 24 hours, so that a retry gets
// the same key.
bool is_created_key(const Json& doc) {
  return doc.is_object() && doc.value("object", "") == "api_key" && doc.contains("key");
}

Result<std::string> seal_answer(db::Tx& tx, const std::string& key, const std::string& body) {
  auto doc = Json::parse(body, nullptr, false);
  if (!doc.is_structured()) return privacy::seal_text(tx, body, key);
  if (is_created_key(doc) && doc["key"].is_string()) {
    RECUR_ASSIGN(auto sealed, privacy::seal_text(tx, doc["key"].get<std::string>(), key + "/api_key"));
    doc["key"] = Json{{"sealed", sealed}};
  }
  RECUR_TRY(privacy::seal(tx, doc, key));
  return doc.dump();
}

Result<std::string> open_answer(db::Tx& tx, const std::string& key, const std::string& stored) {
  auto doc = Json::parse(stored, nullptr, false);
  if (!doc.is_structured()) return privacy::open_text(tx, stored, key);
  RECUR_TRY(privacy::open(tx, doc, key));
  if (is_created_key(doc) && doc["key"].is_object() && doc["key"].value("sealed", Json()).is_string()) {
    RECUR_ASSIGN(auto secret, privacy::open_text(tx, doc["key"]["sealed"].get<std::string>(), key + "/api_key"));
    doc["key"] = secret;
  }
  return doc.dump();
}

}  // namespace

Result<http::IdempotencyStore::Claim> SqlIdempotencyStore::claim(const std::string& key,
                                                                  const std::string& fingerprint) {
  if (any_unreleased_) retry_releases();
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

recur::Status SqlIdempotencyStore::delete_claim(const std::string& key, const std::string& token) {
  RECUR_TRY(db::transact(db_, [&](db::Tx& tx) {
    return tx.exec("DELETE FROM idempotency_keys WHERE key = $1 AND claim = $2 AND status IS NULL", {key, token});
  }));
  return Ok{};
}

recur::Status SqlIdempotencyStore::release(const std::string& key, const std::string& token) {
  auto released = delete_claim(key, token);
  if (!released.ok()) {
    std::lock_guard lock(unreleased_mu_);
    if (unreleased_.size() < kMaxUnreleased) unreleased_.emplace_back(key, token);
    any_unreleased_ = true;
  }
  return released;
}

std::size_t SqlIdempotencyStore::unreleased() const {
  std::lock_guard lock(unreleased_mu_);
  return unreleased_.size();
}

void SqlIdempotencyStore::retry_releases() {
  std::vector<std::pair<std::string, std::string>> pending;
  {
    std::lock_guard lock(unreleased_mu_);
    pending.swap(unreleased_);
    any_unreleased_ = false;
  }
  std::size_t done = 0;
  for (auto& [key, token] : pending) {
    if (!delete_claim(key, token).ok()) break;  // still down: keep the rest for the next claim
    ++done;
  }
  if (done == pending.size()) return;
  std::lock_guard lock(unreleased_mu_);
  for (std::size_t i = done; i < pending.size() && unreleased_.size() < kMaxUnreleased; ++i)
    unreleased_.push_back(std::move(pending[i]));
  any_unreleased_ = true;
}

}  // namespace recur::access
