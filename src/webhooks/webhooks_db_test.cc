// Webhooks against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE): the outbox
// commits with the event, fan-out makes one delivery per endpoint that wants it, a failing
// receiver is retried on the schedule as the clock moves, a rotated secret signs beside the
// new one. The receiver is a fake transport that records requests and answers per a plan.
#include <gtest/gtest.h>

#include <deque>

#include "events/store.h"
#include "testing/fixtures.h"
#include "webhooks/service.h"

namespace recur::webhooks {
namespace {

using testing::at;
using testing::TestApp;

// Answers each request with the next planned status (200 once the plan runs out); 0 plays a
// transport failure (timeout).
struct FakeReceiver {
  std::deque<int> plan;
  std::vector<net::HttpRequest> received;
  Result<net::HttpResponse> operator()(const net::HttpRequest& request) {
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
    service = std::make_unique<WebhookService>(
        t.app->database(), *t.clock, t.app->ids(), WebhookOptions{},
        [this](const net::HttpRequest& r) { return receiver(r); },
        [n](std::size_t size) mutable { return std::string(size, static_cast<char>('a' + n++)); },
        [this](const std::string& host) -> Result<std::vector<std::string>> {
          resolved.push_back(host);
          if (host == "intranet.example") return std::vector<std::string>{"10.0.0.7"};
          if (std::isdigit(static_cast<unsigned char>(host[0]))) return std::vector<std::string>{host};  // a literal
          return std::vector<std::string>{"93.184.216.34"};
        });
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
  EXPECT_EQ(FakeReceiver::header(receiver.received[4], "webhook-id"), first);
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

}  // namespace
}  // namespace recur::webhooks
