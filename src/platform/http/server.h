// HTTP/1.1 server on Boost.Beast with C++20 coroutines: keep-alive, body limits,
// timeouts, graceful shutdown. Handlers run on a blocking pool, except what the dispatcher
// can answer without blocking (ServerOptions::answer_inline).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "platform/http/message.h"
#include "platform/metrics/registry.h"

namespace recur::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;   // 0 picks a free port (see Server::port())
  int io_threads = 2;
  int worker_threads = 8;      // the blocking pool: database work happens here
  std::size_t body_limit = 1 << 20;
  int read_timeout_seconds = 30;
  int shutdown_grace_seconds = 10;
  // Open connections at most (0: no cap). At the cap the longest-idle keep-alive connection is
  // closed to make room, and new ones wait in the listen backlog meanwhile. Keep it below the
  // file-descriptor limit, with room for the database and files.
  std::size_t max_connections = 0;
  // Open connections from one IP address at most (0: no cap). Beyond, a new connection is
  // closed at once, unanswered: a few addresses holding connections open (slow clients)
  // cannot take every slot under max_connections.
  std::size_t max_connections_per_ip = 0;
  // PEM files: with both, every connection is TLS (1.2 or 1.3, ECDHE with AEAD ciphers only)
  // and every answer carries Strict-Transport-Security; with neither, plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  bool access_log = true;
  // Try each GET/HEAD on the I/O thread first, under a NonBlockingScope (platform/blocking.h):
  // only for a dispatcher that throws WouldBlock before doing anything it cannot answer
  // without blocking (http::Pipeline does: routes marked with Router::allow_inline).
  bool answer_inline = false;
  // With answer_inline: which requests to try there (unset: every GET and HEAD). A request it
  // refuses goes straight to the pool, without the throw of WouldBlock and its unwinding.
  std::function<bool(const Request&)> inline_candidate;
  // Requests by route template, method and status class, their latency, requests in flight
  // and waiting for a worker, open connections (null: not recorded).
  metrics::Registry* metrics = nullptr;
  // Called after each answer is written, on the connection's I/O thread: keep it quick.
  std::function<void(const Request&, const Response&)> on_answered;
  // Called once when shutdown begins (a signal or stop()), before anything else happens.
  std::function<void()> on_drain;
  // After SIGTERM or SIGINT: keep accepting and answering this long (on_drain has been called,
  // so readiness fails) before draining, so that a load balancer's health checks take the node
  // out of rotation before it stops accepting.
  int drain_delay_seconds = 0;
};

// Turns a request into a response; called on a worker thread.
using Dispatch = std::function<Response(Request&)>;

class Server {
 public:
  Server(ServerOptions options, Dispatch dispatch);
  ~Server();

  // Loads the TLS certificate and key (when set), binds and starts listening; returns false
  // (with `error`) if a file does not load or the address is taken.
  bool listen(std::string* error);
  std::uint16_t port() const;
  // Runs until stop() or SIGINT/SIGTERM (when handle_signals), then drains in-flight requests.
  void run(bool handle_signals);
  // Thread-safe: stop accepting, finish in-flight requests, return from run().
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace recur::http
