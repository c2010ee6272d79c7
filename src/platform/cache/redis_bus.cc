// Redis pub/sub for cache invalidation, over hiredis's blocking API.
#include "platform/cache/redis_bus.h"
#include "platform/cache/hiredis_reply.h"
#include "platform/cache/sigpipe_guard.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace recur::cache {
namespace {

using namespace std::chrono_literals;

constexpr auto kConnectTimeout = 200ms;
constexpr auto kCommandTimeout = 200ms;
constexpr auto kPollInterval = 200ms;  // how often the subscriber looks at the stop flag
constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 2000ms;

// One command; false (with `error`) when it failed, after which the connection is unusable.
bool run(redisContext* c, std::initializer_list<std::string_view> args, std::string& error) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (auto a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  SigpipeGuard guard;
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (!reply) {
    error = c->errstr;
    return false;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    error.assign(reply->str, reply->len);
    return false;
  }
  return true;
}

// The payload of a pub/sub "message" reply (nothing for subscribe confirmations).
std::optional<std::string> message_payload(const redisReply& r) {
  if (r.type != REDIS_REPLY_ARRAY || r.elements != 3) return std::nullopt;
  const redisReply& kind = *r.element[0];
  const redisReply& payload = *r.element[2];
  if (kind.type != REDIS_REPLY_STRING || std::string_view(kind.str, kind.len) != "message") return std::nullopt;
  if (payload.type != REDIS_REPLY_STRING) return std::nullopt;
  return std::string(payload.str, payload.len);
}

bool parse_int(std::string_view text, int& out, int min, int max) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && out >= min && out <= max;
}

}  // namespace

Result<RedisAddress> parse_redis_url(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return Error::invalid("invalid_redis_url", "'" + url + "' is not redis://host[:port][/db]: " + why);
  };
  constexpr std::string_view kScheme = "redis://";
  std::string_view rest(url);
  if (!rest.starts_with(kScheme)) return bad("the scheme must be redis://");
  rest.remove_prefix(kScheme.size());
  RedisAddress a;
  auto slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto db = rest.substr(slash + 1);
    if (!db.empty() && !parse_int(db, a.db, 0, INT_MAX)) return bad("the database must be a number");
  }
  if (host.find('@') != std::string_view::npos) return bad("credentials are not supported");
  auto colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
    if (!parse_int(host.substr(colon + 1), a.port, 1, 65535)) return bad("the port must be 1-65535");
    host = host.substr(0, colon);
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return bad("no host");
  a.host = std::string(host);
  return a;
}

void RedisInvalidationBus::ContextFree::operator()(redisContext* c) const { redisFree(c); }

Result<std::unique_ptr<RedisInvalidationBus>> RedisInvalidationBus::open(const std::string& url, std::string channel) {
  RECUR_ASSIGN(auto address, parse_redis_url(url));
  return std::make_unique<RedisInvalidationBus>(std::move(address), std::move(channel));
}

RedisInvalidationBus::RedisInvalidationBus(RedisAddress address, std::string channel)
    : address_(std::move(address)), channel_(std::move(channel)) {}

RedisInvalidationBus::~RedisInvalidationBus() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (subscriber_.joinable()) subscriber_.join();
}

RedisInvalidationBus::Context RedisInvalidationBus::connect(std::string& error) const {
  Context c(redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(kConnectTimeout)));
  if (!c) {
    error = "cannot allocate a connection";
    return nullptr;
  }
  if (c->err) {
    error = c->errstr;
    return nullptr;
  }
  redisSetTimeout(c.get(), to_timeval(kCommandTimeout));
  redisEnableKeepAlive(c.get());  // a vanished peer is noticed even on a quiet channel
  return c;
}

std::string RedisInvalidationBus::where() const {
  return "redis://" + address_.host + ":" + std::to_string(address_.port) + " channel " + channel_;
}

void RedisInvalidationBus::publish(const std::string& key) {
  std::lock_guard lock(publish_mu_);
  // While Redis is unreachable a write does not wait on it more than once a retry interval
  // (a blackholed Redis would hold every write for the connect timeout, one at a time).
  auto now = std::chrono::steady_clock::now();
  if (publisher_down_ && now < retry_at_) return;
  std::string error;
  // A kept connection may have been closed by a Redis restart: it fails once, then a fresh
  // one is tried. A fresh one failing means Redis is down: give up at once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool kept = publisher_ != nullptr;
    if (!kept) publisher_ = connect(error);
    // Back after an outage: every node first drops everything, since what this node published
    // meanwhile was lost (their own subscriptions may never have broken).
    bool sent =
        publisher_ &&
        (!publisher_down_ || run(publisher_.get(), {"PUBLISH", channel_, std::string(kResyncMessage)}, error)) &&
        run(publisher_.get(), {"PUBLISH", channel_, key}, error);
    if (sent) {
      if (publisher_down_) spdlog::info("cache bus: publishing to {} again; every node resyncs", where());
      publisher_down_ = false;
      return;
    }
    publisher_.reset();
    if (!kept) break;
  }
  if (!publisher_down_)
    spdlog::warn("cache bus: cannot publish to {} ({}); every node resyncs when it is back", where(), error);
  publisher_down_ = true;
  retry_at_ = std::chrono::steady_clock::now() + kPublishRetry;
}

void RedisInvalidationBus::subscribe(std::function<void(const std::string&)> on_key, std::function<void()> on_resync) {
  if (subscriber_.joinable()) throw std::logic_error("RedisInvalidationBus::subscribe called twice");
  on_key_ = std::move(on_key);
  on_resync_ = std::move(on_resync);
  subscriber_ = std::thread([this] { run_subscriber(); });
}

void RedisInvalidationBus::run_subscriber() {
  auto backoff = kFirstBackoff;
  bool warned = false;
  while (!stopping()) {
    std::string error;
    auto c = connect(error);
    if (c && run(c.get(), {"SUBSCRIBE", channel_}, error)) {
      // Subscribed before resyncing: a change after the resync's read is always heard.
      on_resync_();
      subscribed_ = true;
      if (warned) spdlog::info("cache bus: subscribed to {} again; cache cleared", where());
      warned = false;
      backoff = kFirstBackoff;
      error = receive(c.get());
      subscribed_ = false;
    }
    if (stopping()) break;
    if (!warned) spdlog::warn("cache bus: not subscribed to {} ({}); retrying", where(), error);
    warned = true;
    pause(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

std::string RedisInvalidationBus::receive(redisContext* c) {
  while (!stopping()) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(c, &raw) != REDIS_OK) return c->errstr;
    if (raw) {
      Reply reply(static_cast<redisReply*>(raw));
      if (auto key = message_payload(*reply)) {
        if (*key == kResyncMessage)
          on_resync_();  // a node could not publish for a while: what it wrote then was not heard
        else
          on_key_(*key);
      }
      continue;
    }
    // Nothing buffered: wait a little for the socket, so the stop flag is seen promptly.
    pollfd p{c->fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(kPollInterval.count()));
    if (ready < 0 && errno != EINTR) return std::strerror(errno);
    if (ready > 0 && redisBufferRead(c) != REDIS_OK) return c->errstr;
  }
  return "stopped";
}

bool RedisInvalidationBus::stopping() {
  std::lock_guard lock(stop_mu_);
  return stop_;
}

void RedisInvalidationBus::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(stop_mu_);
  stop_cv_.wait_for(lock, delay, [this] { return stop_; });
}

}  // namespace recur::cache
