// A one-thread HTTP server on 127.0.0.1 that answers every request the same scripted way
// (a status and body, silence, or a dropped connection), or as a script decides per request,
// and keeps what it was sent, so tests can see how a gateway adapter reads a gateway's
// failures (and what it sends) without the gateway.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace recur::testing {

struct FaultAnswer {
  enum class Kind { kRespond, kHang, kClose };
  Kind kind = Kind::kRespond;
  int status = 200;
  std::string content_type = "application/json";
  std::string body;

  static FaultAnswer respond(int status, std::string body, std::string content_type = "application/json") {
    return {Kind::kRespond, status, std::move(content_type), std::move(body)};
  }
  // Reads the request and never answers (until the server stops): a gateway that hangs.
  static FaultAnswer hang() { return {Kind::kHang, 0, "", ""}; }
  // Reads the request and closes the connection without a word.
  static FaultAnswer close() { return {Kind::kClose, 0, "", ""}; }
};

// A request as the server read it.
struct SeenRequest {
  std::string method;
  std::string target;                          // "/v1/oauth2/token"
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class FaultServer {
 public:
  using Script = std::function<FaultAnswer(const SeenRequest&)>;
  explicit FaultServer(FaultAnswer answer);
  // Answers each request as `script` says (it runs on the server's thread).
  explicit FaultServer(Script script);
  ~FaultServer();
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests_seen() const { return requests_.load(); }
  std::vector<SeenRequest> seen() const;

 private:
  void serve();
  void answer(int client);
  bool wait_readable(int fd) const;  // false once the server is stopping

  Script script_;
  mutable std::mutex seen_mu_;
  std::vector<SeenRequest> seen_;
  int listener_ = -1;
  int wake_[2] = {-1, -1};  // a pipe: writing to it wakes every wait when the server stops
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace recur::testing
