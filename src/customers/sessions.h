// Customer sessions: short-lived bearer tokens ("cs_...") that act for one customer on that
// customer's own resources (headless storefronts, the portal), and the portal's one-time
// sign-in links. Like API keys, only SHA-256 hashes of the secrets are stored.
// docs/portal.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/http/message.h"
#include "platform/ids.h"
#include "platform/json.h"
#include "platform/result.h"

namespace recur::customers {

// What a session is for: `api` (POST /v1/customer-sessions: 15 minutes) or `portal` (a
// signed-in portal visit: an hour from sign-in, ended by signing out).
enum class SessionKind { kApi, kPortal };
inline constexpr Timestamp kApiSessionSeconds = 15 * 60;
inline constexpr Timestamp kPortalSessionSeconds = 60 * 60;
inline constexpr Timestamp kSignInLinkSeconds = 15 * 60;

struct CustomerSession {
  std::string id;  // "csess_..."
  std::string customer;
  SessionKind kind = SessionKind::kApi;
  std::optional<std::string> return_url;
  Timestamp created = 0;
  Timestamp expires_at = 0;
  std::optional<Timestamp> ended_at;
};

struct CreatedSession {
  CustomerSession session;
  std::string token;  // "cs_...": shown once, never stored
  // An API session's one-time portal sign-in link token (its answer's `url`); empty for a
  // portal session.
  std::string sign_in_token;
};

// A session at `now`: ended (signed out, or its customer erased) wins over expired; a
// session expires at expires_at itself. Pure.
enum class SessionState { kActive, kEnded, kExpired };
SessionState session_state(Timestamp expires_at, std::optional<Timestamp> ended_at, Timestamp now);

// A portal form's CSRF token for the session whose token is `token`: derived from the
// cookie's secret, so a page of another origin, which cannot read the cookie, cannot make it.
std::string csrf_token(std::string_view token);

class CustomerSessions {
 public:
  CustomerSessions(db::Database& db, const Clock& clock, IdGenerator& ids) : db_(db), clock_(clock), ids_(ids) {}

  // 404 customer_not_found for a customer that does not exist or was erased.
  Result<CreatedSession> create(const std::string& customer, std::optional<std::string> return_url, SessionKind kind);
  // The principal of a live session's token; nullopt for no such token; 401
  // customer_session_expired / customer_session_ended for one that was.
  Result<std::optional<http::Principal>> authenticate(std::string_view token);
  // Signing out: the token stops working at once. A token that names no session: Ok.
  recur::Status end(std::string_view token);
  // Every session of the customer ends (erasure).
  recur::Status end_all(db::Tx& tx, const std::string& customer);

  // A one-time sign-in link's token for the customer, valid kSignInLinkSeconds, in `tx`.
  Result<std::string> issue_sign_in_link(db::Tx& tx, const std::string& customer);
  // Uses the link up and opens a portal session; 400 sign_in_link_invalid for a token that is
  // unknown, used or expired (one message for all three).
  Result<CreatedSession> redeem_sign_in_link(std::string_view token);

 private:
  Result<CreatedSession> create_in(db::Tx& tx, const std::string& customer, std::optional<std::string> return_url,
                                   SessionKind kind);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
};

std::string_view to_string(SessionKind kind);
// The API's view; `token` only on the answer of the create.
Json to_json(const CustomerSession& s, const std::optional<std::string>& token = std::nullopt);

}  // namespace recur::customers
