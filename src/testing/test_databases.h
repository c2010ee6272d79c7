// Test fixtures that run the same test on SQLite and PostgreSQL: RECUR_TEST_ENGINE picks
// the engine (sqlite | postgres); PostgreSQL comes from scripts/with-postgres.sh.
#pragma once

#include <memory>
#include <string>

#include "app/app.h"
#include "events/model.h"
#include "platform/clock.h"

namespace recur::testing {

struct TestApp {
  // Declared first so it runs last: removes a SQLite test folder once the app is closed.
  std::shared_ptr<void> cleanup;
  std::unique_ptr<app::App> app;
  SimulatedClock* clock = nullptr;  // owned by app
  std::string db_url;
  std::string master_key_file;  // in the test's own folder
  events::Actor actor{"api_key", "key_test", "admin"};
};

// "sqlite" or "postgres" (from RECUR_TEST_ENGINE; default sqlite).
std::string engine();

// A fresh, migrated database on the selected engine (a temp file, or a new PostgreSQL
// schema) and an App on a simulated clock starting at `start`.
TestApp make_app(Timestamp start, int pool_size = 8);

// Opens a second App on the same database (another "node"), for concurrency tests.
std::unique_ptr<app::App> reopen(const TestApp& base, Clock& clock, int pool_size = 8,
                                 billing::BillingOptions billing = {});

// The same with every option given (its database and master key file are base's).
std::unique_ptr<app::App> reopen(const TestApp& base, Clock& clock, app::Options options);

// Another API node on the same database, wired as `recur serve --redis-url` is: its own
// simulated clock (starting at base's now) and cache invalidations through `redis_url`.
std::unique_ptr<app::App> redis_node(const TestApp& base, const std::string& redis_url, int pool_size = 4);

}  // namespace recur::testing
