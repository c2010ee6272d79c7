// Forecast loading and the read-only use cases; see forecast_store.h.
#include "inventory/forecast_store.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <future>
#include <map>
#include <set>
#include <utility>

#include "catalog/store.h"
#include "customers/store.h"
#include "events/store.h"
#include "privacy/privacy.h"
#include "subscriptions/store.h"

namespace recur::inventory {
namespace {

using subscriptions::Subscription;
using SubStatus = subscriptions::Status;

// The lifecycle periods that produce a shipment (those with details.billable = true).
const std::set<std::string, std::less<>> kBillableTypes = {
    "subscription.started", "subscription.renewed", "subscription.trial_ended", "subscription.period_started",
    "subscription.resumed"};

subscriptions::PlanLookup lookup(const CatalogueData& data, const Subscription& sub) {
  subscriptions::PlanLookup l;
  if (auto it = data.plans.find(sub.plan); it != data.plans.end()) l.current = &it->second;
  if (sub.pending_change)
    if (auto it = data.plans.find(sub.pending_change->plan); it != data.plans.end()) l.pending = &it->second;
  l.closed = data.closed.get();
  return l;
}

// Brings `sub` to `as_of` by the lifecycle's own rules (what the scheduler would have stored).
void advance_to(const CatalogueData& data, Subscription& sub, Timestamp as_of) {
  auto plans = lookup(data, sub);
  if (!plans.current || (sub.pending_change && !plans.pending)) return;
  (void)subscriptions::advance(sub, plans, as_of);
}

// Counts one subscription as it stands at the cut into the history.
void add_to_history(ForecastHistory& h, const Catalogue& cat, const Subscription& sub, Timestamp as_of) {
  auto plan = cat.plan_of(sub.plan);
  if (!plan) return;
  h.retention[*plan].add(sub.billed_periods, sub.status == SubStatus::kCanceled);
  h.signups.add(*plan, sub.created, sub.quantity);
  if (auto s = schedule_of(sub, cat, as_of)) h.schedules.push_back(std::move(*s));
}

ForecastHistory empty_history(const Catalogue& cat, Timestamp as_of) {
  ForecastHistory h;
  h.retention.resize(cat.plans.size());
  h.signups = SignupHistory(as_of, kSignupWeeks, cat.plans.size());
  return h;
}

double round2(double x) { return std::round(x * 100) / 100; }

Json demand_json(const BucketDemand& d, double level) {
  auto range = interval(d, level);
  return Json{{"expected", round2(d.expected)},
              {"low", round2(range.low)},
              {"high", round2(range.high)},
              {"from_subscriptions", round2(d.from_subscriptions)},
              {"from_new_subscriptions", round2(d.from_new)}};
}

}  // namespace

Result<CatalogueData> load_catalogue(db::Tx& tx) {
  CatalogueData data;
  RECUR_ASSIGN(auto products, catalog::all_products(tx));
  for (const auto& product : products) data.catalogue.add(product);
  RECUR_ASSIGN(auto plans, catalog::all_plans_with_extras(tx));  // a box ships its tier's extras too
  for (auto& plan : plans) {
    data.catalogue.add(plan);
    data.plans.emplace(plan.id, std::move(plan));
  }
  RECUR_ASSIGN(auto closed, subscriptions::closed_days(tx));
  data.closed = std::make_shared<const subscriptions::ClosedDays>(std::move(closed));
  return data;
}

Result<ForecastHistory> load_live(db::Tx& tx, const CatalogueData& data, Timestamp as_of, const std::vector<int>& plans,
                                  int threads, std::size_t batch_size) {
  const Catalogue& cat = data.catalogue;
  ForecastHistory h = empty_history(cat, as_of);
  // One pass over every subscription: the retention counts from its columns here; the
  // documents (live ones on `plans`, and the trend window's signups) parsed in batches on
  // worker threads while this one reads the next rows. Batches are taken in scan order, so
  // the result does not depend on the number of threads.
  std::vector<std::string> plan_ids;
  plan_ids.reserve(plans.size());
  for (int p : plans) plan_ids.push_back(cat.plans[p].id);
  const Timestamp window_start = as_of - kSignupWeeks * 7 * kSecondsPerDay;
  struct Doc {
    std::string text;
    int plan = 0;
    Timestamp created = 0;
    bool live = false;    // a live one on `plans`: its schedule
    bool signup = false;  // created in the trend window
  };
  struct Parsed {
    std::vector<Schedule> schedules;
    std::vector<Subscription> need_preferences;  // on a plan with a selection: its customer is read after
    std::vector<std::pair<std::size_t, std::int64_t>> quantities;  // signups: (index in batch, quantity)
  };
  auto parse = [&data, &cat, as_of](const std::vector<Doc>& docs) {
    Parsed out;
    for (std::size_t i = 0; i < docs.size(); ++i) {
      const Doc& doc = docs[i];
      if (!doc.live) {
        out.quantities.emplace_back(i, subscriptions::stored_quantity(doc.text));
        continue;
      }
      auto sub = subscriptions::without_personal_data(doc.text);
      if (doc.signup) out.quantities.emplace_back(i, sub.quantity);
      advance_to(data, sub, as_of);
      if (auto plan = cat.plan_of(sub.plan); plan && cat.plans[*plan].selection) {
        out.need_preferences.push_back(std::move(sub));
      } else if (auto s = schedule_of(sub, cat, as_of, data.closed)) {
        out.schedules.push_back(std::move(*s));
      }
    }
    return out;
  };
  std::vector<std::vector<Schedule>> schedules;  // per batch, joined at the end (no regrowth)
  std::vector<Subscription> need_preferences;
  struct Running {
    std::shared_ptr<const std::vector<Doc>> docs;
    std::future<Parsed> parsed;
  };
  auto take = [&](Running& r) {
    Parsed parsed = r.parsed.get();
    for (auto [i, quantity] : parsed.quantities) h.signups.add((*r.docs)[i].plan, (*r.docs)[i].created, quantity);
    schedules.push_back(std::move(parsed.schedules));
    for (auto& s : parsed.need_preferences) need_preferences.push_back(std::move(s));
  };
  const std::size_t kBatch = std::max<std::size_t>(batch_size, 1);
  const std::size_t workers = static_cast<std::size_t>(std::max(threads, 1));
  std::deque<Running> running;  // at most `workers`, oldest first
  std::vector<Doc> batch;
  auto launch = [&] {
    if (running.size() == workers) {
      take(running.front());
      running.pop_front();
    }
    auto docs = std::make_shared<const std::vector<Doc>>(std::exchange(batch, {}));
    running.push_back({docs, std::async(std::launch::async, [parse, docs] { return parse(*docs); })});
    batch.reserve(kBatch);
  };
  batch.reserve(kBatch);
  std::string last_plan;  // rows come in no order, but a lookup per row is worth sparing
  std::optional<int> plan;
  Status scanned = subscriptions::scan_for_forecast(
      tx, plan_ids, window_start, as_of, [&](const subscriptions::ForecastRow& row) -> Status {
        if (row.plan != last_plan) {
          last_plan = row.plan;
          plan = cat.plan_of(row.plan);
        }
        if (!plan) return Ok{};
        h.retention[*plan].add(row.billed_periods, row.canceled);
        if (!row.doc) return Ok{};
        bool on_plans = plans.empty() || std::find(plans.begin(), plans.end(), *plan) != plans.end();
        batch.push_back({*row.doc, *plan, row.created, !row.canceled && on_plans,
                         row.created >= window_start && row.created < as_of});
        if (batch.size() == kBatch) launch();
        return Ok{};
      });
  if (scanned.ok() && !batch.empty()) launch();
  for (auto& r : running) take(r);  // every batch finishes before `data` and `h` may go
  RECUR_TRY(scanned);
  std::size_t total = 0;
  for (const auto& b : schedules) total += b.size();
  h.schedules.reserve(total + need_preferences.size());
  for (auto& b : schedules) {
    for (auto& s : b) h.schedules.push_back(std::move(s));
    std::vector<Schedule>().swap(b);  // its storage goes now, not with the last batch
  }
  // A plan with a selection picks by the customer's preferences where nothing is chosen: each
  // customer read once.
  std::map<std::string, catalog::Preferences> preferences;
  for (const auto& sub : need_preferences) {
    auto it = preferences.find(sub.customer);
    if (it == preferences.end()) {
      RECUR_ASSIGN(auto customer, customers::find_customer(tx, sub.customer));
      catalog::Preferences p;
      if (customer) p = {customer->preferences.likes, customer->preferences.excludes};
      it = preferences.emplace(sub.customer, std::move(p)).first;
    }
    if (auto s = schedule_of(sub, cat, as_of, data.closed, it->second)) h.schedules.push_back(std::move(*s));
  }
  return h;
}

Result<Replay> replay(db::Tx& tx, const CatalogueData& data, Timestamp cut, Timestamp until) {
  const Catalogue& cat = data.catalogue;
  Replay r;
  r.history = empty_history(cat, cut);
  RECUR_ASSIGN(auto rows, events::events_before(tx, "subscription", until));
  Json current = nullptr;  // the subscription's last document so far
  Json at_cut = nullptr;   // ... written at or before the cut
  auto finish = [&] {
    if (at_cut.is_object()) {
      privacy::strip(at_cut);  // the history needs no personal data: sealed fields go unopened
      auto sub = subscriptions::subscription_from_doc(at_cut);
      advance_to(data, sub, cut);
      add_to_history(r.history, cat, sub, cut);
      ++r.subscriptions_known;
    }
    current = at_cut = nullptr;
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (i > 0 && row.resource_id != rows[i - 1].resource_id) finish();
    const std::string& type = row.type;
    Timestamp created = row.created;
    bool billable = kBillableTypes.count(type) > 0;
    if (!billable && type.rfind("subscription.", 0) != 0) continue;
    Json payload = Json::parse(row.payload, nullptr, false);
    if (!payload.is_object()) continue;
    if (type == "subscription.deleted") current = nullptr;
    else if (const auto& after = payload.value("after", Json()); after.is_object()) current = after;
    if (created <= cut) at_cut = current;
    if (!billable || created < cut || !current.is_object()) continue;
    const Json details = payload.value("details", Json::object());
    if (!details.is_object() || !details.value("billable", false)) continue;
    const Json period = details.value("period", Json());
    Timestamp start = period.is_object() ? doc_time(period, "start").value_or(created) : created;
    if (start < cut || start >= until) continue;
    // The plan billed: the document's, or a pending change's that took effect by then.
    std::string plan = current.at("plan");
    std::int64_t quantity = current.value("quantity", std::int64_t{1});
    if (const auto& pending = current.value("pending_plan_change", Json()); pending.is_object()) {
      if (doc_required_time(pending, "effective_at") <= start) {
        plan = pending.at("plan");
        quantity = pending.value("quantity", std::int64_t{1});
      }
    }
    if (auto p = cat.plan_of(plan)) r.billed_after.push_back({start, *p, quantity});
  }
  finish();
  return r;
}

std::string_view to_string(ActualsSource source) {
  return source == ActualsSource::kShipments ? "shipments" : "events";
}

Result<ActualsSource> actuals_source(db::Tx& tx, Timestamp from) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT MIN(created_at) FROM shipments"));
  if (rows.empty() || rows[0].is_null(0) || rows[0].int64(0) > from) return ActualsSource::kEvents;
  return ActualsSource::kShipments;
}

Result<Actuals> shipped_units(db::Tx& tx, const Catalogue& cat, const std::vector<Bucket>& buckets) {
  Actuals a(cat.products.size(), buckets.size());
  if (buckets.empty()) return a;
  BucketIndex index(buckets);
  RECUR_ASSIGN(auto rows, tx.query("SELECT created_at, doc FROM shipments WHERE created_at >= $1 AND created_at < $2"
                                   " AND status <> 'canceled'",
                                   {buckets.front().start, buckets.back().end}));
  for (const auto& row : rows) {
    int b = index.of(row.int64(0));
    Json doc = Json::parse(row.text(1), nullptr, false);
    if (b < 0 || !doc.is_object() || !doc.contains("items")) continue;
    for (const auto& item : doc.at("items")) {
      auto product = cat.product_of(item.value("product", std::string()));
      if (product) a.units[*product][b] += static_cast<double>(item.value("quantity", std::int64_t{0}));
    }
  }
  return a;
}

Actuals billed_units(const Catalogue& cat, const std::vector<Bucket>& buckets,
                     const std::vector<Replay::Billed>& billed) {
  Actuals a(cat.products.size(), buckets.size());
  BucketIndex index(buckets);
  for (const auto& box : billed) {
    int b = index.of(box.at);
    if (b < 0) continue;
    for (const auto& item : cat.plans[box.plan].items)
      a.units[item.product][b] += static_cast<double>(item.units * box.quantity);
  }
  return a;
}

// ------------------------------------------------------------------ use cases

namespace {

// The products asked for (none: all) and the plans that hold them (none: all).
Result<std::pair<std::vector<int>, std::vector<int>>> selection(const Catalogue& cat, const ForecastRequest& req) {
  std::vector<int> products, plans;
  if (!req.product && !req.sku) return std::make_pair(products, plans);
  std::optional<int> found;
  if (req.product) found = cat.product_of(*req.product);
  if (req.sku) {
    auto it = std::find_if(cat.products.begin(), cat.products.end(), [&](const auto& p) { return p.sku == *req.sku; });
    std::optional<int> by_sku;
    if (it != cat.products.end()) by_sku = static_cast<int>(it - cat.products.begin());
    if (req.product && found != by_sku) found.reset();
    else found = by_sku;
  }
  if (!found) return Error::not_found("product_not_found", "no product with that id or sku");
  products.push_back(*found);
  for (std::size_t p = 0; p < cat.plans.size(); ++p)
    for (const auto& item : cat.plans[p].items)
      if (item.product == *found) plans.push_back(static_cast<int>(p));
  if (plans.empty()) plans.push_back(-1);  // no plan ships it: no subscription to read
  return std::make_pair(products, plans);
}

Forecast forecast_from(const Catalogue& cat, const ForecastHistory& h, const Retention& retention,
                       const SignupModel& signups, Timestamp as_of, std::vector<Bucket> buckets,
                       std::vector<int> products, int threads) {
  ForecastInput in{&cat, h.schedules, &retention, &signups, as_of, std::move(buckets), std::move(products), threads};
  return forecast(in);
}

}  // namespace

Result<ForecastReport> run_forecast(db::Tx& tx, const ForecastRequest& req) {
  RECUR_ASSIGN(auto data, load_catalogue(tx));
  RECUR_ASSIGN(auto chosen, selection(data.catalogue, req));
  auto& [products, plans] = chosen;
  std::vector<int> plan_filter;
  for (int p : plans)
    if (p >= 0) plan_filter.push_back(p);
  ForecastHistory h;
  if (!plans.empty() && plan_filter.empty()) {
    h = empty_history(data.catalogue, req.as_of);  // the product is in no plan
  } else {
    RECUR_ASSIGN(h, load_live(tx, data, req.as_of, plan_filter, req.threads));
  }
  ForecastReport report;
  report.request = req;
  report.subscriptions = static_cast<std::int64_t>(h.schedules.size());
  auto retention = estimate_retention(data.catalogue, h.retention);
  report.signups = fit_signups(h.signups);
  auto buckets = make_buckets(req.as_of, req.as_of + req.horizon_days * kSecondsPerDay, req.granularity);
  report.forecast = forecast_from(data.catalogue, h, retention, report.signups, req.as_of, std::move(buckets),
                                  products, req.threads);
  report.catalogue = std::move(data.catalogue);
  return report;
}

Result<ForecastReport> read_forecast(db::Database& db, const ForecastRequest& request) {
  return db::transact(db, [&](db::Tx& tx) { return run_forecast(tx, request); }, db::TxMode::kReadOnly);
}

Json to_json(const ForecastReport& r) {
  Json data = Json::array();
  for (const auto& pf : r.forecast.products) {
    const auto& product = r.catalogue.products[pf.product];
    Json buckets = Json::array();
    for (std::size_t b = 0; b < pf.buckets.size(); ++b) {
      Json bucket = demand_json(pf.buckets[b], r.request.level);
      bucket["start"] = format_rfc3339(r.forecast.buckets[b].start);
      bucket["end"] = format_rfc3339(r.forecast.buckets[b].end);
      buckets.push_back(std::move(bucket));
    }
    data.push_back(Json{{"product", product.id},
                        {"sku", product.sku},
                        {"name", product.name},
                        {"total", demand_json(pf.total, r.request.level)},
                        {"buckets", std::move(buckets)}});
  }
  Json shares = Json::object();
  const char* days[7] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
  for (int d = 0; d < 7; ++d) shares[days[d]] = std::round(r.signups.weekday_share[d] * 1000) / 1000;
  return Json{{"object", "forecast"},
              {"as_of", format_rfc3339(r.request.as_of)},
              {"horizon_days", r.request.horizon_days},
              {"granularity", to_string(r.request.granularity)},
              {"level", r.request.level},
              {"model",
               {{"subscriptions", r.subscriptions},
                {"signup_window_weeks", kSignupWeeks},
                {"signups_per_week", round2(r.signups.intercept)},
                {"signup_trend_per_week", round2(r.signups.slope)},
                {"signup_weekday_share", shares}}},
              {"data", std::move(data)}};
}

Result<BacktestReport> run_backtest(db::Tx& tx, Timestamp at, int horizon_days, Granularity granularity,
                                    double level, int threads) {
  RECUR_ASSIGN(auto data, load_catalogue(tx));
  const Timestamp until = at + horizon_days * kSecondsPerDay;
  auto buckets = make_buckets(at, until, granularity);
  RECUR_ASSIGN(auto replayed, replay(tx, data, at, until));
  BacktestReport report{at, horizon_days, granularity, level};
  report.subscriptions_known = replayed.subscriptions_known;
  RECUR_ASSIGN(report.source, actuals_source(tx, at));
  Actuals actual(0, 0);
  if (report.source == ActualsSource::kShipments) {
    RECUR_ASSIGN(actual, shipped_units(tx, data.catalogue, buckets));
  } else {
    actual = billed_units(data.catalogue, buckets, replayed.billed_after);
  }
  auto retention = estimate_retention(data.catalogue, replayed.history.retention);
  auto signups = fit_signups(replayed.history.signups);
  auto f = forecast_from(data.catalogue, replayed.history, retention, signups, at, buckets, {}, threads);
  report.error = evaluate(f, actual, level);
  return report;
}

Json to_json(const BacktestReport& r) {
  auto pct = [](double x) { return std::round(x * 10000) / 100; };
  return Json{{"object", "forecast_backtest"},
              {"at", format_rfc3339(r.at)},
              {"horizon_days", r.horizon_days},
              {"granularity", to_string(r.granularity)},
              {"level", r.level},
              {"actuals_source", to_string(r.source)},
              {"subscriptions_known", r.subscriptions_known},
              {"wape_percent", pct(r.error.wape)},
              {"mape_percent", pct(r.error.mape)},
              {"bias_percent", pct(r.error.bias)},
              {"interval_coverage_percent", pct(r.error.coverage)},
              {"actual_units", round2(r.error.actual_units)},
              {"expected_units", round2(r.error.expected_units)},
              {"cells", r.error.cells},
              {"cells_with_demand", r.error.cells_with_demand}};
}

// ------------------------------------------------------------------ for purchasing

Result<Demand> lead_time_demand(db::Tx& tx, const std::string& product, Timestamp from, Timestamp to) {
  if (to <= from) return Demand{};
  RECUR_ASSIGN(auto data, load_catalogue(tx));
  ForecastRequest req;
  req.as_of = from;
  req.product = product;
  RECUR_ASSIGN(auto chosen, selection(data.catalogue, req));
  auto& [products, plans] = chosen;
  std::vector<int> plan_filter;
  for (int p : plans)
    if (p >= 0) plan_filter.push_back(p);
  if (plan_filter.empty()) return Demand{};
  RECUR_ASSIGN(auto h, load_live(tx, data, from, plan_filter));
  auto retention = estimate_retention(data.catalogue, h.retention);
  auto signups = fit_signups(h.signups);
  auto f = forecast_from(data.catalogue, h, retention, signups, from, {{from, to}}, products, 1);
  const auto& total = f.products.at(0).total;
  return Demand{total.expected, std::sqrt(std::max(total.variance, 0.0))};
}

}  // namespace recur::inventory
