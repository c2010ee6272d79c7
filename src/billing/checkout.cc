// Checkout: create, then charge the first invoice in the request (decision 0005's path).
#include "billing/checkout.h"

#include <algorithm>

#include "billing/failure_codes.h"
#include "billing/store.h"
#include "customers/store.h"
#include "platform/ids.h"

namespace recur::billing {

using subscriptions::Subscription;
using SubStatus = subscriptions::Status;

std::optional<PaymentBehavior> payment_behavior_from(std::string_view text) {
  for (std::size_t i = 0; i < std::size(kPaymentBehaviors); ++i)
    if (kPaymentBehaviors[i] == text) return static_cast<PaymentBehavior>(i);
  return std::nullopt;
}

namespace {

// The invoice's latest attempt, if any.
Result<std::optional<Payment>> latest_payment(db::Tx& tx, const std::string& invoice) {
  PaymentFilter filter;
  filter.invoice = invoice;
  filter.page.limit = 100;
  RECUR_ASSIGN(auto page, list_payments(tx, filter));
  auto latest = std::max_element(page.items.begin(), page.items.end(),
                                 [](const Payment& a, const Payment& b) { return a.attempt < b.attempt; });
  if (latest == page.items.end()) return std::optional<Payment>();
  return std::optional<Payment>(*latest);
}

struct FirstInvoice {
  std::string id;
  std::optional<Payment> payment;  // its latest attempt
};

Result<FirstInvoice> first_invoice(db::Database& db, const std::string& subscription) {
  return db::transact(db, [&](db::Tx& tx) -> Result<FirstInvoice> {
    FirstInvoice first;
    RECUR_ASSIGN(first.id, latest_invoice_of(tx, subscription));
    if (!first.id.empty()) {
      RECUR_ASSIGN(first.payment, latest_payment(tx, first.id));
    }
    return first;
  }, db::TxMode::kReadOnly);
}

Error declined(const Subscription& sub, const std::string& invoice, const Payment& pay) {
  const bool no_method = pay.failure_code == "no_payment_method";
  std::string decline = pay.gateway_failure_code.empty() ? pay.failure_code : pay.gateway_failure_code;
  const std::string message = no_method ? "the customer has no default payment method to pay the first invoice"
                                        : "the first payment was declined: " +
                                              (pay.failure_message.empty() ? decline : pay.failure_message);
  Error e = no_method ? Error::payment_required("payment_method_required", message)
                      : Error::payment_required("card_declined", message);
  e.extra_json = Json{{"subscription", sub.id},
                      {"invoice", invoice},
                      {"payment", pay.id},
                      {"failure_code", pay.failure_code},
                      {"decline_code", decline}}
                     .dump();
  return e;
}

}  // namespace

recur::Status Checkout::verify_card(const std::string& customer, const std::string& request_key) {
  RECUR_ASSIGN(auto pm, db::transact(db_, [&](db::Tx& tx) { return customers::default_payment_method(tx, customer); },
                                     db::TxMode::kReadOnly));
  if (!pm) {
    Error e = Error::payment_required("payment_method_required",
                                      "the customer has no default payment method to verify (verify_payment_method)");
    e.extra_json =
        Json{{"payment_method", nullptr}, {"failure_code", "no_payment_method"}, {"decline_code", "no_payment_method"}}
            .dump();
    return e;
  }
  gateways::Gateway* gateway = gateways_.find(pm->gateway);
  if (!gateway) return Error::unavailable("gateway_error", "no gateway named '" + pm->gateway + "' is configured");
  // The request's key makes a retry ask the same question; nothing is charged either way.
  const std::string key = "verify:" + pm->id + ":" + (request_key.empty() ? random_token(12) : request_key);
  gateways::ChargeResult r = gateway->verify_payment_method(pm->gateway_customer, pm->token, key);
  if (r.outcome == Outcome::kSucceeded) return Ok{};
  if (r.outcome == Outcome::kUnknown)
    return Error::unavailable("gateway_error", "the gateway did not answer the card's verification; try again");
  // A bank's challenge cannot be met here (nothing is charged, no page is waiting): the shop
  // takes another card, or charges the first payment now.
  const std::string decline = r.outcome == Outcome::kRequiresAction ? "authentication_required" : r.failure_code;
  Error e = Error::payment_required(
      "card_declined", "the payment method was refused when verified: " +
                           (r.failure_message.empty() ? decline : r.failure_message));
  e.extra_json = Json{{"payment_method", pm->id},
                      {"failure_code", charge_failure_code(decline, true)},
                      {"decline_code", r.decline_code.empty() ? Json(decline) : Json(r.decline_code)}}
                     .dump();
  return e;
}

Result<Subscription> Checkout::change_plan(const std::string& id, const subscriptions::ChangePlanInput& input,
                                           PaymentBehavior behavior, std::optional<std::int64_t> expected_version,
                                           const events::Actor& actor) {
  RECUR_ASSIGN(auto earlier, subscriptions_.changed_by_request(id, input.request_key));
  const bool retry = earlier.has_value();
  subscriptions::SubscriptionService::PlanChanged changed;
  if (retry) {
    changed = std::move(*earlier);
  } else {
    RECUR_ASSIGN(changed, subscriptions_.change_plan_charging(id, input, expected_version, actor));
  }
  if (changed.invoice.empty() || behavior == PaymentBehavior::kDefaultIncomplete) return changed.subscription;
  // A first try charges; a retry only asks again about a charge still in flight (same key).
  if (retry) {
    RECUR_ASSIGN(auto latest, db::transact(db_, [&](db::Tx& tx) { return latest_payment(tx, changed.invoice); },
                                           db::TxMode::kReadOnly));
    if (latest && latest->status != PaymentStatus::kPending) return subscriptions_.get(id);
  }
  RECUR_TRY(collector_.attempt(changed.invoice, "", timeout_));
  return subscriptions_.get(id);
}

Result<Subscription> Checkout::subscribe(const subscriptions::CreateInput& input, PaymentBehavior behavior,
                                         const events::Actor& actor, bool verify_payment_method) {
  RECUR_ASSIGN(auto earlier, subscriptions_.created_by_request(input.request_key));
  const bool retry = earlier.has_value();
  if (!retry && verify_payment_method) RECUR_TRY(verify_card(input.customer, input.request_key));
  Subscription sub;
  if (retry) {
    sub = std::move(*earlier);
  } else {
    subscriptions::CreateInput in = input;
    in.await_first_payment = true;
    RECUR_ASSIGN(sub, subscriptions_.create(in, actor));
  }
  // Charged now: an incomplete subscription's first invoice, unless the client pays it
  // (default_incomplete); a retry of a refused error_if_incomplete goes on to the same 402.
  const bool owes = sub.status == SubStatus::kIncomplete ||
                    (retry && sub.status == SubStatus::kIncompleteExpired && behavior == PaymentBehavior::kErrorIfIncomplete);
  if (!owes || behavior == PaymentBehavior::kDefaultIncomplete) return sub;
  RECUR_ASSIGN(FirstInvoice first, first_invoice(db_, sub.id));
  if (first.id.empty()) return sub;
  // A first try charges; a retry only asks again about a charge still in flight (same key).
  const bool in_flight = first.payment && first.payment->status == PaymentStatus::kPending;
  if (!retry || in_flight) {
    RECUR_TRY(collector_.attempt(first.id, "", timeout_));
    RECUR_ASSIGN(first, first_invoice(db_, sub.id));
  }
  RECUR_ASSIGN(sub, subscriptions_.get(sub.id));
  if (behavior != PaymentBehavior::kErrorIfIncomplete || !first.payment ||
      first.payment->status != PaymentStatus::kFailed)
    return sub;  // paid, incomplete (allow_incomplete), or the answer was lost (still pending)
  if (sub.status == SubStatus::kIncomplete) {
    RECUR_TRY(db::transact(db_, [&](db::Tx& tx) -> recur::Status {
      RECUR_ASSIGN(bool ended, subscriptions_.apply_payment_step(tx, sub.id, subscriptions::PaymentStep::kFirstRefused,
                                                                 first.id));
      if (!ended) return Error::conflict("invalid_state_transition", "the subscription changed during checkout");
      return Ok{};
    }));
  } else if (sub.status != SubStatus::kIncompleteExpired) {
    return sub;  // paid after all (a webhook, a second card) between the answer and now
  }
  return declined(sub, first.id, *first.payment);
}

}  // namespace recur::billing
