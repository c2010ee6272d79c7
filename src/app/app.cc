// App wiring.
#include "app/app.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "access/routes.h"
#include "analytics/routes.h"
#include "app/audit_routes.h"
#include "app/customer_scopes.h"
#include "app/data_subject.h"
#include "app/expansions.h"
#include "app/schema.h"
#include "app/static_files.h"
#include "billing/routes.h"
#include "billing/store.h"
#include "catalog/routes.h"
#include "customers/routes.h"
#include "gateways/paypal.h"
#include "gateways/square.h"
#include "gateways/stripe.h"
#include "gifts/routes.h"
#include "inventory/forecast.h"
#include "inventory/forecast_routes.h"
#include "inventory/purchasing_routes.h"
#include "inventory/routes.h"
#include "inventory/store.h"
#include "notify/routes.h"
#include "platform/cache/redis_rate_limiter.h"
#include "platform/db/engines.h"
#include "platform/http/rest.h"
#include "subscriptions/routes.h"
#include "webhooks/routes.h"

namespace recur::app {
namespace {

// The SQLite database's file, whose disk /metrics watches; "" on PostgreSQL or in memory.
std::string sqlite_file(const std::string& url) {
  if (url.rfind("sqlite:", 0) != 0) return "";
  auto target = db::parse_sqlite_target(std::string_view(url).substr(7));
  if (!target.ok() || target->first.empty() || target->first.find(":memory:") != std::string::npos) return "";
  return target->first;
}

std::unique_ptr<notify::EmailSender> email_sender(const Options& options, const Clock& clock) {
  if (options.smtp.url.empty()) return std::make_unique<notify::LogEmailSender>();
  return std::make_unique<notify::SmtpEmailSender>(options.smtp, clock);
}

inventory::PurchasingOptions purchasing_options(const Options& options) {
  inventory::PurchasingOptions purchasing = options.purchasing;
  if (purchasing.ops_email.empty()) purchasing.ops_email = options.inventory.ops_email;
  return purchasing;
}

billing::BillingOptions billing_options(const Options& options) {
  billing::BillingOptions billing = options.billing;
  if (billing.ops_email.empty()) billing.ops_email = options.inventory.ops_email;
  // The sandbox's webhook secret is public: only in test mode (or where a test asks).
  billing.sandbox_webhooks = billing.sandbox_webhooks || options.test_mode;
  return billing;
}

webhooks::WebhookOptions webhook_options(const Options& options) {
  webhooks::WebhookOptions out;
  out.allow_private_urls = options.allow_private_webhook_urls || options.test_mode;
  out.ops_email = options.inventory.ops_email;  // --ops-email
  out.senders = options.webhook_senders;
  out.lease_seconds = options.webhook_lease_seconds;
  return out;
}

std::unique_ptr<notify::SmsSender> sms_sender(const Options& options) {
  if (options.sms.url.empty()) return std::make_unique<notify::LogSmsSender>();
  return std::make_unique<notify::HttpSmsSender>(options.sms);
}

// The merchant's top-level lists and reports, whose reads may lag the writes before them by
// the replica's staleness bound (--db-replica; docs/OPERATIONS.md, "Read replica"). A single
// resource, a list under one (its parent looked up there could be missing yet: a 404 right
// after the parent's creation), anything a customer session reads and every write stay on
// the primary.
void declare_stale_reads(http::Router& router) {
  static constexpr const char* kPatterns[] = {
      "/v1/products", "/v1/plans", "/v1/tiers", "/v1/coupons", "/v1/promotion-codes", "/v1/customers",
      "/v1/subscriptions", "/v1/retention-offers", "/v1/gifts", "/v1/invoices", "/v1/payments", "/v1/refunds",
      "/v1/credit-notes", "/v1/billing/runs", "/v1/inventory", "/v1/shipments", "/v1/events", "/v1/audit-log",
      "/v1/notifications", "/v1/webhook-endpoints", "/v1/forecasts", "/v1/suppliers", "/v1/purchase-orders",
      "/v1/analytics/mrr", "/v1/analytics/mrr-movements", "/v1/analytics/churn", "/v1/analytics/ltv",
      "/v1/analytics/renewals", "/v1/analytics/cohorts", "/v1/analytics/survival", "/v1/analytics/engagement",
      "/v1/analytics/cancellations", "/v1/analytics/at-risk", "/v1/analytics/customers"};
  for (const char* pattern : kPatterns)
    if (!router.reads_may_lag("GET", pattern))
      throw std::logic_error(std::string("no route GET ") + pattern + " to mark as reading what may lag");
}

}  // namespace

Result<std::unique_ptr<App>> App::open(const Options& options, std::unique_ptr<Clock> clock) {
  bool created_key = false;
  RECUR_ASSIGN(auto master, privacy::load_or_create_master_keys(options.master_key_file, &created_key));
  std::unique_ptr<db::Database> db;
  db::ReplicaRouter* replica_router = nullptr;
  if (options.db_replica_url.empty()) {
    RECUR_ASSIGN(db, db::open(options.db_url, options.pool_size));
  } else {
    RECUR_ASSIGN(auto router, db::open_with_replica(options.db_url, options.db_replica_url, options.pool_size,
                                                    options.replica));
    replica_router = router.get();
    db = std::move(router);
  }
  auto keyring = std::make_unique<privacy::Keyring>(std::move(master), options.master_key_file, *clock);
  db->attach(keyring.get());  // before any transaction: every store seals and opens through it
  auto app = std::unique_ptr<App>(new App(options, std::move(clock), std::move(db)));
  app->db_->attach(&app->ledger_);  // analytics keeps its tables in each event's transaction
  app->db_->attach(&app->gift_reminders_);  // a gift's last box is announced as the box before it begins
  if (options.read_caches) {
    app->db_->attach(&app->plan_cache_);
    app->db_->attach(&app->closed_days_cache_);
    app->db_->attach(&app->view_cache_);
  }
  // A rendered subscription shows its plan and tier, the blackout dates, and what its
  // customer's data key opens: it goes when any of them does, here or on another node.
  auto drop_views = [views = &app->view_cache_.cache] { views->drop_all(); };
  app->plan_cache_.cache.on_drop(drop_views);
  app->closed_days_cache_.cache.on_drop(drop_views);
  keyring->on_forget(drop_views);
  app->keyring_ = std::move(keyring);
  app->created_master_key_ = created_key;
  if (replica_router) app->metrics_.watch_replica(*replica_router);
  if (!options.redis_url.empty()) {
    RECUR_ASSIGN(app->redis_bus_, cache::RedisInvalidationBus::open(options.redis_url));
    app->shared_bus_ = std::make_unique<cache::SharedBus>(*app->redis_bus_);
    app->inventory_.set_invalidation_bus(app->shared_bus_.get());
    app->keyring_->set_invalidation_bus(app->shared_bus_.get());
    app->keys_.set_invalidation_bus(app->shared_bus_.get());  // a revoked key, refused on every node at once
    app->plan_cache_.cache.connect(app->shared_bus_.get());
    app->closed_days_cache_.cache.connect(app->shared_bus_.get());
    app->view_cache_.cache.connect(app->shared_bus_.get());
  }
  if (!options.rate_limits.per_key.off() || !options.rate_limits.per_ip.off()) {
    if (options.redis_url.empty()) {
      app->rate_limiter_ = std::make_unique<http::LocalRateLimiter>();
    } else {
      RECUR_ASSIGN(app->rate_limiter_, cache::RedisRateLimiter::open(options.redis_url));
    }
    app->pipeline_.set_rate_limits(app->rate_limiter_.get(), options.rate_limits);
  }
  if (!options.alerts.webhook_url.empty() || !options.alerts.sentry_dsn.empty()) {
    auto alert_options = options.alerts;
    if (alert_options.release.empty()) alert_options.release = build_version();
    RECUR_ASSIGN(app->alerter_, alerts::Alerter::open(std::move(alert_options), app->wall_clock_));
    app->metrics_.watch_alerts(*app->alerter_);
  }
  if (!options.nats_url.empty()) {
    RECUR_TRY(nats::parse_url(options.nats_url));  // a typo fails at start, not at each tick
    app->stream_ = std::make_unique<webhooks::JetStream>(webhooks::JetStreamOptions{options.nats_url});
    app->publisher_ = std::make_unique<webhooks::StreamPublisher>(*app->db_, *app->stream_);
  }
  return app;
}

App::App(const Options& options, std::unique_ptr<Clock> clock, std::unique_ptr<db::Database> db)
    : clock_(std::move(clock)),
      db_(std::move(db)),
      metrics_(*db_, *clock_, sqlite_file(options.db_url)),
      plan_cache_(*clock_),
      closed_days_cache_(*clock_),
      view_cache_(*clock_),
      ids_(*clock_),
      audit_(*db_, ids_, *clock_),
      reports_(*db_, *clock_),
      keys_(*db_, *clock_, ids_),
      idempotency_(*db_, *clock_, options.idempotency_lease),
      catalog_(*db_, *clock_, ids_),
      customers_(*db_, *clock_, ids_, gateways_),
      sessions_(*db_, *clock_, ids_),
      subscriptions_(*db_, *clock_, ids_),
      retention_(*db_, *clock_, ids_),
      email_(email_sender(options, *clock_)),
      sms_(sms_sender(options)),
      notifications_(*db_, *clock_, ids_, *email_, *sms_, notify::NotifierOptions{options.update_payment_url}),
      billing_(*db_, *clock_, ids_, gateways_, subscriptions_, notifications_, billing_options(options)),
      payment_updates_(*db_, *clock_, customers_, billing_.collector),
      inventory_(*db_, *clock_, ids_, notifications_, billing_.invoicer, options.inventory),
      purchasing_(*db_, *clock_, ids_, notifications_, purchasing_options(options)),
      forecast_cache_(options.forecast_cache),
      gifts_(*db_, *clock_, ids_, billing_.one_off, subscriptions_, customers_, notifications_, options.gift_claim_url),
      gift_reminders_(notifications_, *clock_),
      events_api_(*db_, *clock_, options.event_retention_days),
      webhooks_(*db_, *clock_, ids_, webhook_options(options)),
      pipeline_(router_, keys_, idempotency_),
      portal_(pipeline_, sessions_, *db_, notifications_, *clock_,
              portal::PortalOptions{options.portal_url, options.update_payment_url,
                                    options.billing.payment_update_token_seconds}) {
  erase_after_days_ = options.erase_after_days;
  keys_.set_test_mode(options.test_mode);  // rk_test_ secrets
  wire_billing(options);
  wire_inventory();
  webhooks_.set_ops_outbox(notifications_);  // "endpoint disabled" alerts to --ops-email
  notifications_.set_attachment_source(billing_.documents);  // receipts carry the invoice's PDF
  access::add_routes(router_, keys_);
  catalog::add_routes(router_, catalog_);
  customers::add_routes(router_, customers_);
  keys_.set_customer_sessions([this](std::string_view token) { return sessions_.authenticate(token); });
  customers::add_session_routes(router_, sessions_,
                                [this](const std::string& token) { return portal_.sign_in_link(token); });
  subscriptions::CheckoutHooks checkout;
  // Without payment_behavior: allow_incomplete, Stripe's default (docs/billing-rules.md, "Checkout").
  auto behavior_of = [](const std::string& behavior) -> Result<billing::PaymentBehavior> {
    if (behavior.empty()) return billing::PaymentBehavior::kAllowIncomplete;
    if (auto parsed = billing::payment_behavior_from(behavior)) return *parsed;
    return Error::invalid("validation_failed", "payment_behavior is not one of its values",
                          {{"payment_behavior", "invalid_value",
                            "one of allow_incomplete, error_if_incomplete, default_incomplete"}});
  };
  checkout.subscribe = [this, behavior_of](const subscriptions::CreateInput& input,
                                           const subscriptions::CheckoutRequest& asked,
                                           const events::Actor& actor) -> Result<subscriptions::Subscription> {
    RECUR_ASSIGN(auto behavior, behavior_of(asked.payment_behavior));
    return billing_.checkout.subscribe(input, behavior, actor, asked.verify_payment_method);
  };
  // The route admits allow_incomplete and default_incomplete only.
  checkout.change_plan = [this, behavior_of](const std::string& id, const subscriptions::ChangePlanInput& input,
                                             const std::string& asked, std::optional<std::int64_t> version,
                                             const events::Actor& actor) -> Result<subscriptions::Subscription> {
    RECUR_ASSIGN(auto behavior, behavior_of(asked));
    return billing_.checkout.change_plan(id, input, behavior, version, actor);
  };
  subscriptions::add_routes(router_, subscriptions_, retention_, std::move(checkout));
  billing::add_routes(router_, billing_.service, billing_.collector, billing_.refunds, billing_.upcoming,
                     billing_.documents, billing_.one_off);
  billing::add_payment_update_routes(router_, payment_updates_, billing_.collector, billing_.documents);
  billing::add_gateway_webhook_routes(router_, billing_.webhooks);
  gifts::add_routes(router_, gifts_);
  notify::add_routes(router_, notifications_);
  inventory::add_routes(router_, inventory_);
  webhooks::add_routes(router_, events_api_);
  webhooks::add_endpoint_routes(router_, webhooks_);
  // Answered from the availability cache without a database (src/inventory/availability.cc):
  // the server may answer it on its I/O thread; a cache miss goes to the pool.
  router_.allow_inline("GET", "/v1/products/{id}/availability");
  // From the rendered-subscription cache (SubscriptionService::get_rendered), likewise. Not
  // without the read caches: every GET would be tried on the I/O thread, throw WouldBlock and
  // start again on a worker (a throw and a hand-off each: benchmark 8 in docs/PERFORMANCE.md).
  if (options.read_caches) router_.allow_inline("GET", "/v1/subscriptions/{id}");
  // These commit before and after calling a gateway (decision 0005), so they cannot run in
  // one request transaction; a retry under the same Idempotency-Key resumes what the first
  // try committed: its subscription or plan change, its payment method, its one-off invoice,
  // its refund, the invoice's pending payment (0009).
  for (const char* pattern : {"/v1/subscriptions", "/v1/subscriptions/{id}/change-plan",
                              "/v1/customers/{id}/payment-methods", "/v1/invoices", "/v1/invoices/{id}/pay",
                              "/v1/refunds", "/v1/gifts"})
    if (!router_.commits_in_steps("POST", pattern))
      throw std::logic_error(std::string("no route POST ") + pattern + " to mark as committing in steps");
  inventory::add_forecast_routes(router_, *db_, *clock_, forecast_cache_);
  inventory::add_purchasing_routes(router_, purchasing_);
  add_platform_routes(options);
  add_data_subject_routes(router_, *this);
  add_audit_routes(router_, audit_);
  analytics::add_routes(router_, reports_, *db_, *clock_);
  portal_.add_routes(router_);
  open_routes_to_customers(router_, *this);  // after every route it opens
  declare_stale_reads(router_);
  declare_expansions(router_);
  pipeline_.set_expander(expander(catalog_, customers_, subscriptions_, billing_.service));
}

void App::wire_inventory() {
  // Every billed period reserves its box in the same transaction (after billing invoiced it).
  subscriptions_.set_fulfilment(&inventory_.fulfilment());
  // A shipment carries its period's invoice and whether it is paid: billing answers when the
  // box is made, and tells inventory in the transaction that pays the invoice.
  inventory_.set_period_payment([](db::Tx& tx, const std::string& subscription,
                                   std::int64_t period_seq) -> Result<inventory::PeriodPayment> {
    RECUR_ASSIGN(auto payment, billing::period_payment(tx, subscription, period_seq));
    return inventory::PeriodPayment{std::move(payment.invoice), payment.paid};
  });
  billing_.collector.on_invoice_paid([this](db::Tx& tx, const billing::Invoice& invoice) {
    return inventory_.fulfilment().invoice_paid(tx, invoice.id);
  });
  // A product's name, price, category or tracking changes what availability answers.
  catalog_.on_product_changed([this](const std::string& product) { inventory_.forget(product); });
  // POST /v1/inventory/{sku}/receipts with a purchase_order counts the units on the order.
  inventory_.set_order_receipt([this](db::Tx& tx, const std::string& order, const std::string& product,
                                      std::int64_t quantity) {
    return inventory::receive_on_order(tx, order, product, quantity, clock_->now());
  });
  // POST /v1/purchase-orders/{id}/receive puts the units on hand through inventory's own
  // movement path (fills backorders first come first served, clears the low-stock flag).
  purchasing_.set_stock_intake([this](db::Tx& tx, const inventory::Movement& movement) {
    return inventory_.record_movement(tx, movement);
  });
  // A supplier's webhook_url is a webhook endpoint of its own, written in the supplier's
  // transaction: its purchase orders are delivered, signed, like any event.
  purchasing_.set_supplier_webhook_sync([this](db::Tx& tx, const std::string& supplier, const std::string& name,
                                               const std::optional<std::string>& url) {
    return webhooks_.sync_supplier_endpoint(tx, webhooks::SupplierWebhook{supplier, name, url});
  });
  // Sent, canceled and received purchase orders change the arrivals availability counts.
  purchasing_.set_availability_cache(&inventory_.cache());
  // Reorder points from the forecast of known and expected demand over the lead time.
  purchasing_.set_demand_forecast(
      [this](db::Tx& tx, Timestamp from, const std::vector<inventory::LeadTimeWindow>& windows) {
        const int threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 2u));
        return inventory::lead_time_demands(tx, from, windows, &forecast_cache_, threads);
      });
}

void App::wire_billing(const Options& options) {
  auto sandbox = std::make_unique<gateways::SandboxGateway>(*db_, *clock_, options.sandbox_faults);
  if (options.test_mode) billing::add_sandbox_routes(router_, *sandbox);
  gateways_.add(std::move(sandbox));
  if (!options.stripe.secret_key.empty()) gateways_.add(std::make_unique<gateways::StripeGateway>(options.stripe));
  if (!options.square.access_token.empty()) gateways_.add(std::make_unique<gateways::SquareGateway>(options.square));
  if (!options.paypal.client_id.empty()) gateways_.add(std::make_unique<gateways::PayPalGateway>(options.paypal));
  if (!options.default_gateway.empty()) gateways_.set_default(options.default_gateway);
  subscriptions_.set_billing(&billing_.invoicer);
  billing_.collector.on_charge([this](const std::string& gateway, gateways::Outcome outcome, double seconds) {
    metrics_.charge(gateway, outcome, seconds);
  });
  // A new default payment method pays what is overdue at once (dunning's fast path).
  customers_.on_default_payment_method_changed([this](const std::string& customer) {
    std::lock_guard lock(run_mu_);
    (void)billing_.collector.retry_customer(customer);
  });
  if (!options.test_mode) return;
  auto* simulated = dynamic_cast<SimulatedClock*>(clock_.get());
  if (!simulated) return;
  billing::add_test_clock_routes(router_, {*simulated, [this](Timestamp to) { return advance_test_clock(to); }});
  if (!router_.commits_in_steps("POST", "/v1/test-clock/advance"))  // a billing run: charges
    throw std::logic_error("no route POST /v1/test-clock/advance to mark as committing in steps");
}

Result<billing::BillingRun> App::run_billing(const std::string& trigger) {
  std::lock_guard lock(run_mu_);
  auto run = billing_.runs.run(trigger);
  metrics_.billing_run(run);
  if (!run.ok()) {
    alert({"billing_run_failed", "error", "a billing run failed: " + run.error().code, {{"trigger", trigger}}});
    return run;
  }
  if (run->failure_rate_alert)
    alert({"billing_failure_rate", "warning",
           "charge failures jumped in billing run " + run->id + ": " + std::to_string(run->payments.failed) +
               " declined of " + std::to_string(run->payments.attempted) + " attempted",
           {{"billing_run", run->id}}});
  run_gifts();
  return run;
}

void App::run_gifts() {
  // After the billing run: a gift whose invoice it just collected goes out at once.
  auto gifts = gifts_.run_due();
  if (!gifts.ok()) spdlog::error("gifts: {}", gifts.error().message);
}

Result<std::optional<inventory::ReorderReport>> App::run_reorder_if_due() {
  constexpr Timestamp kEvery = 3600;
  std::lock_guard lock(reorder_mu_);
  Timestamp now = clock_->now();
  if (last_reorder_ && now - *last_reorder_ < kEvery && now >= *last_reorder_)
    return std::optional<inventory::ReorderReport>();
  last_reorder_ = now;
  RECUR_ASSIGN(auto report, purchasing_.reorder(now));
  return std::optional<inventory::ReorderReport>(std::move(report));
}

Result<std::optional<int>> App::run_erasure_if_due() {
  constexpr Timestamp kEvery = 3600;
  if (erase_after_days_ <= 0) return std::optional<int>();
  std::lock_guard lock(erasure_mu_);
  Timestamp now = clock_->now();
  if (last_erasure_ && now - *last_erasure_ < kEvery && now >= *last_erasure_) return std::optional<int>();
  last_erasure_ = now;
  RECUR_ASSIGN(int erased, erase_lapsed_customers(*this, erase_after_days_));
  return std::optional<int>(erased);
}

Result<Json> App::advance_test_clock(Timestamp to) {
  auto* simulated = dynamic_cast<SimulatedClock*>(clock_.get());
  if (!simulated) return Error::not_found("not_test_mode", "the server is not in test mode");
  std::lock_guard lock(run_mu_);
  // No attempt in flight while time moves: each one sees the time it was claimed at.
  std::optional<webhooks::Dispatcher::Pause> paused;
  if (dispatcher_) paused.emplace(*dispatcher_);
  int runs = 0, advanced = 0, attempted = 0;
  // Stop at each moment something is due, so a year of renewals and retries happen in
  // the order they would have. Bounded: every stop moves time forward or runs nothing new.
  for (int guard = 0; guard < 100000; ++guard) {
    RECUR_ASSIGN(auto next, billing_.runs.next_due_at());
    auto due = webhooks_.next_due_at();
    std::optional<Timestamp> next_delivery = due.ok() ? *due : std::nullopt;
    if (next_delivery && (!next || *next_delivery < *next)) next = next_delivery;
    auto gift_due = gifts_.next_due_at();
    if (gift_due.ok() && *gift_due && (!next || **gift_due < *next) && **gift_due > simulated->now()) next = *gift_due;
    Timestamp stop = next && *next <= to ? std::max(*next, simulated->now()) : to;
    simulated->set(stop);
    auto ran_billing = billing_.runs.run("test_clock");
    metrics_.billing_run(ran_billing);
    RECUR_ASSIGN(auto run, std::move(ran_billing));
    run_gifts();  // claim e-mails at their send_at
    (void)run_reorder_if_due();            // purchase orders as the stock they watch moves
    (void)run_erasure_if_due();            // the retention setting's erasures, hourly
    (void)notifications_.dispatch_due();  // receipts and reminders go out at their simulated time
    // Webhooks and their retries at their simulated time; an error here does not stop the
    // clock (the dispatcher, once resumed, logs it).
    auto ran = webhooks_.run();
    webhooks::DeliveryReport delivered = ran.ok() ? *ran : webhooks::DeliveryReport{};
    ++runs;
    advanced += run.subscriptions_advanced;
    attempted += run.payments.attempted;
    if (stop >= to) break;
    bool progressed = run.subscriptions_advanced + run.payments.attempted + run.payments.authentication_expired +
                          delivered.fanned_out + delivered.succeeded + delivered.retrying + delivered.failed >
                      0;
    if (!progressed) {
      // Something due now could not run (an error, or a lease): do not spin on it.
      simulated->set(std::min(to, stop + 1));
    }
  }
  return Json{{"runs", runs}, {"subscriptions_advanced", advanced}, {"payments_attempted", attempted}};
}

void App::start_webhooks() {
  if (!dispatcher_) dispatcher_ = std::make_unique<webhooks::Dispatcher>(webhooks_);
}

void App::stop_webhooks() { dispatcher_.reset(); }

webhooks::DeliveryReport App::take_webhook_report() {
  return dispatcher_ ? dispatcher_->take_report() : webhooks::DeliveryReport{};
}

Result<int> App::publish_events() {
  if (!publisher_) return 0;
  std::lock_guard lock(stream_mu_);
  // Fan-out first: it fills the stream outbox, and the publisher holds back what is newer
  // than an event still waiting for it. Safe beside the delivery loop's own fan-out.
  RECUR_TRY(webhooks_.fan_out());
  return publisher_->publish_pending();
}

Result<db::MigrationReport> App::migrate() {
  RECUR_ASSIGN(auto report, db::migrate(*db_, migrations(), clock_->now()));
  // The blind-index and system keys exist before the first request: a lookup by e-mail runs
  // in a read-only transaction (PostgreSQL refuses the INSERT that would make the key then).
  RECUR_TRY(db::transact(*db_, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(keyring_->data_key(tx, std::string(privacy::kIndexKey)));
    RECUR_TRY(keyring_->data_key(tx, std::string(privacy::kSystemKey)));
    return Ok{};
  }));
  return report;
}

void App::alert(alerts::Alert alert) {
  if (alerter_) alerter_->raise(std::move(alert));
}

void App::alert_on_failure(const http::Request& request, const http::Response& response) {
  if (!alerter_ || response.status < 500) return;
  if (response.status == 503 && request.route == "/readyz") return;  // readiness says so on purpose
  auto problem = Json::parse(response.body, nullptr, false);
  std::string code = problem.is_object() ? problem.value("code", "") : "";
  std::string route = request.route.empty() ? "(unmatched)" : request.route;
  // A method the client made up goes to a third party as "other", as in /metrics.
  std::string method = "other";
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
    if (request.method == known) method = known;
  bool internal = response.status != 503;
  alert({internal ? "server_error" : "service_unavailable", internal ? "error" : "warning",
         std::to_string(response.status) + " " + (code.empty() ? "error" : code) + " on " + method + " " +
             route + " (request " + request.request_id + ")",
         {{"request_id", request.request_id},
          {"route", route},
          {"method", method},
          {"status", std::to_string(response.status)},
          {"code", code}}});
}

http::Response App::metrics_response() const {
  http::Response r;
  r.content_type = std::string(metrics::kContentType);
  r.body = metrics_.render();
  r.set_header("Cache-Control", "no-store");
  return r;
}

http::Response App::liveness() const {
  return http::json_response(200, {{"status", "ok"}, {"version", build_version()}});
}

http::Response App::readiness(const http::Request& request) {
  auto not_ready = [&](const std::string& reason, const std::string& detail) {
    Error e = Error::unavailable("not_ready", detail);
    e.extra_json = Json{{"reason", reason}}.dump();  // the detail of a 503 is not shown: the reason is
    return http::error_response(request, e);
  };
  if (draining_) return not_ready("draining", "the node is shutting down and takes no new work");
  auto version = db::transact(*db_, [](db::Tx& tx) -> Result<std::int64_t> {
    RECUR_ASSIGN(auto rows, tx.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    return rows.at(0).int64(0);
  }, db::TxMode::kReadOnly);
  if (!version.ok()) return not_ready("database_unavailable", "the database does not answer");
  const std::int64_t expected = migrations().back().version;
  if (*version != expected)
    return not_ready("schema_mismatch", "the database schema is at version " + std::to_string(*version) +
                                            "; this binary needs " + std::to_string(expected));
  return http::json_response(200, {{"status", "ready"}, {"schema_version", *version}});
}

void App::add_platform_routes(const Options& options) {
  // Liveness: the process answers. Never the database: a database outage must not make an
  // orchestrator restart every node (that is /readyz's business).
  router_.add("GET", "/healthz", "", [this](http::Request&) { return liveness(); });
  router_.add("GET", "/readyz", "", [this](http::Request& req) { return readiness(req); });
  if (options.metrics_on_api) router_.add("GET", "/metrics", "", [this](http::Request&) { return metrics_response(); });
  add_static_routes(router_, options.docs_dir, options.spec_path);
  add_page_routes(router_, options.dashboard_dir, "/dashboard", "the analytics dashboard");
  add_page_routes(router_, options.invoice_page_dir, "/i", "the hosted invoice page");
}

}  // namespace recur::app
