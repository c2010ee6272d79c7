// Low-stock alerts: once per crossing of a product's threshold, an inventory.low event and
// an e-mail to the operators and the SKU's contact; inventory.restocked when it recovers.
#pragma once

#include <string>

#include "catalog/model.h"
#include "events/store.h"
#include "notify/outbox.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::inventory {

class LowStockAlerts {
 public:
  // `ops_email` "": no operators' copy.
  LowStockAlerts(const Clock& clock, IdGenerator& ids, notify::Outbox& outbox, std::string ops_email)
      : clock_(clock), events_(ids, clock), outbox_(outbox), ops_email_(std::move(ops_email)) {}

  // Checks the product's level after a change and alerts (or records the recovery) once.
  // Requires: called inside the transaction that changed the level.
  recur::Status check(db::Tx& tx, const catalog::Product& product);

 private:
  const Clock& clock_;
  events::Recorder events_;
  notify::Outbox& outbox_;
  std::string ops_email_;
};

}  // namespace recur::inventory
