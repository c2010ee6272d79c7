// What the HTTP gateway adapters share: the injected HTTP exchange, and the one rule for
// answers that settle nothing (no answer, a server fault, throttling, a body that is not JSON).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "gateways/gateway.h"
#include "platform/base64.h"
#include "platform/json.h"
#include "platform/net/http_client.h"
#include "platform/result.h"

namespace recur::gateways {

// One HTTP request and its answer: net::send in production; tests wrap it to watch the
// requests, or replace it to answer from recordings.
using Transport = std::function<Result<net::HttpResponse>(const net::HttpRequest&)>;

// An answer Recur can read: a status that is not a server fault, with a JSON object body.
struct Reply {
  long status = 0;
  Json body;
  bool succeeded() const { return status >= 200 && status < 300; }
  // 401/403: the gateway refused Recur's own credentials. Nothing moved, but the caller's
  // request was not at fault either: a charge stays unknown (retried with the same key
  // once the credentials are fixed) rather than failing a customer for Recur's mistake.
  bool credentials_refused() const { return status == 401 || status == 403; }
};

// The reply, or ErrorKind::kUnavailable with code "timeout" (no answer in time) or
// "gateway_error" (transport failure, 5xx, 429, a body that is not a JSON object): for
// a charge these all mean the money may or may not have moved.
Result<Reply> read_reply(const Result<net::HttpResponse>& response);

// Outcome::kUnknown results saying why (the error's code and message).
ChargeResult unknown_charge(const Error& why);
RefundResult unknown_refund(const Error& why);

// `object[key]`, or null when `object` is not an object or has no such key.
const Json& member_of(const Json& object, std::string_view key);
// `object[key]` when it is a string, else "" (gateways send null for absent values).
std::string text_of(const Json& object, std::string_view key);
// `object[key]` when it is an integer (or a string of digits, as Square sends some), else 0.
std::int64_t integer_of(const Json& object, std::string_view key);

// Standard base64 with padding (Square's signatures, PayPal's Basic credentials).
using recur::base64;
// ASCII case changes: gateways' upper-case codes and currencies.
std::string lower_case(std::string text);
std::string upper_case(std::string text);
// At most `max` bytes, cut before a UTF-8 continuation byte so the text stays valid.
std::string truncated_utf8(std::string text, std::size_t max);

// Recur's name for a card brand as a gateway spells it ("visa", "AMERICAN_EXPRESS",
// "CHINA_UNION_PAY"): Stripe's lower-case names (api/openapi.yaml, CardDetails.brand), and
// "unknown" for a brand Recur has no name for, so that a card's brand is always one the
// spec lists.
std::string card_brand(std::string_view gateway_brand);

}  // namespace recur::gateways
