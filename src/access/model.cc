// The role -> permission table, written once.
#include "access/model.h"

#include <algorithm>
#include <map>

namespace recur::access {
namespace {

const std::map<std::string_view, std::vector<std::string_view>>& table() {
  using namespace perm;
  static const std::map<std::string_view, std::vector<std::string_view>> kTable = {
      {"admin",
       {kCatalogRead, kCatalogWrite, kCustomersRead, kCustomersWrite, kSubscriptionsRead, kSubscriptionsWrite,
        kBillingRead, kBillingWrite, kTestClock, kSettingsRead, kSettingsWrite, kNotificationsRead, kInventoryRead,
        kInventoryWrite, kShipmentsRead, kShipmentsWrite, kEventsRead, kWebhooksManage, kCustomersExport,
        kCustomersErase, kAuditRead}},
      // Customer service: manages customers and their subscriptions, reads the catalogue,
      // answers a person's request for their data (export; erasure is the admin's).
      {"support",
       {kCatalogRead, kCustomersRead, kCustomersWrite, kCustomersExport, kSubscriptionsRead, kSubscriptionsWrite, kBillingRead,
        kSettingsRead, kNotificationsRead, kShipmentsRead, kShipmentsWrite}},
      // Finance: reads everything billing depends on; changes subscriptions' billing terms.
      {"billing",
       {kCatalogRead, kCustomersRead, kSubscriptionsRead, kSubscriptionsWrite, kBillingRead, kBillingWrite,
        kSettingsRead, kNotificationsRead}},
      // Warehouse: owns products and stock; reads plans and subscriptions for demand.
      {"inventory",
       {kCatalogRead, kCatalogWrite, kSubscriptionsRead, kInventoryRead, kInventoryWrite, kShipmentsRead,
        kShipmentsWrite}},
      // Analysts: read-only, everywhere.
      {"analyst",
       {kCatalogRead, kCustomersRead, kSubscriptionsRead, kBillingRead, kSettingsRead, kNotificationsRead, kInventoryRead,
        kShipmentsRead, kEventsRead}},
  };
  return kTable;
}

}  // namespace

bool is_role(std::string_view role) { return table().count(role) > 0; }

bool role_allows(std::string_view role, std::string_view permission) {
  auto it = table().find(role);
  if (it == table().end()) return false;
  return std::find(it->second.begin(), it->second.end(), permission) != it->second.end();
}

std::vector<std::string> permissions_of(std::string_view role) {
  std::vector<std::string> out;
  auto it = table().find(role);
  if (it != table().end())
    for (auto p : it->second) out.emplace_back(p);
  return out;
}

}  // namespace recur::access
