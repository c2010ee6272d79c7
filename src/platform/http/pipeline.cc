// Middleware chain; see pipeline.h. Order: request id -> route -> auth -> permission ->
// idempotency -> handler; every failure leaves as application/problem+json.
#include "platform/http/pipeline.h"
#include "platform/http/rest.h"


#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "platform/blocking.h"
#include "platform/card_number.h"
#include "platform/digest.h"
#include "platform/ids.h"
#include "platform/read_consistency.h"
#include "platform/utf8.h"

namespace recur::http {
namespace {

// A request id: "req_" + 12 random bytes as URL-safe base64, as random_token(12) makes them,
// but from a per-thread buffer of libsodium's random bytes refilled every 32 ids: one
// getrandom(2) and one sodium_init() per 32 requests instead of one each.
std::string new_request_id() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) return "req_" + random_token(12);  // throws, as random_token does
  constexpr std::size_t kBytes = 12;
  thread_local std::array<unsigned char, 32 * kBytes> pool;
  thread_local std::size_t used = pool.size();
  if (used + kBytes > pool.size()) {
    randombytes_buf(pool.data(), pool.size());
    used = 0;
  }
  char text[sodium_base64_ENCODED_LEN(kBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, pool.data() + used, kBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(pool.data() + used, kBytes);  // an id is used once
  used += kBytes;
  return std::string("req_") + text;
}

std::optional<std::string> bearer_token(const Request& request) {
  auto auth = request.header("authorization");
  if (!auth) return std::nullopt;
  constexpr std::string_view kScheme = "Bearer ";
  if (auth->size() <= kScheme.size() || !std::equal(kScheme.begin(), kScheme.end(), auth->begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      }))
    return std::nullopt;
  return auth->substr(kScheme.size());
}

}  // namespace

int status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalid: return 422;
    case ErrorKind::kBadRequest: return 400;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kConflict: return 409;
    case ErrorKind::kUnauthorized: return 401;
    case ErrorKind::kForbidden: return 403;
    case ErrorKind::kNotAcceptable: return 406;
    case ErrorKind::kPaymentRequired: return 402;
    case ErrorKind::kUnavailable: return 503;
    case ErrorKind::kInternal: return 500;
  }
  return 500;
}

namespace {
const char* title_for(int status) {
  switch (status) {
    case 400: return "Bad request";
    case 401: return "Unauthorized";
    case 402: return "Payment required";
    case 403: return "Forbidden";
    case 404: return "Not found";
    case 405: return "Method not allowed";
    case 406: return "Not acceptable";
    case 409: return "Conflict";
    case 413: return "Payload too large";
    case 414: return "URI too long";
    case 422: return "Unprocessable content";
    case 429: return "Too many requests";
    case 431: return "Request header fields too large";
    case 503: return "Service unavailable";
    case 505: return "HTTP version not supported";
    default: return "Internal server error";
  }
}
}  // namespace

Response problem(const Error& error, const std::string& request_id) {
  int status = status_for(error.kind);
  if (error.code == "method_not_allowed") status = 405;
  if (error.code == "payload_too_large") status = 413;
  if (error.code == "uri_too_long") status = 414;
  if (error.code == "header_fields_too_large") status = 431;
  if (error.code == "http_version_not_supported") status = 505;
  if (error.code == "rate_limited") status = 429;
  // Messages quote what the caller sent (an id, a field name, a token): never a card number.
  std::string detail = redact_pans(error.message);
  // Server-side failures keep their cause in the log, not in the answer: database errors
  // can name hosts, users and SQL.
  if (status >= 500) {
    spdlog::error("request {} failed with {}: {}", request_id, error.code, detail);
    detail = status == 503 ? "a dependency is unavailable; retry later, quoting the request id if it persists"
                           : "an unexpected error occurred; quote the request id to support";
  }
  nlohmann::json doc = {
      {"type", "https://docs.recur.example/problems/" + error.code},
      {"title", title_for(status)},
      {"status", status},
      {"detail", detail},
      {"code", error.code},
  };
  if (!request_id.empty()) doc["request_id"] = request_id;
  if (!error.fields.empty()) {
    auto& list = doc["errors"] = nlohmann::json::array();
    for (const auto& f : error.fields)
      list.push_back({{"field", redact_pans(f.field)}, {"code", f.code}, {"message", redact_pans(f.message)}});
  }
  if (!error.extra_json.empty()) {
    auto extra = nlohmann::json::parse(error.extra_json, nullptr, false);
    if (extra.is_object()) doc.update(extra);
  }
  Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

namespace {

// Paths and query strings are percent-decoded, and these headers reach SQL (the key store,
// the version check): refuse bytes that are not well-formed UTF-8, and NUL, before they reach
// SQL, JSON or logs. Other headers are not read, so they are not judged.
bool request_text_is_acceptable(const Request& request) {
  if (!is_acceptable_text(request.path)) return false;
  for (const auto& [key, value] : request.query)
    if (!is_acceptable_text(key) || !is_acceptable_text(value)) return false;
  for (const auto& [name, value] : request.headers)
    if ((name == "authorization" || name == "idempotency-key" || name == "if-match") && !is_acceptable_text(value))
      return false;
  return true;
}

}  // namespace

Response Pipeline::handle(Request& request) {
  // A caller's id is kept for tracing if it is short and plain; otherwise we make one.
  // (Already set when an attempt on the I/O thread handed this request to the pool.)
  if (request.request_id.empty()) {
    auto id = request.header("x-request-id");
    bool usable = id && !id->empty() && id->size() <= 128 &&
                  std::all_of(id->begin(), id->end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
                  });
    request.request_id = usable ? *id : new_request_id();
  }
  Response response =
      request_text_is_acceptable(request)
          ? route(request)
          : problem(Error::bad_request("invalid_encoding",
                                       "the URL or a header is not well-formed UTF-8 after decoding, or holds a NUL"),
                    request.request_id);
  response.set_header("X-Request-Id", request.request_id);
  return response;
}

Response Pipeline::route(Request& request) {
  // HEAD is GET without a body (the transport drops it); routes are declared for GET.
  bool head = request.method == "HEAD";
  if (head) request.method = "GET";
  Match m = router_.match(request);
  if (head) request.method = "HEAD";
  if (!m.route) {
    if (!m.allowed.empty()) {
      std::sort(m.allowed.begin(), m.allowed.end());
      std::string allow;
      for (const auto& method : m.allowed) allow += (allow.empty() ? "" : ", ") + method;
      Response r = problem(Error::bad_request("method_not_allowed",
                                              request.method + " is not allowed on " + request.path + "; use " + allow),
                           request.request_id);
      r.set_header("Allow", allow);
      return r;
    }
    return problem(Error::not_found("route_not_found", "no route for " + request.method + " " + request.path),
                   request.request_id);
  }
  const Route& route = *m.route;
  request.route = route.pattern;
  // On an I/O thread (the server's first try), only routes declared able to run there.
  if (!route.runs_inline && blocking_forbidden()) throw WouldBlock{};
  if (route.permission.empty()) {
    if (auto refused = over_limit(request, "ip", request.remote_address, limits_.per_ip)) return *refused;
  } else {
    auto token = bearer_token(request);
    if (!token) {
      if (auto refused = over_limit(request, "ip", request.remote_address, limits_.per_ip)) return *refused;
      Response r = problem(Error::unauthorized("missing_api_key", "send an API key as 'Authorization: Bearer <key>'"),
                           request.request_id);
      r.set_header("WWW-Authenticate", "Bearer");
      return r;
    }
    auto principal = auth_.authenticate(*token);
    if (!principal.ok()) {
      Response r = problem(principal.error(), request.request_id);
      // A revoked or expired key (api_key_revoked, api_key_expired): RFC 6750's challenge.
      if (principal.error().kind == ErrorKind::kUnauthorized)
        r.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"" +
                                             principal.error().code + "\"");
      return r;
    }
    request.principal = *principal;
    if (!request.principal) {
      // Guessing keys costs the guesser's address its allowance.
      if (auto refused = over_limit(request, "ip", request.remote_address, limits_.per_ip)) return *refused;
      Response r = problem(Error::unauthorized("invalid_api_key", "the API key is not valid"), request.request_id);
      r.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      return r;
    }
    if (auto refused = over_limit(request, "key", request.principal->key_id, limits_.per_key)) return *refused;
    if (!request.principal->customer.empty()) {
      // A customer session: only the routes opened to customers, on that customer's own
      // resources (the scope reads the database: never on an I/O thread).
      if (!route.customer_scope)
        return problem(
            Error::forbidden("customer_session_forbidden", "a customer session cannot call " + request.method + " " +
                                                               route.pattern + "; use an API key"),
            request.request_id);
      if (blocking_forbidden()) throw WouldBlock{};
      if (auto scoped = route.customer_scope(request, request.principal->customer); !scoped.ok())
        return problem(scoped.error(), request.request_id);
    } else if (!auth_.allowed(*request.principal, route.permission))
      return problem(Error::forbidden("permission_denied", "role '" + request.principal->role + "' lacks permission '" +
                                                               route.permission + "'"),
                     request.request_id);
  }
  // expand[] on a route that offers expansions: taken off the query (the handler never sees
  // it) and checked against what the route offers; elsewhere it stays, an unknown parameter.
  std::vector<std::string> expansions;
  // An expansion reads the database, and what follows takes expand[] off the request: on an
  // I/O thread it goes to the pool now, before anything is changed.
  if (!route.expandable.empty() && request.query.count("expand[]") && blocking_forbidden()) throw WouldBlock{};
  if (!route.expandable.empty()) {
    const std::vector<std::string_view> offered(route.expandable.begin(), route.expandable.end());
    auto [from, to] = request.query.equal_range("expand[]");
    for (auto it = from; it != to; ++it) {
      if (auto refused = add_listed_values(it->second, offered, expansions)) {
        std::string message = "expand[] takes " + allowed_values_text(offered) + " here, not '" + *refused + "'";
        return problem(Error::invalid("validation_failed", message, {{"expand[]", "invalid_value", message}}),
                       request.request_id);
      }
    }
    request.query.erase("expand[]");
  }
  if (!route.reads_query && !route.permission.empty() && !request.query.empty()) {
    if (auto refused = check_query(request); !refused.ok()) return problem(refused.error(), request.request_id);
  }
  // Only for callers with a key: a public route (a gateway's webhook) has nobody to scope
  // the key to, and anyone could fill the store or claim a key before the real caller.
  if (request.method == "POST" && request.principal) {
    if (auto key = request.header("idempotency-key")) return with_idempotency(request, route, *key);
  }
  Response response = call(request, route);
  if (expansions.empty()) return response;
  return expanded(request, std::move(response), expansions);
}

Response Pipeline::expanded(const Request& request, Response response, const std::vector<std::string>& fields) const {
  if (response.status != 200 || !expander_) return response;
  Json body = Json::parse(response.body, nullptr, false);
  if (!body.is_object()) return response;
  auto expand = [&](Json& object) -> Status {
    const std::string type = object.value("object", "");
    for (const auto& field : fields) {
      RECUR_ASSIGN(Json value, expander_(type, field, object));
      object[field] = std::move(value);
    }
    return Ok{};
  };
  Status done = Ok{};
  if (body.value("object", "") == "list" && body.contains("data") && body["data"].is_array()) {
    for (auto& item : body["data"])
      if (done = expand(item); !done.ok()) break;
  } else {
    done = expand(body);
  }
  if (!done.ok()) return problem(done.error(), request.request_id);
  response.body = body.dump();
  return response;
}

Response Pipeline::with_idempotency(Request& request, const Route& route, const std::string& key) {
  if (key.empty() || key.size() > 255)
    return problem(Error::bad_request("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters"),
                   request.request_id);
  // Same key, same request: method, path, precondition and body all count; a JSON body as
  // canonical JSON (keys sorted, no whitespace), so another key order is the same request.
  // Parsed with the body rules (a body nested past kMaxJsonDepth is not parsed: dumping it
  // would recurse once per level); anything else is fingerprinted as sent.
  auto parsed = parse_json_object(request.body);
  const std::string body = parsed.ok() ? parsed->dump() : request.body;
  std::string fingerprint = sha256_hex(request.method + " " + request.path + "\n" +
                                       request.header("if-match").value_or("") + "\n" + body);
  // Keys belong to the merchant, as Stripe's belong to the account: one Recur is one
  // merchant, so every API key shares them (decision 0004).
  // A customer session's keys are that customer's: a replay never shows another's answer.
  const std::string scoped =
      (request.principal && !request.principal->customer.empty() ? "customer/" + request.principal->customer + "/"
                                                                 : std::string("merchant/")) +
      key;
  auto claimed = idempotency_.claim(scoped, fingerprint);
  if (!claimed.ok()) return problem(claimed.error(), request.request_id);
  if (const auto& stored = claimed->existing) {
    if (stored->fingerprint != fingerprint)
      return problem(Error::invalid("idempotency_key_reused",
                                    "this Idempotency-Key was used with a different request; use a new key"),
                     request.request_id);
    if (!stored->complete)
      return problem(Error::conflict("idempotency_key_in_use",
                                     "a request with this Idempotency-Key is still being processed; retry later"),
                     request.request_id);
    Response replay;
    replay.status = stored->status;
    replay.content_type = stored->content_type;
    replay.body = stored->body;
    replay.headers = stored->headers;
    replay.set_header("Idempotent-Replayed", "true");
    return replay;
  }
  const std::string& token = claimed->token;
  // The recovery point of a handler that commits in steps names this request: the same key
  // reused for another request (after it expired) never resumes the first one's work.
  request.idempotency_key = scoped + "#" + fingerprint.substr(0, 16);
  if (route.commits_in_steps) {
    Response response = call(request, route);
    auto kept = response.status >= 500 ? idempotency_.release(scoped, token)
                                       : idempotency_.complete(scoped, token, response);
    // The answer stands (what it did is committed); a retry gets 409 until the lease passes.
    if (!kept.ok())
      spdlog::error("request {}: could not {} its Idempotency-Key: {}", request.request_id,
                    response.status >= 500 ? "release" : "store the answer under", kept.error().message);
    return response;
  }
  auto response = idempotency_.run_once(scoped, token, [&] { return call(request, route); });
  if (!response.ok()) return problem(response.error(), request.request_id);
  return std::move(*response);
}

std::optional<Response> Pipeline::over_limit(Request& request, std::string_view kind, const std::string& who,
                                             RateLimit limit) {
  if (!limiter_ || limit.off() || request.admitted) return std::nullopt;
  // A limiter that asks Redis blocks: the request goes to the worker pool first.
  if (limiter_->blocks() && blocking_forbidden()) throw WouldBlock{};
  Admission admission = limiter_->admit(std::string(kind) + ":" + who, limit);
  if (admission.allowed) {
    request.admitted = true;
    return std::nullopt;
  }
  std::string message = "too many requests from this " + std::string(kind == "key" ? "API key" : "address") +
                        " (at most " + describe(limit) + "); retry after " +
                        std::to_string(admission.retry_after_seconds) + " s";
  Response r = problem(Error::bad_request("rate_limited", message), request.request_id);
  r.set_header("Retry-After", std::to_string(admission.retry_after_seconds));
  return r;
}

Response Pipeline::call(Request& request, const Route& route) {
  // A customer session reads its own writes (the portal): never from a lagging replica.
  if (!route.reads_may_lag || (request.principal && !request.principal->customer.empty()))
    return run_handler(request, route);
  const std::uint64_t replica_reads = replica_reads_on_this_thread();
  Response response;
  {
    StaleReadsScope stale_reads;
    response = run_handler(request, route);
  }
  // A 404 or 422 from a replica may be only what it has not replayed yet (a page cursor
  // made a moment ago, on the primary): the primary is asked again, so staleness never
  // shows as an error. A read-only route runs twice at no risk.
  if ((response.status == 404 || response.status == 422) && replica_reads_on_this_thread() != replica_reads)
    return run_handler(request, route);
  return response;
}

Response Pipeline::run_handler(Request& request, const Route& route) {
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    return problem(Error::internal(std::string("uncaught exception in ") + request.method + " " + request.path + ": " +
                                   e.what()),
                   request.request_id);
  } catch (const WouldBlock&) {
    throw;  // not a failure: the server runs the request again on the pool
  } catch (...) {  // whatever it was, a 500: the request's transaction rolls back, its key is freed
    return problem(Error::internal(std::string("uncaught non-standard exception in ") + request.method + " " +
                                   request.path),
                   request.request_id);
  }
}

}  // namespace recur::http
