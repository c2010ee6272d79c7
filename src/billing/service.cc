// Billing use cases.
#include "billing/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <mutex>

#include "billing/settlement.h"
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
                {"errors", r.payments.errors},
                {"refunds_resumed", r.payments.refunds_resumed},
                {"reminders_queued", r.payments.reminders_queued},
                {"reminders_failed", r.payments.reminders_failed}}},
              {"failure_rate_alert", r.failure_rate_alert}};
}

namespace {

// `rows` holds up to limit + 1 items: the extra one only says there is more.
template <typename T>
Page<T> page_of(std::vector<T> rows, int limit) {
  Page<T> page;
  page.has_more = static_cast<int>(rows.size()) > limit;
  if (page.has_more) rows.pop_back();
  page.items = std::move(rows);
  return page;
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
                p.value("refunds_resumed", 0), p.value("reminders_queued", 0), p.value("reminders_failed", 0)};
  r.failure_rate_alert = d.value("failure_rate_alert", false);
  return r;
}

}  // namespace

BillingService::BillingService(db::Database& db, const Clock& clock, IdGenerator& ids, Gateways& gateways,
                               subscriptions::SubscriptionService& subscriptions, BillingOptions options,
                               notify::Notifier* notifier)
    : db_(db), clock_(clock), ids_(ids), gateways_(gateways), subscriptions_(subscriptions), options_(options),
      events_(ids, clock), notifier_(notifier) {}

Result<std::string> BillingService::enqueue_with_payment_link(db::Tx& tx, notify::Message m,
                                                              const PaymentUpdateGrant& grant) {
  const std::string token = new_payment_update_token();
  m.data["update_payment_token"] = token;
  RECUR_ASSIGN(std::string id, notifier_->enqueue(tx, m));
  RECUR_TRY(issue_payment_update_token(tx, token, grant, clock_.now(), options_.payment_update_token_seconds));
  return id;
}

void BillingService::tell_customer(db::Tx& tx, const Invoice& inv, const Payment& pay) {
  if (!notifier_) return;
  auto customer = customers::find_customer(tx, inv.customer);
  if (!customer.ok()) {
    spdlog::warn("billing: no {} message for {}: {}", pay.status == PaymentStatus::kSucceeded ? "receipt" : "payment_failed",
                 inv.id, customer.error().message);
    return;
  }
  if (!*customer) return;
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
  const bool paid = pay.status == PaymentStatus::kSucceeded;
  m.template_name = paid ? "receipt" : "payment_failed";
  // A failed payment's message links to the merchant's update-payment page with a one-time token.
  auto queued = paid ? notifier_->enqueue(tx, m) : enqueue_with_payment_link(tx, m, {c.id, inv.id, std::nullopt});
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
  // Tax by the customer's country; the customer is read only when rates are configured.
  std::int64_t tax_bp = 0;
  RECUR_ASSIGN(auto tax, load_tax(tx, false));
  if (tax && !tax->rates_bp.empty()) {
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, sub.customer));
    std::optional<std::string> country;
    if (customer && customer->shipping_address) country = customer->shipping_address->country;
    if (sub.shipping_address) country = sub.shipping_address->country;  // where this box goes
    tax_bp = tax_rate_for(*tax, country);
  }
  // The period's discount comes off its charge before any credit is weighed against it.
  PeriodInvoice priced = invoice_period(std::move(inv.lines), gross - e.amount, tax_bp, e.period);
  inv.lines = std::move(priced.lines);
  const Totals& t = priced.totals;
  if (priced.carried < 0) {
    // Credits the invoice cannot absorb wait for the next one, as a pending item.
    subscriptions::PendingItem carry{ids_.next("ii"), sub.id, "Unused credit from the previous invoice",
                                     priced.carried, e.currency, 1, e.period, false};
    RECUR_TRY(subscriptions::insert_pending_item(tx, carry, e.at));
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
    // An unpaid subscription keeps being invoiced, but nothing is charged automatically:
    // the customer's next payment method (or an operator) pays every open invoice.
    if (sub.status != subscriptions::Status::kUnpaid) inv.next_attempt_at = e.at;
  }
  RECUR_ASSIGN(bool inserted, insert_invoice(tx, inv, e.sequence));
  if (!inserted) return Error::internal("period " + format_rfc3339(e.period.start) + " of " + sub.id + " is invoiced already");
  RECUR_TRY(events_.record(tx, "invoice.finalized", inv.id, events::Actor::system(), nullptr, to_json(inv)));
  if (inv.status == InvoiceStatus::kPaid)
    RECUR_TRY(events_.record(tx, "invoice.paid", inv.id, events::Actor::system(), nullptr, nullptr, {{"amount", 0}}));
  return Ok{};
}

recur::Status BillingService::subscription_ended(db::Tx& tx, const subscriptions::Subscription& sub,
                                                 const std::string& settling) {
  Timestamp now = sub.ended_at.value_or(clock_.now());
  RECUR_ASSIGN(auto open, open_invoices_of_subscription(tx, sub.id));
  for (const auto& id : open) {
    if (id == settling) continue;
    RECUR_ASSIGN(auto found, find_invoice(tx, id, true));
    if (!found || found->status != InvoiceStatus::kOpen || found->collection_ended) continue;
    Invoice inv = std::move(*found);
    RECUR_ASSIGN(auto in_flight, pending_payment(tx, id));
    if (!in_flight) {
      RECUR_TRY(void_ended(tx, inv, now));
      RECUR_TRY(update_invoice(tx, inv));
      continue;
    }
    // The gateway may have taken the money already: the invoice stays open until the next
    // run asks again with the same key (next_attempt_at is kept); its answer closes it.
    Json before = to_json(inv);
    inv.collection_ended = true;
    inv.updated = now;
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(events_.record(tx, "invoice.collection_ended", inv.id, events::Actor::system(), std::move(before),
                             to_json(inv), {{"reason", "subscription_canceled"}, {"payment_in_flight", in_flight->id}}));
  }
  return Ok{};
}

recur::Status BillingService::void_ended(db::Tx& tx, Invoice& inv, Timestamp now) {
  Json before = to_json(inv);
  inv.status = InvoiceStatus::kVoid;
  inv.next_attempt_at.reset();
  inv.updated = now;
  ++inv.version;
  return events_.record(tx, "invoice.voided", inv.id, events::Actor::system(), std::move(before), to_json(inv),
                        {{"reason", "subscription_canceled"}});
}

recur::Status BillingService::refund_ended(db::Tx& tx, Invoice& inv, const Payment& pay, Timestamp now) {
  Refund r{ids_.next("re"), inv.id, pay.id, inv.customer, pay.amount, pay.currency, "requested_by_customer",
           PaymentStatus::kPending, "", "", "", "", now, now};
  inv.amount_refunded += r.amount;  // reserved now, as refund() does
  RECUR_TRY(insert_refund(tx, r));
  return events_.record(tx, "refund.created", r.id, events::Actor::system(), nullptr, to_json(r),
                        {{"reason", "subscription_canceled"}});
}

// ------------------------------------------------------------------ collection

Result<std::optional<BillingService::Prepared>> BillingService::prepare_attempt(const std::string& id, Timestamp now,
                                                                                AttemptResult* settled,
                                                                                const std::string& request_key) {
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
    if (inv.collection_ended) {
      // Its subscription ended and the attempt in flight then was answered without closing
      // it (it never is; kept so an ended invoice can never be charged anew).
      RECUR_TRY(void_ended(tx, inv, now));
      RECUR_TRY(update_invoice(tx, inv));
      return std::optional<Prepared>();
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
      RECUR_TRY(insert_payment(tx, pay, request_key));
      RECUR_TRY(record_failure(tx, inv, now));
      RECUR_TRY(update_invoice(tx, inv));
      *settled = AttemptResult::kFailed;
      return std::optional<Prepared>();
    }
    pay.gateway = pm->gateway;
    pay.payment_method = pm->id;
    p.gateway_customer = pm->gateway_customer;
    p.token = pm->token;
    RECUR_TRY(insert_payment(tx, pay, request_key));
    RECUR_TRY(update_invoice(tx, inv));
    return std::optional<Prepared>(std::move(p));
  });
}

Result<BillingService::AttemptResult> BillingService::attempt(const std::string& id, const std::string& request_key) {
  Timestamp now = clock_.now();
  AttemptResult settled = AttemptResult::kSkipped;
  RECUR_ASSIGN(auto prepared, prepare_attempt(id, now, &settled, request_key));
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
  return db::transact(db_, [&](db::Tx& tx) {
    return settle_payment(tx, prepared.payment.invoice, prepared.payment.id, result, now);
  });
}

Result<BillingService::AttemptResult> BillingService::settle_payment(db::Tx& tx, const std::string& invoice,
                                                                     const std::string& payment,
                                                                     const ChargeResult& result, Timestamp now) {
  // The invoice's lock first: every writer of its payments takes it, so the status
  // read below cannot change until this transaction ends.
  RECUR_ASSIGN(auto found, find_invoice(tx, invoice, true));
  RECUR_ASSIGN(auto stored, find_payment(tx, payment));
  // Recorded already: by another worker (a lease ran out while we waited) or a webhook.
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
      RECUR_ASSIGN(bool recovers, payment_recovers(tx, inv, was_failing));
      if (recovers && !inv.collection_ended) {
        RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, subscriptions::PaymentStep::kRecovered, inv.id));
      }
      RECUR_TRY(events_.record(tx, "payment.succeeded", pay.id, events::Actor::system(), nullptr, to_json(pay)));
      RECUR_TRY(events_.record(tx, "invoice.paid", inv.id, events::Actor::system(), nullptr, nullptr,
                               {{"amount", pay.amount}, {"payment", pay.id}}));
      tell_customer(tx, inv, pay);
      if (inv.collection_ended) RECUR_TRY(refund_ended(tx, inv, pay, now));
      outcome = AttemptResult::kSucceeded;
      break;
    }
    case Outcome::kFailed:
      pay.status = PaymentStatus::kFailed;
      pay.charge_id = result.charge_id;
      pay.failure_code = result.failure_code;
      pay.failure_message = result.failure_message;
      RECUR_TRY(events_.record(tx, "payment.failed", pay.id, events::Actor::system(), nullptr, to_json(pay)));
      outcome = AttemptResult::kFailed;
      if (inv.collection_ended) {
        // Its subscription ended: no dunning and no "update your card" message, just closed.
        RECUR_TRY(void_ended(tx, inv, now));
        break;
      }
      RECUR_TRY(record_failure(tx, inv, now));
      tell_customer(tx, inv, pay);
      break;
    case Outcome::kUnknown:
      // The money may or may not have moved: keep the payment pending and its key (and
      // the charge's id when the gateway gave one, so its webhook finds the payment).
      if (!result.charge_id.empty()) pay.charge_id = result.charge_id;
      pay.failure_code = result.failure_code;
      pay.failure_message = result.failure_message;
      inv.next_attempt_at = now + options_.unknown_retry_seconds;
      break;
  }
  RECUR_TRY(update_payment(tx, pay));
  RECUR_TRY(update_invoice(tx, inv));
  return outcome;
}

Result<bool> BillingService::payment_recovers(db::Tx& tx, const Invoice& inv, bool was_failing) {
  RECUR_ASSIGN(auto sub, subscriptions::find(tx, inv.subscription, false));
  if (!sub || sub->status != subscriptions::Status::kUnpaid) return was_failing;
  RECUR_ASSIGN(std::int64_t still_open, count_other_open_invoices(tx, inv.subscription, inv.id));
  return still_open == 0;
}

recur::Status BillingService::record_failure(db::Tx& tx, Invoice& inv, Timestamp now) {
  if (!inv.first_failed_at) inv.first_failed_at = now;
  RECUR_ASSIGN(auto sub, subscriptions::find(tx, inv.subscription, false));
  if (sub && sub->status == subscriptions::Status::kUnpaid) {
    // Dunning is over for an unpaid subscription: a failed try (an operator's, or after a
    // new card) schedules nothing; the invoice waits, open, for the next payment method.
    inv.next_attempt_at.reset();
    return events_.record(tx, "invoice.payment_failed", inv.id, events::Actor::system(), nullptr, nullptr,
                          {{"attempt", inv.attempt_count}, {"next_payment_attempt", nullptr}});
  }
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
      // Stripe's unpaid: the invoice stays open but is no longer retried, later periods are
      // invoiced without being charged, and nothing ships until they are all paid.
      RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, subscriptions::PaymentStep::kExhaustedUnpaid,
                                                  inv.id));
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

Result<Invoice> BillingService::pay_invoice(const std::string& id, const std::string& request_key) {
  if (!request_key.empty()) {
    RECUR_ASSIGN(auto earlier, db::transact(db_, [&](db::Tx& tx) {
      return find_payment_by_request(tx, request_key, clock_.now());
    }, db::TxMode::kReadOnly));
    if (earlier) {
      // This request's attempt was made: ask again about it if it is still pending (same
      // gateway key), and answer with the invoice as it is now; never a second attempt.
      if (earlier->status == PaymentStatus::kPending) RECUR_TRY(attempt(id));
      return get_invoice(id);
    }
  }
  RECUR_ASSIGN(Invoice inv, get_invoice(id));
  if (inv.status != InvoiceStatus::kOpen)
    return Error::conflict("invoice_not_open", "invoice " + id + " is " + std::string(to_string(inv.status)) +
                                                   "; only an open invoice can be paid");
  RECUR_TRY(attempt(id, request_key));
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
  RECUR_ASSIGN(r.payments.refunds_resumed, resume_pending_refunds());
  RECUR_ASSIGN(ReminderReport reminders, send_reminders(r.id));
  r.payments.reminders_queued = reminders.queued;
  r.payments.reminders_failed = reminders.failed;
  r.finished = clock_.now();
  RECUR_ASSIGN(r.failure_rate_alert, failure_rate_jumped(r));
  // Quiet runs (nothing due) are not worth a row: the history lists runs that did work.
  if (r.subscriptions_advanced + r.payments.attempted + r.lifecycle_failures + r.payments.errors +
          r.payments.refunds_resumed + r.payments.reminders_queued + r.payments.reminders_failed ==
      0)
    return r;
  auto recorded = db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("INSERT INTO billing_runs (id, started_at, doc) VALUES ($1, $2, $3)",
                      {r.id, r.started, to_json(r).dump()}));
    return Ok{};
  });
  if (!recorded.ok()) {
    // The run's work is done and committed; only its record is missing. Say which run.
    spdlog::error("billing run {}: could not record the run: {}", r.id, recorded.error().message);
    return std::move(recorded).error();
  }
  return r;
}

// ------------------------------------------------------------------ refunds and credit notes

namespace {

Error not_creditable(const Invoice& inv) {
  return Error::conflict("invoice_not_paid", "invoice " + inv.id + " is " + std::string(to_string(inv.status)) +
                                                 "; only a paid invoice can be refunded or credited");
}

Result<std::int64_t> checked_amount(const Invoice& inv, std::optional<std::int64_t> asked) {
  std::int64_t left = creditable(inv);
  if (left <= 0)
    return Error::conflict("nothing_to_refund", "invoice " + inv.id + " has nothing left to refund or credit");
  std::int64_t amount = asked.value_or(left);
  if (amount <= 0 || amount > left)
    return Error::invalid("amount_too_large",
                          "invoice " + inv.id + " has " + std::to_string(left) + " " + inv.currency + " left to give back",
                          {{"amount", "out_of_range", "between 1 and " + std::to_string(left)}});
  return amount;
}

}  // namespace

Result<Refund> BillingService::refund(const RefundInput& in, const events::Actor& actor) {
  RECUR_ASSIGN(auto earlier, refund_of_request(in.request_key));
  if (earlier) return resume_refund(*earlier);
  Timestamp now = clock_.now();
  auto made = db::transact(db_, [&](db::Tx& tx) -> Result<Refund> {
    RECUR_ASSIGN(auto found, find_invoice(tx, in.invoice, true));
    if (!found) return invoice_not_found(in.invoice);
    Invoice inv = std::move(*found);
    if (inv.status != InvoiceStatus::kPaid) return not_creditable(inv);
    RECUR_ASSIGN(std::int64_t amount, checked_amount(inv, in.amount));
    RECUR_ASSIGN(auto paid, billing::list_payments(tx, {inv.id, std::nullopt, "succeeded", 1, std::nullopt}));
    if (paid.empty())  // unreachable while amount_paid only grows by charges; kept as a guard
      return Error::conflict("nothing_to_refund", "invoice " + inv.id + " was settled without a charge");
    Refund r{ids_.next("re"), inv.id, paid[0].id, inv.customer, amount, inv.currency, in.reason,
             PaymentStatus::kPending, "", "", "", "", now, now};
    // Reserved now, so two refunds at once can never give back more than was paid.
    inv.amount_refunded += amount;
    inv.updated = now;
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(insert_refund(tx, r, in.request_key));
    RECUR_TRY(events_.record(tx, "refund.created", r.id, actor, nullptr, to_json(r)));
    return r;
  });
  if (!made.ok() && made.error().code == db::kUniqueViolation && !in.request_key.empty()) {
    // A retry that took the key over made it at the same moment: carry on with that one.
    RECUR_ASSIGN(earlier, refund_of_request(in.request_key));
    if (earlier) return resume_refund(*earlier);
  }
  if (!made.ok()) return std::move(made).error();
  return settle_refund(made->id, ask_refund(*made));
}

Result<std::optional<Refund>> BillingService::refund_of_request(const std::string& request_key) {
  if (request_key.empty()) return std::optional<Refund>();
  return db::transact(db_, [&](db::Tx& tx) { return find_refund_by_request(tx, request_key, clock_.now()); },
                      db::TxMode::kReadOnly);
}

Result<Refund> BillingService::resume_refund(const Refund& r) {
  // Still pending: ask again with the same key ("refund:<id>"); the gateway answers with the
  // first result instead of refunding twice. Settled: that is the answer.
  if (r.status != PaymentStatus::kPending) return r;
  return settle_refund(r.id, ask_refund(r));
}

RefundResult BillingService::ask_refund(const Refund& r) {
  auto payment = get_payment(r.payment);
  if (!payment.ok()) return {Outcome::kUnknown, "", "gateway_error", payment.error().message};
  Gateway* gateway = gateways_.find(payment->gateway);
  if (!gateway) return {Outcome::kUnknown, "", "gateway_not_configured", "no gateway named '" + payment->gateway + "'"};
  return gateway->refund({payment->charge_id, Money{r.amount, r.currency}, r.reason, "refund:" + r.id});
}

Result<Refund> BillingService::settle_refund(const std::string& id, const RefundResult& result) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) { return settle_refund(tx, id, result, now); });
}

Result<Refund> BillingService::settle_refund(db::Tx& tx, const std::string& id, const RefundResult& result,
                                             Timestamp now) {
  RECUR_ASSIGN(auto found, find_refund(tx, id, true));
  if (!found) return Error::not_found("refund_not_found", "no refund with id '" + id + "'");
  Refund r = std::move(*found);
  if (r.status != PaymentStatus::kPending || result.outcome == Outcome::kUnknown) {
    if (r.status == PaymentStatus::kPending) {
      if (!result.refund_id.empty()) r.gateway_refund_id = result.refund_id;  // accepted, not settled yet
      r.failure_code = result.failure_code;
      r.failure_message = result.failure_message;
      r.updated = now;
      RECUR_TRY(update_refund(tx, r));
    }
    return r;  // settled before, or still unknown: asked again later with the same key
  }
  RECUR_ASSIGN(auto inv_found, find_invoice(tx, r.invoice, true));
  if (!inv_found) return invoice_not_found(r.invoice);
  Invoice inv = std::move(*inv_found);
  r.updated = now;
  if (result.outcome == Outcome::kSucceeded) {
    r.status = PaymentStatus::kSucceeded;
    r.gateway_refund_id = result.refund_id;
    r.failure_code.clear();
    r.failure_message.clear();
    CreditNote note{ids_.next("cn"), "", inv.id, inv.customer, inv.subscription, r.amount, r.currency, r.reason,
                    "refund", r.id, "", now};
    RECUR_ASSIGN(note.number, next_credit_note_number(tx));
    RECUR_TRY(insert_credit_note(tx, note));
    r.credit_note = note.id;
    RECUR_TRY(events_.record(tx, "credit_note.created", note.id, events::Actor::system(), nullptr, to_json(note)));
    RECUR_TRY(events_.record(tx, "refund.succeeded", r.id, events::Actor::system(), nullptr, to_json(r)));
  } else {
    r.status = PaymentStatus::kFailed;
    r.failure_code = result.failure_code;
    r.failure_message = result.failure_message;
    inv.amount_refunded -= r.amount;  // the reservation is released
    inv.updated = now;
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(events_.record(tx, "refund.failed", r.id, events::Actor::system(), nullptr, to_json(r)));
  }
  RECUR_TRY(update_refund(tx, r));
  return r;
}

Result<int> BillingService::resume_pending_refunds() {
  Timestamp before = clock_.now() - options_.unknown_retry_seconds;
  RECUR_ASSIGN(auto ids, db::transact(db_, [&](db::Tx& tx) { return pending_refunds(tx, before, options_.batch); },
                                      db::TxMode::kReadOnly));
  int resumed = 0;
  for (const auto& id : ids) {
    auto r = get_refund(id);
    if (!r.ok() || r->status != PaymentStatus::kPending) continue;
    auto settled = settle_refund(id, ask_refund(*r));
    if (settled.ok() && settled->status != PaymentStatus::kPending) ++resumed;
  }
  return resumed;
}

// ------------------------------------------------------------------ gateway webhooks

namespace {

Json money_json(const std::optional<Money>& money) {
  if (!money) return nullptr;
  return Json{{"amount", money->amount}, {"currency", money->currency}};
}

}  // namespace

Result<WebhookReceipt> BillingService::receive_webhook(const std::string& name,
                                                       const std::map<std::string, std::string>& headers,
                                                       const std::string& body) {
  Gateway* gateway = name == "sandbox" && !options_.sandbox_webhooks ? nullptr : gateways_.find(name);
  if (!gateway) return Error::not_found("gateway_not_found", "no gateway named '" + name + "' takes webhooks here");
  Timestamp now = clock_.now();
  RECUR_ASSIGN(WebhookEvent event, gateway->verify_webhook(headers, body, now));
  return db::transact(db_, [&](db::Tx& tx) -> Result<WebhookReceipt> {
    // Claimed first, in the transaction that acts on it: a redelivery, even a concurrent
    // one, finds the row and changes nothing.
    RECUR_ASSIGN(bool fresh, claim_gateway_event(tx, name, event.id, event.type, now));
    if (!fresh) return WebhookReceipt{true, "duplicate"};
    RECUR_ASSIGN(Handled handled, act_on(tx, name, event, now));
    RECUR_TRY(set_gateway_event_outcome(tx, name, event.id, handled.outcome, handled.resource));
    return WebhookReceipt{false, handled.outcome};
  });
}

Result<BillingService::Handled> BillingService::act_on(db::Tx& tx, const std::string& gateway,
                                                       const WebhookEvent& event, Timestamp now) {
  if (event.charge) return settle_charge(tx, gateway, *event.charge, now);
  if (event.refund) return settle_refund_notice(tx, gateway, *event.refund, now);
  if (event.dispute) return record_dispute(tx, gateway, *event.dispute);
  return Handled{"ignored", ""};
}

Result<std::optional<Payment>> BillingService::payment_for(db::Tx& tx, const ChargeNotice& n) {
  // The closest link first: Recur's own payment id, then the attempt's key, then the charge.
  if (!n.payment.empty()) {
    RECUR_ASSIGN(auto found, find_payment(tx, n.payment));
    if (found) return found;
  }
  if (!n.idempotency_key.empty()) {
    RECUR_ASSIGN(auto found, find_payment_by_key(tx, n.idempotency_key));
    if (found) return found;
  }
  if (!n.result.charge_id.empty()) {
    RECUR_ASSIGN(auto found, find_payment_by_charge(tx, n.result.charge_id));
    if (found) return found;
  }
  if (n.invoice.empty()) return std::optional<Payment>();
  RECUR_ASSIGN(auto pending, pending_payment(tx, n.invoice));
  if (!pending || !may_be_attempt(*pending, n)) return std::optional<Payment>();
  return pending;
}

Result<BillingService::Handled> BillingService::settle_charge(db::Tx& tx, const std::string& gateway,
                                                              const ChargeNotice& notice, Timestamp now) {
  if (!notice.invoice.empty()) {
    // The invoice's lock first, as every settlement takes it: a run or another event
    // settling its payment right now has committed once we hold it, so the lookups below
    // see the payment either still pending or settled (with its charge id), never in
    // between (found by neither the charge id nor as the pending attempt: "unmatched").
    RECUR_TRY(find_invoice(tx, notice.invoice, true));
  }
  RECUR_ASSIGN(auto found, payment_for(tx, notice));
  if (!found) return Handled{"unmatched", ""};
  Verdict verdict = judge_charge(*found, gateway, notice);
  if (verdict == Verdict::kSettle) {
    // The same path a run takes with the gateway's answer; it re-reads the payment under
    // the invoice's lock, so a run that recorded it meanwhile wins and this changes nothing.
    RECUR_ASSIGN(AttemptResult settled, settle_payment(tx, found->invoice, found->id, notice.result, now));
    if (settled == AttemptResult::kSkipped) verdict = Verdict::kAlreadySettled;
  }
  return Handled{std::string(to_string(verdict)), found->id};
}

Result<BillingService::Handled> BillingService::settle_refund_notice(db::Tx& tx, const std::string& gateway,
                                                                     const RefundNotice& notice, Timestamp now) {
  // Recur refunds with the key "refund:<id>"; without it, the one pending refund of the
  // charge's invoice for that amount.
  std::optional<Refund> refund;
  constexpr std::string_view kPrefix = "refund:";
  if (notice.idempotency_key.starts_with(kPrefix)) {
    RECUR_ASSIGN(refund, find_refund(tx, notice.idempotency_key.substr(kPrefix.size()), false));
  }
  std::optional<Payment> charge;
  if (refund) {
    RECUR_ASSIGN(charge, find_payment(tx, refund->payment));
  } else if (!notice.charge_id.empty()) {
    RECUR_ASSIGN(charge, find_payment_by_charge(tx, notice.charge_id));
    if (charge) {
      RECUR_ASSIGN(auto pending, pending_refunds_of(tx, charge->invoice));
      std::vector<Refund> candidates;
      for (auto& r : pending)
        if (r.payment == charge->id && judge_refund(r, notice) == Verdict::kSettle) candidates.push_back(std::move(r));
      if (candidates.size() == 1) refund = std::move(candidates[0]);
    }
  }
  if (!refund) return Handled{"unmatched", ""};
  if (!charge || charge->gateway != gateway) return Handled{std::string(to_string(Verdict::kWrongGateway)), refund->id};
  Verdict verdict = judge_refund(*refund, notice);
  if (verdict == Verdict::kSettle) {
    RECUR_ASSIGN(Refund settled, settle_refund(tx, refund->id, notice.result, now));
    if (settled.status == PaymentStatus::kPending) verdict = Verdict::kNotFinal;
  }
  return Handled{std::string(to_string(verdict)), refund->id};
}

Result<BillingService::Handled> BillingService::record_dispute(db::Tx& tx, const std::string& gateway,
                                                               const DisputeNotice& notice) {
  // No money logic: the gateway holds the money; operators and webhooks hear of it.
  std::optional<Payment> payment;
  if (!notice.charge_id.empty()) {
    RECUR_ASSIGN(payment, find_payment_by_charge(tx, notice.charge_id));
  }
  std::string resource = payment ? payment->id : notice.charge_id;
  Json details = {{"gateway", gateway},         {"dispute", notice.dispute_id}, {"charge", notice.charge_id},
                  {"amount", money_json(notice.amount)}, {"reason", notice.reason},
                  {"invoice", payment ? Json(payment->invoice) : Json(nullptr)}};
  RECUR_TRY(events_.record(tx, "payment.disputed", resource, events::Actor::system(), nullptr, nullptr, details));
  return Handled{payment ? "dispute_recorded" : "dispute_recorded_unmatched", resource};
}

Result<CreditNote> BillingService::credit(const CreditInput& in, const events::Actor& actor) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<CreditNote> {
    RECUR_ASSIGN(auto found, find_invoice(tx, in.invoice, true));
    if (!found) return invoice_not_found(in.invoice);
    Invoice inv = std::move(*found);
    if (inv.status != InvoiceStatus::kPaid) return not_creditable(inv);
    RECUR_ASSIGN(std::int64_t amount, checked_amount(inv, in.amount));
    // A credit waits for the next invoice: an ended subscription has none, so refund instead.
    RECUR_ASSIGN(auto sub, subscriptions::find(tx, inv.subscription, false));
    if (!sub || sub->status == subscriptions::Status::kCanceled)
      return Error::conflict("subscription_ended", "the subscription of invoice " + inv.id +
                                                       " has ended and will not be invoiced again; refund instead");
    CreditNote note{ids_.next("cn"), "", inv.id, inv.customer, inv.subscription, amount, inv.currency, in.reason,
                    "credit", "", in.memo, now};
    RECUR_ASSIGN(note.number, next_credit_note_number(tx));
    // The next invoice of the subscription takes it off, like any pending credit.
    subscriptions::PendingItem item{ids_.next("ii"), inv.subscription, "Credit note " + note.number, -amount,
                                    inv.currency, 1, inv.period, false};
    RECUR_TRY(subscriptions::insert_pending_item(tx, item, now));
    inv.amount_credited += amount;
    inv.updated = now;
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(insert_credit_note(tx, note));
    RECUR_TRY(events_.record(tx, "credit_note.created", note.id, actor, nullptr, to_json(note)));
    return note;
  });
}

Result<Refund> BillingService::get_refund(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Refund> {
    RECUR_ASSIGN(auto found, find_refund(tx, id, false));
    if (!found) return Error::not_found("refund_not_found", "no refund with id '" + id + "'");
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<RefundPage> BillingService::list_refunds(const RefundFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<RefundPage> {
    RECUR_ASSIGN(auto rows, billing::list_refunds(tx, filter));
    return page_of(std::move(rows), filter.limit);
  }, db::TxMode::kReadOnly);
}

Result<CreditNote> BillingService::get_credit_note(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<CreditNote> {
    RECUR_ASSIGN(auto found, find_credit_note(tx, id));
    if (!found) return Error::not_found("credit_note_not_found", "no credit note with id '" + id + "'");
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<CreditNotePage> BillingService::list_credit_notes(const RefundFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<CreditNotePage> {
    RECUR_ASSIGN(auto rows, billing::list_credit_notes(tx, filter));
    return page_of(std::move(rows), filter.limit);
  }, db::TxMode::kReadOnly);
}

// ------------------------------------------------------------------ reminders

namespace {

constexpr std::int64_t kMaxReminderDays = 60;
constexpr int kRemindersPerRun = 1000;

// Renewals in (now, now + kMaxReminderDays] with no reminder claimed for that renewal yet,
// soonest first, at most kRemindersPerRun: subscriptions pages through its renewals, billing
// drops the ones its reminders table already has, a page at a time.
Result<std::vector<std::string>> unreminded_renewals(db::Tx& tx, Timestamp now) {
  std::vector<std::string> out;
  std::optional<subscriptions::DueRenewal> cursor;
  for (;;) {
    RECUR_ASSIGN(auto page, subscriptions::renewals_between(tx, now, now + kMaxReminderDays * 86400, cursor,
                                                            kRemindersPerRun));
    if (page.empty()) return out;
    std::string sql = "SELECT subscription_id, due_at FROM reminders WHERE kind = 'renewal' AND subscription_id IN (";
    db::Params params;
    for (const auto& due : page) {
      params.emplace_back(due.id);
      sql += (params.size() > 1 ? ", $" : "$") + std::to_string(params.size());
    }
    RECUR_ASSIGN(auto claimed_rows, tx.query(sql + ")", params));
    std::set<std::pair<std::string, Timestamp>> claimed;
    for (const auto& r : claimed_rows) claimed.emplace(r.text(0), r.int64(1));
    for (const auto& due : page) {
      if (claimed.count({due.id, due.at})) continue;
      out.push_back(due.id);
      if (static_cast<int>(out.size()) == kRemindersPerRun) return out;
    }
    if (static_cast<int>(page.size()) < kRemindersPerRun) return out;
    cursor = page.back();
  }
}

}  // namespace

Result<bool> BillingService::claim_reminder(db::Tx& tx, const std::string& key, const std::string& subscription,
                                            std::string_view kind, Timestamp due_at, Timestamp now) {
  RECUR_ASSIGN(auto n, tx.exec("INSERT INTO reminders (key, subscription_id, kind, due_at, created_at)"
                               " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
                               {key, subscription.empty() ? db::Value(nullptr) : db::Value(subscription),
                                std::string(kind), due_at, now}));
  return n == 1;
}

Result<bool> BillingService::remind_renewal(const std::string& id, Timestamp now) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<bool> {
    RECUR_ASSIGN(auto found, subscriptions::find(tx, id, false));
    if (!found) return false;
    const auto& sub = *found;
    auto renews = subscriptions::next_action_at(sub);
    // Only a renewal that will happen: not a period-end cancellation, not a skipped period.
    bool renewing = subscriptions::renews_at_period_end(sub.status) && !sub.cancel_at_period_end && renews && *renews == sub.current.end &&
                    std::find(sub.skipped_periods.begin(), sub.skipped_periods.end(), sub.current.end) ==
                        sub.skipped_periods.end();
    if (!renewing) return false;
    std::string plan_id = sub.pending_change ? sub.pending_change->plan : sub.plan;
    std::int64_t quantity = sub.pending_change ? sub.pending_change->quantity : sub.quantity;
    RECUR_ASSIGN(auto plan, catalog::find_plan(tx, plan_id));
    if (!plan || plan->renewal_reminder_days <= 0) return false;
    if (now < sub.current.end - plan->renewal_reminder_days * 86400) return false;
    RECUR_ASSIGN(bool fresh, claim_reminder(tx, "renewal:" + sub.id + ":" + std::to_string(sub.current.end), sub.id,
                                            "renewal", sub.current.end, now));
    if (!fresh || !notifier_) return false;
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, sub.customer));
    if (!customer) return false;
    notify::Message m;
    m.template_name = "renewal_reminder";
    m.to = customer->email;
    m.customer = customer->id;
    m.resource = sub.id;
    m.data = {{"customer_name", customer->name},
              {"plan_name", plan->name},
              {"renewal_date", format_rfc3339(sub.current.end).substr(0, 10)},
              {"amount", format_amount(subscriptions::period_amount(*plan, quantity, sub.discount), plan->currency)}};
    // A message that cannot be queued fails the transaction: the claim rolls back with it,
    // so the reminder is tried again instead of being marked sent and never sent.
    RECUR_TRY(notifier_->enqueue(tx, m));
    return true;
  });
}

Result<bool> BillingService::remind_card_expiring(const std::string& pm_id, Timestamp now) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<bool> {
    RECUR_ASSIGN(auto pm, customers::find_payment_method(tx, pm_id));
    if (!pm || pm->detached) return false;
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, pm->customer));
    if (!customer || customer->default_payment_method != pm->id) return false;
    std::string expiry = std::to_string(pm->exp_month) + "/" + std::to_string(pm->exp_year);
    RECUR_ASSIGN(bool fresh, claim_reminder(tx, "card_expiring:" + pm->id + ":" + expiry, "", "card_expiring", now, now));
    if (!fresh || !notifier_) return false;
    notify::Message m;
    m.template_name = "card_expiring";
    m.to = customer->email;
    m.customer = customer->id;
    m.resource = pm->id;
    m.data = {{"customer_name", customer->name},
              {"card_brand", pm->brand},
              {"card_last4", pm->last4},
              {"expiry", expiry}};
    // As for renewal reminders: no queued message, no claim.
    RECUR_TRY(enqueue_with_payment_link(tx, m, {customer->id, std::nullopt, pm->id}));
    return true;
  });
}

Result<ReminderReport> BillingService::send_reminders(const std::string& run) {
  Timestamp now = clock_.now();
  CivilDate today = to_civil(now).date;
  std::int64_t this_month = static_cast<std::int64_t>(today.year) * 12 + today.month;
  struct Due {
    std::vector<std::string> renewals, cards;
  };
  RECUR_ASSIGN(Due due, db::transact(db_, [&](db::Tx& tx) -> Result<Due> {
    Due d;
    // Renewals inside the longest lead time that have no reminder for that period yet.
    RECUR_ASSIGN(d.renewals, unreminded_renewals(tx, now));
    // Attached cards that expire this month (or have expired).
    RECUR_ASSIGN(d.cards, customers::cards_expiring_by(tx, this_month, kRemindersPerRun));
    return d;
  }, db::TxMode::kReadOnly));
  ReminderReport report;
  // One reminder that cannot be sent must not hold up the others: it is logged and counted,
  // and tried again by the next run (its claim rolled back).
  auto tally = [&](std::string_view kind, const std::string& id, const Result<bool>& sent) {
    if (sent.ok()) {
      if (*sent) ++report.queued;
      return;
    }
    if (report.failed++ == 0) report.first_error = id + ": " + sent.error().message;
    spdlog::error("billing run {}: {} reminder for {} not queued: {} ({})", run.empty() ? "-" : run, kind, id,
                  sent.error().message, sent.error().code);
  };
  for (const auto& id : due.renewals) tally("renewal", id, remind_renewal(id, now));
  for (const auto& id : due.cards) tally("card_expiring", id, remind_card_expiring(id, now));
  return report;
}

Result<std::optional<Timestamp>> BillingService::next_reminder_at(db::Tx& tx, Timestamp now) {
  RECUR_ASSIGN(auto by_days, catalog::plans_by_reminder_days(tx));
  std::optional<Timestamp> next;
  for (const auto& [days, plans] : by_days) {
    RECUR_ASSIGN(auto renews, subscriptions::earliest_renewal(tx, now + days * 86400, plans));
    if (!renews) continue;
    Timestamp at = *renews - days * 86400;
    if (!next || at < *next) next = at;
  }
  return next;
}

// ------------------------------------------------------------------ operator alert

Result<bool> BillingService::failure_rate_jumped(const BillingRun& run) {
  const auto& p = run.payments;
  if (p.attempted < kAlertMinAttempts) return false;
  double rate = static_cast<double>(p.failed + p.unknown) / p.attempted;
  // The usual rate: the last recorded runs that charged enough to mean something.
  RECUR_ASSIGN(auto recent, list_runs(20, std::nullopt));
  std::int64_t attempted = 0, failed = 0;
  for (const auto& r : recent.items) {
    if (r.payments.attempted < kAlertMinAttempts) continue;
    attempted += r.payments.attempted;
    failed += r.payments.failed + r.payments.unknown;
  }
  double usual = attempted > 0 ? static_cast<double>(failed) / attempted : 0.0;
  if (!failure_rate_is_alarming(rate, usual)) return false;
  spdlog::error("billing: failure rate jumped to {:.0f}% of {} charges (usual {:.0f}%)", rate * 100, p.attempted,
                usual * 100);
  RECUR_TRY(db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(events_.record(tx, "billing.failure_rate_high", run.id, events::Actor::system(), nullptr, nullptr,
                             {{"rate", rate}, {"usual_rate", usual}, {"attempted", p.attempted}}));
    if (!notifier_ || options_.ops_email.empty()) return Ok{};
    notify::Message m;
    m.template_name = "billing_failure_rate";
    m.to = options_.ops_email;
    m.resource = run.id;
    m.data = {{"run_id", run.id},
              {"trigger", run.trigger},
              {"rate", fmt::format("{:.0f} %", rate * 100)},
              {"usual_rate", fmt::format("{:.0f} %", usual * 100)},
              {"attempted", p.attempted},
              {"failed", p.failed},
              {"unknown", p.unknown},
              {"as_of", format_rfc3339(run.as_of)}};
    // An alert that cannot be queued must not fail the run: the event and the log remain.
    auto queued = notifier_->enqueue(tx, m);
    if (!queued.ok()) spdlog::warn("billing: failure-rate alert for {} not queued: {}", run.id, queued.error().message);
    return Ok{};
  }));
  return true;
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
    return page_of(std::move(rows), filter.limit);
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
    return page_of(std::move(rows), filter.limit);
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
    std::vector<BillingRun> runs;
    for (const auto& r : rows) runs.push_back(run_from_doc(Json::parse(r.text(0))));
    return page_of(std::move(runs), limit);
  }, db::TxMode::kReadOnly);
}

Result<TaxSettings> BillingService::tax() {
  return db::transact(db_, [&](db::Tx& tx) -> Result<TaxSettings> {
    RECUR_ASSIGN(auto found, load_tax(tx, false));
    return found.value_or(TaxSettings{});
  }, db::TxMode::kReadOnly);
}

Result<TaxSettings> BillingService::update_tax(std::map<std::string, std::int64_t> rates, std::int64_t expected_version,
                                               const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<TaxSettings> {
    RECUR_ASSIGN(auto found, load_tax(tx, true));
    TaxSettings s = found.value_or(TaxSettings{});
    if (s.version != expected_version) return version_conflict("the tax settings", expected_version, s.version);
    Json before = to_json(s);
    s.rates_bp = std::move(rates);
    ++s.version;
    s.updated = clock_.now();
    RECUR_TRY(save_tax(tx, s, found.has_value()));
    RECUR_TRY(events_.record(tx, "settings.tax_updated", "tax", actor, std::move(before), to_json(s)));
    return s;
  });
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
    std::optional<Timestamp> next;
    auto consider = [&next](std::optional<Timestamp> t) {
      if (t && (!next || *t < *next)) next = t;
    };
    RECUR_ASSIGN(auto invoices, next_attempt_due(tx));
    RECUR_ASSIGN(auto lifecycle, subscriptions::next_action_due(tx));
    RECUR_ASSIGN(auto reminder, next_reminder_at(tx, clock_.now()));
    consider(invoices);
    consider(lifecycle);
    consider(reminder);
    return next;
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::billing
