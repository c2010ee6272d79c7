// The event stream for split deployments (issue 14): each event, after webhook fan-out, is
// published to NATS JetStream on recur.events.<type> with its id as Nats-Msg-Id, at least
// once, in the order of decision 0015 (per resource: commit order).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "events/store.h"
#include "platform/db/database.h"
#include "platform/net/nats.h"

namespace recur::webhooks {

inline constexpr std::string_view kStreamSubjectPrefix = "recur.events.";
inline constexpr std::string_view kDefaultStreamName = "RECUR_EVENTS";

// Puts a fanned-out event in the stream outbox when the stream is on (a publisher has run
// since the last turn_stream_off), so that every node's fan-out feeds it, whether or not
// that node publishes. Requires: inside fan-out's transaction.
Status add_to_stream_outbox(db::Tx& tx, const events::OutboxEntry& event);
// `recur stream off`: no more events for the stream (until a publisher runs again); drops
// what waits for it. Returns how many events were dropped.
Result<std::int64_t> turn_stream_off(db::Database& db);
// recur.events.<type>
std::string stream_subject(const std::string& event_type);

// Where the publisher sends: JetStream, or a fake with fault injection in tests.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Ok when the stream can take messages now (connected, the stream exists). Called outside
  // any transaction.
  virtual Status ready() = 0;
  // Sends the batch in order; returns how many of it, from the first, the stream has stored
  // (or recognised as duplicates). An error when none is known to be stored.
  virtual Result<std::size_t> publish(const std::vector<nats::Message>& batch) = 0;
};

struct JetStreamOptions {
  std::string url;                                  // nats://host:port
  std::string stream = std::string(kDefaultStreamName);
  std::chrono::seconds duplicate_window{3600};      // long enough for a crashed node's successor
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds ack_timeout{5000};      // for a whole batch
};

// NATS JetStream over one connection, made again after any failure. Makes the stream
// (subjects recur.events.>) when it does not exist. Not thread-safe: the publisher's one
// thread uses it.
class JetStream : public EventStream {
 public:
  explicit JetStream(JetStreamOptions options) : options_(std::move(options)) {}
  Status ready() override;
  Result<std::size_t> publish(const std::vector<nats::Message>& batch) override;

 private:
  Status ensure_stream();
  JetStreamOptions options_;
  std::unique_ptr<nats::Connection> connection_;
};

// Moves the stream outbox to the stream, oldest first. One node publishes at a time (a lock
// row), so the stream receives events in outbox order; a crash between publishing and
// commit leaves the rows for the next publisher, whose copies JetStream drops as duplicates.
class StreamPublisher {
 public:
  StreamPublisher(db::Database& db, EventStream& stream, int batch = 100) : db_(db), stream_(stream), batch_(batch) {}
  // Turns the stream on (fan-out fills the stream outbox from now on), then publishes until
  // the outbox is empty (or only holds events that must wait for older ones still in the
  // fan-out outbox). Returns how many were published. On an error the rows of the failed
  // batch stay for the next call.
  Result<int> publish_pending();

 private:
  Result<int> publish_batch();
  db::Database& db_;
  EventStream& stream_;
  int batch_;
};

}  // namespace recur::webhooks
