// A small blocking HTTP client over libcurl, for gateways, webhooks and SMS providers.
// send: one call, one request, no shared state, safe from any thread; a Session keeps its
// connections open between calls. Transport failures
// (refused, timed out, TLS) are ErrorKind::kUnavailable with code "transport_error" or
// "timeout"; any HTTP status is a success at this layer (the caller reads it).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "platform/result.h"
#include "platform/url.h"

namespace recur::net {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // in order; may repeat
  std::string body;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{3000};
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value wins
  std::string body;
};

Result<HttpResponse> send(const HttpRequest& request);

// Requests that reuse their connections (HTTP keep-alive) from one call to the next. Not
// safe to share between threads: keep one per thread.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Result<HttpResponse> send(const HttpRequest& request);

 private:
  void* handle_ = nullptr;  // CURL*, made on first use
};

// application/x-www-form-urlencoded, in the given order (Stripe, Twilio).
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
using recur::url_encode;  // platform/url.h

}  // namespace recur::net
