// Billing use cases.
#include "billing/service.h"

#include <spdlog/spdlog.h>

#include <mutex>

#include "catalog/store.h"
#include "customers/service.h"
#include "platform/money.h"
#include "platform/parallel.h"
#include "customers/store.h"
#include "subscriptions/store.h"

namespace recur::billing {

struct BillingService::Prepared {
  Payment payment;
  std::string gateway_customer;
  std::string token;
  std::string description;
  std::string subscription;
};

namespace {

Error invoice_not_found(const std::string& id) {
  return Error::not_found("invoice_not_found", "no invoice with id '" + id + "'");
}

std::string billing_reason(const subscriptions::LifecycleEvent& e) {
  if (e.type == "subscription.started") return "subscription_create";
  if (e.type == "subscription.renewed" || e.type == "subscription.trial_ended") return "subscription_cycle";
  return "subscription_update";
}

}  // namespace

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
                {"errors", r.payments.errors}}}};
}

namespace {

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
  r.payments = {p.at("attempted"), p.at("succeeded"), p.at("failed"), p.at("unknown"), p.at("errors"), ""};
  return r;
}

}  // namespace

BillingService::BillingService(db::Database& db, const Clock& clock, IdGenerator& ids, Gateways& gateways,
                               subscriptions::SubscriptionService& subscriptions, BillingOptions options,
                               notify::Notifier* notifier)
    : db_(db), clock_(clock), ids_(ids), gateways_(gateways), subscriptions_(subscriptions), options_(options),
      events_(ids, clock), notifier_(notifier) {}

void BillingService::tell_customer(db::Tx& tx, const Invoice& inv, const Payment& pay) {
  if (!notifier_) return;
  auto customer = customers::find_customer(tx, inv.customer);
  if (!customer.ok() || !*customer) return;
  const auto& c = **customer;
  notify::Message m;
  m.to = c.email;
  m.customer = c.id;
  m.resource = inv.id;
  m.data = {{"customer_name", c.name},
            {"amount", format_amount(pay.amount, pay.currency)},
            {"description", "Invoice " + inv.number},
            {"invoice_id", inv.id},
            {"date", format_rfc3339(pay.updated).substr(0, 10)}};
  if (pay.status == PaymentStatus::kSucceeded) {
    m.template_name = "receipt";
  } else {
    m.template_name = "payment_failed";
    // The hosted update-payment page (outside Recur) resolves this one-time token.
    m.data["update_payment_token"] = random_token(24);
  }
  auto queued = notifier_->enqueue(tx, m);
  if (!queued.ok())
    spdlog::warn("billing: could not queue the {} message for {}: {}", m.template_name, inv.id, queued.error().message);
}

// ------------------------------------------------------------------ invoicing

recur::Status BillingService::period_began(db::Tx& tx, const subscriptions::Subscription& sub,
                                           const subscriptions::LifecycleEvent& e) {
  // The lifecycle read the plan in this transaction: its name is on the event.
  std::string plan_name = e.plan_name;
  if (plan_name.empty()) {
    RECUR_ASSIGN(auto plan, catalog::find_plan(tx, e.plan));
    plan_name = plan ? plan->name : e.plan;
  }
  Invoice inv;
  inv.id = ids_.next("in");
  inv.subscription = sub.id;
  inv.customer = sub.customer;
  inv.period = e.period;
  inv.currency = e.currency;
  inv.billing_reason = billing_reason(e);
  std::int64_t gross = e.unit_amount * e.quantity;
  inv.lines.push_back({plan_name + (e.quantity > 1 ? " × " + std::to_string(e.quantity) : ""), gross, e.quantity,
                       e.period, false});
  RECUR_ASSIGN(auto pending, take_pending_items(tx, sub.id));
  for (auto& line : pending) inv.lines.push_back(std::move(line));
  // The lifecycle priced the period with its discount; the invoice shows it as one.
  inv.discount_source = e.discount_source;
  Totals t = compute_totals(inv.lines, gross - e.amount, 0);
  if (t.carried_credit < 0) {
    // Credits the invoice cannot absorb wait for the next one, as a pending item.
    inv.lines.push_back({"Unused credit carried to the next invoice", -t.carried_credit, 1, e.period, false});
    subscriptions::PendingItem carry{ids_.next("ii"), sub.id, "Unused credit from the previous invoice",
                                     t.carried_credit, e.currency, 1, e.period, false};
    RECUR_TRY(subscriptions::insert_pending_item(tx, carry, e.at));
    t = compute_totals(inv.lines, gross - e.amount, 0);
  }
  inv.subtotal = t.subtotal;
  inv.discount = t.discount;
  inv.tax = t.tax;
  inv.total = t.total;
  RECUR_ASSIGN(inv.number, next_invoice_number(tx));
  inv.created = inv.updated = e.at;
  if (inv.total == 0) {
    inv.status = InvoiceStatus::kPaid;
    inv.paid_at = e.at;
  } else {
    inv.status = InvoiceStatus::kOpen;
    inv.next_attempt_at = e.at;
  }
  RECUR_ASSIGN(bool inserted, insert_invoice(tx, inv));
  if (!inserted) return Error::internal("period " + format_rfc3339(e.period.start) + " of " + sub.id + " is invoiced already");
  RECUR_TRY(events_.record(tx, "invoice.finalized", inv.id, events::Actor::system(), nullptr, to_json(inv)));
  if (inv.status == InvoiceStatus::kPaid)
    RECUR_TRY(events_.record(tx, "invoice.paid", inv.id, events::Actor::system(), nullptr, nullptr, {{"amount", 0}}));
  return Ok{};
}

// ------------------------------------------------------------------ collection

Result<std::optional<BillingService::Prepared>> BillingService::prepare_attempt(const std::string& id, Timestamp now,
                                                                                AttemptResult* settled) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<Prepared>> {
    *settled = AttemptResult::kSkipped;
    RECUR_ASSIGN(auto found, find_invoice(tx, id, true));
    if (!found || found->status != InvoiceStatus::kOpen) return std::optional<Prepared>();
    Invoice inv = std::move(*found);
    Prepared p;
    p.description = "Invoice " + inv.number;
    p.subscription = inv.subscription;
    RECUR_ASSIGN(auto in_flight, pending_payment(tx, id));
    if (in_flight) {
      // Asked before and no answer recorded: ask again with the same key.
      RECUR_ASSIGN(auto pm, customers::find_payment_method(tx, in_flight->payment_method));
      if (!pm) return Error::internal("payment " + in_flight->id + " refers to a missing payment method");
      p.payment = std::move(*in_flight);
      p.gateway_customer = pm->gateway_customer;
      p.token = pm->token;
      return std::optional<Prepared>(std::move(p));
    }
    RECUR_ASSIGN(auto pm, customers::default_payment_method(tx, inv.customer));
    Payment& pay = p.payment;
    pay.id = ids_.next("pay");
    pay.invoice = inv.id;
    pay.customer = inv.customer;
    pay.attempt = inv.attempt_count + 1;
    pay.amount = inv.total - inv.amount_paid;
    pay.currency = inv.currency;
    pay.idempotency_key = attempt_key(inv.id, pay.attempt);
    pay.created = pay.updated = now;
    inv.attempt_count = pay.attempt;
    inv.updated = now;
    ++inv.version;
    if (!pm) {
      // Nothing to charge: a failed attempt without a gateway call, and dunning goes on.
      pay.status = PaymentStatus::kFailed;
      pay.failure_code = "no_payment_method";
      pay.failure_message = "the customer has no default payment method";
      RECUR_TRY(insert_payment(tx, pay));
      RECUR_TRY(record_failure(tx, inv, now));
      RECUR_TRY(update_invoice(tx, inv));
      *settled = AttemptResult::kFailed;
      return std::optional<Prepared>();
    }
    pay.gateway = pm->gateway;
    pay.payment_method = pm->id;
    p.gateway_customer = pm->gateway_customer;
    p.token = pm->token;
    RECUR_TRY(insert_payment(tx, pay));
    RECUR_TRY(update_invoice(tx, inv));
    return std::optional<Prepared>(std::move(p));
  });
}

Result<BillingService::AttemptResult> BillingService::attempt(const std::string& id) {
  Timestamp now = clock_.now();
  AttemptResult settled = AttemptResult::kSkipped;
  RECUR_ASSIGN(auto prepared, prepare_attempt(id, now, &settled));
  if (!prepared) return settled;
  const Payment& pay = prepared->payment;
  ChargeResult result;
  if (Gateway* gateway = gateways_.find(pay.gateway)) {
    ChargeRequest request{prepared->gateway_customer, prepared->token, Money{pay.amount, pay.currency},
                          prepared->description, pay.idempotency_key,
                          {{"invoice", pay.invoice}, {"subscription", prepared->subscription}, {"payment", pay.id}}};
    result = gateway->charge(request);
  } else {
    // Configuration, not the card: keep the key and try again once the gateway is back.
    result = {Outcome::kUnknown, "", "gateway_not_configured", "no gateway named '" + pay.gateway + "' is configured"};
  }
  return record_outcome(*prepared, result, clock_.now());
}

Result<BillingService::AttemptResult> BillingService::record_outcome(const Prepared& prepared,
                                                                     const ChargeResult& result, Timestamp now) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<AttemptResult> {
    RECUR_ASSIGN(auto found, find_invoice(tx, prepared.payment.invoice, true));
    RECUR_ASSIGN(auto stored, find_payment(tx, prepared.payment.id));
    // Another worker recorded this attempt already (a lease ran out while we waited).
    if (!found || !stored || stored->status != PaymentStatus::kPending) return AttemptResult::kSkipped;
    Invoice inv = std::move(*found);
    Payment pay = std::move(*stored);
    pay.updated = now;
    inv.updated = now;
    ++inv.version;
    AttemptResult outcome = AttemptResult::kUnknown;
    switch (result.outcome) {
      case Outcome::kSucceeded: {
        pay.status = PaymentStatus::kSucceeded;
        pay.charge_id = result.charge_id;
        pay.failure_code.clear();
        pay.failure_message.clear();
        bool was_failing = inv.first_failed_at.has_value();
        inv.amount_paid += pay.amount;
        inv.status = InvoiceStatus::kPaid;
        inv.paid_at = now;
        inv.next_attempt_at.reset();
        if (was_failing)
          RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, subscriptions::PaymentStep::kRecovered, inv.id));
        RECUR_TRY(events_.record(tx, "payment.succeeded", pay.id, events::Actor::system(), nullptr, to_json(pay)));
        RECUR_TRY(events_.record(tx, "invoice.paid", inv.id, events::Actor::system(), nullptr, nullptr,
                                 {{"amount", pay.amount}, {"payment", pay.id}}));
        tell_customer(tx, inv, pay);
        outcome = AttemptResult::kSucceeded;
        break;
      }
      case Outcome::kFailed:
        pay.status = PaymentStatus::kFailed;
        pay.charge_id = result.charge_id;
        pay.failure_code = result.failure_code;
        pay.failure_message = result.failure_message;
        RECUR_TRY(events_.record(tx, "payment.failed", pay.id, events::Actor::system(), nullptr, to_json(pay)));
        RECUR_TRY(record_failure(tx, inv, now));
        tell_customer(tx, inv, pay);
        outcome = AttemptResult::kFailed;
        break;
      case Outcome::kUnknown:
        // The money may or may not have moved: keep the payment pending and its key.
        pay.failure_code = result.failure_code;
        pay.failure_message = result.failure_message;
        inv.next_attempt_at = now + options_.unknown_retry_seconds;
        break;
    }
    RECUR_TRY(update_payment(tx, pay));
    RECUR_TRY(update_invoice(tx, inv));
    return outcome;
  });
}

recur::Status BillingService::record_failure(db::Tx& tx, Invoice& inv, Timestamp now) {
  if (!inv.first_failed_at) inv.first_failed_at = now;
  RECUR_ASSIGN(DunningSettings settings, load_dunning(tx, false));
  // Every attempt before this one failed too (an attempt is only renewed after a failure).
  auto next = next_retry_at(settings, *inv.first_failed_at, inv.attempt_count);
  Json details = {{"attempt", inv.attempt_count}, {"next_payment_attempt", to_json_time(next)}};
  if (next) {
    inv.next_attempt_at = *next;
    RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, subscriptions::PaymentStep::kFailed, inv.id));
    return events_.record(tx, "invoice.payment_failed", inv.id, events::Actor::system(), nullptr, nullptr, details);
  }
  inv.next_attempt_at.reset();
  details["final_action"] = to_string(settings.final_action);
  switch (settings.final_action) {
    case FinalAction::kCancel:
      inv.status = InvoiceStatus::kUncollectible;
      RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, subscriptions::PaymentStep::kExhaustedCancel,
                                                  inv.id));
      break;
    case FinalAction::kUnpaid:
      inv.status = InvoiceStatus::kUncollectible;
      RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, subscriptions::PaymentStep::kFailed, inv.id));
      break;
    case FinalAction::kPause:
      // The invoice stays open: a new payment method pays it, the customer resumes.
      RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, subscriptions::PaymentStep::kExhaustedPause,
                                                  inv.id));
      break;
  }
  return events_.record(tx, "invoice.dunning_exhausted", inv.id, events::Actor::system(), nullptr, nullptr, details);
}

void BillingService::count(CollectReport& report, const std::string& invoice, const Result<AttemptResult>& result) {
  if (!result.ok()) {
    if (report.errors++ == 0) report.first_error = invoice + ": " + result.error().message;
    return;
  }
  switch (*result) {
    case AttemptResult::kSkipped: return;
    case AttemptResult::kSucceeded: ++report.succeeded; break;
    case AttemptResult::kFailed: ++report.failed; break;
    case AttemptResult::kUnknown: ++report.unknown; break;
  }
  ++report.attempted;
}

int BillingService::workers() const {
  return db_.engine() == db::Engine::kPostgres ? std::max(options_.workers, 1) : 1;
}

Result<CollectReport> BillingService::collect_due() {
  CollectReport report;
  Timestamp now = clock_.now();
  Progress progress{"charges", 0, 0};
  if (progress_) {
    RECUR_ASSIGN(progress.total, db::transact(db_, [&](db::Tx& tx) { return count_due_invoices(tx, now); },
                                              db::TxMode::kReadOnly));
    progress_(progress);
  }
  std::mutex mu;  // guards report, progress and claim_error
  std::optional<Error> claim_error;
  // Every worker claims its own batches (FOR UPDATE SKIP LOCKED, then a lease) until
  // nothing is left: what one claimed, no other attempts in this run.
  on_threads(workers(), [&](int) {
    for (;;) {
      auto ids = db::transact(db_, [&](db::Tx& tx) {
        return claim_due_invoices(tx, now, options_.batch, now + options_.attempt_lease_seconds);
      });
      if (!ids.ok()) {
        std::lock_guard lock(mu);
        if (!claim_error) claim_error = std::move(ids).error();
        return;
      }
      for (const auto& id : *ids) {
        auto result = attempt(id);
        std::lock_guard lock(mu);
        count(report, id, result);
        if (progress_) {
          progress.done = std::min(progress.total, progress.done + 1);
          progress_(progress);
        }
      }
      if (static_cast<int>(ids->size()) < options_.batch) return;
    }
  });
  if (claim_error) return *claim_error;
  if (progress_ && progress.done < progress.total) {
    progress.done = progress.total;  // another worker took the rest
    progress_(progress);
  }
  return report;
}

CollectReport BillingService::retry_customer(const std::string& customer) {
  CollectReport report;
  auto ids = db::transact(db_, [&](db::Tx& tx) { return open_invoices_of(tx, customer); }, db::TxMode::kReadOnly);
  if (!ids.ok()) {
    report.errors = 1;
    report.first_error = ids.error().message;
    return report;
  }
  for (const auto& id : *ids) count(report, id, attempt(id));
  return report;
}

Result<Invoice> BillingService::pay_invoice(const std::string& id) {
  RECUR_ASSIGN(Invoice inv, get_invoice(id));
  if (inv.status != InvoiceStatus::kOpen)
    return Error::conflict("invoice_not_open", "invoice " + id + " is " + std::string(to_string(inv.status)) +
                                                   "; only an open invoice can be paid");
  RECUR_TRY(attempt(id));
  return get_invoice(id);
}

Result<BillingRun> BillingService::run(const std::string& trigger) {
  BillingRun r;
  r.id = ids_.next("brun");
  r.trigger = trigger;
  r.started = r.as_of = clock_.now();
  RECUR_ASSIGN(auto lifecycle, subscriptions_.run_due(workers()));
  if (progress_) progress_({"renewals", lifecycle.subscriptions, lifecycle.subscriptions});
  r.subscriptions_advanced = lifecycle.subscriptions;
  r.lifecycle_events = lifecycle.events;
  r.lifecycle_failures = lifecycle.failures;
  RECUR_ASSIGN(r.payments, collect_due());
  r.finished = clock_.now();
  // Quiet runs (nothing due) are not worth a row: the history lists runs that did work.
  if (r.subscriptions_advanced + r.payments.attempted + r.lifecycle_failures + r.payments.errors == 0) return r;
  RECUR_TRY(db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    return tx.exec("INSERT INTO billing_runs (id, started_at, doc) VALUES ($1, $2, $3)",
                   {r.id, r.started, to_json(r).dump()}).ok()
               ? recur::Status(Ok{})
               : recur::Status(Error::internal("could not record the billing run"));
  }));
  return r;
}

// ------------------------------------------------------------------ reads and admin

Result<Invoice> BillingService::get_invoice(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Invoice> {
    RECUR_ASSIGN(auto found, find_invoice(tx, id, false));
    if (!found) return invoice_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<InvoicePage> BillingService::list_invoices(const InvoiceFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<InvoicePage> {
    RECUR_ASSIGN(auto rows, billing::list_invoices(tx, filter));
    InvoicePage page;
    page.has_more = static_cast<int>(rows.size()) > filter.limit;
    if (page.has_more) rows.pop_back();
    page.items = std::move(rows);
    return page;
  }, db::TxMode::kReadOnly);
}

Result<Invoice> BillingService::void_invoice(const std::string& id, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Invoice> {
    RECUR_ASSIGN(auto found, find_invoice(tx, id, true));
    if (!found) return invoice_not_found(id);
    Invoice inv = std::move(*found);
    if (inv.status != InvoiceStatus::kOpen && inv.status != InvoiceStatus::kUncollectible)
      return Error::conflict("invoice_not_voidable", "invoice " + id + " is " + std::string(to_string(inv.status)) +
                                                         "; only open or uncollectible invoices can be voided");
    RECUR_ASSIGN(auto in_flight, pending_payment(tx, id));
    if (in_flight)
      return Error::conflict("payment_in_flight", "a charge of invoice " + id +
                                                      " awaits the gateway's answer; try again once it is recorded");
    Json before = to_json(inv);
    inv.status = InvoiceStatus::kVoid;
    inv.next_attempt_at.reset();
    inv.updated = clock_.now();
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(events_.record(tx, "invoice.voided", inv.id, actor, std::move(before), to_json(inv)));
    return inv;
  });
}

Result<Payment> BillingService::get_payment(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Payment> {
    RECUR_ASSIGN(auto found, find_payment(tx, id));
    if (!found) return Error::not_found("payment_not_found", "no payment with id '" + id + "'");
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<PaymentPage> BillingService::list_payments(const PaymentFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<PaymentPage> {
    RECUR_ASSIGN(auto rows, billing::list_payments(tx, filter));
    PaymentPage page;
    page.has_more = static_cast<int>(rows.size()) > filter.limit;
    if (page.has_more) rows.pop_back();
    page.items = std::move(rows);
    return page;
  }, db::TxMode::kReadOnly);
}

Result<RunPage> BillingService::list_runs(int limit, const std::optional<std::string>& starting_after) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<RunPage> {
    std::string sql = "SELECT doc FROM billing_runs WHERE 1 = 1";
    db::Params params;
    if (starting_after) {
      params.emplace_back(*starting_after);
      sql += " AND id < $1";
    }
    params.emplace_back(std::int64_t{limit + 1});
    sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
    RECUR_ASSIGN(auto rows, tx.query(sql, params));
    RunPage page;
    page.has_more = static_cast<int>(rows.size()) > limit;
    if (page.has_more) rows.pop_back();
    for (const auto& r : rows) page.items.push_back(run_from_doc(Json::parse(r.text(0))));
    return page;
  }, db::TxMode::kReadOnly);
}

Result<DunningSettings> BillingService::dunning() {
  return db::transact(db_, [&](db::Tx& tx) { return load_dunning(tx, false); }, db::TxMode::kReadOnly);
}

Result<DunningSettings> BillingService::update_dunning(const DunningPatch& patch, std::int64_t expected_version,
                                                       const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<DunningSettings> {
    RECUR_ASSIGN(auto rows, tx.query("SELECT 1 FROM billing_settings WHERE name = 'dunning'" + std::string(tx.for_update())));
    RECUR_ASSIGN(DunningSettings s, load_dunning(tx, false));
    if (s.version != expected_version) return version_conflict("the dunning settings", expected_version, s.version);
    Json before = to_json(s);
    if (patch.retry_days) s.retry_days = *patch.retry_days;
    if (patch.final_action) s.final_action = *patch.final_action;
    RECUR_TRY(validate(s));
    ++s.version;
    s.updated = clock_.now();
    RECUR_TRY(save_dunning(tx, s, !rows.empty()));
    RECUR_TRY(events_.record(tx, "settings.dunning_updated", "dunning", actor, std::move(before), to_json(s)));
    return s;
  });
}

Result<std::optional<Timestamp>> BillingService::next_due_at() {
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<Timestamp>> {
    RECUR_ASSIGN(auto invoices, next_attempt_due(tx));
    RECUR_ASSIGN(auto lifecycle, subscriptions::next_action_due(tx));
    if (!invoices) return lifecycle;
    if (!lifecycle) return invoices;
    return std::optional<Timestamp>(std::min(*invoices, *lifecycle));
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::billing
