// Inventory's HTTP mapping: stock by SKU, movements, adjustments, receipts, returns,
// product availability and shipments with backorder choices.
#pragma once

#include "inventory/service.h"
#include "platform/http/router.h"

namespace recur::inventory {

void add_routes(http::Router& router, InventoryService& inventory);

}  // namespace recur::inventory
