// Alerts for operators without Prometheus: unhandled server errors, scheduler stalls, billing
// failure-rate jumps, sent to a Slack-compatible webhook and/or Sentry, rate-limited per kind.
//
// Personal data: the Alerter sends exactly what the caller writes in Alert::message and
// Alert::tags, plus the options' environment, release and server_name, and nothing else (no
// request bodies, headers, customers, addresses or e-mails). Callers put recur's own words and
// identifiers there (request ids, route templates, methods, statuses, error codes), never a
// customer's data: the sinks are third parties.
//
// Secrets: the webhook URL and the DSN's public key are never logged; a failed send is logged
// with the sink's host only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/clock.h"
#include "platform/result.h"

namespace recur::net {
class Session;
}  // namespace recur::net

namespace recur::alerts {

// Every field has an initializer ({} for strings), so callers may name only the ones they set
// ({.webhook_url = ...}) without -Wmissing-field-initializers.
struct AlertOptions {
  std::string webhook_url{};  // "" = no webhook sink; else http(s)://host/... (Slack, Mattermost, Rocket.Chat)
  std::string sentry_dsn{};   // "" = no Sentry sink; else {scheme}://{key}@{host}[:{port}]/{path/}{project_id}
  std::chrono::seconds min_interval{60};  // per kind: at most one alert queued per interval (0: no limit)
  std::size_t queue_limit = 64;           // alerts waiting to be sent; beyond, dropped (and counted)
  std::string environment = "production";
  std::string release{};      // recur's version
  std::string server_name{};  // the node (host:port), never a customer's data
};

struct Alert {
  std::string kind{};           // "server_error", "scheduler_stalled", "billing_failure_rate": a small fixed set
  std::string level = "error";  // or "warning"
  std::string message{};        // one line, written by recur: never personal data
  std::vector<std::pair<std::string, std::string>> tags{};  // request_id, route, method, status, code ...
};

// Counts for one sink. An alert suppressed by the rate limit or dropped because the queue was
// full counts once in every configured sink's stats; sent and failed count that sink's sends.
struct AlertStats {
  std::uint64_t sent = 0;        // answered 2xx
  std::uint64_t failed = 0;      // refused, timed out or answered otherwise
  std::uint64_t dropped = 0;     // queue full, or still queued when the Alerter was destroyed
  std::uint64_t suppressed = 0;  // within min_interval of the last alert of its kind
};

struct AlerterStats {
  AlertStats webhook;  // all zero when no webhook is configured
  AlertStats sentry;   // all zero when no DSN is configured
};

// What a DSN names, parsed once by open(): the envelope endpoint and the key for X-Sentry-Auth.
struct SentryDsn {
  std::string public_key;
  std::string host;          // host[:port] as written
  std::string envelope_url;  // {scheme}://{host}[:{port}]/{path/}api/{project_id}/envelope/
};
Result<SentryDsn> parse_sentry_dsn(const std::string& dsn);

class Alerter {
 public:
  // A webhook URL or DSN that does not parse is kInvalid ("invalid_alert_webhook",
  // "invalid_sentry_dsn"). Starts the sender thread when a sink is configured.
  static Result<std::unique_ptr<Alerter>> open(AlertOptions options, const Clock& clock);
  // Stops the sender thread: sends what is queued for about 2 s more, then drops the rest.
  // A send already in flight is waited for (at most its 5 s HTTP timeout).
  ~Alerter();
  Alerter(const Alerter&) = delete;
  Alerter& operator=(const Alerter&) = delete;

  bool enabled() const { return !options_.webhook_url.empty() || !sentry_.envelope_url.empty(); }

  // Queues the alert for the sender thread; never blocks on the network. Safe from any thread.
  // The first alert of a kind is queued; others of that kind within min_interval are
  // suppressed, and the next one queued says how many were held back ("(and 4 more since
  // ...Z)" in the text, tag "suppressed" in Sentry). A no-op when no sink is configured.
  void raise(Alert alert);

  AlerterStats stats() const;

  // Waits until the queue is empty and nothing is in flight, for at most `timeout`; false if
  // it had not emptied by then. For tests and orderly shutdown.
  bool flush(std::chrono::milliseconds timeout);

 private:
  struct Queued {
    Alert alert;
    Timestamp at = 0;
    std::uint64_t held_back = 0;  // alerts of this kind suppressed or dropped since the last queued one
    Timestamp held_back_since = 0;
  };
  struct KindState {
    bool queued_once = false;
    Timestamp last_queued = 0;
    std::uint64_t held_back = 0;
    Timestamp held_back_since = 0;
  };

  Alerter(AlertOptions options, const Clock& clock, std::string webhook_host, SentryDsn sentry);
  void run();
  void deliver(const Queued& item, std::chrono::milliseconds timeout, net::Session& webhook, net::Session& sentry);
  void count_held_back(KindState& kind, Timestamp now, std::uint64_t AlertStats::*counter);  // Requires: mu_ held
  void count(std::uint64_t AlertStats::*counter);                                            // Requires: mu_ held

  const AlertOptions options_;
  const Clock& clock_;
  const std::string webhook_host_;  // for logs
  const SentryDsn sentry_;          // envelope_url "" = no Sentry sink

  mutable std::mutex mu_;
  std::condition_variable wake_;     // the sender: work or stop
  std::condition_variable drained_;  // flush(): queue empty, nothing in flight
  std::deque<Queued> queue_;
  std::map<std::string, KindState> kinds_;
  AlerterStats stats_;
  bool in_flight_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;
  std::thread sender_;
};

}  // namespace recur::alerts
