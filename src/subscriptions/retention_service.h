// Retention offers, the merchant's side: what to offer a subscriber who asks to cancel, per
// reason. The subscriber's side (present, accept, decline) changes a subscription and is in
// SubscriptionService; both read and write through retention_store.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "events/store.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"
#include "subscriptions/retention.h"

namespace recur::subscriptions {

struct OfferInput {
  std::string reason;
  OfferType type = OfferType::kDiscount;
  std::string description;
  std::int64_t percent_off = 0;
  std::int64_t duration_in_cycles = 0;
  std::int64_t pause_cycles = 0;
  std::optional<std::string> plan;
  Json metadata = Json::object();
};

struct OfferPatch {
  std::optional<std::string> description;
  std::optional<bool> active;
  std::optional<Json> metadata;
};

class RetentionService {
 public:
  RetentionService(db::Database& db, const Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids), events_(ids, clock) {}

  Result<RetentionOffer> create_offer(const OfferInput& input, const events::Actor& actor);
  Result<RetentionOffer> update_offer(const std::string& id, const OfferPatch& patch, std::int64_t expected_version,
                                      const events::Actor& actor);
  Result<RetentionOffer> get_offer(const std::string& id);
  Result<Page<RetentionOffer>> list_offers(const std::optional<std::string>& reason, const ListParams& page);

 private:
  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
};

// Not found is the caller's mistake (404 retention_offer_not_found).
Result<RetentionOffer> require_offer(db::Tx& tx, const std::string& id, bool for_update = false);

}  // namespace recur::subscriptions
