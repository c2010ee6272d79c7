// Command-line entry: parses flags (and RECUR_* environment variables) and runs a command.
#include "app/cli.h"

#include <spdlog/spdlog.h>

#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include <CLI/CLI.hpp>
#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "access/model.h"
#include "analytics/service.h"
#include "app/app.h"
#include "app/modules.h"
#include "inventory/forecast_store.h"
#include "platform/http/server.h"
#include "platform/log.h"
#include "platform/metrics/process.h"

namespace recur::app {
namespace {

struct Common {
  std::string db_url = "sqlite:var/recur.db";
  std::string master_key_file = "var/master.key";
};

void add_db_option(CLI::App* cmd, Common& common) {
  cmd->add_option("--db", common.db_url, "database URL: sqlite:PATH or postgresql://user@host:port/db")
      ->envname("RECUR_DB")
      ->capture_default_str();
  cmd->add_option("--master-key-file", common.master_key_file,
                  "the master key wrapping personal data's keys (made, mode 600, when missing)")
      ->envname("RECUR_MASTER_KEY_FILE")
      ->capture_default_str();
}

Result<std::unique_ptr<App>> open_app(const Common& common, Options options,
                                      std::unique_ptr<Clock> clock = std::make_unique<SystemClock>()) {
  options.master_key_file = common.master_key_file;
  RECUR_ASSIGN(auto app, App::open(options, std::move(clock)));
  if (app->created_master_key())
    spdlog::warn("created the master key file {} (32 random bytes, mode 600): back it up apart from the database;"
                 " without it no personal data can be read",
                 common.master_key_file);
  RECUR_ASSIGN(auto report, app->migrate());
  for (const auto& m : report.applied) spdlog::info("migrated: {}", m);
  return app;
}

int fail(const Error& e) {
  std::cerr << "recur: " << e.message << " [" << e.code << "]\n";
  return 1;
}

// Calls `step` on a thread of its own, then again `period` after each call ends, until
// destroyed (which waits for the call in progress).
class Repeating {
 public:
  Repeating(std::chrono::seconds period, std::function<void()> step) : period_(period), step_(std::move(step)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Repeating() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      step_();
      lock.lock();
      cv_.wait_for(lock, period_, [this] { return stop_; });
    }
  }

  std::chrono::seconds period_;
  std::function<void()> step_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Runs billing (lifecycle steps, then charges) every `tick` seconds until stopped.
class Scheduler {
 public:
  // Each tick runs the parts of `modules` it owns: billing (billing-worker), reordering and
  // erasure (scheduler), notifications (delivery-worker).
  Scheduler(App& app, int tick, Modules modules)
      : app_(app), modules_(modules), repeating_(std::chrono::seconds(tick), [this] { step(); }) {
    app_.metrics().set_scheduler_period(tick);
  }

 private:
  void step() {
    if (modules_.billing) bill();
    if (modules_.scheduler) {
      reorder();
      erase_lapsed();
    }
    if (modules_.delivery) dispatch_notifications();
    app_.metrics().scheduler_ticked();
  }

  void bill() {
    try {
      auto run = app_.run_billing("scheduler");
      if (!run.ok()) spdlog::error("billing run failed: {}", run.error().message);
      else if (run->lifecycle_events > 0 || run->payments.attempted > 0 || run->lifecycle_failures > 0 ||
               run->payments.errors > 0)
        spdlog::info("billing run: {} subscriptions advanced ({} failed), {} charges ({} ok, {} declined, {} unknown,"
                     " {} errors)",
                     run->subscriptions_advanced, run->lifecycle_failures, run->payments.attempted,
                     run->payments.succeeded, run->payments.failed, run->payments.unknown, run->payments.errors);
    } catch (const std::exception& e) {
      spdlog::error("lifecycle run aborted: {}", e.what());  // the next tick tries again
      app_.metrics().billing_run(Error::internal("billing_run_aborted", e.what()));
    }
  }

  // The retention setting (--erase-after-days; hourly inside App).
  void erase_lapsed() {
    try {
      auto erased = app_.run_erasure_if_due();
      if (!erased.ok()) spdlog::error("retention erasure failed: {}", erased.error().message);
      else if (*erased && **erased > 0) spdlog::info("retention: {} lapsed customers erased", **erased);
    } catch (const std::exception& e) {
      spdlog::error("retention erasure aborted: {}", e.what());
    }
  }

  // Automatic purchase orders (hourly inside App); a failure is logged and retried later.
  void reorder() {
    try {
      auto report = app_.run_reorder_if_due();
      if (!report.ok()) spdlog::error("reorder run failed: {}", report.error().message);
      else if (*report && ((*report)->drafted + (*report)->sent + (*report)->errors) > 0)
        spdlog::info("reorder run: {} products checked, {} purchase orders drafted, {} sent, {} errors",
                     (*report)->products_checked, (*report)->drafted, (*report)->sent, (*report)->errors);
    } catch (const std::exception& e) {
      spdlog::error("reorder run aborted: {}", e.what());
    }
  }

  // After the lifecycle run, so messages it enqueued go out on the same tick. A failure here
  // is logged and retried next tick; it never holds up the lifecycle.
  void dispatch_notifications() {
    try {
      auto report = app_.notifications().dispatch_due();
      if (!report.ok()) spdlog::error("notification dispatch failed: {}", report.error().message);
      else if (report->sent + report->failed + report->dead + report->lost > 0)
        spdlog::info("notifications: {} sent, {} to retry, {} given up, {} lost (first error: {})", report->sent,
                     report->failed, report->dead, report->lost, report->first_error);
    } catch (const std::exception& e) {
      spdlog::error("notification dispatch aborted: {}", e.what());
    }
  }

  App& app_;
  Modules modules_;
  Repeating repeating_;  // last: stopped first, before what its steps use
};

// Alerts when the scheduler has not finished a tick for stall_threshold(tick) seconds (a
// billing run hung on a lock or a gateway), counted from the start before the first tick.
class StallWatch {
 public:
  StallWatch(App& app, int tick)
      : app_(app),
        tick_(tick),
        started_(std::chrono::steady_clock::now()),
        repeating_(std::chrono::seconds(30), [this] { step(); }) {}

 private:
  void step() {
    auto age = app_.metrics().scheduler_tick_age();
    double seconds = age ? *age : std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (!scheduler_stalled(seconds, tick_)) return;
    spdlog::error("scheduler stalled: no tick finished for {:.0f} s (every {} s expected)", seconds, tick_);
    app_.alert({"scheduler_stalled",
                "error",
                "the lifecycle scheduler has not finished a tick for " + std::to_string(std::lround(seconds)) +
                    " s (--tick " + std::to_string(tick_) + ")",
                {}});
  }

  App& app_;
  int tick_;
  std::chrono::steady_clock::time_point started_;
  Repeating repeating_;  // last: stopped first
};

// Webhooks in the background (webhooks::Dispatcher: sender threads, at most a few per
// endpoint, so a slow or dead receiver holds up only its own deliveries, never the API or
// billing), and a line in the log every few seconds when something was sent.
class DeliveryLoop {
 public:
  explicit DeliveryLoop(App& app) : app_(app) {
    app_.start_webhooks();
    repeating_.emplace(std::chrono::seconds(5), [this] { step(); });
  }
  ~DeliveryLoop() {
    repeating_.reset();  // the log's thread first, then the senders (they finish what they hold)
    app_.stop_webhooks();
  }

 private:
  void step() {
    auto report = app_.take_webhook_report();
    if (report.succeeded + report.retrying + report.failed + report.lost > 0)
      spdlog::info("webhooks: {} events fanned out, {} delivered, {} to retry, {} failed for good, {} lost",
                   report.fanned_out, report.succeeded, report.retrying, report.failed, report.lost);
  }

  App& app_;
  std::optional<Repeating> repeating_;
};

// The event stream (--nats-url, decision 0015) on a thread of its own, every second: fan-out,
// then publishing to NATS. Apart from the delivery loop, so that a webhook receiver that
// times out (15 s a try) never holds the stream up. NATS down: the events wait in the stream
// outbox and the next tick tries again; the API never waits on NATS.
class StreamLoop {
 public:
  explicit StreamLoop(App& app) : app_(app), repeating_(std::chrono::seconds(1), [this] { step(); }) {}

 private:
  void step() {
    try {
      auto published = app_.publish_events();
      if (!published.ok()) spdlog::warn("event stream: not published now, retrying: {}", published.error().message);
      else if (*published > 0) spdlog::info("event stream: {} events published", *published);
    } catch (const std::exception& e) {
      spdlog::error("event stream publishing aborted: {}", e.what());
    }
  }

  App& app_;
  Repeating repeating_;  // last: stopped first, before what its steps use
};

// The audit log's chainer (decision 0017): every 2 seconds, the entries committed since are
// placed on the hash chain. Several nodes may run it; one chains at a time.
class AuditChainLoop {
 public:
  explicit AuditChainLoop(App& app) : app_(app), repeating_(std::chrono::seconds(2), [this] { step(); }) {}

 private:
  void step() {
    try {
      auto chained = app_.audit().chain();
      if (!chained.ok()) spdlog::warn("audit log: not chained now, retrying: {}", chained.error().message);
    } catch (const std::exception& e) {
      spdlog::error("audit log chaining aborted: {}", e.what());
    }
  }

  App& app_;
  Repeating repeating_;  // last: stopped first, before what its steps use
};

// The operator at the command line, as the audit log names them: the login that ran the
// command (through sudo: the one who ran sudo).
std::string cli_operator() {
  for (const char* name : {"SUDO_USER", "LOGNAME", "USER"})
    if (const char* v = std::getenv(name); v && *v) return v;
  return "uid:" + std::to_string(::getuid());
}

// Records an operator's command that changes something no event records (API keys, the
// master key).
void record_cli_change(App& app, const std::string& resource_type, const std::string& resource_id,
                       const std::string& action, std::vector<std::string> fields) {
  audit::Entry e;
  e.actor_type = std::string(audit::kind::kCli);
  e.actor_id = cli_operator();
  e.resource_type = resource_type;
  e.resource_id = resource_id;
  e.action = action;
  e.fields = std::move(fields);
  auto done = db::transact(app.database(), [&](db::Tx& tx) -> Status { return app.audit().add_entry(tx, e); });
  if (!done.ok()) spdlog::error("audit log: {} {} not recorded: {}", action, resource_id, done.error().message);
}

// `recur audit verify`: chains what is pending, walks the chain; exit 1 at a broken link.
int verify_audit(App& app) {
  auto v = app.audit().verify();
  if (!v.ok()) return fail(v.error());
  if (v->broken_id || v->broken_seq) {
    std::cout << "audit log: chain BROKEN at entry " << (v->broken_id && !v->broken_id->empty() ? *v->broken_id : "-")
              << " (seq " << (v->broken_seq ? std::to_string(*v->broken_seq) : std::string("?")) << "): " << v->reason
              << "; " << v->checked << " entries before it hold\n";
    return 1;
  }
  std::cout << "audit log: chain intact, " << v->checked << " entries verified";
  if (v->unchained > 0) std::cout << " (" << v->unchained << " committed while verifying, not chained yet)";
  std::cout << "\n";
  return 0;
}

// `recur deliver`: the webhook delivery loop alone (a node of its own beside `serve`; the
// claims keep two loops from sending one delivery twice), until SIGINT or SIGTERM.
// Webhook flags serve and deliver share.
struct WebhookFlags {
  bool allow_private = false;
  int senders = 8;
  std::int64_t lease = 60;
  bool off = false;  // serve only: this node does not send webhooks (other nodes run `recur deliver`)
  std::string nats_url;  // the event stream (decision 0015)
};

void add_webhook_options(CLI::App* cmd, WebhookFlags& flags) {
  cmd->add_flag("--allow-private-webhook-urls", flags.allow_private,
                "let webhook URLs resolve to loopback, link-local or private addresses (refused outside"
                " test mode otherwise: the SSRF guard)")
      ->envname("RECUR_ALLOW_PRIVATE_WEBHOOK_URLS");
  cmd->add_option("--webhook-senders", flags.senders,
                  "webhook attempts in flight at once on this node (at most 4 to one endpoint)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--webhook-lease", flags.lease,
                  "seconds a claimed delivery is this node's before another may send it (after a crash)")
      ->check(CLI::Range(std::int64_t{20}, std::int64_t{3600}))
      ->capture_default_str();
  cmd->add_option("--nats-url", flags.nats_url,
                  "publish every event to NATS JetStream (stream RECUR_EVENTS, subjects recur.events.<type>), "
                  "nats://host:port (decision 0015)")
      ->envname("RECUR_NATS_URL");
}

void apply(const WebhookFlags& flags, Options& options) {
  options.allow_private_webhook_urls = flags.allow_private;
  options.webhook_senders = flags.senders;
  options.webhook_lease_seconds = flags.lease;
  options.nats_url = flags.nats_url;
}

int deliver(const Common& common, const WebhookFlags& webhook_flags) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts, so each inherits it
  Options options{common.db_url, 2, "", ""};
  apply(webhook_flags, options);
  auto app = open_app(common, options);
  if (!app.ok()) return fail(app.error());
  {
    DeliveryLoop loop(**app);
    std::optional<StreamLoop> stream;
    if (!webhook_flags.nats_url.empty()) stream.emplace(**app);
    spdlog::info("recur delivering webhooks (database {})", (*app)->database().describe());
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("signal {} received: stopping after the delivery in progress", received);
  }
  return 0;
}

struct ServeFlags {
  std::string listen = "127.0.0.1:8080";
  std::string metrics_listen;  // "": /metrics on the API's listener
  int drain_seconds = 0;
  std::string db_replica;  // "": every read on the primary
  std::int64_t billing_lease = 300;
  int billing_batch = billing::RunOptions::kDefaultBatch;
  double db_replica_max_lag = 5;
  std::string modules = "all";
  std::string alert_webhook;
  std::string sentry_dsn;
  int io_threads = 0;
  int workers = 0;
  int max_connections = 0;  // 0: from the file-descriptor limit
  int max_connections_per_ip = 1024;
  std::string tls_cert;
  std::string tls_key;
  // Defaults well above what one client of the e2e and benchmark suites sends (the
  // availability benchmark: ~50,000 requests a second on one key for 12 s); docs/SECURITY.md.
  std::string rate_limit_key = "1000000/min";
  std::string rate_limit_ip = "6000/min";
  int tick = 30;
  bool access_log = true;
  bool read_caches = true;
  std::string docs_dir = "node_modules/swagger-ui-dist";
  std::string spec = "api/openapi.yaml";
  std::string dashboard_dir = "dashboard";
  std::string invoice_page_dir = "invoice-page";
  bool test_mode = false;
  std::string clock_start;
  std::string sandbox_faults;
  notify::SmtpOptions smtp;
  billing::PdfFonts pdf_fonts;
  notify::HttpSmsOptions sms;
  std::string update_payment_url = std::string(kDefaultPaymentUpdateUrl);
  std::int64_t payment_update_ttl_days = billing::kDefaultPaymentUpdateTtl / kSecondsPerDay;
  std::string gift_claim_url = std::string(gifts::kDefaultClaimUrl);
  std::string portal_url;  // empty: http(s)://<listen>/portal
  std::string ops_email;
  gateways::StripeConfig stripe;
  gateways::SquareConfig square;
  gateways::PayPalConfig paypal;
  std::string default_gateway;
  std::string redis_url;
  std::int64_t idempotency_lease = access::SqlIdempotencyStore::kDefaultLease;
  int event_retention_days = webhooks::kDefaultEventRetentionDays;
  int erase_after_days = 0;
  std::int64_t forecast_cache = 2'000'000;
  WebhookFlags webhooks;
  double checkout_timeout_s = billing::kDefaultCheckoutTimeout.count() / 1000.0;
};

// Real gateways are configured by secrets, so environment variables are the usual way.
void add_gateway_options(CLI::App* cmd, ServeFlags& flags) {
  cmd->add_option("--gateway", flags.default_gateway, "gateway for new payment methods: sandbox | stripe | square | paypal")
      ->envname("RECUR_GATEWAY");
  cmd->add_option("--stripe-secret-key", flags.stripe.secret_key, "Stripe secret key (adds the stripe gateway)")
      ->envname("RECUR_STRIPE_SECRET_KEY");
  cmd->add_option("--stripe-webhook-secret", flags.stripe.webhook_secret, "Stripe webhook signing secret")
      ->envname("RECUR_STRIPE_WEBHOOK_SECRET");
  cmd->add_option("--stripe-api-base", flags.stripe.api_base, "Stripe API base URL")
      ->envname("RECUR_STRIPE_API_BASE")
      ->capture_default_str();
  cmd->add_option("--square-access-token", flags.square.access_token, "Square access token (adds the square gateway)")
      ->envname("RECUR_SQUARE_ACCESS_TOKEN");
  cmd->add_option("--square-location", flags.square.location_id, "Square location id")->envname("RECUR_SQUARE_LOCATION");
  cmd->add_option("--square-webhook-signature-key", flags.square.webhook_signature_key,
                  "Square webhook subscription's signature key")
      ->envname("RECUR_SQUARE_WEBHOOK_SIGNATURE_KEY");
  cmd->add_option("--square-webhook-url", flags.square.webhook_url,
                  "notification URL of Square's webhook subscription, exactly as registered (Square signs it)")
      ->envname("RECUR_SQUARE_WEBHOOK_URL");
  cmd->add_option("--square-api-base", flags.square.api_base, "Square API base URL")
      ->envname("RECUR_SQUARE_API_BASE")
      ->capture_default_str();
  cmd->add_option("--paypal-client-id", flags.paypal.client_id, "PayPal REST app client id (adds the paypal gateway)")
      ->envname("RECUR_PAYPAL_CLIENT_ID");
  cmd->add_option("--paypal-client-secret", flags.paypal.client_secret, "PayPal REST app secret")
      ->envname("RECUR_PAYPAL_CLIENT_SECRET");
  cmd->add_option("--paypal-webhook-id", flags.paypal.webhook_id,
                  "the id of PayPal's webhook subscription; PayPal webhooks are verified with it (none: refused)")
      ->envname("RECUR_PAYPAL_WEBHOOK_ID");
  cmd->add_option("--paypal-api-base", flags.paypal.api_base,
                  "PayPal API base URL (live: " + std::string(gateways::kPayPalLiveBase) + ")")
      ->envname("RECUR_PAYPAL_API_BASE")
      ->capture_default_str();
  cmd->add_option("--checkout-timeout", flags.checkout_timeout_s,
                  "seconds a signup waits for its first charge's answer; past it the subscription is answered "
                  "incomplete with the payment pending, settled by a billing run or a webhook")
      ->envname("RECUR_CHECKOUT_TIMEOUT")
      ->check(CLI::Range(0.1, 120.0))
      ->capture_default_str();
}

Result<gateways::SandboxFaults> faults_from(const std::string& spec) {
  if (spec.empty()) return gateways::SandboxFaults{};
  return gateways::parse_sandbox_faults(spec);
}


// The link in failed-payment and card-expiring messages: the merchant's hosted page, which
// calls POST /v1/payment-updates with the one-time token appended to this URL.
void add_payment_update_options(CLI::App* cmd, std::string& url, std::int64_t& ttl_days, std::string& gift_url) {
  cmd->add_option("--payment-update-url,--update-payment-url", url,
                  "base URL of the update-payment link (?token=... is appended) in failed-payment and "
                  "card-expiring messages")
      ->envname("RECUR_UPDATE_PAYMENT_URL")
      ->capture_default_str();
  cmd->add_option("--payment-update-ttl-days", ttl_days, "days an update-payment link works (used once)")
      ->envname("RECUR_PAYMENT_UPDATE_TTL_DAYS")
      ->check(CLI::Range(1, 90))
      ->capture_default_str();
  cmd->add_option("--gift-claim-url", gift_url, "the shop's page that claims a gift (?code=... is appended) in gift e-mails")
      ->envname("RECUR_GIFT_CLAIM_URL")
      ->capture_default_str();
}

void add_notify_options(CLI::App* cmd, ServeFlags& flags) {
  cmd->add_option("--smtp-url", flags.smtp.url,
                  "SMTP server for e-mail, smtp://[user:password@]host:port (smtps:// for TLS); empty: log only")
      ->envname("RECUR_SMTP_URL");
  cmd->add_flag("--smtp-starttls", flags.smtp.starttls, "require STARTTLS on smtp://")->envname("RECUR_SMTP_STARTTLS");
  cmd->add_option("--mail-from", flags.smtp.from, "From of every e-mail, e.g. \"Shop <billing@shop.example>\"")
      ->envname("RECUR_MAIL_FROM")
      ->capture_default_str();
  cmd->add_option("--sms-url", flags.sms.url, "SMS provider endpoint (Twilio-style form POST); empty: log only")
      ->envname("RECUR_SMS_URL");
  cmd->add_option("--sms-account", flags.sms.account, "SMS provider account (basic auth user)")
      ->envname("RECUR_SMS_ACCOUNT");
  cmd->add_option("--sms-token", flags.sms.token, "SMS provider token (basic auth password)")->envname("RECUR_SMS_TOKEN");
  cmd->add_option("--sms-from", flags.sms.from, "SMS sender number or id")->envname("RECUR_SMS_FROM");
  add_payment_update_options(cmd, flags.update_payment_url, flags.payment_update_ttl_days, flags.gift_claim_url);
  cmd->add_option("--ops-email", flags.ops_email, "operators' address for billing failure-rate, low-stock and replenishment alerts")
      ->envname("RECUR_OPS_EMAIL");
  cmd->add_option("--pdf-font", flags.pdf_fonts.regular,
                  "TrueType font of invoice PDFs (UTF-8 text; one with CJK glyphs to print CJK names)")
      ->envname("RECUR_PDF_FONT")
      ->capture_default_str();
  cmd->add_option("--pdf-font-bold", flags.pdf_fonts.bold, "bold TrueType font of invoice PDFs (empty: --pdf-font)")
      ->envname("RECUR_PDF_FONT_BOLD")
      ->capture_default_str();
}

// The demo starts five weeks ago on a simulated clock and replays to now, so `make run`
// opens on a shop with history (renewals, a declined card's dunning, a backorder).
int demo(const Common& common) {
  constexpr Timestamp kHistory = 35 * kSecondsPerDay;
  Timestamp now = SystemClock().now();
  auto app = open_app(common, Options{common.db_url, 2, "", ""}, std::make_unique<SimulatedClock>(now - kHistory));
  if (!app.ok()) return fail(app.error());
  auto loaded = load_demo(**app, now);
  if (!loaded.ok()) return fail(loaded.error());
  std::cout << *loaded << "\n";
  return 0;
}

// Raises the soft limit on open files to the hard one (the soft default, often 1024, is far
// below what keep-alive clients need) and returns the soft limit in effect.
rlim_t raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    else spdlog::warn("cannot raise the open-files limit from {} to {}", limit.rlim_cur, limit.rlim_max);
  }
  return limit.rlim_cur;
}

// Connections fit under the open-files limit with room for the database pool, files and
// the process's own descriptors: 64, and three per worker (a PostgreSQL connection each, or
// a SQLite file with its WAL and shared-memory index).
std::size_t connection_cap(rlim_t open_files, int workers) {
  const rlim_t reserve = 64 + 3 * static_cast<rlim_t>(workers);
  if (open_files == RLIM_INFINITY || open_files > 1'000'000) return 1'000'000 - reserve;
  return open_files > reserve + 16 ? open_files - reserve : 16;
}

// "HOST:PORT" split; nullopt when it is not that.
std::optional<std::pair<std::string, std::uint16_t>> host_and_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  int port = -1;
  auto digits = std::string_view(text).substr(colon + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || port < 0 || port > 65535) return std::nullopt;
  return std::pair{text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

// What a port that is not the API's answers: /metrics, /healthz and /readyz, nothing else (it
// is for Prometheus and health checks, not a second way into the API).
// Answered here, not by the pipeline: health checks on this port spend no rate limit.
http::Response health_and_metrics(App& app, http::Request& req) {
  const bool read = req.method == "GET" || req.method == "HEAD";
  if (req.path == "/metrics" || req.path == "/healthz" || req.path == "/readyz") req.route = req.path;  // as counted
  if (read && req.path == "/metrics") return app.metrics_response();
  if (read && req.path == "/healthz") return app.liveness();
  if (read && req.path == "/readyz") return app.readiness(req);
  return http::problem(Error::not_found("route_not_found", "this port serves /metrics, /healthz and /readyz only"),
                       "");
}

// --metrics-listen: /metrics (and the health checks) on a port of their own, on its own
// thread, so that the API's port need not expose them. Stops when destroyed.
class MetricsListener {
 public:
  MetricsListener(App& app, std::string host, std::uint16_t port) : app_(app) {
    http::ServerOptions options;
    options.host = std::move(host);
    options.port = port;
    options.io_threads = 1;
    options.worker_threads = 2;  // a /readyz waiting on the database never holds up /metrics
    options.access_log = false;
    server_.emplace(options, [this](http::Request& req) { return answer(req); });
  }
  bool start(std::string* error) {
    if (!server_->listen(error)) return false;
    thread_ = std::thread([this] { server_->run(false); });
    return true;
  }
  std::uint16_t port() const { return server_->port(); }
  ~MetricsListener() {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
  }

 private:
  http::Response answer(http::Request& req) { return health_and_metrics(app_, req); }

  App& app_;
  std::optional<http::Server> server_;
  std::thread thread_;
};

int serve(const Common& common, const ServeFlags& flags) {
  auto listen = host_and_port(flags.listen);
  if (!listen) return fail(Error::invalid("invalid_listen", "--listen must be HOST:PORT"));
  auto modules = parse_modules(flags.modules);
  if (!modules.ok()) return fail(modules.error());
  std::optional<std::pair<std::string, std::uint16_t>> metrics_listen;
  if (!flags.metrics_listen.empty() && !(metrics_listen = host_and_port(flags.metrics_listen)))
    return fail(Error::invalid("invalid_listen", "--metrics-listen must be HOST:PORT"));
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  http::ServerOptions server;
  server.host = listen->first;
  server.port = listen->second;
  server.io_threads = flags.io_threads > 0 ? flags.io_threads : cores;
  server.worker_threads = flags.workers > 0 ? flags.workers : 4 * cores;
  server.access_log = flags.access_log;
  server.answer_inline = true;  // cache hits on the I/O thread (routes marked allow_inline)
  rlim_t open_files = raise_open_files_limit();
  server.max_connections = flags.max_connections > 0 ? static_cast<std::size_t>(flags.max_connections)
                                                     : connection_cap(open_files, server.worker_threads);
  server.max_connections_per_ip = static_cast<std::size_t>(flags.max_connections_per_ip);
  server.tls_cert_file = flags.tls_cert;
  server.tls_key_file = flags.tls_key;
  auto per_key = http::parse_rate_limit(flags.rate_limit_key);
  auto per_ip = http::parse_rate_limit(flags.rate_limit_ip);
  if (!per_key || !per_ip)
    return fail(Error::invalid("invalid_rate_limit", "--rate-limit-key and --rate-limit-ip take N/min, N/s, N/h or off"));
  auto faults = faults_from(flags.sandbox_faults);
  if (!faults.ok()) return fail(faults.error());
  Options options{common.db_url, server.worker_threads, flags.docs_dir, flags.spec, flags.smtp, flags.sms,
                  flags.update_payment_url, flags.test_mode, *faults, {}, flags.stripe, flags.square,
                  flags.default_gateway, {flags.ops_email}};
  options.redis_url = flags.redis_url;
  options.read_caches = flags.read_caches;
  options.db_replica_url = flags.db_replica;
  options.billing.attempt_lease_seconds = flags.billing_lease;
  options.billing.batch = flags.billing_batch;
  options.replica.max_lag = std::chrono::milliseconds(std::llround(flags.db_replica_max_lag * 1000));
  options.paypal = flags.paypal;
  options.idempotency_lease = flags.idempotency_lease;
  options.event_retention_days = flags.event_retention_days;
  options.forecast_cache = static_cast<std::size_t>(flags.forecast_cache);
  options.erase_after_days = flags.erase_after_days;
  options.dashboard_dir = flags.dashboard_dir;
  options.invoice_page_dir = flags.invoice_page_dir;
  options.gift_claim_url = flags.gift_claim_url;
  options.portal_url = !flags.portal_url.empty()
                           ? flags.portal_url
                           : std::string(flags.tls_cert.empty() ? "http://" : "https://") + flags.listen + "/portal";
  while (options.portal_url.ends_with('/')) options.portal_url.pop_back();
  options.rate_limits = {*per_key, *per_ip};
  options.metrics_on_api = !metrics_listen;
  options.alerts.webhook_url = flags.alert_webhook;
  options.alerts.sentry_dsn = flags.sentry_dsn;
  options.alerts.environment = flags.test_mode ? "test" : "production";
  options.alerts.server_name = flags.listen;
  apply(flags.webhooks, options);
  options.billing.payment_update_token_seconds = flags.payment_update_ttl_days * kSecondsPerDay;
  options.billing.pdf_fonts = flags.pdf_fonts;
  options.billing.checkout_timeout = std::chrono::milliseconds(std::llround(flags.checkout_timeout_s * 1000));
  std::unique_ptr<Clock> clock = std::make_unique<SystemClock>();
  if (flags.test_mode) {
    Timestamp start = clock->now();
    if (!flags.clock_start.empty()) {
      auto parsed = parse_rfc3339(flags.clock_start);
      if (!parsed) return fail(Error::invalid("invalid_clock_start", "--clock-start must be an RFC 3339 time"));
      start = *parsed;
    }
    clock = std::make_unique<SimulatedClock>(start);
    spdlog::warn("test mode: the clock is simulated (now {}) and /v1/test-clock moves it", format_rfc3339(start));
  } else if (!flags.clock_start.empty()) {
    return fail(Error::invalid("invalid_clock_start", "--clock-start needs --test-mode"));
  }
  auto app = open_app(common, options, std::move(clock));
  if (!app.ok()) return fail(app.error());
  auto& a = **app;
  server.metrics = &a.metrics().registry();
  server.on_drain = [&a] { a.set_draining(); };
  server.drain_delay_seconds = flags.drain_seconds;
  server.on_answered = [&a](const http::Request& req, const http::Response& res) {
    if (res.status >= 500) a.alert_on_failure(req, res);
  };
  // Without the api module, --listen answers only /metrics and the health checks (a worker's).
  const bool api = modules->api;
  // Only requests for an inline route are tried on the I/O thread (no WouldBlock thrown for the
  // rest). Without the api module every GET is tried there (health checks answer inline).
  if (api) server.inline_candidate = [&a](const http::Request& req) { return a.pipeline().may_run_inline(req); };
  http::Server http_server(server, [&a, api](http::Request& req) {
    return api ? a.pipeline().handle(req) : health_and_metrics(a, req);
  });
  std::string error;
  if (!http_server.listen(&error)) return fail(Error::invalid("listen_failed", error));
  std::optional<MetricsListener> metrics_listener;
  if (metrics_listen) {
    metrics_listener.emplace(a, metrics_listen->first, metrics_listen->second);
    if (!metrics_listener->start(&error)) return fail(Error::invalid("listen_failed", error));
    spdlog::info("metrics on http://{}:{}/metrics", metrics_listen->first, metrics_listener->port());
  }
  {
    if (flags.smtp.url.empty()) spdlog::info("no --smtp-url: e-mails are written to the log, not sent");
    if (flags.update_payment_url.empty())
      spdlog::warn("no --payment-update-url: payment_failed and card_expiring messages are refused");
    const Modules& m = *modules;
    std::optional<Scheduler> scheduler;
    if (m.billing || m.scheduler || m.delivery) scheduler.emplace(a, flags.tick, m);
    std::optional<StallWatch> stall_watch;
    if (m.billing) stall_watch.emplace(a, flags.tick);
    std::optional<AuditChainLoop> audit_chain;
    if (m.scheduler) audit_chain.emplace(a);
    std::optional<DeliveryLoop> deliveries;
    if (m.delivery && !flags.webhooks.off) deliveries.emplace(a);
    std::optional<StreamLoop> stream;
    if (m.delivery && !flags.webhooks.nats_url.empty()) stream.emplace(a);
    // Under glibc's malloc (a sanitizer build: decision 0031)
    // the free pages of its arenas are handed back every 30 s; jemalloc does it itself.
    std::optional<Repeating> trim;
    if (!metrics::heap_is_jemalloc()) trim.emplace(std::chrono::seconds(30), [] { malloc_trim(0); });
    spdlog::info("recur serving {} on {}://{}:{} (database {}, {} I/O threads, {} workers, at most {} connections, "
                 "{} from one address, {} open files; rate limits {} per key, {} per address{}); docs at /docs",
                 describe(m), server.tls_cert_file.empty() ? "http" : "https", server.host, http_server.port(),
                 a.database().describe(), server.io_threads, server.worker_threads, server.max_connections,
                 server.max_connections_per_ip, open_files, http::describe(*per_key), http::describe(*per_ip),
                 flags.redis_url.empty() ? "" : ", shared through Redis");
    if (server.tls_cert_file.empty() && server.host != "127.0.0.1" && server.host != "::1" && server.host != "localhost")
      spdlog::warn("serving plain HTTP on {}: API keys cross the network in clear; use --tls-cert and --tls-key, "
                   "or a TLS-terminating proxy", server.host);
    http_server.run(true);
  }
  spdlog::info("recur stopped cleanly");
  return 0;
}

std::string progress_bar(std::int64_t done, std::int64_t total) {
  constexpr int kWidth = 30;
  int filled = total > 0 ? static_cast<int>(done * kWidth / total) : kWidth;
  return "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "]";
}

struct BillFlags {
  std::string until;
  std::int64_t lease = 300;
  int workers = 0;
  int batch = billing::RunOptions::kDefaultBatch;
  std::string sandbox_faults;
  bool progress = true;
  std::string redis_url;
  std::string ops_email;
  std::string update_payment_url = std::string(kDefaultPaymentUpdateUrl);
  std::int64_t payment_update_ttl_days = billing::kDefaultPaymentUpdateTtl / kSecondsPerDay;
  std::string gift_claim_url = std::string(gifts::kDefaultClaimUrl);
};

int bill_once(const Common& common, const BillFlags& flags) {
  auto faults = faults_from(flags.sandbox_faults);
  if (!faults.ok()) return fail(faults.error());
  std::unique_ptr<Clock> clock = std::make_unique<SystemClock>();
  if (!flags.until.empty()) {
    auto until = parse_rfc3339(flags.until);
    if (!until) return fail(Error::invalid("invalid_until", "--until must be an RFC 3339 time"));
    clock = std::make_unique<SimulatedClock>(*until);
  }
  billing::BillingOptions billing;
  billing.attempt_lease_seconds = flags.lease;
  billing.batch = flags.batch;
  // Default: 2 x cores on PostgreSQL (a renewal mostly waits on round trips); SQLite runs one.
  billing.workers = flags.workers > 0 ? flags.workers : static_cast<int>(2 * std::max(1u, std::thread::hardware_concurrency()));
  if (common.db_url.rfind("sqlite:", 0) == 0) billing.workers = 1;
  billing.payment_update_token_seconds = flags.payment_update_ttl_days * kSecondsPerDay;
  Options options{common.db_url, std::max(2, billing.workers), "", "", {}, {}, flags.update_payment_url, false, *faults,
                  billing};
  options.redis_url = flags.redis_url;  // renewals reserve stock: the API nodes' caches must hear of it
  options.gift_claim_url = flags.gift_claim_url;  // gifts paid by this run are e-mailed by it
  options.inventory.ops_email = flags.ops_email;  // alerts are queued here, sent by `serve`'s dispatcher
  auto app = open_app(common, options, std::move(clock));
  if (!app.ok()) return fail(app.error());
  if (flags.progress) {
    (*app)->billing().runs.on_progress([](const billing::Progress& p) {
      std::cerr << "\r" << p.phase << " " << progress_bar(p.done, p.total) << " " << p.done << "/" << p.total << std::flush;
      if (p.done == p.total) std::cerr << "\n";
    });
  }
  auto run = (*app)->run_billing("cli");
  if (!run.ok()) return fail(run.error());
  std::cout << to_json(*run).dump() << std::endl;
  return run->lifecycle_failures + run->payments.errors > 0 ? 2 : 0;
}

struct ForecastFlags {
  bool backtest = false;
  std::string at;  // backtest cut (default: now - horizon)
  std::string horizon = "90d";
  std::string granularity = "week";
  double level = 0.8;
};

struct ReorderFlags {
  std::string ops_email;
  std::string redis_url;
};

// `recur reorder`: one automatic reordering run now, what `serve` does hourly; prints its report.
int reorder_once(const Common& common, const ReorderFlags& flags) {
  Options options{common.db_url, 2, "", ""};
  options.redis_url = flags.redis_url;            // sent orders change availability: the API nodes' caches hear of it
  options.inventory.ops_email = flags.ops_email;  // replenishment alerts are queued here, sent by `serve`
  auto app = open_app(common, options);
  if (!app.ok()) return fail(app.error());
  auto report = (*app)->purchasing().reorder((*app)->clock().now());
  if (!report.ok()) return fail(report.error());
  std::cout << inventory::to_json(*report).dump() << std::endl;
  return report->errors > 0 ? 2 : 0;
}

// `recur forecast`: the JSON forecast as of now, or with --backtest the error of a forecast
// made at a past moment against what shipped after it.
int forecast(App& app, const ForecastFlags& flags) {
  auto days = inventory::parse_horizon_days(flags.horizon);
  if (!days) return fail(Error::invalid("invalid_horizon", "--horizon must be days or weeks up to a year, e.g. 90d"));
  auto granularity = inventory::parse_granularity(flags.granularity);
  if (!granularity) return fail(Error::invalid("invalid_granularity", "--granularity must be day, week or month"));
  int threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 2u));
  Timestamp now = app.clock().now();
  if (!flags.backtest) {
    if (!flags.at.empty()) return fail(Error::invalid("invalid_at", "--at needs --backtest"));
    inventory::ForecastRequest req{
        .as_of = now, .horizon_days = *days, .granularity = *granularity, .level = flags.level, .threads = threads};
    auto report = db::transact(app.database(), [&](db::Tx& tx) { return inventory::run_forecast(tx, req); },
                               db::TxMode::kReadOnly);
    if (!report.ok()) return fail(report.error());
    std::cout << inventory::to_json(*report).dump(2) << std::endl;
    return 0;
  }
  Timestamp at = now - static_cast<Timestamp>(*days) * kSecondsPerDay;
  if (!flags.at.empty()) {
    auto parsed = parse_rfc3339(flags.at);
    if (!parsed) return fail(Error::invalid("invalid_at", "--at must be an RFC 3339 time"));
    at = *parsed;
  }
  auto report = db::transact(app.database(), [&](db::Tx& tx) {
    return inventory::run_backtest(tx, at, *days, *granularity, flags.level, threads);
  }, db::TxMode::kReadOnly);
  if (!report.ok()) return fail(report.error());
  if (at + static_cast<Timestamp>(*days) * kSecondsPerDay > now)
    std::cerr << "recur: the horizon ends after now: the actuals of its last buckets are incomplete\n";
  std::cerr << "backtest at " << format_rfc3339(at) << ", " << *days << " days by " << flags.granularity
            << ": WAPE " << report->error.wape * 100 << " %, MAPE " << report->error.mape * 100 << " % against "
            << (report->source == inventory::ActualsSource::kShipments ? "shipments" : "billable lifecycle events")
            << "\n";
  std::cout << inventory::to_json(*report).dump(2) << std::endl;
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  setup_json_logging();

  CLI::App cli{"recur: the subscription-commerce backend (REST API, lifecycle scheduler, operator tools)"};
  cli.require_subcommand(1);
  Common common;

  auto* serve_cmd = cli.add_subcommand("serve", "serve the REST API (migrates the database first)");
  ServeFlags flags;
  add_db_option(serve_cmd, common);
  serve_cmd
      ->add_option("--portal-url", flags.portal_url,
                   "the customer portal's public address, ending in /portal (sign-in links point here); "
                   "default: http://<listen>/portal")
      ->envname("RECUR_PORTAL_URL");
  serve_cmd->add_option("--listen", flags.listen, "address to listen on, HOST:PORT")
      ->envname("RECUR_LISTEN")
      ->capture_default_str();
  serve_cmd
      ->add_option("--metrics-listen", flags.metrics_listen,
                   "serve /metrics (and /healthz, /readyz) on HOST:PORT of its own instead of on --listen")
      ->envname("RECUR_METRICS_LISTEN");
  serve_cmd
      ->add_option("--modules", flags.modules,
                   "the parts this process runs: all, or a comma list of api, billing-worker, delivery-worker, "
                   "scheduler (docs/OPERATIONS.md, \"Deployment shapes\")")
      ->envname("RECUR_MODULES")
      ->capture_default_str();
  serve_cmd
      ->add_option("--billing-batch", flags.billing_batch,
                   "renewals, and charges, a billing run writes in one transaction (decision 0033)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  serve_cmd
      ->add_option("--billing-lease", flags.billing_lease,
                   "seconds a billing run's claim on an invoice lasts: a charge its node did not record by then (the "
                   "node died) is asked again by another node, under the same idempotency key")
      ->check(CLI::Range(5, 86400))
      ->capture_default_str();
  serve_cmd
      ->add_option("--db-replica", flags.db_replica,
                   "a streaming replica of --db (postgresql://...) for the reads that may lag: the merchant's "
                   "top-level lists, analytics and forecasts (docs/OPERATIONS.md, \"Read replica\")")
      ->envname("RECUR_DB_REPLICA");
  serve_cmd
      ->add_option("--db-replica-max-lag", flags.db_replica_max_lag,
                   "the staleness bound in seconds: while the replica is further behind (or unreachable), those "
                   "reads go to the primary. At least 2: the lag is measured once a second, and a replica under "
                   "writes reads about a second behind")
      ->check(CLI::Range(2.0, 3600.0))
      ->capture_default_str();
  serve_cmd
      ->add_option("--drain-seconds", flags.drain_seconds,
                   "after SIGTERM, answer /readyz 503 and keep serving this long before draining (load balancer "
                   "health checks take the node out first)")
      ->capture_default_str();
  serve_cmd
      ->add_option("--alert-webhook", flags.alert_webhook,
                   "Slack-compatible incoming webhook URL for error alerts (500s, scheduler stalls, billing "
                   "failure-rate jumps); a secret")
      ->envname("RECUR_ALERT_WEBHOOK");
  serve_cmd
      ->add_option("--sentry-dsn", flags.sentry_dsn, "Sentry DSN for the same alerts (Sentry's envelope API); a secret")
      ->envname("RECUR_SENTRY_DSN");
  serve_cmd->add_option("--io-threads", flags.io_threads, "threads doing network I/O (default: cores)");
  serve_cmd->add_option("--workers", flags.workers, "threads doing database work (default: 4 x cores)");
  serve_cmd->add_option("--max-connections", flags.max_connections,
                        "open connections at most; beyond, the longest-idle keep-alive one is closed (default: the "
                        "open-files limit minus 64 + 3 per worker)")
      ->check(CLI::PositiveNumber)
      ->envname("RECUR_MAX_CONNECTIONS");
  serve_cmd->add_option("--max-connections-per-ip", flags.max_connections_per_ip,
                        "open connections from one IP address at most; beyond, new ones are closed at once")
      ->check(CLI::PositiveNumber)
      ->envname("RECUR_MAX_CONNECTIONS_PER_IP")
      ->capture_default_str();
  serve_cmd->add_option("--tls-cert", flags.tls_cert, "PEM certificate chain: serve HTTPS only (TLS 1.2+), with --tls-key")
      ->envname("RECUR_TLS_CERT");
  serve_cmd->add_option("--tls-key", flags.tls_key, "PEM private key of --tls-cert")->envname("RECUR_TLS_KEY");
  serve_cmd->add_option("--rate-limit-key", flags.rate_limit_key,
                        "requests per API key: N/min (or N/s, N/h; off), with bursts of a minute's worth; beyond, 429")
      ->envname("RECUR_RATE_LIMIT_KEY")
      ->capture_default_str();
  serve_cmd->add_option("--rate-limit-ip", flags.rate_limit_ip,
                        "requests per source IP on public routes and with a missing or invalid key: N/min (or N/s, "
                        "N/h; off)")
      ->envname("RECUR_RATE_LIMIT_IP")
      ->capture_default_str();
  serve_cmd->add_option("--tick", flags.tick, "seconds between lifecycle scheduler runs")->capture_default_str();
  serve_cmd->add_flag("--access-log,!--no-access-log", flags.access_log, "JSON access log lines on stderr");
  serve_cmd->add_flag("--read-caches,!--no-read-caches", flags.read_caches,
                      "cache plans, blackout dates and rendered subscriptions in process (dropped by every "
                      "write, here and through --redis-url on every node); off only to measure them");
  serve_cmd->add_option("--docs-dir", flags.docs_dir, "swagger-ui-dist folder for /docs")->capture_default_str();
  serve_cmd->add_option("--spec", flags.spec, "OpenAPI description served at /openapi.yaml")->capture_default_str();
  serve_cmd->add_option("--dashboard-dir", flags.dashboard_dir, "folder of the analytics dashboard served at /dashboard")
      ->capture_default_str();
  serve_cmd
      ->add_option("--invoice-page-dir", flags.invoice_page_dir,
                   "folder of the hosted invoice page served at /i (links: --payment-update-url https://HOST/i#)")
      ->capture_default_str();
  add_notify_options(serve_cmd, flags);
  add_gateway_options(serve_cmd, flags);
  serve_cmd->add_flag("--test-mode", flags.test_mode, "simulated clock, moved by POST /v1/test-clock/advance");
  serve_cmd->add_option("--clock-start", flags.clock_start, "test mode: the simulated clock's start (RFC 3339)");
  serve_cmd->add_option("--sandbox-faults", flags.sandbox_faults,
                        "sandbox gateway faults, e.g. timeout_after_charge=0.2,server_error=0.1,seed=7")
      ->envname("RECUR_SANDBOX_FAULTS");
  serve_cmd->add_option("--idempotency-lease", flags.idempotency_lease,
                        "seconds before a request left in progress under an Idempotency-Key (its process died) may be "
                        "run by a retry")
      ->check(CLI::Range(std::int64_t{1}, kSecondsPerDay))
      ->capture_default_str();
  add_webhook_options(serve_cmd, flags.webhooks);
  serve_cmd->add_flag("--no-webhook-delivery", flags.webhooks.off,
                      "do not send webhooks from this node (run `recur deliver` beside it); events still queue");
  serve_cmd->add_option("--event-retention-days", flags.event_retention_days,
                        "days of events GET /v1/events shows (the log itself is kept: it is each resource's history)")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  serve_cmd
      ->add_option("--forecast-cache", flags.forecast_cache,
                   "subscriptions kept parsed between forecasts (GET /v1/forecasts, reorder points): about 1.5 KB"
                   " per live one; 0: none (docs/decisions/0034)")
      ->envname("RECUR_FORECAST_CACHE")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{100'000'000}))
      ->capture_default_str();
  serve_cmd->add_option("--erase-after-days", flags.erase_after_days,
                        "erase a customer's personal data this many days after their last subscription ended"
                        " (0: never; docs/PRIVACY.md)")
      ->check(CLI::Range(0, 36500))
      ->capture_default_str();
  serve_cmd->add_option("--redis-url", flags.redis_url,
                        "several API nodes: share cache invalidations and rate-limit buckets through Redis, "
                        "redis://host:port[/db]")
      ->envname("RECUR_REDIS_URL");

  auto* bill_cmd = cli.add_subcommand("bill", "run billing once: renewals due until TIME, then charges; exits");
  add_db_option(bill_cmd, common);
  BillFlags bill;
  bill_cmd->add_option("--until", bill.until, "bill as if it were TIME (RFC 3339; default: now)");
  bill_cmd->add_option("--lease", bill.lease, "seconds before an unanswered charge is asked again")->capture_default_str();
  bill_cmd->add_option("--workers", bill.workers,
                       "renewals and charges in parallel, PostgreSQL only (default: 2 x cores; SQLite: 1)")
      ->check(CLI::Range(1, 256));
  bill_cmd->add_option("--batch", bill.batch, "renewals, and charges, a transaction (decision 0033)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  bill_cmd->add_option("--sandbox-faults", bill.sandbox_faults, "sandbox gateway faults (see serve)")
      ->envname("RECUR_SANDBOX_FAULTS");
  bill_cmd->add_flag("--progress,!--no-progress", bill.progress, "progress bar on stderr")->capture_default_str();
  bill_cmd->add_option("--ops-email", bill.ops_email, "operators' address for failure-rate and low-stock alerts (see serve)")
      ->envname("RECUR_OPS_EMAIL");
  add_payment_update_options(bill_cmd, bill.update_payment_url, bill.payment_update_ttl_days, bill.gift_claim_url);
  bill_cmd->add_option("--redis-url", bill.redis_url, "the API nodes' Redis (see serve): stock moved here reaches their caches")
      ->envname("RECUR_REDIS_URL");

  auto* deliver_cmd = cli.add_subcommand("deliver", "send webhooks (as serve does) without serving the API, until stopped");
  add_db_option(deliver_cmd, common);
  WebhookFlags deliver_flags;
  add_webhook_options(deliver_cmd, deliver_flags);
  auto* stream_cmd = cli.add_subcommand("stream", "the event stream to NATS (--nats-url)");
  stream_cmd->require_subcommand(1);
  auto* stream_off_cmd = stream_cmd->add_subcommand(
      "off", "once no node runs with --nats-url any more: stop queueing events for the stream, drop those waiting");
  add_db_option(stream_off_cmd, common);

  auto* migrate_cmd = cli.add_subcommand("migrate", "apply pending schema migrations and exit");
  add_db_option(migrate_cmd, common);

  auto* keys_cmd = cli.add_subcommand("keys", "manage API keys and the master key");
  keys_cmd->require_subcommand(1);
  auto* create_cmd = keys_cmd->add_subcommand("create", "create an API key; prints it once, alone on the last line");
  std::string role;
  create_cmd->add_option("--role", role, "admin | support | billing | inventory | analyst")
      ->required()
      ->check(CLI::IsMember({"admin", "support", "billing", "inventory", "analyst"}));
  std::string key_name = "recur keys create";
  create_cmd->add_option("--name", key_name, "what the key is for, shown in GET /v1/api-keys (e.g. \"shop backend\")")
      ->capture_default_str()
      ->check([](const std::string& v) { return v.empty() || v.size() > 100 ? "1 to 100 characters" : ""; });
  add_db_option(create_cmd, common);
  auto* rotate_cmd = keys_cmd->add_subcommand(
      "rotate-master", "re-wrap every data key under a new master key, online; the old master key is then gone");
  int rotate_grace = 5;
  rotate_cmd->add_option("--grace", rotate_grace, "seconds other nodes get to read the new key file (twice)")
      ->check(CLI::Range(0, 300))
      ->capture_default_str();
  add_db_option(rotate_cmd, common);

  auto* audit_cmd = cli.add_subcommand("audit", "the audit log");
  audit_cmd->require_subcommand(1);
  auto* audit_verify_cmd = audit_cmd->add_subcommand(
      "verify", "chain pending entries, then check the whole hash chain; exit 1 and the first broken entry if it breaks");
  add_db_option(audit_verify_cmd, common);

  auto* analytics_cmd = cli.add_subcommand("analytics", "customer analytics (docs/analytics.md)");
  analytics_cmd->require_subcommand(1);
  auto* analytics_rebuild_cmd = analytics_cmd->add_subcommand(
      "rebuild", "recompute every analytics table from the event log, in one transaction (equal to what events kept)");
  add_db_option(analytics_rebuild_cmd, common);

  auto* demo_cmd = cli.add_subcommand("demo", "load the demo catalogue (once)");
  add_db_option(demo_cmd, common);

  auto* forecast_cmd = cli.add_subcommand("forecast", "print the demand forecast per SKU (JSON), or backtest it");
  add_db_option(forecast_cmd, common);
  ForecastFlags forecast_flags;
  forecast_cmd->add_flag("--backtest", forecast_flags.backtest,
                         "forecast as of --at from what was known then; report MAPE/WAPE against what shipped after");
  forecast_cmd->add_option("--at", forecast_flags.at, "backtest cut, RFC 3339 (default: now - horizon)");
  forecast_cmd->add_option("--horizon", forecast_flags.horizon, "days or weeks ahead, e.g. 90d or 12w")
      ->capture_default_str();
  forecast_cmd->add_option("--granularity", forecast_flags.granularity, "day | week | month")->capture_default_str();
  forecast_cmd->add_option("--level", forecast_flags.level, "prediction interval: 0.8 | 0.9 | 0.95")
      ->check(CLI::Range(0.5, 0.99))
      ->capture_default_str();

  auto* reorder_cmd =
      cli.add_subcommand("reorder", "run automatic reordering once, as serve does hourly; prints its report (JSON)");
  add_db_option(reorder_cmd, common);
  ReorderFlags reorder_flags;
  reorder_cmd
      ->add_option("--ops-email", reorder_flags.ops_email, "operators' address for replenishment alerts (see serve)")
      ->envname("RECUR_OPS_EMAIL");
  reorder_cmd
      ->add_option("--redis-url", reorder_flags.redis_url,
                   "the API nodes' cache bus: orders sent change their availability answers (see serve)")
      ->envname("RECUR_REDIS_URL");

  CLI11_PARSE(cli, argc, argv);

  if (serve_cmd->parsed()) return serve(common, flags);
  if (bill_cmd->parsed()) return bill_once(common, bill);
  if (demo_cmd->parsed()) return demo(common);
  if (deliver_cmd->parsed()) return deliver(common, deliver_flags);
  if (reorder_cmd->parsed()) return reorder_once(common, reorder_flags);

  auto app = open_app(common, Options{common.db_url, 2, "", ""});
  if (!app.ok()) return fail(app.error());
  if (migrate_cmd->parsed()) {
    auto version = db::schema_version((*app)->database());
    std::cout << "schema at version " << (version.ok() ? *version : 0) << "\n";
    return 0;
  }
  if (create_cmd->parsed()) {
    auto key = (*app)->keys().create(role, key_name);
    if (!key.ok()) return fail(key.error());
    record_cli_change(**app, "api_key", key->id, "api_key.created", {"role"});
    std::cerr << "created API key " << key->id << " (" << key_name << ") with role " << key->role
              << "; it is shown only once:\n";
    std::cout << key->secret << std::endl;
    return 0;
  }
  if (rotate_cmd->parsed()) {
    auto before = (*app)->keyring().master_fingerprint();
    auto rewrapped = (*app)->keyring().rotate_master((*app)->database(), std::chrono::seconds(rotate_grace));
    if (!rewrapped.ok()) return fail(rewrapped.error());
    record_cli_change(**app, "master_key", (*app)->keyring().master_fingerprint(), "master_key.rotated", {});
    std::cerr << "master key rotated (" << before << " -> " << (*app)->keyring().master_fingerprint() << "): "
              << *rewrapped << " data keys re-wrapped; the old key is no longer in " << common.master_key_file << "\n";
    return 0;
  }
  if (forecast_cmd->parsed()) return forecast(**app, forecast_flags);
  if (audit_verify_cmd->parsed()) return verify_audit(**app);
  if (analytics_rebuild_cmd->parsed()) {
    auto read = db::transact((*app)->database(), [](db::Tx& tx) { return analytics::rebuild(tx); });
    if (!read.ok()) return fail(read.error());
    std::cerr << "analytics rebuilt from " << *read << " events\n";
    return 0;
  }
  if (stream_off_cmd->parsed()) {
    auto dropped = webhooks::turn_stream_off((*app)->database());
    if (!dropped.ok()) return fail(dropped.error());
    std::cerr << "event stream off: " << *dropped << " events waiting for it dropped; a node with --nats-url turns it on"
              << " again\n";
    return 0;
  }
  return 0;
}

}  // namespace recur::app
