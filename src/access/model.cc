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
        kCustomersErase, kAuditRead, kApiKeysManage, kAnalyticsRead}},
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
        kShipmentsRead, kEventsRead, kAnalyticsRead}},
  };
  return kTable;
}

}  // namespace

const std::vector<std::string_view>& all_permissions() {
  using namespace perm;
  // kAllPermissions: scripts/check_permissions.py reads this list.
  static const std::vector<std::string_view> kAllPermissions = {
      kCatalogRead,     kCatalogWrite,      kCustomersRead,   kCustomersWrite, kCustomersExport,
      kCustomersErase,  kSubscriptionsRead, kSubscriptionsWrite, kBillingRead, kBillingWrite,
      kTestClock,       kSettingsRead,      kSettingsWrite,   kNotificationsRead, kInventoryRead,
      kInventoryWrite,  kShipmentsRead,     kShipmentsWrite,  kEventsRead,     kWebhooksManage,
      kApiKeysManage,   kAuditRead,         kAnalyticsRead,
  };
  return kAllPermissions;
}

bool is_permission(std::string_view permission) {
  const auto& all = all_permissions();
  return std::find(all.begin(), all.end(), permission) != all.end();
}

std::optional<std::string> role_name_problem(std::string_view name) {
  if (name.empty() || name.size() > 40) return "a role's name has 1 to 40 characters";
  if (name[0] < 'a' || name[0] > 'z') return "a role's name starts with a lower-case letter";
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return "a role's name has only a-z, 0-9, '_' and '-'";
  if (is_role(name)) return "'" + std::string(name) + "' is a built-in role";
  return std::nullopt;
}

std::vector<std::string> unknown_permissions(const std::vector<std::string>& permissions) {
  std::vector<std::string> out;
  for (const auto& p : permissions)
    if (!is_permission(p) && std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  return out;
}

KeyState key_state(std::optional<std::int64_t> revoked_at, std::optional<std::int64_t> expires_at, std::int64_t now) {
  if (revoked_at) return KeyState::kRevoked;
  if (expires_at && now >= *expires_at) return KeyState::kExpired;
  return KeyState::kActive;
}

bool last_used_due(std::optional<std::int64_t> last_written, std::int64_t now) {
  return !last_written || now - *last_written >= kLastUsedEvery;
}

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
