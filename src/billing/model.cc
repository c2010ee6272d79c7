// Billing's pure rules and JSON mappings.
#include "billing/model.h"

#include "platform/ids.h"

#include <algorithm>
#include <cctype>

#include "platform/money.h"

namespace recur::billing {
namespace {

template <typename E, std::size_t N>
std::optional<E> lookup(const std::pair<E, std::string_view> (&table)[N], std::string_view text) {
  for (const auto& [value, name] : table)
    if (name == text) return value;
  return std::nullopt;
}

template <typename E, std::size_t N>
std::string_view name_of(const std::pair<E, std::string_view> (&table)[N], E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "unknown";
}

constexpr std::pair<InvoiceStatus, std::string_view> kInvoiceStatuses[] = {
    {InvoiceStatus::kDraft, "draft"}, {InvoiceStatus::kOpen, "open"}, {InvoiceStatus::kPaid, "paid"},
    {InvoiceStatus::kVoid, "void"}, {InvoiceStatus::kUncollectible, "uncollectible"}};
constexpr std::pair<CollectionMethod, std::string_view> kCollectionMethodNames[] = {
    {CollectionMethod::kChargeAutomatically, kCollectionMethods[0]}, {CollectionMethod::kSendInvoice, kCollectionMethods[1]}};
constexpr std::pair<PaymentStatus, std::string_view> kPaymentStatuses[] = {
    {PaymentStatus::kPending, "pending"}, {PaymentStatus::kSucceeded, "succeeded"}, {PaymentStatus::kFailed, "failed"},
    {PaymentStatus::kRequiresAction, "requires_action"}};
constexpr std::pair<FinalAction, std::string_view> kFinalActions[] = {
    {FinalAction::kCancel, "cancel"}, {FinalAction::kUnpaid, "unpaid"}, {FinalAction::kPause, "pause"}};

PaymentStatus payment_status_from(const std::string& s) {
  return s == "succeeded"         ? PaymentStatus::kSucceeded
         : s == "failed"          ? PaymentStatus::kFailed
         : s == "requires_action" ? PaymentStatus::kRequiresAction
                                  : PaymentStatus::kPending;
}

}  // namespace

std::string_view to_string(InvoiceStatus s) { return name_of(kInvoiceStatuses, s); }
std::optional<InvoiceStatus> invoice_status_from(std::string_view t) { return lookup(kInvoiceStatuses, t); }
std::string_view to_string(CollectionMethod m) { return name_of(kCollectionMethodNames, m); }
std::optional<CollectionMethod> collection_method_from(std::string_view t) { return lookup(kCollectionMethodNames, t); }
std::string_view to_string(PaymentStatus s) { return name_of(kPaymentStatuses, s); }
std::string_view to_string(FinalAction a) { return name_of(kFinalActions, a); }
std::optional<FinalAction> final_action_from(std::string_view t) { return lookup(kFinalActions, t); }

Totals compute_totals(const std::vector<InvoiceLine>& lines, std::int64_t discount, std::int64_t tax_rate_bp) {
  Totals t;
  std::int64_t charged = 0;
  for (const auto& line : lines) {
    t.subtotal += line.amount;
    if (line.amount > 0) charged += line.amount;
  }
  // A discount applies to what is charged, never to credits: it is taken off the charges
  // first (at most all of them), and only then are credits weighed against the rest.
  t.discount = std::clamp<std::int64_t>(discount, 0, charged);
  std::int64_t net = t.subtotal - t.discount;
  if (net < 0) {
    t.carried_credit = net;
    net = 0;
  }
  t.tax = mul_div_round_half_up(net, tax_rate_bp, 10000);
  t.total = net + t.tax;
  return t;
}

PeriodInvoice invoice_period(std::vector<InvoiceLine> lines, std::int64_t discount, std::int64_t tax_rate_bp,
                             Period period) {
  PeriodInvoice out;
  out.totals = compute_totals(lines, discount, tax_rate_bp);
  if (out.totals.carried_credit < 0) {
    // The credit this invoice cannot absorb leaves it as a line, and waits for the next one.
    out.carried = out.totals.carried_credit;
    lines.push_back({std::string(kCarriedCreditLine), -out.carried, 1, period, false});
    out.totals = compute_totals(lines, discount, tax_rate_bp);
  }
  out.lines = std::move(lines);
  return out;
}

std::string billing_reason(const subscriptions::LifecycleEvent& e) {
  if (e.type == "subscription.started") return "subscription_create";
  if (e.type == "subscription.renewed" || e.type == "subscription.trial_ended") return "subscription_cycle";
  return "subscription_update";
}

namespace {

// Totals, status and dates of an invoice whose lines are in place; returns the credit
// carried to the next invoice (<= 0).
std::int64_t price(Invoice& inv, const subscriptions::Subscription& sub, std::int64_t discount, std::int64_t tax_rate_bp,
                   Timestamp at) {
  PeriodInvoice priced = invoice_period(std::move(inv.lines), discount, tax_rate_bp, inv.period);
  inv.lines = std::move(priced.lines);
  const Totals& t = priced.totals;
  inv.subtotal = t.subtotal;
  inv.discount = t.discount;
  inv.tax = t.tax;
  inv.total = t.total;
  inv.created = inv.updated = at;
  if (inv.total == 0) {
    inv.status = InvoiceStatus::kPaid;
    inv.paid_at = at;
  } else {
    inv.status = InvoiceStatus::kOpen;
    // An unpaid subscription keeps being invoiced, but nothing is charged automatically:
    // the customer's next payment method (or an operator) pays every open invoice. An
    // incomplete one's first invoice is charged by checkout, in the request, or paid by the
    // customer (a new card, the hosted page); billing runs never charge it.
    if (sub.status != subscriptions::Status::kUnpaid && sub.status != subscriptions::Status::kIncomplete)
      inv.next_attempt_at = at;
  }
  return priced.carried;
}

}  // namespace

BuiltInvoice build_invoice(const subscriptions::Subscription& sub, const subscriptions::LifecycleEvent& e,
                           const std::string& plan_name, std::vector<InvoiceLine> pending, std::int64_t tax_rate_bp) {
  Invoice inv;
  inv.subscription = sub.id;
  inv.customer = sub.customer;
  inv.period = e.period;
  inv.currency = e.currency;
  inv.billing_reason = billing_reason(e);
  // A prepaid charge is for e.deliveries boxes; a box it paid for (deliveries 0) is shown at 0.
  std::int64_t gross = e.unit_amount * e.quantity * e.deliveries;
  std::string name = plan_name + (e.quantity > 1 ? " × " + std::to_string(e.quantity) : "");
  if (e.deliveries > 1) name += ", " + std::to_string(e.deliveries) + " prepaid deliveries";
  if (e.deliveries == 0) name += ", prepaid delivery";
  inv.lines.push_back({std::move(name), gross, e.quantity * std::max<std::int64_t>(e.deliveries, 1), e.period, false});
  for (auto& line : pending) inv.lines.push_back(std::move(line));
  // The lifecycle priced the period with its discount; the invoice shows it as one.
  inv.discount_source = e.discount_source;
  // The period's discount comes off its charge before any credit is weighed against it.
  std::int64_t carried = price(inv, sub, gross - e.amount, tax_rate_bp, e.at);
  return {std::move(inv), carried};
}

BuiltInvoice build_items_invoice(const subscriptions::Subscription& sub, std::vector<InvoiceLine> items,
                                 std::int64_t tax_rate_bp, Timestamp at) {
  Invoice inv;
  inv.subscription = sub.id;
  inv.customer = sub.customer;
  inv.currency = sub.currency;
  inv.billing_reason = "subscription_update";
  inv.period = items.front().period;
  for (const auto& line : items) {
    inv.period.start = std::min(inv.period.start, line.period.start);
    inv.period.end = std::max(inv.period.end, line.period.end);
  }
  inv.lines = std::move(items);
  std::int64_t carried = price(inv, sub, 0, tax_rate_bp, at);
  return {std::move(inv), carried};
}

Result<Invoice> build_one_off_invoice(OneOffSpec spec, std::int64_t tax_rate_bp, Timestamp at) {
  std::vector<FieldError> errors;
  if (spec.lines.empty()) errors.push_back({"lines", "required", "an invoice needs at least one line"});
  std::int64_t owed = 0;
  for (std::size_t i = 0; i < spec.lines.size(); ++i) {
    const std::int64_t amount = spec.lines[i].amount;
    if (amount > kMaxOneOffLineAmount || amount < -kMaxOneOffLineAmount || amount == 0)
      errors.push_back({"lines[" + std::to_string(i) + "]", "out_of_range",
                        "a line's unit_amount x quantity must be non-zero and at most 2^50 either way"});
    else
      owed += amount;
  }
  if (errors.empty() && owed <= 0)
    errors.push_back({"lines", "nothing_owed",
                      "the lines owe nothing: a one-off invoice has no next invoice to carry a credit to (issue a "
                      "credit note instead)"});
  const bool sent = spec.collection_method == CollectionMethod::kSendInvoice;
  if (spec.due_date && !sent)
    errors.push_back({"due_date", "not_allowed", "due_date is for collection_method send_invoice"});
  if (spec.due_date && *spec.due_date <= at)
    errors.push_back({"due_date", "out_of_range", "due_date must be after the invoice is issued"});
  if (!errors.empty()) return Error::invalid("validation_failed", "the invoice cannot be issued", std::move(errors));
  Invoice inv;
  inv.customer = std::move(spec.customer);
  inv.currency = std::move(spec.currency);
  inv.billing_reason = std::move(spec.billing_reason);
  inv.collection_method = spec.collection_method;
  inv.period = {at, at};
  for (auto& line : spec.lines) line.period = inv.period;
  inv.lines = std::move(spec.lines);
  Totals t = compute_totals(inv.lines, spec.discount, tax_rate_bp);
  inv.subtotal = t.subtotal;
  inv.discount = t.discount;
  if (t.discount > 0) inv.discount_source = spec.discount_source;
  inv.tax = t.tax;
  inv.total = t.total;
  inv.status = InvoiceStatus::kOpen;
  if (sent)
    inv.due_date = spec.due_date.value_or(at + kDefaultDaysUntilDue * kSecondsPerDay);
  else
    inv.next_attempt_at = at;
  inv.metadata = std::move(spec.metadata);
  inv.created = inv.updated = at;
  return inv;
}

std::optional<Timestamp> next_retry_at(const DunningSettings& settings, Timestamp first_failure, std::int64_t failures) {
  // failures = 1 means the original charge failed: the first retry is retry_days[0].
  if (failures < 1 || failures > static_cast<std::int64_t>(settings.retry_days.size())) return std::nullopt;
  return first_failure + settings.retry_days[static_cast<std::size_t>(failures - 1)] * kSecondsPerDay;
}

DunningStep dunning_step(const DunningSettings& settings, Timestamp first_failed, std::int64_t attempt) {
  // Every attempt before this one failed too (an attempt is only renewed after a failure).
  if (auto next = next_retry_at(settings, first_failed, attempt)) return *next;
  return settings.final_action;
}

bool failure_rate_is_alarming(double rate, double usual_rate) { return rate > 0.2 && rate > 2 * usual_rate; }

std::string attempt_key(const std::string& invoice, std::int64_t attempt) {
  return invoice + ":attempt:" + std::to_string(attempt);
}

Error invoice_not_found(const std::string& id) {
  return Error::not_found("invoice_not_found", no_object_message("invoice", "in", id));
}

Json to_json(const BillingRun& r) {
  return Json{{"id", r.id},
              {"object", "billing_run"},
              {"trigger", r.trigger},
              {"started", format_rfc3339(r.started)},
              {"finished", format_rfc3339(r.finished)},
              {"as_of", format_rfc3339(r.as_of)},
              {"subscriptions_advanced", r.subscriptions_advanced},
              {"lifecycle_events", r.lifecycle_events},
              {"lifecycle_failures", r.lifecycle_failures},
              {"payments",
               {{"attempted", r.payments.attempted},
                {"succeeded", r.payments.succeeded},
                {"failed", r.payments.failed},
                {"unknown", r.payments.unknown},
                {"errors", r.payments.errors},
                {"refunds_resumed", r.payments.refunds_resumed},
                {"reminders_queued", r.payments.reminders_queued},
                {"reminders_failed", r.payments.reminders_failed},
                {"requires_action", r.payments.requires_action},
                {"authentication_expired", r.payments.authentication_expired}}},
              {"failure_rate_alert", r.failure_rate_alert}};
}

BillingRun run_from_doc(const Json& d) {
  BillingRun r;
  r.id = d.at("id");
  r.trigger = d.at("trigger");
  r.started = doc_required_time(d, "started");
  r.finished = doc_required_time(d, "finished");
  r.as_of = doc_required_time(d, "as_of");
  r.subscriptions_advanced = d.at("subscriptions_advanced");
  r.lifecycle_events = d.at("lifecycle_events");
  r.lifecycle_failures = d.at("lifecycle_failures");
  const auto& p = d.at("payments");
  r.payments = {p.at("attempted"), p.at("succeeded"), p.at("failed"), p.at("unknown"), p.at("errors"), "",
                p.value("refunds_resumed", 0), p.value("reminders_queued", 0), p.value("reminders_failed", 0),
                p.value("requires_action", 0), p.value("authentication_expired", 0)};
  r.failure_rate_alert = d.value("failure_rate_alert", false);
  return r;
}

Status validate(const DunningSettings& s) {
  if (s.retry_days.empty() || s.retry_days.size() > 10)
    return Error::invalid("validation_failed", "retry_days needs 1 to 10 entries",
                          {{"retry_days", "out_of_range", "1 to 10 retries"}});
  for (std::size_t i = 0; i < s.retry_days.size(); ++i) {
    std::int64_t d = s.retry_days[i];
    if (d < 1 || d > 60 || (i > 0 && d <= s.retry_days[i - 1]))
      return Error::invalid("validation_failed", "retry_days must be strictly ascending days between 1 and 60",
                            {{"retry_days[" + std::to_string(i) + "]", "out_of_range",
                              "strictly ascending, 1 to 60 days after the first failure"}});
  }
  return Ok{};
}

Json to_json(const TaxSettings& s) {
  Json rates = Json::object();
  for (const auto& [country, bp] : s.rates_bp) rates[country] = bp;
  return Json{{"object", "tax_settings"}, {"rates", rates}, {"version", s.version}, {"updated", format_rfc3339(s.updated)}};
}

TaxSettings tax_from_doc(const Json& d) {
  TaxSettings s;
  for (const auto& [country, bp] : d.at("rates").items()) s.rates_bp[country] = bp.get<std::int64_t>();
  s.version = d.at("version");
  s.updated = doc_required_time(d, "updated");
  return s;
}

Result<std::map<std::string, std::int64_t>> parse_tax_rates(const Json& rates) {
  std::map<std::string, std::int64_t> out;
  std::vector<FieldError> errors;
  if (!rates.is_object() || rates.size() > 250)
    return Error::invalid("validation_failed", "rates must be an object of at most 250 countries",
                          {{"rates", "invalid_type", "an object such as {\"DE\": 1900}"}});
  for (const auto& [key, value] : rates.items()) {
    std::string country = key;
    bool letters = country.size() == 2 && std::isalpha(static_cast<unsigned char>(country[0])) &&
                   std::isalpha(static_cast<unsigned char>(country[1]));
    for (auto& c : country) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!letters) errors.push_back({"rates." + key, "invalid_country", "an ISO 3166-1 alpha-2 code such as DE"});
    else if (!value.is_number_integer() || value.get<std::int64_t>() < 0 || value.get<std::int64_t>() > 10000)
      errors.push_back({"rates." + key, "out_of_range", "basis points from 0 to 10000 (1900 = 19 %)"});
    else out[country] = value.get<std::int64_t>();
  }
  if (!errors.empty()) {
    std::string message = errors.front().message;
    return Error::invalid("validation_failed", "invalid tax rate: " + message, std::move(errors));
  }
  return out;
}

std::int64_t tax_rate_for(const TaxSettings& s, const std::optional<std::string>& country) {
  if (!country) return 0;
  auto it = s.rates_bp.find(*country);
  return it == s.rates_bp.end() ? 0 : it->second;
}

std::string_view to_string(DunningMode mode) { return mode == DunningMode::kFixed ? "fixed" : "smart"; }

std::optional<DunningMode> dunning_mode_from(std::string_view text) {
  if (text == "fixed") return DunningMode::kFixed;
  if (text == "smart") return DunningMode::kSmart;
  return std::nullopt;
}

Json to_json(const DunningSettings& s) {
  return Json{{"object", "dunning_settings"},
              {"retry_days", s.retry_days},
              {"final_action", to_string(s.final_action)},
              {"mode", to_string(s.mode)},
              {"version", s.version},
              {"updated", format_rfc3339(s.updated)}};
}

DunningSettings dunning_from_doc(const Json& d) {
  DunningSettings s;
  s.retry_days = d.at("retry_days").get<std::vector<std::int64_t>>();
  s.final_action = final_action_from(d.at("final_action").get<std::string>()).value_or(FinalAction::kCancel);
  // Settings stored before modes existed read as the default.
  s.mode = dunning_mode_from(d.value("mode", std::string("smart"))).value_or(DunningMode::kSmart);
  s.version = d.at("version");
  s.updated = doc_required_time(d, "updated");
  return s;
}

std::int64_t amount_due(const Invoice& inv) { return inv.status == InvoiceStatus::kOpen ? inv.total - inv.amount_paid : 0; }

Json to_json(const Invoice& inv) {
  Json lines = Json::array();
  for (const auto& l : inv.lines)
    lines.push_back({{"description", l.description},
                     {"amount", l.amount},
                     {"quantity", l.quantity},
                     {"period", to_json(l.period)},
                     {"proration", l.proration}});
  return with_envelope(Json{{"id", inv.id},
                            {"object", "invoice"},
                            {"number", text_or_null(inv.number)},
                            {"subscription", text_or_null(inv.subscription)},
                            {"customer", inv.customer},
                            {"status", to_string(inv.status)},
                            {"collection_method", to_string(inv.collection_method)},
                            {"due_date", to_json_time(inv.due_date)},
                            {"billing_reason", inv.billing_reason},
                            {"period", to_json(inv.period)},
                            {"currency", inv.currency},
                            {"subtotal", inv.subtotal},
                            {"discount", inv.discount},
                            {"discount_source", subscriptions::to_json(inv.discount_source)},
                            {"tax", inv.tax},
                            {"total", inv.total},
                            {"amount_paid", inv.amount_paid},
                            {"amount_refunded", inv.amount_refunded},
                            {"amount_credited", inv.amount_credited},
                            {"amount_disputed", inv.amount_disputed},
                            {"amount_disputed_lost", inv.amount_disputed_lost},
                            {"amount_due", amount_due(inv)},
                            {"attempt_count", inv.attempt_count},
                            {"next_attempt_at", to_json_time(inv.next_attempt_at)},
                            {"first_failed_at", to_json_time(inv.first_failed_at)},
                            {"paid_at", to_json_time(inv.paid_at)},
                            {"collection_ended", inv.collection_ended},
                            {"hard_declined_payment_method", text_or_null(inv.hard_declined_payment_method)},
                            {"lines", lines}},
                       inv);
}

Invoice invoice_from_doc(const Json& d) {
  Invoice inv;
  inv.id = d.at("id");
  inv.number = doc_text(d, "number").value_or("");
  inv.subscription = doc_text(d, "subscription").value_or("");
  inv.customer = d.at("customer");
  inv.status = invoice_status_from(d.at("status").get<std::string>()).value_or(InvoiceStatus::kDraft);
  inv.collection_method = collection_method_from(d.value("collection_method", std::string(kCollectionMethods[0])))
                              .value_or(CollectionMethod::kChargeAutomatically);
  inv.due_date = doc_time(d, "due_date");
  inv.billing_reason = d.at("billing_reason");
  inv.period = period_from_json(d.at("period"));
  inv.currency = d.at("currency");
  inv.subtotal = d.at("subtotal");
  inv.discount = d.at("discount");
  inv.discount_source = subscriptions::discount_source_from_json(d.at("discount_source"));
  inv.tax = d.at("tax");
  inv.total = d.at("total");
  inv.amount_paid = d.at("amount_paid");
  inv.amount_refunded = d.at("amount_refunded");
  inv.amount_credited = d.value("amount_credited", std::int64_t{0});
  inv.amount_disputed = d.value("amount_disputed", std::int64_t{0});
  inv.amount_disputed_lost = d.value("amount_disputed_lost", std::int64_t{0});
  inv.attempt_count = d.at("attempt_count");
  inv.next_attempt_at = doc_time(d, "next_attempt_at");
  inv.first_failed_at = doc_time(d, "first_failed_at");
  inv.paid_at = doc_time(d, "paid_at");
  inv.collection_ended = d.value("collection_ended", false);
  inv.hard_declined_payment_method = doc_text(d, "hard_declined_payment_method").value_or("");
  for (const auto& l : d.at("lines"))
    inv.lines.push_back({l.at("description"), l.at("amount"), l.at("quantity"), period_from_json(l.at("period")),
                         l.at("proration")});
  read_envelope(d, inv);
  return inv;
}

namespace {
Json next_action_json(const Payment& p) {
  if (p.status != PaymentStatus::kRequiresAction) return nullptr;
  return Json{{"type", "authenticate"},
              {"url", text_or_null(p.action_url)},
              {"expires_at", to_json_time(p.action_expires_at)}};
}
}  // namespace

Json to_json(const Payment& p) {
  return with_envelope(Json{{"id", p.id},
              {"object", "payment"},
              {"invoice", p.invoice},
              {"customer", p.customer},
              {"attempt", p.attempt},
              {"status", to_string(p.status)},
              {"amount", p.amount},
              {"currency", p.currency},
              {"gateway", text_or_null(p.gateway)},
              {"gateway_reference", text_or_null(p.gateway_reference)},
              {"payment_method", text_or_null(p.payment_method)},
              {"idempotency_key", p.idempotency_key},
              {"failure_code", text_or_null(p.failure_code)},
              {"gateway_failure_code", text_or_null(p.gateway_failure_code)},
              {"failure_message", text_or_null(p.failure_message)},
              {"decline_code", text_or_null(p.decline_code)},
              {"decline_type", text_or_null(p.decline_type)},
              {"next_action", next_action_json(p)}},
                       p);
}

Json to_public_json(const Payment& p) {
  return Json{{"id", p.id},
              {"object", "payment"},
              {"invoice", p.invoice},
              {"status", to_string(p.status)},
              {"amount", p.amount},
              {"currency", p.currency},
              {"failure_code", text_or_null(p.failure_code)},
              {"decline_code", text_or_null(p.decline_code)},
              {"next_action", next_action_json(p)}};
}

Payment payment_from_doc(const Json& d) {
  Payment p;
  p.id = d.at("id");
  p.invoice = d.at("invoice");
  p.customer = d.at("customer");
  p.attempt = d.at("attempt");
  p.status = payment_status_from(d.at("status"));
  p.amount = d.at("amount");
  p.currency = d.at("currency");
  p.gateway = doc_text(d, "gateway").value_or("");
  p.payment_method = doc_text(d, "payment_method").value_or("");
  p.idempotency_key = d.value("idempotency_key", "");
  p.gateway_reference = doc_text(d, "gateway_reference").value_or("");
  p.failure_code = doc_text(d, "failure_code").value_or("");
  p.gateway_failure_code = doc_text(d, "gateway_failure_code").value_or("");
  p.failure_message = doc_text(d, "failure_message").value_or("");
  p.decline_code = doc_text(d, "decline_code").value_or("");
  p.decline_type = doc_text(d, "decline_type").value_or("");
  if (auto next = d.find("next_action"); next != d.end() && next->is_object()) {
    p.action_url = doc_text(*next, "url").value_or("");
    p.action_expires_at = doc_time(*next, "expires_at");
  }
  read_envelope(d, p);
  return p;
}

Json to_json(const Refund& r) {
  return with_envelope(Json{{"id", r.id},
              {"object", "refund"},
              {"invoice", r.invoice},
              {"payment", r.payment},
              {"customer", r.customer},
              {"amount", r.amount},
              {"currency", r.currency},
              {"reason", r.reason},
              {"status", to_string(r.status)},
              {"gateway", text_or_null(r.gateway)},
              {"gateway_reference", text_or_null(r.gateway_reference)},
              {"failure_code", text_or_null(r.failure_code)},
              {"gateway_failure_code", text_or_null(r.gateway_failure_code)},
              {"failure_message", text_or_null(r.failure_message)},
              {"credit_note", text_or_null(r.credit_note)}},
                       r);
}

Refund refund_from_doc(const Json& d) {
  Refund r;
  r.id = d.at("id");
  r.invoice = d.at("invoice");
  r.payment = d.at("payment");
  r.customer = d.at("customer");
  r.amount = d.at("amount");
  r.currency = d.at("currency");
  r.reason = d.at("reason");
  r.status = payment_status_from(d.at("status"));
  r.gateway = doc_text(d, "gateway").value_or("");
  r.gateway_reference = doc_text(d, "gateway_reference").value_or("");
  r.failure_code = doc_text(d, "failure_code").value_or("");
  r.gateway_failure_code = doc_text(d, "gateway_failure_code").value_or("");
  r.failure_message = doc_text(d, "failure_message").value_or("");
  r.credit_note = doc_text(d, "credit_note").value_or("");
  read_envelope(d, r);
  return r;
}

Refund pending_refund(std::string id, const Invoice& inv, const Payment& charge, std::int64_t amount,
                      std::string reason, Timestamp now) {
  Refund r;
  r.id = std::move(id);
  r.invoice = inv.id;
  r.payment = charge.id;
  r.customer = inv.customer;
  r.amount = amount;
  r.currency = inv.currency;
  r.reason = std::move(reason);
  r.gateway = charge.gateway;
  r.created = r.updated = now;
  return r;
}

Json to_json(const CreditNote& n) {
  return with_envelope(Json{{"id", n.id},
              {"object", "credit_note"},
              {"number", n.number},
              {"invoice", n.invoice},
              {"customer", n.customer},
              {"subscription", text_or_null(n.subscription)},
              {"amount", n.amount},
              {"currency", n.currency},
              {"reason", n.reason},
              {"type", n.type},
              {"refund", text_or_null(n.refund)},
              {"memo", text_or_null(n.memo)}},
                       n);
}

CreditNote credit_note_from_doc(const Json& d) {
  CreditNote n;
  n.id = d.at("id");
  n.number = d.at("number");
  n.invoice = d.at("invoice");
  n.customer = d.at("customer");
  n.subscription = doc_text(d, "subscription").value_or("");
  n.amount = d.at("amount");
  n.currency = d.at("currency");
  n.reason = d.at("reason");
  n.type = d.at("type");
  n.refund = doc_text(d, "refund").value_or("");
  n.memo = doc_text(d, "memo").value_or("");
  read_envelope(d, n);
  return n;
}

}  // namespace recur::billing
