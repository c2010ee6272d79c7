// Subscription routes: parse and validate, call the service, render. No SQL here.
#include "subscriptions/routes.h"

#include <charconv>

#include "access/actor.h"
#include "access/model.h"
#include "platform/blocking.h"
#include "platform/http/rest.h"

namespace recur::subscriptions {
namespace {

using http::Request;
using http::Response;

constexpr std::int64_t kMaxQuantity = 1000;
constexpr int kMaxBoxes = 12;  // GET …/boxes: the boxes a choice can be made for

auto render = [](const Subscription& s) { return to_json(s); };

// A body with an optional `version` (or If-Match) and the fields the action reads.
struct ActionBody {
  Json body;
  std::optional<std::int64_t> version;
};

Result<ActionBody> action_body(const Request& req) {
  ActionBody a;
  RECUR_ASSIGN(a.body, parse_json_object(req.body));
  RECUR_ASSIGN(a.version, http::expected_version(req, a.body, false));
  return a;
}

// `coupon` or `promotion_code`: at most one (exactly one when `required`).
DiscountInput read_discount(FieldReader& f, bool required) {
  DiscountInput in{f.text("coupon", false, 64), f.text("promotion_code", false, 64)};
  if (f.has("coupon") && f.has("promotion_code"))
    f.fail("promotion_code", "conflicting", "give either coupon or promotion_code, not both");
  else if (required && !f.has("coupon") && !f.has("promotion_code"))
    f.fail("coupon", "required", "coupon or promotion_code is required");
  return in;
}

// trial_end: a time, or "now" (kTrialEndNow).
std::optional<Timestamp> read_trial_end(const Json& body, FieldReader& f) {
  auto it = body.find("trial_end");
  if (it != body.end() && *it == "now") {
    f.accept("trial_end");
    return kTrialEndNow;
  }
  auto at = f.timestamp("trial_end", false);
  if (at && *at == kTrialEndNow) {  // the epoch itself is a time, not "now"
    f.fail("trial_end", "out_of_range", "trial_end must be after the start, or \"now\"");
    return std::nullopt;
  }
  return at;
}

// `delivery`: a schedule (checked by check_delivery), or null for the plan's own cadence.
std::optional<std::optional<Cadence>> read_delivery(FieldReader& f) {
  if (!f.has("delivery")) return std::nullopt;
  if (f.is_null("delivery")) {
    f.accept("delivery");
    return std::optional<Cadence>();
  }
  auto object = f.object("delivery", false);
  if (!object) return std::nullopt;
  FieldReader d(*object, "delivery");
  auto interval = d.one_of("interval", true, {"day", "week", "month", "year"});
  // Any integer is read; check_delivery below holds the rules (ranges included), one place.
  constexpr std::int64_t kAny = 1'000'000;
  auto count = d.integer("interval_count", false, -kAny, kAny);
  // null is none, as the subscription shows it (so a schedule read can be sent back).
  auto day = [&d](const char* field) -> std::optional<std::int64_t> {
    if (!d.is_null(field)) return d.integer(field, false, -kAny, kAny);
    d.accept(field);
    return std::nullopt;
  };
  auto day_of_week = day("day_of_week");
  auto day_of_month = day("day_of_month");
  f.absorb(d);
  if (!interval) return std::nullopt;
  Cadence c{*parse_interval(*interval), static_cast<int>(count.value_or(1))};
  if (day_of_week) c.day_of_week = static_cast<int>(*day_of_week);
  if (day_of_month) c.day_of_month = static_cast<int>(*day_of_month);
  if (auto checked = check_delivery(c, "delivery"); !checked.ok()) {
    for (const auto& fe : checked.error().fields) f.fail(fe.field, fe.code, fe.message);
    return std::nullopt;
  }
  return std::optional<Cadence>(c);
}

// `prepaid_deliveries`: 2..24 deliveries per charge, or null for one charge per delivery.
std::optional<std::optional<std::int64_t>> read_prepaid_deliveries(FieldReader& f) {
  if (!f.has("prepaid_deliveries")) return std::nullopt;
  if (f.is_null("prepaid_deliveries")) {
    f.accept("prepaid_deliveries");
    return std::optional<std::int64_t>();
  }
  auto n = f.integer("prepaid_deliveries", false, 2, kMaxPrepaidDeliveries);
  if (!n) return std::nullopt;
  return std::optional<std::int64_t>(*n);
}

struct Create {
  CreateInput input;
  CheckoutRequest checkout;
};

Result<Create> parse_create(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  Create create;
  CreateInput& in = create.input;
  create.checkout.payment_behavior = f.text("payment_behavior", false, 32).value_or("");
  create.checkout.verify_payment_method = f.boolean("verify_payment_method", false).value_or(false);
  auto customer = f.text("customer", true, 64);
  auto plan = f.text("plan", true, 64);
  in.quantity = f.integer("quantity", false, 1, kMaxQuantity).value_or(1);
  in.start_date = f.timestamp("start_date", false);
  in.trial_end = read_trial_end(body, f);
  in.shipping_address = customers::read_address(f, "shipping_address");
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  if (auto delivery = read_delivery(f)) in.delivery = *delivery;
  in.prepaid_deliveries = read_prepaid_deliveries(f).value_or(std::nullopt);
  auto discount = read_discount(f, false);
  in.coupon = discount.coupon;
  in.promotion_code = discount.promotion_code;
  RECUR_TRY(f.finish());
  in.customer = *customer;
  in.plan = *plan;
  in.request_key = req.idempotency_key;
  return create;
}

Result<std::pair<UpdateInput, std::int64_t>> parse_update(const Request& req, Json body) {
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  UpdateInput in;
  in.quantity = f.integer("quantity", false, 1, kMaxQuantity);
  in.trial_end = read_trial_end(body, f);
  if (f.is_null("shipping_address")) in.shipping_address = std::optional<customers::Address>();
  else if (auto a = customers::read_address(f, "shipping_address")) in.shipping_address = a;
  f.accept("shipping_address");
  in.metadata = f.metadata("metadata");
  in.prepaid_deliveries = read_prepaid_deliveries(f);
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(in), *version);
}

struct Change {
  ChangePlanInput input;
  std::string payment_behavior;  // "" when absent
};

// The fields PATCH /v1/subscriptions/{id} takes apart from a change of `delivery`.
constexpr std::string_view kPlainUpdateFields[] = {"trial_end", "shipping_address", "metadata", "prepaid_deliveries"};

// A change-plan body, or (`patch`) a PATCH that changes `delivery`: the same change on the
// same plan (no `plan`; the PATCH's own fields go in a PATCH of their own).
Result<Change> parse_change(const Json& body, bool patch = false) {
  FieldReader f(body);
  Change change;
  change.payment_behavior =
      f.one_of("payment_behavior", false, {"allow_incomplete", "default_incomplete"}).value_or("");
  ChangePlanInput& in = change.input;
  auto plan = patch ? std::nullopt : f.text("plan", false, 64);
  in.quantity = f.integer("quantity", false, 1, kMaxQuantity);
  in.delivery = read_delivery(f);
  auto proration = f.one_of("proration", false, {"create_prorations", "none", "always_invoice"});
  auto effective = f.one_of("effective", false, {"now", "period_end"});
  if (!patch && !f.has("plan") && !f.has("delivery") && !f.has("quantity"))
    f.fail("plan", "required", "plan is required (or delivery, or quantity, to change them on the same plan)");
  if (patch) {
    for (std::string_view field : kPlainUpdateFields)
      if (f.has(field)) {
        f.accept(field);
        f.fail(field, "conflicting",
               "a PATCH that changes delivery changes only it (and quantity): send " + std::string(field) +
                   " in a PATCH of its own");
      }
  }
  RECUR_TRY(f.finish());
  in.plan = plan.value_or("");
  std::string how = proration.value_or("create_prorations");
  in.proration = how == "none" ? Proration::kNone : how == "always_invoice" ? Proration::kAlwaysInvoice : Proration::kCreate;
  in.effective = effective.value_or("now") == "now" ? Effective::kNow : Effective::kPeriodEnd;
  return change;
}

Result<CancelInput> parse_cancel(const Json& body) {
  FieldReader f(body);
  CancelInput in;
  auto at = f.one_of("at", false, {"now", "period_end"});
  auto reason = f.one_of("reason", true, kCancellationReasons);
  in.comment = f.text("comment", false, 2000, 0);
  RECUR_TRY(f.finish());
  in.at_period_end = at.value_or("period_end") == "period_end";
  in.reason = *reason;
  return in;
}

Result<OfferInput> parse_offer(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  OfferInput in;
  auto reason = f.one_of("reason", true, kCancellationReasons);
  auto type = f.one_of("type", true, {"discount", "pause", "skip", "change_plan"});
  auto description = f.text("description", true, 500);
  auto percent = f.integer("percent_off", false, 1, 100);
  auto cycles = f.integer("duration_in_cycles", false, 1, 36);
  auto pause_cycles = f.integer("pause_cycles", false, 1, 12);
  in.plan = f.text("plan", false, 64);
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  // Each type needs its own terms; a value that failed validation was reported already.
  auto need = [&](bool present, const char* field) {
    if (!present && !f.has(field)) f.fail(field, "required", std::string(field) + " is required for a " + *type + " offer");
  };
  if (type == "discount") {
    need(percent.has_value(), "percent_off");
    need(cycles.has_value(), "duration_in_cycles");
  }
  if (type == "pause") need(pause_cycles.has_value(), "pause_cycles");
  if (type == "change_plan") need(in.plan.has_value(), "plan");
  RECUR_TRY(f.finish());
  in.reason = *reason;
  in.type = *parse_offer_type(*type);
  in.description = *description;
  in.percent_off = percent.value_or(0);
  in.duration_in_cycles = cycles.value_or(0);
  in.pause_cycles = pause_cycles.value_or(0);
  return in;
}

// A blackout date in a path: YYYY-MM-DD, as days since 1970-01-01.
Result<std::int64_t> blackout_day(const std::string& text) {
  auto t = parse_rfc3339(text + "T00:00:00Z");
  if (text.size() != 10 || !t || format_rfc3339(*t).substr(0, 10) != text)
    return Error::invalid("validation_failed", "the date must be a calendar date such as 2026-12-25",
                          {{"date", "invalid_value", "a date YYYY-MM-DD"}});
  return *t / kSecondsPerDay;
}

Json blackout_json(const BlackoutDate& d) {
  return Json{{"object", "blackout_date"},
              {"date", format_rfc3339(d.day * kSecondsPerDay).substr(0, 10)},
              {"reason", text_or_null(d.reason)},
              {"created", format_rfc3339(d.created)}};
}

Json upcoming_json(const std::vector<UpcomingPeriod>& periods, const std::string& id) {
  Json data = Json::array();
  for (const auto& p : periods)
    data.push_back({{"period", to_json(p.period)},
                    {"amount", p.amount},
                    {"currency", p.currency},
                    {"plan", p.plan},
                    {"quantity", p.quantity},
                    {"trial", p.trial},
                    {"skipped", p.skipped},
                    {"prepaid", p.prepaid}});
  return http::list_json(std::move(data), false, "/v1/subscriptions/" + id + "/upcoming");
}

Json box_json(const SubscriptionService::Box& b) {
  Json selection = nullptr;
  if (b.has_selection) {
    Json options = Json::array();
    for (const auto& o : b.options)
      options.push_back(
          {{"product", o.product}, {"sku", o.sku}, {"name", o.name}, {"tags", o.tags}, {"available", o.available}});
    selection = {{"cutoff_at", format_rfc3339(b.cutoff_at)},
                 {"open", b.open},
                 {"chosen", b.chosen},
                 {"items", catalog::to_json(b.items)},
                 {"options", options}};
  }
  return Json{{"object", "box"},
              {"period", to_json(b.period.period)},
              {"plan", b.period.plan},
              {"quantity", b.period.quantity},
              {"skipped", b.period.skipped},
              {"prepaid", b.period.prepaid},
              {"selection", selection}};
}

Result<int> count_param(const Request& req) {
  RECUR_TRY(http::check_query(req, {"count"}));
  auto raw = req.query_param("count");
  if (!raw) return 12;
  int n = 0;
  auto [ptr, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), n);
  if (ec != std::errc() || ptr != raw->data() + raw->size() || n < 1 || n > 60)
    return Error::invalid("validation_failed", "count must be an integer from 1 to 60",
                          {{"count", "out_of_range", "count must be an integer from 1 to 60"}});
  return n;
}

Result<ListFilter> list_filter(const Request& req) {
  RECUR_ASSIGN(auto page, http::page_request(req, {"customer", "plan", "status", "created", "metadata"}));
  RECUR_ASSIGN(auto statuses, http::enum_list(req, "status", status_names()));
  return ListFilter{req.query_param("customer"), req.query_param("plan"), std::move(statuses), page};
}

// Handlers for POST /v1/subscriptions/{id}/<action> that take a body and a version.
using ActionCall = std::function<Result<Subscription>(const std::string& id, const Json& body,
                                                  std::optional<std::int64_t> version, const events::Actor& actor)>;

// A parsed plan change (change-plan, or a PATCH of `delivery`), through checkout when wired.
Response respond_change(Request& req, SubscriptionService& svc, const ChangePlan& change_plan, Change& change,
                        std::optional<std::int64_t> version) {
  change.input.request_key = req.idempotency_key;
  const std::string& id = req.path_params["id"];
  if (!change_plan)
    return http::respond(req, svc.change_plan(id, change.input, version, access::actor_of(req)), 200, render);
  return http::respond(req, change_plan(id, change.input, change.payment_behavior, version, access::actor_of(req)), 200,
                       render);
}

http::Handler action_handler(ActionCall action) {
  return [action = std::move(action)](Request& req) {
    auto a = action_body(req);
    if (!a.ok()) return http::error_response(req, a.error());
    return http::respond(req, action(req.path_params["id"], a->body, a->version, access::actor_of(req)), 200, render);
  };
}

}  // namespace

void add_routes(http::Router& router, SubscriptionService& svc, RetentionService& retention, CheckoutHooks checkout) {
  Subscribe subscribe = std::move(checkout.subscribe);
  ChangePlan change_plan = std::move(checkout.change_plan);
  using namespace access::perm;
  const std::string read(kSubscriptionsRead), write(kSubscriptionsWrite);

  router.add("POST", "/v1/subscriptions", write, [&svc, subscribe](Request& req) {
    auto create = parse_create(req);
    if (!create.ok()) return http::error_response(req, create.error());
    if (!subscribe) return http::respond(req, svc.create(create->input, access::actor_of(req)), 201, render);
    return http::respond(req, subscribe(create->input, create->checkout, access::actor_of(req)), 201, render);
  });
  router.add("GET", "/v1/subscriptions", read, [&svc](Request& req) {
    auto filter = list_filter(req);
    if (!filter.ok()) return http::error_response(req, filter.error());
    return http::list_response(req, svc.list(*filter), "/v1/subscriptions");
  });
  // May run on the I/O thread (App allows it): a cached answer needs no database; a miss
  // throws WouldBlock there and runs again on a worker.
  router.add("GET", "/v1/subscriptions/{id}", read, [&svc](Request& req) {
    const std::string& id = req.path_params["id"];
    auto answer = [](const RenderedSubscription& r) {
      Response response;
      response.body = r.body;
      response.set_header("ETag", "\"" + std::to_string(r.version) + "\"");
      return response;
    };
    if (auto hit = svc.cached_rendering(id)) return answer(*hit);
    may_block();
    auto got = svc.get_rendered(id);
    if (!got.ok()) return http::error_response(req, got.error());
    return answer(*got);
  });
  router.add("PATCH", "/v1/subscriptions/{id}", write, [&svc, change_plan](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    // A new delivery schedule is a change of the plan's terms: change-plan's rules and checkout.
    if (body->contains("delivery")) {
      auto version = http::expected_version(req, *body, true);
      if (!version.ok()) return http::error_response(req, version.error());
      auto change = parse_change(*body, true);
      if (!change.ok()) return http::error_response(req, change.error());
      return respond_change(req, svc, change_plan, *change, *version);
    }
    auto input = parse_update(req, std::move(*body));
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, svc.update(req.path_params["id"], input->first, input->second, access::actor_of(req)),
                         200, render);
  });
  router.add("DELETE", "/v1/subscriptions/{id}", write, [&svc](Request& req) {
    auto version = http::if_match_version(req);
    if (!version.ok()) return http::error_response(req, version.error());
    auto st = svc.remove(req.path_params["id"], *version, access::actor_of(req));
    if (!st.ok()) return http::error_response(req, st.error());
    return http::json_response(200, {{"id", req.path_params["id"]}, {"object", "subscription"}, {"deleted", true}});
  });

  router.add("POST", "/v1/subscriptions/{id}/pause", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version, const auto& actor)
                                -> Result<Subscription> {
               FieldReader f(body);
               auto resumes_at = f.timestamp("resumes_at", false);
               RECUR_TRY(f.finish());
               return svc.pause(id, resumes_at, version, actor);
             }));
  router.add("POST", "/v1/subscriptions/{id}/resume", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version, const auto& actor)
                                -> Result<Subscription> {
               FieldReader f(body);
               RECUR_TRY(f.finish());
               return svc.resume(id, version, actor);
             }));
  router.add("POST", "/v1/subscriptions/{id}/skip", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version, const auto& actor)
                                -> Result<Subscription> {
               FieldReader f(body);
               auto period_start = f.timestamp("period_start", false);
               RECUR_TRY(f.finish());
               return svc.skip(id, period_start, version, actor);
             }));
  router.add("POST", "/v1/subscriptions/{id}/next-date", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version,
                                   const auto& actor) -> Result<Subscription> {
               FieldReader f(body);
               auto date = f.timestamp("date", true);
               RECUR_TRY(f.finish());
               return svc.move_next_date(id, *date, version, actor);
             }));
  router.add("POST", "/v1/subscriptions/{id}/add-ons", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version,
                                   const auto& actor) -> Result<Subscription> {
               FieldReader f(body);
               auto product = f.text("product", true, 64);
               auto quantity = f.integer("quantity", false, 1, 100);
               (void)f.one_of("period", false, {"next"});  // the only one: the next billed period
               RECUR_TRY(f.finish());
               return svc.add_on(id, {*product, quantity.value_or(1)}, version, actor);
             }));
  router.add("DELETE", "/v1/subscriptions/{id}/add-ons/{add_on}", write, [&svc](Request& req) {
    auto version = http::if_match_version(req);
    if (!version.ok()) return http::error_response(req, version.error());
    return http::respond(
        req, svc.remove_add_on(req.path_params["id"], req.path_params["add_on"], *version, access::actor_of(req)), 200,
        render);
  });
  router.add("POST", "/v1/subscriptions/{id}/change-plan", write, [&svc, change_plan](Request& req) {
    auto a = action_body(req);
    if (!a.ok()) return http::error_response(req, a.error());
    auto change = parse_change(a->body);
    if (!change.ok()) return http::error_response(req, change.error());
    return respond_change(req, svc, change_plan, *change, a->version);
  });
  router.add("POST", "/v1/subscriptions/{id}/change-plan/preview", read, [&svc](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    auto change = parse_change(*body);
    if (!change.ok()) return http::error_response(req, change.error());
    auto preview = svc.preview_change(req.path_params["id"], change->input);
    if (!preview.ok()) return http::error_response(req, preview.error());
    return http::json_response(200, to_json(*preview));
  });
  router.add("POST", "/v1/subscriptions/{id}/cancel", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version, const auto& actor)
                                -> Result<Subscription> {
               RECUR_ASSIGN(auto input, parse_cancel(body));
               return svc.cancel(id, input, version, actor);
             }));
  router.add("POST", "/v1/subscriptions/{id}/reactivate", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version, const auto& actor)
                                -> Result<Subscription> {
               FieldReader f(body);
               RECUR_TRY(f.finish());
               return svc.reactivate(id, version, actor);
             }));
  router.add("GET", "/v1/subscriptions/{id}/boxes", read, [&svc](Request& req) {
    auto count = count_param(req);
    if (!count.ok()) return http::error_response(req, count.error());
    if (*count > kMaxBoxes)
      return http::error_response(req, Error::invalid("validation_failed", "count must be 1 to 12",
                                                      {{"count", "out_of_range", "count must be 1 to 12"}}));
    auto boxes = svc.boxes(req.path_params["id"], *count);
    if (!boxes.ok()) return http::error_response(req, boxes.error());
    Json data = Json::array();
    for (const auto& b : *boxes) data.push_back(box_json(b));
    return http::json_response(
        200, http::list_json(std::move(data), false, "/v1/subscriptions/" + req.path_params["id"] + "/boxes"));
  });
  router.add("PUT", "/v1/subscriptions/{id}/boxes/{period_start}/selection", write, [&svc](Request& req) {
    auto a = action_body(req);
    if (!a.ok()) return http::error_response(req, a.error());
    const std::string& start_text = req.path_params["period_start"];
    auto start = parse_rfc3339(start_text);
    if (!start)
      return http::error_response(
          req, Error::invalid("validation_failed", "period_start must be an RFC 3339 time, the start of a box",
                              {{"period_start", "invalid_value", "an RFC 3339 time, such as 2027-02-10T09:30:00Z"}}));
    FieldReader f(a->body);
    const Json* list = f.array("items", true, 20);
    std::vector<catalog::PlanItem> items;
    if (list) {
      for (std::size_t i = 0; i < list->size(); ++i) {
        const std::string prefix = "items[" + std::to_string(i) + "]";
        if (!(*list)[i].is_object()) {
          f.fail(prefix, "invalid_type", prefix + " must be an object");
          continue;
        }
        FieldReader item((*list)[i], prefix);
        auto product = item.text("product", true, 64);
        auto quantity = item.integer("quantity", false, 1, 20);
        f.absorb(item);
        if (product) items.push_back({*product, quantity.value_or(1)});
      }
    }
    auto done = f.finish();
    if (!done.ok()) return http::error_response(req, done.error());
    return http::respond(
        req, svc.choose_box(req.path_params["id"], *start, std::move(items), a->version, access::actor_of(req)), 200,
        render);
  });
  router.add("POST", "/v1/subscriptions/{id}/convert", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version,
                                   const auto& actor) -> Result<Subscription> {
               FieldReader f(body);
               auto payment_method = f.text("payment_method", false, 64);
               RECUR_TRY(f.finish());
               return svc.convert(id, payment_method, version, actor);
             }));
  router.add("POST", "/v1/subscriptions/{id}/discount", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version, const auto& actor)
                                -> Result<Subscription> {
               FieldReader f(body);
               auto input = read_discount(f, true);
               RECUR_TRY(f.finish());
               return svc.apply_discount(id, input, version, actor);
             }));
  router.add("DELETE", "/v1/subscriptions/{id}/discount", write,
             action_handler([&svc](const std::string& id, const Json& body, auto version, const auto& actor)
                                -> Result<Subscription> {
               FieldReader f(body);
               RECUR_TRY(f.finish());
               return svc.remove_discount(id, version, actor);
             }));
  router.add("GET", "/v1/subscriptions/{id}/upcoming", read, [&svc](Request& req) {
    auto count = count_param(req);
    if (!count.ok()) return http::error_response(req, count.error());
    auto periods = svc.upcoming(req.path_params["id"], *count);
    if (!periods.ok()) return http::error_response(req, periods.error());
    return http::json_response(200, upcoming_json(*periods, req.path_params["id"]));
  });
  router.add("GET", "/v1/subscriptions/{id}/history", read, [&svc](Request& req) {
    auto page = http::page_request(req, {"created"});
    if (!page.ok()) return http::error_response(req, page.error());
    const std::string& id = req.path_params["id"];
    return http::list_response(req, svc.history(id, *page),
                               "/v1/subscriptions/" + id + "/history");
  });

  // Retention: the customer-facing steps before a cancellation.
  router.add("POST", "/v1/subscriptions/{id}/cancellation-offers", write, [&svc](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    auto reason = f.one_of("reason", true, kCancellationReasons);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    const std::string& id = req.path_params["id"];
    auto offers = svc.present_offers(id, *reason, access::actor_of(req));
    if (!offers.ok()) return http::error_response(req, offers.error());
    Json data = Json::array();
    for (const auto& o : *offers) data.push_back(to_json(o));
    return http::json_response(200, http::list_json(std::move(data), false,
                                                    "/v1/subscriptions/" + id + "/cancellation-offers"));
  });
  router.add("POST", "/v1/subscriptions/{id}/cancellation-offers/{offer}/accept", write, [&svc](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    return http::respond(req, svc.accept_offer(req.path_params["id"], req.path_params["offer"], access::actor_of(req)),
                         200, render);
  });
  router.add("POST", "/v1/subscriptions/{id}/cancellation-offers/{offer}/decline", write, [&svc](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    return http::respond(req, svc.decline_offer(req.path_params["id"], req.path_params["offer"], access::actor_of(req)),
                         200, render);
  });

  // Retention: the merchant's configuration.
  auto render_offer = [](const RetentionOffer& o) { return to_json(o); };
  router.add("POST", "/v1/retention-offers", std::string(kSettingsWrite), [&retention, render_offer](Request& req) {
    auto input = parse_offer(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, retention.create_offer(*input, access::actor_of(req)), 201, render_offer);
  });
  router.add("GET", "/v1/retention-offers", std::string(kSettingsRead), [&retention](Request& req) {
    auto page = http::page_request(req, {"reason", "created", "metadata"});
    if (!page.ok()) return http::error_response(req, page.error());
    auto reason = req.query_param("reason");
    if (reason && !is_cancellation_reason(*reason))
      return http::error_response(req, Error::invalid("validation_failed", "reason must be a cancellation reason",
                                                      {{"reason", "invalid_value", "not a cancellation reason"}}));
    return http::list_response(req, retention.list_offers(reason, *page),
                               "/v1/retention-offers");
  });
  router.add("GET", "/v1/retention-offers/{id}", std::string(kSettingsRead), [&retention, render_offer](Request& req) {
    return http::respond(req, retention.get_offer(req.path_params["id"]), 200, render_offer);
  });
  router.add("PATCH", "/v1/retention-offers/{id}", std::string(kSettingsWrite), [&retention, render_offer](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    auto version = http::expected_version(req, *body, true);
    if (!version.ok()) return http::error_response(req, version.error());
    FieldReader f(*body);
    OfferPatch patch{f.text("description", false, 500), f.boolean("active", false), f.metadata("metadata")};
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    return http::respond(req, retention.update_offer(req.path_params["id"], patch, **version, access::actor_of(req)), 200,
                         render_offer);
  });

  // The shop's blackout dates: days nothing ships (docs/subscription-boxes.md).
  router.add("GET", "/v1/settings/blackout-dates", std::string(kSettingsRead), [&svc](Request& req) {
    if (auto st = http::check_query(req, {}); !st.ok()) return http::error_response(req, st.error());
    auto dates = svc.blackout_dates();
    if (!dates.ok()) return http::error_response(req, dates.error());
    Json data = Json::array();
    for (const auto& d : *dates) data.push_back(blackout_json(d));
    return http::json_response(200, http::list_json(std::move(data), false, "/v1/settings/blackout-dates"));
  });
  router.add("PUT", "/v1/settings/blackout-dates/{date}", std::string(kSettingsWrite), [&svc](Request& req) {
    auto day = blackout_day(req.path_params["date"]);
    if (!day.ok()) return http::error_response(req, day.error());
    auto body = parse_json_object(req.body.empty() ? std::string("{}") : req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    auto reason = f.text("reason", false, 200);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    auto put = svc.put_blackout_date(*day, reason.value_or(""));
    if (!put.ok()) return http::error_response(req, put.error());
    Json out = blackout_json(put->date);
    out["deliveries_moved"] = put->moved;
    return http::json_response(put->created ? 201 : 200, out);
  });
  router.add("DELETE", "/v1/settings/blackout-dates/{date}", std::string(kSettingsWrite), [&svc](Request& req) {
    auto day = blackout_day(req.path_params["date"]);
    if (!day.ok()) return http::error_response(req, day.error());
    auto st = svc.delete_blackout_date(*day);
    if (!st.ok()) return http::error_response(req, st.error());
    return http::json_response(200,
                               {{"date", req.path_params["date"]}, {"object", "blackout_date"}, {"deleted", true}});
  });

  for (const char* path : {"/v1/subscriptions", "/v1/subscriptions/{id}/upcoming", "/v1/subscriptions/{id}/history",
                           "/v1/subscriptions/{id}/boxes", "/v1/retention-offers"})
    router.reads_query("GET", path);
}

}  // namespace recur::subscriptions
