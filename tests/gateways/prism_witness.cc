// The Prism witness.
#include "gateways/prism_witness.h"

#include <cstdlib>

namespace recur::testing {

billing::Transport PrismWitness::transport() {
  return [this](const net::HttpRequest& request) {
    auto response = net::send(request);
    std::lock_guard lock(mu_);
    ++exchanges_;
    std::string what = request.method + " " + request.url;
    if (!response.ok()) {
      refusals_.push_back(what + ": no answer: " + response.error().message);
      return response;
    }
    auto violations = response->headers.find("sl-violations");
    bool accepted = response->status >= 200 && response->status < 300 && violations == response->headers.end();
    if (!accepted)
      refusals_.push_back(what + ": HTTP " + std::to_string(response->status) + " " +
                          (violations == response->headers.end() ? response->body : violations->second));
    return response;
  };
}

std::size_t PrismWitness::exchanges() const {
  std::lock_guard lock(mu_);
  return exchanges_;
}

std::string PrismWitness::refusals() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& line : refusals_) out += line + "\n";
  return out;
}

std::string prism_url(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace recur::testing
