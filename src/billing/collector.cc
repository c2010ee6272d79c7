// Collection: prepare an attempt, ask the gateway, settle its answer (decision 0005).
#include "billing/collector.h"

#include <spdlog/spdlog.h>

#include "billing/failure_codes.h"
#include "billing/invoicer.h"
#include "billing/retry_timing.h"
#include "billing/store.h"
#include "customers/store.h"
#include "subscriptions/store.h"

namespace recur::billing {

struct Collector::Prepared {
  Payment payment;
  std::string gateway_customer;
  std::string token;
  std::string token_type;  // how the gateway charges it: a card, or a wallet (customers::PaymentMethod::type)
  std::string description;
  std::string subscription;
};

Result<std::optional<Collector::Prepared>> Collector::prepare_attempt(const std::string& id, Timestamp now,
                                                                      AttemptResult* settled,
                                                                      const std::string& request_key,
                                                                      std::optional<Payment>* waiting) {
  return db::transact(db_,
                      [&](db::Tx& tx) { return prepare_in(tx, id, now, settled, request_key, waiting, std::nullopt); });
}

Result<std::optional<Collector::Prepared>> Collector::prepare_in(db::Tx& tx, const std::string& id, Timestamp now,
                                                                 AttemptResult* settled, const std::string& request_key,
                                                                 std::optional<Payment>* waiting,
                                                                 std::optional<Timestamp> hold_until) {
  *settled = AttemptResult::kSkipped;
  waiting->reset();
  RECUR_ASSIGN(auto found, find_invoice(tx, id, true));
  if (!found || found->status != InvoiceStatus::kOpen) return std::optional<Prepared>();
  Invoice inv = std::move(*found);
  Prepared p;
  p.description = "Invoice " + inv.number;
  p.subscription = inv.subscription;
  RECUR_ASSIGN(auto in_flight, pending_payment(tx, id));
  // The bank waits for the customer: a new attempt would be a second charge if the customer
  // then authenticates the first; the invoice waits (docs/billing-rules.md, "Authentication").
  if (in_flight && in_flight->status == PaymentStatus::kRequiresAction) {
    RECUR_ASSIGN(auto pm, customers::default_payment_method(tx, in_flight->customer));
    if (pm && pm->id != in_flight->payment_method) *waiting = std::move(*in_flight);  // a new card: replace it
    return std::optional<Prepared>();
  }
  if (in_flight) {
    // Asked before and no answer recorded: ask again with the same key.
    RECUR_ASSIGN(auto pm, customers::find_payment_method(tx, in_flight->payment_method));
    if (!pm) return Error::internal("payment " + in_flight->id + " refers to a missing payment method");
    p.payment = std::move(*in_flight);
    p.gateway_customer = pm->gateway_customer;
    p.token = pm->token;
    p.token_type = pm->type;
    return std::optional<Prepared>(std::move(p));
  }
  if (inv.collection_ended) {
    // Its subscription ended and the attempt in flight then was answered without closing
    // it (it never is; kept so an ended invoice can never be charged anew).
    RECUR_TRY(void_ended(tx, events_, inv, now));
    RECUR_TRY(update_invoice(tx, inv));
    return std::optional<Prepared>();
  }
  RECUR_ASSIGN(auto pm, customers::default_payment_method(tx, inv.customer));
  if (pm && pm->id == inv.hard_declined_payment_method) {
    // Declined hard: this card is not charged again. At the window's end, without a new
    // card, the final action applies (billing/retry_timing.h).
    if (inv.next_attempt_at && now >= *inv.next_attempt_at) {
      Json before = to_json(inv);
      inv.updated = now;
      ++inv.version;
      RECUR_TRY(finish_dunning(tx, inv, std::move(before), {{"attempt", inv.attempt_count}}));
      RECUR_TRY(update_invoice(tx, inv));
    }
    return std::optional<Prepared>();
  }
  Payment& pay = p.payment;
  pay.id = ids_.next("pay");
  pay.invoice = inv.id;
  pay.customer = inv.customer;
  pay.attempt = inv.attempt_count + 1;
  pay.amount = inv.total - inv.amount_paid;
  pay.currency = inv.currency;
  pay.idempotency_key = attempt_key(inv.id, pay.attempt);
  pay.created = pay.updated = now;
  Json inv_before = pm ? Json() : to_json(inv);  // for invoice.payment_failed below
  inv.attempt_count = pay.attempt;
  inv.updated = now;
  ++inv.version;
  if (!pm) {
    // Nothing to charge: a failed attempt without a gateway call, and dunning goes on.
    pay.status = PaymentStatus::kFailed;
    pay.failure_code = "no_payment_method";
    pay.failure_message = "the customer has no default payment method";
    RECUR_TRY(insert_payment(tx, pay, request_key));
    RECUR_TRY(record_failure(tx, inv, std::move(inv_before), now, pay));
    RECUR_TRY(update_invoice(tx, inv));
    *settled = AttemptResult::kFailed;
    return std::optional<Prepared>();
  }
  pay.gateway = pm->gateway;
  pay.payment_method = pm->id;
  p.gateway_customer = pm->gateway_customer;
  p.token = pm->token;
  p.token_type = pm->type;
  RECUR_TRY(insert_payment(tx, pay, request_key));
  // The run's claim (a lease on the row, not on the document) holds while its gateway calls last.
  RECUR_TRY(update_invoice(tx, inv, hold_until));
  return std::optional<Prepared>(std::move(p));
}

ChargeResult Collector::cancel_waiting(const Payment& waiting) {
  Gateway* gateway = gateways_.find(waiting.gateway);
  ChargeResult result = gateway ? gateway->cancel_charge(waiting.gateway_reference)
                                : ChargeResult{Outcome::kUnknown, "", "gateway_not_configured", ""};
  // Still waiting, no answer, or a refusal that names no charge: nothing is certain.
  const bool certain = result.outcome == Outcome::kSucceeded ||
                       (result.outcome == Outcome::kFailed && !result.charge_id.empty());
  return certain ? result : ChargeResult{Outcome::kRequiresAction, waiting.gateway_reference, "", ""};
}

Result<std::optional<Collector::AttemptResult>> Collector::replace_waiting_charge(const Payment& waiting,
                                                                                  Timestamp now) {
  using Replaced = std::optional<AttemptResult>;
  const std::string& id = waiting.invoice;
  ChargeResult result = cancel_waiting(waiting);
  if (result.outcome == Outcome::kSucceeded)
    return db::transact(db_, [&](db::Tx& tx) -> Result<Replaced> {
      RECUR_ASSIGN(AttemptResult r, settle_payment(tx, id, waiting.id, result, now));
      return Replaced(r == AttemptResult::kSkipped ? AttemptResult::kSkipped : AttemptResult::kSucceeded);
    });
  // Not canceled for certain: nothing new is charged.
  if (result.outcome != Outcome::kFailed) return Replaced(AttemptResult::kSkipped);
  return db::transact(db_, [&](db::Tx& tx) -> Result<Replaced> {
    RECUR_TRY(find_invoice(tx, id, true));  // the invoice's lock, as every settlement takes
    RECUR_ASSIGN(auto stored, find_payment(tx, waiting.id));
    // Recorded failed meanwhile (the authentication deadline): the new card is charged now.
    if (stored && stored->status == PaymentStatus::kFailed) return Replaced();
    if (!stored || stored->status != PaymentStatus::kRequiresAction) return Replaced(AttemptResult::kSkipped);
    // Not a decline of the card: no dunning step, no message; the new card is charged next.
    Payment pay = std::move(*stored);
    Json before = to_json(pay);
    pay.status = PaymentStatus::kFailed;
    pay.failure_code = "authentication_required";
    pay.gateway_failure_code = "canceled";
    pay.failure_message = "canceled before the customer authenticated it: another payment method pays the invoice";
    pay.updated = now;
    ++pay.version;
    RECUR_TRY(update_payment(tx, pay));
    RECUR_TRY(events_.record(tx, "payment.failed", pay.id, events::Actor::system(), std::move(before), to_json(pay),
                             {{"reason", "replaced_by_new_payment_method"}}));
    return Replaced();
  });
}

Result<Collector::AttemptResult> Collector::attempt(const std::string& id, const std::string& request_key,
                                                    std::optional<std::chrono::milliseconds> wait) {
  Timestamp now = clock_.now();
  AttemptResult settled = AttemptResult::kSkipped;
  std::optional<Payment> waiting;
  RECUR_ASSIGN(auto prepared, prepare_attempt(id, now, &settled, request_key, &waiting));
  if (waiting) {
    // A charge waits for authentication and the customer has a new card: cancel it, then
    // (once it is canceled for certain) prepare the new card's attempt.
    RECUR_ASSIGN(auto replaced, replace_waiting_charge(*waiting, now));
    if (replaced) return *replaced;
    RECUR_ASSIGN(prepared, prepare_attempt(id, now, &settled, request_key, &waiting));
  }
  if (!prepared) return settled;
  ChargeResult result = charge(*prepared, wait);
  return record_outcome(*prepared, result, clock_.now());
}

ChargeResult Collector::charge(const Prepared& prepared, std::optional<std::chrono::milliseconds> wait) {
  const Payment& pay = prepared.payment;
  Gateway* gateway = gateways_.find(pay.gateway);
  // Configuration, not the card: keep the key and try again once the gateway is back.
  if (!gateway)
    return {Outcome::kUnknown, "", "gateway_not_configured", "no gateway named '" + pay.gateway + "' is configured"};
  ChargeRequest request{
      prepared.gateway_customer, prepared.token,      Money{pay.amount, pay.currency},
      prepared.description,      pay.idempotency_key, {{"invoice", pay.invoice}, {"payment", pay.id}}};
  if (!prepared.subscription.empty()) request.metadata["subscription"] = prepared.subscription;
  request.payment_method_type = prepared.token_type;
  if (wait) request.deadline = std::chrono::steady_clock::now() + *wait;
  auto began = std::chrono::steady_clock::now();
  ChargeResult result = gateway->charge(request);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
  if (charge_observer_) charge_observer_(pay.gateway, result.outcome, took.count());
  return result;
}

Collector::BatchResult Collector::attempt_batch(const std::vector<std::string>& ids, std::int64_t lease_seconds,
                                                Timestamp held_until) {
  const Timestamp now = clock_.now();
  const auto began = std::chrono::steady_clock::now();
  struct Slot {
    AttemptResult settled = AttemptResult::kSkipped;
    std::optional<Prepared> prepared;
    std::optional<Payment> waiting;
    ChargeResult answer;
    bool not_asked = false;  // the batch was cut short before it: its claim is given back
  };
  std::vector<Slot> slots(ids.size());
  BatchResult batch{std::vector<Result<AttemptResult>>(ids.size(), AttemptResult::kSkipped)};
  auto& results = batch.results;
  // 1. Every attempt of the batch committed pending, with its key, in one transaction.
  auto prepared = db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      slots[i] = Slot{};
      RECUR_ASSIGN(slots[i].prepared,
                   prepare_in(tx, ids[i], now, &slots[i].settled, "", &slots[i].waiting, held_until));
    }
    return Ok{};
  });
  if (!prepared.ok()) {
    // Nothing was committed and no gateway asked: one by one, so a bad invoice costs only itself.
    spdlog::warn("charges: a batch of {} could not be prepared ({}); attempting them one by one", ids.size(),
                 prepared.error().message);
    for (std::size_t i = 0; i < ids.size(); ++i) results[i] = attempt(ids[i]);
    return batch;
  }
  // 2. The gateway, one call per invoice, outside any transaction (decision 0005). Past half
  // the lease (a slow gateway) the rest are not asked: their payments stay pending with their
  // keys and their claims are given back below, so the next claim (any node's) asks them
  // at once instead of after the lease. The first is always asked: every batch progresses.
  const auto ask_until = began + std::chrono::seconds(lease_seconds) / 2;
  std::size_t asked = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    Slot& slot = slots[i];
    if (slot.waiting) {
      results[i] = attempt(ids[i]);  // a waiting charge to replace: its own path
    } else if (!slot.prepared) {
      results[i] = slot.settled;
    } else if (lease_seconds <= 0 || asked == 0 || std::chrono::steady_clock::now() < ask_until) {
      slot.answer = charge(*slot.prepared, std::nullopt);
      ++asked;
    } else {
      slot.prepared.reset();
      slot.not_asked = true;
      ++batch.not_asked;
    }
  }
  // 3. Every answer recorded, and every claim not asked given back, in one transaction; one
  // by one when that fails (a payment left pending is asked again, with its key, by the
  // next claim once its lease ends).
  const Timestamp at = clock_.now();
  std::vector<AttemptResult> recorded(ids.size(), AttemptResult::kSkipped);
  auto settled = db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const Slot& slot = slots[i];
      if (slot.not_asked) RECUR_TRY(release_invoice_claim(tx, ids[i], held_until));
      if (slot.waiting || !slot.prepared) continue;
      RECUR_ASSIGN(recorded[i], settle_payment(tx, ids[i], slot.prepared->payment.id, slot.answer, at));
    }
    return Ok{};
  });
  if (!settled.ok())
    spdlog::warn("charges: the answers of a batch of {} could not be recorded together ({}); recording them one by one",
                 ids.size(), settled.error().message);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Slot& slot = slots[i];
    // Not asked: given back (claimed again at once), or, when that failed, held pending until
    // the lease ends, as an unknown answer is.
    if (slot.not_asked && !settled.ok()) results[i] = AttemptResult::kUnknown;
    if (slot.waiting || !slot.prepared) continue;
    results[i] = settled.ok() ? Result<AttemptResult>(recorded[i]) : record_outcome(*slot.prepared, slot.answer, at);
  }
  if (settled.ok()) batch.released = batch.not_asked;
  return batch;
}

Result<Collector::AttemptResult> Collector::record_outcome(const Prepared& prepared, const ChargeResult& result,
                                                           Timestamp now) {
  return db::transact(db_, [&](db::Tx& tx) {
    return settle_payment(tx, prepared.payment.invoice, prepared.payment.id, result, now);
  });
}

Result<Collector::AttemptResult> Collector::settle_payment(db::Tx& tx, const std::string& invoice,
                                                           const std::string& payment, const ChargeResult& result,
                                                           Timestamp now) {
  // The invoice's lock first: every writer of its payments takes it, so the status
  // read below cannot change until this transaction ends.
  RECUR_ASSIGN(auto found, find_invoice(tx, invoice, true));
  RECUR_ASSIGN(auto stored, find_payment(tx, payment));
  // Recorded already: by another worker (a lease ran out while we waited) or a webhook. A
  // charge waiting for the customer's authentication is settled by a final answer only.
  if (!found || !stored) return AttemptResult::kSkipped;
  const bool final_answer = result.outcome == Outcome::kSucceeded || result.outcome == Outcome::kFailed;
  // A waiting charge given up (its deadline, or a new card) that the customer authenticated
  // at the same moment, where the gateway cannot cancel for certain (PayPal: the order was
  // read waiting, then approved and captured by the customer's confirm): the money moved, so
  // it is recorded after all, and refunded below when the invoice no longer owes it.
  const bool late_success = stored->status == PaymentStatus::kFailed && result.outcome == Outcome::kSucceeded &&
                            stored->failure_code == "authentication_required";
  if (stored->status != PaymentStatus::kPending && !late_success &&
      !(stored->status == PaymentStatus::kRequiresAction && final_answer))
    return AttemptResult::kSkipped;
  Invoice inv = std::move(*found);
  Payment pay = std::move(*stored);
  // Both as they were, for the events of a settled outcome (an unknown one records none).
  const bool settles = result.outcome != Outcome::kUnknown;
  Json pay_before = settles ? to_json(pay) : Json();
  Json inv_before = settles ? to_json(inv) : Json();
  pay.updated = now;
  ++pay.version;
  inv.updated = now;
  ++inv.version;
  AttemptResult outcome = AttemptResult::kUnknown;
  switch (result.outcome) {
    case Outcome::kSucceeded: {
      pay.status = PaymentStatus::kSucceeded;
      pay.gateway_reference = result.charge_id;
      pay.failure_code.clear();
      pay.gateway_failure_code.clear();
      pay.failure_message.clear();
      if (inv.status == InvoiceStatus::kPaid || (inv.status == InvoiceStatus::kVoid && !inv.collection_ended)) {
        // Paid already (another attempt, a new card) or voided: a second charge of it is
        // never kept. Recorded as the money that moved, and given back in full.
        inv.amount_paid += pay.amount;
        RECUR_TRY(events_.record(tx, "payment.succeeded", pay.id, events::Actor::system(), std::move(pay_before),
                                 to_json(pay), {{"duplicate", true}}));
        RECUR_TRY(refund_ended(tx, inv, pay, now, "duplicate"));
        outcome = AttemptResult::kSucceeded;
        break;
      }
      bool was_failing = inv.first_failed_at.has_value();
      inv.amount_paid += pay.amount;
      inv.status = InvoiceStatus::kPaid;
      inv.paid_at = now;
      inv.next_attempt_at.reset();
      RECUR_ASSIGN(auto step, payment_recovers(tx, inv, was_failing));
      if (step && !inv.collection_ended) RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, *step, inv.id));
      RECUR_TRY(events_.record(tx, "payment.succeeded", pay.id, events::Actor::system(), std::move(pay_before),
                               to_json(pay)));
      RECUR_TRY(events_.record(tx, "invoice.paid", inv.id, events::Actor::system(), std::move(inv_before),
                               to_json(inv), {{"amount", pay.amount}, {"payment", pay.id}}));
      if (invoice_paid_) RECUR_TRY(invoice_paid_(tx, inv));
      messages_.tell_customer(tx, inv, pay);
      if (inv.collection_ended) RECUR_TRY(refund_ended(tx, inv, pay, now));
      outcome = AttemptResult::kSucceeded;
      break;
    }
    case Outcome::kFailed: {
      // The invoice's first charge waited for authentication: dunning starts at its failure,
      // not at the challenge (a later attempt's challenge leaves the window where it began).
      if (pay.status == PaymentStatus::kRequiresAction && pay.attempt == 1) inv.first_failed_at = now;
      pay.status = PaymentStatus::kFailed;
      pay.gateway_reference = result.charge_id;
      pay.failure_code = charge_failure_code(result.failure_code, true);
      pay.gateway_failure_code = result.failure_code;
      pay.failure_message = result.failure_message;
      RECUR_TRY(classify(tx, pay, result.decline_code));
      RECUR_TRY(events_.record(tx, "payment.failed", pay.id, events::Actor::system(), std::move(pay_before),
                               to_json(pay)));
      outcome = AttemptResult::kFailed;
      if (inv.collection_ended) {
        // Its subscription ended: no dunning and no "update your card" message, just closed.
        RECUR_TRY(void_ended(tx, events_, inv, now));
        break;
      }
      RECUR_ASSIGN(bool tell, record_failure(tx, inv, std::move(inv_before), now, pay));
      if (tell) messages_.tell_customer(tx, inv, pay);
      break;
    }
    case Outcome::kRequiresAction: {
      // Neither paid nor declined: the customer authenticates through the link in the
      // message below (or the shop's page at checkout). Dunning waits for it; a renewal's
      // subscription is past_due meanwhile, an incomplete one stays incomplete.
      pay.status = PaymentStatus::kRequiresAction;
      pay.gateway_reference = result.charge_id;
      pay.action_url = result.action_url;
      pay.action_expires_at = now + authentication_deadline_seconds_;
      pay.failure_code.clear();
      pay.gateway_failure_code = result.failure_code;
      pay.failure_message = result.failure_message;
      inv.next_attempt_at.reset();
      if (!inv.first_failed_at) inv.first_failed_at = now;  // so that paying it recovers the subscription
      RECUR_TRY(events_.record(tx, "payment.requires_action", pay.id, events::Actor::system(), std::move(pay_before),
                               to_json(pay)));
      RECUR_TRY(events_.record(tx, "invoice.payment_action_required", inv.id, events::Actor::system(),
                               std::move(inv_before), to_json(inv), {{"payment", pay.id}}));
      if (inv.collection_ended) {
        outcome = AttemptResult::kRequiresAction;
        break;  // its subscription ended: a late authentication is refunded (refund_ended)
      }
      RECUR_ASSIGN(auto sub, subscriptions::find(tx, inv.subscription, false));
      if (sub && sub->status != subscriptions::Status::kIncomplete)
        RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, subscriptions::PaymentStep::kFailed, inv.id));
      messages_.tell_customer(tx, inv, pay);
      outcome = AttemptResult::kRequiresAction;
      break;
    }
    case Outcome::kUnknown:
      // The money may or may not have moved: keep the payment pending and its key (and
      // the charge's id when the gateway gave one, so its webhook finds the payment).
      if (!result.charge_id.empty()) pay.gateway_reference = result.charge_id;
      pay.failure_code = charge_failure_code(result.failure_code, false);
      pay.gateway_failure_code = result.failure_code;
      pay.failure_message = result.failure_message;
      inv.next_attempt_at = now + unknown_retry_seconds_;
      break;
  }
  RECUR_TRY(update_payment(tx, pay));
  RECUR_TRY(update_invoice(tx, inv));
  return outcome;
}

Result<std::optional<subscriptions::PaymentStep>> Collector::payment_recovers(db::Tx& tx, const Invoice& inv,
                                                                              bool was_failing) {
  using subscriptions::PaymentStep;
  using Step = std::optional<PaymentStep>;
  RECUR_ASSIGN(auto sub, subscriptions::find(tx, inv.subscription, false));
  if (sub && sub->status == subscriptions::Status::kIncomplete) return Step(PaymentStep::kFirstPaid);
  if (!sub || sub->status != subscriptions::Status::kUnpaid) return was_failing ? Step(PaymentStep::kRecovered) : Step();
  RECUR_ASSIGN(std::int64_t still_open, count_other_open_invoices(tx, inv.subscription, inv.id));
  return still_open == 0 ? Step(PaymentStep::kRecovered) : Step();
}

recur::Status Collector::classify(db::Tx& tx, Payment& pay, const std::string& decline_code) {
  pay.decline_code = decline_code;
  pay.decline_type.clear();
  if (decline_code.empty()) return Ok{};
  // The same decline on the same card, this one and those just before it on the invoice.
  RECUR_ASSIGN(auto earlier, list_payments(tx, {pay.invoice, std::nullopt, {"failed"}, ListParams{100}}));
  std::vector<const Payment*> failed;
  for (const auto& p : earlier.items)
    if (p.id != pay.id) failed.push_back(&p);
  std::sort(failed.begin(), failed.end(), [](const Payment* a, const Payment* b) { return a->attempt > b->attempt; });
  std::int64_t in_a_row = 1;
  for (const Payment* p : failed) {
    if (p->attempt >= pay.attempt) continue;
    if (p->payment_method != pay.payment_method || p->decline_code != decline_code) break;
    ++in_a_row;
  }
  if (auto type = classify_decline(decline_code, in_a_row)) pay.decline_type = std::string(to_string(*type));
  return Ok{};
}

Result<bool> Collector::record_failure(db::Tx& tx, Invoice& inv, Json before, Timestamp now, const Payment& pay) {
  if (!inv.first_failed_at) inv.first_failed_at = now;
  RECUR_ASSIGN(auto sub, subscriptions::find(tx, inv.subscription, false));
  if (sub && (sub->status == subscriptions::Status::kUnpaid || sub->status == subscriptions::Status::kIncomplete)) {
    // Dunning is over for an unpaid subscription, and never starts for an incomplete one
    // (the customer is at checkout; its window decides): a failed try (an operator's, or
    // after a new card) schedules nothing; the invoice waits, open, for the next payment
    // method.
    inv.next_attempt_at.reset();
    RECUR_TRY(events_.record(tx, "invoice.payment_failed", inv.id, events::Actor::system(), std::move(before),
                             to_json(inv), {{"attempt", inv.attempt_count}, {"next_attempt_at", nullptr}}));
    return sub->status != subscriptions::Status::kIncomplete;
  }
  if (inv.collection_method == CollectionMethod::kSendInvoice) {
    // The customer pays a sent invoice (a new payment method, the link, or an operator's
    // POST .../pay): a refused try schedules nothing, and no dunning applies.
    inv.next_attempt_at.reset();
    RECUR_TRY(events_.record(tx, "invoice.payment_failed", inv.id, events::Actor::system(), std::move(before),
                             to_json(inv), {{"attempt", inv.attempt_count}, {"next_attempt_at", nullptr}}));
    return true;
  }
  RECUR_ASSIGN(DunningSettings settings, load_dunning(tx, false));
  // The retry rule (billing/retry_timing.h), in the customer's time zone.
  RECUR_ASSIGN(auto customer, customers::find_customer(tx, inv.customer));
  std::shared_ptr<const TimeZone> zone = std::make_shared<const TimeZone>();
  if (customer && customer->time_zone) {
    auto found = load_time_zone(*customer->time_zone);
    if (found.ok()) zone = *found;  // a zone gone from the system's tzdata: UTC
  }
  std::optional<DeclineType> type;
  if (!pay.decline_type.empty()) type = pay.decline_type == "hard" ? DeclineType::kHard : DeclineType::kSoft;
  RetryPlan plan = plan_retry(settings, {*inv.first_failed_at, now, inv.attempt_count, type, pay.decline_code}, *zone);
  inv.hard_declined_payment_method = plan.card_blocked ? pay.payment_method : "";
  if (const Timestamp* next = std::get_if<Timestamp>(&plan.step)) {
    inv.next_attempt_at = *next;
    RECUR_TRY(subscriptions_.apply_payment_step(tx, inv.subscription, subscriptions::PaymentStep::kFailed, inv.id));
    Json details = {{"attempt", inv.attempt_count}, {"next_attempt_at", to_json_time(*next)}};
    if (plan.card_blocked) details["final_action_at"] = to_json_time(*next);
    RECUR_TRY(events_.record(tx, "invoice.payment_failed", inv.id, events::Actor::system(), std::move(before),
                             to_json(inv), details));
    return true;
  }
  RECUR_TRY(finish_dunning(tx, inv, std::move(before), {{"attempt", inv.attempt_count}}));
  return true;
}

recur::Status Collector::finish_dunning(db::Tx& tx, Invoice& inv, Json before, Json details) {
  RECUR_ASSIGN(DunningSettings settings, load_dunning(tx, false));
  const FinalAction final_action = settings.final_action;
  inv.next_attempt_at.reset();
  details["next_attempt_at"] = nullptr;
  details["final_action"] = to_string(final_action);
  switch (final_action) {
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
  return events_.record(tx, "invoice.dunning_exhausted", inv.id, events::Actor::system(), std::move(before),
                        to_json(inv), details);
}

recur::Status Collector::refund_ended(db::Tx& tx, Invoice& inv, const Payment& pay, Timestamp now,
                                     const std::string& why) {
  Refund r = pending_refund(ids_.next("re"), inv, pay, pay.amount, why == "duplicate" ? "duplicate" : "requested_by_customer",
                            now);
  inv.amount_refunded += r.amount;  // reserved now, as Refunds::refund does
  RECUR_TRY(insert_refund(tx, r));
  return events_.record(tx, "refund.created", r.id, events::Actor::system(), nullptr, to_json(r), {{"reason", why}});
}

void Collector::count(CollectReport& report, const std::string& invoice, const Result<AttemptResult>& result) {
  if (!result.ok()) {
    if (report.errors++ == 0) report.first_error = invoice + ": " + result.error().message;
    return;
  }
  switch (*result) {
    case AttemptResult::kSkipped: return;
    case AttemptResult::kSucceeded: ++report.succeeded; break;
    case AttemptResult::kFailed: ++report.failed; break;
    case AttemptResult::kUnknown: ++report.unknown; break;
    case AttemptResult::kRequiresAction: ++report.requires_action; break;
  }
  ++report.attempted;
}

CollectReport Collector::retry_customer(const std::string& customer, bool sent) {
  CollectReport report;
  auto ids = db::transact(db_, [&](db::Tx& tx) -> Result<std::vector<std::string>> {
    RECUR_ASSIGN(auto open, open_invoices_of(tx, customer));
    std::vector<std::string> chosen;
    for (const auto& id : open) {
      RECUR_ASSIGN(auto inv, find_invoice(tx, id, false));
      if (inv && (inv->collection_method == CollectionMethod::kSendInvoice) == sent) chosen.push_back(id);
    }
    return chosen;
  }, db::TxMode::kReadOnly);
  if (!ids.ok()) {
    report.errors = 1;
    report.first_error = ids.error().message;
    return report;
  }
  for (const auto& id : *ids) count(report, id, attempt(id));
  return report;
}

Result<Invoice> Collector::read_invoice(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Invoice> {
    RECUR_ASSIGN(auto found, find_invoice(tx, id, false));
    if (!found) return invoice_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Payment> Collector::confirm_payment(const std::string& payment_id, const std::string& customer) {
  RECUR_ASSIGN(auto found, db::transact(db_, [&](db::Tx& tx) { return find_payment(tx, payment_id); },
                                        db::TxMode::kReadOnly));
  if (!found || found->customer != customer)
    return Error::not_found("payment_not_found", no_object_message("payment", "pay", payment_id));
  Payment pay = std::move(*found);
  if (pay.status == PaymentStatus::kSucceeded || pay.status == PaymentStatus::kFailed) return pay;  // settled
  if (pay.status != PaymentStatus::kRequiresAction)
    return Error::conflict("payment_not_awaiting_action", "payment " + payment_id +
                                                              " is not waiting for the customer's authentication");
  Gateway* gateway = gateways_.find(pay.gateway);
  if (!gateway)
    return Error::unavailable("gateway_error", "no gateway named '" + pay.gateway + "' is configured");
  ChargeResult result = gateway->fetch_charge(pay.gateway_reference);
  if (result.outcome == Outcome::kUnknown)
    return Error::unavailable("gateway_error", "the gateway did not answer about the charge; try again");
  if (result.outcome == Outcome::kFailed && result.charge_id.empty())
    return Error::unavailable("gateway_error", "the gateway does not know the charge: " + result.failure_message);
  if (result.outcome == Outcome::kFailed) {
    // A failed challenge can be tried again on the shop's page (Stripe leaves the
    // PaymentIntent confirmable): canceled first, so that it can never succeed after Recur
    // recorded it failed and dunning charges anew. Not canceled for certain: it keeps waiting.
    ChargeResult canceled = cancel_waiting(pay);
    if (canceled.outcome != Outcome::kFailed) result = std::move(canceled);  // paid meanwhile, or still waiting
  }
  if (result.outcome != Outcome::kRequiresAction) {
    RECUR_TRY(db::transact(db_, [&](db::Tx& tx) -> recur::Status {
      RECUR_TRY(settle_payment(tx, pay.invoice, pay.id, result, clock_.now()));
      return Ok{};
    }));
  }
  return db::transact(db_, [&](db::Tx& tx) -> Result<Payment> {
    RECUR_ASSIGN(auto now_found, find_payment(tx, payment_id));
    if (!now_found) return Error::internal("payment " + payment_id + " disappeared");
    return *now_found;
  }, db::TxMode::kReadOnly);
}

Collector::ExpiryReport Collector::expire_waiting(Timestamp now, int batch) {
  ExpiryReport report;
  auto failed = [&report](const Error& e) {
    if (report.errors++ == 0) report.first_error = e.message;
    spdlog::error("authentication deadline: {}", e.message);
  };
  auto waiting = db::transact(db_, [&](db::Tx& tx) { return payments_waiting_expired(tx, now, batch); },
                              db::TxMode::kReadOnly);
  if (!waiting.ok()) {
    failed(waiting.error());
    return report;
  }
  for (const Payment& pay : *waiting) {
    // Canceled, so that a late authentication can never succeed after the failure is
    // recorded and dunning charges anew; a charge the customer authenticated meanwhile is
    // told paid by the cancel (cancel_waiting).
    ChargeResult canceled = cancel_waiting(pay);
    // Canceled: told as the gateway's own decline (Stripe's code, which settlement names
    // with charge_failure_code like any other).
    const ChargeResult result =
        canceled.outcome != Outcome::kFailed
            ? canceled
            : ChargeResult{Outcome::kFailed, canceled.charge_id, "authentication_required",
                           "the customer did not authenticate the payment with their bank within " +
                               std::to_string(authentication_deadline_seconds_ / kSecondsPerDay) + " days",
                           "authentication_required"};
    auto settled = db::transact(db_, [&](db::Tx& tx) -> Result<AttemptResult> {
      if (result.outcome != Outcome::kRequiresAction) return settle_payment(tx, pay.invoice, pay.id, result, now);
      // Not certain: asked again later, behind the others.
      RECUR_TRY(find_invoice(tx, pay.invoice, true));  // the invoice's lock, as every settlement takes
      RECUR_ASSIGN(auto stored, find_payment(tx, pay.id));
      if (!stored || stored->status != PaymentStatus::kRequiresAction) return AttemptResult::kSkipped;
      stored->action_expires_at = now + kWaitingRecheckSeconds;
      RECUR_TRY(update_payment(tx, *stored));
      return AttemptResult::kSkipped;
    });
    if (!settled.ok())
      failed(settled.error());
    else if (*settled != AttemptResult::kSkipped)
      ++report.settled;
  }
  return report;
}

Result<Invoice> Collector::pay_invoice(const std::string& id, const std::string& request_key) {
  if (!request_key.empty()) {
    RECUR_ASSIGN(auto earlier, db::transact(db_, [&](db::Tx& tx) {
      return find_payment_by_request(tx, request_key, clock_.now());
    }, db::TxMode::kReadOnly));
    if (earlier) {
      // This request's attempt was made: ask again about it if it is still pending (same
      // gateway key), and answer with the invoice as it is now; never a second attempt.
      if (earlier->status == PaymentStatus::kPending) RECUR_TRY(attempt(id));
      return read_invoice(id);
    }
  }
  // The invoice and a charge of it in flight, read together.
  std::optional<Payment> waiting;
  RECUR_ASSIGN(Invoice inv, db::transact(db_, [&](db::Tx& tx) -> Result<Invoice> {
    RECUR_ASSIGN(auto found, find_invoice(tx, id, false));
    if (!found) return invoice_not_found(id);
    RECUR_ASSIGN(waiting, pending_payment(tx, id));
    return *found;
  }, db::TxMode::kReadOnly));
  if (inv.status != InvoiceStatus::kOpen)
    return Error::conflict("invoice_not_open", "invoice " + id + " is " + std::string(to_string(inv.status)) +
                                                   "; only an open invoice can be paid");
  if (waiting && waiting->status == PaymentStatus::kRequiresAction) {
    // Never a second charge: the one waiting is asked about (the customer may have
    // authenticated it on the shop's page) and settled when the gateway has an answer.
    RECUR_ASSIGN(Payment asked, confirm_payment(waiting->id, waiting->customer));
    if (asked.status == PaymentStatus::kRequiresAction)
      return Error::conflict("payment_requires_action",
                             "payment " + waiting->id + " of invoice " + id +
                                 " waits for the customer to authenticate it with their bank; it is not charged again");
    return read_invoice(id);
  }
  RECUR_TRY(attempt(id, request_key));
  return read_invoice(id);
}

}  // namespace recur::billing
