// Roles and the permissions each one grants. Pure: no I/O.
#pragma once

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
}  // namespace perm

inline constexpr std::string_view kRoles[] = {"admin", "support", "billing", "inventory", "analyst"};

bool is_role(std::string_view role);
bool role_allows(std::string_view role, std::string_view permission);
// Every permission a role holds, for docs and `recur keys create --help`.
std::vector<std::string> permissions_of(std::string_view role);

}  // namespace recur::access
