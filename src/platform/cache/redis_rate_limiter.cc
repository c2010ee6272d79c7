// Shared rate-limit buckets in Redis; see redis_rate_limiter.h.
#include "platform/cache/redis_rate_limiter.h"
#include "platform/cache/hiredis_reply.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <optional>

#include "platform/cache/sigpipe_guard.h"

namespace recur::cache {
namespace {

using namespace std::chrono_literals;

constexpr auto kTimeout = 100ms;
constexpr auto kRetryAfterFailure = 1s;
constexpr std::size_t kMaxIdle = 64;

// http::take (platform/http/token_bucket.cc) in Lua, on Redis's clock: every node shares one
// bucket and one clock. A hash {t = millionths of a token, u = ms}; it expires once full again.
// Lua numbers are doubles: exact below 2^53, and nothing here exceeds 6e15.
constexpr const char* kScript = R"(local per_minute = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local capacity = per_minute * 1000000
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = capacity
  updated = now
end
local elapsed = math.min(math.max(now - updated, 0), 60000)
tokens = math.min(capacity, tokens + math.floor(elapsed * per_minute * 50 / 3))
if now > updated then updated = now end
local allowed = 0
local retry = 0
if tokens >= 1000000 then
  tokens = tokens - 1000000
  allowed = 1
else
  local rate = per_minute * 50
  local wait_ms = math.floor(((1000000 - tokens) * 3 + rate - 1) / rate)
  retry = math.max(1, math.floor((wait_ms + 999) / 1000))
end
redis.call('HSET', KEYS[1], 't', string.format('%.0f', tokens), 'u', string.format('%.0f', updated))
redis.call('PEXPIRE', KEYS[1], 60000)
return {allowed, retry, math.floor(tokens / 1000000)}
)";

std::string sha1_hex(std::string_view text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string hex;
  char byte[3];
  for (unsigned char d : digest) {
    std::snprintf(byte, sizeof byte, "%02x", d);
    hex += byte;
  }
  return hex;
}

Reply command(redisContext* c, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (auto a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  SigpipeGuard guard;
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data())));
}

bool is_error(const redisReply& r, std::string_view prefix) {
  return r.type == REDIS_REPLY_ERROR && std::string_view(r.str, r.len).substr(0, prefix.size()) == prefix;
}

}  // namespace

void RedisRateLimiter::ContextFree::operator()(redisContext* c) const { redisFree(c); }

Result<std::unique_ptr<RedisRateLimiter>> RedisRateLimiter::open(const std::string& url, std::string prefix) {
  RECUR_ASSIGN(auto address, parse_redis_url(url));
  return std::make_unique<RedisRateLimiter>(std::move(address), std::move(prefix));
}

RedisRateLimiter::RedisRateLimiter(RedisAddress address, std::string prefix)
    : address_(std::move(address)), prefix_(std::move(prefix)), script_sha_(sha1_hex(kScript)) {}

RedisRateLimiter::~RedisRateLimiter() = default;

RedisRateLimiter::Context RedisRateLimiter::connect(std::string& error) const {
  Context c(redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(kTimeout)));
  if (!c || c->err) {
    error = c ? c->errstr : "cannot allocate a connection";
    return nullptr;
  }
  redisSetTimeout(c.get(), to_timeval(kTimeout));
  if (address_.db != 0) {
    Reply selected = command(c.get(), {"SELECT", std::to_string(address_.db)});
    if (!selected || selected->type == REDIS_REPLY_ERROR) {
      error = selected ? std::string(selected->str, selected->len) : c->errstr;
      return nullptr;
    }
  }
  return c;
}

// EVALSHA, and EVAL the first time a Redis has not seen the script (it keeps it afterwards).
std::optional<http::Admission> RedisRateLimiter::ask(redisContext* c, const std::string& key, http::RateLimit limit,
                                                     std::string& error) const {
  const std::string full_key = prefix_ + key;
  const std::string per_minute = std::to_string(limit.per_minute);
  Reply reply = command(c, {"EVALSHA", script_sha_, "1", full_key, per_minute});
  if (reply && is_error(*reply, "NOSCRIPT")) reply = command(c, {"EVAL", kScript, "1", full_key, per_minute});
  if (!reply) {
    error = c->errstr;
    return std::nullopt;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
    error = reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "unexpected reply to the script";
    return std::nullopt;
  }
  for (std::size_t i = 0; i < 3; ++i)
    if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
      error = "unexpected reply to the script";
      return std::nullopt;
    }
  return http::Admission{reply->element[0]->integer == 1, reply->element[1]->integer, reply->element[2]->integer};
}

http::Admission RedisRateLimiter::admit(const std::string& key, http::RateLimit limit) {
  Context c;
  {
    std::lock_guard lock(mu_);
    if (down_ && std::chrono::steady_clock::now() < retry_at_) return fallback_.admit(key, limit);
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  std::string error;
  // A kept connection may have been closed by a Redis restart: it fails once, then a fresh
  // one is tried. A fresh one failing means Redis is down.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool kept = c != nullptr;
    if (!kept) c = connect(error);
    if (c) {
      if (auto admission = ask(c.get(), key, limit, error)) {
        std::lock_guard lock(mu_);
        if (down_) spdlog::info("rate limits: redis://{}:{} answers again; limits are shared", address_.host, address_.port);
        down_ = false;
        if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
        return *admission;
      }
      c.reset();
    }
    if (!kept) break;
  }
  note_down(error);
  return fallback_.admit(key, limit);
}

void RedisRateLimiter::note_down(const std::string& error) {
  std::lock_guard lock(mu_);
  retry_at_ = std::chrono::steady_clock::now() + kRetryAfterFailure;
  if (!down_)
    spdlog::warn("rate limits: redis://{}:{} does not answer ({}); each node limits on its own until it does",
                 address_.host, address_.port, error);
  down_ = true;
}

bool RedisRateLimiter::failing_open() const {
  std::lock_guard lock(mu_);
  return down_;
}

}  // namespace recur::cache
