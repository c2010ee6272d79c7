// Messages to a shipment's customer.
#include "inventory/shipment_notices.h"

#include <spdlog/spdlog.h>

#include "customers/service.h"

namespace recur::inventory {

void ShipmentNotices::send(db::Tx& tx, const Shipment& s, const std::string& template_name, Json data) {
  auto customer = customers::find_customer(tx, s.customer);
  if (!customer.ok() || !*customer) return;
  std::string names;
  for (const auto& item : s.items) {
    if (template_name == "backorder_delay" && item.short_by() <= 0) continue;
    names += (names.empty() ? "" : ", ") + item.name;
  }
  notify::Message m;
  m.template_name = template_name;
  m.to = (*customer)->email;
  m.customer = s.customer;
  m.resource = s.id;
  m.data = Json{{"customer_name", (*customer)->name}, {"product_name", names}, {"shipment_id", s.id}};
  m.data.update(data);
  auto queued = outbox_.enqueue(tx, m);
  if (!queued.ok())
    spdlog::warn("inventory: could not queue the {} message for {}: {}", template_name, s.id, queued.error().message);
  // Delays and shipping are texted too when the customer opted in.
  auto texted = notify::enqueue_sms_copy(outbox_, tx, m, customers::sms_number(**customer));
  if (!texted.ok())
    spdlog::warn("inventory: could not queue the {} SMS for {}: {}", template_name, s.id, texted.error().message);
}

}  // namespace recur::inventory
