// The NATS text protocol over a TCP socket, with deadlines on every read and write.
#include "platform/net/nats.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <cctype>

#include "platform/ids.h"
#include "platform/json.h"

namespace recur::nats {
namespace {

using Clock = std::chrono::steady_clock;

Error unavailable(std::string message) { return Error::unavailable("nats_unavailable", std::move(message)); }
Error timed_out(std::string message) { return Error::unavailable("nats_timeout", std::move(message)); }

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<std::size_t> number(std::string_view text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Error malformed(std::string_view line) {
  return Error::unavailable("nats_protocol_error", "unexpected line from the NATS server: " + std::string(line));
}

// MSG <subject> <sid> [reply] <bytes> / HMSG <subject> <sid> [reply] <hbytes> <bytes>
Result<ControlLine> parse_message_line(Op op, const std::vector<std::string_view>& w, std::string_view line) {
  std::size_t counts = op == Op::kHmsg ? 2 : 1;
  if (w.size() != 3 + counts && w.size() != 4 + counts) return malformed(line);
  ControlLine out;
  out.op = op;
  out.subject = std::string(w[1]);
  if (w.size() == 4 + counts) out.reply = std::string(w[3]);
  auto total = number(w.back());
  if (!total) return malformed(line);
  out.total_bytes = *total;
  if (op == Op::kHmsg) {
    auto header = number(w[w.size() - 2]);
    if (!header || *header > *total) return malformed(line);
    out.header_bytes = *header;
  }
  return out;
}

}  // namespace

Result<Address> parse_url(std::string_view url) {
  std::string_view rest = url;
  if (rest.starts_with("nats://")) rest.remove_prefix(7);
  else if (rest.find("://") != std::string_view::npos)
    return Error::invalid("invalid_nats_url", "a NATS URL is nats://host[:port]: " + std::string(url));
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("@,/") != std::string_view::npos)
    return Error::invalid("invalid_nats_url", "a NATS URL is nats://host[:port]: " + std::string(url));
  Address out;
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    out.host = std::string(rest);
    return out;
  }
  auto port = number(rest.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535 || colon == 0)
    return Error::invalid("invalid_nats_url", "a NATS URL is nats://host[:port]: " + std::string(url));
  out.host = std::string(rest.substr(0, colon));
  out.port = static_cast<std::uint16_t>(*port);
  return out;
}

Result<ControlLine> parse_control_line(std::string_view line) {
  auto w = words(line);
  if (w.empty()) return malformed(line);
  std::string op = upper(w[0]);
  ControlLine out;
  if (op == "PING" && w.size() == 1) out.op = Op::kPing;
  else if (op == "PONG" && w.size() == 1) out.op = Op::kPong;
  else if (op == "+OK" && w.size() == 1) out.op = Op::kOk;
  else if (op == "INFO" || op == "-ERR") {
    out.op = op == "INFO" ? Op::kInfo : Op::kErr;
    std::string_view text = line.substr(line.find(w[0]) + w[0].size());
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (out.op == Op::kErr && text.size() >= 2 && text.front() == '\'' && text.back() == '\'')
      text = text.substr(1, text.size() - 2);
    out.text = std::string(text);
  } else if (op == "MSG") return parse_message_line(Op::kMsg, w, line);
  else if (op == "HMSG") return parse_message_line(Op::kHmsg, w, line);
  else return malformed(line);
  return out;
}

std::string hpub(std::string_view subject, std::string_view reply, std::string_view msg_id, std::string_view body) {
  std::string headers = "NATS/1.0\r\nNats-Msg-Id: " + std::string(msg_id) + "\r\n\r\n";
  std::string out = "HPUB " + std::string(subject) + " " + std::string(reply) + " " + std::to_string(headers.size()) +
                    " " + std::to_string(headers.size() + body.size()) + "\r\n";
  out += headers;
  out += body;
  out += "\r\n";
  return out;
}

Result<PublishAck> parse_publish_ack(std::string_view text) {
  Json json = Json::parse(text, nullptr, false);
  if (!json.is_object()) return Error::unavailable("jetstream_error", "not a JetStream ack: " + std::string(text));
  if (auto error = json.find("error"); error != json.end()) {
    std::string description = error->is_object() ? error->value("description", std::string("unknown error")) : "";
    int code = error->is_object() ? error->value("code", 0) : 0;
    return Error::unavailable("jetstream_error", "JetStream refused (" + std::to_string(code) + "): " + description);
  }
  auto stream = json.find("stream");
  auto seq = json.find("seq");
  if (stream == json.end() || !stream->is_string() || seq == json.end() || !seq->is_number_unsigned())
    return Error::unavailable("jetstream_error", "not a JetStream ack: " + std::string(text));
  PublishAck ack;
  ack.stream = stream->get<std::string>();
  ack.seq = seq->get<std::uint64_t>();
  ack.duplicate = json.value("duplicate", false);
  return ack;
}

int header_status(std::string_view headers) {
  auto end = headers.find("\r\n");
  std::string_view first = headers.substr(0, end);
  auto w = words(first);
  if (w.size() < 2 || w[0] != "NATS/1.0") return 0;
  auto status = number(w[1]);
  return status ? static_cast<int>(*status) : 0;
}

// --- Connection ---

Connection::Connection(int fd) : fd_(fd), inbox_("_INBOX." + random_token(8)) {}

Connection::~Connection() { ::close(fd_); }

namespace {

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

Result<int> connect_socket(const Address& address, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return unavailable("cannot resolve " + address.host + ": " + gai_strerror(rc));
  std::string last_error = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) == 1) {
        int error = 0;
        socklen_t size = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
        rc = error == 0 ? 0 : -1;
        errno = error;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      freeaddrinfo(found);
      return fd;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(found);
  return unavailable("cannot connect to NATS at " + address.host + ":" + port + ": " + last_error);
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::connect(std::string_view url, std::chrono::milliseconds timeout) {
  RECUR_ASSIGN(auto address, parse_url(url));
  auto deadline = Clock::now() + timeout;
  RECUR_ASSIGN(int fd, connect_socket(address, deadline));
  std::unique_ptr<Connection> connection(new Connection(fd));
  RECUR_TRY(connection->handshake(deadline));
  return connection;
}

Status Connection::handshake(Clock::time_point deadline) {
  RECUR_ASSIGN(auto line, read_line(deadline));
  RECUR_ASSIGN(auto info, parse_control_line(line));
  if (info.op != Op::kInfo) return malformed(line);
  Json server = Json::parse(info.text, nullptr, false);
  if (server.is_object() && !server.value("headers", false))
    return unavailable("the NATS server does not support headers (needed for Nats-Msg-Id)");
  Json connect = {{"verbose", false}, {"pedantic", false}, {"headers", true}, {"no_responders", true},
                  {"lang", "cpp"}, {"version", "recur"}, {"name", "recur"}, {"protocol", 1}};
  RECUR_TRY(write_all("CONNECT " + connect.dump() + "\r\nSUB " + inbox_ + ".* 1\r\nPING\r\n", deadline));
  for (;;) {
    RECUR_ASSIGN(auto reply, read_line(deadline));
    RECUR_ASSIGN(auto parsed, parse_control_line(reply));
    if (parsed.op == Op::kPong) return Ok{};
    if (parsed.op == Op::kErr) return unavailable("NATS refused the connection: " + parsed.text);
    if (parsed.op == Op::kPing) RECUR_TRY(write_all("PONG\r\n", deadline));
  }
}

Status Connection::write_all(std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return unavailable(std::string("NATS connection lost: ") + std::strerror(errno));
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) == 0) return timed_out("NATS did not take our data in time");
  }
  return Ok{};
}

Status Connection::fill(Clock::time_point deadline) {
  for (;;) {
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return Ok{};
    }
    if (n == 0) return unavailable("the NATS server closed the connection");
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return unavailable(std::string("NATS connection lost: ") + std::strerror(errno));
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) == 0) return timed_out("NATS did not answer in time");
  }
}

Result<std::string> Connection::read_line(Clock::time_point deadline) {
  for (;;) {
    if (auto end = buffer_.find("\r\n"); end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      return line;
    }
    RECUR_TRY(fill(deadline));
  }
}

Result<Connection::Reply> Connection::next_reply(Clock::time_point deadline) {
  // A line and its payload leave the buffer together, so a deadline in between loses nothing.
  for (;;) {
    auto end = buffer_.find("\r\n");
    if (end == std::string::npos) {
      RECUR_TRY(fill(deadline));
      continue;
    }
    RECUR_ASSIGN(auto parsed, parse_control_line(std::string_view(buffer_).substr(0, end)));
    bool message = parsed.op == Op::kMsg || parsed.op == Op::kHmsg;
    std::size_t size = end + 2 + (message ? parsed.total_bytes + 2 : 0);
    if (buffer_.size() < size) {
      RECUR_TRY(fill(deadline));
      continue;
    }
    Reply reply;
    if (message) {
      std::string_view payload = std::string_view(buffer_).substr(end + 2, parsed.total_bytes);
      reply.subject = parsed.subject;
      reply.status = header_status(payload.substr(0, parsed.header_bytes));
      reply.body = std::string(payload.substr(parsed.header_bytes));
    }
    buffer_.erase(0, size);
    if (parsed.op == Op::kPing) RECUR_TRY(write_all("PONG\r\n", deadline));
    if (parsed.op == Op::kErr) return unavailable("NATS error: " + parsed.text);
    if (message) return reply;  // INFO updates, +OK, PONG and PING go on to the next line
  }
}

Status Connection::keep_alive() {
  // What came in while idle: the server's PINGs (unanswered ones make it drop us), late
  // acks, or the connection's end.
  for (;;) {
    auto reply = next_reply(Clock::now());
    if (!reply.ok()) return reply.error().code == "nats_timeout" ? Status(Ok{}) : Status(std::move(reply).error());
  }
}

Result<std::string> Connection::request(std::string_view subject, std::string_view payload,
                                        std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string reply_to = inbox_ + "." + std::to_string(++next_request_);
  RECUR_TRY(write_all("PUB " + std::string(subject) + " " + reply_to + " " + std::to_string(payload.size()) +
                          "\r\n" + std::string(payload) + "\r\n",
                      deadline));
  for (;;) {
    RECUR_ASSIGN(auto reply, next_reply(deadline));
    if (reply.subject != reply_to) continue;  // a late answer to an earlier request
    if (reply.status == 503) return unavailable("no responder for " + std::string(subject) + " (JetStream off?)");
    return reply.body;
  }
}

Result<std::vector<Result<PublishAck>>> Connection::publish(const std::vector<Message>& batch,
                                                           std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::uint64_t first = next_request_ + 1;
  std::string out;
  for (const auto& m : batch) out += hpub(m.subject, inbox_ + "." + std::to_string(++next_request_), m.msg_id, m.body);
  RECUR_TRY(write_all(out, deadline));
  std::vector<std::optional<Result<PublishAck>>> acks(batch.size());
  std::size_t pending = batch.size();
  std::string prefix = inbox_ + ".";
  while (pending > 0) {
    RECUR_ASSIGN(auto reply, next_reply(deadline));
    if (!reply.subject.starts_with(prefix)) continue;
    auto n = number(std::string_view(reply.subject).substr(prefix.size()));
    if (!n || *n < first || *n >= first + batch.size()) continue;  // an earlier batch's late ack
    auto& slot = acks[*n - first];
    if (slot) continue;
    if (reply.status == 503) slot = Result<PublishAck>(unavailable("no JetStream stream takes " + batch[*n - first].subject));
    else slot = parse_publish_ack(reply.body);
    --pending;
  }
  std::vector<Result<PublishAck>> out_acks;
  out_acks.reserve(acks.size());
  for (auto& a : acks) out_acks.push_back(std::move(*a));
  return out_acks;
}

}  // namespace recur::nats
