// The role -> permission table: every role against every permission a route declares.
#include "access/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace recur::access {
namespace {

// Every permission the routes declare (perm::k*; api/openapi.yaml's x-permission values).
constexpr std::string_view kAllPermissions[] = {
    perm::kCatalogRead,       perm::kCatalogWrite,      perm::kCustomersRead,      perm::kCustomersWrite,
    perm::kSubscriptionsRead, perm::kSubscriptionsWrite, perm::kBillingRead,       perm::kBillingWrite,
    perm::kTestClock,         perm::kSettingsRead,      perm::kSettingsWrite,      perm::kNotificationsRead,
    perm::kInventoryRead,     perm::kInventoryWrite,    perm::kShipmentsRead,      perm::kShipmentsWrite,
    perm::kEventsRead,        perm::kWebhooksManage,     perm::kCustomersExport,   perm::kCustomersErase,
    perm::kAuditRead,
    perm::kApiKeysManage,
    perm::kAnalyticsRead,
};

// One row per permission; a column per role, in kRoles' order: admin, support, billing,
// inventory, analyst. 'Y' the role holds it, '-' it must not.
struct Row {
  std::string_view permission;
  std::string_view allowed;  // 5 characters
};

constexpr Row kTable[] = {
    //                             admin support billing inventory analyst
    {perm::kCatalogRead,          "YYYYY"},
    {perm::kCatalogWrite,         "Y--Y-"},  // products and plans: admin and the warehouse
    {perm::kCustomersRead,        "YYY-Y"},  // the warehouse sees no customers
    {perm::kCustomersWrite,       "YY---"},
    {perm::kSubscriptionsRead,    "YYYYY"},
    {perm::kSubscriptionsWrite,   "YYY--"},
    {perm::kBillingRead,          "YYY-Y"},
    {perm::kBillingWrite,         "Y-Y--"},  // refunds, voids, runs: finance only
    {perm::kTestClock,            "Y----"},
    {perm::kSettingsRead,         "YYY-Y"},
    {perm::kSettingsWrite,        "Y----"},
    {perm::kNotificationsRead,    "YYY-Y"},
    {perm::kInventoryRead,        "Y--YY"},
    {perm::kInventoryWrite,       "Y--Y-"},
    {perm::kShipmentsRead,        "YY-YY"},
    {perm::kShipmentsWrite,       "YY-Y-"},
    {perm::kEventsRead,           "Y---Y"},  // every resource's changes, customers' included
    {perm::kWebhooksManage,       "Y----"},  // endpoint secrets, and where events go
    {perm::kCustomersExport,      "YY---"},  // a person's request for their data: support answers it
    {perm::kCustomersErase,       "Y----"},  // erasure destroys data for good: admins only
    {perm::kAuditRead,            "Y----"},  // who changed what, from where: admins only
    {perm::kApiKeysManage,        "Y----"},  // keys and custom roles: whoever holds it holds every permission
    {perm::kAnalyticsRead,        "Y---Y"},  // MRR, churn, LTV: the shop's own figures, for its analysts
};

TEST(RolePermissions, EveryRoleHoldsExactlyThePermissionsOfTheTable) {
  ASSERT_EQ(std::size(kRoles), 5u);
  for (const auto& row : kTable) {
    ASSERT_EQ(row.allowed.size(), std::size(kRoles)) << row.permission;
    for (std::size_t r = 0; r < std::size(kRoles); ++r) {
      bool expected = row.allowed[r] == 'Y';
      EXPECT_EQ(role_allows(kRoles[r], row.permission), expected)
          << kRoles[r] << (expected ? " must hold " : " must not hold ") << row.permission;
    }
  }
}

TEST(RolePermissions, TheTableCoversEveryPermissionOnce) {
  std::set<std::string_view> rows;
  for (const auto& row : kTable) EXPECT_TRUE(rows.insert(row.permission).second) << row.permission;
  EXPECT_EQ(rows, std::set<std::string_view>(std::begin(kAllPermissions), std::end(kAllPermissions)));
}

TEST(RolePermissions, NoRoleHoldsAPermissionTheTestDoesNotKnow) {
  // A permission added to access/model.cc must get a row above (and a route).
  for (auto role : kRoles)
    for (const auto& p : permissions_of(role))
      EXPECT_NE(std::find(std::begin(kAllPermissions), std::end(kAllPermissions), p), std::end(kAllPermissions))
          << role << " holds " << p;
}

TEST(RolePermissions, PermissionsOfListsEachHeldPermissionOnceAndAgreesWithRoleAllows) {
  for (auto role : kRoles) {
    auto held = permissions_of(role);
    std::set<std::string> unique(held.begin(), held.end());
    EXPECT_EQ(unique.size(), held.size()) << role;
    for (auto p : kAllPermissions) EXPECT_EQ(unique.count(std::string(p)) == 1, role_allows(role, p)) << role << " " << p;
  }
}

TEST(RolePermissions, AdminHoldsEveryPermissionAndAnalystNoWrite) {
  EXPECT_EQ(permissions_of("admin").size(), std::size(kAllPermissions));
  for (const auto& p : permissions_of("analyst")) EXPECT_TRUE(p.ends_with(":read")) << p;
}

TEST(RolePermissions, ARoleThatMayWriteAnAreaMayReadIt) {
  for (auto role : kRoles)
    for (const auto& p : permissions_of(role)) {
      if (!p.ends_with(":write") || p == perm::kTestClock) continue;  // the test clock has nothing to read
      std::string read = p.substr(0, p.find(':')) + ":read";
      EXPECT_TRUE(role_allows(role, read)) << role << " holds " << p << " but not " << read;
    }
}

// "manage" where one permission covers reading and writing something only admins touch
// (webhooks:manage: endpoint secrets, and where events go); a person's rights over their
// data have verbs of their own (customers:export, customers:erase), apart from read/write.
TEST(RolePermissions, PermissionsAreAreaColonReadWriteOrManage) {
  for (auto p : kAllPermissions) {
    auto colon = p.find(':');
    ASSERT_NE(colon, std::string_view::npos) << p;
    EXPECT_GT(colon, 0u) << p;
    auto verb = p.substr(colon + 1);
    EXPECT_TRUE(verb == "read" || verb == "write" || verb == "manage" || verb == "export" || verb == "erase") << p;
  }
}

TEST(RolePermissions, EveryListedRoleIsARoleAndNothingElseIs) {
  for (auto role : kRoles) EXPECT_TRUE(is_role(role)) << role;
  for (std::string_view other : {"", "Admin", "ADMIN", "admin ", "root", "owner", "support:read", "system"}) {
    EXPECT_FALSE(is_role(other)) << other;
    EXPECT_TRUE(permissions_of(other).empty()) << other;
    for (auto p : kAllPermissions) EXPECT_FALSE(role_allows(other, p)) << other << " " << p;
  }
}

TEST(RolePermissions, APermissionMustMatchExactly) {
  for (std::string_view near : {"catalog:READ", "catalog", "catalog:read ", "catalog:*", "*", "", "test_clock:read"})
    for (auto role : kRoles) EXPECT_FALSE(role_allows(role, near)) << role << " " << near;
}

TEST(Permissions, AllPermissionsIsTheTestsListOnceEach) {
  const auto& all = all_permissions();
  EXPECT_EQ(std::set<std::string_view>(all.begin(), all.end()),
            std::set<std::string_view>(std::begin(kAllPermissions), std::end(kAllPermissions)));
  EXPECT_EQ(all.size(), std::size(kAllPermissions));
  for (auto p : kAllPermissions) EXPECT_TRUE(is_permission(p)) << p;
  for (std::string_view near : {"", "catalog", "catalog:READ", "catalog:*", "*", "admin", "api_keys:read"})
    EXPECT_FALSE(is_permission(near)) << near;
}

TEST(CustomRoles, UnknownPermissionsAreListedOnceInTheirOrder) {
  EXPECT_TRUE(unknown_permissions({}).empty());
  EXPECT_TRUE(unknown_permissions({"catalog:read", "events:read"}).empty());
  EXPECT_EQ(unknown_permissions({"catalog:read", "catalog:delete", "*", "catalog:delete", "admin"}),
            (std::vector<std::string>{"catalog:delete", "*", "admin"}));
}

TEST(CustomRoles, ANameIsShortLowerCaseAndNoBuiltInRole) {
  struct Case {
    std::string_view name;
    bool ok;
  };
  const Case cases[] = {
      {"readonly", true},       {"web-shop", true},   {"ops_2", true},      {"a", true},
      {std::string_view("abcdefghijklmnopqrstuvwxyzabcdefghijklmn"), true},  // 40
      {"abcdefghijklmnopqrstuvwxyzabcdefghijklmno", false},                   // 41
      {"", false},              {"Readonly", false},  {"2fast", false},     {"_x", false},
      {"web shop", false},      {"ops.read", false},  {"r\xc3\xb4le", false},
      {"admin", false},         {"support", false},   {"billing", false},   {"inventory", false},
      {"analyst", false},
  };
  for (const auto& c : cases) EXPECT_EQ(!role_name_problem(c.name).has_value(), c.ok) << c.name;
}

TEST(KeyExpiry, RevokedWinsThenExpiryAtItsSecond) {
  struct Case {
    std::optional<std::int64_t> revoked, expires;
    std::int64_t now;
    KeyState state;
  };
  const Case cases[] = {
      {std::nullopt, std::nullopt, 1000, KeyState::kActive},
      {std::nullopt, 1001, 1000, KeyState::kActive},
      {std::nullopt, 1000, 1000, KeyState::kExpired},  // expires at expires_at itself
      {std::nullopt, 999, 1000, KeyState::kExpired},
      {900, std::nullopt, 1000, KeyState::kRevoked},
      {900, 999, 1000, KeyState::kRevoked},             // revoked and expired: says revoked
      {900, 5000, 1000, KeyState::kRevoked},
  };
  for (const auto& c : cases)
    EXPECT_EQ(key_state(c.revoked, c.expires, c.now), c.state)
        << c.revoked.value_or(-1) << " " << c.expires.value_or(-1) << " " << c.now;
}

TEST(KeyExpiry, LastUsedIsWrittenAtMostOnceAMinute) {
  EXPECT_TRUE(last_used_due(std::nullopt, 1000));
  EXPECT_FALSE(last_used_due(1000, 1000));
  EXPECT_FALSE(last_used_due(1000, 1059));
  EXPECT_TRUE(last_used_due(1000, 1060));
  EXPECT_TRUE(last_used_due(1000, 5000));
}

}  // namespace
}  // namespace recur::access
