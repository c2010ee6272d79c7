// Retention offers, the merchant's side.
#include "subscriptions/retention_service.h"

#include "subscriptions/retention_store.h"
#include "subscriptions/service.h"
#include "platform/ids.h"

namespace recur::subscriptions {

Result<RetentionOffer> require_offer(db::Tx& tx, const std::string& id, bool for_update) {
  RECUR_ASSIGN(auto found, find_offer(tx, id, for_update));
  if (!found) return Error::not_found("retention_offer_not_found", no_object_message("retention offer", "rof", id));
  return std::move(*found);
}

Result<RetentionOffer> RetentionService::create_offer(const OfferInput& in, const events::Actor& actor) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<RetentionOffer> {
    if (in.type == OfferType::kChangePlan) RECUR_TRY(plan_for_subscribing(tx, in.plan.value_or(""), "plan"));
    RetentionOffer o{ids_.next("rof"), in.reason, in.type, in.description, in.percent_off, in.duration_in_cycles,
                     in.pause_cycles, in.plan, true, in.metadata, now, now, 1};
    RECUR_TRY(insert_offer(tx, o));
    RECUR_TRY(events_.record(tx, "retention_offer.created", o.id, actor, nullptr, to_json(o)));
    return o;
  });
}

Result<RetentionOffer> RetentionService::update_offer(const std::string& id, const OfferPatch& patch,
                                                      std::int64_t expected_version, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<RetentionOffer> {
    RECUR_ASSIGN(RetentionOffer o, require_offer(tx, id, true));
    if (o.version != expected_version) return version_conflict("the retention offer", expected_version, o.version);
    Json before = to_json(o);
    if (patch.description) o.description = *patch.description;
    if (patch.active) o.active = *patch.active;
    if (patch.metadata) o.metadata = *patch.metadata;
    o.updated = clock_.now();
    ++o.version;
    RECUR_TRY(subscriptions::update_offer(tx, o));
    RECUR_TRY(events_.record(tx, "retention_offer.updated", o.id, actor, std::move(before), to_json(o)));
    return o;
  });
}

Result<RetentionOffer> RetentionService::get_offer(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) { return require_offer(tx, id); }, db::TxMode::kReadOnly);
}

Result<Page<RetentionOffer>> RetentionService::list_offers(const std::optional<std::string>& reason,
                                                          const ListParams& page) {
  return db::transact(db_, [&](db::Tx& tx) {
    return subscriptions::list_offers(tx, reason.value_or(""), page);
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::subscriptions
