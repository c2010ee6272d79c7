// The events API and the event catalogue.
#include "webhooks/events_api.h"

#include <algorithm>

namespace recur::webhooks {

const std::vector<std::string_view>& event_types() {
  // The same list as api/openapi.yaml's Event.type enum and docs/events.md (ctest event_types).
  static const std::vector<std::string_view> kTypes = {
      "api_key.created",
      "api_key.revoked",
      "billing.failure_rate_high",
      "coupon.created",
      "coupon.updated",
      "credit_note.created",
      "customer.created",
      "customer.erased",
      "customer.payment_method_attached",
      "customer.payment_method_detached",
      "customer.updated",
      "dispute.closed",
      "dispute.created",
      "inventory.low",
      "inventory.replenishment_needed",
      "inventory.restocked",
      "inventory.updated",
      "invoice.collection_ended",
      "invoice.dunning_exhausted",
      "invoice.finalized",
      "invoice.paid",
      "invoice.payment_action_required",
      "invoice.payment_failed",
      "invoice.voided",
      "payment.disputed",
      "payment.failed",
      "payment.requires_action",
      "payment.succeeded",
      "plan.created",
      "plan.updated",
      "product.created",
      "product.updated",
      "promotion_code.created",
      "promotion_code.updated",
      "purchase_order.canceled",
      "purchase_order.created",
      "purchase_order.received",
      "purchase_order.sent",
      "refund.created",
      "refund.failed",
      "refund.succeeded",
      "retention_offer.created",
      "retention_offer.updated",
      "role.created",
      "settings.disputes_updated",
      "settings.dunning_updated",
      "settings.shop_updated",
      "settings.tax_updated",
      "shipment.backorder_choice",
      "shipment.backorder_filled",
      "shipment.backordered",
      "shipment.canceled",
      "shipment.created",
      "shipment.delivered",
      "shipment.paid",
      "shipment.ready",
      "shipment.shipped",
      "subscription.canceled",
      "subscription.cancellation_requested",
      "subscription.created",
      "subscription.deleted",
      "subscription.discount_applied",
      "subscription.discount_removed",
      "subscription.paused",
      "subscription.payment_failed",
      "subscription.payment_recovered",
      "subscription.period_skipped",
      "subscription.period_started",
      "subscription.plan_changed",
      "subscription.reactivated",
      "subscription.renewed",
      "subscription.resumed",
      "subscription.retention_accepted",
      "subscription.retention_declined",
      "subscription.retention_offered",
      "subscription.scheduled",
      "subscription.skipped",
      "subscription.next_date_moved",
      "subscription.delivery_moved",
      "subscription.add_on_added",
      "subscription.add_on_removed",
      "subscription.converted",
      "subscription.box_chosen",
      "subscription.started",
      "subscription.trial_ended",
      "subscription.trial_started",
      "subscription.unpaid",
      "subscription.activated",
      "subscription.incomplete_expired",
      "subscription.updated",
      "supplier.created",
      "supplier.updated",
      "tier.created",
      "gift.created",
      "gift.sent",
      "gift.claimed",
      "gift.expired",
      "tier.deleted",
      "tier.updated"
};
  return kTypes;
}

bool is_event_pattern(std::string_view pattern, bool star) {
  if (pattern == "*") return star;
  const auto& types = event_types();
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ".*") {
    std::string_view resource = pattern.substr(0, pattern.size() - 1);  // "invoice."
    return std::any_of(types.begin(), types.end(), [&](std::string_view t) { return t.starts_with(resource); });
  }
  return std::find(types.begin(), types.end(), pattern) != types.end();
}

Timestamp EventsApi::visible_from() const { return clock_.now() - retention_days_ * kSecondsPerDay; }

Result<Page<events::Event>> EventsApi::list(const EventQuery& query) {
  events::EventFilter filter{query.types, query.resource, visible_from(), query.page};
  return db::transact(db_, [&](db::Tx& tx) { return events::list_events(tx, filter); }, db::TxMode::kReadOnly);
}

Result<events::Event> EventsApi::get(const std::string& id) {
  Timestamp from = visible_from();
  return db::transact(db_, [&](db::Tx& tx) -> Result<events::Event> {
    RECUR_ASSIGN(auto found, events::find_event(tx, id));
    if (!found || found->created < from)
      return Error::not_found("event_not_found", "no event with id '" + id + "' in the last " +
                                                     std::to_string(retention_days_) + " days");
    return *found;
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::webhooks
