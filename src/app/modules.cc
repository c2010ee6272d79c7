// --modules (see modules.h).
#include "app/modules.h"

#include <string_view>

namespace recur::app {

Result<Modules> parse_modules(const std::string& text) {
  if (text == "all") return Modules{};
  Modules chosen{false, false, false, false};
  std::string_view rest = text;
  while (true) {
    auto comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    if (name == "api")
      chosen.api = true;
    else if (name == "billing-worker")
      chosen.billing = true;
    else if (name == "delivery-worker")
      chosen.delivery = true;
    else if (name == "scheduler")
      chosen.scheduler = true;
    else
      return Error::invalid("invalid_modules",
                            "--modules takes all, or a comma list of api, billing-worker, "
                            "delivery-worker and scheduler (not '" +
                                std::string(name) + "')");
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return chosen;
}

std::string describe(const Modules& modules) {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (on) out += (out.empty() ? "" : ",") + std::string(name);
  };
  add(modules.api, "api");
  add(modules.billing, "billing-worker");
  add(modules.delivery, "delivery-worker");
  add(modules.scheduler, "scheduler");
  return out;
}

}  // namespace recur::app
