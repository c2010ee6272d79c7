// The scripted HTTP server for gateway fault tests.
#include "gateways/fault_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace recur::testing {
namespace {

// Reads one request (headers, then Content-Length bytes of body) so the client is not
// answered before it has finished sending.
void read_request(int client) {
  std::string data;
  char buf[4096];
  std::size_t need = std::string::npos;
  while (data.size() < need) {
    ssize_t n = recv(client, buf, sizeof buf, 0);
    if (n <= 0) return;
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

FaultServer::FaultServer(FaultAnswer answer) : answer_(std::move(answer)) {
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

void FaultServer::answer(int client) {
  read_request(client);
  ++requests_;
  if (answer_.kind == FaultAnswer::Kind::kClose) return;
  if (answer_.kind == FaultAnswer::Kind::kHang) {
    // Until the client gives up (its socket turns readable at EOF) or the server stops.
    char buf[256];
    while (wait_readable(client) && recv(client, buf, sizeof buf, 0) > 0) {
    }
    return;
  }
  send_all(client, "HTTP/1.1 " + std::to_string(answer_.status) + " Scripted\r\nContent-Type: " +
                       answer_.content_type + "\r\nContent-Length: " + std::to_string(answer_.body.size()) +
                       "\r\nConnection: close\r\n\r\n" + answer_.body);
}

}  // namespace recur::testing
