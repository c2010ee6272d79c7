// Availability answers.
#include "inventory/availability.h"

#include "catalog/store.h"
#include "inventory/store.h"
#include "platform/ids.h"

namespace recur::inventory {

Json to_json(const Alternative& a) {
  Json j = {{"product", a.product}};
  if (a.available_on) {
    j["available_on"] = format_rfc3339(*a.available_on);
    return j;
  }
  j["name"] = to_json_text(a.name);
  j["available"] = a.available ? Json(*a.available) : Json(nullptr);
  j["amount"] = a.price ? Json(a.price->amount) : Json(nullptr);
  j["currency"] = a.price ? Json(a.price->currency) : Json(nullptr);
  return j;
}

Json to_json(const AvailabilityAnswer& answer) {
  Json j = to_json(answer.availability);
  Json alternatives = Json::array();
  for (const auto& a : answer.alternatives) alternatives.push_back(to_json(a));
  j["alternatives"] = alternatives;
  return j;
}

Error out_of_stock(const std::vector<std::string>& skus, const std::vector<Alternative>& alternatives) {
  std::string list;
  for (const auto& s : skus) list += (list.empty() ? "" : ", ") + s;
  Error e = Error::conflict("out_of_stock", "not enough stock to ship the first box: " + list);
  Json extra = {{"skus", skus}, {"alternatives", Json::array()}};
  for (const auto& a : alternatives) extra["alternatives"].push_back(to_json(a));
  e.extra_json = extra.dump();
  return e;
}

Result<AvailabilityAnswer> AvailabilityAnswers::availability(const std::string& product_id, std::int64_t quantity,
                                                             std::optional<Timestamp> date) {
  auto cached = cache_.get(product_id);
  if (cached) {
    AvailabilityAnswer answer{inventory::availability(*cached, quantity, date), {}};
    if (answer.availability.can_fulfill) return answer;  // the hot path: no database at all
  }
  std::uint64_t generation = cache_.generation();
  return db::transact(db_, [&](db::Tx& tx) -> Result<AvailabilityAnswer> {
    RECUR_ASSIGN(auto product, catalog::find_product(tx, product_id));
    if (!product) return Error::not_found("product_not_found", no_object_message("product", "prod", product_id));
    RECUR_ASSIGN(auto snap, snapshot(tx, *product));
    if (!tx.may_lag()) cache_.put_if_current(snap, generation);  // a replica's read is never cached
    AvailabilityAnswer answer{inventory::availability(snap, quantity, date), {}};
    if (!answer.availability.can_fulfill) {
      RECUR_ASSIGN(answer.alternatives, alternatives(tx, *product, quantity, answer.availability.available_on));
    }
    return answer;
  }, db::TxMode::kReadOnly);
}

Result<StockSnapshot> AvailabilityAnswers::snapshot(db::Tx& tx, const catalog::Product& product) {
  StockSnapshot s;
  s.product = product.id;
  s.sku = product.sku;
  s.name = product.name;
  s.tracked = product.track_inventory;
  s.active = product.active;
  RECUR_ASSIGN(auto level, total_level(tx, product.id));
  s.on_hand = level.on_hand;
  s.reserved = level.reserved;
  s.low_stock_threshold = level.low_stock_threshold;
  RECUR_ASSIGN(s.arrivals, arrivals(tx, product.id));
  return s;
}

Result<std::vector<Alternative>> AvailabilityAnswers::alternatives(db::Tx& tx, const catalog::Product& product,
                                                                   std::int64_t quantity,
                                                                   const std::optional<Timestamp>& available_on) {
  std::vector<Alternative> out;
  if (product.category) {
    RECUR_ASSIGN(auto others, catalog::other_active_products(tx, product.id, 1000));
    std::vector<Candidate> candidates;
    for (auto& other : others) {
      if (!may_stand_in(product, other)) continue;  // only these need their level read
      Candidate c{std::move(other), std::nullopt};
      if (c.product.track_inventory) {
        RECUR_ASSIGN(auto level, total_level(tx, c.product.id));
        c.available = level.available();
      }
      candidates.push_back(std::move(c));
    }
    out = rank_alternatives(product, quantity, candidates);
  }
  if (available_on) out.push_back({.product = product.id, .available_on = available_on});
  return out;
}

}  // namespace recur::inventory
