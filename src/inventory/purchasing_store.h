// Purchasing SQL: suppliers (and which products each supplies), purchase orders with their
// lines (the lines table is what stock arrivals are summed from), gapless PO numbers, and
// the replenishment needs operators were told about.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "inventory/purchasing_model.h"
#include "platform/db/database.h"
#include "platform/page.h"

namespace recur::inventory {

struct SupplierFilter {
  std::optional<std::string> product;  // suppliers of this product
  ListParams page;
};

struct PurchaseOrderFilter {
  std::vector<std::string> statuses;  // any of them; all when empty
  std::optional<std::string> supplier;
  ListParams page;
};

Status insert_supplier(db::Tx& tx, const Supplier& supplier);
// Requires: supplier.version already incremented; false when the stored one is not version - 1.
Result<bool> update_supplier(db::Tx& tx, const Supplier& supplier);
Result<std::optional<Supplier>> find_supplier(db::Tx& tx, const std::string& id, bool for_update);
Result<Page<Supplier>> list_suppliers(db::Tx& tx, const SupplierFilter& filter);  // newest first
// Every supplier of `product`, oldest first.
Result<std::vector<Supplier>> suppliers_of(db::Tx& tx, const std::string& product);
// Every product some supplier supplies, in id order.
Result<std::vector<std::string>> supplied_products(db::Tx& tx);

// "PO-000042": the next number of the gapless sequence (the 'purchase_order' counter row).
// Its row lock orders every writer of purchase orders. Requires: the caller's transaction
// commits the order that uses it (a rollback gives the number back).
Result<std::string> next_purchase_order_number(db::Tx& tx);

// Inserts the order and its lines; false (nothing written) when another order already
// answers the same need_key.
Result<bool> insert_purchase_order(db::Tx& tx, const PurchaseOrder& order);
// Status, times, received counts. Requires: order.version already incremented; false when the
// stored one is not version - 1.
Result<bool> update_purchase_order(db::Tx& tx, const PurchaseOrder& order);
Result<std::optional<PurchaseOrder>> find_purchase_order(db::Tx& tx, const std::string& id, bool for_update);
Result<Page<PurchaseOrder>> list_purchase_orders(db::Tx& tx, const PurchaseOrderFilter& filter);

// Whether a draft, sent or partially received order has a line for `product`.
Result<bool> has_open_order(db::Tx& tx, const std::string& product);
// Units of `product` on sent and partially received orders not yet received: the sum of
// inventory::arrivals.
Result<std::int64_t> outstanding_on_order(db::Tx& tx, const std::string& product);

// Marks that operators were told about `need_key`; false when they were already.
Result<bool> claim_replenishment_alert(db::Tx& tx, const std::string& need_key, const std::string& product,
                                       Timestamp now);

// Records `quantity` units of `product` as received on `purchase_order` (an id "po_..." or
// a number "PO-000001"): refused with 409 when the order is not sent or partially received,
// the product is not on it, or the quantity is more than outstanding; 404 for an unknown
// order. Moves the order to partially_received or received. Stock itself is the caller's
// to put on hand (inventory::apply_movement) in the same transaction.
// `now` stamps the order's updated (and received_at when complete); without it they keep
// their values. Requires: inside the caller's write transaction.
recur::Status receive_on_order(db::Tx& tx, const std::string& purchase_order, const std::string& product,
                               std::int64_t quantity, std::optional<Timestamp> now = std::nullopt);
// The same, returning the order as it is now.
Result<PurchaseOrder> receive_on_order_as(db::Tx& tx, const std::string& purchase_order, const std::string& product,
                                          std::int64_t quantity, std::optional<Timestamp> now);

}  // namespace recur::inventory
