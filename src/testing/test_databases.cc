// Per-test databases for both engines.
#include "testing/test_databases.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace recur::testing {
namespace {

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

// A new schema per test: tests never see each other's rows, and nothing needs cleaning.
std::string postgres_url_for_fresh_schema() {
  const char* base = std::getenv("RECUR_TEST_PG_URL");
  if (!base || !*base)
    throw std::runtime_error("RECUR_TEST_ENGINE=postgres needs RECUR_TEST_PG_URL: run under scripts/with-postgres.sh");
  std::string schema = "t_" + unique_suffix();
  PGconn* conn = PQconnectdb(base);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot reach the test PostgreSQL: " + msg);
  }
  PGresult* res = PQexec(conn, ("CREATE SCHEMA " + schema).c_str());
  bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  PQfinish(conn);
  if (!ok) throw std::runtime_error("cannot create schema " + schema);
  std::string url(base);
  url += (url.find('?') == std::string::npos ? "?" : "&");
  url += "options=-csearch_path%3D" + schema;
  return url;
}

std::filesystem::path fresh_sqlite_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("recur-test-" + unique_suffix());
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

std::string engine() {
  const char* e = std::getenv("RECUR_TEST_ENGINE");
  return e && std::string(e) == "postgres" ? "postgres" : "sqlite";
}

TestApp make_app(Timestamp start, int pool_size) {
  TestApp t;
  // The folder holds the master key file (made by App::open) and, on SQLite, the database.
  auto dir = fresh_sqlite_dir();
  t.cleanup = std::shared_ptr<void>(nullptr, [dir](void*) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  });
  t.master_key_file = (dir / "master.key").string();
  if (engine() == "postgres") {
    t.db_url = postgres_url_for_fresh_schema();
  } else {
    t.db_url = "sqlite:" + (dir / "test.db").string();
  }
  auto clock = std::make_unique<SimulatedClock>(start);
  t.clock = clock.get();
  app::Options options{t.db_url, pool_size, "", ""};
  options.master_key_file = t.master_key_file;
  auto app = app::App::open(options, std::move(clock));
  if (!app.ok()) throw std::runtime_error("cannot open test database: " + app.error().message);
  t.app = std::move(*app);
  auto migrated = t.app->migrate();
  if (!migrated.ok()) throw std::runtime_error("cannot migrate test database: " + migrated.error().message);
  return t;
}

std::unique_ptr<app::App> reopen(const TestApp& base, Clock& clock, int pool_size, billing::BillingOptions billing) {
  app::Options options{base.db_url, pool_size, "", ""};
  options.billing = billing;
  return reopen(base, clock, std::move(options));
}

std::unique_ptr<app::App> reopen(const TestApp& base, Clock& clock, app::Options options) {
  struct Borrowed final : Clock {
    explicit Borrowed(Clock& c) : inner(c) {}
    Timestamp now() const override { return inner.now(); }
    Clock& inner;
  };
  options.db_url = base.db_url;
  options.master_key_file = base.master_key_file;
  auto app = app::App::open(options, std::make_unique<Borrowed>(clock));
  if (!app.ok()) throw std::runtime_error("cannot reopen test database: " + app.error().message);
  return std::move(*app);
}

std::unique_ptr<app::App> redis_node(const TestApp& base, const std::string& redis_url, int pool_size) {
  app::Options options{base.db_url, pool_size, "", ""};
  options.master_key_file = base.master_key_file;
  options.redis_url = redis_url;
  auto app = app::App::open(options, std::make_unique<SimulatedClock>(base.clock->now()));
  if (!app.ok()) throw std::runtime_error(app.error().message);
  return std::move(*app);
}

}  // namespace recur::testing
