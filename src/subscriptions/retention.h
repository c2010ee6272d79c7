// Retention offers: what a merchant offers a customer who asks to cancel, per reason.
#pragma once

#include <optional>
#include <string>

#include "platform/json.h"
#include "platform/time.h"

namespace recur::subscriptions {

enum class OfferType { kDiscount, kPause, kSkip, kChangePlan };
std::optional<OfferType> parse_offer_type(std::string_view text);
std::string_view to_string(OfferType type);

struct RetentionOffer {
  std::string id;      // "rof_..."
  std::string reason;  // one of kCancellationReasons
  OfferType type = OfferType::kDiscount;
  std::string description;  // shown to the customer
  std::int64_t percent_off = 0;         // discount
  std::int64_t duration_in_cycles = 0;  // discount
  std::int64_t pause_cycles = 0;        // pause
  std::optional<std::string> plan;      // change_plan: the cheaper plan or lower frequency
  bool active = true;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
};

Json to_json(const RetentionOffer& offer);
RetentionOffer offer_from_doc(const Json& doc);

// Outcomes recorded for analytics: offered, accepted, declined, canceled_anyway.
inline constexpr std::string_view kOutcomeOffered = "offered";
inline constexpr std::string_view kOutcomeAccepted = "accepted";
inline constexpr std::string_view kOutcomeDeclined = "declined";
inline constexpr std::string_view kOutcomeCanceledAnyway = "canceled_anyway";

}  // namespace recur::subscriptions
