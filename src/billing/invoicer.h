// Invoices from billable periods, inside the subscription's own transaction (decision 0005,
// part 1), the lines waiting for the next invoice, and the closing of an ended
// subscription's invoices (decision 0010). Billing's side of subscriptions::PeriodBilling.
#pragma once

#include <string>

#include "billing/model.h"
#include "customers/model.h"
#include "events/store.h"
#include "platform/clock.h"
#include "platform/ids.h"
#include "subscriptions/service.h"

namespace recur::billing {

class Invoicer final : public subscriptions::PeriodBilling {
 public:
  Invoicer(const Clock& clock, IdGenerator& ids) : clock_(clock), ids_(ids), events_(ids, clock) {}

  // Invoices the period that just began: its plan line, the items waiting for it, its
  // discount and tax, a gapless number; open and due now (or paid when nothing is owed).
  recur::Status period_began(db::Tx& tx, const subscriptions::Subscription& sub,
                             const subscriptions::LifecycleEvent& period) override;
  // Voids the ended subscription's open invoices; one with a charge in flight is marked
  // `collection_ended` and closed by that charge's answer.
  recur::Status subscription_ended(db::Tx& tx, const subscriptions::Subscription& sub,
                                   const std::string& settling) override;
  // Keeps the line in billing's pending_invoice_items for the next period_began.
  recur::Status add_pending_item(db::Tx& tx, const subscriptions::PendingItem& item, Timestamp created) override;
  Result<bool> remove_pending_item(db::Tx& tx, const std::string& subscription, const std::string& id) override;
  // Invoices the pending items now, keyed by -`key` (periods are keyed by their positive
  // sequence numbers), when their sum owes something.
  Result<std::string> invoice_pending_items(db::Tx& tx, const subscriptions::Subscription& sub, std::int64_t key,
                                            Timestamp at) override;
  Result<std::string> latest_invoice(db::Tx& tx, const std::string& subscription) override;
  Result<Json> invoice_after_change(db::Tx& tx, const std::string& subscription, const std::string& before,
                                    const std::optional<subscriptions::NextPeriod>& next) override;

 private:
  // Stores a built invoice under `key` (a period's sequence number, or a between-periods
  // invoice's negative key), with its carried credit; it is numbered, and its events
  // recorded, when the transaction commits (number_issued).
  recur::Status issue(db::Tx& tx, const subscriptions::Subscription& sub, BuiltInvoice& built, std::int64_t key);
  // Before commit: gives the invoices this transaction issued their gapless numbers (one
  // statement for all) and records their invoice.finalized (and a paid one's invoice.paid).
  recur::Status number_issued(db::Tx& tx);

  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
};

// The tax rate (basis points) of `sub`'s next invoice: by the country its box goes to (its
// own shipping address, else its customer's), 0 when no rates are configured.
Result<std::int64_t> tax_rate_bp_for(db::Tx& tx, const subscriptions::Subscription& sub);
// The tax rate (basis points) of an invoice to `customer` outside any subscription (a
// one-off invoice): by the country of the customer's shipping address, 0 when none applies.
Result<std::int64_t> tax_rate_bp_for_customer(db::Tx& tx, const customers::Customer& customer);

// Voids `invoice` (stored by the caller) because its subscription ended: event
// invoice.voided with reason subscription_canceled. Requires: called inside `tx`.
recur::Status void_ended(db::Tx& tx, events::Recorder& events, Invoice& invoice, Timestamp now);

}  // namespace recur::billing
