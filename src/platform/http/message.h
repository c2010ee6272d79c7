// HTTP request and response as plain values: what handlers see instead of sockets.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace recur::http {

// Who is calling, as established by authentication.
struct Principal {
  std::string key_id;  // "key_..."
  std::string role;    // "admin", "support", ... or a custom role's name
  // What the role holds, resolved when the key was checked (a custom role's permissions
  // are in the database); empty for a built-in role, which the authenticator knows.
  std::vector<std::string> permissions;
  // Set for a customer session ("cs_..." token): the one customer ("cus_...") whose resources
  // the caller may reach, on the routes that declare how (Router::for_customers); key_id is
  // then the session's id ("csess_...") and role "customer".
  std::string customer;
};

struct Request {
  std::string method;                              // "GET", "POST", ...
  std::string path;                                // "/v1/subscriptions/sub_1"
  std::multimap<std::string, std::string> query;   // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::map<std::string, std::string> path_params;  // {id} -> "sub_1"
  std::string request_id;
  std::optional<Principal> principal;
  // The caller's Idempotency-Key, scoped to the caller, while the pipeline holds its claim;
  // a handler that commits in steps passes it to its service as a recovery point.
  std::string idempotency_key;
  // The peer's IP address as the transport saw it ("127.0.0.1", "::1"; "" when there is no
  // socket, as in tests); behind a proxy, the proxy's.
  std::string remote_address;
  // Set once a rate limit has admitted the request, so that a request the I/O thread hands to
  // the worker pool (WouldBlock) is not counted twice.
  bool admitted = false;
  // The matched route's template ("/v1/subscriptions/{id}"), set by the pipeline; "" when no
  // route matched. Metrics count by it, never by the path (whose ids are unbounded).
  std::string route;

  std::optional<std::string> header(std::string_view lower_name) const;
  std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  void set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

// Percent-decodes a URL component ("+" is a space in query strings).
std::string url_decode(std::string_view text, bool plus_is_space);
// Splits "a=1&b=2" into decoded pairs.
std::multimap<std::string, std::string> parse_query(std::string_view query);

}  // namespace recur::http
