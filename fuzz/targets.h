// The fuzz targets' entry points: each takes arbitrary bytes and runs them through the code
// that reads outside input, checking what must hold on every input. The libFuzzer harnesses
// (fuzz/*_fuzzer.cc, `make fuzz`) call them under clang with ASan+UBSan; the unit test
// fuzz/corpus_test.cc replays every file of fuzz/corpus/<target>/ through them in the
// normal build. A broken invariant prints what broke and aborts.
#pragma once

#include <string_view>

namespace recur::fuzz {

// The bytes a connection sends, as the server reads them (platform/http/wire.h): up to
// eight pipelined requests, each a Request or a refusal rendered as problem+json.
void http_request(std::string_view bytes);

// A request body as the handlers read it: parse_json_object, then a FieldReader asking for
// every kind of field (text, integer, count, boolean, time, enum, currency, e-mail,
// metadata, nested object, array of objects), finish() and the 422's problem document.
void json_fields(std::string_view bytes);

// An inbound gateway webhook: the first line is the signature header, the rest the body.
// Stripe's timestamped scheme (verify_timestamped, StripeGateway), Square's
// (SquareGateway), PayPal's (refuses all), and the events' parsers behind them; a body
// signed by sign_timestamped must verify.
void webhook_signatures(std::string_view bytes);

}  // namespace recur::fuzz
