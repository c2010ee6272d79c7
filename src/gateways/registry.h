// The gateways this deployment is configured with, by name, and which one new payment
// methods use when the caller does not say.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gateways/gateway.h"
#include "platform/db/database.h"

namespace recur::gateways {

class Gateways {
 public:
  // The first gateway added is the default until set_default says otherwise.
  void add(std::unique_ptr<Gateway> gateway) {
    std::string name = gateway->name();
    if (default_.empty()) default_ = name;
    by_name_[name] = std::move(gateway);
  }
  // Throws std::logic_error inside a request's one transaction (db::RequestTransaction): a
  // gateway call there would hold the transaction open across the call and lose its record on
  // a rollback; such a route must be marked Router::commits_in_steps (decision 0009).
  Gateway* find(const std::string& name) const {
    if (db::RequestTransaction::open_on_this_thread())
      throw std::logic_error("a gateway was called inside a request transaction; mark the route commits_in_steps");
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second.get();
  }
  void set_default(std::string name) { default_ = std::move(name); }
  const std::string& default_name() const { return default_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, g] : by_name_) out.push_back(name);
    return out;
  }

 private:
  std::map<std::string, std::unique_ptr<Gateway>> by_name_;
  std::string default_;
};

}  // namespace recur::gateways
