// Request parsing: Beast's parser, its errors as refusals, its message as a Request.
#include "platform/http/wire.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cctype>

namespace recur::http {

namespace bhttp = boost::beast::http;

namespace {

// A request line ending in a well-formed version Beast does not speak ("HTTP/9.9", "HTTP/2.0").
bool names_another_http_version(std::string_view unread) {
  auto line = unread.substr(0, unread.find("\r\n"));
  auto version = line.substr(line.rfind(' ') + 1);
  return version.size() == 8 && version.substr(0, 5) == "HTTP/" && std::isdigit(static_cast<unsigned char>(version[5])) &&
         version[6] == '.' && std::isdigit(static_cast<unsigned char>(version[7]));
}

}  // namespace

void configure(RequestParser& parser, std::size_t body_limit) {
  parser.body_limit(body_limit);
  parser.header_limit(kHeaderLimit);
}

Request to_request(const RequestMessage& msg) {
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

Error body_too_large(std::size_t body_limit) {
  return Error::bad_request("payload_too_large",
                            "the request body exceeds the limit of " + std::to_string(body_limit) + " bytes");
}

std::optional<Error> refusal_for(const boost::system::error_code& ec, std::string_view unread, bool line_read) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) return std::nullopt;
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return std::nullopt;
  if (ec == bhttp::error::bad_version && !line_read && names_another_http_version(unread))
    return Error::bad_request("http_version_not_supported", "this server speaks HTTP/1.0 and HTTP/1.1");
  if (ec == bhttp::error::header_limit) {
    if (!line_read)
      return Error::bad_request("uri_too_long",
                                "the request line exceeds the limit of " + std::to_string(kHeaderLimit) + " bytes");
    return Error::bad_request("header_fields_too_large",
                              "the request's header exceeds the limit of " + std::to_string(kHeaderLimit) + " bytes");
  }
  if (ec == bhttp::error::bad_transfer_encoding || ec == bhttp::error::bad_content_length)
    return Error::bad_request("malformed_request",
                              "the request's framing is ambiguous or invalid (Content-Length with Transfer-Encoding, "
                              "or a bad Content-Length or Transfer-Encoding)");
  return Error::bad_request("malformed_request", "the request is not valid HTTP/1.1 (" + ec.message() + ")");
}

// As bhttp::async_read does on a connection that has sent `bytes` and closed: an eager
// parser fed what is left until the message is done; when it needs more (need_more, or no
// progress), the next read would meet the end of the stream. The parser must never be fed
// the same bytes again after need_more: it expects more (a Beast assertion said so when an
// earlier version of this loop did; input fuzz/corpus/http_request/regress-need-more-refed).
WireRequest read_request(std::string_view bytes, std::size_t body_limit) {
  RequestParser parser;
  configure(parser, body_limit);
  parser.eager(true);
  std::string_view rest = bytes;
  boost::system::error_code ec;
  while (!parser.is_done()) {
    std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (ec == bhttp::error::need_more || (!ec && used == 0 && !parser.is_done())) {
      ec = {};
      if (parser.got_some()) parser.put_eof(ec);
      else ec = bhttp::error::end_of_stream;
      if (!ec && !parser.is_done()) ec = bhttp::error::partial_message;
    }
    if (ec) break;
  }
  WireRequest out;
  out.consumed = bytes.size() - rest.size();
  if (ec == bhttp::error::body_limit) {
    out.refusal = body_too_large(body_limit);
    return out;
  }
  if (ec) {
    out.refusal = refusal_for(ec, rest, !parser.get().target().empty());
    return out;
  }
  out.request = to_request(parser.get());
  out.keep_alive = parser.get().keep_alive();
  out.version = parser.get().version();
  return out;
}

}  // namespace recur::http
