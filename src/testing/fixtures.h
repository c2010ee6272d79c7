// Catalog and customer fixtures for service tests.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "testing/test_databases.h"

namespace recur::testing {

// Checks `done` every 10 ms until it holds or `bound` has passed (what another node does
// through Redis arrives a little later).
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

inline catalog::Plan make_plan(TestApp& t, std::int64_t amount, Interval interval, int count = 1,
                               std::int64_t trial_days = 0, const std::string& name = "Box") {
  auto product = t.app->catalog().create_product(
      {.name = name + " item", .sku = "SKU-" + t.app->ids().next("x")}, t.actor);
  EXPECT_TRUE(product.ok()) << (product.ok() ? "" : product.error().message);
  auto plan = t.app->catalog().create_plan({name, amount, "usd", {interval, count}, trial_days, std::nullopt,
                                            {{product->id, 1}}, Json::object()},
                                           t.actor);
  EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().message);
  return *plan;
}

inline customers::Customer make_customer(TestApp& t, const std::string& email = "ada@example.com") {
  // A shipping address, as a box subscriber has one (plans that ship goods require it).
  customers::Address home{"12 Analytical Row", std::nullopt, "London", "N1 9GU", std::nullopt, "GB"};
  auto c = t.app->customers().create({.email = email, .name = "Ada", .shipping_address = home}, t.actor);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return *c;
}

// A customer (as make_customer) whose default payment method is the sandbox's `token` ("" for none).
inline std::string make_customer_with(TestApp& t, const std::string& email, const std::string& token) {
  auto c = make_customer(t, email);
  if (!token.empty()) {
    auto pm = t.app->customers().attach_payment_method(c.id, {std::string("sandbox"), token, false}, t.actor);
    EXPECT_TRUE(pm.ok()) << (pm.ok() ? "" : pm.error().message);
  }
  return c.id;
}

inline subscriptions::Subscription subscribe(TestApp& t, const std::string& customer, const std::string& plan,
                                             std::optional<Timestamp> start = std::nullopt, std::int64_t quantity = 1) {
  auto s = t.app->subscriptions().create({customer, plan, quantity, start, std::nullopt, Json::object()}, t.actor);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return *s;
}

// Inserts an admin key row (id $1, key hash $2): a write that tests of transactions make and count.
inline constexpr const char* kInsertAdminKey =
    "INSERT INTO api_keys (id, role, key_hash, prefix, created_at) VALUES ($1, 'admin', $2, 'p', 1)";

inline Timestamp at(const char* rfc3339) { return parse_rfc3339(rfc3339).value(); }

// The one number a `SELECT COUNT(*) ...` of `t`'s database answers, read in a transaction of its own.
inline std::int64_t count(TestApp& t, const std::string& sql, db::Params params = {}) {
  auto tx = t.app->database().begin(db::TxMode::kReadOnly);
  EXPECT_TRUE(tx.ok()) << tx.error().message;
  auto rows = (*tx)->query(sql, params);
  EXPECT_TRUE(rows.ok()) << rows.error().message;
  return rows->at(0).int64(0);
}

// `n` threads released together, each running `work(i)`; returns each outcome.
inline std::vector<std::string> race(int n, const std::function<std::string(int)>& work) {
  std::vector<std::string> outcomes(n);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < n) std::this_thread::yield();
      outcomes[i] = work(i);
    });
  for (auto& th : threads) th.join();
  return outcomes;
}

inline std::map<std::string, int> tally(const std::vector<std::string>& outcomes) {
  std::map<std::string, int> out;
  for (const auto& o : outcomes) ++out[o];
  return out;
}

}  // namespace recur::testing
