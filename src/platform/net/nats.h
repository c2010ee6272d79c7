// A minimal NATS client: enough of the text protocol (INFO, CONNECT, PING/PONG, SUB, HPUB,
// MSG/HMSG) to publish to JetStream with de-duplication ids and wait for the acks. No NATS
// library is in Debian's archive; the protocol is small. One connection, one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"

namespace recur::nats {

// The pure protocol pieces, tested by tables.

struct Address {
  std::string host;
  std::uint16_t port = 4222;
};
// nats://host[:port] (or host[:port]); user info and several servers are not supported.
Result<Address> parse_url(std::string_view url);

enum class Op { kInfo, kMsg, kHmsg, kPing, kPong, kOk, kErr };
// A server control line (without its CRLF). MSG: subject sid [reply] bytes; HMSG: subject
// sid [reply] header_bytes total_bytes. `text` is INFO's JSON or -ERR's message.
struct ControlLine {
  Op op = Op::kOk;
  std::string subject;
  std::string reply;
  std::size_t header_bytes = 0;
  std::size_t total_bytes = 0;  // payload bytes after the line (headers included), MSG and HMSG
  std::string text;
};
Result<ControlLine> parse_control_line(std::string_view line);

// HPUB with a Nats-Msg-Id header (JetStream drops a second message with the same id inside
// the stream's duplicate window).
std::string hpub(std::string_view subject, std::string_view reply, std::string_view msg_id, std::string_view body);

// A JetStream publish ack: {"stream":"S","seq":7} or {"stream":"S","seq":7,"duplicate":true};
// an {"error":{"code":..,"description":..}} reply is an error (kUnavailable, "jetstream_error").
struct PublishAck {
  std::string stream;
  std::uint64_t seq = 0;
  bool duplicate = false;
};
Result<PublishAck> parse_publish_ack(std::string_view json);

// The status in an HMSG header block ("NATS/1.0 503" -> 503; none -> 0).
int header_status(std::string_view headers);

struct Message {
  std::string subject;
  std::string msg_id;  // Nats-Msg-Id
  std::string body;
};

// Errors are kUnavailable ("nats_unavailable", "nats_timeout", "jetstream_error"): the caller
// drops the connection and connects again later.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> connect(std::string_view url, std::chrono::milliseconds timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A request (JetStream API): publishes with a reply inbox, returns the reply's body.
  Result<std::string> request(std::string_view subject, std::string_view payload, std::chrono::milliseconds timeout);
  // Publishes the batch in order, pipelined, then awaits one ack each. Returns the acks in
  // the batch's order, each an ack or the error JetStream answered for that message; an
  // error for the whole batch when the connection fails or the acks do not all come in time.
  Result<std::vector<Result<PublishAck>>> publish(const std::vector<Message>& batch,
                                                  std::chrono::milliseconds timeout);
  // Between uses: answers the server's PINGs that came in meanwhile and drops stale
  // replies, without waiting; an error when the connection is gone.
  Status keep_alive();

 private:
  explicit Connection(int fd);
  struct Reply {
    std::string subject;
    int status = 0;
    std::string body;
  };
  Status write_all(std::string_view data, std::chrono::steady_clock::time_point deadline);
  Result<std::string> read_line(std::chrono::steady_clock::time_point deadline);
  Status fill(std::chrono::steady_clock::time_point deadline);
  // The next message on our inbox, answering PINGs on the way.
  Result<Reply> next_reply(std::chrono::steady_clock::time_point deadline);
  Status handshake(std::chrono::steady_clock::time_point deadline);

  int fd_;
  std::string inbox_;
  std::uint64_t next_request_ = 0;
  std::string buffer_;
};

}  // namespace recur::nats
