// Messages to a shipment's customer (backorder delay, backorder filled, shipped), queued in
// the caller's transaction.
#pragma once

#include <string>

#include "inventory/model.h"
#include "notify/outbox.h"
#include "platform/db/database.h"

namespace recur::inventory {

class ShipmentNotices {
 public:
  explicit ShipmentNotices(notify::Outbox& outbox) : outbox_(outbox) {}

  // Queues `template_name` to the shipment's customer with the items' names (for
  // backorder_delay, only the short ones) and `data`. A message that cannot be queued is
  // logged and does not fail the caller.
  void send(db::Tx& tx, const Shipment& shipment, const std::string& template_name, Json data);

 private:
  notify::Outbox& outbox_;
};

}  // namespace recur::inventory
