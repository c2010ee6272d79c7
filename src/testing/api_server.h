// The whole HTTP API of one App on a free local port, for in-process API tests: a real
// server and the App's real pipeline. Stops and joins its thread when destroyed.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <thread>

#include "app/app.h"
#include "platform/http/server.h"

namespace recur::testing {

class ApiServer {
 public:
  explicit ApiServer(app::App& app, int worker_threads = 2, std::size_t body_limit = 1 << 20)
      : server_(options(worker_threads, body_limit), [&app](http::Request& r) { return app.pipeline().handle(r); }) {
    std::string error;
    if (!server_.listen(&error)) throw std::runtime_error("test API server: " + error);
    runner_ = std::thread([this] { server_.run(false); });
  }
  ~ApiServer() {
    server_.stop();
    runner_.join();
  }
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  unsigned short port() const { return server_.port(); }

 private:
  static http::ServerOptions options(int worker_threads, std::size_t body_limit) {
    http::ServerOptions o;
    o.port = 0;
    o.io_threads = 1;
    o.worker_threads = worker_threads;
    o.body_limit = body_limit;
    o.access_log = false;
    return o;
  }

  http::Server server_;
  std::thread runner_;
};

}  // namespace recur::testing
