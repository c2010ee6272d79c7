// Low-stock alerts.
#include "inventory/low_stock_alerts.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "inventory/stock_levels.h"
#include "inventory/store.h"

namespace recur::inventory {

recur::Status LowStockAlerts::check(db::Tx& tx, const catalog::Product& product) {
  RECUR_ASSIGN(auto level, load_level(tx, product.id, std::string(kDefaultWarehouse), true));
  auto step = low_stock_step(level.low_alerted, level.available(), level.low_stock_threshold);
  if (step == LowStockStep::kNone) return Ok{};
  level.low_alerted = step == LowStockStep::kAlert;
  level.updated = clock_.now();
  RECUR_TRY(save_level_settings(tx, level));
  Json details = {{"sku", product.sku},
                  {"on_hand", level.on_hand},
                  {"reserved", level.reserved},
                  {"available", level.available()},
                  {"low_stock_threshold", level.low_stock_threshold}};
  // The item as GET /v1/inventory/{sku} shows it: read again only on a crossing, which is
  // rare (the level in hand is one warehouse's and has no arrivals).
  RECUR_ASSIGN(auto item, stock_view(tx, product));
  if (step == LowStockStep::kRecovered)
    return events_.record(tx, "inventory.restocked", product.id, events::Actor::system(), nullptr, to_json(item),
                          details);
  RECUR_TRY(events_.record(tx, "inventory.low", product.id, events::Actor::system(), nullptr, to_json(item), details));
  std::vector<std::string> recipients;
  if (!ops_email_.empty()) recipients.push_back(ops_email_);
  if (level.alert_email && *level.alert_email != ops_email_) recipients.push_back(*level.alert_email);
  for (const auto& to : recipients) {
    notify::Message m;
    m.template_name = "inventory_low";
    m.to = to;
    m.resource = product.id;
    m.data = {{"product_name", product.name},
              {"sku", product.sku},
              {"on_hand", std::to_string(level.on_hand)},
              {"available", std::to_string(level.available())},
              {"low_stock_threshold", std::to_string(level.low_stock_threshold)}};
    auto queued = outbox_.enqueue(tx, m);
    if (!queued.ok()) spdlog::warn("inventory: could not queue the low-stock alert to {}: {}", to, queued.error().message);
  }
  return Ok{};
}

}  // namespace recur::inventory
