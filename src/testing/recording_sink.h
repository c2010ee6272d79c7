// A local HTTP sink (recur's own server on a free 127.0.0.1 port) that records every request
// it receives: what webhooks, alerts and the like are sent to in tests.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "platform/http/server.h"

namespace recur::testing {

// Answers `status` after `delay_ms`.
class RecordingSink {
 public:
  RecordingSink() {
    http::ServerOptions o;
    o.port = 0;
    o.io_threads = 1;
    o.worker_threads = 2;
    o.access_log = false;
    server_ = std::make_unique<http::Server>(o, [this](http::Request& request) {
      // Bounded: the longest delay a test sets is under 2 s.
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
      {
        std::lock_guard lock(mu_);
        received_.push_back(request);
      }
      http::Response response;
      response.status = status.load();
      response.body = "ok";
      response.content_type = "text/plain";
      return response;
    });
    std::string error;
    if (!server_->listen(&error)) throw std::runtime_error("sink does not listen: " + error);
    runner_ = std::thread([this] { server_->run(false); });
  }
  ~RecordingSink() {
    server_->stop();
    runner_.join();
  }

  std::uint16_t port() const { return server_->port(); }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port()) + path; }
  std::vector<http::Request> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::vector<http::Request> received_at(const std::string& path) {
    std::vector<http::Request> out;
    for (auto& r : received())
      if (r.path == path) out.push_back(std::move(r));
    return out;
  }

  std::atomic<int> status{200};
  std::atomic<int> delay_ms{0};

 private:
  std::unique_ptr<http::Server> server_;
  std::thread runner_;
  std::mutex mu_;
  std::vector<http::Request> received_;
};

}  // namespace recur::testing
