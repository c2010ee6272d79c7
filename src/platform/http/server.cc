// Beast/Asio transport. One io_context per I/O thread (connections are dealt to them in
// turn, so a connection's handlers never cross threads or wake another I/O thread); one
// coroutine per connection on its own strand; each request is handed to the worker pool
// (co_spawn) and the answer written back on the strand, unless the dispatcher answers it
// on the I/O thread (answer_inline).
#include <utility>  // Boost 1.74's awaitable.hpp needs it first

#include "platform/http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_set>
#include <vector>

#include "platform/blocking.h"
#include "platform/http/pipeline.h"
#include "platform/ids.h"

namespace recur::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool busy = false;  // a request is being handled; touched only on the connection's strand
};

Request to_request(const bhttp::request<bhttp::string_body>& msg) {
  Request req;
  req.method = std::string(msg.method_string());
  std::string_view target(msg.target().data(), msg.target().size());
  auto q = target.find('?');
  req.path = url_decode(target.substr(0, q), false);
  if (q != std::string_view::npos) req.query = parse_query(target.substr(q + 1));
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  req.body = msg.body();
  return req;
}

bhttp::response<bhttp::string_body> to_message(const Response& res, unsigned version, bool keep_alive, bool head) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
  out.set(bhttp::field::server, "recur");
  if (!res.content_type.empty()) out.set(bhttp::field::content_type, res.content_type);
  for (const auto& [name, value] : res.headers) out.insert(name, value);
  out.keep_alive(keep_alive);
  if (head) {
    out.content_length(res.body.size());  // what a GET would send, without the bytes
    return out;
  }
  out.body() = res.body;
  out.prepare_payload();
  return out;
}

// Refused before the pipeline sees it, so it gets its request id here.
Response too_large(std::size_t limit) {
  std::string request_id = "req_" + random_token(12);
  Response r = problem(Error{ErrorKind::kBadRequest, "payload_too_large",
                             "the request body exceeds the limit of " + std::to_string(limit) + " bytes", {}, {}},
                       request_id);
  r.set_header("X-Request-Id", request_id);
  return r;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, Dispatch d)
      : options(std::move(o)), dispatch(std::move(d)), iocs(make_contexts(options.io_threads)), ioc(*iocs.front()),
        workers(options.worker_threads), acceptor(ioc), signals(ioc) {}

  static std::vector<std::unique_ptr<asio::io_context>> make_contexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (int i = 0; i < std::max(1, n); ++i) out.push_back(std::make_unique<asio::io_context>(1));  // one thread each
    return out;
  }

  ServerOptions options;
  Dispatch dispatch;
  std::vector<std::unique_ptr<asio::io_context>> iocs;  // one per I/O thread
  asio::io_context& ioc;  // the first: acceptor, signals, shutdown
  std::size_t next_context = 0;  // touched by the accept loop only
  asio::thread_pool workers;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::unordered_set<std::shared_ptr<Connection>> connections;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto& home = *iocs[next_context++ % iocs.size()];
      tcp::socket socket = co_await acceptor.async_accept(asio::make_strand(home),
                                                          asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket));
      {
        std::lock_guard lock(mu);
        connections.insert(conn);
      }
      auto executor = conn->stream.get_executor();
      asio::co_spawn(executor, session(conn), asio::detached);
    }
  }

  // The dispatcher must always answer: an exception becomes a 500, never a dead connection.
  Response guarded_dispatch(Request& request) {
    try {
      return dispatch(request);
    } catch (const std::exception& e) {
      return problem(Error::internal(std::string("dispatch failed: ") + e.what()), request.request_id);
    }
  }

  // The first try at a GET or HEAD, on this I/O thread: the dispatcher either answers
  // without blocking (a cache hit) or throws WouldBlock before it has done anything, and
  // the request goes to the worker pool as usual. Saves two thread hand-offs per answer.
  bool answer_inline(Request& request, Response& response) {
    if (request.method != "GET" && request.method != "HEAD") return false;
    NonBlockingScope scope;
    try {
      response = guarded_dispatch(request);
      return true;
    } catch (const WouldBlock&) {
      request.principal.reset();  // what the pipeline established is established again
      request.path_params.clear();
      return false;
    }
  }

  // Forgets the connection however the session ends.
  struct Registration {
    Impl* impl;
    std::shared_ptr<Connection> conn;
    ~Registration() {
      std::lock_guard lock(impl->mu);
      impl->connections.erase(conn);
    }
  };

  asio::awaitable<void> session(std::shared_ptr<Connection> conn) {
    Registration registration{this, conn};
    beast::flat_buffer buffer;
    while (!stopping) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options.body_limit);
      parser.header_limit(16 * 1024);
      conn->busy = false;
      conn->stream.expires_after(std::chrono::seconds(options.read_timeout_seconds));
      boost::system::error_code ec;
      co_await bhttp::async_read(conn->stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::body_limit) {
        Response res = too_large(options.body_limit);
        co_await write(*conn, res, parser.get().version(), false, false);
        break;
      }
      if (ec) break;
      conn->busy = true;
      auto started = std::chrono::steady_clock::now();
      Request request = to_request(parser.get());
      bool keep_alive = parser.get().keep_alive() && !stopping;
      Response response;
      if (!options.answer_inline || !answer_inline(request, response))
        response = co_await asio::co_spawn(
            workers, [this, &request]() -> asio::awaitable<Response> { co_return guarded_dispatch(request); },
            asio::use_awaitable);
      bool head = request.method == "HEAD";
      bool written = co_await write(*conn, response, parser.get().version(), keep_alive, head);
      log_access(request, response, started);
      if (!written || !keep_alive) break;
    }
    boost::system::error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<bool> write(Connection& conn, const Response& response, unsigned version, bool keep_alive,
                              bool head) {
    auto message = to_message(response, version, keep_alive, head);
    conn.stream.expires_after(std::chrono::seconds(options.read_timeout_seconds));
    boost::system::error_code ec;
    co_await bhttp::async_write(conn.stream, message, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  void log_access(const Request& req, const Response& res, std::chrono::steady_clock::time_point started) const {
    if (!options.access_log) return;
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    nlohmann::json line = {{"type", "access"},         {"request_id", req.request_id},
                           {"method", req.method},     {"path", req.path},
                           {"status", res.status},     {"duration_ms", micros.count() / 1000.0},
                           {"bytes", res.body.size()}, {"key", req.principal ? req.principal->key_id : ""}};
    spdlog::info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  // Stop accepting; wake idle keep-alive connections so they close; let busy ones finish.
  void begin_shutdown() {
    if (stopping.exchange(true)) return;
    asio::post(ioc, [this] {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      signals.cancel(ignored);
      std::lock_guard lock(mu);
      for (const auto& conn : connections)
        asio::post(conn->stream.get_executor(), [conn] {
          if (!conn->busy) conn->stream.cancel();
        });
    });
    drain(std::chrono::steady_clock::now() + std::chrono::seconds(options.shutdown_grace_seconds));
  }

  void drain(std::chrono::steady_clock::time_point deadline) {
    auto timer = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(20));
    timer->async_wait([this, timer, deadline](const boost::system::error_code&) {
      bool empty;
      {
        std::lock_guard lock(mu);
        empty = connections.empty();
      }
      if (empty || std::chrono::steady_clock::now() > deadline) {
        for (auto& context : iocs) context->stop();
        return;
      }
      drain(deadline);
    });
  }
};

Server::Server(ServerOptions options, Dispatch dispatch)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(dispatch))) {}

Server::~Server() {
  impl_->workers.join();
}

bool Server::listen(std::string* error) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) {
    *error = "invalid listen address '" + impl_->options.host + "': " + ec.message();
    return false;
  }
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + impl_->options.host + ":" + std::to_string(impl_->options.port) + ": " +
             ec.message();
    return false;
  }
  return true;
}

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::run(bool handle_signals) {
  auto& impl = *impl_;
  if (handle_signals) {
    impl.signals.add(SIGINT);
    impl.signals.add(SIGTERM);
    impl.signals.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      spdlog::info("signal {} received: draining in-flight requests", signo);
      impl_->begin_shutdown();
    });
  }
  asio::co_spawn(impl.ioc, impl.accept_loop(), asio::detached);
  // The other contexts have no work until a connection arrives: keep them running until stop.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> idle;
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl.iocs.size(); ++i) {
    idle.push_back(asio::make_work_guard(*impl.iocs[i]));
    threads.emplace_back([context = impl.iocs[i].get()] { context->run(); });
  }
  impl.ioc.run();
  for (auto& context : impl.iocs) context->stop();  // run() may also end for lack of work
  for (auto& t : threads) t.join();
  impl.workers.join();
}

void Server::stop() { impl_->begin_shutdown(); }

}  // namespace recur::http
