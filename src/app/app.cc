// App wiring.
#include "app/app.h"

#include "app/schema.h"
#include "app/static_files.h"
#include "catalog/routes.h"
#include "customers/routes.h"
#include "notify/routes.h"
#include "platform/http/rest.h"
#include "subscriptions/routes.h"

namespace recur::app {
namespace {

std::unique_ptr<notify::EmailSender> email_sender(const Options& options, const Clock& clock) {
  if (options.smtp.url.empty()) return std::make_unique<notify::LogEmailSender>();
  return std::make_unique<notify::SmtpEmailSender>(options.smtp, clock);
}

std::unique_ptr<notify::SmsSender> sms_sender(const Options& options) {
  if (options.sms.url.empty()) return std::make_unique<notify::LogSmsSender>();
  return std::make_unique<notify::HttpSmsSender>(options.sms);
}

}  // namespace

Result<std::unique_ptr<App>> App::open(const Options& options, std::unique_ptr<Clock> clock) {
  RECUR_ASSIGN(auto db, db::open(options.db_url, options.pool_size));
  return std::unique_ptr<App>(new App(options, std::move(clock), std::move(db)));
}

App::App(const Options& options, std::unique_ptr<Clock> clock, std::unique_ptr<db::Database> db)
    : clock_(std::move(clock)),
      db_(std::move(db)),
      ids_(*clock_),
      keys_(*db_, *clock_, ids_),
      idempotency_(*db_, *clock_),
      catalog_(*db_, *clock_, ids_),
      customers_(*db_, *clock_, ids_),
      subscriptions_(*db_, *clock_, ids_),
      email_(email_sender(options, *clock_)),
      sms_(sms_sender(options)),
      notifications_(*db_, *clock_, ids_, *email_, *sms_, notify::NotifierOptions{options.update_payment_url}),
      pipeline_(router_, keys_, idempotency_) {
  catalog::add_routes(router_, catalog_);
  customers::add_routes(router_, customers_);
  subscriptions::add_routes(router_, subscriptions_);
  notify::add_routes(router_, notifications_);
  add_platform_routes(options);
}

Result<db::MigrationReport> App::migrate() { return db::migrate(*db_, migrations(), clock_->now()); }

void App::add_platform_routes(const Options& options) {
  router_.add("GET", "/healthz", "", [this](http::Request& req) {
    auto version = db::transact(*db_, [](db::Tx& tx) -> Result<std::int64_t> {
      RECUR_ASSIGN(auto rows, tx.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
      return rows.at(0).int64(0);
    }, db::TxMode::kReadOnly);
    if (!version.ok())
      return http::error_response(req, Error{ErrorKind::kUnavailable, "database_unavailable",
                                             "the database does not answer", {}, {}});
    return http::json_response(200, {{"status", "ok"}, {"schema_version", *version}});
  });
  add_static_routes(router_, options.docs_dir, options.spec_path);
}

}  // namespace recur::app
