// The gateways this deployment is configured with, by name, and which one new payment
// methods use when the caller does not say.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "billing/gateways/gateway.h"

namespace recur::billing {

class Gateways {
 public:
  // The first gateway added is the default until set_default says otherwise.
  void add(std::unique_ptr<Gateway> gateway) {
    std::string name = gateway->name();
    if (default_.empty()) default_ = name;
    by_name_[name] = std::move(gateway);
  }
  Gateway* find(const std::string& name) const {
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

}  // namespace recur::billing
