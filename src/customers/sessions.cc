// Customer sessions and sign-in links; see sessions.h.
#include "customers/sessions.h"

#include "customers/store.h"
#include "platform/digest.h"
#include "platform/time.h"

namespace recur::customers {
namespace {

// 24 random bytes (192 bits), as API keys: a fast hash of it is enough (no brute force).
std::string new_secret(std::string_view prefix) { return std::string(prefix) + random_token(24); }
std::string hash_of(std::string_view secret) { return sha256_hex(secret); }

Error not_found(const std::string& customer) {
  return Error::not_found("customer_not_found", no_object_message("customer", "cus", customer));
}

}  // namespace

SessionState session_state(Timestamp expires_at, std::optional<Timestamp> ended_at, Timestamp now) {
  if (ended_at && *ended_at <= now) return SessionState::kEnded;
  if (now >= expires_at) return SessionState::kExpired;
  return SessionState::kActive;
}

std::string csrf_token(std::string_view token) { return hmac_sha256_hex(token, "recur portal csrf"); }

std::string_view to_string(SessionKind kind) { return kind == SessionKind::kPortal ? "portal" : "api"; }

Json to_json(const CustomerSession& s, const std::optional<std::string>& token) {
  Json j{{"id", s.id},
         {"object", "customer_session"},
         {"customer", s.customer},
         {"return_url", to_json_text(s.return_url)},
         {"created", format_rfc3339(s.created)},
         {"expires_at", format_rfc3339(s.expires_at)}};
  if (token) j["token"] = *token;
  return j;
}

Result<CreatedSession> CustomerSessions::create_in(db::Tx& tx, const std::string& customer,
                                                   std::optional<std::string> return_url, SessionKind kind) {
  // Locked: an erasure in flight ends every session after this one is written, or this one
  // sees the customer erased.
  RECUR_ASSIGN(auto found, lock_customer(tx, customer));
  if (!found || found->erased_at) return not_found(customer);
  const Timestamp now = clock_.now();
  CreatedSession made;
  made.token = new_secret("cs_");
  made.session = CustomerSession{ids_.next("csess"),
                                 customer,
                                 kind,
                                 std::move(return_url),
                                 now,
                                 now + (kind == SessionKind::kPortal ? kPortalSessionSeconds : kApiSessionSeconds),
                                 std::nullopt};
  const auto& s = made.session;
  RECUR_TRY(
      tx.exec("INSERT INTO customer_sessions (id, token_hash, customer_id, kind, return_url, created_at,"
              " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
              {s.id, hash_of(made.token), s.customer, std::string(to_string(kind)), db::nullable(s.return_url),
               s.created, s.expires_at}));
  return made;
}

Result<CreatedSession> CustomerSessions::create(const std::string& customer, std::optional<std::string> return_url,
                                                SessionKind kind) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<CreatedSession> {
    RECUR_ASSIGN(auto made, create_in(tx, customer, return_url, kind));
    if (kind == SessionKind::kApi) {
      RECUR_ASSIGN(made.sign_in_token, issue_sign_in_link(tx, customer));
    }
    return made;
  });
}

Result<std::optional<http::Principal>> CustomerSessions::authenticate(std::string_view token) {
  if (token.size() > 200) return std::optional<http::Principal>();
  auto rows = db::transact(
      db_,
      [&](db::Tx& tx) {
        return tx.query("SELECT id, customer_id, expires_at, ended_at FROM customer_sessions WHERE token_hash = $1",
                        {hash_of(token)});
      },
      db::TxMode::kReadOnly);
  if (!rows.ok())
    return Error::unavailable("authentication_unavailable",
                              "customer sessions cannot be checked right now: " + rows.error().message);
  if (rows->empty()) return std::optional<http::Principal>();
  const auto& row = rows->at(0);
  switch (session_state(row.int64(2), row.opt_int64(3), clock_.now())) {
    case SessionState::kEnded:
      return Error::unauthorized("customer_session_ended", "the customer session has ended");
    case SessionState::kExpired:
      return Error::unauthorized("customer_session_expired",
                                 "the customer session has expired; the merchant's server makes a new one");
    case SessionState::kActive:
      break;
  }
  return std::optional<http::Principal>(http::Principal{row.text(0), "customer", {}, row.text(1)});
}

recur::Status CustomerSessions::end(std::string_view token) {
  return db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("UPDATE customer_sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL",
                      {hash_of(token), clock_.now()}));
    return Ok{};
  });
}

recur::Status CustomerSessions::end_all(db::Tx& tx, const std::string& customer) {
  const Timestamp now = clock_.now();
  RECUR_TRY(tx.exec("UPDATE customer_sessions SET ended_at = $2 WHERE customer_id = $1 AND ended_at IS NULL",
                    {customer, now}));
  RECUR_TRY(tx.exec("UPDATE customer_sign_in_links SET used_at = $2 WHERE customer_id = $1 AND used_at IS NULL",
                    {customer, now}));
  return Ok{};
}

Result<std::string> CustomerSessions::issue_sign_in_link(db::Tx& tx, const std::string& customer) {
  const std::string token = random_token(24);
  const Timestamp now = clock_.now();
  RECUR_TRY(
      tx.exec("INSERT INTO customer_sign_in_links (token_hash, customer_id, created_at, expires_at)"
              " VALUES ($1, $2, $3, $4)",
              {hash_of(token), customer, now, now + kSignInLinkSeconds}));
  return token;
}

Result<CreatedSession> CustomerSessions::redeem_sign_in_link(std::string_view token) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<CreatedSession> {
    const Timestamp now = clock_.now();
    const Error invalid = Error::bad_request(
        "sign_in_link_invalid", "this sign-in link was used already, has expired or is not one; ask for a new one");
    if (token.empty() || token.size() > 200) return invalid;
    // Used up in the statement that checks it: two clicks at once open one session.
    RECUR_ASSIGN(auto rows, tx.query("UPDATE customer_sign_in_links SET used_at = $2 WHERE token_hash = $1"
                                     " AND used_at IS NULL AND expires_at > $2 RETURNING customer_id",
                                     {hash_of(token), now}));
    if (rows.empty()) return invalid;
    auto made = create_in(tx, rows.at(0).text(0), std::nullopt, SessionKind::kPortal);
    if (!made.ok() && made.error().kind == ErrorKind::kNotFound) return invalid;  // erased since
    return made;
  });
}

}  // namespace recur::customers
