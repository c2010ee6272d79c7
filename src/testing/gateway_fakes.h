// Fake HTTP exchanges for gateway adapter unit tests: canned answers, a transport that
// records what an adapter sends, and one that must never be called.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateways/exchange.h"

namespace recur::testing {

inline Result<net::HttpResponse> answer(long status, std::string body) {
  return net::HttpResponse{status, {}, std::move(body)};
}

// What net::send returns when no answer came ("timeout" or "transport_error").
inline Result<net::HttpResponse> no_answer(std::string code) {
  return Error::unavailable(std::move(code), "no answer");
}

// Records every request and answers each with `status` and `body`.
struct RecordingTransport {
  std::vector<net::HttpRequest> requests;
  long status = 200;
  std::string body = "{}";

  gateways::Transport transport() {
    return [this](const net::HttpRequest& r) -> Result<net::HttpResponse> {
      requests.push_back(r);
      return net::HttpResponse{status, {}, body};
    };
  }
  // The i-th request's header `name`, or "<absent>".
  std::string header(std::size_t i, std::string_view name) const {
    for (const auto& [n, v] : requests.at(i).headers)
      if (n == name) return v;
    return "<absent>";
  }
};

// For calls that must not reach the network (webhooks, refused inputs).
inline gateways::Transport no_network() {
  return [](const net::HttpRequest&) -> Result<net::HttpResponse> {
    return Error::internal("unexpected_request", "this call must not reach the network");
  };
}

}  // namespace recur::testing
