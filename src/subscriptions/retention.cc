// Retention offer JSON mapping.
#include "subscriptions/retention.h"

namespace recur::subscriptions {

std::optional<OfferType> parse_offer_type(std::string_view t) {
  if (t == "discount") return OfferType::kDiscount;
  if (t == "pause") return OfferType::kPause;
  if (t == "skip") return OfferType::kSkip;
  if (t == "change_plan") return OfferType::kChangePlan;
  return std::nullopt;
}

std::string_view to_string(OfferType type) {
  switch (type) {
    case OfferType::kDiscount: return "discount";
    case OfferType::kPause: return "pause";
    case OfferType::kSkip: return "skip";
    case OfferType::kChangePlan: return "change_plan";
  }
  return "discount";
}

Json to_json(const RetentionOffer& o) {
  return with_envelope(Json{{"id", o.id},
         {"object", "retention_offer"},
         {"reason", o.reason},
         {"type", to_string(o.type)},
         {"description", o.description},
         {"percent_off", o.type == OfferType::kDiscount ? Json(o.percent_off) : Json(nullptr)},
         {"duration_in_cycles", o.type == OfferType::kDiscount ? Json(o.duration_in_cycles) : Json(nullptr)},
         {"pause_cycles", o.type == OfferType::kPause ? Json(o.pause_cycles) : Json(nullptr)},
         {"plan", o.plan ? Json(*o.plan) : Json(nullptr)},
         {"active", o.active}}, o);
}

RetentionOffer offer_from_doc(const Json& d) {
  RetentionOffer o;
  o.id = d.at("id");
  o.reason = d.at("reason");
  o.type = parse_offer_type(d.at("type").get<std::string>()).value();
  o.description = d.at("description");
  if (d.at("percent_off").is_number()) o.percent_off = d.at("percent_off");
  if (d.at("duration_in_cycles").is_number()) o.duration_in_cycles = d.at("duration_in_cycles");
  if (d.at("pause_cycles").is_number()) o.pause_cycles = d.at("pause_cycles");
  if (d.at("plan").is_string()) o.plan = d.at("plan").get<std::string>();
  o.active = d.at("active");
  read_envelope(d, o);
  return o;
}

}  // namespace recur::subscriptions
