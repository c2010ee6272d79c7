// Beast/Asio transport. One io_context per I/O thread (connections are dealt to them in
// turn, so a connection's handlers never cross threads or wake another I/O thread); one
// coroutine per connection on its own strand; each request is handed to the worker pool
// (co_spawn) and the answer written back on the strand, unless the dispatcher answers it
// on the I/O thread (answer_inline).
#include <utility>  // Boost 1.74's awaitable.hpp needs it first

#include "platform/http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <optional>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "platform/blocking.h"
#include "platform/card_number.h"
#include "platform/http/pipeline.h"
#include "platform/http/security_headers.h"
#include "platform/http/wire.h"
#include "platform/ids.h"

namespace recur::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Connection {
  Connection(tcp::socket socket, std::string address) : stream(std::move(socket)), remote_address(std::move(address)) {}
  beast::tcp_stream stream;  // under TLS, the layer below the TLS stream
  const std::string remote_address;
  // Written on the connection's strand; the accept loop reads them to pick whom to close.
  std::atomic<bool> busy{false};             // a request is being read to its end or handled
  std::atomic<std::int64_t> idle_since{0};   // steady clock, ns: when it began to wait for a request
  std::atomic<bool> evicted{false};          // asked to close to make room
};

// At most one warning per period; how many were held back is said in the next one.
class RateLimitedWarning {
 public:
  explicit RateLimitedWarning(std::chrono::seconds period) : period_(period) {}
  void note(const std::string& what) {
    auto now = std::chrono::steady_clock::now();
    if (logged_ && now - last_ < period_) {
      ++held_back_;
      return;
    }
    if (held_back_ > 0)
      spdlog::warn("{} ({} more in the last {} s)", what, held_back_,
                   std::chrono::duration_cast<std::chrono::seconds>(now - last_).count());
    else
      spdlog::warn("{}", what);
    logged_ = true;
    last_ = now;
    held_back_ = 0;
  }

 private:
  std::chrono::seconds period_;
  bool logged_ = false;
  std::chrono::steady_clock::time_point last_;
  std::uint64_t held_back_ = 0;
};

// Waits between failed accepts: 10 ms, doubling to 1 s; back to 10 ms after a success.
// A failing accept (EMFILE) fails again at once: retrying without a pause spins a core.
class AcceptBackoff {
 public:
  std::chrono::milliseconds next() {
    auto wait = wait_;
    wait_ = std::min(wait_ * 2, std::chrono::milliseconds(1000));
    return wait;
  }
  void reset() { wait_ = std::chrono::milliseconds(10); }

 private:
  std::chrono::milliseconds wait_{10};
};

bhttp::response<bhttp::string_body> to_message(const Response& res, unsigned version, bool keep_alive, bool head,
                                               bool tls) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
  out.set(bhttp::field::server, "recur");
  if (!res.content_type.empty()) out.set(bhttp::field::content_type, res.content_type);
  for (const auto& [name, value] : res.headers) out.insert(name, value);
  for (const auto& [name, value] : missing_security_headers(res, tls)) out.insert(name, value);
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
Response refusal(const Error& refused) {
  std::string request_id = "req_" + random_token(12);
  Response r = problem(refused, request_id);
  r.set_header("X-Request-Id", request_id);
  return r;
}

Response too_large(std::size_t limit) {
  return refusal(body_too_large(limit));
}

// The answer to a request the parser refused (platform/http/wire.h), or nullopt when there
// is nobody to answer (the client closed).
std::optional<Response> answer_to_unparsable(const boost::system::error_code& ec, std::string_view unread,
                                             bool line_read) {
  auto refused = refusal_for(ec, unread, line_read);
  if (!refused) return std::nullopt;
  return refusal(*refused);
}

// Mozilla's "intermediate" TLS 1.2 suites: ECDHE key exchange with an AEAD cipher, nothing
// with CBC, RC4 or 3DES. TLS 1.3's suites are all AEAD (OpenSSL's defaults are kept).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

bool load_tls(ssl::context& ctx, const std::string& cert_file, const std::string& key_file, std::string* error) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                  ssl::context::single_dh_use);
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    *error = "cannot configure TLS (OpenSSL refused the protocol version or ciphers)";
    return false;
  }
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) {
    *error = "cannot load the TLS certificate chain " + cert_file + ": " + ec.message();
    return false;
  }
  ctx.use_private_key_file(key_file, ssl::context::pem, ec);
  if (!ec && SSL_CTX_check_private_key(native) != 1) ec = asio::error::invalid_argument;
  if (ec) {
    *error = "cannot load the TLS private key " + key_file + " (or it does not match the certificate): " + ec.message();
    return false;
  }
  return true;
}

// The method as a label: the ones HTTP defines, anything else "other" (a client chooses it).
std::string method_label(const std::string& method) {
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
    if (method == known) return method;
  return "other";
}

std::string status_class(int status) {
  if (status < 100 || status > 599) return "other";
  return std::to_string(status / 100) + "xx";
}

// +1 on a gauge while it lives.
class GaugeHold {
 public:
  explicit GaugeHold(metrics::Gauge& gauge) : gauge_(gauge) { gauge_.add(1); }
  ~GaugeHold() { gauge_.add(-1); }
  GaugeHold(const GaugeHold&) = delete;
  GaugeHold& operator=(const GaugeHold&) = delete;

 private:
  metrics::Gauge& gauge_;
};

// What the server records into the registry (ServerOptions::metrics).
struct HttpMetrics {
  explicit HttpMetrics(metrics::Registry& r)
      : requests(r.counter("recur_http_requests_total",
                           "HTTP requests answered, by route template, method and status class. Route (unmatched): no "
                           "route matched; (refused): the request could not be read.",
                           {"route", "method", "status"})),
        duration(r.histogram("recur_http_request_duration_seconds",
                             "Seconds from a request read to its answer written, by route template and method.",
                             {"route", "method"}, metrics::request_seconds_buckets())),
        in_flight(r.gauge("recur_http_requests_in_flight", "Requests read and not yet answered.").only()),
        queued(r.gauge("recur_http_worker_queue_depth", "Requests waiting for a free worker thread.").only()),
        connections(r.gauge("recur_http_connections_open", "Open client connections.").only()) {}

  void answered(const std::string& route, const std::string& method, int status, double seconds) {
    std::string route_label = route.empty() ? "(unmatched)" : route;
    std::string method_name = method_label(method);
    requests.with({route_label, method_name, status_class(status)}).inc();
    duration.with({route_label, method_name}).observe(seconds);
  }

  metrics::CounterFamily& requests;
  metrics::HistogramFamily& duration;
  metrics::Gauge& in_flight;
  metrics::Gauge& queued;
  metrics::Gauge& connections;
};

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, Dispatch d)
      : options(std::move(o)),
        dispatch(std::move(d)),
        iocs(make_contexts(options.io_threads)),
        ioc(*iocs.front()),
        workers(options.worker_threads),
        acceptor(ioc),
        signals(ioc) {
    if (options.metrics) metrics.emplace(*options.metrics);
  }

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
  asio::steady_timer pause{ioc};  // the accept loop's wait: backoff, or room at the cap
  std::atomic<bool> stopping{false};
  std::optional<ssl::context> tls;  // set by listen() when a certificate is configured
  std::mutex mu;
  std::unordered_set<std::shared_ptr<Connection>> connections;
  std::unordered_map<std::string, std::size_t> connections_per_ip;  // under mu
  std::optional<HttpMetrics> metrics;                               // with ServerOptions::metrics
  std::atomic<bool> drain_announced{false};
  asio::steady_timer drain_delay{ioc};

  asio::awaitable<void> accept_loop() {
    AcceptBackoff backoff;
    RateLimitedWarning warning(std::chrono::seconds(5));
    for (;;) {
      co_await wait_for_room();
      if (stopping) co_return;
      boost::system::error_code ec;
      auto& home = *iocs[next_context++ % iocs.size()];
      tcp::socket socket = co_await acceptor.async_accept(asio::make_strand(home),
                                                          asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        warning.note("accept failed: " + ec.message());
        // Out of file descriptors: an idle keep-alive connection gives one back.
        if (ec == asio::error::no_descriptors || ec.value() == ENFILE) evict_oldest_idle();
        co_await pause_for(backoff.next());
        continue;
      }
      backoff.reset();
      auto peer = socket.remote_endpoint(ec);
      if (ec) continue;  // gone already
      auto address = peer.address();
      if (address.is_v6() && address.to_v6().is_v4_mapped())  // a dual-stack listener's IPv4 peer
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
      auto conn = std::make_shared<Connection>(std::move(socket), address.to_string());
      conn->idle_since = steady_now_ns();
      if (!admit(conn)) {
        // Addresses are personal data: the warning says how many, not whose.
        warning.note("connection refused: " + std::to_string(options.max_connections_per_ip) +
                     " connections already open from its address (--max-connections-per-ip)");
        conn->stream.socket().close(ec);
        continue;
      }
      auto executor = conn->stream.get_executor();
      asio::co_spawn(executor, session(conn), asio::detached);
    }
  }

  // Registers the connection, unless its address already holds max_connections_per_ip.
  bool admit(const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(mu);
    auto& from_address = connections_per_ip[conn->remote_address];
    if (options.max_connections_per_ip > 0 && from_address >= options.max_connections_per_ip) {
      if (from_address == 0) connections_per_ip.erase(conn->remote_address);
      return false;
    }
    ++from_address;
    connections.insert(conn);
    if (metrics) metrics->connections.add(1);
    return true;
  }

  // Sleeps on `pause`; a connection that ends (or shutdown) cuts it short.
  asio::awaitable<void> pause_for(std::chrono::milliseconds wait) {
    pause.expires_after(wait);
    boost::system::error_code ignored;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

  std::size_t open_connections() {
    std::lock_guard lock(mu);
    return connections.size();
  }

  // At the cap, new connections wait in the listen backlog while the longest-idle keep-alive
  // connection is closed (see docs/decisions/0011-connection-cap.md).
  asio::awaitable<void> wait_for_room() {
    while (!stopping && options.max_connections > 0 && open_connections() >= options.max_connections) {
      evict_oldest_idle();
      co_await pause_for(std::chrono::milliseconds(100));
    }
  }

  // Closes the connection that has waited longest for its next request. One at a time: the
  // accept loop asks again if room does not come.
  void evict_oldest_idle() {
    std::shared_ptr<Connection> oldest;
    {
      std::lock_guard lock(mu);
      for (const auto& conn : connections) {
        if (conn->busy || conn->evicted) continue;
        if (!oldest || conn->idle_since < oldest->idle_since) oldest = conn;
      }
      if (!oldest) return;
      oldest->evicted = true;
    }
    asio::post(oldest->stream.get_executor(), [oldest] {
      if (oldest->busy) oldest->evicted = false;  // a request came in: it stays
      else oldest->stream.cancel();
    });
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
    try {
      if (options.inline_candidate && !options.inline_candidate(request)) return false;
    } catch (const std::exception&) {
      return false;  // the pool answers it
    }
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

  // Forgets the connection however the session ends, and wakes an accept loop waiting for room.
  struct Registration {
    Impl* impl;
    std::shared_ptr<Connection> conn;
    ~Registration() {
      std::lock_guard lock(impl->mu);
      if (impl->connections.erase(conn) && impl->metrics) impl->metrics->connections.add(-1);
      auto from_address = impl->connections_per_ip.find(conn->remote_address);
      if (from_address != impl->connections_per_ip.end() && --from_address->second == 0)
        impl->connections_per_ip.erase(from_address);
      if (!impl->stopping) asio::post(impl->ioc, [impl = impl] { impl->pause.cancel(); });
    }
  };

  asio::awaitable<void> session(std::shared_ptr<Connection> conn) {
    Registration registration{this, conn};
    if (!tls) {
      co_await serve_requests(*conn, conn->stream);
    } else {
      // A client that does not complete a TLS 1.2+ handshake (plain HTTP, TLS 1.0) is closed.
      beast::ssl_stream<beast::tcp_stream&> stream(conn->stream, *tls);
      conn->stream.expires_after(std::chrono::seconds(options.read_timeout_seconds));
      boost::system::error_code ec;
      co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) co_await serve_requests(*conn, stream);
    }
    boost::system::error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  // Reads and answers requests on `stream` (the connection's own, or TLS over it) until the
  // client closes, the server stops, or the connection is not kept alive.
  template <class Stream>
  asio::awaitable<void> serve_requests(Connection& conn, Stream& stream) {
    beast::flat_buffer buffer;
    while (!stopping) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options.body_limit);
      parser.header_limit(kHeaderLimit);
      conn.idle_since = steady_now_ns();
      conn.busy = false;
      if (conn.evicted) break;  // closed to make room while the last answer was written
      conn.stream.expires_after(std::chrono::seconds(options.read_timeout_seconds));
      boost::system::error_code ec;
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      conn.busy = true;
      // Every request the parser refuses gets an answer before the connection closes.
      if (ec == bhttp::error::body_limit) {
        co_await refuse(conn, stream, too_large(options.body_limit));
        break;
      }
      if (ec) {
        std::string_view unread(static_cast<const char*>(buffer.data().data()), buffer.size());
        bool line_read = !parser.get().target().empty();
        if (auto answer = answer_to_unparsable(ec, unread, line_read)) co_await refuse(conn, stream, *answer);
        break;
      }
      auto started = std::chrono::steady_clock::now();
      Request request = to_request(parser.get());
      request.remote_address = conn.remote_address;
      bool keep_alive = parser.get().keep_alive() && !stopping;
      // In flight until this iteration ends, however it ends (an exception included).
      std::optional<GaugeHold> in_flight;
      if (metrics) in_flight.emplace(metrics->in_flight);
      Response response;
      if (!options.answer_inline || !answer_inline(request, response)) {
        if (metrics) metrics->queued.add(1);
        response = co_await asio::co_spawn(
            workers,
            [this, &request]() -> asio::awaitable<Response> {
              if (metrics) metrics->queued.add(-1);  // a worker has it
              co_return guarded_dispatch(request);
            },
            asio::use_awaitable);
      }
      bool head = request.method == "HEAD";
      bool written = co_await write(conn, stream, response, parser.get().version(), keep_alive, head);
      log_access(request, response, started);
      answered(request, response, started);
      if (!written || !keep_alive) break;
    }
  }

  // Answers, then closes gracefully: stop sending, and read (and drop) what the client still
  // sends for a moment, so the close does not reset the connection before the answer is read.
  template <class Stream>
  asio::awaitable<void> refuse(Connection& conn, Stream& stream, const Response& response) {
    if (metrics) metrics->answered("(refused)", "other", response.status, 0);
    if (!co_await write(conn, stream, response, 11, false, false)) co_return;
    boost::system::error_code ec;
    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    conn.stream.expires_after(std::chrono::seconds(1));
    std::array<char, 4096> sink;
    for (std::size_t drained = 0; !ec && drained < (1u << 20);)
      drained += co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
  }

  template <class Stream>
  asio::awaitable<bool> write(Connection& conn, Stream& stream, const Response& response, unsigned version,
                              bool keep_alive, bool head) {
    auto message = to_message(response, version, keep_alive, head, tls.has_value());
    conn.stream.expires_after(std::chrono::seconds(options.read_timeout_seconds));
    boost::system::error_code ec;
    co_await bhttp::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  void answered(const Request& request, const Response& response, std::chrono::steady_clock::time_point started) {
    if (metrics) {
      std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started;
      metrics->answered(request.route, request.method, response.status, seconds.count());
    }
    if (options.on_answered) options.on_answered(request, response);
  }

  // Tells the owner once that shutdown has begun (readiness fails from then on).
  void announce_drain() {
    if (!drain_announced.exchange(true) && options.on_drain) options.on_drain();
  }

  void log_access(const Request& req, const Response& res, std::chrono::steady_clock::time_point started) const {
    if (!options.access_log) return;
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    nlohmann::json line = {{"type", "access"},         {"request_id", req.request_id},
                           {"method", req.method},     {"path", redact_pans(req.path)},
                           {"status", res.status},     {"duration_ms", micros.count() / 1000.0},
                           {"bytes", res.body.size()}, {"key", req.principal ? req.principal->key_id : ""}};
    spdlog::info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  // Stop accepting; wake idle keep-alive connections so they close; let busy ones finish.
  void begin_shutdown() {
    announce_drain();
    if (stopping.exchange(true)) return;
    asio::post(ioc, [this] {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      signals.cancel(ignored);
      pause.cancel();
      drain_delay.cancel();
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
  const auto& o = impl_->options;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    *error = "TLS needs both a certificate and a key file";
    return false;
  }
  if (!o.tls_cert_file.empty()) {
    impl_->tls.emplace(ssl::context::tls_server);
    if (!load_tls(*impl_->tls, o.tls_cert_file, o.tls_key_file, error)) return false;
  }
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
    impl.signals.async_wait([&impl](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (impl.options.drain_delay_seconds <= 0) {
        spdlog::info("signal {} received: draining in-flight requests", signo);
        impl.begin_shutdown();
        return;
      }
      spdlog::info("signal {} received: not ready from now; draining in {} s", signo, impl.options.drain_delay_seconds);
      impl.announce_drain();
      impl.drain_delay.expires_after(std::chrono::seconds(impl.options.drain_delay_seconds));
      impl.drain_delay.async_wait([&impl](const boost::system::error_code&) { impl.begin_shutdown(); });
      // A second signal does not wait out the delay.
      impl.signals.async_wait([&impl](const boost::system::error_code& again, int) {
        if (!again) impl.begin_shutdown();
      });
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
