// The stream outbox and its publisher to NATS JetStream.
#include "webhooks/stream.h"

#include "events/store.h"
#include "platform/json.h"

namespace recur::webhooks {
namespace {

struct Waiting {
  std::string event_id;
  std::int64_t seq = 0;  // event_outbox's commit-order sequence, carried over by fan-out
};

// The oldest event fan-out has not taken yet: nothing at or after it may be published, or
// an event fanned out by a faster node could overtake an older one of its resource.
Result<std::optional<std::int64_t>> oldest_unfanned(db::Tx& tx) {
  RECUR_ASSIGN(auto oldest, events::oldest_in_outbox(tx));
  if (!oldest) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(oldest->seq);
}

Result<std::vector<Waiting>> oldest_in_stream_outbox(db::Tx& tx, int limit) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT event_id, seq FROM stream_outbox ORDER BY seq LIMIT " +
                                   std::to_string(limit)));
  std::vector<Waiting> out;
  for (const auto& row : rows) out.push_back({row.text(0), row.int64(1)});
  return out;
}

// One publisher at a time, across nodes: the row is held until commit (SQLite's write
// transaction holds the whole database already).
Status lock_publisher(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT name FROM stream_publisher WHERE name = 'events'") +
                                   std::string(tx.for_update())));
  if (rows.empty()) return Error::internal("stream_publisher has no 'events' row (migration missing?)");
  return Ok{};
}

// A read first, so that a stream already on costs no write transaction each tick.
Status turn_stream_on(db::Database& db) {
  RECUR_ASSIGN(auto on, db::transact(db, [](db::Tx& tx) -> Result<bool> {
    RECUR_ASSIGN(auto rows, tx.query("SELECT enabled FROM stream_publisher WHERE name = 'events'"));
    return !rows.empty() && rows[0].int64(0) == 1;
  }, db::TxMode::kReadOnly));
  if (on) return Ok{};
  return db::transact(db, [](db::Tx& tx) -> Status {
    RECUR_TRY(tx.exec("UPDATE stream_publisher SET enabled = 1 WHERE name = 'events'"));
    return Ok{};
  });
}

}  // namespace

Status add_to_stream_outbox(db::Tx& tx, const events::OutboxEntry& event) {
  return tx.exec_later("INSERT INTO stream_outbox (event_id, created_at, seq)"
                       " SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS BIGINT)"
                       " WHERE EXISTS (SELECT 1 FROM stream_publisher WHERE name = 'events' AND enabled = 1)"
                       " ON CONFLICT (event_id) DO NOTHING",  // a clash of seq must fail, not drop the event
                       {event.event_id, event.created, event.seq});
}

Result<std::int64_t> turn_stream_off(db::Database& db) {
  return db::transact(db, [](db::Tx& tx) -> Result<std::int64_t> {
    RECUR_TRY(lock_publisher(tx));
    RECUR_TRY(tx.exec("UPDATE stream_publisher SET enabled = 0 WHERE name = 'events'"));
    return tx.exec("DELETE FROM stream_outbox");
  });
}

std::string stream_subject(const std::string& event_type) { return std::string(kStreamSubjectPrefix) + event_type; }

// --- JetStream ---

Status JetStream::ensure_stream() {
  auto& c = *connection_;
  RECUR_ASSIGN(auto info, c.request("$JS.API.STREAM.INFO." + options_.stream, "", options_.ack_timeout));
  Json found = Json::parse(info, nullptr, false);
  if (found.is_object() && !found.contains("error")) return Ok{};
  Json config = {{"name", options_.stream},
                 {"subjects", {std::string(kStreamSubjectPrefix) + ">"}},
                 {"storage", "file"},
                 {"retention", "limits"},
                 {"duplicate_window", std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          options_.duplicate_window).count()}};
  RECUR_ASSIGN(auto created, c.request("$JS.API.STREAM.CREATE." + options_.stream, config.dump(), options_.ack_timeout));
  Json answer = Json::parse(created, nullptr, false);
  if (answer.is_object() && !answer.contains("error")) return Ok{};
  // Another node may have made it meanwhile.
  RECUR_ASSIGN(auto again, c.request("$JS.API.STREAM.INFO." + options_.stream, "", options_.ack_timeout));
  Json now = Json::parse(again, nullptr, false);
  if (now.is_object() && !now.contains("error")) return Ok{};
  return Error::unavailable("jetstream_error", "cannot create the stream " + options_.stream + ": " + created);
}

Status JetStream::ready() {
  if (connection_ && connection_->keep_alive().ok()) return Ok{};
  connection_.reset();
  RECUR_ASSIGN(connection_, nats::Connection::connect(options_.url, options_.connect_timeout));
  auto made = ensure_stream();
  if (!made.ok()) connection_.reset();
  return made;
}

Result<std::size_t> JetStream::publish(const std::vector<nats::Message>& batch) {
  RECUR_TRY(ready());
  auto acks = connection_->publish(batch, options_.ack_timeout);
  if (!acks.ok()) {
    connection_.reset();  // its state is unknown: the next call connects again
    return std::move(acks).error();
  }
  std::size_t stored = 0;
  for (auto& ack : *acks) {
    if (!ack.ok()) {
      if (stored == 0) return std::move(ack).error();
      break;
    }
    ++stored;
  }
  return stored;
}

// --- StreamPublisher ---

Result<int> StreamPublisher::publish_batch() {
  // Connect outside the transaction: a NATS that is down costs no lock.
  RECUR_TRY(stream_.ready());
  return db::transact(db_, [&](db::Tx& tx) -> Result<int> {
    RECUR_TRY(lock_publisher(tx));
    RECUR_ASSIGN(auto limit, oldest_unfanned(tx));
    RECUR_ASSIGN(auto waiting, oldest_in_stream_outbox(tx, batch_));
    std::vector<nats::Message> batch;
    for (const auto& w : waiting) {
      if (limit && w.seq >= *limit) break;
      RECUR_ASSIGN(auto event, events::find_event(tx, w.event_id));
      if (!event) return Error::internal("stream_outbox names a missing event " + w.event_id);
      batch.push_back({stream_subject(event->type), event->id, events::to_json(*event).dump()});
    }
    if (batch.empty()) return 0;
    // The acks come back before commit: a crash now leaves the rows, to be sent again.
    RECUR_ASSIGN(auto stored, stream_.publish(batch));
    for (std::size_t i = 0; i < stored && i < batch.size(); ++i)
      RECUR_TRY(tx.exec_later("DELETE FROM stream_outbox WHERE event_id = $1", {batch[i].msg_id}));
    return static_cast<int>(stored);
  });
}

Result<int> StreamPublisher::publish_pending() {
  // On for every node's fan-out from now on, NATS up or not: what is recorded while it is
  // down waits in the stream outbox.
  RECUR_TRY(turn_stream_on(db_));
  int total = 0;
  for (;;) {
    RECUR_ASSIGN(int published, publish_batch());
    total += published;
    if (published < batch_) return total;
  }
}

}  // namespace recur::webhooks
