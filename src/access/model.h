// Roles and the permissions each one grants. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace recur::access {

// Permissions are "area:verb". Endpoints declare the one they need.
namespace perm {
inline constexpr std::string_view kCatalogRead = "catalog:read";
inline constexpr std::string_view kCatalogWrite = "catalog:write";
inline constexpr std::string_view kCustomersRead = "customers:read";
inline constexpr std::string_view kCustomersWrite = "customers:write";
inline constexpr std::string_view kCustomersExport = "customers:export";  // GDPR/CCPA access: everything about a person
inline constexpr std::string_view kCustomersErase = "customers:erase";    // GDPR erasure (crypto-shredding)
inline constexpr std::string_view kSubscriptionsRead = "subscriptions:read";
inline constexpr std::string_view kSubscriptionsWrite = "subscriptions:write";
inline constexpr std::string_view kBillingRead = "billing:read";    // invoices, payments, runs
inline constexpr std::string_view kBillingWrite = "billing:write";  // pay/void invoices, run billing, refunds
inline constexpr std::string_view kTestClock = "test_clock:write";  // only in test mode
inline constexpr std::string_view kSettingsRead = "settings:read";
inline constexpr std::string_view kSettingsWrite = "settings:write";
inline constexpr std::string_view kNotificationsRead = "notifications:read";
inline constexpr std::string_view kInventoryRead = "inventory:read";    // stock, movements, forecasts, suppliers, POs
inline constexpr std::string_view kInventoryWrite = "inventory:write";  // adjustments, receipts, suppliers, POs
inline constexpr std::string_view kShipmentsRead = "shipments:read";
inline constexpr std::string_view kShipmentsWrite = "shipments:write";  // statuses, backorder choices
inline constexpr std::string_view kEventsRead = "events:read";          // the events API: every resource's changes
inline constexpr std::string_view kWebhooksManage = "webhooks:manage";  // webhook endpoints, their secrets and deliveries
inline constexpr std::string_view kAuditRead = "audit:read";            // the audit log: every change by anyone (admin)
inline constexpr std::string_view kApiKeysManage = "api_keys:manage";  // API keys and custom roles
inline constexpr std::string_view kAnalyticsRead = "analytics:read";   // MRR, churn, LTV, cohorts... (admin, analyst)
}  // namespace perm

// Every permission above, in one list (model.cc; scripts/check_permissions.py keeps it equal
// to api/openapi.yaml's x-permission values): what a custom role may be made of.
const std::vector<std::string_view>& all_permissions();
bool is_permission(std::string_view permission);

inline constexpr std::string_view kRoles[] = {"admin", "support", "billing", "inventory", "analyst"};

// The five built-in roles (custom roles live in the database: access/service.h).
bool is_role(std::string_view role);
bool role_allows(std::string_view role, std::string_view permission);
// Every permission a built-in role holds, for docs and `recur keys create --help`.
std::vector<std::string> permissions_of(std::string_view role);

// A custom role's name: 1 to 40 of a-z, 0-9, '_' and '-', starting with a letter, and not a
// built-in role's. nullopt when it is acceptable, else why not.
std::optional<std::string> role_name_problem(std::string_view name);
// The entries of `permissions` that are no permission (in their order, once each).
std::vector<std::string> unknown_permissions(const std::vector<std::string>& permissions);

// An API key at `now`: revoked wins over expired (a key that was revoked says so even after
// its expiry); a key expires at expires_at itself.
enum class KeyState { kActive, kRevoked, kExpired };
KeyState key_state(std::optional<std::int64_t> revoked_at, std::optional<std::int64_t> expires_at, std::int64_t now);

// last_used_at is written at most once a minute per key (and per node): not a write per
// request. Due when nothing was written yet, or kLastUsedEvery seconds have passed.
inline constexpr std::int64_t kLastUsedEvery = 60;
bool last_used_due(std::optional<std::int64_t> last_written, std::int64_t now);

}  // namespace recur::access
