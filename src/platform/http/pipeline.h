// The request pipeline (middleware) between the transport and the handlers: request id,
// authentication and permission checks, idempotent replays, error mapping, access log.
// Synchronous by design: it runs on the blocking pool, never on an I/O thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "platform/http/message.h"
#include "platform/http/rate_limiter.h"
#include "platform/http/router.h"
#include "platform/json.h"
#include "platform/result.h"

namespace recur::http {

// Authentication port (implemented by access/): bearer token -> principal, role -> permission.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // nullopt: no such key. An error: the check itself failed (e.g. the database is down).
  virtual Result<std::optional<Principal>> authenticate(std::string_view bearer_token) = 0;
  virtual bool allowed(const Principal& who, std::string_view permission) const = 0;
};

// Idempotency port (implemented by access/): remembers the response to a key.
class IdempotencyStore {
 public:
  struct Stored {
    std::string fingerprint;  // hash of method, path and body of the first request
    bool complete = false;    // false while the first request is still running
    int status = 0;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // ETag and the like
  };
  struct Claim {
    std::optional<Stored> existing;  // the key was used before: replay, 409 or 422
    std::string token;               // else ours: names this claim to run_once/complete/release
  };
  virtual ~IdempotencyStore() = default;
  // Keys are scoped by the caller: `key` arrives as "<api key id>/<Idempotency-Key>".
  // Records `key` as in progress if it is new (or abandoned in progress past the lease).
  virtual Result<Claim> claim(const std::string& key, const std::string& fingerprint) = 0;
  // Runs `handler` so that everything it commits and its stored answer commit in one
  // transaction, only if the claim is still ours (decision 0009): a crash leaves either
  // both or neither. A 5xx answer commits nothing and releases the key, and so does a 4xx
  // given before the handler read anything (its input failed validation: Stripe keeps no
  // result for a request that never began executing). An error: nothing
  // of the handler was kept (the commit failed, or a retry took the key over and answered).
  virtual Result<Response> run_once(const std::string& key, const std::string& token,
                                    const std::function<Response()>& handler) = 0;
  // For handlers that commit in steps (Route::commits_in_steps): stores the answer afterwards.
  virtual Status complete(const std::string& key, const std::string& token, const Response& response) = 0;
  // Forgets an in-progress key whose request failed with a server error, so it may be retried.
  virtual Status release(const std::string& key, const std::string& token) = 0;
};

// Maps an Error to an application/problem+json response (RFC 9457), in one place.
Response problem(const Error& error, const std::string& request_id);
int status_for(ErrorKind kind);

// Rate limits (docs/SECURITY.md): per API key on routes that need one, per source IP on
// public routes and on requests whose key is missing or invalid.
struct RateLimits {
  RateLimit per_key;
  RateLimit per_ip;
};

class Pipeline {
 public:
  Pipeline(const Router& router, Authenticator& auth, IdempotencyStore& idempotency)
      : router_(router), auth_(auth), idempotency_(idempotency) {}

  Response handle(Request& request);
  // Whether handle() may answer the request on an I/O thread (Router::may_run_inline).
  bool may_run_inline(const Request& request) const { return router_.may_run_inline(request); }

  // Fetches what `field` of `object` (a resource of type `object_type`) names, for
  // `expand[]`: the object it refers to, or null when it refers to nothing.
  using Expander = std::function<Result<Json>(const std::string& object_type, const std::string& field,
                                              const Json& object)>;
  void set_expander(Expander expander) { expander_ = std::move(expander); }
  // Without a limiter (the default) nothing is limited. Requires: before the first request.
  void set_rate_limits(RateLimiter* limiter, RateLimits limits) {
    limiter_ = limiter;
    limits_ = limits;
  }

 private:
  Response route(Request& request);
  Response with_idempotency(Request& request, const Route& route, const std::string& key);
  Response call(Request& request, const Route& route);
  Response run_handler(Request& request, const Route& route);
  // A 429 when the bucket `kind:who` is empty, nullopt when the request may go on.
  std::optional<Response> over_limit(Request& request, std::string_view kind, const std::string& who, RateLimit limit);
  Response expanded(const Request& request, Response response, const std::vector<std::string>& fields) const;

  const Router& router_;
  Authenticator& auth_;
  IdempotencyStore& idempotency_;
  std::atomic<std::uint64_t> sequence_{0};
  Expander expander_;
  RateLimiter* limiter_ = nullptr;
  RateLimits limits_;
};

}  // namespace recur::http
