// Shipments: reading and listing them, and the operator's moves (ready, shipped, delivered,
// canceled), each in one transaction; shipping takes the reserved units off the shelf and
// cancelling releases them to other backorders.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "catalog/store.h"
#include "events/store.h"
#include "inventory/model.h"
#include "inventory/shipment_notices.h"
#include "inventory/stock_movements.h"
#include "inventory/store.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::inventory {

// A billed period as billing sees it: the invoice that billed it (none when it was not
// invoiced) and whether it is paid (that invoice is paid, or there is nothing to pay).
struct PeriodPayment {
  std::optional<std::string> invoice;
  bool paid = true;
};

// Whether a box is paid for, given `own`, the payment of its own period. A prepaid box is
// linked to the charge that covers it (its `invoice` is not its period's, and `paid` follows
// that charge): it is paid when the charge is, and its own period's invoice (its add-ons)
// too, if there is one.
inline bool box_paid(const std::optional<std::string>& linked, bool linked_paid, const PeriodPayment& own) {
  if (linked && own.invoice != linked) return linked_paid && (!own.invoice || own.paid);
  return own.paid;
}

// Billing answers (through a function the App wires, so neither module includes the other):
// a new shipment takes its period's invoice and paid flag from it, a box is made ready or
// shipped only when its period is paid (409 period_unpaid otherwise), and an ended
// subscription's unpaid boxes are canceled.
using PeriodPaymentOf =
    std::function<Result<PeriodPayment>(db::Tx&, const std::string& subscription, std::int64_t period_seq)>;

Error shipment_not_found(const std::string& id);

class Shipments {
 public:
  Shipments(db::Database& db, const Clock& clock, IdGenerator& ids, StockMovements& movements,
            ShipmentNotices& notices)
      : db_(db), clock_(clock), events_(ids, clock), movements_(movements), notices_(notices) {}

  void set_period_payment(PeriodPaymentOf payment) { period_payment_ = std::move(payment); }

  Result<Shipment> shipment(const std::string& id);
  Result<Page<Shipment>> list_shipments(const ShipmentFilter& query);
  Result<Shipment> move_shipment(const std::string& id, ShipmentStatus to, const std::optional<std::string>& tracking,
                                 std::optional<std::int64_t> expected_version, const events::Actor& actor);

 private:
  db::Database& db_;
  const Clock& clock_;
  events::Recorder events_;
  StockMovements& movements_;
  ShipmentNotices& notices_;
  PeriodPaymentOf period_payment_;
};

}  // namespace recur::inventory
