// Alerter: a rate-limited queue of alerts and one thread that posts them to a webhook and Sentry.
#include "platform/alerts/alerter.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "platform/net/http_client.h"
#include "platform/time.h"

namespace recur::alerts {
namespace {

using nlohmann::json;

constexpr std::chrono::milliseconds kSendTimeout{5000};
constexpr std::chrono::milliseconds kShutdownGrace{2000};
// A send during shutdown gets at least this long, even past the grace (libcurl reads 0 as "no limit").
constexpr std::chrono::milliseconds kShortestSend{100};
// Sentry drops tags with longer keys or values.
constexpr std::size_t kSentryTagKeyLimit = 32;
constexpr std::size_t kSentryTagValueLimit = 200;

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

// "host", "host:port" or "[v6]:port", with a port in 1..65535 when there is one.
bool is_host_and_port(std::string_view authority) {
  if (authority.empty()) return false;
  std::size_t host_end = authority.size();
  if (authority.front() == '[') {
    host_end = authority.find(']');
    if (host_end == std::string_view::npos || host_end == 1) return false;
    ++host_end;
  } else {
    host_end = std::min(authority.find(':'), authority.size());
    if (host_end == 0) return false;
  }
  if (host_end == authority.size()) return true;
  if (authority[host_end] != ':') return false;
  std::string_view port = authority.substr(host_end + 1);
  if (!is_digits(port) || port.size() > 5) return false;
  int number = std::stoi(std::string(port));
  return number >= 1 && number <= 65535;
}

struct UrlParts {
  std::string scheme;     // "http" or "https"
  std::string userinfo;   // before '@', "" when none
  std::string authority;  // host[:port]
  std::string path;       // from the first '/' on ("" when none)
};

// Splits an absolute http(s) URL; nullopt for anything else.
std::optional<UrlParts> split_url(std::string_view url) {
  if (url.empty() || has_space_or_control(url)) return std::nullopt;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  UrlParts parts;
  parts.scheme = std::string(url.substr(0, scheme_end));
  std::transform(parts.scheme.begin(), parts.scheme.end(), parts.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (parts.scheme != "http" && parts.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  auto authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, authority_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    parts.userinfo = std::string(authority.substr(0, at));
    authority.remove_prefix(at + 1);
  }
  if (!is_host_and_port(authority)) return std::nullopt;
  parts.authority = std::string(authority);
  parts.path = std::string(rest.substr(authority_end));
  return parts;
}

Error invalid_dsn(const std::string& why) {
  // The DSN holds a key: the message says what is wrong, never the DSN.
  return Error::invalid(
      "invalid_sentry_dsn",
      "the Sentry DSN " + why + " (expected {scheme}://{public_key}@{host}[:{port}]/{path/}{project_id})");
}

// Keeps at most `limit` bytes without cutting a UTF-8 sequence.
std::string clip_utf8(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

// Slack reads &, < and > as control characters (<!channel>, <url|label>); Mattermost and
// Rocket.Chat read the entities back as the characters.
std::string escape_for_slack(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

// Invalid UTF-8 in a message becomes U+FFFD instead of an exception on the sender thread.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string random_event_id() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  char hex[2 * sizeof raw + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return hex;
}

std::string held_back_note(std::uint64_t held_back, Timestamp since) {
  if (held_back == 0) return "";
  return " (and " + std::to_string(held_back) + " more since " + format_rfc3339(since) + ")";
}

// `text` carries the whole alert; Slack, Mattermost and Rocket.Chat all take this shape.
std::string webhook_body(const Alert& alert, const std::string& note, const AlertOptions& options) {
  std::string head = "recur";
  if (!options.environment.empty()) head += " " + options.environment;
  head += " " + alert.level + ": " + alert.kind;
  if (!options.server_name.empty()) head += " on " + options.server_name;
  if (!options.release.empty()) head += " (release " + options.release + ")";
  std::string text = head + "\n" + alert.message + note;
  std::string tags;
  for (const auto& [name, value] : alert.tags) tags += (tags.empty() ? "" : ", ") + name + ": " + value;
  if (!tags.empty()) text += "\n" + tags;
  return dump(json{{"text", escape_for_slack(text)}});
}

json sentry_event(const Alert& alert, Timestamp at, std::uint64_t held_back, const std::string& note,
                  const std::string& event_id, const AlertOptions& options) {
  json tags = json::object();
  for (const auto& [name, value] : alert.tags)
    tags[clip_utf8(name, kSentryTagKeyLimit)] = clip_utf8(value, kSentryTagValueLimit);
  tags["kind"] = clip_utf8(alert.kind, kSentryTagValueLimit);
  if (held_back > 0) tags["suppressed"] = std::to_string(held_back);
  // One issue per kind, and per route where the alert names one (a 500 on two routes is two bugs).
  json fingerprint = json::array({"recur", alert.kind});
  for (const auto& [name, value] : alert.tags)
    if (name == "route") fingerprint.push_back(value);
  json event = {
      {"event_id", event_id},    {"timestamp", format_rfc3339(at)},
      {"platform", "native"},    {"level", alert.level == "warning" ? "warning" : "error"},
      {"logger", "recur"},       {"message", {{"formatted", alert.message + note}}},
      {"tags", std::move(tags)}, {"fingerprint", std::move(fingerprint)},
  };
  if (!options.environment.empty()) event["environment"] = options.environment;
  if (!options.release.empty()) event["release"] = options.release;
  if (!options.server_name.empty()) event["server_name"] = options.server_name;
  return event;
}

// Three lines: envelope header, item header, the event. `sent_at` comes from the same Clock as
// the event's timestamp, so Relay's clock-drift correction also covers a simulated clock.
std::string sentry_envelope(const json& event, const std::string& dsn, Timestamp sent_at) {
  std::string event_line = dump(event);
  json header = {{"event_id", event["event_id"]}, {"sent_at", format_rfc3339(sent_at)}, {"dsn", dsn}};
  json item = {{"type", "event"}, {"content_type", "application/json"}, {"length", event_line.size()}};
  return dump(header) + "\n" + dump(item) + "\n" + event_line + "\n";
}

// Posts one body; true on a 2xx. A failure is logged with the sink's host only: the URL's
// path (Slack) and the key (Sentry) are secrets, and the client's error text holds the URL.
bool post(net::Session& session, net::HttpRequest request, const char* sink, const std::string& host,
          const std::string& kind) {
  auto response = session.send(request);
  if (!response.ok()) {
    spdlog::warn("alerts: the {} sink at {} did not take a {} alert ({})", sink, host, kind, response.error().code);
    return false;
  }
  if (response->status < 200 || response->status > 299) {
    spdlog::warn("alerts: the {} sink at {} answered {} to a {} alert", sink, host, response->status, kind);
    return false;
  }
  return true;
}

}  // namespace

Result<SentryDsn> parse_sentry_dsn(const std::string& dsn) {
  auto parts = split_url(dsn);
  if (!parts) return invalid_dsn("is not an http(s) URL with a host");
  if (dsn.find_first_of("?#") != std::string::npos) return invalid_dsn("has a query or fragment");
  // "public_key" or the legacy "public_key:secret_key" (the secret is no longer used).
  std::string public_key = parts->userinfo.substr(0, parts->userinfo.find(':'));
  if (public_key.empty()) return invalid_dsn("has no public key");
  const std::string& path = parts->path;
  auto last_slash = path.rfind('/');
  if (last_slash == std::string::npos) return invalid_dsn("has no project id");
  std::string project_id = path.substr(last_slash + 1);
  if (!is_digits(project_id) || project_id.size() > 20) return invalid_dsn("has no numeric project id at its end");
  std::string prefix = path.substr(0, last_slash + 1);  // "/" or "/sentry/"
  if (prefix.find("//") != std::string::npos) return invalid_dsn("has an empty path segment");
  SentryDsn out;
  out.public_key = std::move(public_key);
  out.host = parts->authority;
  out.envelope_url = parts->scheme + "://" + parts->authority + prefix + "api/" + project_id + "/envelope/";
  return out;
}

Result<std::unique_ptr<Alerter>> Alerter::open(AlertOptions options, const Clock& clock) {
  std::string webhook_host;
  if (!options.webhook_url.empty()) {
    auto parts = split_url(options.webhook_url);
    if (!parts) return Error::invalid("invalid_alert_webhook", "the alert webhook is not an http(s) URL with a host");
    webhook_host = parts->authority;
  }
  SentryDsn sentry;
  if (!options.sentry_dsn.empty()) {
    RECUR_ASSIGN(sentry, parse_sentry_dsn(options.sentry_dsn));
  }
  return std::unique_ptr<Alerter>(new Alerter(std::move(options), clock, std::move(webhook_host), std::move(sentry)));
}

Alerter::Alerter(AlertOptions options, const Clock& clock, std::string webhook_host, SentryDsn sentry)
    : options_(std::move(options)), clock_(clock), webhook_host_(std::move(webhook_host)), sentry_(std::move(sentry)) {
  if (enabled()) sender_ = std::thread([this] { run(); });
}

Alerter::~Alerter() {
  if (!sender_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    stop_deadline_ = std::chrono::steady_clock::now() + kShutdownGrace;
  }
  wake_.notify_all();
  sender_.join();
}

void Alerter::count(std::uint64_t AlertStats::*counter) {
  if (!options_.webhook_url.empty()) ++(stats_.webhook.*counter);
  if (!sentry_.envelope_url.empty()) ++(stats_.sentry.*counter);
}

void Alerter::count_held_back(KindState& kind, Timestamp now, std::uint64_t AlertStats::*counter) {
  if (kind.held_back++ == 0) kind.held_back_since = kind.queued_once ? kind.last_queued : now;
  count(counter);
}

void Alerter::raise(Alert alert) {
  if (!enabled()) return;
  Timestamp now = clock_.now();
  std::lock_guard lock(mu_);
  KindState& kind = kinds_[alert.kind];
  std::int64_t interval = options_.min_interval.count();
  if (interval > 0 && kind.queued_once && now - kind.last_queued < interval) {
    count_held_back(kind, now, &AlertStats::suppressed);
    return;
  }
  // A dropped alert does not start an interval: the next one of its kind may go at once.
  if (stopping_ || queue_.size() >= options_.queue_limit) {
    count_held_back(kind, now, &AlertStats::dropped);
    return;
  }
  queue_.push_back(Queued{std::move(alert), now, kind.held_back, kind.held_back_since});
  kind.queued_once = true;
  kind.last_queued = now;
  kind.held_back = 0;
  wake_.notify_one();
}

AlerterStats Alerter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool Alerter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return drained_.wait_for(lock, timeout, [this] { return queue_.empty() && !in_flight_; });
}

void Alerter::run() {
  net::Session webhook_session;
  net::Session sentry_session;
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;
    auto timeout = kSendTimeout;
    if (stopping_) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(stop_deadline_ - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds(0)) break;
      timeout = std::clamp(left, kShortestSend, kSendTimeout);
    }
    Queued item = std::move(queue_.front());
    queue_.pop_front();
    in_flight_ = true;
    lock.unlock();
    deliver(item, timeout, webhook_session, sentry_session);
    lock.lock();
    in_flight_ = false;
    drained_.notify_all();
  }
  for (std::size_t i = 0; i < queue_.size(); ++i) count(&AlertStats::dropped);
  queue_.clear();
  drained_.notify_all();
}

void Alerter::deliver(const Queued& item, std::chrono::milliseconds timeout, net::Session& webhook,
                      net::Session& sentry) {
  const Alert& alert = item.alert;
  std::string note = held_back_note(item.held_back, item.held_back_since);
  bool webhook_ok = false;
  bool sentry_ok = false;
  if (!options_.webhook_url.empty()) {
    net::HttpRequest request{.method = "POST",
                             .url = options_.webhook_url,
                             .headers = {{"Content-Type", "application/json"}},
                             .body = webhook_body(alert, note, options_),
                             .timeout = timeout};
    webhook_ok = post(webhook, std::move(request), "webhook", webhook_host_, alert.kind);
  }
  if (!sentry_.envelope_url.empty()) {
    json event = sentry_event(alert, item.at, item.held_back, note, random_event_id(), options_);
    net::HttpRequest request{
        .method = "POST",
        .url = sentry_.envelope_url,
        .headers = {{"Content-Type", "application/x-sentry-envelope"},
                    {"X-Sentry-Auth",
                     "Sentry sentry_version=7, sentry_client=recur/1.0, sentry_key=" + sentry_.public_key}},
        .body = sentry_envelope(event, options_.sentry_dsn, clock_.now()),
        .timeout = timeout};
    sentry_ok = post(sentry, std::move(request), "sentry", sentry_.host, alert.kind);
  }
  std::lock_guard lock(mu_);
  if (!options_.webhook_url.empty()) ++(webhook_ok ? stats_.webhook.sent : stats_.webhook.failed);
  if (!sentry_.envelope_url.empty()) ++(sentry_ok ? stats_.sentry.sent : stats_.sentry.failed);
}

}  // namespace recur::alerts
