// Inventory's parts wired together.
#include "inventory/service.h"

namespace recur::inventory {

InventoryService::InventoryService(db::Database& db, const Clock& clock, IdGenerator& ids,
                                   notify::Outbox& outbox, subscriptions::PeriodBilling& billing,
                                   InventoryOptions options)
    : alerts_(clock, ids, outbox, std::move(options.ops_email)),
      notices_(outbox),
      movements_(clock, ids, cache_, alerts_, notices_),
      levels_(db, clock, ids, movements_, alerts_, cache_),
      answers_(db, cache_),
      shipments_(db, clock, ids, movements_, notices_),
      choices_(db, clock, ids, movements_, answers_, billing),
      fulfilment_(clock, ids, movements_, answers_, alerts_, notices_) {}

}  // namespace recur::inventory
