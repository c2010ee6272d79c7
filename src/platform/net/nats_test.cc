// The NATS protocol pieces by tables: URLs, server control lines, HPUB framing, JetStream acks.
#include "platform/net/nats.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

namespace recur::nats {
namespace {

TEST(NatsUrl, HostAndPortWithTheDefaultPort) {
  struct Case {
    std::string url;
    std::string host;
    int port;
  };
  for (const auto& c : std::vector<Case>{{"nats://127.0.0.1:4222", "127.0.0.1", 4222},
                                         {"nats://nats.internal", "nats.internal", 4222},
                                         {"localhost:5222", "localhost", 5222},
                                         {"nats://127.0.0.1:4222/", "127.0.0.1", 4222}}) {
    auto a = parse_url(c.url);
    ASSERT_TRUE(a.ok()) << c.url;
    EXPECT_EQ(a->host, c.host) << c.url;
    EXPECT_EQ(a->port, c.port) << c.url;
  }
}

TEST(NatsUrl, RefusesWhatItDoesNotSupport) {
  for (std::string url : {"", "nats://", "http://127.0.0.1:4222", "nats://u:p@host:4222", "nats://a:1,b:2",
                          "nats://host:0", "nats://host:99999", "nats://host:port", "nats://:4222"})
    EXPECT_FALSE(parse_url(url).ok()) << url;
}

TEST(NatsControlLine, ParsesEachServerOperation) {
  auto info = parse_control_line(R"(INFO {"server_id":"N1","headers":true})");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->op, Op::kInfo);
  EXPECT_EQ(info->text, R"({"server_id":"N1","headers":true})");

  auto msg = parse_control_line("MSG _INBOX.ab.7 1 11");
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(msg->op, Op::kMsg);
  EXPECT_EQ(msg->subject, "_INBOX.ab.7");
  EXPECT_EQ(msg->reply, "");
  EXPECT_EQ(msg->total_bytes, 11u);

  auto with_reply = parse_control_line("MSG foo.bar 9 reply.to 0");
  ASSERT_TRUE(with_reply.ok());
  EXPECT_EQ(with_reply->reply, "reply.to");
  EXPECT_EQ(with_reply->total_bytes, 0u);

  auto hmsg = parse_control_line("HMSG _INBOX.ab.3 1 16 16");
  ASSERT_TRUE(hmsg.ok());
  EXPECT_EQ(hmsg->op, Op::kHmsg);
  EXPECT_EQ(hmsg->header_bytes, 16u);
  EXPECT_EQ(hmsg->total_bytes, 16u);

  auto err = parse_control_line("-ERR 'Authorization Violation'");
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->op, Op::kErr);
  EXPECT_EQ(err->text, "Authorization Violation");

  struct Simple {
    std::string line;
    Op op;
  };
  for (const auto& c : std::vector<Simple>{{"PING", Op::kPing}, {"PONG", Op::kPong}, {"+OK", Op::kOk}, {"ping", Op::kPing}}) {
    auto parsed = parse_control_line(c.line);
    ASSERT_TRUE(parsed.ok()) << c.line;
    EXPECT_EQ(parsed->op, c.op) << c.line;
  }
}

TEST(NatsControlLine, RefusesMalformedLines) {
  for (std::string line : {"", "HELLO", "MSG subject", "MSG s 1 x", "HMSG s 1 20 10", "MSG s 1 r 2 3 4", "PING extra",
                           "HMSG s 1 -1 4"})
    EXPECT_FALSE(parse_control_line(line).ok()) << line;
}

TEST(NatsHpub, FramesTheMsgIdHeaderAndCountsBytes) {
  std::string headers = "NATS/1.0\r\nNats-Msg-Id: evt_1\r\n\r\n";
  EXPECT_EQ(hpub("recur.events.customer.created", "_INBOX.x.1", "evt_1", "{}"),
            "HPUB recur.events.customer.created _INBOX.x.1 " + std::to_string(headers.size()) + " " +
                std::to_string(headers.size() + 2) + "\r\n" + headers + "{}\r\n");
}

TEST(NatsHeaderStatus, ReadsTheStatusOfTheFirstLine) {
  EXPECT_EQ(header_status("NATS/1.0 503\r\n\r\n"), 503);
  EXPECT_EQ(header_status("NATS/1.0 408 Request Timeout\r\n\r\n"), 408);
  EXPECT_EQ(header_status("NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n"), 0);
  EXPECT_EQ(header_status(""), 0);
}

TEST(JetStreamAck, StoredDuplicateAndRefused) {
  auto stored = parse_publish_ack(R"({"stream":"RECUR_EVENTS","seq":7})");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->stream, "RECUR_EVENTS");
  EXPECT_EQ(stored->seq, 7u);
  EXPECT_FALSE(stored->duplicate);

  auto duplicate = parse_publish_ack(R"({"stream":"RECUR_EVENTS","seq":7,"duplicate":true})");
  ASSERT_TRUE(duplicate.ok());
  EXPECT_TRUE(duplicate->duplicate);

  auto refused = parse_publish_ack(R"({"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}})");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "jetstream_error");
  EXPECT_NE(refused.error().message.find("maximum messages exceeded"), std::string::npos);

  for (std::string text : {"", "not json", "[]", R"({"stream":"S"})", R"({"seq":1})", R"({"stream":"S","seq":-1})"})
    EXPECT_FALSE(parse_publish_ack(text).ok()) << text;
}

}  // namespace
}  // namespace recur::nats

// --- Connection against a scripted server on loopback ---

namespace recur::nats {
namespace {

// One connection accepted on 127.0.0.1, driven by `script` on a thread of its own.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(ScriptedServer&)> script) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 1);
    socklen_t size = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      fd_ = ::accept(listener_, nullptr, nullptr);
      script(*this);
    });
  }
  ~ScriptedServer() {
    thread_.join();
    ::close(fd_);
    ::close(listener_);
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  void send(const std::string& data) { ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }
  // Reads until what the client sent contains `marker`; false at end of stream.
  bool read_until(const std::string& marker) {
    while (received.find(marker) == std::string::npos) {
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      received.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }
  // The inbox the client subscribed to ("_INBOX.x" of "SUB _INBOX.x.* 1").
  std::string inbox() const {
    auto start = received.find("SUB ") + 4;
    return received.substr(start, received.find(".* ", start) - start);
  }
  void handshake() {
    send("INFO {\"server_id\":\"fake\",\"headers\":true}\r\n");
    read_until("PING\r\n");
    send("PONG\r\n");
  }
  std::string received;

 private:
  int listener_ = -1;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

std::string msg(const std::string& subject, const std::string& body) {
  return "MSG " + subject + " 1 " + std::to_string(body.size()) + "\r\n" + body + "\r\n";
}

TEST(NatsConnection, MatchesAcksOutOfOrderAnswersPingsAndReadsNoResponders) {
  bool ponged = false;
  {
    ScriptedServer server([&](ScriptedServer& s) {
      s.handshake();
      s.read_until("b3\r\n");
      std::string inbox = s.inbox();
      s.send("PING\r\n");
      s.send(msg(inbox + ".3", R"({"stream":"S","seq":3})"));
      s.send("HMSG " + inbox + ".2 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
      s.send(msg(inbox + ".1", R"({"stream":"S","seq":1,"duplicate":true})"));
      ponged = s.read_until("PONG\r\n");
    });
    auto c = Connection::connect(server.url(), std::chrono::seconds(2));
    ASSERT_TRUE(c.ok()) << c.error().message;
    auto acks = (*c)->publish({{"recur.events.a", "evt_1", "b1"}, {"recur.events.b", "evt_2", "b2"},
                               {"recur.events.c", "evt_3", "b3"}},
                              std::chrono::seconds(2));
    ASSERT_TRUE(acks.ok()) << acks.error().message;
    ASSERT_EQ(acks->size(), 3u);
    ASSERT_TRUE((*acks)[0].ok());
    EXPECT_TRUE((*acks)[0]->duplicate);
    EXPECT_FALSE((*acks)[1].ok());
    ASSERT_TRUE((*acks)[2].ok());
    EXPECT_EQ((*acks)[2]->seq, 3u);
    EXPECT_NE(server.received.find("Nats-Msg-Id: evt_2\r\n"), std::string::npos);
  }
  EXPECT_TRUE(ponged);
}

TEST(NatsConnection, AcksThatDoNotComeInTimeFailTheBatch) {
  ScriptedServer server([](ScriptedServer& s) {
    s.handshake();
    s.read_until("never");  // until the client hangs up
  });
  auto c = Connection::connect(server.url(), std::chrono::seconds(2));
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto acks = (*c)->publish({{"recur.events.a", "evt_1", "b1"}}, std::chrono::milliseconds(100));
  ASSERT_FALSE(acks.ok());
  EXPECT_EQ(acks.error().code, "nats_timeout");
  c->reset();  // hang up, so the server's script ends
}

TEST(NatsConnection, KeepAliveAnswersAnIdlePingAndNoticesAClosedConnection) {
  std::atomic<bool> ponged = false;
  std::unique_ptr<Connection> kept;
  {
    ScriptedServer server([&](ScriptedServer& s) {
      s.handshake();
      s.send("PING\r\n");
      ponged = s.read_until("PONG\r\n");
    });
    auto c = Connection::connect(server.url(), std::chrono::seconds(2));
    ASSERT_TRUE(c.ok()) << c.error().message;
    kept = std::move(*c);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!ponged && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE(kept->keep_alive().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }  // the server hangs up
  EXPECT_TRUE(ponged);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  Status alive = Ok{};
  while (alive.ok() && std::chrono::steady_clock::now() < deadline) alive = kept->keep_alive();
  EXPECT_FALSE(alive.ok());
}

}  // namespace
}  // namespace recur::nats
