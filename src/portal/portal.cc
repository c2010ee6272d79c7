// The portal's routes; see portal.h. A page is a few API calls made as the visitor's customer
// session; an action is one (or a few) and a 303 to the page that shows its result.
#include "portal/portal.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "billing/payment_update.h"
#include "customers/store.h"
#include "notify/model.h"
#include "platform/time.h"
#include "platform/url.h"
#include "portal/pages.h"

namespace recur::portal {

using http::Request;
using http::Response;

constexpr std::string_view kCookie = "recur_portal";

struct Portal::Visit {
  std::string token;     // the session's "cs_..." (the cookie)
  std::string customer;  // "cus_..."
  std::string csrf;      // what its forms carry
  std::string request_id;
  std::string remote_address;
};

// An API answer: its status and JSON body (a problem's detail for a refusal).
struct Portal::Call {
  int status = 0;
  Json body;
  std::string raw;
  std::string content_type;
  bool ok() const { return status >= 200 && status < 300; }
  std::string detail() const {
    if (body.is_object() && body.contains("detail") && body["detail"].is_string()) return body["detail"];
    return "the request was refused (" + std::to_string(status) + ")";
  }
};

namespace {

// The outcomes an action reports on the page it returns to (?done=...): fixed words, so a
// crafted link cannot make the portal say anything else.
constexpr std::pair<std::string_view, std::string_view> kNotices[] = {
    {"skipped", "The box is skipped."},
    {"paused", "The subscription is paused."},
    {"resumed", "The subscription is running again."},
    {"moved", "The next delivery moved."},
    {"frequency", "The delivery schedule changed."},
    {"added", "The extra comes with the next box."},
    {"chosen", "Your choice for the box is saved."},
    {"offer", "Thank you for staying: the offer is applied."},
    {"canceled", "The subscription ends at the end of the current period."},
    {"address", "The address is saved."},
    {"claimed", "The gift is yours: here is its subscription."},
};

std::optional<std::string> notice_of(const Request& req) {
  auto done = req.query_param("done");
  if (!done) return std::nullopt;
  for (const auto& [code, text] : kNotices)
    if (*done == code) return std::string(text);
  return std::nullopt;
}

Response html(int status, const Frame& frame, std::string_view content) {
  Response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = layout(frame, content);
  return r;
}

Response see_other(const std::string& location) {
  Response r;
  r.status = 303;
  r.content_type = "text/plain; charset=utf-8";
  r.set_header("Location", location);
  return r;
}

Response to_sign_in() { return see_other("/portal/sign-in"); }

std::optional<std::string> cookie_value(const Request& req, std::string_view name) {
  auto header = req.header("cookie");
  if (!header) return std::nullopt;
  std::string_view rest = *header;
  while (!rest.empty()) {
    auto semi = rest.find(';');
    std::string_view part = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=')
      return std::string(part.substr(name.size() + 1));
  }
  return std::nullopt;
}

// One path segment of an API call made in process: the path is matched as it stands (already
// decoded), so a value that would reach another segment or the query names nothing.
std::string seg(const std::string& value) {
  if (value.empty() || value.find_first_of("/?#") != std::string::npos) return "-";
  return value;
}

bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string field(const std::multimap<std::string, std::string>& form, const std::string& name) {
  auto it = form.find(name);
  return it == form.end() ? std::string() : it->second;
}

// "https://shop.example" of "https://shop.example/portal".
std::string origin_of(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  auto path = url.find('/', scheme + 3);
  return std::string(url.substr(0, path));
}

// A POST from another site's page: browsers say so (Fetch Metadata: cross-site, or
// same-site from a sibling host) and name the page's origin (Origin), which must be the
// portal's own. A request with neither (not a browser's) is not judged here.
bool foreign_post(const Request& req, std::string_view portal_url) {
  auto site = req.header("sec-fetch-site");
  if (site && *site != "same-origin" && *site != "none") return true;
  // "null": the pages' Referrer-Policy (no-referrer) makes browsers send it on their own
  // forms; Fetch Metadata above judged those.
  auto origin = req.header("origin");
  return origin && *origin != "null" && *origin != origin_of(portal_url);
}

Response refused_form(const Frame& frame) {
  return html(403, frame,
              "<h1>This form has expired</h1><p>Go back, reload the page and try again.</p>"
              "<p><a href=\"/portal\">Your subscriptions</a></p>");
}

}  // namespace

std::string Portal::sign_in_link(const std::string& token) const {
  return options_.url + "/sign-in/link?token=" + url_encode(token);
}

std::string Portal::cookie(const std::string& value, bool clear) const {
  std::string c = std::string(kCookie) + "=" + value + "; Path=/portal; HttpOnly; SameSite=Strict";
  c += clear ? "; Max-Age=0" : "; Max-Age=" + std::to_string(customers::kPortalSessionSeconds);
  if (options_.url.starts_with("https://")) c += "; Secure";
  return c;
}

std::optional<Portal::Visit> Portal::visit(const Request& req) const {
  auto token = cookie_value(req, kCookie);
  if (!token || !token->starts_with("cs_")) return std::nullopt;
  auto principal = sessions_.authenticate(*token);
  if (!principal.ok() || !*principal) return std::nullopt;
  return Visit{*token, (*principal)->customer, customers::csrf_token(*token), req.request_id, req.remote_address};
}

Portal::Call Portal::api(const Visit& v, std::string method, std::string target, const Json& body) const {
  Request r;
  r.method = std::move(method);
  auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = http::parse_query(std::string_view(target).substr(q + 1));
  r.headers = {{"authorization", "Bearer " + v.token}, {"content-type", "application/json"}};
  if (!body.is_null()) r.body = body.dump();
  r.request_id = v.request_id + "." + r.method;  // traceable to the page's request
  r.remote_address = v.remote_address;
  Response answer = api_.handle(r);
  Call c;
  c.status = answer.status;
  c.content_type = answer.content_type;
  if (answer.content_type.find("json") != std::string::npos) c.body = Json::parse(answer.body, nullptr, false);
  c.raw = std::move(answer.body);
  return c;
}

void Portal::add_routes(http::Router& router) {
  auto page = [this](auto member) { return [this, member](Request& req) { return (this->*member)(req); }; };
  router.add("GET", "/portal/sign-in", "", page(&Portal::sign_in));
  router.add("POST", "/portal/sign-in", "", page(&Portal::sign_in));
  router.add("GET", "/portal/sign-in/link", "", page(&Portal::confirm));
  router.add("POST", "/portal/sign-in/link", "", page(&Portal::confirm));
  router.add("POST", "/portal/sign-out", "", page(&Portal::sign_out));
  router.add("GET", "/portal", "", page(&Portal::home));
  router.add("GET", "/portal/subscriptions/{id}", "", page(&Portal::subscription));
  for (std::string action : {"skip", "pause", "resume", "next-date", "frequency", "add-ons"})
    router.add("POST", "/portal/subscriptions/{id}/" + action, "",
               [this, action](Request& req) { return act(req, action); });
  router.add("GET", "/portal/subscriptions/{id}/boxes/{period_start}", "", page(&Portal::selection));
  router.add("POST", "/portal/subscriptions/{id}/boxes/{period_start}", "", page(&Portal::selection));
  router.add("GET", "/portal/subscriptions/{id}/cancel", "", [this](Request& req) { return cancel(req, "reason"); });
  router.add("POST", "/portal/subscriptions/{id}/cancel", "", [this](Request& req) { return cancel(req, "offers"); });
  router.add("POST", "/portal/subscriptions/{id}/offers/{offer}/accept", "",
             [this](Request& req) { return cancel(req, "accept"); });
  router.add("POST", "/portal/subscriptions/{id}/cancel-anyway", "",
             [this](Request& req) { return cancel(req, "anyway"); });
  router.add("GET", "/portal/invoices/{id}/pdf", "", page(&Portal::pdf));
  router.add("GET", "/portal/account", "", [this](Request& req) { return account(req, "show"); });
  for (std::string step : {"address", "card", "erase"})
    router.add("POST", "/portal/account/" + step, "", [this, step](Request& req) { return account(req, step); });
  router.add("GET", "/portal/account/export", "", [this](Request& req) { return account(req, "export"); });
  router.add("GET", "/portal/gifts/claim", "", page(&Portal::claim));
  router.add("POST", "/portal/gifts/claim", "", page(&Portal::claim));
}

// ------------------------------------------------------------------ signing in and out

Response Portal::sign_in(Request& req) {
  Frame frame{"Sign in", "", std::nullopt, std::nullopt};
  if (req.method == "GET") return html(200, frame, sign_in_page());
  if (foreign_post(req, options_.url)) return refused_form(frame);
  const std::string email = field(http::parse_query(req.body), "email");
  if (email.empty() || email.size() > 320 || email.find('@') == std::string::npos) {
    frame.error = "Enter the e-mail address your subscription uses.";
    return html(422, frame, sign_in_page());
  }
  // The same answer whether the address is known or not: the page tells no one who subscribes.
  auto sent = db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    customers::ListFilter filter;
    filter.email = email;
    filter.page.limit = 3;
    RECUR_ASSIGN(auto found, customers::list_customers(tx, filter));
    for (const auto& c : found.items) {
      if (c.erased_at || c.email.empty()) continue;
      RECUR_ASSIGN(std::string token, sessions_.issue_sign_in_link(tx, c.id));
      notify::Message m;
      m.template_name = "portal_sign_in";
      m.to = c.email;
      m.customer = c.id;
      m.resource = c.id;
      m.data = {{"customer_name", c.name}, {"sign_in_url", sign_in_link(token)}};
      RECUR_TRY(outbox_.enqueue(tx, m));
    }
    return Ok{};
  });
  if (!sent.ok()) {
    spdlog::error("portal sign-in (request {}): {}", req.request_id, sent.error().message);
    frame.error = "We could not send the link just now; try again in a minute.";
    return html(503, frame, sign_in_page());
  }
  return html(200, frame, sign_in_sent_page());
}

Response Portal::confirm(Request& req) {
  Frame frame{"Sign in", "", std::nullopt, std::nullopt};
  if (req.method == "GET") {
    // Showing the page uses nothing up: mail scanners open links before people do.
    const std::string token = req.query_param("token").value_or("");
    if (token.empty() || token.size() > 200) {
      frame.error = "This is not a sign-in link; ask for a new one.";
      return html(400, frame, sign_in_page());
    }
    return html(200, frame, confirm_page(token));
  }
  if (foreign_post(req, options_.url)) return refused_form(frame);
  auto session = sessions_.redeem_sign_in_link(field(http::parse_query(req.body), "token"));
  if (!session.ok()) {
    frame.error = session.error().message;
    return html(session.error().kind == ErrorKind::kBadRequest ? 400 : 503, frame, sign_in_page());
  }
  Response r = see_other("/portal");
  r.set_header("Set-Cookie", cookie(session->token, false));
  return r;
}

Response Portal::sign_out(Request& req) {
  auto v = visit(req);
  if (!v) return to_sign_in();
  if (!same_secret(field(http::parse_query(req.body), "csrf"), v->csrf)) return refused_form({"Sign out", "", {}, {}});
  if (auto ended = sessions_.end(v->token); !ended.ok())
    spdlog::warn("portal sign-out (request {}): {}", req.request_id, ended.error().message);
  Response r = see_other("/portal/sign-in");
  r.set_header("Set-Cookie", cookie("", true));
  return r;
}

// ------------------------------------------------------------------ pages

Response Portal::home(Request& req) {
  auto v = visit(req);
  if (!v) return to_sign_in();
  Frame frame{"Your subscriptions", v->csrf, notice_of(req), std::nullopt};
  Call customer = api(*v, "GET", "/v1/customers/" + v->customer);
  Call subs = api(*v, "GET", "/v1/subscriptions?limit=100");
  Call invoices = api(*v, "GET", "/v1/invoices?limit=100");
  Call plans = api(*v, "GET", "/v1/plans?limit=100");
  for (const Call* c : {&customer, &subs, &invoices, &plans})
    if (!c->ok()) {
      frame.error = c->detail();
      return html(c->status, frame, "");
    }
  Json plan_by_id = Json::object();
  for (const auto& p : plans.body["data"]) plan_by_id[p.value("id", "")] = p;
  return html(200, frame, home_page(customer.body, subs.body["data"], invoices.body["data"], plan_by_id, v->csrf));
}

Response Portal::show_subscription(const Visit& v, const std::string& id, std::optional<std::string> notice,
                                   std::optional<std::string> error, int status) const {
  Frame frame{"Your subscription", v.csrf, std::move(notice), std::move(error)};
  Call sub = api(v, "GET", "/v1/subscriptions/" + seg(id));
  if (!sub.ok()) {
    frame.error = sub.detail();
    return html(sub.status, frame, "<p><a href=\"/portal\">Your subscriptions</a></p>");
  }
  Call plan = api(v, "GET", "/v1/plans/" + seg(sub.body.value("plan", "")));
  Call boxes = api(v, "GET", "/v1/subscriptions/" + seg(id) + "/boxes?count=3");
  Call products = api(v, "GET", "/v1/products?limit=100");
  return html(status, frame,
              subscription_page(sub.body, plan.ok() ? plan.body : Json::object(),
                                boxes.ok() ? boxes.body["data"] : Json::array(),
                                products.ok() ? products.body["data"] : Json::array(), v.csrf));
}

Response Portal::subscription(Request& req) {
  auto v = visit(req);
  if (!v) return to_sign_in();
  return show_subscription(*v, req.path_params["id"], notice_of(req), std::nullopt, 200);
}

Response Portal::act(Request& req, const std::string& action) {
  auto v = visit(req);
  if (!v) return to_sign_in();
  const auto form = http::parse_query(req.body);
  if (!same_secret(field(form, "csrf"), v->csrf)) return refused_form({"Your subscription", v->csrf, {}, {}});
  const std::string id = req.path_params["id"];
  const std::string path = "/v1/subscriptions/" + seg(id);
  Call done;
  std::string notice;
  if (action == "skip") {
    done = api(*v, "POST", path + "/skip", Json{{"period_start", field(form, "period_start")}});
    notice = "skipped";
  } else if (action == "pause" || action == "resume") {
    done = api(*v, "POST", path + "/" + action, Json::object());
    notice = action == "pause" ? "paused" : "resumed";
  } else if (action == "next-date") {
    done = api(*v, "POST", path + "/next-date", Json{{"date", field(form, "date") + "T00:00:00Z"}});
    notice = "moved";
  } else if (action == "frequency") {
    Call sub = api(*v, "GET", path);
    if (!sub.ok()) return show_subscription(*v, id, std::nullopt, sub.detail(), sub.status);
    char* end = nullptr;
    const std::string count_text = field(form, "interval_count");
    const long count = std::strtol(count_text.c_str(), &end, 10);
    Json delivery{{"interval", field(form, "interval")}, {"interval_count", count_text.empty() || *end ? 0 : count}};
    done = api(*v, "PATCH", path, Json{{"delivery", delivery}, {"version", sub.body.value("version", 0)}});
    notice = "frequency";
  } else {  // add-ons
    char* end = nullptr;
    const std::string qty = field(form, "quantity");
    const long quantity = std::strtol(qty.c_str(), &end, 10);
    done = api(
        *v, "POST", path + "/add-ons",
        Json{
            {"product", field(form, "product")}, {"quantity", qty.empty() || *end ? 0 : quantity}, {"period", "next"}});
    notice = "added";
  }
  if (!done.ok()) return show_subscription(*v, id, std::nullopt, done.detail(), done.status);
  return see_other("/portal/subscriptions/" + url_encode(id) + "?done=" + notice);
}

Response Portal::selection(Request& req) {
  auto v = visit(req);
  if (!v) return to_sign_in();
  const std::string id = req.path_params["id"];
  const std::string start = req.path_params["period_start"];
  Frame frame{"Your box", v->csrf, std::nullopt, std::nullopt};
  std::optional<Call> saved;
  if (req.method == "POST") {
    const auto form = http::parse_query(req.body);
    if (!same_secret(field(form, "csrf"), v->csrf)) return refused_form(frame);
    Json items = Json::array();
    for (const auto& [name, value] : form) {
      if (!name.starts_with("qty:")) continue;
      char* end = nullptr;
      const long quantity = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end || quantity < 0) {
        frame.error = "Quantities are whole numbers.";
        break;
      }
      if (quantity > 0) items.push_back({{"product", name.substr(4)}, {"quantity", quantity}});
    }
    if (!frame.error) {
      saved = api(*v, "PUT", "/v1/subscriptions/" + seg(id) + "/boxes/" + seg(start) + "/selection",
                  Json{{"items", items}});
      if (saved->ok()) return see_other("/portal/subscriptions/" + url_encode(id) + "?done=chosen");
      frame.error = saved->detail();
    }
  }
  Call sub = api(*v, "GET", "/v1/subscriptions/" + seg(id));
  if (!sub.ok()) {
    frame.error = sub.detail();
    return html(sub.status, frame, "");
  }
  Call plan = api(*v, "GET", "/v1/plans/" + seg(sub.body.value("plan", "")));
  Call boxes = api(*v, "GET", "/v1/subscriptions/" + seg(id) + "/boxes?count=12");
  Json box;
  if (boxes.ok())
    for (const auto& b : boxes.body["data"])
      if (b["period"].value("start", "") == start) box = b;
  if (!box.is_object() || !box["selection"].is_object()) {
    frame.error = "This box cannot be chosen (it has begun, or its plan offers no choice).";
    return html(404, frame, "<p><a href=\"/portal/subscriptions/" + escape(url_encode(id)) + "\">Back</a></p>");
  }
  std::int64_t choose = 1;
  if (plan.ok() && plan.body["selection"].is_object()) choose = plan.body["selection"].value("choose", 1);
  const int status = saved ? saved->status : (frame.error ? 422 : 200);
  return html(status, frame, selection_page(sub.body, box, choose, v->csrf));
}

Response Portal::cancel(Request& req, const std::string& step) {
  auto v = visit(req);
  if (!v) return to_sign_in();
  const std::string id = req.path_params["id"];
  const std::string path = "/v1/subscriptions/" + seg(id);
  Frame frame{"Cancel", v->csrf, std::nullopt, std::nullopt};
  Call sub = api(*v, "GET", path);
  if (!sub.ok()) {
    frame.error = sub.detail();
    return html(sub.status, frame, "");
  }
  if (step == "reason") return html(200, frame, cancel_page(sub.body, v->csrf));
  const auto form = http::parse_query(req.body);
  if (!same_secret(field(form, "csrf"), v->csrf)) return refused_form(frame);
  if (step == "offers") {
    const std::string reason = field(form, "reason");
    Call offers = api(*v, "POST", path + "/cancellation-offers", Json{{"reason", reason}});
    if (!offers.ok()) {
      frame.error = offers.detail();
      return html(offers.status, frame, cancel_page(sub.body, v->csrf));
    }
    return html(200, frame, offers_page(sub.body, reason, offers.body["data"], v->csrf));
  }
  if (step == "accept") {
    Call accepted = api(*v, "POST", path + "/cancellation-offers/" + seg(req.path_params["offer"]) + "/accept",
                        Json::object());
    if (!accepted.ok()) return show_subscription(*v, id, std::nullopt, accepted.detail(), accepted.status);
    return see_other("/portal/subscriptions/" + url_encode(id) + "?done=offer");
  }
  // Cancel anyway: every offer shown is declined (recorded for the merchant), then the cancel.
  std::string offers = field(form, "offers");
  for (std::size_t from = 0; from < offers.size();) {
    auto comma = offers.find(',', from);
    if (comma == std::string::npos) comma = offers.size();
    Call declined =
        api(*v, "POST", path + "/cancellation-offers/" + seg(offers.substr(from, comma - from)) + "/decline",
            Json::object());
    if (!declined.ok() && declined.status != 404)
      return show_subscription(*v, id, std::nullopt, declined.detail(), declined.status);
    from = comma + 1;
  }
  Call canceled = api(*v, "POST", path + "/cancel", Json{{"reason", field(form, "reason")}, {"at", "period_end"}});
  if (!canceled.ok()) return show_subscription(*v, id, std::nullopt, canceled.detail(), canceled.status);
  return see_other("/portal/subscriptions/" + url_encode(id) + "?done=canceled");
}

Response Portal::show_account(const Visit& v, std::optional<std::string> notice, std::optional<std::string> error,
                              int status) const {
  Frame frame{"Account", v.csrf, std::move(notice), std::move(error)};
  Call customer = api(v, "GET", "/v1/customers/" + v.customer);
  if (!customer.ok()) {
    frame.error = customer.detail();
    return html(customer.status, frame, "");
  }
  return html(status, frame, account_page(customer.body, v.csrf));
}

Response Portal::account(Request& req, const std::string& step) {
  auto v = visit(req);
  if (!v) return to_sign_in();
  if (step == "show") return show_account(*v, notice_of(req), std::nullopt, 200);
  const std::string path = "/v1/customers/" + v->customer;
  if (step == "export") {
    Call doc = api(*v, "GET", path + "/export");
    if (!doc.ok()) return show_account(*v, std::nullopt, doc.detail(), doc.status);
    Response r;
    r.content_type = "application/json";
    r.body = std::move(doc.raw);
    r.set_header("Content-Disposition", "attachment; filename=\"my-data.json\"");
    return r;
  }
  const auto form = http::parse_query(req.body);
  if (!same_secret(field(form, "csrf"), v->csrf)) return refused_form({"Account", v->csrf, {}, {}});
  if (step == "address") {
    Json address = Json::object();
    for (const char* name : {"line1", "line2", "city", "state", "postal_code", "country"})
      if (auto value = field(form, name); !value.empty()) address[name] = value;
    Call saved = api(*v, "PATCH", path, Json{{"shipping_address", address}});
    if (!saved.ok()) return show_account(*v, std::nullopt, saved.detail(), saved.status);
    return see_other("/portal/account?done=address");
  }
  if (step == "card") {
    // The existing flow: a one-time update-payment link to the hosted page, made here.
    if (options_.payment_update_url.empty())
      return show_account(*v, std::nullopt, "Card updates are not set up at this shop.", 503);
    const std::string token = billing::new_payment_update_token();
    auto issued = db::transact(db_, [&](db::Tx& tx) {
      return billing::issue_payment_update_token(tx, token, {v->customer, std::nullopt, std::nullopt}, clock_.now(),
                                                 options_.payment_update_seconds);
    });
    if (!issued.ok()) return show_account(*v, std::nullopt, "We could not start the card update; try again.", 503);
    // A link, not a redirect: the card page may be on another origin, where the pages' CSP
    // (form-action 'self') stops a form's redirect.
    return html(200, {"Update your card", v->csrf, std::nullopt, std::nullopt},
                card_link_page(notify::update_payment_link(options_.payment_update_url, token)));
  }
  // erase: only once the customer confirmed, as an operator's erasure would.
  if (field(form, "confirm") != "yes")
    return show_account(*v, std::nullopt, "Tick the box to confirm that your data should be deleted.", 422);
  Call erased = api(*v, "POST", path + "/erase", Json{{"reason", "requested by the customer in the portal"}});
  if (!erased.ok()) return show_account(*v, std::nullopt, erased.detail(), erased.status);
  Response r = html(200, {"Deleted", "", std::nullopt, std::nullopt}, erased_page());
  r.set_header("Set-Cookie", cookie("", true));
  return r;
}

Response Portal::claim(Request& req) {
  auto v = visit(req);
  if (!v) return to_sign_in();
  Frame frame{"Claim a gift", v->csrf, std::nullopt, std::nullopt};
  if (req.method == "GET") return html(200, frame, claim_page(req.query_param("code").value_or(""), v->csrf));
  const auto form = http::parse_query(req.body);
  if (!same_secret(field(form, "csrf"), v->csrf)) return refused_form(frame);
  Json body{{"claim_code", field(form, "claim_code")}};
  if (auto day = field(form, "start_date"); !day.empty()) body["start_date"] = day + "T00:00:00Z";
  Call claimed = api(*v, "POST", "/v1/gifts/claim", body);
  if (!claimed.ok()) {
    frame.error = claimed.detail();
    return html(claimed.status, frame, claim_page(field(form, "claim_code"), v->csrf));
  }
  return see_other("/portal/subscriptions/" + url_encode(claimed.body.value("subscription", "")) + "?done=claimed");
}

Response Portal::pdf(Request& req) {
  auto v = visit(req);
  if (!v) return to_sign_in();
  Call doc = api(*v, "GET", "/v1/invoices/" + seg(req.path_params["id"]) + "/pdf");
  if (!doc.ok()) return html(doc.status, {"Invoice", v->csrf, std::nullopt, doc.detail()}, "");
  Response r;
  r.content_type = doc.content_type;
  r.body = std::move(doc.raw);
  r.set_header("Content-Disposition", "inline; filename=\"" + req.path_params["id"] + ".pdf\"");
  return r;
}

}  // namespace recur::portal
