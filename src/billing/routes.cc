// Billing routes: parse and validate, call the service, render.
#include "billing/routes.h"

#include "access/actor.h"
#include "access/model.h"
#include "customers/model.h"
#include "platform/http/rest.h"

namespace recur::billing {
namespace {

using http::Request;
using http::Response;

Result<std::pair<DunningPatch, std::int64_t>> parse_dunning(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  DunningPatch patch;
  if (const Json* days = f.array("retry_days", false, 10)) {
    std::vector<std::int64_t> parsed;
    for (std::size_t i = 0; i < days->size(); ++i) {
      const Json& d = (*days)[i];
      if (!d.is_number_integer()) {
        f.fail("retry_days[" + std::to_string(i) + "]", "invalid_type", "each retry is a whole number of days");
        continue;
      }
      parsed.push_back(d.get<std::int64_t>());
    }
    patch.retry_days = std::move(parsed);
  }
  if (auto action = f.one_of("final_action", false, {"cancel", "unpaid", "pause"}))
    patch.final_action = final_action_from(*action);
  if (auto mode = f.one_of("mode", false, {"fixed", "smart"})) patch.mode = dunning_mode_from(*mode);
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

Result<RefundInput> parse_refund(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  RefundInput in;
  auto invoice = f.text("invoice", true, 64);
  in.amount = f.integer("amount", false, 1, std::int64_t{1} << 50);
  auto reason = f.one_of("reason", false, std::span<const std::string_view>(kRefundReasons));
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.invoice = *invoice;
  if (reason) in.reason = *reason;
  return in;
}

// POST /v1/invoices: each line is unit_amount x quantity; the rules that need the lines
// together (they owe something) or the clock (due_date) are build_one_off_invoice's.
Result<OneOffInput> parse_one_off(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  OneOffInput in;
  OneOffSpec& spec = in.spec;
  auto customer = f.text("customer", true, 64);
  auto currency = f.currency("currency", true);
  if (const Json* lines = f.array("lines", true, 100)) {
    if (lines->empty()) f.fail("lines", "required", "an invoice needs at least one line");
    for (std::size_t i = 0; i < lines->size(); ++i) {
      const std::string at = "lines[" + std::to_string(i) + "]";
      if (!(*lines)[i].is_object()) {
        f.fail(at, "invalid_type", "each line is an object");
        continue;
      }
      FieldReader line((*lines)[i], at);
      auto description = line.text("description", true, 500);
      // Negative: a discount or goodwill line, weighed against the others.
      auto unit = line.integer("unit_amount", true, -(std::int64_t{1} << 40), std::int64_t{1} << 40);
      auto quantity = line.integer("quantity", false, 1, 10000);
      f.absorb(line);
      if (description && unit)
        spec.lines.push_back({*description, *unit * quantity.value_or(1), quantity.value_or(1), {}, false});
    }
  }
  auto method = f.one_of("collection_method", false, std::span<const std::string_view>(kCollectionMethods));
  spec.due_date = f.timestamp("due_date", false);
  if (auto m = f.metadata("metadata")) spec.metadata = *m;
  RECUR_TRY(f.finish());
  spec.customer = *customer;
  spec.currency = *currency;
  if (method) spec.collection_method = *collection_method_from(*method);
  return in;
}

Result<CreditInput> parse_credit(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  CreditInput in;
  auto invoice = f.text("invoice", true, 64);
  auto amount = f.integer("amount", true, 1, std::int64_t{1} << 50);
  auto reason = f.one_of("reason", true, {"duplicate", "fraudulent", "order_change", "product_unsatisfactory", "other"});
  auto memo = f.text("memo", false, 500);
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.invoice = *invoice;
  in.amount = *amount;
  in.reason = *reason;
  in.memo = memo.value_or("");
  return in;
}

Result<std::pair<ShopPatch, std::int64_t>> parse_shop(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  ShopPatch patch;
  patch.name = f.text("name", false, 200);
  if (f.is_null("address")) {
    f.accept("address");
    patch.address = std::optional<customers::Address>();
  } else if (auto a = customers::read_address(f, "address")) {
    patch.address = a;
  }
  for (auto [field, target] : {std::pair{"email", &patch.email}, std::pair{"tax_id", &patch.tax_id}}) {
    if (f.is_null(field)) {
      f.accept(field);
      *target = std::string();
    }
  }
  if (!patch.email) patch.email = f.email("email", false);
  if (!patch.tax_id) patch.tax_id = f.text("tax_id", false, 64);
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

// A PDF as the answer: inline, so a browser shows it, with the document's file name.
Response pdf_response(const Request& req, const Result<RenderedPdf>& pdf) {
  if (!pdf.ok()) return http::error_response(req, pdf.error());
  Response r;
  r.status = 200;
  r.content_type = "application/pdf";
  r.body = pdf->bytes;
  r.set_header("Content-Disposition", "inline; filename=\"" + pdf->filename + "\"");
  r.set_header("Cache-Control", "private, no-store");
  return r;
}

RefundFilter refund_filter(const Request& req, const ListParams& page) {
  return {req.query_param("invoice"), req.query_param("customer"), page};
}

}  // namespace

void add_routes(http::Router& router, BillingService& svc, Collector& collector, Refunds& refunds,
                UpcomingInvoices& upcoming, Documents& documents, OneOffInvoices& one_off) {
  using namespace access::perm;
  const std::string read(kBillingRead), write(kBillingWrite);
  auto render_invoice = [](const Invoice& i) { return to_json(i); };

  router.add("GET", "/v1/invoices", read, [&svc](Request& req) {
    auto page = http::page_request(req, {"subscription", "customer", "number", "status", "created", "metadata"});
    if (!page.ok()) return http::error_response(req, page.error());
    auto statuses = http::enum_list(req, "status", {"draft", "open", "paid", "void", "uncollectible"});
    if (!statuses.ok()) return http::error_response(req, statuses.error());
    InvoiceFilter filter{req.query_param("subscription"), req.query_param("customer"), req.query_param("number"),
                         *statuses, *page};
    return http::list_response(req, svc.list_invoices(filter), "/v1/invoices", [](const Invoice& i) { return to_json(i); });
  });
  router.add("POST", "/v1/invoices", write, [&one_off, render_invoice](Request& req) {
    auto input = parse_one_off(req);
    if (!input.ok()) return http::error_response(req, input.error());
    input->request_key = req.idempotency_key;
    return http::respond(req, one_off.create(*input, access::actor_of(req)), 201, render_invoice);
  });
  router.add("GET", "/v1/invoices/upcoming", read, [&upcoming](Request& req) {
    if (auto st = http::check_query(req, {"subscription", "customer"}); !st.ok())
      return http::error_response(req, st.error());
    auto subscription = req.query_param("subscription");
    auto customer = req.query_param("customer");
    if (subscription.has_value() == customer.has_value())
      return http::error_response(
          req, Error::invalid("validation_failed", "give subscription or customer (one of them)",
                              {{subscription ? "customer" : "subscription", subscription ? "not_allowed" : "required",
                                "give subscription or customer, one of them"}}));
    auto invoice = subscription ? upcoming.of_subscription(*subscription) : upcoming.of_customer(*customer);
    return http::respond(req, invoice, 200, [](const Invoice& i) { return upcoming_json(i); });
  });
  router.add("GET", "/v1/invoices/{id}", read, [&svc, render_invoice](Request& req) {
    return http::respond(req, svc.get_invoice(req.path_params["id"]), 200, render_invoice);
  });
  router.add("GET", "/v1/invoices/{id}/pdf", read, [&documents](Request& req) {
    return pdf_response(req, documents.invoice_pdf(req.path_params["id"]));
  });
  router.add("POST", "/v1/invoices/{id}/pay", write, [&collector, render_invoice](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    return http::respond(req, collector.pay_invoice(req.path_params["id"], req.idempotency_key), 200, render_invoice);
  });
  router.add("POST", "/v1/invoices/{id}/void", write, [&svc, render_invoice](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    return http::respond(req, svc.void_invoice(req.path_params["id"], access::actor_of(req)), 200, render_invoice);
  });

  router.add("GET", "/v1/payments", read, [&svc](Request& req) {
    auto page = http::page_request(req, {"invoice", "customer", "status", "created", "metadata"});
    if (!page.ok()) return http::error_response(req, page.error());
    auto statuses = http::enum_list(req, "status", {"pending", "succeeded", "failed"});
    if (!statuses.ok()) return http::error_response(req, statuses.error());
    PaymentFilter filter{req.query_param("invoice"), req.query_param("customer"), *statuses, *page};
    return http::list_response(req, svc.list_payments(filter), "/v1/payments", [](const Payment& p) { return to_json(p); });
  });
  router.add("GET", "/v1/payments/{id}", read, [&svc](Request& req) {
    return http::respond(req, svc.get_payment(req.path_params["id"]), 200, [](const Payment& p) { return to_json(p); });
  });

  router.add("GET", "/v1/disputes/{id}", read, [&svc](Request& req) {
    return http::respond(req, svc.get_dispute(req.path_params["id"]), 200, [](const Dispute& d) { return to_json(d); });
  });

  router.add("POST", "/v1/refunds", write, [&refunds](Request& req) {
    auto input = parse_refund(req);
    if (!input.ok()) return http::error_response(req, input.error());
    input->request_key = req.idempotency_key;
    return http::respond(req, refunds.refund(*input, access::actor_of(req)), 201, [](const Refund& r) { return to_json(r); });
  });
  router.add("GET", "/v1/refunds", read, [&svc](Request& req) {
    auto page = http::page_request(req, {"invoice", "customer", "created", "metadata"});
    if (!page.ok()) return http::error_response(req, page.error());
    return http::list_response(req, svc.list_refunds(refund_filter(req, *page)), "/v1/refunds",
                         [](const Refund& r) { return to_json(r); });
  });
  router.add("GET", "/v1/refunds/{id}", read, [&svc](Request& req) {
    return http::respond(req, svc.get_refund(req.path_params["id"]), 200, [](const Refund& r) { return to_json(r); });
  });
  router.add("POST", "/v1/credit-notes", write, [&refunds](Request& req) {
    auto input = parse_credit(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, refunds.credit(*input, access::actor_of(req)), 201,
                         [](const CreditNote& n) { return to_json(n); });
  });
  router.add("GET", "/v1/credit-notes", read, [&svc](Request& req) {
    auto page = http::page_request(req, {"invoice", "customer", "created", "metadata"});
    if (!page.ok()) return http::error_response(req, page.error());
    return http::list_response(req, svc.list_credit_notes(refund_filter(req, *page)), "/v1/credit-notes",
                         [](const CreditNote& n) { return to_json(n); });
  });
  router.add("GET", "/v1/credit-notes/{id}", read, [&svc](Request& req) {
    return http::respond(req, svc.get_credit_note(req.path_params["id"]), 200,
                         [](const CreditNote& n) { return to_json(n); });
  });

  router.add("GET", "/v1/credit-notes/{id}/pdf", read, [&documents](Request& req) {
    return pdf_response(req, documents.credit_note_pdf(req.path_params["id"]));
  });

  router.add("GET", "/v1/billing/runs", read, [&svc](Request& req) {
    auto page = http::page_request(req, {"created"});
    if (!page.ok()) return http::error_response(req, page.error());
    return http::list_response(req, svc.list_runs(*page), "/v1/billing/runs",
                         [](const BillingRun& r) { return to_json(r); });
  });

  router.add("GET", "/v1/settings/tax", std::string(kSettingsRead), [&svc](Request& req) {
    return http::respond(req, svc.tax(), 200, [](const TaxSettings& s) { return to_json(s); });
  });
  router.add("PATCH", "/v1/settings/tax", std::string(kSettingsWrite), [&svc](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    auto version = http::expected_version(req, *body, true);
    if (!version.ok()) return http::error_response(req, version.error());
    FieldReader f(*body);
    const Json* rates = f.object("rates", true);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    auto parsed = parse_tax_rates(*rates);
    if (!parsed.ok()) return http::error_response(req, parsed.error());
    return http::respond(req, svc.update_tax(std::move(*parsed), **version, access::actor_of(req)), 200,
                         [](const TaxSettings& s) { return to_json(s); });
  });
  router.add("GET", "/v1/settings/shop", std::string(kSettingsRead), [&svc](Request& req) {
    return http::respond(req, svc.shop(), 200, [](const ShopProfile& s) { return to_json(s); });
  });
  router.add("PATCH", "/v1/settings/shop", std::string(kSettingsWrite), [&svc](Request& req) {
    auto patch = parse_shop(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    return http::respond(req, svc.update_shop(patch->first, patch->second, access::actor_of(req)), 200,
                         [](const ShopProfile& s) { return to_json(s); });
  });
  router.add("GET", "/v1/settings/dunning", std::string(kSettingsRead), [&svc](Request& req) {
    return http::respond(req, svc.dunning(), 200, [](const DunningSettings& s) { return to_json(s); });
  });
  router.add("PATCH", "/v1/settings/dunning", std::string(kSettingsWrite), [&svc](Request& req) {
    auto patch = parse_dunning(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    return http::respond(req, svc.update_dunning(patch->first, patch->second, access::actor_of(req)), 200,
                         [](const DunningSettings& s) { return to_json(s); });
  });
  router.add("GET", "/v1/settings/disputes", std::string(kSettingsRead), [&svc](Request& req) {
    return http::respond(req, svc.dispute_settings(), 200, [](const DisputeSettings& s) { return to_json(s); });
  });
  router.add("PATCH", "/v1/settings/disputes", std::string(kSettingsWrite), [&svc](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    auto version = http::expected_version(req, *body, true);
    if (!version.ok()) return http::error_response(req, version.error());
    FieldReader f(*body);
    auto on_open = f.one_of("on_open", true, {"none", "pause", "cancel"});
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    return http::respond(req,
                         svc.update_dispute_settings(*dispute_on_open_from(*on_open), **version, access::actor_of(req)),
                         200, [](const DisputeSettings& s) { return to_json(s); });
  });
  for (const char* list : {"/v1/invoices", "/v1/invoices/upcoming", "/v1/payments", "/v1/refunds", "/v1/credit-notes",
                           "/v1/billing/runs"})
    router.reads_query("GET", list);
}

namespace {

// The token's own length limit: issued tokens are 32 characters; anything much longer is
// not one of ours, and is refused as invalid like any unknown token.
constexpr std::size_t kMaxTokenLength = 200;

Result<PaymentUpdateInput> parse_payment_update(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  PaymentUpdateInput in;
  auto token = f.text("token", true, kMaxTokenLength);
  in.gateway = f.text("gateway", false, 32);
  auto method = f.text("payment_method", true, 255);
  RECUR_TRY(f.finish());
  in.token = *token;
  in.payment_method = *method;
  in.request_id = req.request_id;
  in.source_ip = req.remote_address;
  return in;
}

Result<std::string> parse_token_only(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  auto token = f.text("token", true, kMaxTokenLength);
  RECUR_TRY(f.finish());
  return *token;
}

}  // namespace

void add_payment_update_routes(http::Router& router, PaymentUpdates& updates, Collector& collector,
                               Documents& documents) {
  const std::string kPublic;  // no API key: the token is the credential
  router.add("POST", "/v1/payment-updates/lookup", kPublic, [&updates](Request& req) {
    auto token = parse_token_only(req);
    if (!token.ok()) return http::error_response(req, token.error());
    return http::respond(req, updates.lookup(*token), 200, [](const PaymentUpdateView& v) { return to_json(v); });
  });
  router.add("POST", "/v1/payment-updates", kPublic, [&updates](Request& req) {
    auto input = parse_payment_update(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, updates.apply(*input), 200, [](const PaymentUpdateResult& r) { return to_json(r); });
  });
  router.add("POST", "/v1/payment-updates/invoice-pdf", kPublic, [&updates, &documents](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    auto token = f.text("token", true, kMaxTokenLength);
    auto invoice = f.text("invoice", true, 64);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    auto id = updates.invoice_of(*token, *invoice);
    if (!id.ok()) return http::error_response(req, id.error());
    return pdf_response(req, documents.invoice_pdf(*id));
  });
  // After the customer authenticated with their bank: Recur asks the gateway and settles.
  // The token is checked, not used up: the same link may still take a new card.
  router.add("POST", "/v1/payments/{id}/confirm", kPublic, [&updates, &collector](Request& req) {
    auto token = parse_token_only(req);
    if (!token.ok()) return http::error_response(req, token.error());
    auto view = updates.lookup(*token);
    if (!view.ok()) return http::error_response(req, view.error());
    return http::respond(req, collector.confirm_payment(req.path_params["id"], view->customer), 200,
                         [](const Payment& p) { return to_public_json(p); });
  });
}

void add_gateway_webhook_routes(http::Router& router, GatewayWebhooks& webhooks) {
  // Public (no API key): the gateway's signature over the raw body is the authentication,
  // checked by the service before anything is read or written.
  router.add("POST", "/v1/gateway-webhooks/{gateway}", "", [&webhooks](Request& req) {
    std::map<std::string, std::string> headers;
    for (const auto& [name, value] : req.headers) headers.emplace(name, value);  // the first of repeated headers
    auto receipt = webhooks.receive_webhook(req.path_params["gateway"], headers, req.body);
    if (!receipt.ok()) return http::error_response(req, receipt.error());
    return http::json_response(200, {{"received", true}, {"duplicate", receipt->duplicate}});
  });
}

void add_sandbox_routes(http::Router& router, gateways::SandboxGateway& sandbox) {
  router.add("POST", "/v1/sandbox/charges/{id}/authenticate", "", [&sandbox](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    auto result = f.text("result", true, 16);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    if (*result != "approve" && *result != "fail")
      return http::error_response(req, Error::invalid("validation_failed", "result must be approve or fail",
                                                      {{"result", "invalid_value", "one of approve, fail"}}));
    gateways::ChargeResult r = sandbox.authenticate(req.path_params["id"], *result == "approve");
    if (r.outcome == gateways::Outcome::kUnknown)
      return http::error_response(req, Error::unavailable("gateway_error", r.failure_message));
    if (r.charge_id.empty())
      return http::error_response(req, Error::not_found("charge_not_found", "the sandbox has no charge with that id"));
    const char* status = r.outcome == gateways::Outcome::kSucceeded        ? "succeeded"
                         : r.outcome == gateways::Outcome::kRequiresAction ? "requires_action"
                                                                           : "failed";
    return http::json_response(200, {{"object", "sandbox_charge"},
                                     {"id", r.charge_id},
                                     {"status", status},
                                     {"failure_code", text_or_null(r.failure_code)}});
  });
}

void add_test_clock_routes(http::Router& router, TestClock tc) {
  const std::string perm(access::perm::kTestClock);
  router.add("GET", "/v1/test-clock", perm, [tc](Request&) {
    return http::json_response(200, {{"object", "test_clock"}, {"now", format_rfc3339(tc.clock.now())}});
  });
  router.add("POST", "/v1/test-clock/advance", perm, [tc](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    auto to = f.timestamp("to", true);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    if (*to < tc.clock.now())
      return http::error_response(req, Error::invalid("validation_failed", "the test clock only moves forward",
                                                      {{"to", "in_the_past", "must be at or after the clock's now"}}));
    auto ran = tc.advance(*to);
    if (!ran.ok()) return http::error_response(req, ran.error());
    Json out = {{"object", "test_clock"}, {"now", format_rfc3339(tc.clock.now())}};
    out.update(*ran);
    return http::json_response(200, out);
  });
}

}  // namespace recur::billing
