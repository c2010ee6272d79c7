// The bytes of one HTTP/1.x request as a Request, or the refusal the server answers with
// instead: what a connection's session does between reading and dispatching, without the
// socket. Beast parses; this file sets the parser up, maps its errors onto problem codes
// and turns its message into a Request. read_request() runs the whole path on bytes in
// memory (the fuzzer's entry point, fuzz/http_request_fuzzer.cc, and the unit tests').
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "platform/http/message.h"
#include "platform/result.h"

namespace recur::http {

// The request line and the header fields together, at most.
inline constexpr std::size_t kHeaderLimit = 16 * 1024;

using RequestMessage = boost::beast::http::request<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// The parser's limits as the server sets them on every request.
void configure(RequestParser& parser, std::size_t body_limit);

// Method, decoded path and query, header names lower-cased, body.
Request to_request(const RequestMessage& msg);

Error body_too_large(std::size_t body_limit);

// A refusal is an ErrorKind::kBadRequest error whose code the pipeline's problem() maps to
// its status (413, 414, 431, 505 or 400): the server answers it before the pipeline sees
// the request.
// The refusal for a parser error other than body_limit, or nullopt when there is nobody to
// answer (the client closed: end_of_stream, partial_message; or an error that is not the
// parser's). `unread`: the bytes the parser has not consumed (Beast consumes the request
// line, then each field, as each is complete); `line_read`: the request line was.
std::optional<Error> refusal_for(const boost::system::error_code& ec, std::string_view unread, bool line_read);

// One request read from `bytes` as the server reads it from a connection that sends them
// and then closes: a request, a refusal, or neither (the bytes end before a request does).
struct WireRequest {
  std::optional<Request> request;
  std::optional<Error> refusal;
  bool keep_alive = false;
  unsigned version = 11;
  std::size_t consumed = 0;  // bytes of `bytes` the request took (a next one may follow)
};
WireRequest read_request(std::string_view bytes, std::size_t body_limit);

}  // namespace recur::http
