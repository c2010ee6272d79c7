// The event stream's outbox against a real database (SQLite or PostgreSQL, per
// RECUR_TEST_ENGINE): fan-out fills it when the stream is on; the publisher empties it only
// for what the stream acknowledged, in order, and holds back events that an older one, not
// yet fanned out, must precede. The stream is a fake that records messages and fails on plan.
#include <gtest/gtest.h>

#include <deque>

#include "events/store.h"
#include "testing/fixtures.h"
#include "webhooks/service.h"
#include "webhooks/stream.h"

namespace recur::webhooks {
namespace {

using testing::at;
using testing::TestApp;

// Each publish call takes the next planned outcome: "ok" (all stored), "lost" (all stored,
// the acks never come back), "first" (only the first stored, then a refusal), "down" (the
// connection fails before anything is sent); "ok" once the plan runs out.
struct FakeStream : EventStream {
  std::deque<std::string> plan;
  bool down = false;  // ready() fails: NATS does not answer
  std::vector<nats::Message> received;
  Status ready() override {
    if (down) return Error::unavailable("nats_unavailable", "connection refused");
    return Ok{};
  }
  Result<std::size_t> publish(const std::vector<nats::Message>& batch) override {
    std::string outcome = plan.empty() ? "ok" : plan.front();
    if (!plan.empty()) plan.pop_front();
    if (outcome == "down") return Error::unavailable("nats_unavailable", "connection lost");
    if (outcome == "first") {
      received.push_back(batch.at(0));
      return std::size_t{1};
    }
    received.insert(received.end(), batch.begin(), batch.end());
    if (outcome == "lost") return Error::unavailable("nats_timeout", "NATS did not answer in time");
    return batch.size();
  }
};

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-01T12:00:00Z"));
    recorder = std::make_unique<events::Recorder>(t.app->ids(), *t.clock);
    service = std::make_unique<WebhookService>(t.app->database(), *t.clock, t.app->ids());
    publisher = std::make_unique<StreamPublisher>(t.app->database(), stream, 2);
    auto on = publisher->publish_pending();  // a publisher's first step turns the stream on
    ASSERT_TRUE(on.ok()) << on.error().message;
  }
  std::string record(const std::string& type, const std::string& resource_id) {
    std::string id;
    auto done = db::transact(t.app->database(), [&](db::Tx& tx) -> recur::Status {
      RECUR_TRY(recorder->record(tx, type, resource_id, t.actor, nullptr, Json{{"id", resource_id}}));
      RECUR_ASSIGN(auto rows, tx.query("SELECT id FROM events ORDER BY created_at DESC, id DESC LIMIT 1"));
      id = rows.at(0).text(0);
      return Ok{};
    });
    EXPECT_TRUE(done.ok()) << done.error().message;
    return id;
  }
  void fan_out() {
    auto report = service->fan_out();
    ASSERT_TRUE(report.ok()) << report.error().message;
  }
  std::vector<std::string> waiting() {
    auto rows = db::transact(t.app->database(), [](db::Tx& tx) {
      return tx.query("SELECT event_id FROM stream_outbox ORDER BY seq");
    }, db::TxMode::kReadOnly);
    EXPECT_TRUE(rows.ok());
    std::vector<std::string> out;
    if (rows.ok())
      for (const auto& row : *rows) out.push_back(row.text(0));
    return out;
  }
  std::vector<std::string> received_ids() {
    std::vector<std::string> out;
    for (const auto& m : stream.received) out.push_back(m.msg_id);
    return out;
  }

  TestApp t;
  std::unique_ptr<events::Recorder> recorder;
  std::unique_ptr<WebhookService> service;
  FakeStream stream;
  std::unique_ptr<StreamPublisher> publisher;
};

TEST_F(StreamTest, FanOutFillsTheStreamOutboxOnlyWhileTheStreamIsOn) {
  auto dropped = turn_stream_off(t.app->database());
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  record("customer.created", "cus_1");
  fan_out();
  EXPECT_TRUE(waiting().empty());
  ASSERT_TRUE(publisher->publish_pending().ok());  // on again, NATS up or not
  std::string second = record("customer.updated", "cus_1");
  fan_out();  // any node's fan-out, with a publisher of its own or not
  EXPECT_EQ(waiting(), std::vector<std::string>{second});
  dropped = turn_stream_off(t.app->database());
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 1);
  record("customer.updated", "cus_1");
  fan_out();
  EXPECT_TRUE(waiting().empty());
}

TEST_F(StreamTest, EachEventGoesOnItsTypesSubjectWithItsIdAndTheWebhookBody) {
  std::string id = record("invoice.payment_failed", "in_1");
  fan_out();
  auto published = publisher->publish_pending();
  ASSERT_TRUE(published.ok()) << published.error().message;
  EXPECT_EQ(*published, 1);
  ASSERT_EQ(stream.received.size(), 1u);
  const auto& m = stream.received[0];
  EXPECT_EQ(m.subject, "recur.events.invoice.payment_failed");
  EXPECT_EQ(m.msg_id, id);
  auto event = db::transact(t.app->database(), [&](db::Tx& tx) { return events::find_event(tx, id); });
  ASSERT_TRUE(event.ok() && *event);
  EXPECT_EQ(m.body, events::to_json(**event).dump());
  EXPECT_TRUE(waiting().empty());
}

TEST_F(StreamTest, RowsStayUntilTheStreamAcknowledgesThemAndAreSentAgainInOrder) {
  std::vector<std::string> ids = {record("customer.created", "cus_1"), record("customer.updated", "cus_1"),
                                  record("customer.created", "cus_2")};
  fan_out();
  stream.plan = {"lost"};  // stored by the stream, but we never hear so
  EXPECT_FALSE(publisher->publish_pending().ok());
  EXPECT_EQ(waiting(), ids);
  auto published = publisher->publish_pending();  // the same ids again: JetStream drops the copies
  ASSERT_TRUE(published.ok()) << published.error().message;
  EXPECT_EQ(*published, 3);
  EXPECT_TRUE(waiting().empty());
  EXPECT_EQ(received_ids(), (std::vector<std::string>{ids[0], ids[1], ids[0], ids[1], ids[2]}));
}

TEST_F(StreamTest, OnlyTheAcknowledgedPrefixOfABatchLeavesTheOutbox) {
  std::vector<std::string> ids = {record("customer.created", "cus_1"), record("customer.updated", "cus_1")};
  fan_out();
  stream.plan = {"first"};  // JetStream refused the second (say, the stream is full)
  auto published = publisher->publish_pending();
  ASSERT_TRUE(published.ok()) << published.error().message;
  EXPECT_EQ(*published, 1);  // and stops there until the next tick
  EXPECT_EQ(waiting(), std::vector<std::string>{ids[1]});
  ASSERT_TRUE(publisher->publish_pending().ok());
  EXPECT_TRUE(waiting().empty());
  EXPECT_EQ(received_ids(), ids);
}

TEST_F(StreamTest, NatsDownKeepsEveryEventWaitingAndTheAppWorking) {
  ASSERT_TRUE(turn_stream_off(t.app->database()).ok());
  stream.down = true;
  EXPECT_FALSE(publisher->publish_pending().ok());  // down from the start: on all the same
  std::string id = record("customer.created", "cus_1");
  fan_out();
  auto published = publisher->publish_pending();
  ASSERT_FALSE(published.ok());
  EXPECT_EQ(published.error().code, "nats_unavailable");
  EXPECT_EQ(waiting(), std::vector<std::string>{id});
  record("customer.updated", "cus_1");  // writes go on meanwhile
  stream.down = false;
  ASSERT_TRUE(publisher->publish_pending().ok());
  EXPECT_TRUE(waiting().empty());
  EXPECT_EQ(stream.received.size(), 1u);  // the second was not fanned out yet
}

TEST_F(StreamTest, AnEventWaitsForAnOlderOneStillInTheFanOutOutbox) {
  std::string older = record("customer.created", "cus_1");
  std::string newer = record("customer.updated", "cus_1");
  // Another node's fan-out took the newer one first (SKIP LOCKED passed over the older).
  auto moved = db::transact(t.app->database(), [&](db::Tx& tx) -> recur::Status {
    RECUR_ASSIGN(auto event, events::find_event(tx, newer));
    if (!event) return Error::internal("no event " + newer);
    RECUR_ASSIGN(auto seq, tx.query("SELECT seq FROM event_outbox WHERE event_id = $1", {newer}));
    if (seq.empty()) return Error::internal("no outbox row for " + newer);
    RECUR_TRY(add_to_stream_outbox(tx, {event->id, event->type, event->created, seq[0].int64(0)}));
    return tx.exec_later("DELETE FROM event_outbox WHERE event_id = $1", {newer});
  });
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  auto held = publisher->publish_pending();
  ASSERT_TRUE(held.ok()) << held.error().message;
  EXPECT_EQ(*held, 0);
  fan_out();
  ASSERT_TRUE(publisher->publish_pending().ok());
  EXPECT_EQ(received_ids(), (std::vector<std::string>{older, newer}));
}

// Two nodes change one customer within one second: the second node's id generator may well
// give its event a smaller id than the first's (ids carry whole seconds, then each node's own
// random counter). The stream follows the order the events were committed in, not their ids.
TEST_F(StreamTest, OneResourcesEventsArePublishedInCommitOrderWhateverTheirIdsSay) {
  auto append = [&](const std::string& id, const std::string& type) {
    events::Event e{id, type, "customer", "cus_1", t.actor, t.clock->now(), nullptr, Json{{"id", "cus_1"}}, Json::object()};
    auto done = db::transact(t.app->database(), [&](db::Tx& tx) { return events::append(tx, e); });
    ASSERT_TRUE(done.ok()) << done.error().message;
  };
  append("evt_01zzzzzzzzzzzzzzzzzzzzzzzz", "customer.created");  // node A, committed first
  append("evt_01aaaaaaaaaaaaaaaaaaaaaaaa", "customer.updated");  // node B, same second, after it
  fan_out();
  EXPECT_EQ(waiting(), (std::vector<std::string>{"evt_01zzzzzzzzzzzzzzzzzzzzzzzz", "evt_01aaaaaaaaaaaaaaaaaaaaaaaa"}));
  ASSERT_TRUE(publisher->publish_pending().ok());
  EXPECT_EQ(received_ids(), (std::vector<std::string>{"evt_01zzzzzzzzzzzzzzzzzzzzzzzz", "evt_01aaaaaaaaaaaaaaaaaaaaaaaa"}));
}

}  // namespace
}  // namespace recur::webhooks
