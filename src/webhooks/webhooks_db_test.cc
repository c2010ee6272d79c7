// Webhooks against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE): the outbox
// commits with the event, fan-out makes one delivery per endpoint that wants it, a failing
// receiver is retried on the schedule as the clock moves, a rotated secret signs beside the
// new one. The receiver is a fake transport that records requests and answers per a plan.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "events/store.h"
#include "testing/fixtures.h"
#include "webhooks/dispatcher.h"
#include "webhooks/service.h"

namespace recur::webhooks {
namespace {

using testing::at;
using testing::TestApp;

// Answers each request with the next planned status (200 once the plan runs out); 0 plays a
// transport failure (timeout).
struct FakeReceiver {
  std::mutex mu;  // attempts are sent on several threads
  std::deque<int> plan;
  std::vector<net::HttpRequest> received;
  Result<net::HttpResponse> operator()(const net::HttpRequest& request) {
    std::lock_guard lock(mu);
    received.push_back(request);
    int status = 200;
    if (!plan.empty()) {
      status = plan.front();
      plan.pop_front();
    }
    if (status == 0) return Error::unavailable("timeout", "no answer in 15 s");
    return net::HttpResponse{status, {}, "ok"};
  }
  static std::string header(const net::HttpRequest& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }
};

class WebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-01T12:00:00Z"));
    recorder = std::make_unique<events::Recorder>(t.app->ids(), *t.clock);
    int n = 0;
    WebhookOptions options;
    options.ops_email = "ops@example.com";
    service = std::make_unique<WebhookService>(
        t.app->database(), *t.clock, t.app->ids(), options,
        [this](const net::HttpRequest& r) { return receiver(r); },
        [n](std::size_t size) mutable { return std::string(size, static_cast<char>('a' + n++)); },
        [this](const std::string& host) -> Result<std::vector<std::string>> {
          std::lock_guard lock(receiver.mu);
          resolved.push_back(host);
          if (host == "intranet.example") return std::vector<std::string>{"10.0.0.7"};
          if (std::isdigit(static_cast<unsigned char>(host[0]))) return std::vector<std::string>{host};  // a literal
          return std::vector<std::string>{"93.184.216.34"};
        });
    service->set_ops_outbox(t.app->notifications());
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) {
    auto rows = db::transact(t.app->database(), [&](db::Tx& tx) { return tx.query(sql, params); },
                             db::TxMode::kReadOnly);
    EXPECT_TRUE(rows.ok()) << (rows.ok() ? "" : rows.error().message);
    return rows.ok() ? (*rows)[0].int64(0) : -1;
  }
  void record(const std::string& type, const std::string& resource_id) {
    auto done = db::transact(t.app->database(), [&](db::Tx& tx) {
      return recorder->record(tx, type, resource_id, t.actor, nullptr, Json{{"id", resource_id}});
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }
  Endpoint endpoint(std::vector<std::string> events, std::string url = "https://example.com/hooks") {
    auto e = service->create(EndpointInput{std::move(url), std::move(events), std::nullopt, Json::object()});
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    return e.ok() ? *e : Endpoint{};
  }
  std::int64_t outbox_size() {
    auto rows = db::transact(t.app->database(), [](db::Tx& tx) { return tx.query("SELECT COUNT(*) FROM event_outbox"); },
                             db::TxMode::kReadOnly);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? (*rows)[0].int64(0) : -1;
  }
  std::vector<Delivery> deliveries_of(const std::string& endpoint_id) {
    auto page = service->deliveries(DeliveryFilter{endpoint_id, {}, ListParams{}});
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    return page.ok() ? page->items : std::vector<Delivery>{};
  }
  DeliveryReport run() {
    auto report = service->run();
    EXPECT_TRUE(report.ok()) << (report.ok() ? "" : report.error().message);
    return report.ok() ? *report : DeliveryReport{};
  }
  TestApp t;
  std::unique_ptr<events::Recorder> recorder;
  FakeReceiver receiver;
  std::vector<std::string> resolved;
  std::unique_ptr<WebhookService> service;
};

TEST_F(WebhooksTest, AnEventOfATransactionThatRollsBackNeverReachesTheOutbox) {
  auto failed = db::transact(t.app->database(), [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(recorder->record(tx, "customer.created", "cus_1", t.actor, nullptr, nullptr));
    return Error::conflict("version_conflict", "a later step failed");
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(outbox_size(), 0);
  record("customer.created", "cus_1");
  EXPECT_EQ(outbox_size(), 1);
}

TEST_F(WebhooksTest, FanOutMakesOneDeliveryPerEnabledEndpointThatWantsTheEvent) {
  Endpoint all = endpoint({"*"});
  Endpoint invoices = endpoint({"invoice.*"});
  Endpoint customers = endpoint({"customer.created"});
  Endpoint off = endpoint({"*"});
  auto disabled = service->update(off.id, EndpointPatch{std::nullopt, std::nullopt, "disabled", std::nullopt,
                                                        std::nullopt}, off.version);
  ASSERT_TRUE(disabled.ok()) << disabled.error().message;
  record("customer.created", "cus_1");
  record("invoice.paid", "in_1");

  auto fanned = service->fan_out();
  ASSERT_TRUE(fanned.ok()) << fanned.error().message;
  EXPECT_EQ(fanned->fanned_out, 2);
  EXPECT_EQ(fanned->created, 4);
  EXPECT_EQ(outbox_size(), 0);
  EXPECT_EQ(deliveries_of(all.id).size(), 2u);
  ASSERT_EQ(deliveries_of(invoices.id).size(), 1u);
  EXPECT_EQ(deliveries_of(invoices.id)[0].event_type, "invoice.paid");
  EXPECT_EQ(deliveries_of(customers.id).size(), 1u);
  EXPECT_TRUE(deliveries_of(off.id).empty());
  // Nothing more to fan out: a second run makes nothing twice.
  auto again = service->fan_out();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->created, 0);
}

TEST_F(WebhooksTest, ADeliveryIsSignedWithTheEventIdAndTheAttemptsTimestamp) {
  Endpoint e = endpoint({"*"});
  record("customer.created", "cus_1");
  auto report = run();
  EXPECT_EQ(report.succeeded, 1);
  ASSERT_EQ(receiver.received.size(), 1u);
  const auto& r = receiver.received[0];
  auto delivery = deliveries_of(e.id).at(0);
  EXPECT_EQ(r.url, "https://example.com/hooks");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(FakeReceiver::header(r, "content-type"), "application/json");
  EXPECT_EQ(FakeReceiver::header(r, "webhook-id"), delivery.event_id);
  EXPECT_EQ(FakeReceiver::header(r, "webhook-timestamp"), std::to_string(at("2026-03-01T12:00:00Z")));
  EXPECT_EQ(FakeReceiver::header(r, "webhook-signature"),
            sign(e.secret, delivery.event_id, at("2026-03-01T12:00:00Z"), r.body));
  Json body = Json::parse(r.body);
  EXPECT_EQ(body.at("id"), delivery.event_id);
  EXPECT_EQ(body.at("type"), "customer.created");
  EXPECT_EQ(r.timeout, std::chrono::seconds(15));
  EXPECT_EQ(delivery.status, "succeeded");
  EXPECT_EQ(delivery.attempts, 1);
  EXPECT_EQ(delivery.last_status_code, 200);
}

TEST_F(WebhooksTest, AFailingReceiverIsRetriedOnTheScheduleAsTheClockMovesThenFailed) {
  Endpoint e = endpoint({"customer.*"});
  receiver.plan = {500, 302, 0, 500, 500, 500, 500, 500};
  record("customer.created", "cus_1");
  Timestamp start = t.clock->now();
  run();
  ASSERT_EQ(receiver.received.size(), 1u);
  const Timestamp delays[] = {5, 300, 1800, 7200, 18000, 36000, 36000};
  Timestamp failed_at = start;
  for (std::size_t i = 0; i < std::size(delays); ++i) {
    SCOPED_TRACE(i);
    auto d = deliveries_of(e.id).at(0);
    EXPECT_EQ(d.status, "pending");
    EXPECT_EQ(d.next_attempt_at, failed_at + delays[i]);
    t.clock->set(failed_at + delays[i] - 1);
    run();
    EXPECT_EQ(receiver.received.size(), i + 1);  // not yet due
    t.clock->set(failed_at + delays[i]);
    run();
    EXPECT_EQ(receiver.received.size(), i + 2);
    failed_at += delays[i];
  }
  auto d = deliveries_of(e.id).at(0);
  EXPECT_EQ(d.status, "failed");
  EXPECT_EQ(d.attempts, 8);
  EXPECT_EQ(d.next_attempt_at, std::nullopt);
  ASSERT_EQ(d.history.size(), 8u);
  EXPECT_EQ(d.history[1].status_code, 302);
  EXPECT_EQ(d.history[2].status_code, std::nullopt);
  EXPECT_NE(d.history[2].error->find("timeout"), std::string::npos);
  // The same webhook-id on every attempt.
  for (const auto& r : receiver.received) EXPECT_EQ(FakeReceiver::header(r, "webhook-id"), d.event_id);
  t.clock->advance(100 * 3600);
  run();
  EXPECT_EQ(receiver.received.size(), 8u);
}

TEST_F(WebhooksTest, ARotatedSecretSignsBesideTheNewOneFor24Hours) {
  Endpoint e = endpoint({"*"});
  auto rotated = service->rotate_secret(e.id);
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  EXPECT_NE(rotated->secret, e.secret);
  EXPECT_EQ(rotated->previous_secret, e.secret);
  record("customer.created", "cus_1");
  run();
  ASSERT_EQ(receiver.received.size(), 1u);
  const auto& r = receiver.received[0];
  std::string id = FakeReceiver::header(r, "webhook-id");
  Timestamp ts = std::stoll(FakeReceiver::header(r, "webhook-timestamp"));
  EXPECT_EQ(FakeReceiver::header(r, "webhook-signature"),
            sign(rotated->secret, id, ts, r.body) + " " + sign(e.secret, id, ts, r.body));

  t.clock->advance(kPreviousSecretSeconds);
  record("customer.updated", "cus_1");
  run();
  ASSERT_EQ(receiver.received.size(), 2u);
  const auto& later = receiver.received[1];
  EXPECT_EQ(FakeReceiver::header(later, "webhook-signature"),
            sign(rotated->secret, FakeReceiver::header(later, "webhook-id"),
                 std::stoll(FakeReceiver::header(later, "webhook-timestamp")), later.body));
}

TEST_F(WebhooksTest, EndpointsUpdateWithTheirVersionAndDeleteWithTheirDeliveries) {
  Endpoint e = endpoint({"*"});
  EXPECT_EQ(e.id.rfind("we_", 0), 0u);
  EXPECT_EQ(e.secret.rfind("whsec_", 0), 0u);
  auto stale = service->update(e.id, EndpointPatch{"https://example.com/v2"}, e.version + 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, "version_conflict");
  auto moved = service->update(e.id, EndpointPatch{"https://example.com/v2"}, e.version);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->url, "https://example.com/v2");
  EXPECT_EQ(moved->version, e.version + 1);
  record("customer.created", "cus_1");
  run();
  ASSERT_TRUE(service->remove(e.id).ok());
  EXPECT_EQ(service->get(e.id).error().code, "webhook_endpoint_not_found");
  EXPECT_EQ(service->remove(e.id).error().code, "webhook_endpoint_not_found");
}

TEST_F(WebhooksTest, AResendAndAReplaySendTheEventsAgainWithTheirOriginalIds) {
  Endpoint e = endpoint({"customer.*"});
  receiver.plan = {500};  // the first event's delivery fails once, then is retried later
  record("customer.created", "cus_1");
  run();
  t.clock->advance(60);
  record("customer.updated", "cus_1");
  record("invoice.paid", "in_1");  // not wanted by the endpoint
  run();
  ASSERT_EQ(receiver.received.size(), 3u);  // cus_1 failed, its retry, customer.updated
  std::string first = FakeReceiver::header(receiver.received[0], "webhook-id");

  auto resent = service->resend(first, e.id);
  ASSERT_TRUE(resent.ok()) << resent.error().message;
  EXPECT_EQ(resent->origin, "resend");
  EXPECT_EQ(service->resend("evt_nope", e.id).error().code, "event_not_found");
  EXPECT_EQ(service->resend(first, "we_nope").error().code, "webhook_endpoint_not_found");
  run();
  ASSERT_EQ(receiver.received.size(), 4u);
  EXPECT_EQ(FakeReceiver::header(receiver.received[3], "webhook-id"), first);

  // The whole window: both customer events again, not the invoice.
  auto replayed = service->replay(e.id, ReplayRequest{at("2026-03-01T00:00:00Z"), std::nullopt, std::nullopt});
  ASSERT_TRUE(replayed.ok()) << replayed.error().message;
  EXPECT_EQ(replayed->deliveries, 2);
  run();
  ASSERT_EQ(receiver.received.size(), 6u);
  // The two are sent side by side (options.senders), so they may arrive in either order.
  std::set<std::string> replayed_ids{FakeReceiver::header(receiver.received[4], "webhook-id"),
                                     FakeReceiver::header(receiver.received[5], "webhook-id")};
  std::set<std::string> both;  // the two customer events, as first delivered (retry beside update)
  for (std::size_t i = 0; i < 3; ++i) both.insert(FakeReceiver::header(receiver.received[i], "webhook-id"));
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(replayed_ids, both);
  // Only events whose delivery is still pending/failed: none failed for good here.
  auto failed_only = service->replay(e.id, ReplayRequest{at("2026-03-01T00:00:00Z"), std::nullopt, "failed"});
  ASSERT_TRUE(failed_only.ok());
  EXPECT_EQ(failed_only->deliveries, 0);
  // A window that ends before the second event.
  auto early = service->replay(e.id, ReplayRequest{at("2026-03-01T00:00:00Z"), at("2026-03-01T12:00:30Z"),
                                                   "succeeded"});
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->deliveries, 1);
  EXPECT_EQ(deliveries_of(e.id).size(), 6u);
}

TEST_F(WebhooksTest, TheSsrfGuardRefusesPrivateDestinationsOnCreateUpdateAndEveryAttempt) {
  auto refused = service->create(EndpointInput{"https://intranet.example/h", {"*"}, std::nullopt, Json::object()});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "validation_failed");
  ASSERT_EQ(refused.error().fields.size(), 1u);
  EXPECT_EQ(refused.error().fields[0].code, "private_address");
  auto literal = service->create(EndpointInput{"http://127.0.0.1:9/h", {"*"}, std::nullopt, Json::object()});
  ASSERT_FALSE(literal.ok());
  EXPECT_EQ(literal.error().fields.at(0).code, "private_address");

  Endpoint e = endpoint({"*"}, "https://public.example/h");
  auto moved = service->update(e.id, EndpointPatch{"https://intranet.example/h"}, e.version);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().fields.at(0).code, "private_address");
  record("customer.created", "cus_1");
  run();
  EXPECT_EQ(receiver.received.size(), 1u);
  EXPECT_NE(std::find(resolved.begin(), resolved.end(), "public.example"), resolved.end());
}

TEST(WebhooksSsrf, AllowingPrivateUrlsSkipsTheResolver) {
  TestApp t = testing::make_app(at("2026-03-01T12:00:00Z"));
  int resolved = 0;
  WebhookOptions options;
  options.allow_private_urls = true;
  WebhookService service(t.app->database(), *t.clock, t.app->ids(), options,
                         [](const net::HttpRequest&) -> Result<net::HttpResponse> { return net::HttpResponse{200, {}, ""}; },
                         {}, [&resolved](const std::string&) -> Result<std::vector<std::string>> {
                           ++resolved;
                           return std::vector<std::string>{"127.0.0.1"};
                         });
  EXPECT_TRUE(service.create(EndpointInput{"http://127.0.0.1:8080/h", {"*"}, std::nullopt, Json::object()}).ok());
  EXPECT_EQ(resolved, 0);
}

TEST_F(WebhooksTest, AClaimTakesAtMostPerEndpointDeliveriesOfEachEndpointLongestDueFirst) {
  Endpoint a = endpoint({"*"}, "https://a.example/h");
  Endpoint b = endpoint({"*"}, "https://b.example/h");
  for (int i = 0; i < 10; ++i) record("customer.created", "cus_" + std::to_string(i));
  ASSERT_TRUE(service->fan_out().ok());
  auto claims = service->claim_due(t.clock->now(), 100, 4);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  std::map<std::string, int> per_endpoint;
  for (const auto& c : *claims) ++per_endpoint[c.delivery.endpoint_id];
  EXPECT_EQ(per_endpoint, (std::map<std::string, int>{{a.id, 4}, {b.id, 4}}));
  for (const auto& c : *claims) {
    EXPECT_EQ(c.delivery.attempts, 1);
    EXPECT_FALSE(c.body.empty());
    EXPECT_EQ(Json::parse(c.body)["id"], c.delivery.event_id);
  }
  // What this process already has in flight counts against the cap: a has 3 running, so one
  // more of it; b's claimed ones are leased, so four others of b.
  auto more = service->claim_due(t.clock->now(), 100, 4, {{a.id, 3}});
  ASSERT_TRUE(more.ok()) << more.error().message;
  per_endpoint.clear();
  for (const auto& c : *more) ++per_endpoint[c.delivery.endpoint_id];
  EXPECT_EQ(per_endpoint, (std::map<std::string, int>{{a.id, 1}, {b.id, 4}}));
}

// A receiver that holds every request to one host until released.
struct SlowReceiver {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::map<std::string, int> running, most, answered;
  Result<net::HttpResponse> operator()(const net::HttpRequest& r) {
    std::unique_lock lock(mu);
    std::string host = url_host(r.url);
    most[host] = std::max(most[host], ++running[host]);
    cv.notify_all();  // the test waits for the slow lane to fill
    if (host == "slow.example") cv.wait(lock, [this] { return released; });
    --running[host];
    ++answered[host];
    cv.notify_all();
    return net::HttpResponse{200, {}, "ok"};
  }
};

TEST(WebhookDispatcher, ASlowEndpointHoldsOnlyItsOwnLaneWhileTheOthersAreDelivered) {
  TestApp t = testing::make_app(at("2026-03-01T12:00:00Z"));
  auto receiver = std::make_shared<SlowReceiver>();
  WebhookOptions options;
  options.senders = 6;
  options.per_endpoint = 2;
  WebhookService service(t.app->database(), *t.clock, t.app->ids(), options,
                         [receiver](const net::HttpRequest& r) { return (*receiver)(r); }, {},
                         [](const std::string&) -> Result<std::vector<std::string>> {
                           return std::vector<std::string>{"93.184.216.34"};
                         });
  auto slow = service.create(EndpointInput{"https://slow.example/h", {"*"}, std::nullopt, Json::object()});
  auto fast = service.create(EndpointInput{"https://fast.example/h", {"*"}, std::nullopt, Json::object()});
  ASSERT_TRUE(slow.ok() && fast.ok());
  events::Recorder recorder(t.app->ids(), *t.clock);
  constexpr int kEvents = 12;
  for (int i = 0; i < kEvents; ++i)
    ASSERT_TRUE(db::transact(t.app->database(), [&](db::Tx& tx) {
      return recorder.record(tx, "customer.created", "cus_" + std::to_string(i), t.actor, nullptr, Json::object());
    }).ok());
  {
    Dispatcher dispatcher(service, std::chrono::milliseconds(20));
    {
      std::unique_lock lock(receiver->mu);
      // Every fast delivery is answered while the slow receiver holds its lane's two senders
      // (the second may reach it after the fast ones are done: wait for both).
      bool all_fast = receiver->cv.wait_for(lock, std::chrono::seconds(20), [&] {
        return receiver->answered["fast.example"] == kEvents && receiver->running["slow.example"] == 2;
      });
      EXPECT_TRUE(all_fast) << "fast answered " << receiver->answered["fast.example"] << ", slow running "
                            << receiver->running["slow.example"];
      // ... and no more than two; nothing of it is answered yet.
      EXPECT_EQ(receiver->most["slow.example"], 2);
      EXPECT_EQ(receiver->answered["slow.example"], 0);
      EXPECT_LE(receiver->most["fast.example"], 2);
      receiver->released = true;
    }
    receiver->cv.notify_all();
    std::unique_lock lock(receiver->mu);
    EXPECT_TRUE(receiver->cv.wait_for(lock, std::chrono::seconds(20),
                                      [&] { return receiver->answered["slow.example"] == kEvents; }));
  }  // the dispatcher stops: the attempts in flight are recorded first
  ListParams all;
  all.limit = 100;
  auto succeeded = service.deliveries(DeliveryFilter{slow->id, {"succeeded"}, all});
  ASSERT_TRUE(succeeded.ok());
  EXPECT_EQ(succeeded->items.size(), static_cast<std::size_t>(kEvents));
  EXPECT_LE(receiver->most["slow.example"], 2);
}

TEST(WebhookDispatcher, APauseWaitsForTheAttemptsInFlightAndClaimsNothingWhileItLasts) {
  TestApp t = testing::make_app(at("2026-03-01T12:00:00Z"));
  std::atomic<int> calls{0};
  WebhookOptions options;
  options.allow_private_urls = true;
  WebhookService service(t.app->database(), *t.clock, t.app->ids(), options,
                         [&calls](const net::HttpRequest&) -> Result<net::HttpResponse> {
                           std::this_thread::sleep_for(std::chrono::milliseconds(50));
                           ++calls;
                           return net::HttpResponse{200, {}, ""};
                         });
  ASSERT_TRUE(service.create(EndpointInput{"http://127.0.0.1:9/h", {"*"}, std::nullopt, Json::object()}).ok());
  events::Recorder recorder(t.app->ids(), *t.clock);
  auto add = [&](int i) {
    ASSERT_TRUE(db::transact(t.app->database(), [&](db::Tx& tx) {
      return recorder.record(tx, "customer.created", "cus_" + std::to_string(i), t.actor, nullptr, Json::object());
    }).ok());
  };
  Dispatcher dispatcher(service, std::chrono::milliseconds(10));
  add(0);
  for (int i = 0; i < 200 && calls < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(calls, 1);
  {
    Dispatcher::Pause pause(dispatcher);
    add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(calls, 1);  // paused: the new event waits
  }
  for (int i = 0; i < 200 && calls < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(calls, 2);
}

TEST_F(WebhooksTest, AnEndpointFailingForFiveDaysIsDisabledAndTheOperatorsAreTold) {
  Endpoint e = endpoint({"*"});
  for (int i = 0; i < 100; ++i) receiver.plan.push_back(500);
  record("customer.created", "cus_1");
  run();
  auto stored = service->get(e.id);
  ASSERT_TRUE(stored.ok());
  Timestamp first_failure = t.clock->now();
  EXPECT_EQ(stored->failing_since, first_failure);
  EXPECT_EQ(stored->version, e.version);  // bookkeeping, not an edit
  // A day later a success clears it; the next failure starts the count again.
  t.clock->advance(24 * 3600);
  receiver.plan.push_front(200);
  record("customer.created", "cus_2");
  run();  // cus_2 and cus_1's retry go out together: one of them gets the 200, which clears it
  t.clock->advance(60);
  record("customer.created", "cus_3");
  receiver.plan.assign(100, 500);
  run();
  stored = service->get(e.id);
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->failing_since.has_value());
  Timestamp restarted = *stored->failing_since;
  EXPECT_GT(restarted, first_failure + 24 * 3600 - 1);
  // Failing until 5 days after that: still enabled one second before, disabled at the mark.
  t.clock->set(restarted + kDisableAfterFailingSeconds - 1);
  record("customer.created", "cus_4");
  run();
  EXPECT_EQ(service->get(e.id)->status, "enabled");
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'webhook_endpoint_disabled'"), 0);
  t.clock->set(restarted + kDisableAfterFailingSeconds);
  record("customer.created", "cus_5");
  run();
  stored = service->get(e.id);
  EXPECT_EQ(stored->status, "disabled");
  EXPECT_EQ(stored->version, e.version + 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'webhook_endpoint_disabled'"
                  " AND resource_id = $1", {e.id}),
            1);
  // Disabled: its deliveries wait, none is attempted, nothing is lost.
  std::size_t sent = receiver.received.size();
  t.clock->advance(3600);
  record("customer.created", "cus_6");
  run();
  EXPECT_EQ(receiver.received.size(), sent);
  EXPECT_GT(count("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'", {e.id}), 0);
  // Enabled again by hand: the count starts afresh, the waiting deliveries go out.
  auto enabled = service->update(e.id, EndpointPatch{std::nullopt, std::nullopt, "enabled"}, stored->version);
  ASSERT_TRUE(enabled.ok()) << enabled.error().message;
  EXPECT_FALSE(enabled->failing_since.has_value());
  receiver.plan.clear();
  t.clock->advance(11 * 3600);
  run();
  EXPECT_GT(receiver.received.size(), sent);
}

}  // namespace
}  // namespace recur::webhooks
