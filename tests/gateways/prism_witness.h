// Watches every exchange a gateway adapter has with a Prism mock, so a contract test can
// assert that Prism accepted each request (2xx, no `sl-violations` about the request), i.e.
// that the request keeps the gateway's published contract.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "gateways/exchange.h"

namespace recur::testing {

class PrismWitness {
 public:
  // net::send, recording each answer.
  gateways::Transport transport();
  std::size_t exchanges() const;
  // "" when every request got a 2xx and no violation; else one line per refusal, with
  // Prism's reasons.
  std::string refusals() const;

 private:
  mutable std::mutex mu_;
  std::size_t exchanges_ = 0;
  std::vector<std::string> refusals_;
};

// The base URL of a Prism mock the run script started ("http://127.0.0.1:PORT"), read from
// the environment variable `name`; "" when it is not set (the test then fails, not skips).
std::string prism_url(const char* name);

}  // namespace recur::testing
