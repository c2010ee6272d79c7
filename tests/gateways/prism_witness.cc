// The Prism witness.
#include "gateways/prism_witness.h"

#include <cstdlib>

namespace recur::testing {
namespace {

// Prism's `sl-violations` list the request's faults and also the spec example's own
// faults (location "response"): only the request's are Recur's. "" when there are none.
std::string request_violations(const std::string& header) {
  // A long list comes cut short: "Too many violations! [..." (no longer JSON). Its entries
  // still say where each fault is; one in the request is Recur's (and makes Prism answer
  // 422, which is refused by its status anyway). A body Prism made up from a schema with
  // patterns (PayPal's orders have no example) is where such lists come from.
  constexpr std::string_view kCut = "Too many violations! ";
  if (header.starts_with(kCut))
    return header.find(R"("location":["request")") == std::string::npos ? "" : header;
  Json list = Json::parse(header, nullptr, false);
  if (!list.is_array()) return header;
  std::string out;
  for (const auto& v : list) {
    const Json& location = gateways::member_of(v, "location");
    if (location.is_array() && !location.empty() && location[0] == "response") continue;
    out += v.dump() + " ";
  }
  return out;
}

}  // namespace

gateways::Transport PrismWitness::transport() {
  return [this](const net::HttpRequest& request) {
    auto response = net::send(request);
    std::lock_guard lock(mu_);
    ++exchanges_;
    std::string what = request.method + " " + request.url;
    if (!response.ok()) {
      refusals_.push_back(what + ": no answer: " + response.error().message);
      return response;
    }
    auto header = response->headers.find("sl-violations");
    std::string violations = header == response->headers.end() ? "" : request_violations(header->second);
    bool accepted = response->status >= 200 && response->status < 300 && violations.empty();
    if (!accepted)
      refusals_.push_back(what + ": HTTP " + std::to_string(response->status) + " " +
                          (violations.empty() ? response->body : violations));
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
