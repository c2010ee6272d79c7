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

  void set_period_paid(PeriodPaid paid) { period_paid_ = std::move(paid); }

  recur::Status period_began(db::Tx& tx, const subscriptions::Subscription& sub,
                             const subscriptions::LifecycleEvent& period, bool at_signup) override;
  recur::Status check_first_shipment(db::Tx& tx, const subscriptions::Subscription& sub, const catalog::Plan& plan,
                                     Timestamp ships_at) override;
  recur::Status subscription_ended(db::Tx& tx, const std::string& subscription) override;

 private:
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
  StockMovements& movements_;
  AvailabilityAnswers& answers_;
  LowStockAlerts& alerts_;
  ShipmentNotices& notices_;
  PeriodPaid period_paid_;
};

}  // namespace recur::inventory
