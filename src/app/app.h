// Wiring: one place builds the clock, database, services, router and pipeline, for the
// `recur` binary and for tests alike.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "access/service.h"
#include "analytics/service.h"
#include "app/metrics.h"
#include "audit/service.h"
#include "billing/billing.h"
#include "catalog/service.h"
#include "catalog/store.h"
#include "customers/service.h"
#include "gateways/paypal.h"
#include "gateways/registry.h"
#include "gateways/sandbox.h"
#include "gateways/square.h"
#include "gateways/stripe.h"
#include "gifts/service.h"
#include "inventory/forecast_store.h"
#include "inventory/purchasing.h"
#include "inventory/service.h"
#include "notify/service.h"
#include "platform/alerts/alerter.h"
#include "platform/cache/redis_bus.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/db/migrate.h"
#include "platform/db/replica.h"
#include "platform/http/pipeline.h"
#include "platform/http/router.h"
#include "platform/ids.h"
#include "portal/portal.h"
#include "privacy/keyring.h"
#include "subscriptions/service.h"
#include "subscriptions/store.h"
#include "webhooks/dispatcher.h"
#include "webhooks/events_api.h"
#include "webhooks/service.h"
#include "webhooks/stream.h"

namespace recur::app {

inline constexpr std::string_view kDefaultPaymentUpdateUrl = "https://shop.example.com/account/payment";

struct Options {
  std::string db_url = "sqlite:var/recur.db";
  int pool_size = 8;
  std::string docs_dir;  // swagger-ui-dist; empty: no /docs
  std::string spec_path; // api/openapi.yaml; empty: no /openapi.yaml
  // E-mail and SMS: an empty URL sends to the log instead (the default for `make run`).
  notify::SmtpOptions smtp;
  notify::HttpSmsOptions sms;
  // Base of the update-payment link in payment_failed / card_expiring ("?token=..." is
  // appended): the merchant's hosted page, which calls /v1/payment-updates with the token.
  std::string update_payment_url = std::string(kDefaultPaymentUpdateUrl);
  // Test mode: the clock is a SimulatedClock the API may move (/v1/test-clock).
  bool test_mode = false;
  gateways::SandboxFaults sandbox_faults;
  billing::BillingOptions billing;
  // Real gateways, each added when configured; new payment methods use default_gateway
  // (empty: the sandbox).
  gateways::StripeConfig stripe;
  gateways::SquareConfig square;
  std::string default_gateway;
  inventory::InventoryOptions inventory;  // ops_email: where low-stock alerts go
  // Suppliers, purchase orders and automatic reordering (service level, review period;
  // ops_email defaults to inventory's).
  inventory::PurchasingOptions purchasing;
  // Several API nodes: cache invalidations go to every node through Redis pub/sub,
  // redis://host:port[/db] ("": this node's cache only).
  std::string redis_url;
  // PayPal, added when client_id is set (last: `serve` fills the fields above in order).
  gateways::PayPalConfig paypal;
  // Seconds before a request still in progress under an Idempotency-Key is taken to have
  // died, so that a retry may run it (decision 0009).
  Timestamp idempotency_lease = access::SqlIdempotencyStore::kDefaultLease;
  // Days of events the events API shows (GET /v1/events).
  int event_retention_days = webhooks::kDefaultEventRetentionDays;
  // Live subscriptions kept parsed between forecasts (inventory::ForecastCache); 0: none.
  std::size_t forecast_cache = 2'000'000;
  // Webhook URLs that resolve to loopback, link-local or private addresses (the SSRF
  // guard refuses them in live mode unless this is set; test mode allows them).
  bool allow_private_webhook_urls = false;
  // Webhook attempts in flight at once in this process, and how long a claim lasts before
  // another node may take the delivery over (a crashed sender's).
  int webhook_senders = 8;
  std::int64_t webhook_lease_seconds = 60;
  // The event stream (decision 0015): every event also goes to NATS JetStream,
  // nats://host:port ("": no stream).
  std::string nats_url;
  // The master key that wraps the data keys of personal data (docs/SECURITY.md): created
  // with 32 random bytes (mode 600) when the file does not exist.
  std::string master_key_file = "var/master.key";
  // Retention of lapsed customers' personal data: erased this many days after their last
  // subscription ended (docs/PRIVACY.md). 0: kept until erased on request.
  int erase_after_days = 0;
  // Rate limits per API key and per source IP (docs/SECURITY.md); off unless set (`serve`
  // sets its defaults). With redis_url the buckets are shared by every node.
  http::RateLimits rate_limits;
  // The analytics dashboard's files (index.html, app.js, app.css); empty: no /dashboard.
  std::string dashboard_dir;
  // The hosted invoice page's files (index.html, app.js, app.css); empty: no /i.
  std::string invoice_page_dir;
  // The shop's page that claims a gift: the recipient's e-mail links here with ?code=...
  std::string gift_claim_url = std::string(gifts::kDefaultClaimUrl);
  // The customer portal's public address, ending in /portal (docs/portal.md): its sign-in
  // links point here. `serve` defaults it to its own --listen address.
  std::string portal_url = "http://127.0.0.1:8080/portal";
  // GET /metrics on the API's own listener; serve turns it off when --metrics-listen gives
  // the metrics a listener of their own (docs/OPERATIONS.md).
  bool metrics_on_api = true;
  // Plans, blackout dates and rendered subscriptions cached in process (cache::TxCache):
  // off only to measure what they save (`serve --no-read-caches`, benchmark 1).
  bool read_caches = true;
  // Error alerts to a Slack-compatible webhook and/or Sentry (--alert-webhook, --sentry-dsn):
  // unhandled errors, scheduler stalls, billing failure-rate jumps; none when both are empty.
  alerts::AlertOptions alerts;
  // A streaming replica for the reads that may lag (lists, analytics, forecasts), with their
  // staleness bound (--db-replica, --db-replica-max-lag; docs/OPERATIONS.md, "Read replica");
  // "": every read on the primary.
  std::string db_replica_url;
  db::ReplicaOptions replica;
};

class App {
 public:
  // Opens the database and builds every module; does not migrate.
  static Result<std::unique_ptr<App>> open(const Options& options, std::unique_ptr<Clock> clock);

  // Brings the schema up to date; refuses a database newer than this binary.
  Result<db::MigrationReport> migrate();

  Clock& clock() { return *clock_; }
  db::Database& database() { return *db_; }
  IdGenerator& ids() { return ids_; }
  audit::AuditLog& audit() { return audit_; }
  analytics::Reports& analytics() { return reports_; }
  access::ApiKeys& keys() { return keys_; }
  catalog::CatalogService& catalog() { return catalog_; }
  customers::CustomerService& customers() { return customers_; }
  subscriptions::SubscriptionService& subscriptions() { return subscriptions_; }
  subscriptions::RetentionService& retention() { return retention_; }
  gateways::Gateways& gateways() { return gateways_; }
  billing::Billing& billing() { return billing_; }
  billing::PaymentUpdates& payment_updates() { return payment_updates_; }
  inventory::InventoryService& inventory() { return inventory_; }
  inventory::PurchasingService& purchasing() { return purchasing_; }
  gifts::GiftService& gifts() { return gifts_; }
  customers::CustomerSessions& customer_sessions() { return sessions_; }
  cache::RedisInvalidationBus* redis_bus() { return redis_bus_.get(); }  // null without redis_url
  privacy::Keyring& keyring() { return *keyring_; }
  catalog::PlanCache& plan_cache() { return plan_cache_; }
  subscriptions::ClosedDaysCache& closed_days_cache() { return closed_days_cache_; }
  subscriptions::SubscriptionViewCache& view_cache() { return view_cache_; }
  // Whether open() made the master key file (serve and migrate say so).
  bool created_master_key() const { return created_master_key_; }

  // One billing run (lifecycle, then charges); runs never overlap inside one process.
  Result<billing::BillingRun> run_billing(const std::string& trigger);
  // Automatic reordering, at most once an hour of (possibly simulated) time: a run forecasts
  // every supplied product, so it is not done on every scheduler tick. Returns the report
  // when it ran.
  Result<std::optional<inventory::ReorderReport>> run_reorder_if_due();
  // The retention setting's erasures (erase_lapsed_customers), at most once an hour of
  // (possibly simulated) time; none without erase_after_days. Returns how many, when it ran.
  Result<std::optional<int>> run_erasure_if_due();
  // Test mode: moves the clock to `to`, running everything due on the way, in order.
  Result<Json> advance_test_clock(Timestamp to);
  notify::Notifier& notifications() { return notifications_; }
  webhooks::WebhookService& webhooks() { return webhooks_; }
  // Sends webhooks in the background (serve, recur deliver) until stop_webhooks(); test
  // mode's clock pauses it at every stop and delivers what is due itself, so that retries
  // happen at the simulated times they are due.
  void start_webhooks();
  void stop_webhooks();
  // The outcomes since the last call (for the log); none when not started.
  webhooks::DeliveryReport take_webhook_report();
  // Fans the event outbox out (which fills the stream outbox) and publishes the stream
  // outbox to NATS (the stream loop's one step); 0 and nothing done without nats_url.
  // Returns how many events were published.
  Result<int> publish_events();
  http::Pipeline& pipeline() { return pipeline_; }
  Metrics& metrics() { return metrics_; }
  // GET /metrics's answer (the API's route, or the listener of --metrics-listen).
  http::Response metrics_response() const;
  // GET /readyz's answer: 200 when the database answers, its schema is this binary's and the
  // server is not draining; else 503 not_ready saying which.
  http::Response readiness(const http::Request& request);
  // GET /healthz's answer: 200 with the version, without the database.
  http::Response liveness() const;
  // From now on the node is draining (SIGTERM): /readyz answers 503, so a load balancer stops
  // sending it new requests.
  void set_draining() { draining_ = true; }
  // Sends an alert to the configured sinks (rate-limited per kind); nothing without any.
  void alert(alerts::Alert alert);
  // Alerts on an answer that failed on the server's side: a 500 (kind server_error) or a 503
  // other than readiness's (service_unavailable). Tags only: request id, route template,
  // method, status and problem code; never the path, the body or the caller.
  void alert_on_failure(const http::Request& request, const http::Response& response);
  const http::Router& router() const { return router_; }

 private:
  App(const Options& options, std::unique_ptr<Clock> clock, std::unique_ptr<db::Database> db);
  void wire_billing(const Options& options);
  void wire_inventory();
  void add_platform_routes(const Options& options);
  // Gifts due to be sent or expired (after each billing run; errors are logged).
  void run_gifts();

  std::unique_ptr<Clock> clock_;
  std::unique_ptr<db::Database> db_;
  Metrics metrics_;
  std::atomic<bool> draining_{false};
  // Attached to db_ (App::open): what find_plan and closed_days read, cached across requests.
  catalog::PlanCache plan_cache_;
  subscriptions::ClosedDaysCache closed_days_cache_;
  subscriptions::SubscriptionViewCache view_cache_;  // built on the two above and the keyring
  // Attached to db_ (every transaction reaches it); outlives the Redis bus that calls it.
  std::unique_ptr<privacy::Keyring> keyring_;
  bool created_master_key_ = false;
  IdGenerator ids_;
  audit::AuditLog audit_;
  analytics::Ledger ledger_;  // attached to db_ (App::open): hears every appended event
  analytics::Reports reports_;
  access::ApiKeys keys_;
  access::SqlIdempotencyStore idempotency_;
  catalog::CatalogService catalog_;
  customers::CustomerService customers_;
  customers::CustomerSessions sessions_;
  subscriptions::SubscriptionService subscriptions_;
  subscriptions::RetentionService retention_;
  std::unique_ptr<notify::EmailSender> email_;
  std::unique_ptr<notify::SmsSender> sms_;
  notify::Notifier notifications_;
  gateways::Gateways gateways_;
  billing::Billing billing_;
  billing::PaymentUpdates payment_updates_;
  inventory::InventoryService inventory_;
  inventory::PurchasingService purchasing_;
  // The parsed subscriptions kept between forecasts (GET /v1/forecasts, reorder points).
  inventory::ForecastCache forecast_cache_;
  gifts::GiftService gifts_;
  gifts::GiftReminders gift_reminders_;  // attached to db_ (App::open)
  webhooks::EventsApi events_api_;
  webhooks::WebhookService webhooks_;
  std::mutex run_mu_;
  std::mutex reorder_mu_;
  std::unique_ptr<webhooks::JetStream> stream_;              // null without nats_url
  std::unique_ptr<webhooks::StreamPublisher> publisher_;     // idem
  std::mutex stream_mu_;  // one publishing step at a time in this process
  std::optional<Timestamp> last_reorder_;
  int erase_after_days_ = 0;
  std::mutex erasure_mu_;
  std::optional<Timestamp> last_erasure_;
  http::Router router_;
  http::Pipeline pipeline_;
  portal::Portal portal_;                             // calls the API through pipeline_
  std::unique_ptr<webhooks::Dispatcher> dispatcher_;  // stopped before what it sends with
  // Declared last so it goes first: its thread calls into inventory_'s cache, and nothing
  // publishes once the App is being destroyed (server and scheduler are stopped by then).
  std::unique_ptr<cache::SharedBus> shared_bus_;  // the caches' one subscription to redis_bus_
  std::unique_ptr<cache::RedisInvalidationBus> redis_bus_;
  std::unique_ptr<http::RateLimiter> rate_limiter_;  // null when no limit is set
  SystemClock wall_clock_;                           // alerts are dated and rate-limited in real time
  std::unique_ptr<alerts::Alerter> alerter_;         // null without a sink
};

// Loads the demo catalogue (products with stock, plans, customers, subscriptions, retention
// offers). Idempotent: does nothing when the catalogue already has products. With
// `replay_to` (the app on a SimulatedClock set in the past), runs everything due up to it
// afterwards, so the demo starts with history: renewals, dunning, shipments, a backorder.
Result<std::string> load_demo(App& app, std::optional<Timestamp> replay_to = std::nullopt);

}  // namespace recur::app
