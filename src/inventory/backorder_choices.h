// A customer's choice for a backordered box (wait, swap an item, cancel an item, skip the
// box), in one transaction: reservations moved, credits for the next invoice, freed units
// handed to other backorders after the box is stored.
#pragma once

#include <optional>
#include <string>

#include "events/store.h"
#include "inventory/availability.h"
#include "inventory/model.h"
#include "inventory/stock_movements.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"
#include "subscriptions/service.h"

namespace recur::inventory {

struct ChoiceInput {
  BackorderChoice choice = BackorderChoice::kWait;
  std::optional<std::string> item;     // swap / cancel_item: the item's product, by id or SKU
  std::optional<std::string> swap_to;  // swap: the product instead, by id or SKU
};

class BackorderChoices {
 public:
  // `billing` takes a skipped box's credit as a line of the subscription's next invoice.
  BackorderChoices(db::Database& db, const Clock& clock, IdGenerator& ids, StockMovements& movements,
                   AvailabilityAnswers& answers, subscriptions::PeriodBilling& billing)
      : db_(db),
        clock_(clock),
        ids_(ids),
        events_(ids, clock),
        movements_(movements),
        answers_(answers),
        billing_(billing) {}

  Result<Shipment> choose(const std::string& shipment, const ChoiceInput& input, const events::Actor& actor);

 private:
  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
  StockMovements& movements_;
  AvailabilityAnswers& answers_;
  subscriptions::PeriodBilling& billing_;
};

}  // namespace recur::inventory
