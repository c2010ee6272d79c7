// Inventory's side of a billed period (subscriptions::Fulfilment): one shipment per period
// with its items reserved in the billing transaction (short: refused at signup, backordered
// at renewal), the check of a first box that ships later, and the unpaid boxes of an ended
// subscription given back.
#pragma once

#include "catalog/model.h"
#include "events/store.h"
#include "inventory/availability.h"
#include "inventory/low_stock_alerts.h"
#include "inventory/shipment_notices.h"
#include "inventory/shipments.h"
#include "inventory/stock_movements.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"
#include "subscriptions/service.h"

namespace recur::inventory {

class InventoryFulfilment final : public subscriptions::Fulfilment {
 public:
  InventoryFulfilment(const Clock& clock, IdGenerator& ids, StockMovements& movements, AvailabilityAnswers& answers,
                      LowStockAlerts& alerts, ShipmentNotices& notices)
      : clock_(clock),
        ids_(ids),
        events_(ids, clock),
        movements_(movements),
        answers_(answers),
        alerts_(alerts),
        notices_(notices) {}

  void set_period_payment(PeriodPaymentOf payment) { period_payment_ = std::move(payment); }

  recur::Status period_began(db::Tx& tx, const subscriptions::Subscription& sub,
                             const subscriptions::LifecycleEvent& period, bool at_signup) override;
  recur::Status check_first_shipment(db::Tx& tx, const subscriptions::Subscription& sub, const catalog::Plan& plan,
                                     Timestamp ships_at) override;
  recur::Status check_extras(db::Tx& tx, const std::vector<catalog::PlanItem>& items, Timestamp ships_at) override;
  recur::Status subscription_ended(db::Tx& tx, const std::string& subscription) override;
  Result<std::vector<BoxOption>> box_options(db::Tx& tx, const catalog::Selection& selection, std::int64_t quantity,
                                             Timestamp ships_at) override;
  Result<std::vector<catalog::PlanItem>> default_choice(db::Tx& tx, const subscriptions::Subscription& sub,
                                                        const catalog::Selection& selection, std::int64_t sequence,
                                                        Timestamp ships_at) override;
  // Billing was paid `invoice` in `tx`: the box of its period is marked paid (version, event
  // shipment.paid), so `paid` stays what the database says. An invoice, once paid, stays
  // paid (refunds and credit notes leave it so, only open or uncollectible ones are voided),
  // so nothing turns it back. Requires: called inside `tx`, which holds the invoice's lock.
  recur::Status invoice_paid(db::Tx& tx, const std::string& invoice);

 private:
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
  StockMovements& movements_;
  AvailabilityAnswers& answers_;
  LowStockAlerts& alerts_;
  ShipmentNotices& notices_;
  PeriodPaymentOf period_payment_;
};

}  // namespace recur::inventory
