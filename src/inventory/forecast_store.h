// Forecast loading: the catalogue, live subscriptions, retention counts and signups, read as
// they are now or replayed from the event log as they were at a past moment; the units that
// shipped after it; and the two read-only use cases built on them (the API's forecast and the
// backtest). Every function here runs inside the caller's transaction.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inventory/forecast.h"
#include "platform/db/database.h"
#include "platform/json.h"

namespace recur::inventory {

inline constexpr int kSignupWeeks = 8;  // the window the signup trend is fitted on

// Every product and plan, archived ones too (live subscriptions may be on them).
struct CatalogueData {
  Catalogue catalogue;
  std::map<std::string, catalog::Plan> plans;  // for the lifecycle rules
  std::shared_ptr<const subscriptions::ClosedDays> closed;  // the shop's blackout dates
};
Result<CatalogueData> load_catalogue(db::Tx& tx);

// What the model is fitted on and forecasts from.
struct ForecastHistory {
  std::vector<Schedule> schedules;
  std::vector<RetentionCounts> retention;  // per plan index
  SignupHistory signups;
};

// The parsed subscriptions a server keeps between forecasts (GET /v1/forecasts, the reorder
// points' lead-time demand), by id and version, without their personal data. A forecast with
// it reads only each row's columns and parses only the documents whose version changed, so a
// write on any node is seen by the next forecast (no invalidation to miss); rows gone are
// dropped by the next forecast over every plan. At most `max_entries` are kept (the rest are
// parsed on every forecast). One forecast uses it at a time. Thread-safe.
class ForecastCache {
 public:
  // Beyond `most_read_by_id` changed documents, and a quarter of those a forecast reads, it
  // streams every document again (cheaper than reading them by id).
  explicit ForecastCache(std::size_t max_entries = 2'000'000, std::size_t most_read_by_id = 50'000);
  ~ForecastCache();
  ForecastCache(const ForecastCache&) = delete;
  ForecastCache& operator=(const ForecastCache&) = delete;
  struct Stats {
    std::size_t entries = 0;
    std::size_t read = 0;  // documents the last forecast read and parsed into it
  };
  Stats stats() const;
  // Takes back a forecast's schedules once the model is done with them: the next forecast
  // builds its own in the same memory (a million schedules are 240 MB to fault in anew).
  void recycle(std::vector<Schedule>&& schedules);
  struct State;  // forecast_store.cc's

 private:
  friend struct ForecastCacheAccess;
  std::unique_ptr<State> state_;
};

// From the subscriptions table, each advanced to `as_of` (so a lagging scheduler does not
// matter). Schedules only for subscriptions on `plans` (empty: every plan); retention and
// signups always from every subscription. The documents are streamed and parsed on `threads`
// threads beside the one reading them, `batch` documents at a time (the result does not depend
// on either); with a `cache` that holds any, only the rows' columns are streamed and the
// documents not in it read by id. `tx` must not have written subscriptions (with a cache: it
// would keep a document that may roll back).
Result<ForecastHistory> load_live(db::Tx& tx, const CatalogueData& data, Timestamp as_of, const std::vector<int>& plans,
                                  int threads = 1, std::size_t batch = 2048, ForecastCache* cache = nullptr);

// Replays the event log: each subscription as its last document written at or before `cut`
// said, advanced to `cut` (what was known then); and the billable periods that began in
// [cut, until), with the plan and quantity they were billed for.
struct Replay {
  ForecastHistory history;
  std::int64_t subscriptions_known = 0;
  struct Billed {
    Timestamp at = 0;
    int plan = 0;
    std::int64_t quantity = 1;
  };
  std::vector<Billed> billed_after;
};
Result<Replay> replay(db::Tx& tx, const CatalogueData& data, Timestamp cut, Timestamp until);

// Units that shipped in each bucket: from the shipments table (rows created in the bucket,
// canceled ones left out) when shipments were recorded since the first bucket began, else
// from the billable lifecycle events (the periods that produce shipments).
enum class ActualsSource { kShipments, kEvents };
std::string_view to_string(ActualsSource source);
Result<ActualsSource> actuals_source(db::Tx& tx, Timestamp from);
Result<Actuals> shipped_units(db::Tx& tx, const Catalogue& catalogue, const std::vector<Bucket>& buckets);
Actuals billed_units(const Catalogue& catalogue, const std::vector<Bucket>& buckets,
                     const std::vector<Replay::Billed>& billed);

// ------------------------------------------------------------------ use cases

struct ForecastRequest {
  Timestamp as_of = 0;
  int horizon_days = 90;
  Granularity granularity = Granularity::kWeek;
  double level = 0.8;
  std::optional<std::string> product;  // a product id
  std::optional<std::string> sku;
  int threads = 2;
};

struct ForecastReport {
  ForecastRequest request;
  Catalogue catalogue;
  Forecast forecast;
  SignupModel signups;
  std::int64_t subscriptions = 0;  // live subscriptions with boxes to come
};

// Refuses an unknown product or sku (404 product_not_found). `cache`: see load_live.
Result<ForecastReport> run_forecast(db::Tx& tx, const ForecastRequest& request, ForecastCache* cache = nullptr);
// run_forecast in a read-only transaction of its own (GET /v1/forecasts).
Result<ForecastReport> read_forecast(db::Database& db, const ForecastRequest& request, ForecastCache* cache = nullptr);
// GET /v1/forecasts' body, written straight out; to_json is the same, parsed (for the CLI).
std::string forecast_body(const ForecastReport& report);
Json to_json(const ForecastReport& report);

struct BacktestReport {
  Timestamp at = 0;
  int horizon_days = 90;
  Granularity granularity = Granularity::kWeek;
  double level = 0.8;
  ActualsSource source = ActualsSource::kEvents;
  std::int64_t subscriptions_known = 0;
  ForecastError error;
};
Result<BacktestReport> run_backtest(db::Tx& tx, Timestamp at, int horizon_days, Granularity granularity,
                                    double level, int threads = 2);
Json to_json(const BacktestReport& report);

}  // namespace recur::inventory
