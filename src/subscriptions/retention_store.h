// Retention offers' SQL: the merchant's offers (retention_offers) and what became of each
// one shown to a subscriber (retention_outcomes, which analytics reads).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "platform/db/database.h"
#include "platform/page.h"
#include "subscriptions/retention.h"

namespace recur::subscriptions {

recur::Status insert_offer(db::Tx& tx, const RetentionOffer& offer);
// for_update: lock the row until the transaction ends (PostgreSQL).
Result<std::optional<RetentionOffer>> find_offer(db::Tx& tx, const std::string& id, bool for_update = false);
recur::Status update_offer(db::Tx& tx, const RetentionOffer& offer);
// Newest first; an empty reason matches all.
Result<Page<RetentionOffer>> list_offers(db::Tx& tx, const std::string& reason, const ListParams& page);
// The active offers for a cancellation reason, oldest first (the order they are shown in).
Result<std::vector<RetentionOffer>> active_offers(db::Tx& tx, const std::string& reason);

recur::Status record_outcome(db::Tx& tx, const std::string& id, const std::string& subscription,
                             const std::string& offer, const std::string& reason, std::string_view outcome,
                             Timestamp now);
struct OfferState {
  std::string outcome;  // kOutcomeOffered, kOutcomeAccepted, ...
  std::string reason;   // the cancellation reason it was shown for
};
// The most recent outcome of `offer` for a subscription, if it was ever shown.
Result<std::optional<OfferState>> latest_outcome(db::Tx& tx, const std::string& subscription, const std::string& offer);
// Every offer shown to a subscription with its most recent outcome, by offer id.
Result<std::map<std::string, OfferState>> latest_outcomes(db::Tx& tx, const std::string& subscription);

}  // namespace recur::subscriptions
