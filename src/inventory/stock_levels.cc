// Stock by SKU.
#include "inventory/stock_levels.h"

#include "inventory/shipments.h"
#include "inventory/store.h"
#include "platform/db/list_query.h"

namespace recur::inventory {
namespace {

Error not_found_sku(const std::string& sku) {
  return Error::not_found("sku_not_found", "no product with sku '" + sku + "'");
}


}  // namespace

Json to_json(const StockView& v) {
  return {{"object", "inventory_item"},
          {"sku", v.sku},
          {"product", v.product},
          {"name", v.name},
          {"track_inventory", v.tracked},
          {"warehouse", v.level.warehouse},
          {"on_hand", v.level.on_hand},
          {"reserved", v.level.reserved},
          {"available", v.level.available()},
          {"incoming", v.incoming},
          {"low_stock_threshold", v.level.low_stock_threshold > 0 ? Json(v.level.low_stock_threshold) : Json(nullptr)},
          {"low_stock", is_low(v.level.available(), v.level.low_stock_threshold)},
          {"alert_email", to_json_text(v.level.alert_email)},
          {"updated", v.level.updated ? Json(format_rfc3339(v.level.updated)) : Json(nullptr)}};
}

Result<catalog::Product> StockLevels::product_by_sku(db::Tx& tx, const std::string& sku) {
  catalog::ListFilter filter;
  filter.sku = sku;
  filter.page.limit = 1;
  RECUR_ASSIGN(auto page, catalog::list_products(tx, filter));
  if (page.items.empty()) return not_found_sku(sku);
  return page.items.front();
}

Result<StockView> stock_view(db::Tx& tx, const catalog::Product& product) {
  StockView v;
  v.sku = product.sku;
  v.product = product.id;
  v.name = product.name;
  v.tracked = product.track_inventory;
  RECUR_ASSIGN(v.level, total_level(tx, product.id));
  RECUR_ASSIGN(auto coming, arrivals(tx, product.id));
  for (const auto& a : coming) v.incoming += a.quantity;
  return v;
}

Result<bool> StockLevels::move_on_hand(db::Tx& tx, const catalog::Product& product, MovementKind kind,
                                           std::int64_t delta, const std::optional<std::string>& reason,
                                           const std::optional<std::string>& reference, const events::Actor& actor) {
  Movement m;
  m.product = product.id;
  m.kind = kind;
  m.on_hand_delta = delta;
  m.reason = reason;
  m.reference = reference;
  m.actor = actor;
  m.created = clock_.now();
  return movements_.move(tx, std::move(m), product);
}

Result<StockView> StockLevels::stock(const std::string& sku) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    return view(tx, product);
  }, db::TxMode::kReadOnly);
}

Result<Page<StockView>> StockLevels::list_stock(bool low_only, const ListParams& params) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Page<StockView>> {
    // A cursor is the `product` of an item of a previous page.
    for (const auto& [cursor, field] : {std::pair{params.starting_after, "starting_after"},
                                        {params.ending_before, "ending_before"}}) {
      if (!cursor) continue;
      RECUR_ASSIGN(auto found, catalog::find_product(tx, *cursor));
      if (!found || !found->track_inventory) return db::unknown_cursor(*cursor, field);
    }
    bool backward = params.ending_before.has_value();
    RECUR_ASSIGN(auto tracked, catalog::tracked_products(tx, backward ? params.ending_before : params.starting_after,
                                                         backward));
    Page<StockView> page;
    for (const auto& product : tracked) {
      RECUR_ASSIGN(auto v, view(tx, product));
      if (low_only && !is_low(v.level.available(), v.level.low_stock_threshold)) continue;
      if (static_cast<int>(page.items.size()) == params.limit) {
        page.has_more = true;
        break;
      }
      page.items.push_back(std::move(v));
    }
    if (backward) std::reverse(page.items.begin(), page.items.end());
    return page;
  }, db::TxMode::kReadOnly);
}

Result<StockView> StockLevels::update_settings(const std::string& sku, const StockSettingsPatch& patch,
                                                    const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    RECUR_ASSIGN(auto level, load_level(tx, product.id, std::string(kDefaultWarehouse), true));
    RECUR_ASSIGN(auto before, view(tx, product));
    if (patch.low_stock_threshold) level.low_stock_threshold = *patch.low_stock_threshold;
    if (patch.alert_email) level.alert_email = *patch.alert_email;
    level.updated = clock_.now();
    RECUR_TRY(save_level_settings(tx, level));
    cache_.invalidate_after_commit(tx, product.id);
    RECUR_TRY(alerts_.check(tx, product));
    RECUR_ASSIGN(auto after, view(tx, product));
    RECUR_TRY(events_.record(tx, "inventory.updated", product.id, actor, to_json(before), to_json(after)));
    return after;
  });
}

Result<StockView> StockLevels::adjust(const std::string& sku, std::int64_t delta, const std::string& reason,
                                           const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    RECUR_ASSIGN(bool applied, move_on_hand(tx, product, MovementKind::kAdjustment, delta, reason, std::nullopt, actor));
    if (!applied) {
      RECUR_ASSIGN(auto level, total_level(tx, product.id));
      return Error::conflict("insufficient_stock",
                             "an adjustment of " + std::to_string(delta) + " would leave " + sku + " with " +
                                 std::to_string(level.on_hand + delta) + " on hand (" + std::to_string(level.reserved) +
                                 " are reserved for shipments)");
    }
    return view(tx, product);
  });
}

Result<StockView> StockLevels::receive(const std::string& sku, std::int64_t quantity,
                                            const std::optional<std::string>& purchase_order,
                                            const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    if (purchase_order) {
      if (!order_receipt_)
        return Error::conflict("purchase_orders_unavailable", "purchase orders are not enabled on this node");
      RECUR_TRY(order_receipt_(tx, *purchase_order, product.id, quantity));
    }
    RECUR_ASSIGN(bool applied,
                 move_on_hand(tx, product, MovementKind::kReceipt, quantity, std::nullopt, purchase_order, actor));
    if (!applied) return Error::internal("a receipt of " + sku + " was refused by the stock level");
    return view(tx, product);
  });
}

Result<StockView> StockLevels::record_return(const std::string& sku, std::int64_t quantity,
                                                  const std::optional<std::string>& shipment,
                                                  const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<StockView> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    if (shipment) {
      RECUR_ASSIGN(auto found, find_shipment(tx, *shipment, false));
      if (!found) return shipment_not_found(*shipment);
    }
    RECUR_ASSIGN(bool applied, move_on_hand(tx, product, MovementKind::kReturn, quantity, std::nullopt, shipment, actor));
    if (!applied) return Error::internal("a return of " + sku + " was refused by the stock level");
    return view(tx, product);
  });
}

Result<Page<Movement>> StockLevels::movements(const std::string& sku, const std::vector<std::string>& kinds,
                                              const ListParams& page) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Page<Movement>> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    return list_movements(tx, {product.id, kinds, page});
  }, db::TxMode::kReadOnly);
}

Result<LedgerSums> StockLevels::ledger_sums(const std::string& sku) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<LedgerSums> {
    RECUR_ASSIGN(auto product, product_by_sku(tx, sku));
    RECUR_ASSIGN(auto all, all_movements(tx, product.id));
    return sum_ledger(all);
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::inventory
