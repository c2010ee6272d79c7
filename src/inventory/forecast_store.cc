// Forecast loading and the read-only use cases; see forecast_store.h.
#include "inventory/forecast_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <unordered_map>
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

// ------------------------------------------------------------------ the live subscriptions

struct ForecastCache::State {
  struct Entry {
    std::int64_t version = -1;                // -1: not read (yet)
    std::unique_ptr<const Subscription> sub;  // a live one's document, parsed, not advanced
    std::int64_t quantity = 1;                // what a signup counts
    std::uint32_t used = 0;                   // the last forecast that used it
  };
  std::mutex mu;  // held for a whole forecast
  std::unordered_map<std::string, Entry> entries;
  std::uint32_t pass = 0;
  std::size_t max_entries = 0;
  std::size_t most_read_by_id = 0;
  // What the last load left: how many entries of the map it used, and whether any is left
  // unread; and how many documents it read.
  std::size_t used = 0;
  bool unread = false;
  std::size_t read = 0;
  std::vector<Schedule> spare;  // the last forecast's schedules (see recycle)
};

ForecastCache::ForecastCache(std::size_t max_entries, std::size_t most_read_by_id) : state_(std::make_unique<State>()) {
  state_->max_entries = max_entries;
  state_->most_read_by_id = most_read_by_id;
}
ForecastCache::~ForecastCache() = default;
ForecastCache::Stats ForecastCache::stats() const {
  std::lock_guard lock(state_->mu);
  return {state_->entries.size(), state_->read};
}
void ForecastCache::recycle(std::vector<Schedule>&& schedules) {
  if (state_->max_entries == 0) return;  // no cache: nothing kept
  std::unique_lock lock(state_->mu, std::try_to_lock);
  if (!lock || schedules.capacity() <= state_->spare.capacity()) return;
  schedules.clear();  // their own vectors go; the memory for the next ones stays
  state_->spare = std::move(schedules);
}
struct ForecastCacheAccess {
  static ForecastCache::State& state(ForecastCache& cache) { return *cache.state_; }
};

namespace {

using Entry = ForecastCache::State::Entry;

// Runs `work` on batches of `size` items on up to `workers` threads while the caller makes the
// next ones, and hands each batch and its result to `take` on the caller's thread in the order
// the batches were made (so nothing depends on the number of threads). finish() (or the
// destructor) waits for every batch: call it before anything `work` uses goes.
template <typename Item, typename Out>
class Batches {
 public:
  using Work = std::function<Out(const std::vector<Item>&)>;
  using Take = std::function<void(const std::vector<Item>&, Out&)>;
  Batches(std::size_t size, int workers, Work work, Take take)
      : size_(std::max<std::size_t>(size, 1)),
        workers_(static_cast<std::size_t>(std::max(workers, 1))),
        work_(std::move(work)),
        take_(std::move(take)) {
    batch_.reserve(size_);
  }
  ~Batches() {
    for (auto& r : running_)
      if (r.out.valid()) r.out.wait();
  }
  void push(Item item) {
    batch_.push_back(std::move(item));
    if (batch_.size() == size_) launch();
  }
  void finish() {
    if (!batch_.empty()) launch();
    while (!running_.empty()) take_front();
  }

 private:
  struct Running {
    std::shared_ptr<const std::vector<Item>> items;
    std::future<Out> out;
  };
  void take_front() {
    Running r = std::move(running_.front());
    running_.pop_front();
    Out out = r.out.get();
    take_(*r.items, out);
  }
  void launch() {
    if (running_.size() == workers_) take_front();
    auto items = std::make_shared<const std::vector<Item>>(std::exchange(batch_, {}));
    batch_.reserve(size_);
    running_.push_back({items, std::async(std::launch::async, [work = work_, items] { return work(*items); })});
  }
  std::size_t size_;
  std::size_t workers_;
  Work work_;
  Take take_;
  std::vector<Item> batch_;
  std::deque<Running> running_;  // oldest first
};

// A live subscription advanced to `as_of`: its schedule; none when it ships nothing, or when
// its plan picks by its customer's preferences (then it is added to `need_preferences`).
std::optional<Schedule> place(const CatalogueData& data, Subscription sub, Timestamp as_of,
                              std::vector<Subscription>& need_preferences) {
  const Catalogue& cat = data.catalogue;
  advance_to(data, sub, as_of);
  if (auto plan = cat.plan_of(sub.plan); plan && cat.plans[*plan].selection) {
    need_preferences.push_back(std::move(sub));
    return std::nullopt;
  }
  return schedule_of(sub, cat, as_of, data.closed);
}

// The schedules of the subscriptions whose plan picks by their customer's preferences, each
// customer read once (`preferences` keeps them across calls).
Status add_preferred(db::Tx& tx, const CatalogueData& data, Timestamp as_of, const std::vector<Subscription>& subs,
                     std::map<std::string, catalog::Preferences>& preferences, ForecastHistory& h) {
  for (const auto& sub : subs) {
    auto it = preferences.find(sub.customer);
    if (it == preferences.end()) {
      RECUR_ASSIGN(auto customer, customers::find_customer(tx, sub.customer));
      catalog::Preferences p;
      if (customer) p = {customer->preferences.likes, customer->preferences.excludes};
      it = preferences.emplace(sub.customer, std::move(p)).first;
    }
    if (auto s = schedule_of(sub, data.catalogue, as_of, data.closed, it->second)) h.schedules.push_back(std::move(*s));
  }
  return Ok{};
}

// The rows the forecast reads, as the scan gives them.
struct Scanned {
  int plan = 0;
  Timestamp created = 0;
  bool live = false;    // a live one on the asked plans: its schedule
  bool signup = false;  // created in the trend window: its quantity
  bool read() const { return live || signup; }
};

// Each row's plan and retention, and whether its document is read (row.doc is set only where
// the scan was asked for documents).
class RowFilter {
 public:
  RowFilter(const Catalogue& cat, ForecastHistory& h, const std::vector<int>& plans, Timestamp as_of)
      : cat_(cat), h_(h), plans_(plans), from_(as_of - kSignupWeeks * 7 * kSecondsPerDay), to_(as_of) {}
  Timestamp window_start() const { return from_; }
  std::optional<Scanned> operator()(const subscriptions::ForecastRow& row) {
    if (row.plan != last_plan_) {  // rows come in no order, but a lookup per row is worth sparing
      last_plan_ = row.plan;
      plan_ = cat_.plan_of(row.plan);
    }
    if (!plan_) return std::nullopt;
    h_.retention[*plan_].add(row.billed_periods, row.canceled);
    bool on_plans = plans_.empty() || std::find(plans_.begin(), plans_.end(), *plan_) != plans_.end();
    Scanned s{*plan_, row.created, !row.canceled && on_plans, row.created >= from_ && row.created < to_};
    if (!s.signup && row.canceled) return std::nullopt;  // no forecast reads it
    return s;                                            // (neither live nor signup: live on a plan not asked for)
  }

 private:
  const Catalogue& cat_;
  ForecastHistory& h_;
  const std::vector<int>& plans_;
  Timestamp from_, to_;
  std::string last_plan_;
  std::optional<int> plan_;
};

// Marks an entry as used by this forecast (what a forecast over every plan leaves unused goes).
void mark_used(ForecastCache::State& cache, Entry& e) {
  if (e.used != cache.pass) ++cache.used;
  e.used = cache.pass;
}

// Keeps a parsed row in the cache (none: the cache is full, or there is none).
Entry* keep(ForecastCache::State* cache, const std::string& id, std::int64_t version) {
  if (!cache) return nullptr;
  auto it = cache->entries.find(id);
  if (it == cache->entries.end()) {
    if (cache->entries.size() >= cache->max_entries) return nullptr;
    it = cache->entries.try_emplace(id).first;
  }
  it->second.version = version;
  mark_used(*cache, it->second);
  ++cache->read;
  return &it->second;
}

// One pass with the documents, parsed in batches beside the scan; what is parsed is kept in
// `cache` (if any).
Result<ForecastHistory> load_streamed(db::Tx& tx, const CatalogueData& data, Timestamp as_of,
                                      const std::vector<int>& plans, int threads, std::size_t batch_size,
                                      ForecastCache::State* cache) {
  const Catalogue& cat = data.catalogue;
  ForecastHistory h = empty_history(cat, as_of);
  RowFilter filter(cat, h, plans, as_of);
  std::vector<std::string> plan_ids;
  plan_ids.reserve(plans.size());
  for (int p : plans) plan_ids.push_back(cat.plans[p].id);
  struct Doc {
    std::string text;
    Scanned row;
    std::string id;  // with a cache
    std::int64_t version = 0;
  };
  struct Parsed {
    std::vector<Schedule> schedules;
    std::vector<Subscription> need_preferences;
    std::vector<std::int64_t> quantities;                   // per doc (signups only)
    std::vector<std::unique_ptr<const Subscription>> subs;  // per doc, with a cache: the live ones as read
  };
  const bool keeping = cache != nullptr;
  std::vector<std::vector<Schedule>> runs;  // per batch, joined at the end (no regrowth)
  std::vector<Subscription> need_preferences;
  Batches<Doc, Parsed> batches(
      batch_size, threads,
      [&data, as_of, keeping](const std::vector<Doc>& docs) {
        Parsed out;
        out.quantities.resize(docs.size(), 1);
        if (keeping) out.subs.resize(docs.size());
        for (std::size_t i = 0; i < docs.size(); ++i) {
          const Doc& doc = docs[i];
          if (!doc.row.live) {
            out.quantities[i] = subscriptions::stored_quantity(doc.text);
            continue;
          }
          auto sub = subscriptions::without_personal_data(doc.text);
          out.quantities[i] = sub.quantity;
          if (keeping) out.subs[i] = std::make_unique<const Subscription>(sub);
          if (auto s = place(data, std::move(sub), as_of, out.need_preferences)) out.schedules.push_back(std::move(*s));
        }
        return out;
      },
      [&](const std::vector<Doc>& docs, Parsed& parsed) {
        for (std::size_t i = 0; i < docs.size(); ++i) {
          if (docs[i].row.signup) h.signups.add(docs[i].row.plan, docs[i].row.created, parsed.quantities[i]);
          if (Entry* e = keep(cache, docs[i].id, docs[i].version)) {
            e->quantity = parsed.quantities[i];
            if (keeping) e->sub = std::move(parsed.subs[i]);
          }
        }
        runs.push_back(std::move(parsed.schedules));
        for (auto& sub : parsed.need_preferences) need_preferences.push_back(std::move(sub));
      });
  Status scanned = subscriptions::scan_for_forecast(
      tx, plan_ids, filter.window_start(), as_of, true, [&](const subscriptions::ForecastRow& row) -> Status {
        auto s = filter(row);
        if (!s || !s->read() || !row.doc) return Ok{};
        batches.push({*row.doc, *s, keeping ? row.id : std::string(), row.version});
        return Ok{};
      });
  batches.finish();  // every batch, before `data` and `h` may go
  RECUR_TRY(scanned);
  std::size_t total = need_preferences.size();
  for (const auto& run : runs) total += run.size();
  h.schedules.reserve(total);
  for (auto& run : runs) {
    for (auto& s : run) h.schedules.push_back(std::move(s));
    std::vector<Schedule>().swap(run);  // its storage goes now, not with the last batch
  }
  std::map<std::string, catalog::Preferences> preferences;
  RECUR_TRY(add_preferred(tx, data, as_of, need_preferences, preferences, h));
  return h;
}

// With documents in the cache: one pass over the rows' columns, the documents whose version
// changed read by id, then every live one placed from the cache.
Result<ForecastHistory> load_cached(db::Tx& tx, const CatalogueData& data, Timestamp as_of,
                                    const std::vector<int>& plans, int threads, std::size_t batch_size,
                                    ForecastCache::State& cache, bool& too_many) {
  ForecastHistory h = empty_history(data.catalogue, as_of);
  RowFilter filter(data.catalogue, h, plans, as_of);
  struct Slot {
    Entry* entry = nullptr;
    Scanned row;
  };
  std::vector<Slot> slots;
  slots.reserve(cache.entries.size() + cache.entries.size() / 8);
  std::deque<Entry> beyond;  // rows the full cache cannot keep: this forecast's only
  std::unordered_map<std::string, Slot> missing;
  RECUR_TRY(subscriptions::scan_for_forecast(tx, {}, 0, 0, false, [&](const subscriptions::ForecastRow& row) -> Status {
    auto s = filter(row);
    if (!s) return Ok{};
    Entry* e = nullptr;
    auto it = cache.entries.find(row.id);
    if (it != cache.entries.end()) {
      e = &it->second;
      mark_used(cache, *e);  // a forecast over every plan reads it: kept
    }
    if (!s->read()) return Ok{};
    if (!e && cache.entries.size() < cache.max_entries) {
      e = &cache.entries.try_emplace(row.id).first->second;
      mark_used(cache, *e);
    }
    if (!e) e = &beyond.emplace_back();
    if (e->version != row.version || (s->live && !e->sub)) {
      e->version = -1;  // until its document is read
      e->sub.reset();
      missing.emplace(row.id, Slot{e, *s});
    }
    slots.push_back({e, *s});
    return Ok{};
  }));
  // Many documents to read (a cache filled by forecasts over a few plans, or a bulk update):
  // reading them by id would take longer than the streamed pass, which the caller runs instead.
  too_many = missing.size() > cache.most_read_by_id && missing.size() * 4 > slots.size();
  if (too_many) return h;
  // The changed documents, parsed in batches beside the reads: each worker fills its own entries.
  std::vector<std::string> ids;
  ids.reserve(missing.size());
  for (const auto& [id, slot] : missing) ids.push_back(id);
  struct Doc {
    Slot slot;
    std::int64_t version = 0;
    std::string text;
  };
  struct None {};
  Batches<Doc, None> batches(
      batch_size, threads,
      [](const std::vector<Doc>& docs) {
        for (const auto& doc : docs) {
          Entry& e = *doc.slot.entry;
          if (doc.slot.row.live) {
            e.sub = std::make_unique<const Subscription>(subscriptions::without_personal_data(doc.text));
            e.quantity = e.sub->quantity;
          } else {
            e.quantity = subscriptions::stored_quantity(doc.text);
          }
          e.version = doc.version;
        }
        return None{};
      },
      [](const std::vector<Doc>&, None&) {});
  std::size_t found = 0;
  Status read = subscriptions::documents_of(
      tx, ids, [&](const std::string& id, std::int64_t version, const std::string& text) -> Status {
        if (auto it = missing.find(id); it != missing.end()) {
          batches.push({it->second, version, text});
          ++found;
        }
        return Ok{};
      });
  batches.finish();
  cache.unread = found != missing.size();
  cache.read = found;
  RECUR_TRY(read);
  // Every live one placed, in scan order, on `threads` threads over runs of the slots, each
  // writing its schedules into its own part of h.schedules; the parts are then closed up.
  const std::size_t workers = static_cast<std::size_t>(std::max(threads, 1));
  const std::size_t per_run = std::max<std::size_t>(1, (slots.size() + workers - 1) / workers);
  struct Run {
    std::size_t from = 0, to = 0;  // slots
    std::size_t at = 0;            // where its schedules go in h.schedules
    std::size_t written = 0;
    std::vector<Subscription> need_preferences;
  };
  std::vector<Run> runs;
  std::size_t live = 0;
  for (std::size_t from = 0; from < slots.size(); from += per_run) {
    Run run{from, std::min(slots.size(), from + per_run), live};
    for (std::size_t i = run.from; i < run.to; ++i) live += slots[i].row.live ? 1 : 0;
    runs.push_back(std::move(run));
  }
  h.schedules = std::move(cache.spare);  // already in memory: no page to fault in
  h.schedules.clear();
  h.schedules.resize(live);
  std::vector<std::future<void>> placing;
  for (auto& run : runs) {
    placing.push_back(std::async(std::launch::async, [&data, &slots, &h, &run, as_of] {
      for (std::size_t i = run.from; i < run.to; ++i) {
        const Entry& e = *slots[i].entry;
        if (!slots[i].row.live || e.version < 0 || !e.sub) continue;
        if (auto s = place(data, *e.sub, as_of, run.need_preferences))
          h.schedules[run.at + run.written++] = std::move(*s);
      }
    }));
  }
  for (const auto& slot : slots)  // a row gone since the pass (version -1) counts for nothing
    if (slot.row.signup && slot.entry->version >= 0)
      h.signups.add(slot.row.plan, slot.row.created, slot.entry->quantity);
  for (auto& f : placing) f.get();
  std::size_t end = 0;
  for (const auto& run : runs) {
    if (run.at != end)
      std::move(h.schedules.begin() + run.at, h.schedules.begin() + run.at + run.written, h.schedules.begin() + end);
    end += run.written;
  }
  h.schedules.resize(end);
  std::map<std::string, catalog::Preferences> preferences;
  for (const auto& run : runs) RECUR_TRY(add_preferred(tx, data, as_of, run.need_preferences, preferences, h));
  return h;
}

}  // namespace

Result<ForecastHistory> load_live(db::Tx& tx, const CatalogueData& data, Timestamp as_of, const std::vector<int>& plans,
                                  int threads, std::size_t batch_size, ForecastCache* cache) {
  if (!cache || ForecastCacheAccess::state(*cache).max_entries == 0)
    return load_streamed(tx, data, as_of, plans, threads, batch_size, nullptr);
  auto& state = ForecastCacheAccess::state(*cache);
  // One forecast at a time uses it; another one meanwhile (a GET beside a reorder run's) does
  // not wait for it, and reads as if there were none.
  std::unique_lock lock(state.mu, std::try_to_lock);
  if (!lock) return load_streamed(tx, data, as_of, plans, threads, batch_size, nullptr);
  ++state.pass;
  state.used = 0;
  state.read = 0;
  state.unread = true;  // until a load says otherwise
  const bool streamed = state.entries.empty();
  auto h = [&]() -> Result<ForecastHistory> {
    if (streamed) {
      auto loaded = load_streamed(tx, data, as_of, plans, threads, batch_size, &state);
      if (loaded.ok()) state.unread = false;
      return loaded;
    }
    bool too_many = false;
    auto loaded = load_cached(tx, data, as_of, plans, threads, batch_size, state, too_many);
    if (loaded.ok() && too_many) return load_streamed(tx, data, as_of, plans, threads, batch_size, &state);
    return loaded;
  }();
  // Entries whose document could not be read (the row went, or the read failed) go, and so do
  // those a forecast over every plan would not read. The column pass sees every row, so a
  // forecast over some plans keeps what the others read too; the streamed pass reads only
  // what it asked for, so it drops nothing unless it asked for every plan.
  const bool unused = h.ok() && (!streamed || plans.empty()) && state.used != state.entries.size();
  if (state.unread || unused) {
    std::erase_if(state.entries,
                  [&](const auto& kv) { return kv.second.version < 0 || (unused && kv.second.used != state.pass); });
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

Result<ForecastReport> run_forecast(db::Tx& tx, const ForecastRequest& req, ForecastCache* cache) {
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
    RECUR_ASSIGN(h, load_live(tx, data, req.as_of, plan_filter, req.threads, 2048, cache));
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
  if (cache) cache->recycle(std::move(h.schedules));
  return report;
}

Result<ForecastReport> read_forecast(db::Database& db, const ForecastRequest& request, ForecastCache* cache) {
  return db::transact(
      db, [&](db::Tx& tx) { return run_forecast(tx, request, cache); }, db::TxMode::kReadOnly);
}

namespace {

// The forecast's JSON written straight out (a million-subscription book's is 23 MB: building
// it as a document first took most of a second). Keys in the order nlohmann::json writes
// them (sorted), numbers as their shortest form.
class Writer {
 public:
  std::string out;
  void open(char bracket) {
    out += bracket;
    first_ = true;
  }
  void close(char bracket) {
    out += bracket;
    first_ = false;
  }
  void element() {  // before an array's element
    if (!first_) out += ',';
    first_ = false;
  }
  void key(std::string_view name) {  // the writer's own keys: nothing to escape
    element();
    out += '"';
    out += name;
    out += "\":";
    first_ = true;  // what follows is the key's value, not another member
  }
  void string(std::string_view name, std::string_view text) {
    key(name);
    out += Json(text).dump();
    first_ = false;
  }
  void number(std::string_view name, double x) {
    key(name);
    if (std::isfinite(x))
      fmt::format_to(std::back_inserter(out), "{}", x);
    else
      out += "null";
    first_ = false;
  }
  void number(std::string_view name, std::int64_t x) {
    key(name);
    fmt::format_to(std::back_inserter(out), "{}", x);
    first_ = false;
  }
  // A demand's fields, inside the caller's object (its keys sort around them).
  void demand(const BucketDemand& d, double level) {
    auto range = interval(d, level);
    number("expected", round2(d.expected));
    number("from_new_subscriptions", round2(d.from_new));
    number("from_subscriptions", round2(d.from_subscriptions));
    number("high", round2(range.high));
    number("low", round2(range.low));
  }

 private:
  bool first_ = true;
};

}  // namespace

std::string forecast_body(const ForecastReport& r) {
  Writer w;
  w.out.reserve(64 + r.forecast.products.size() * (300 + 200 * r.forecast.buckets.size()));
  std::vector<std::pair<std::string, std::string>> edges;  // each bucket's start and end, once
  for (const auto& b : r.forecast.buckets) edges.emplace_back(format_rfc3339(b.start), format_rfc3339(b.end));
  w.open('{');
  w.string("as_of", format_rfc3339(r.request.as_of));
  w.key("data");
  w.open('[');
  for (const auto& pf : r.forecast.products) {
    const auto& product = r.catalogue.products[pf.product];
    w.element();
    w.open('{');
    w.key("buckets");
    w.open('[');
    for (std::size_t b = 0; b < pf.buckets.size(); ++b) {
      w.element();
      w.open('{');
      w.string("end", edges[b].second);
      w.demand(pf.buckets[b], r.request.level);
      w.string("start", edges[b].first);
      w.close('}');
    }
    w.close(']');
    w.string("name", product.name);
    w.string("product", product.id);
    w.string("sku", product.sku);
    w.key("total");
    w.open('{');
    w.demand(pf.total, r.request.level);
    w.close('}');
    w.close('}');
  }
  w.close(']');
  w.string("granularity", to_string(r.request.granularity));
  w.number("horizon_days", std::int64_t{r.request.horizon_days});
  w.number("level", r.request.level);
  w.key("model");
  w.open('{');
  w.number("signup_trend_per_week", round2(r.signups.slope));
  w.key("signup_weekday_share");
  w.open('{');
  // Sorted as nlohmann::json sorts them; the share's index is Monday = 0.
  const std::pair<const char*, int> days[7] = {{"friday", 4},   {"monday", 0},  {"saturday", 5}, {"sunday", 6},
                                               {"thursday", 3}, {"tuesday", 1}, {"wednesday", 2}};
  for (const auto& [day, index] : days) w.number(day, std::round(r.signups.weekday_share[index] * 1000) / 1000);
  w.close('}');
  w.number("signup_window_weeks", std::int64_t{kSignupWeeks});
  w.number("signups_per_week", round2(r.signups.intercept));
  w.number("subscriptions", r.subscriptions);
  w.close('}');
  w.string("object", "forecast");
  w.close('}');
  return std::move(w.out);
}

Json to_json(const ForecastReport& r) { return Json::parse(forecast_body(r)); }

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

Result<std::vector<LeadTimeDemand>> lead_time_demands(db::Tx& tx, Timestamp from,
                                                      const std::vector<LeadTimeWindow>& windows, ForecastCache* cache,
                                                      int threads) {
  std::vector<LeadTimeDemand> out(windows.size());
  if (windows.empty()) return out;
  RECUR_ASSIGN(auto data, load_catalogue(tx));
  const Catalogue& cat = data.catalogue;
  // Each window's two ends after `from`, by end: one model run for each, over the one bucket
  // [from, end), whose total is what a forecast of that window alone answers (its variance
  // counts each subscription's boxes together; add-ons due before `from` count, as they do in
  // a forecast's total). An end at or before `from` is no demand.
  struct Asked {
    std::size_t window;
    bool lead;
  };
  std::map<Timestamp, std::vector<Asked>> runs;
  std::vector<int> product_of(windows.size());
  for (std::size_t i = 0; i < windows.size(); ++i) {
    const auto& w = windows[i];
    auto p = cat.product_of(w.product);
    if (!p) return Error::not_found("product_not_found", "no product " + w.product);
    product_of[i] = *p;
    if (w.lead_end > from) runs[w.lead_end].push_back({i, true});
    if (w.review_end > from) runs[w.review_end].push_back({i, false});
  }
  if (runs.empty()) return out;
  RECUR_ASSIGN(auto h, load_live(tx, data, from, {}, threads, 2048, cache));
  auto retention = estimate_retention(cat, h.retention);
  auto signups = fit_signups(h.signups);
  for (const auto& [end, asked] : runs) {
    std::vector<int> products;
    for (const auto& a : asked) products.push_back(product_of[a.window]);
    std::sort(products.begin(), products.end());
    products.erase(std::unique(products.begin(), products.end()), products.end());
    auto f = forecast_from(cat, h, retention, signups, from, {{from, end}}, products, threads);
    std::unordered_map<int, Demand> by_product;
    for (const auto& pf : f.products)
      by_product.emplace(pf.product, Demand{pf.total.expected, std::sqrt(std::max(pf.total.variance, 0.0))});
    for (const auto& a : asked)
      (a.lead ? out[a.window].lead : out[a.window].through_review) = by_product.at(product_of[a.window]);
  }
  if (cache) cache->recycle(std::move(h.schedules));
  return out;
}

Result<Demand> lead_time_demand(db::Tx& tx, const std::string& product, Timestamp from, Timestamp to,
                                ForecastCache* cache) {
  RECUR_ASSIGN(auto d, lead_time_demands(tx, from, {LeadTimeWindow{product, to, to}}, cache));
  return d.front().lead;
}

}  // namespace recur::inventory
