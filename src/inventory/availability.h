// Availability answers: whether a quantity of a product can be had now or by a date, from
// the cache when it can, with alternatives when it cannot; and the out_of_stock refusal that
// offers them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog/model.h"
#include "inventory/availability_cache.h"
#include "inventory/model.h"
#include "platform/db/database.h"

namespace recur::inventory {

Json to_json(const Alternative& alternative);

struct AvailabilityAnswer {
  Availability availability;
  std::vector<Alternative> alternatives;  // only when it cannot be fulfilled
};
Json to_json(const AvailabilityAnswer& answer);

// 409 out_of_stock naming the short SKUs and the alternatives offered.
Error out_of_stock(const std::vector<std::string>& skus, const std::vector<Alternative>& alternatives);

class AvailabilityAnswers {
 public:
  AvailabilityAnswers(db::Database& db, AvailabilityCache& cache) : db_(db), cache_(cache) {}

  // Whether `quantity` of a product can be had now or by `date`; a cache hit that can be
  // fulfilled touches no database.
  Result<AvailabilityAnswer> availability(const std::string& product, std::int64_t quantity,
                                          std::optional<Timestamp> date);

  // Inside the caller's transaction: the facts an answer is computed from.
  Result<StockSnapshot> snapshot(db::Tx& tx, const catalog::Product& product);
  // What to offer instead of `quantity` of `product` (rank_alternatives over the active
  // products), then the product itself on `available_on` when purchase orders bring it.
  Result<std::vector<Alternative>> alternatives(db::Tx& tx, const catalog::Product& product, std::int64_t quantity,
                                                const std::optional<Timestamp>& available_on);

 private:
  db::Database& db_;
  AvailabilityCache& cache_;
};

}  // namespace recur::inventory
