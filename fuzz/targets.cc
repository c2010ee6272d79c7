// The fuzz targets (fuzz/targets.h).
#include "targets.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "gateways/paypal.h"
#include "gateways/signature.h"
#include "gateways/square.h"
#include "gateways/stripe.h"
#include "platform/card_number.h"
#include "platform/http/pipeline.h"
#include "platform/http/wire.h"
#include "platform/json.h"

namespace recur::fuzz {
namespace {

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

// The problem document every refusal becomes: a JSON object naming its code.
void render(const Error& error) {
  http::Response r = http::problem(error, "req_fuzz");
  check(r.status >= 400 && r.status < 600, "a problem's status is 4xx or 5xx");
  Json doc = Json::parse(r.body, nullptr, false);
  check(doc.is_object() && doc.value("code", "") == error.code, "a problem document carries its code");
}

}  // namespace

void http_request(std::string_view bytes) {
  constexpr std::size_t kBodyLimit = 1024;  // small, so the fuzzer reaches it
  for (int n = 0; n < 8 && !bytes.empty(); ++n) {
    http::WireRequest got = http::read_request(bytes, kBodyLimit);
    check(got.consumed <= bytes.size(), "a request consumes no more than it was given");
    check(!(got.request && got.refusal), "a request or a refusal, not both");
    if (got.refusal) {
      check(got.refusal->kind == ErrorKind::kBadRequest, "a refusal is a bad request");
      render(*got.refusal);
      return;  // the server closes the connection
    }
    if (!got.request) return;  // the client closed
    const http::Request& req = *got.request;
    check(!req.method.empty(), "a request has a method");
    check(req.body.size() <= kBodyLimit, "a body within the limit");
    for (const auto& [name, value] : req.headers)
      for (char c : name) check(!(c >= 'A' && c <= 'Z'), "header names are lower-case");
    (void)req.header("content-type");
    (void)req.query_param("limit");
    (void)redact_pans(req.path);  // the access log's path
    if (!got.keep_alive || got.consumed == 0) return;
    bytes.remove_prefix(got.consumed);
  }
}

void json_fields(std::string_view bytes) {
  auto parsed = parse_json_object(bytes);
  if (!parsed.ok()) {
    check(parsed.error().kind == ErrorKind::kBadRequest || parsed.error().kind == ErrorKind::kInvalid,
          "an unreadable body is a 400 or a 422");
    render(parsed.error());
    return;
  }
  const Json& doc = *parsed;
  check(doc.is_object(), "a parsed body is an object");
  FieldReader fields(doc);
  (void)fields.text("name", true);
  (void)fields.text("description", false, 2000, 0);
  (void)fields.integer("amount", false, 0, 99'999'999'999);
  (void)fields.integer("offset", false, -1000, 1000);
  (void)fields.count_or_null("max_cycles", 1000, "no limit");
  (void)fields.boolean("active", false);
  (void)fields.timestamp("starts_at", false);
  (void)fields.one_of("interval", false, {"day", "week", "month", "year"});
  (void)fields.currency("currency", false);
  (void)fields.email("email", false);
  (void)fields.metadata("metadata");
  if (const Json* address = fields.object("address", false)) {
    FieldReader nested(*address, "address");
    (void)nested.text("line1", true, 200);
    (void)nested.text("country", true, 2, 2);
    fields.absorb(nested);
  }
  if (const Json* items = fields.array("items", false, 20)) {
    for (std::size_t i = 0; i < items->size(); ++i) {
      if (!(*items)[i].is_object()) {
        fields.fail("items[" + std::to_string(i) + "]", "invalid_type", "an item must be an object");
        continue;
      }
      FieldReader item((*items)[i], "items[" + std::to_string(i) + "]");
      (void)item.text("price", true, 40);
      (void)item.integer("quantity", false, 1, 1000);
      fields.absorb(item);
    }
  }
  if (fields.has("version") && doc["version"].is_string()) (void)parse_if_match(doc["version"].get<std::string>());
  Status done = fields.finish();
  if (!done.ok()) {
    check(done.error().kind == ErrorKind::kInvalid, "field errors are a 422");
    check(!done.error().fields.empty(), "a 422 names its fields");
    render(done.error());
  }
}

void webhook_signatures(std::string_view bytes) {
  auto newline = bytes.find('\n');
  std::string header(bytes.substr(0, newline));
  std::string body(newline == std::string_view::npos ? std::string_view() : bytes.substr(newline + 1));
  constexpr Timestamp kNow = 1'767'225'600;  // 2026-01-01T00:00:00Z
  constexpr std::string_view kSecret = "whsec_fuzz";

  Status plain = gateways::verify_timestamped(kSecret, header, body, kNow);
  check(plain.ok() || plain.error().kind == ErrorKind::kUnauthorized, "a refused signature is a 401");
  // What Recur signs itself verifies, at any time within the tolerance.
  check(gateways::verify_timestamped(kSecret, gateways::sign_timestamped(kSecret, kNow - 7, body), body, kNow).ok(),
        "a signed body verifies");

  gateways::StripeConfig stripe_config;
  stripe_config.webhook_secret = std::string(kSecret);
  gateways::StripeGateway stripe(stripe_config, [](const net::HttpRequest&) -> Result<net::HttpResponse> {
    return Error::unavailable("transport_error", "no network while fuzzing");
  });
  auto from_stripe = stripe.verify_webhook({{"stripe-signature", header}}, body, kNow);
  if (!from_stripe.ok()) render(from_stripe.error());
  // The event parser behind a valid signature (a signed body is still outside input).
  auto stripe_event = gateways::stripe::event_from(body);
  if (!stripe_event.ok()) render(stripe_event.error());

  gateways::SquareConfig square_config;
  square_config.webhook_signature_key = "fuzz-key";
  square_config.webhook_url = "https://recur.example/v1/gateway_webhooks/square";
  gateways::SquareGateway square(square_config, [](const net::HttpRequest&) -> Result<net::HttpResponse> {
    return Error::unavailable("transport_error", "no network while fuzzing");
  });
  auto from_square = square.verify_webhook({{"x-square-hmacsha256-signature", header}}, body, kNow);
  if (!from_square.ok()) render(from_square.error());
  std::string square_signature =
      gateways::square::webhook_signature(square_config.webhook_signature_key, square_config.webhook_url, body);
  auto signed_square = square.verify_webhook({{"x-square-hmacsha256-signature", square_signature}}, body, kNow);
  check(signed_square.ok() || signed_square.error().code != "invalid_signature", "a Square-signed body verifies");
  if (!signed_square.ok()) render(signed_square.error());

  gateways::PayPalConfig paypal_config;
  gateways::PayPalGateway paypal(paypal_config, [](const net::HttpRequest&) -> Result<net::HttpResponse> {
    return Error::unavailable("transport_error", "no network while fuzzing");
  });
  auto from_paypal = paypal.verify_webhook({{"paypal-transmission-sig", header}}, body, kNow);
  check(!from_paypal.ok(), "PayPal webhooks without a webhook id are refused");
  // With a webhook id and a PayPal that vouches for every body: the event parser reads it all.
  gateways::PayPalConfig vouched_config;
  vouched_config.webhook_id = "WH1";
  gateways::PayPalGateway vouched(vouched_config, [](const net::HttpRequest& r) -> Result<net::HttpResponse> {
    if (r.url.ends_with("/v1/oauth2/token"))
      return net::HttpResponse{200, {}, R"({"access_token":"A","token_type":"Bearer","expires_in":3600})"};
    return net::HttpResponse{200, {}, R"({"verification_status":"SUCCESS"})"};
  });
  auto vouched_event = vouched.verify_webhook({{"paypal-auth-algo", "SHA256withRSA"},
                                               {"paypal-cert-url", "https://api-m.paypal.com/c"},
                                               {"paypal-transmission-id", "t1"},
                                               {"paypal-transmission-sig", header},
                                               {"paypal-transmission-time", "2026-01-01T00:00:00Z"}},
                                              body, kNow);
  if (!vouched_event.ok()) render(vouched_event.error());
}

}  // namespace recur::fuzz
