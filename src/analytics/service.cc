#include "analytics/service.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "catalog/store.h"
#include "platform/money.h"

namespace recur::analytics {

namespace {

Timestamp floor_day(Timestamp t) { return t - (((t % kSecondsPerDay) + kSecondsPerDay) % kSecondsPerDay); }

std::optional<Timestamp> time_field(const Json& doc, const char* key) {
  if (!doc.is_object()) return std::nullopt;
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_string()) return std::nullopt;
  return parse_rfc3339(it->get<std::string>());
}

std::string text_field(const Json& doc, const char* key) {
  if (!doc.is_object()) return {};
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t int_field(const Json& doc, const char* key) {
  if (!doc.is_object()) return 0;
  auto it = doc.find(key);
  return it != doc.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

// When a step happened: the lifecycle's own time (details.effective_at), else the event's.
Timestamp effective_at(const events::Event& e) {
  return time_field(e.details, "effective_at").value_or(e.created);
}

bool dunning(const events::Event& e) { return text_field(e.details, "reason") == "payment_failed"; }

// The subscription an event's `after` shows, its personal fields left out (analytics reads
// none of them; a replayed event has them sealed). None for a document that is not a whole
// subscription (an event some test or old code recorded with a partial object): analytics
// skips it rather than refuse the change that recorded it.
std::optional<subscriptions::Subscription> subscription_state(Json after) {
  after["shipping_address"] = nullptr;
  if (auto c = after.find("cancellation"); c != after.end() && c->is_object()) (*c)["comment"] = nullptr;
  try {
    return subscriptions::subscription_from_doc(after);
  } catch (const Json::exception&) {
    return std::nullopt;
  } catch (const std::bad_optional_access&) {
    return std::nullopt;
  }
}

catalog::Plan as_plan(const PlanFacts& p) {
  catalog::Plan plan;
  plan.id = p.id;
  plan.amount = p.amount;
  plan.currency = p.currency;
  plan.cadence = p.cadence;
  plan.tier = p.tier;
  return plan;
}

// The list MRR of `quantity` of a plan on a subscription's delivery schedule (null: the plan's).
std::int64_t list_monthly(const PlanFacts& p, std::int64_t quantity, const Json& delivery) {
  return monthly(p.amount * quantity, subscriptions::delivery_from_json(delivery).value_or(p.cadence));
}

using PlanSource = std::function<Result<PlanFacts>(db::Tx&, const std::string&)>;

Result<PlanFacts> read_plan(db::Tx& tx, const std::string& id) {
  RECUR_ASSIGN(auto plan, catalog::find_plan(tx, id));
  if (!plan) return Error::internal("analytics: plan " + id + " is missing");
  return PlanFacts{plan->id, plan->amount, plan->currency, plan->cadence, plan->tier};
}

// ------------------------------------------------------------------ movements kept

// Recomputes one customer's movements in one currency from its points and writes the
// difference (and its daily aggregates) back. Requires: lock_customer held.
Status recompute_customer(db::Tx& tx, const std::string& customer, const std::string& currency) {
  RECUR_ASSIGN(auto points, customer_points(tx, customer, currency));
  std::vector<Movement> fresh = customer_movements(points);
  RECUR_ASSIGN(auto stored, stored_movements(tx, customer, currency));
  auto same = [](const Movement& a, const Movement& b) {
    return a.at == b.at && a.kind == b.kind && a.amount == b.amount && a.before == b.before && a.after == b.after &&
           a.churn_type == b.churn_type;
  };
  std::map<Timestamp, DailyDelta> days;
  std::map<Timestamp, const Movement*> fresh_at;
  for (const auto& m : fresh) fresh_at[m.at] = &m;
  std::map<Timestamp, const Movement*> stored_at;
  for (const auto& m : stored) stored_at[m.at] = &m;
  for (const auto& m : stored) {
    auto f = fresh_at.find(m.at);
    if (f != fresh_at.end() && same(*f->second, m)) continue;
    RECUR_TRY(delete_movement(tx, customer, currency, m.at));
    days[floor_day(m.at)].add(m, -1);
  }
  for (const auto& m : fresh) {
    auto s = stored_at.find(m.at);
    if (s != stored_at.end() && same(*s->second, m)) continue;
    RECUR_TRY(insert_movement(tx, customer, currency, m));
    days[floor_day(m.at)].add(m, +1);
  }
  // Days in ascending order: every writer takes the daily rows in one order (no deadlock).
  const int shard = shard_of(customer);
  for (const auto& [day, delta] : days)
    if (!delta.empty()) RECUR_TRY(add_daily(tx, currency, day, shard, delta));
  return Ok{};
}

// ------------------------------------------------------------------ activity

// The activity an event is, if any: kinds in docs/analytics.md ("Engagement").
struct Kind {
  std::string kind;
  std::optional<std::string> reason;
  std::optional<std::string> offer;
};

Result<std::vector<Kind>> activity_kinds(db::Tx& tx, const events::Event& e, const PlanSource& plans) {
  std::vector<Kind> out;
  const std::string& t = e.type;
  const bool by_user = e.actor.type != "system";
  auto reason_of = [&]() -> std::optional<std::string> {
    std::string r = text_field(e.details, "reason");
    if (r.empty() && e.after.is_object()) r = text_field(e.after.value("cancellation", Json()), "reason");
    return r.empty() ? std::nullopt : std::optional<std::string>(r);
  };
  if (t == "subscription.skipped") {
    out.push_back({"skip", {}, {}});
  } else if (t == "subscription.paused") {
    out.push_back({dunning(e) ? "dunning_pause" : "pause", {}, {}});
  } else if (t == "subscription.resumed") {
    out.push_back({"resume", {}, {}});
  } else if (t == "subscription.discount_applied") {
    out.push_back({"coupon_redemption", {}, {}});
  } else if (t == "subscription.payment_failed") {
    out.push_back({"payment_failed", {}, {}});
  } else if (t == "subscription.retention_offered") {
    if (auto it = e.details.find("offers"); it != e.details.end() && it->is_array())
      for (const auto& o : *it)
        if (o.is_string()) out.push_back({"retention_offered", reason_of(), o.get<std::string>()});
  } else if (t == "subscription.retention_accepted" || t == "subscription.retention_declined") {
    out.push_back({t == "subscription.retention_accepted" ? "retention_accepted" : "retention_declined", reason_of(),
                   text_field(e.details, "offer")});
  } else if (t == "subscription.cancellation_requested") {
    out.push_back({"cancel", reason_of(), {}});
  } else if (t == "subscription.canceled") {
    // The period-end step of a cancellation already counted when it was requested.
    if (dunning(e)) out.push_back({"dunning_cancel", std::string("payment_failed"), {}});
    else if (by_user) out.push_back({"cancel", reason_of(), {}});
  } else if ((t == "subscription.plan_changed" || t == "subscription.updated") && e.before.is_object() &&
             e.after.is_object()) {
    auto target = [](const Json& s) {
      const Json& pending = s.value("pending_plan_change", Json());
      const Json& on = pending.is_object() ? pending : s;
      return std::make_tuple(text_field(on, "plan"), int_field(on, "quantity"), on.value("delivery", Json()));
    };
    auto [from_plan, from_qty, from_delivery] = target(e.before);
    auto [to_plan, to_qty, to_delivery] = target(e.after);
    // Between tiers, their ranks decide (the change's details say which way); else the price.
    const std::string direction = text_field(e.details, "direction");
    if (t == "subscription.plan_changed" && (direction == "upgrade" || direction == "downgrade")) {
      out.push_back({direction, {}, {}});
    } else if (!from_plan.empty() && !to_plan.empty() &&
               (from_plan != to_plan || from_qty != to_qty || from_delivery != to_delivery)) {
      RECUR_ASSIGN(PlanFacts from, plans(tx, from_plan));
      RECUR_ASSIGN(PlanFacts to, plans(tx, to_plan));
      std::int64_t a = list_monthly(from, from_qty, from_delivery), b = list_monthly(to, to_qty, to_delivery);
      if (b > a) out.push_back({"upgrade", {}, {}});
      else if (b < a) out.push_back({"downgrade", {}, {}});
      else out.push_back({"frequency_change", {}, {}});
    }
  }
  if (out.empty() && by_user) out.push_back({"action", {}, {}});  // any other change made through the API
  return out;
}

Status record_activity(db::Tx& tx, Sink& sink, const events::Event& e, const std::string& subscription,
                       const std::string& customer, Timestamp at, const PlanSource& plans) {
  RECUR_ASSIGN(auto kinds, activity_kinds(tx, e, plans));
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    Activity a{kinds.size() == 1 ? e.id : e.id + ":" + std::to_string(i), subscription, customer, at,
               kinds[i].kind, kinds[i].reason, kinds[i].offer};
    RECUR_TRY(sink.activity(a));
  }
  return Ok{};
}

// The tables, in the event's transaction.
class SqlSink : public Sink {
 public:
  explicit SqlSink(db::Tx& tx) : tx_(tx) {}
  Result<std::optional<SubscriptionFacts>> subscription(const std::string& id) override {
    return find_subscription(tx_, id);
  }
  Status save(const SubscriptionFacts& f, bool is_new) override { return save_subscription(tx_, f, is_new); }
  Status point(const StoredPoint& p) override {
    RECUR_TRY(lock_customer(tx_, p.customer, p.currency));
    RECUR_TRY(add_point(tx_, p));
    return recompute_customer(tx_, p.customer, p.currency);
  }
  Status daily(const std::string& currency, Timestamp day, int shard, const DailyDelta& d) override {
    return add_daily(tx_, currency, day, shard, d);
  }
  Status paid(const std::string& customer, const std::string& currency, Timestamp at) override {
    return note_paid(tx_, customer, currency, at);
  }
  Status invoice(const InvoiceFacts& i) override { return save_invoice(tx_, i); }
  Status refund(const RefundFacts& r) override { return save_refund(tx_, r); }
  Status activity(const Activity& a) override { return add_activity(tx_, a); }

 private:
  db::Tx& tx_;
};

// ------------------------------------------------------------------ per resource

Status on_subscription(db::Tx& tx, Sink& sink, const events::Event& e, const PlanSource& plans) {
  if (!e.after.is_object()) return Ok{};  // deleted: never billed, never had MRR
  auto state = subscription_state(e.after);
  if (!state) return Ok{};
  const subscriptions::Subscription& s = *state;
  const Timestamp step_at = effective_at(e);
  RECUR_ASSIGN(auto found, sink.subscription(s.id));
  const bool is_new = !found;
  SubscriptionFacts f = found ? std::move(*found) : SubscriptionFacts{};
  if (is_new) {
    f.id = s.id;
    f.customer = s.customer;
    f.currency = s.currency;
    f.plan = s.plan;
    if (s.discount && s.discount->coupon) f.coupon = s.discount->coupon;
    f.source = std::string(s.gift ? kGift : kDirect);
    f.status = std::string(subscriptions::to_string(s.status));
    f.last_at = step_at;
    f.created = step_at;
  }
  const Timestamp at = std::max(step_at, f.last_at);  // a timeline never goes back
  RECUR_TRY(record_activity(tx, sink, e, s.id, s.customer, at, plans));
  // Offers shown and declined change nothing: their `after` is the subscription as shown.
  if (!is_new && !e.before.is_object()) return Ok{};
  RECUR_ASSIGN(PlanFacts plan, plans(tx, s.plan));
  const std::int64_t mrr = subscription_mrr(s, as_plan(plan));
  const std::int64_t before = f.mrr;
  f.plan = s.plan;
  f.status = std::string(subscriptions::to_string(s.status));
  if (s.status == subscriptions::Status::kCanceled) {
    if (!f.ended_at) f.ended_at = std::max(s.ended_at.value_or(at), f.started_at.value_or(at));
  }
  if (mrr != before) {
    std::string cause;
    if (mrr < before) cause = std::string(dunning(e) ? kInvoluntary : kVoluntary);
    RECUR_TRY(sink.point(StoredPoint{s.id, ++f.points, f.customer, f.currency, f.plan, at, before, mrr, cause}));
    if (mrr > 0 && !f.started_at) f.started_at = at;
    f.mrr = mrr;
    f.last_at = at;
    DailyDelta subs;
    if (before == 0) subs.subscriptions_started = 1;
    if (mrr == 0) subs.subscriptions_stopped = 1;
    if (!subs.empty()) RECUR_TRY(sink.daily(f.currency, floor_day(at), shard_of(f.customer), subs));
  }
  return sink.save(f, is_new);
}

Status on_invoice(Sink& sink, const events::Event& e) {
  const Json& inv = e.after;
  // A one-off invoice (no subscription) counts in the customer's revenue and LTV; not in MRR,
  // the collections report (renewals) or cohorts (a first payment starts one only for a
  // subscription).
  if (!inv.is_object()) return Ok{};
  InvoiceFacts f;
  f.id = text_field(inv, "id");
  f.customer = text_field(inv, "customer");
  f.subscription = text_field(inv, "subscription");
  f.currency = text_field(inv, "currency");
  f.billing_reason = text_field(inv, "billing_reason");
  f.due_at = time_field(inv.value("period", Json()), "start").value_or(e.created);
  f.status = text_field(inv, "status");
  f.total = int_field(inv, "total");
  f.amount_paid = int_field(inv, "amount_paid");
  f.attempt_count = int_field(inv, "attempt_count");
  f.first_failed_at = time_field(inv, "first_failed_at");
  f.paid_at = time_field(inv, "paid_at");
  RECUR_TRY(sink.invoice(f));
  if (f.paid_at && f.amount_paid > 0 && !f.subscription.empty())
    RECUR_TRY(sink.paid(f.customer, f.currency, *f.paid_at));
  return Ok{};
}

Status on_refund(Sink& sink, const events::Event& e) {
  if (e.type != "refund.succeeded" || !e.after.is_object()) return Ok{};
  const Json& r = e.after;
  return sink.refund(RefundFacts{text_field(r, "id"), text_field(r, "invoice"), text_field(r, "customer"),
                                     text_field(r, "currency"), int_field(r, "amount"), e.created});
}

// A lost dispute takes its amount back like a refund (decision 0021): kept with the refunds
// under the dispute's id, so revenue (paid less refunded) drops by it, once per dispute.
Status on_dispute(Sink& sink, const events::Event& e) {
  if (e.type != "dispute.closed" || !e.after.is_object() || text_field(e.after, "status") != "lost") return Ok{};
  const Json& d = e.after;
  return sink.refund(RefundFacts{text_field(d, "id"), text_field(d, "invoice"), text_field(d, "customer"),
                                 text_field(d, "currency"), int_field(d, "amount"), e.created});
}

Status on_shipment(Sink& sink, const events::Event& e) {
  if (e.type != "shipment.backordered" && e.type != "shipment.backorder_choice") return Ok{};
  const std::string sub = text_field(e.after, "subscription");
  if (sub.empty()) return Ok{};
  std::string customer = text_field(e.after, "customer");
  if (customer.empty()) {
    RECUR_ASSIGN(auto f, sink.subscription(sub));
    if (!f) return Ok{};
    customer = f->customer;
  }
  return sink.activity(Activity{e.id, sub, customer, e.created,
                                   e.type == "shipment.backordered" ? "backorder" : "backorder_choice", {}, {}});
}

Status apply(db::Tx& tx, Sink& sink, const events::Event& e, const PlanSource& plans) {
  if (e.resource_type == "subscription") return on_subscription(tx, sink, e, plans);
  if (e.resource_type == "invoice") return on_invoice(sink, e);
  if (e.resource_type == "refund") return on_refund(sink, e);
  if (e.resource_type == "shipment") return on_shipment(sink, e);
  if (e.resource_type == "dispute") return on_dispute(sink, e);
  return Ok{};
}

}  // namespace

Result<PlanFacts> Ledger::plan(db::Tx& tx, const std::string& id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = plans_.find(id); it != plans_.end()) return it->second;
  }
  RECUR_ASSIGN(PlanFacts p, read_plan(tx, id));
  std::lock_guard lock(mu_);
  plans_.emplace(id, p);
  return p;
}

Status Ledger::appended(db::Tx& tx, const events::Event& event) {
  SqlSink sink(tx);
  return apply(tx, sink, event, [this](db::Tx& t, const std::string& id) { return plan(t, id); });
}

Result<std::int64_t> rebuild(db::Tx& tx) {
  MemorySink sink;
  std::map<std::string, PlanFacts> cache;
  PlanSource plans = [&](db::Tx& t, const std::string& id) -> Result<PlanFacts> {
    if (auto it = cache.find(id); it != cache.end()) return it->second;
    RECUR_ASSIGN(PlanFacts p, read_plan(t, id));
    cache.emplace(id, p);
    return p;
  };
  std::int64_t count = 0;
  for (const char* type : {"subscription", "invoice", "refund", "shipment", "dispute"}) {
    RECUR_ASSIGN(auto stored, events::events_before(tx, type, std::numeric_limits<Timestamp>::max()));
    for (auto& s : stored) {
      Json payload = Json::parse(s.payload, nullptr, false);
      if (!payload.is_object()) continue;
      events::Event e;
      e.type = s.type;
      e.resource_type = type;
      e.resource_id = s.resource_id;
      e.created = s.created;
      e.before = payload.value("before", Json());
      e.after = payload.value("after", Json());
      e.details = payload.value("details", Json());
      e.actor.type = s.actor_type;
      e.id = s.id;
      RECUR_TRY(apply(tx, sink, e, plans));
      ++count;
    }
  }
  RECUR_TRY(clear_all(tx));
  RECUR_TRY(sink.flush(tx));
  return count;
}

// ------------------------------------------------------------------ reports

namespace {

// Shares and other fractions go out with at most 9 decimals: more says nothing to a reader,
// and a long run of digits could be mistaken for a card number by log and response scanners.
double decimals9(double v) { return std::round(v * 1e9) / 1e9; }
Json rate_json(std::optional<double> r) { return r ? Json(decimals9(*r)) : Json(nullptr); }
Json amount_json(std::optional<std::int64_t> v) { return v ? Json(*v) : Json(nullptr); }

std::int64_t net(const DailyDelta& d) { return d.new_mrr + d.expansion + d.reactivation - d.contraction - d.churn; }
std::int64_t customers_net(const DailyDelta& d) { return d.count_new + d.count_reactivation - d.count_churn; }
std::int64_t subscriptions_net(const DailyDelta& d) { return d.subscriptions_started - d.subscriptions_stopped; }

void plus(DailyDelta& a, const DailyDelta& b) {
  a.new_mrr += b.new_mrr;
  a.expansion += b.expansion;
  a.contraction += b.contraction;
  a.churn += b.churn;
  a.reactivation += b.reactivation;
  a.count_new += b.count_new;
  a.count_expansion += b.count_expansion;
  a.count_contraction += b.count_contraction;
  a.count_churn += b.count_churn;
  a.count_reactivation += b.count_reactivation;
  a.subscriptions_started += b.subscriptions_started;
  a.subscriptions_stopped += b.subscriptions_stopped;
}
DailyDelta minus(DailyDelta a, const DailyDelta& b) {
  DailyDelta neg;
  neg.new_mrr = -b.new_mrr;
  neg.expansion = -b.expansion;
  neg.contraction = -b.contraction;
  neg.churn = -b.churn;
  neg.reactivation = -b.reactivation;
  neg.count_new = -b.count_new;
  neg.count_expansion = -b.count_expansion;
  neg.count_contraction = -b.count_contraction;
  neg.count_churn = -b.count_churn;
  neg.count_reactivation = -b.count_reactivation;
  neg.subscriptions_started = -b.subscriptions_started;
  neg.subscriptions_stopped = -b.subscriptions_stopped;
  plus(a, neg);
  return a;
}

MovementTotals totals_between(const DailyDelta& start, const DailyDelta& end) {
  DailyDelta d = minus(end, start);
  MovementTotals t;
  t.mrr_start = net(start);
  t.mrr_end = net(end);
  t.new_mrr = d.new_mrr;
  t.expansion = d.expansion;
  t.contraction = d.contraction;
  t.churn = d.churn;
  t.reactivation = d.reactivation;
  t.count_new = d.count_new;
  t.count_expansion = d.count_expansion;
  t.count_contraction = d.count_contraction;
  t.count_churn = d.count_churn;
  t.count_reactivation = d.count_reactivation;
  return t;
}

Json bucket_times(const Bucket& b) {
  return Json{{"period_start", format_rfc3339(b.start)}, {"period_end", format_rfc3339(b.end)}};
}

Json list_of(Json data, const std::string& currency) {
  return Json{{"object", "list"}, {"has_more", false}, {"currency", currency}, {"data", std::move(data)}};
}

constexpr double kDaysPerMonth = 30.44;

}  // namespace

Result<std::string> Reports::currency_of(db::Tx& tx, const ReportQuery& q) {
  if (q.currency) {
    if (!is_known_currency(*q.currency))
      return Error::invalid("validation_failed", "currency must be an ISO 4217 code",
                            {{"currency", "invalid", "an ISO 4217 code such as usd"}});
    return normalize_currency(*q.currency);
  }
  RECUR_ASSIGN(auto known, currencies(tx));
  if (known.size() > 1)
    return Error::invalid("currency_required", "the shop bills in more than one currency: give currency",
                          {{"currency", "required", "one of the currencies billed"}});
  if (known.empty()) return std::string("usd");
  return known.front();
}

Result<Slice> Reports::slice_of(db::Tx& tx, const ReportQuery& q) {
  Slice slice;
  if (q.plan) slice.plans.push_back(*q.plan);
  if (q.tier) {
    catalog::ListFilter filter;
    filter.tier = q.tier;
    filter.page.limit = 100;
    std::vector<std::string> tier_plans;
    for (;;) {
      RECUR_ASSIGN(auto page, catalog::list_plans(tx, filter));
      for (const auto& p : page.items) tier_plans.push_back(p.id);
      if (!page.has_more || page.items.empty()) break;
      filter.page.starting_after = page.items.back().id;
    }
    if (q.plan) {
      bool in_tier = std::find(tier_plans.begin(), tier_plans.end(), *q.plan) != tier_plans.end();
      if (!in_tier) slice.plans = {"-"};  // a plan outside the tier: nothing matches
    } else {
      slice.plans = tier_plans.empty() ? std::vector<std::string>{"-"} : tier_plans;
    }
  }
  slice.coupon = q.coupon;
  slice.source = q.source;
  return slice;
}

Result<std::vector<Bucket>> Reports::buckets_of(const ReportQuery& q) {
  if (q.from >= q.to)
    return Error::invalid("validation_failed", "from must be before to", {{"to", "out_of_range", "must be after from"}});
  auto out = buckets(q.from, q.to, q.interval);
  if (!out)
    return Error::invalid("too_many_buckets", "the range holds too many buckets of this interval",
                          {{"interval", "out_of_range", "choose a longer interval or a shorter range"}});
  return std::move(*out);
}

Result<std::vector<Reports::BucketFigures>> Reports::figures(db::Tx& tx, const std::string& currency,
                                                             const std::vector<Bucket>& bs, const Slice& slice,
                                                             bool churned_wanted) {
  std::vector<BucketFigures> out;
  if (bs.empty()) return out;
  const Timestamp from = bs.front().start, to = bs.back().end;
  // C(t): everything before t.
  std::function<DailyDelta(Timestamp)> cumulative;
  std::vector<DayRow> days;
  DailyDelta base;
  ChurnCounter churned(bs);
  if (slice.any()) {
    // The slice's points, a customer at a time (they come by customer): the customer's
    // movements from its points, and each step (a movement, a subscription's start or stop)
    // added to the sum of the first bucket edge after it. C(edge j) is then the sum of sums 0..j.
    std::vector<Timestamp> edges;
    for (const auto& b : bs) edges.push_back(b.start);
    edges.push_back(to);
    std::vector<DailyDelta> after_edge(edges.size() + 1);
    auto add_step = [&](Timestamp at, const DailyDelta& d) {
      plus(after_edge[static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), at) - edges.begin())], d);
    };
    std::vector<CustomerMovement> churns;  // in the range
    std::optional<std::string> current;
    std::vector<MrrPoint> mine;
    auto flush = [&] {
      for (auto& m : customer_movements(mine)) {
        DailyDelta d;
        d.add(m, +1);
        add_step(m.at, d);
        if (m.kind == MovementKind::kChurn && m.at >= from && m.at < to)
          churns.push_back(CustomerMovement{*current, std::move(m)});
      }
      mine.clear();
    };
    RECUR_TRY(each_slice_point(tx, currency, slice, [&](const StoredPoint& p) -> Status {
      if (p.customer != current) {
        if (current) flush();
        current = p.customer;
      }
      mine.push_back(MrrPoint{p.subscription, p.at, p.mrr, p.cause});
      DailyDelta d;
      if (p.mrr_before == 0 && p.mrr > 0) d.subscriptions_started = 1;
      if (p.mrr_before > 0 && p.mrr == 0) d.subscriptions_stopped = 1;
      if (!d.empty()) add_step(p.at, d);
      return Ok{};
    }));
    if (current) flush();
    std::stable_sort(churns.begin(), churns.end(),
                     [](const auto& a, const auto& b) { return a.movement.at < b.movement.at; });
    for (const auto& m : churns) churned.add(m.customer, m.movement.at, m.movement.churn_type);
    std::map<Timestamp, DailyDelta> at_edge;
    DailyDelta sum;
    for (std::size_t k = 0; k < edges.size(); ++k) {
      plus(sum, after_edge[k]);
      at_edge[edges[k]] = sum;
    }
    cumulative = [at_edge](Timestamp t) { return at_edge.at(t); };  // only ever asked at an edge
  } else {
    const Timestamp first_day = floor_day(from), last_day = floor_day(to) + kSecondsPerDay;
    RECUR_ASSIGN(base, daily_before(tx, currency, first_day));
    RECUR_ASSIGN(days, daily_rows(tx, currency, first_day, last_day));
    if (churned_wanted) {
      RECUR_TRY(each_movement(tx, currency, from, to, true, [&](const CustomerMovement& m) -> Status {
        churned.add(m.customer, m.movement.at, m.movement.churn_type);
        return Ok{};
      }));
    }
    // Bucket edges inside a day (buckets() puts only the range's ends there; a caller's own
    // contiguous buckets may put any there): what that day's movements and points before the
    // edge add up to, summed in SQL.
    std::map<Timestamp, DailyDelta> partial;
    for (std::size_t k = 0; k <= bs.size(); ++k) {
      const Timestamp edge = k < bs.size() ? bs[k].start : to;
      const Timestamp day = floor_day(edge);
      if (day == edge || partial.count(edge)) continue;
      RECUR_ASSIGN(DailyDelta sums, sums_between(tx, currency, day, edge));
      partial[edge] = sums;
    }
    cumulative = [&, partial](Timestamp t) {
      DailyDelta sum = base;
      const Timestamp day = floor_day(t);
      for (const auto& r : days) {
        if (r.day >= day) break;
        plus(sum, r.delta);
      }
      if (day != t) {
        auto it = partial.find(t);
        if (it != partial.end()) plus(sum, it->second);
      }
      return sum;
    };
  }
  const auto churn_counts = churned.finish();
  DailyDelta start = cumulative(bs.front().start);
  for (std::size_t k = 0; k < bs.size(); ++k) {
    const Bucket& b = bs[k];
    DailyDelta end = cumulative(b.end);
    BucketFigures f;
    f.bucket = b;
    f.totals = totals_between(start, end);
    f.customers_start = customers_net(start);
    f.customers_end = customers_net(end);
    f.subscriptions_start = subscriptions_net(start);
    f.subscriptions_started = end.subscriptions_started - start.subscriptions_started;
    f.subscriptions_end = subscriptions_net(end);
    f.churned_customers = churn_counts[k].customers;
    f.voluntary = churn_counts[k].voluntary;
    f.involuntary = churn_counts[k].involuntary;
    out.push_back(f);
    start = end;
  }
  return out;
}

Result<Json> Reports::mrr(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(Slice slice, slice_of(tx, q));
    // MRR at t counts what changed at t: the bucket [t, t + 1s) ends just after it.
    RECUR_ASSIGN(auto fs, figures(tx, currency, {Bucket{q.at, q.at + 1}}, slice));
    const auto& f = fs.front();
    const std::int64_t mrr = f.totals.mrr_end;
    return Json{{"object", "analytics.mrr"},
                {"at", format_rfc3339(q.at)},
                {"currency", currency},
                {"mrr", mrr},
                {"arr", mrr * 12},
                {"customers", f.customers_end},
                {"subscriptions", f.subscriptions_end},
                {"arpa", amount_json(arpa(mrr, f.customers_end))}};
  }, db::TxMode::kReadOnly);
}

Result<Json> Reports::movements(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(Slice slice, slice_of(tx, q));
    RECUR_ASSIGN(auto bs, buckets_of(q));
    RECUR_ASSIGN(auto fs, figures(tx, currency, bs, slice, false));
    Json data = Json::array();
    for (const auto& f : fs) {
      const auto& t = f.totals;
      Json row = bucket_times(f.bucket);
      row.update(Json{{"mrr_start", t.mrr_start},
                      {"new", t.new_mrr},
                      {"expansion", t.expansion},
                      {"contraction", t.contraction},
                      {"churn", t.churn},
                      {"reactivation", t.reactivation},
                      {"mrr_end", t.mrr_end},
                      {"counts", {{"new", t.count_new},
                                  {"expansion", t.count_expansion},
                                  {"contraction", t.count_contraction},
                                  {"churn", t.count_churn},
                                  {"reactivation", t.count_reactivation}}}});
      data.push_back(std::move(row));
    }
    return list_of(std::move(data), currency);
  }, db::TxMode::kReadOnly);
}

Result<Json> Reports::churn(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(Slice slice, slice_of(tx, q));
    RECUR_ASSIGN(auto bs, buckets_of(q));
    RECUR_ASSIGN(auto fs, figures(tx, currency, bs, slice));
    Json data = Json::array();
    for (const auto& f : fs) {
      ChurnFigures c = churn_figures(f.totals, f.customers_start, f.churned_customers, f.voluntary, f.involuntary);
      Json row = bucket_times(f.bucket);
      row.update(Json{{"customers_start", c.customers_start},
                      {"churned_customers", c.churned_customers},
                      {"customer_churn_rate", rate_json(c.customer_churn_rate)},
                      {"voluntary", c.voluntary},
                      {"involuntary", c.involuntary},
                      {"gross_mrr_churn_rate", rate_json(c.gross_mrr_churn_rate)},
                      {"net_mrr_churn_rate", rate_json(c.net_mrr_churn_rate)},
                      {"quick_ratio", rate_json(c.quick_ratio)}});
      data.push_back(std::move(row));
    }
    return list_of(std::move(data), currency);
  }, db::TxMode::kReadOnly);
}

Result<Json> Reports::ltv(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(Slice slice, slice_of(tx, q));
    // The 6 full calendar months before `at`.
    const Bucket current = bucket_of(q.at, BucketInterval::kMonth);
    Timestamp start = current.start;
    for (int i = 0; i < 6; ++i) start = bucket_of(start - 1, BucketInterval::kMonth).start;
    auto bs = buckets(start, current.start, BucketInterval::kMonth).value_or(std::vector<Bucket>{});
    RECUR_ASSIGN(auto fs, figures(tx, currency, bs, slice));
    std::vector<std::optional<double>> rates;
    for (const auto& f : fs)
      rates.push_back(churn_figures(f.totals, f.customers_start, f.churned_customers, f.voluntary, f.involuntary)
                          .customer_churn_rate);
    RECUR_ASSIGN(auto now_fig, figures(tx, currency, {Bucket{q.at, q.at + 1}}, slice));
    const auto a = arpa(now_fig.front().totals.mrr_end, now_fig.front().customers_end);
    const auto churn_rate = mean_rate(rates);
    return Json{{"object", "analytics.ltv"},
                {"at", format_rfc3339(q.at)},
                {"currency", currency},
                {"arpa", amount_json(a)},
                {"customer_churn_rate", rate_json(churn_rate)},
                {"ltv", amount_json(analytics::ltv(a, churn_rate))}};
  }, db::TxMode::kReadOnly);
}

Result<Json> Reports::renewals(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(Slice slice, slice_of(tx, q));
    RECUR_ASSIGN(auto bs, buckets_of(q));
    struct Counts {
      std::int64_t due = 0, first = 0, recovered = 0, failed = 0, pending = 0, first_due = 0, first_paid = 0;
    };
    std::vector<Counts> counts(bs.size());
    RECUR_TRY(each_invoice_due(tx, currency, q.from, q.to, slice, [&](const InvoiceDue& due) -> Status {
      const InvoiceFacts& inv = due.invoice;
      const std::size_t k = bucket_index(bs, inv.due_at);
      if (k == bs.size()) return Ok{};
      if (inv.billing_reason != "subscription_cycle" && inv.billing_reason != "subscription_create") return Ok{};
      if (inv.total <= 0) return Ok{};  // nothing to collect
      Counts& c = counts[k];
      ++c.due;
      const bool paid = inv.paid_at.has_value();
      if (paid && !inv.first_failed_at)
        ++c.first;
      else if (paid)
        ++c.recovered;
      else if (inv.status == "open")
        ++c.pending;
      else
        ++c.failed;
      if (due.first_renewal) {  // the first renewal of a subscription
        ++c.first_due;
        if (paid) ++c.first_paid;
      }
      return Ok{};
    }));
    Json data = Json::array();
    for (std::size_t k = 0; k < bs.size(); ++k) {
      const Counts& c = counts[k];
      Json row = bucket_times(bs[k]);
      row.update(Json{{"due", c.due},
                      {"paid_first_attempt", c.first},
                      {"recovered", c.recovered},
                      {"failed", c.failed},
                      {"pending", c.pending},
                      {"first_attempt_rate", rate_json(rate(c.first, c.due))},
                      {"recovered_rate", rate_json(rate(c.recovered, c.due))},
                      {"failed_rate", rate_json(rate(c.failed, c.due))},
                      {"recovery_rate", rate_json(rate(c.recovered, c.recovered + c.failed))},
                      {"first_renewals_due", c.first_due},
                      {"first_renewals_paid", c.first_paid},
                      {"first_renewal_rate", rate_json(rate(c.first_paid, c.first_due))}});
      data.push_back(std::move(row));
    }
    return list_of(std::move(data), currency);
  }, db::TxMode::kReadOnly);
}

Result<Json> Reports::cohorts(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(auto bs, buckets_of(q));
    RECUR_ASSIGN(auto members, cohort_members(tx, currency, q.from, q.to));
    RECUR_ASSIGN(auto revenue, revenue_of_cohort(tx, currency, q.from, q.to));
    std::unordered_map<std::string, std::int64_t> realised;
    for (const auto& r : revenue) realised[r.customer] = r.paid - r.refunded;
    revenue = {};
    const Timestamp now = clock_.now();
    // Per cohort: its size, starting MRR and revenue; per cohort and later bucket: customers
    // still paying, MRR, and MRR kept (at most each customer's start). One pass per customer
    // over its movements (read a customer at a time), along the bucket ends.
    struct Cell {
      std::int64_t alive = 0, mrr = 0, kept = 0;
    };
    const std::size_t n = bs.size();
    std::vector<std::int64_t> size(n, 0), mrr_start(n, 0), collected(n, 0);
    std::vector<std::vector<Cell>> cells(n, std::vector<Cell>(n));
    std::unordered_map<std::string, Timestamp> first_of(members.begin(), members.end());
    members = {};
    auto account = [&](const std::string& customer, Timestamp first, const std::vector<Movement>& moves) {
      const std::size_t ci = bucket_index(bs, first);
      if (ci == n) return;
      std::size_t k = 0;
      std::int64_t v = 0;
      auto mrr_before = [&](Timestamp t) {
        while (k < moves.size() && moves[k].at < t) v = moves[k++].after;
        return v;
      };
      const std::int64_t start = mrr_before(bs[ci].end);
      ++size[ci];
      mrr_start[ci] += start;
      auto r = realised.find(customer);
      collected[ci] += r == realised.end() ? 0 : r->second;
      for (std::size_t pi = ci; pi < n && bs[pi].start <= now; ++pi) {
        const std::int64_t x = mrr_before(std::min(bs[pi].end, now));
        Cell& c = cells[ci][pi];
        if (x > 0) ++c.alive;
        c.mrr += x;
        c.kept += std::min(x, start);
      }
    };
    // A customer at a time (the rows come by customer); first_of keeps who is left to account.
    std::optional<std::string> current;
    std::vector<Movement> moves;
    auto flush = [&] {
      auto it = first_of.find(*current);
      if (it != first_of.end()) {
        account(*current, it->second, moves);
        first_of.erase(it);
      }
      moves.clear();
    };
    RECUR_TRY(each_movement_of_cohort(tx, currency, q.from, q.to, [&](const CustomerMovement& m) -> Status {
      if (m.customer != current) {
        if (current) flush();
        current = m.customer;
      }
      moves.push_back(m.movement);
      return Ok{};
    }));
    if (current) flush();
    for (const auto& [customer, first] : first_of) account(customer, first, {});
    Json data = Json::array();
    for (std::size_t ci = 0; ci < n; ++ci) {
      Json periods = Json::array();
      for (std::size_t pi = ci; pi < n && bs[pi].start <= now; ++pi) {
        const Cell& c = cells[ci][pi];
        Json p = bucket_times(bs[pi]);
        p.update(Json{{"customers", c.alive},
                      {"retention", rate_json(rate(c.alive, static_cast<double>(size[ci])))},
                      {"mrr", c.mrr},
                      {"nrr", rate_json(rate(c.mrr, mrr_start[ci]))},
                      {"grr", rate_json(rate(c.kept, mrr_start[ci]))}});
        periods.push_back(std::move(p));
      }
      data.push_back(Json{{"cohort_start", format_rfc3339(bs[ci].start)},
                          {"cohort_end", format_rfc3339(bs[ci].end)},
                          {"customers", size[ci]},
                          {"mrr_start", mrr_start[ci]},
                          {"realised_ltv", amount_json(arpa(collected[ci], size[ci]))},
                          {"periods", std::move(periods)}});
    }
    return list_of(std::move(data), currency);
  }, db::TxMode::kReadOnly);
}

namespace {
// A subscription's lifetime so far for survival: none if it never counted for MRR (never
// started paying).
std::optional<Lifetime> lifetime_of(const SubscriptionFacts& s, Timestamp now) {
  if (!s.started_at) return std::nullopt;
  const Timestamp end = s.ended_at.value_or(now);
  if (end < *s.started_at) return std::nullopt;
  return Lifetime{static_cast<double>(end - *s.started_at) / kSecondsPerDay, s.ended_at.has_value()};
}
}  // namespace

Result<std::vector<SurvivalStep>> Reports::survival_curve(db::Tx& tx, const std::string& currency,
                                                          const Slice& slice, Timestamp now) {
  std::vector<Lifetime> lives;
  RECUR_TRY(each_subscription(tx, currency, slice, [&](const SubscriptionFacts& s) -> Status {
    if (auto l = lifetime_of(s, now)) lives.push_back(*l);
    return Ok{};
  }));
  return kaplan_meier(std::move(lives));
}

Result<Json> Reports::survival(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(Slice slice, slice_of(tx, q));
    const Timestamp now = clock_.now();
    // Lifetimes by group; by tier, first by plan (a plan's tier is read once the rows are).
    std::map<std::string, std::vector<Lifetime>> groups;
    RECUR_TRY(each_subscription(tx, currency, slice, [&](const SubscriptionFacts& s) -> Status {
      std::string key;
      if (q.group_by == "coupon")
        key = s.coupon.value_or("none");
      else if (q.group_by == "source")
        key = s.source;
      else
        key = s.plan;
      auto& lives = groups[key];  // a group of subscriptions that never paid still shows
      if (auto l = lifetime_of(s, now)) lives.push_back(*l);
      return Ok{};
    }));
    if (q.group_by == "tier") {
      std::map<std::string, std::vector<Lifetime>> by_tier;
      for (auto& [plan_id, lives] : groups) {
        RECUR_ASSIGN(auto plan, catalog::find_plan(tx, plan_id));
        auto& into = by_tier[(plan ? plan->tier : std::nullopt).value_or("none")];
        into.insert(into.end(), lives.begin(), lives.end());
      }
      groups = std::move(by_tier);
    }
    Json data = Json::array();
    for (auto& [key, lives] : groups) {
      std::int64_t ended = 0;
      for (const auto& l : lives) ended += l.ended ? 1 : 0;
      const auto count = static_cast<std::int64_t>(lives.size());
      auto curve = kaplan_meier(std::move(lives));
      Json median = nullptr;
      for (const auto& st : curve)
        if (st.survival <= 0.5) {
          median = decimals9(st.days);
          break;
        }
      Json steps = Json::array();
      for (const auto& st : curve)
        steps.push_back(Json{{"days", decimals9(st.days)},
                             {"at_risk", st.at_risk},
                             {"ended", st.ended},
                             {"survival", decimals9(st.survival)},
                             {"lower", decimals9(st.lower)},
                             {"upper", decimals9(st.upper)}});
      data.push_back(Json{{"group", key},
                          {"subscriptions", count},
                          {"ended", ended},
                          {"median_days", median},
                          {"steps", std::move(steps)}});
    }
    Json out = list_of(std::move(data), currency);
    out["group_by"] = q.group_by;
    return out;
  }, db::TxMode::kReadOnly);
}

namespace {
bool is_engagement(std::string_view kind) {
  return kind == "skip" || kind == "pause" || kind == "resume" || kind == "upgrade" || kind == "downgrade" ||
         kind == "frequency_change" || kind == "coupon_redemption" || kind == "backorder_choice" ||
         kind == "retention_offered" || kind == "retention_accepted" || kind == "retention_declined" ||
         kind == "action" || kind == "cancel";
}
}  // namespace

Result<Json> Reports::engagement(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(Slice slice, slice_of(tx, q));
    RECUR_ASSIGN(auto bs, buckets_of(q));
    RECUR_ASSIGN(auto fs, figures(tx, currency, bs, slice, false));
    struct Counts {
      std::map<std::string, std::int64_t> n;
      std::int64_t engaged = 0, actions = 0;
    };
    std::vector<Counts> counts(bs.size());
    // In time order: only the current bucket's engaged subscriptions are held.
    std::size_t current = bs.size();
    std::unordered_set<std::string> engaged;
    RECUR_TRY(each_activity(tx, currency, q.from, q.to, slice, {}, [&](const SubscriptionActivity& row) -> Status {
      const Activity& a = row.activity;
      const std::size_t k = bucket_index(bs, a.at);
      if (k == bs.size()) return Ok{};
      if (k != current) {
        engaged.clear();
        current = k;
      }
      Counts& c = counts[k];
      c.n[a.kind] += 1;
      if (is_engagement(a.kind)) {
        if (engaged.insert(a.subscription).second) ++c.engaged;
        ++c.actions;
      }
      return Ok{};
    }));
    Json data = Json::array();
    for (std::size_t k = 0; k < fs.size(); ++k) {
      const auto& f = fs[k];
      auto& n = counts[k].n;
      const std::int64_t active = f.subscriptions_start + f.subscriptions_started;
      const std::int64_t engaged_count = counts[k].engaged, actions = counts[k].actions;
      Json row = bucket_times(f.bucket);
      row.update(
          Json{{"active_subscribers", active},
               {"engaged_subscribers", engaged_count},
               {"engaged_share", rate_json(rate(static_cast<double>(engaged_count), active))},
               {"actions_per_subscriber", rate_json(rate(actions, active))},
               {"skips", n["skip"]},
               {"pauses", n["pause"]},
               {"resumes", n["resume"]},
               {"upgrades", n["upgrade"]},
               {"downgrades", n["downgrade"]},
               {"frequency_changes", n["frequency_change"]},
               {"coupon_redemptions", n["coupon_redemption"]},
               {"backorder_choices", n["backorder_choice"]},
               {"retention_interactions", n["retention_offered"] + n["retention_accepted"] + n["retention_declined"]},
               {"api_actions", actions}});
      data.push_back(std::move(row));
    }
    return list_of(std::move(data), currency);
  }, db::TxMode::kReadOnly);
}

Result<Json> Reports::cancellations(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(Slice slice, slice_of(tx, q));
    RECUR_ASSIGN(auto bs, buckets_of(q));
    const Timestamp now = clock_.now();
    struct Row {
      std::int64_t cancellations = 0, offered = 0, accepted = 0, declined = 0, canceled_anyway = 0;
      std::int64_t kept[3] = {0, 0, 0}, judged[3] = {0, 0, 0};
    };
    std::vector<std::map<std::pair<std::string, std::string>, Row>> rows(bs.size());  // (reason, offer or "")
    // Declines not yet followed by a cancellation of their subscription: canceled anyway when one
    // follows (read up to now, past the range's end).
    std::unordered_map<std::string, std::vector<Row*>> declined;
    const std::vector<std::string> kinds{"cancel", "dunning_cancel", "retention_offered", "retention_declined",
                                         "retention_accepted"};
    RECUR_TRY(each_activity(tx, currency, q.from, std::max(q.to, now + 1), slice, kinds,
                            [&](const SubscriptionActivity& row) -> Status {
                              const Activity& a = row.activity;
                              if (a.kind == "cancel") {
                                auto waiting = declined.find(a.subscription);
                                if (waiting != declined.end()) {
                                  for (Row* r : waiting->second) r->canceled_anyway += 1;
                                  declined.erase(waiting);
                                }
                              }
                              const std::size_t k = bucket_index(bs, a.at);
                              if (k == bs.size()) return Ok{};
                              const std::string reason = a.reason.value_or("unknown");
                              const std::string offer = a.offer.value_or("");
                              auto& bucket = rows[k];
                              if (a.kind == "cancel" || a.kind == "dunning_cancel")
                                bucket[{reason, ""}].cancellations += 1;
                              if (a.kind == "retention_offered") bucket[{reason, offer}].offered += 1;
                              if (a.kind == "retention_declined") {
                                Row& r = bucket[{reason, offer}];
                                r.declined += 1;
                                declined[a.subscription].push_back(&r);
                              }
                              if (a.kind == "retention_accepted") {
                                Row& r = bucket[{reason, offer}];
                                r.accepted += 1;
                                const int days[3] = {30, 60, 90};
                                for (int d = 0; d < 3; ++d) {
                                  const Timestamp check = a.at + days[d] * kSecondsPerDay;
                                  if (check > now) continue;  // not known yet
                                  r.judged[d] += 1;
                                  if (!row.ended_at || *row.ended_at > check) r.kept[d] += 1;
                                }
                              }
                              return Ok{};
                            }));
    Json data = Json::array();
    for (std::size_t k = 0; k < bs.size(); ++k) {
      for (const auto& [key, r] : rows[k]) {
        Json row = bucket_times(bs[k]);
        row.update(Json{{"reason", key.first},
                        {"offer", text_or_null(key.second)},
                        {"cancellations", r.cancellations},
                        {"offered", r.offered},
                        {"accepted", r.accepted},
                        {"declined", r.declined},
                        {"canceled_anyway", r.canceled_anyway},
                        {"accepted_retained_30d", rate_json(rate(r.kept[0], r.judged[0]))},
                        {"accepted_retained_60d", rate_json(rate(r.kept[1], r.judged[1]))},
                        {"accepted_retained_90d", rate_json(rate(r.kept[2], r.judged[2]))}});
        data.push_back(std::move(row));
      }
    }
    return list_of(std::move(data), currency);
  }, db::TxMode::kReadOnly);
}

namespace {

// The activity kinds that are risk signals, and the count each adds to.
constexpr std::pair<std::string_view, std::int64_t RiskSignals::*> kSignalKinds[] = {
    {"payment_failed", &RiskSignals::failed_payments},
    {"skip", &RiskSignals::skips},
    {"pause", &RiskSignals::pauses},
    {"downgrade", &RiskSignals::downgrades},
    {"backorder", &RiskSignals::backorders},
    {"retention_declined", &RiskSignals::offers_declined},
    {"retention_accepted", &RiskSignals::offers_accepted}};

void add_signal(RiskSignals& s, std::string_view kind) {
  for (const auto& [name, count] : kSignalKinds)
    if (name == kind) ++(s.*count);
}

constexpr Timestamp kRiskWindow = 90 * kSecondsPerDay;

}  // namespace

Result<Json> Reports::at_risk(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    RECUR_ASSIGN(Slice slice, slice_of(tx, q));
    const Timestamp now = clock_.now();
    // Now: the subscriptions that count for MRR, scored on the last 90 days. Backtest: score
    // who was paying 90 days ago on the 90 days before that; the outcome is whether it ended
    // since. The signals of both windows, of the subscriptions that have any.
    const Timestamp then = now - kRiskWindow;
    std::unordered_map<std::string, std::pair<RiskSignals, RiskSignals>> signals;  // (recent, past)
    std::vector<std::string> kinds;
    for (const auto& [name, _] : kSignalKinds) kinds.emplace_back(name);
    RECUR_TRY(each_activity(tx, currency, then - kRiskWindow, now + 1, slice, kinds,
                            [&](const SubscriptionActivity& row) -> Status {
                              auto& both = signals[row.activity.subscription];
                              add_signal(row.activity.at >= then ? both.first : both.second, row.activity.kind);
                              return Ok{};
                            }));
    struct Scoredsub {
      std::string id, customer, plan;
      std::int64_t mrr = 0;
      RiskSignals signals;
      double score = 0;
    };
    TopN<Scoredsub> top(static_cast<std::size_t>(std::max(q.limit, 0)));
    std::vector<Scored> outcomes;
    RECUR_TRY(each_subscription(tx, currency, slice, [&](const SubscriptionFacts& s) -> Status {
      auto found = signals.find(s.id);
      if (s.mrr > 0) {
        RiskSignals sig = found == signals.end() ? RiskSignals{} : found->second.first;
        sig.past_due = s.status == "past_due";
        sig.tenure_days = s.started_at ? static_cast<double>(now - *s.started_at) / kSecondsPerDay : 0;
        const double score = risk_score(sig);
        top.offer(score, Scoredsub{s.id, s.customer, s.plan, s.mrr, sig, score});
      }
      if (s.started_at && *s.started_at < then && !(s.ended_at && *s.ended_at < then)) {
        RiskSignals sig = found == signals.end() ? RiskSignals{} : found->second.second;
        sig.tenure_days = static_cast<double>(then - *s.started_at) / kSecondsPerDay;
        outcomes.push_back(Scored{risk_score(sig), s.ended_at.has_value() && *s.ended_at <= now});
      }
      return Ok{};
    }));
    const std::size_t scored = top.offered();
    Json data = Json::array();
    for (const auto& x : top.take()) {
      Json reasons = Json::array();
      for (auto& r : risk_reasons(x.signals)) reasons.push_back(r);
      data.push_back(Json{{"subscription", x.id},
                          {"customer", x.customer},
                          {"plan", x.plan},
                          {"currency", currency},
                          {"mrr", x.mrr},
                          {"score", decimals9(x.score)},
                          {"reasons", std::move(reasons)},
                          {"signals",
                           {{"failed_payments", x.signals.failed_payments},
                            {"skips", x.signals.skips},
                            {"pauses", x.signals.pauses},
                            {"downgrades", x.signals.downgrades},
                            {"backorders", x.signals.backorders},
                            {"offers_declined", x.signals.offers_declined},
                            {"offers_accepted", x.signals.offers_accepted},
                            {"past_due", x.signals.past_due},
                            {"tenure_days", std::floor(x.signals.tenure_days)}}}});
    }
    Json out = list_of(std::move(data), currency);
    out["has_more"] = static_cast<int>(scored) > q.limit;
    out["model"] = Json{{"name", "recur-risk-1"},
                        {"description", "Recur's own model: a logistic score of recorded signals (docs/analytics.md)"},
                        {"backtest_at", format_rfc3339(then)},
                        {"backtest_subscriptions", static_cast<std::int64_t>(outcomes.size())},
                        {"backtest_auc", rate_json(auc(outcomes))}};
    return out;
  }, db::TxMode::kReadOnly);
}

namespace {

Json value_json(const std::string& customer, const std::string& currency, const CustomerValue& v) {
  return Json{{"object", "customer.ltv"},
              {"customer", customer},
              {"currency", currency},
              {"realised", v.realised},
              {"average_order_value", v.average_order_value},
              {"orders_per_month", decimals9(v.orders_per_month)},
              {"expected_remaining_months", decimals9(v.expected_remaining_months)},
              {"expected_future", v.expected_future},
              {"ltv", v.ltv}};
}

}  // namespace

Result<Json> Reports::customers(const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(std::string currency, currency_of(tx, q));
    const Timestamp now = clock_.now();
    // Survival by plan, for each customer's expected remaining lifetime; of each customer, its
    // subscriptions that count for MRR (their plan and tenure).
    std::map<std::string, std::vector<Lifetime>> lives_by_plan;
    std::unordered_map<std::string, std::vector<std::pair<std::string, double>>> active_of;
    RECUR_TRY(each_subscription(tx, currency, Slice{}, [&](const SubscriptionFacts& s) -> Status {
      auto& lives = lives_by_plan[s.plan];
      if (auto l = lifetime_of(s, now)) lives.push_back(*l);
      if (s.mrr > 0)
        active_of[s.customer].emplace_back(
            s.plan, s.started_at ? static_cast<double>(now - *s.started_at) / kSecondsPerDay : 0);
      return Ok{};
    }));
    std::map<std::string, std::vector<SurvivalStep>> curves;
    for (auto& [plan, lives] : lives_by_plan) curves[plan] = kaplan_meier(std::move(lives));
    lives_by_plan.clear();
    auto sort_key = [&](const CustomerValue& v) -> double {
      if (q.sort == "realised") return static_cast<double>(v.realised);
      if (q.sort == "expected_future") return static_cast<double>(v.expected_future);
      return static_cast<double>(v.ltv);
    };
    TopN<std::pair<std::string, CustomerValue>> top(static_cast<std::size_t>(std::max(q.limit, 0)));
    RECUR_TRY(each_customer_revenue(tx, currency, [&](const CustomerRevenue& r) -> Status {
      CustomerValueInput in;
      in.realised = r.paid - r.refunded;
      in.orders = r.orders;
      in.tenure_months =
          r.first_paid_at ? static_cast<double>(now - *r.first_paid_at) / kSecondsPerDay / kDaysPerMonth : 0;
      auto active = active_of.find(r.customer);
      if (active != active_of.end()) {
        for (const auto& [plan, tenure] : active->second) {
          in.active = true;
          in.remaining_months = std::max(in.remaining_months, expected_remaining_months(curves[plan], tenure));
        }
      }
      CustomerValue v = customer_value(in);
      top.offer(sort_key(v), {r.customer, v});
      return Ok{};
    }));
    const std::size_t total = top.offered();
    Json data = Json::array();
    for (const auto& [customer, v] : top.take()) {
      Json row = value_json(customer, currency, v);
      row.erase("object");
      data.push_back(std::move(row));
    }
    Json out = list_of(std::move(data), currency);
    out["has_more"] = static_cast<int>(total) > q.limit;
    return out;
  }, db::TxMode::kReadOnly);
}

Result<Json> Reports::customer_ltv(const std::string& customer, const ReportQuery& q) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(auto invoices, customer_invoices(tx, customer));
    RECUR_ASSIGN(auto refunds, customer_refunds(tx, customer));
    std::string currency;
    if (q.currency) {
      currency = normalize_currency(*q.currency);
    } else {
      std::set<std::string> seen;
      for (const auto& i : invoices) seen.insert(i.currency);
      if (seen.size() > 1)
        return Error::invalid("currency_required", "the customer was billed in more than one currency: give currency",
                              {{"currency", "required", "one of the customer's currencies"}});
      currency = seen.empty() ? "usd" : *seen.begin();
    }
    const Timestamp now = clock_.now();
    CustomerValueInput in;
    std::optional<Timestamp> first_paid;
    for (const auto& i : invoices) {
      if (i.currency != currency) continue;
      in.realised += i.amount_paid;
      if (i.paid_at) {
        ++in.orders;
        if (!first_paid || *i.paid_at < *first_paid) first_paid = i.paid_at;
      }
    }
    for (const auto& r : refunds)
      if (r.currency == currency) in.realised -= r.amount;
    in.tenure_months = first_paid ? static_cast<double>(now - *first_paid) / kSecondsPerDay / kDaysPerMonth : 0;
    RECUR_ASSIGN(auto subs, customer_subscriptions(tx, customer, currency));
    for (const auto& s : subs) {
      if (s.mrr <= 0) continue;
      in.active = true;
      Slice plan_slice;
      plan_slice.plans = {s.plan};
      RECUR_ASSIGN(auto curve, survival_curve(tx, currency, plan_slice, now));
      const double tenure = s.started_at ? static_cast<double>(now - *s.started_at) / kSecondsPerDay : 0;
      in.remaining_months = std::max(in.remaining_months, expected_remaining_months(curve, tenure));
    }
    return value_json(customer, currency, customer_value(in));
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::analytics
