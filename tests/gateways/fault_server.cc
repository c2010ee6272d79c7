// The scripted HTTP server for gateway fault tests.
#include "gateways/fault_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace recur::testing {
namespace {

// The request line, headers (names lower-cased) and body of one raw request.
SeenRequest parse_request(const std::string& data) {
  SeenRequest req;
  auto end = data.find("\r\n\r\n");
  if (end == std::string::npos) return req;
  req.body = data.substr(end + 4);
  std::size_t line_end = data.find("\r\n");
  std::string line = data.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp1 != std::string::npos && sp2 != std::string::npos) {
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  }
  for (std::size_t at = line_end + 2; at < end;) {
    std::size_t next = data.find("\r\n", at);
    std::string header = data.substr(at, next - at);
    at = next + 2;
    auto colon = header.find(':');
    if (colon == std::string::npos) continue;
    std::string name = header.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::size_t value = header.find_first_not_of(' ', colon + 1);
    req.headers[name] = value == std::string::npos ? "" : header.substr(value);
  }
  return req;
}

// Reads one request (headers, then Content-Length bytes of body) so the client is not
// answered before it has finished sending.
std::string read_request(int client) {
  std::string data;
  char buf[4096];
  std::size_t need = std::string::npos;
  while (data.size() < need) {
    ssize_t n = recv(client, buf, sizeof buf, 0);
    if (n <= 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
    auto end = data.find("\r\n\r\n");
    if (need == std::string::npos && end != std::string::npos) {
      std::size_t length = 0;
      auto at = data.find("Content-Length:");
      if (at == std::string::npos) at = data.find("content-length:");
      if (at != std::string::npos && at < end) length = std::strtoul(data.c_str() + at + 15, nullptr, 10);
      need = end + 4 + length;
    }
  }
  return data;
}

void send_all(int fd, const std::string& text) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace

FaultServer::FaultServer(FaultAnswer answer)
    : FaultServer(Script([answer = std::move(answer)](const SeenRequest&) { return answer; })) {}

FaultServer::FaultServer(Script script) : script_(std::move(script)) {
  if (pipe(wake_) != 0) throw std::runtime_error("fault server: pipe failed");
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;  // any free port
  socklen_t len = sizeof addr;
  if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener_, 16) != 0 || getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("fault server: cannot listen on 127.0.0.1");
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FaultServer::~FaultServer() {
  char stop = 1;
  (void)!write(wake_[1], &stop, 1);
  thread_.join();
  ::close(listener_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

bool FaultServer::wait_readable(int fd) const {
  pollfd fds[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
  while (poll(fds, 2, -1) < 0) {
  }
  return (fds[1].revents & POLLIN) == 0;
}

void FaultServer::serve() {
  while (wait_readable(listener_)) {
    int client = accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    answer(client);
    ::close(client);
  }
}

std::vector<SeenRequest> FaultServer::seen() const {
  std::lock_guard lock(seen_mu_);
  return seen_;
}

void FaultServer::answer(int client) {
  SeenRequest request = parse_request(read_request(client));
  FaultAnswer answer = script_(request);
  {
    std::lock_guard lock(seen_mu_);
    seen_.push_back(std::move(request));
  }
  ++requests_;
  if (answer.kind == FaultAnswer::Kind::kClose) return;
  if (answer.kind == FaultAnswer::Kind::kHang) {
    // Until the client gives up (its socket turns readable at EOF) or the server stops.
    char buf[256];
    while (wait_readable(client) && recv(client, buf, sizeof buf, 0) > 0) {
    }
    return;
  }
  send_all(client, "HTTP/1.1 " + std::to_string(answer.status) + " Scripted\r\nContent-Type: " +
                       answer.content_type + "\r\nContent-Length: " + std::to_string(answer.body.size()) +
                       "\r\nConnection: close\r\n\r\n" + answer.body);
}

}  // namespace recur::testing
