// Answers on the I/O thread (ServerOptions::answer_inline, Router::allow_inline): what may
// block throws WouldBlock there, before doing anything, and the request runs again on the pool.
#include <utility>  // Boost 1.74's awaitable.hpp needs it first

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "platform/blocking.h"
#include "platform/db/pool.h"
#include "platform/http/pipeline.h"
#include "platform/http/server.h"
#include "testing/http_client.h"

namespace recur::http {
namespace {

using testing::HttpClient;

TEST(NonBlocking, PoolAcquireThrowsWouldBlockOnlyInsideTheScope) {
  struct Conn {};
  int made = 0;
  db::Pool<Conn> pool(1, [&]() -> Result<std::unique_ptr<Conn>> {
    ++made;
    return std::make_unique<Conn>();
  });
  {
    NonBlockingScope scope;
    EXPECT_THROW((void)pool.acquire(), WouldBlock);
  }
  EXPECT_EQ(made, 0);  // nothing happened before the throw
  EXPECT_TRUE(pool.acquire().ok());
  EXPECT_EQ(made, 1);
}

// Keys "cached" are known without blocking; any other key needs the database.
class FakeKeys final : public Authenticator {
 public:
  Result<std::optional<Principal>> authenticate(std::string_view token) override {
    if (token == "cached") return std::optional<Principal>(Principal{"key_1", "admin"});
    may_block();
    ++database_lookups;
    if (token == "stored") return std::optional<Principal>(Principal{"key_2", "support"});
    return std::optional<Principal>();
  }
  bool allowed(const Principal& who, std::string_view permission) const override {
    return who.role == "admin" || permission == "catalog:read";
  }
  int database_lookups = 0;
};

class NoIdempotency final : public IdempotencyStore {
 public:
  Result<Claim> claim(const std::string&, const std::string&) override { return Claim{}; }
  Result<Response> run_once(const std::string&, const std::string&, const std::function<Response()>& handler) override {
    return handler();
  }
  Status complete(const std::string&, const std::string&, const Response&) override { return Ok{}; }
  Status release(const std::string&, const std::string&) override { return Ok{}; }
};

class InlinePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.add("GET", "/v1/fast/{id}", "catalog:read", [this](Request& req) {
      ++fast_calls;
      if (req.path_params["id"] == "miss") may_block();  // a cache miss reads the database
      Response r;
      r.body = "{\"id\":\"" + req.path_params["id"] + "\"}";
      return r;
    });
    router.add("GET", "/v1/slow", "catalog:read", [this](Request&) {
      ++slow_calls;
      return Response{};
    });
    ASSERT_TRUE(router.allow_inline("GET", "/v1/fast/{id}"));
    ASSERT_FALSE(router.allow_inline("GET", "/v1/nowhere"));
  }
  Request get(std::string path, std::string key) {
    Request req{"GET", std::move(path)};
    req.headers.emplace_back("authorization", "Bearer " + key);
    return req;
  }
  Router router;
  FakeKeys keys;
  NoIdempotency idempotency;
  Pipeline pipeline{router, keys, idempotency};
  int fast_calls = 0;
  int slow_calls = 0;
};

TEST_F(InlinePipelineTest, AnInlineRouteWithACachedKeyIsAnsweredInsideTheScope) {
  auto req = get("/v1/fast/p1", "cached");
  NonBlockingScope scope;
  Response r = pipeline.handle(req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"id\":\"p1\"}");
  EXPECT_EQ(fast_calls, 1);
}

TEST_F(InlinePipelineTest, AnExpansionGoesToThePoolWithItsQueryIntact) {
  ASSERT_TRUE(router.expands("GET", "/v1/fast/{id}", {"owner"}));
  pipeline.set_expander([](const std::string&, const std::string& field, const Json&) -> Result<Json> {
    may_block();  // reads the database
    return Json(field + " expanded");
  });
  auto req = get("/v1/fast/p1", "cached");
  req.query.emplace("expand[]", "owner");
  {
    NonBlockingScope scope;
    EXPECT_THROW(pipeline.handle(req), WouldBlock);
  }
  EXPECT_EQ(fast_calls, 0);  // thrown before the handler, expand[] still on the request
  Response r = pipeline.handle(req);
  EXPECT_EQ(Json::parse(r.body)["owner"], "owner expanded");
  // Without expand[] the same route is still answered inline.
  auto plain = get("/v1/fast/p2", "cached");
  NonBlockingScope scope;
  EXPECT_EQ(pipeline.handle(plain).status, 200);
}

TEST_F(InlinePipelineTest, OnlyRequestsThatFitAnInlineRouteAreCandidates) {
  EXPECT_TRUE(pipeline.may_run_inline(get("/v1/fast/p1", "cached")));
  Request head{"HEAD", "/v1/fast/p1"};
  EXPECT_TRUE(pipeline.may_run_inline(head));
  EXPECT_FALSE(pipeline.may_run_inline(get("/v1/slow", "cached")));
  EXPECT_FALSE(pipeline.may_run_inline(get("/v1/fast", "cached")));
  EXPECT_FALSE(pipeline.may_run_inline(get("/v1/fast/p1/more", "cached")));
  EXPECT_FALSE(pipeline.may_run_inline(Request{"POST", "/v1/fast/p1"}));
}

TEST_F(InlinePipelineTest, OtherRoutesThrowBeforeTheirHandlerRuns) {
  auto req = get("/v1/slow", "cached");
  {
    NonBlockingScope scope;
    EXPECT_THROW(pipeline.handle(req), WouldBlock);
  }
  EXPECT_EQ(slow_calls, 0);
  std::string id = req.request_id;
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(pipeline.handle(req).status, 200);  // on the pool: the same request, the same id
  EXPECT_EQ(req.request_id, id);
  EXPECT_EQ(slow_calls, 1);
}

TEST_F(InlinePipelineTest, AKeyOrAnAnswerThatNeedsTheDatabaseThrows) {
  auto uncached = get("/v1/fast/p1", "stored");
  {
    NonBlockingScope scope;
    EXPECT_THROW(pipeline.handle(uncached), WouldBlock);
  }
  EXPECT_EQ(fast_calls, 0);
  EXPECT_EQ(keys.database_lookups, 0);
  auto miss = get("/v1/fast/miss", "cached");
  {
    NonBlockingScope scope;
    EXPECT_THROW(pipeline.handle(miss), WouldBlock);
  }
  EXPECT_EQ(pipeline.handle(miss).status, 200);
}

TEST_F(InlinePipelineTest, RefusalsStayTheSameInsideTheScope) {
  NonBlockingScope scope;
  Request no_key{"GET", "/v1/fast/p1"};
  EXPECT_EQ(pipeline.handle(no_key).status, 401);
  Request nowhere{"GET", "/v1/nowhere"};
  EXPECT_EQ(pipeline.handle(nowhere).status, 404);
  EXPECT_EQ(fast_calls, 0);
}

std::optional<std::string> header(const Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return std::nullopt;
}

// A limiter that counts what it admits and may claim to block (as the Redis one does).
class CountingLimiter final : public RateLimiter {
 public:
  explicit CountingLimiter(bool blocking) : blocking_(blocking), local_([] { return std::int64_t{0}; }) {}
  Admission admit(const std::string& key, RateLimit limit) override {
    if (blocking_) may_block();
    keys.push_back(key);
    return local_.admit(key, limit);
  }
  bool blocks() const override { return blocking_; }
  std::vector<std::string> keys;

 private:
  bool blocking_;
  LocalRateLimiter local_;
};

TEST_F(InlinePipelineTest, ARequestHandedFromTheIoThreadToThePoolIsCountedOnce) {
  CountingLimiter limiter(false);
  pipeline.set_rate_limits(&limiter, {RateLimit{2}, RateLimit{0}});
  auto miss = get("/v1/fast/miss", "cached");
  {
    NonBlockingScope scope;
    EXPECT_THROW(pipeline.handle(miss), WouldBlock);  // admitted, then the handler needs the database
  }
  EXPECT_EQ(pipeline.handle(miss).status, 200);
  EXPECT_EQ(limiter.keys, std::vector<std::string>{"key:key_1"});
  auto second = get("/v1/fast/p1", "cached");
  EXPECT_EQ(pipeline.handle(second).status, 200);
  auto third = get("/v1/fast/p1", "cached");
  Response refused = pipeline.handle(third);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.content_type, "application/problem+json");
  EXPECT_NE(refused.body.find("\"code\":\"rate_limited\""), std::string::npos);
  EXPECT_EQ(header(refused, "Retry-After"), "30");
  EXPECT_EQ(fast_calls, 3);  // the first request's handler ran twice (the try on the I/O thread); the third never
}

TEST_F(InlinePipelineTest, ALimiterThatBlocksIsAskedOnThePoolOnly) {
  CountingLimiter limiter(true);
  pipeline.set_rate_limits(&limiter, {RateLimit{5}, RateLimit{0}});
  auto req = get("/v1/fast/p1", "cached");
  {
    NonBlockingScope scope;
    EXPECT_THROW(pipeline.handle(req), WouldBlock);
  }
  EXPECT_TRUE(limiter.keys.empty());
  EXPECT_EQ(fast_calls, 0);
  EXPECT_EQ(pipeline.handle(req).status, 200);
  EXPECT_EQ(limiter.keys.size(), 1u);
}

TEST_F(InlinePipelineTest, PublicRoutesAndBadKeysAreLimitedPerAddress) {
  router.add("GET", "/public", "", [](Request&) { return Response{}; });
  CountingLimiter limiter(false);
  pipeline.set_rate_limits(&limiter, {RateLimit{100}, RateLimit{2}});
  auto from = [](std::string address, Request req) {
    req.remote_address = std::move(address);
    return req;
  };
  auto a1 = from("10.0.0.1", Request{"GET", "/public"});
  EXPECT_EQ(pipeline.handle(a1).status, 200);
  auto a2 = from("10.0.0.1", get("/v1/fast/p1", "wrong"));  // a key that is not one
  EXPECT_EQ(pipeline.handle(a2).status, 401);
  auto a3 = from("10.0.0.1", Request{"GET", "/public"});
  EXPECT_EQ(pipeline.handle(a3).status, 429);
  auto b1 = from("10.0.0.2", Request{"GET", "/public"});
  EXPECT_EQ(pipeline.handle(b1).status, 200);
  auto keyed = from("10.0.0.1", get("/v1/fast/p1", "cached"));  // a valid key: its own bucket
  EXPECT_EQ(pipeline.handle(keyed).status, 200);
  EXPECT_EQ(limiter.keys, (std::vector<std::string>{"ip:10.0.0.1", "ip:10.0.0.1", "ip:10.0.0.1", "ip:10.0.0.2",
                                                    "key:key_1"}));
}

// The transport, with answer_inline: a server whose dispatcher answers /fast on the I/O thread
// and throws WouldBlock there for anything else; counts where each request ran.
struct InlineRuns {
  int inline_tries = 0, pool_runs = 0, posts = 0;
};
InlineRuns serve_three_requests(ServerOptions options) {
  std::atomic<int> inline_tries{0}, pool_runs{0}, posts{0};
  options.port = 0;
  options.access_log = false;
  options.answer_inline = true;
  Server server(options, [&](Request& req) {
    if (req.method == "POST") {
      EXPECT_FALSE(blocking_forbidden());
      ++posts;
      return Response{201};
    }
    if (blocking_forbidden()) {
      ++inline_tries;
      if (req.path == "/fast") return Response{200, "application/json", "{\"inline\":true}"};
      may_block();
    }
    ++pool_runs;
    return Response{200, "application/json", "{\"inline\":false}"};
  });
  std::string error;
  EXPECT_TRUE(server.listen(&error)) << error;
  std::thread runner([&] { server.run(false); });
  {
    HttpClient client(server.port());
    EXPECT_EQ(client.call("GET", "/fast").body, "{\"inline\":true}");
    EXPECT_EQ(client.call("GET", "/slow").body, "{\"inline\":false}");
    EXPECT_EQ(client.call("POST", "/slow", "{}").status, 201);
  }
  server.stop();
  runner.join();
  return {inline_tries, pool_runs, posts};
}

// A GET is tried on the I/O thread first and goes to the pool on WouldBlock; other methods go
// straight to the pool.
TEST(InlineServer, WouldBlockHandsTheRequestToThePool) {
  InlineRuns runs = serve_three_requests({});
  EXPECT_EQ(runs.inline_tries, 2);
  EXPECT_EQ(runs.pool_runs, 1);
  EXPECT_EQ(runs.posts, 1);
}

// With inline_candidate, a GET it refuses goes straight to the pool: never tried inline.
TEST(InlineServer, ARequestTheCandidateCheckRefusesIsNeverTriedInline) {
  ServerOptions options;
  options.inline_candidate = [](const Request& req) { return req.path == "/fast"; };
  InlineRuns runs = serve_three_requests(options);
  EXPECT_EQ(runs.inline_tries, 1);
  EXPECT_EQ(runs.pool_runs, 1);
  EXPECT_EQ(runs.posts, 1);
}

}  // namespace
}  // namespace recur::http
