// The portal's HTML; see pages.h. Plain HTML forms (no script): every action is a POST that
// answers 303 to a page, so a reload never repeats it.
#include "portal/pages.h"

#include <fmt/format.h>

#include "platform/money.h"

namespace recur::portal {
namespace {

std::string text_of(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}
std::string esc(const Json& j, const char* key) { return escape(text_of(j, key)); }

std::string plan_name(const Json& plans, const std::string& id) {
  if (plans.is_object()) {
    auto it = plans.find(id);
    if (it != plans.end() && it->is_object()) return text_of(*it, "name");
  }
  return id;
}

// The first box not skipped: the next delivery.
std::string next_box_day(const Json& boxes) {
  if (!boxes.is_array()) return "";
  for (const auto& b : boxes)
    if (!b.value("skipped", false)) return day_of(text_of(b["period"], "start"));
  return "";
}

std::string item_list(const Json& items, const Json& names) {
  std::string out = "<ul class=\"contents\">";
  if (items.is_array())
    for (const auto& i : items) {
      const std::string product = text_of(i, "product");
      std::string name = product;
      if (names.is_object() && names.contains(product)) name = names[product].get<std::string>();
      out += fmt::format("<li class=\"item\" data-product=\"{}\" data-quantity=\"{}\">{} &times; {}</li>",
                         escape(product), i.value("quantity", 0), escape(name), i.value("quantity", 0));
    }
  return out + "</ul>";
}

constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "form{display:inline-block;margin:.2rem 0}form.block{display:block;margin:.6rem 0}"
    "label{display:block;margin:.3rem 0}#notice{background:#e7f6e7;padding:.5rem}"
    ".error{background:#fdeaea;padding:.5rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left}"
    "li.box{margin:.6rem 0}.skipped{color:#888}nav a{margin-right:1rem}";

constexpr std::string_view kReasons[] = {
    "too_expensive", "product_quality", "delivery_problems", "not_using", "switched_competitor", "moving", "other"};
constexpr std::string_view kReasonWords[] = {"It costs too much", "The quality",          "Deliveries went wrong",
                                             "I do not use it",   "I found another shop", "I am moving",
                                             "Something else"};

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string day_of(std::string_view rfc3339) {
  if (rfc3339.size() >= 10 && rfc3339[4] == '-' && rfc3339[7] == '-') return std::string(rfc3339.substr(0, 10));
  return std::string(rfc3339);
}

std::string money(std::int64_t minor, std::string_view currency) { return format_amount(minor, currency); }

std::string layout(const Frame& frame, std::string_view content) {
  std::string out = fmt::format(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>{}</title><style>{}</style></head><body>\n",
      escape(frame.title), kStyle);
  if (!frame.csrf.empty())
    out +=
        "<nav><a href=\"/portal\">Subscriptions</a><a id=\"account\" href=\"/portal/account\">Account</a>"
        "<a id=\"claim-gift\" href=\"/portal/gifts/claim\">Claim a gift</a>" +
        form("sign-out", "/portal/sign-out", frame.csrf, {}, "Sign out") + "</nav>\n";
  if (frame.notice) out += "<p id=\"notice\" role=\"status\">" + escape(*frame.notice) + "</p>\n";
  if (frame.error) out += "<p class=\"error\" role=\"alert\">" + escape(*frame.error) + "</p>\n";
  out += content;
  out += "\n</body></html>\n";
  return out;
}

std::string form(std::string_view id_or_class, std::string_view action, std::string_view csrf,
                 const std::vector<std::pair<std::string, std::string>>& hidden, std::string_view button,
                 std::string_view inner) {
  // "#x" names an id, ".x" a class; a bare word is an id.
  std::string attr = id_or_class.starts_with('.') ? fmt::format("class=\"{}\"", escape(id_or_class.substr(1)))
                                                  : fmt::format("id=\"{}\"", escape(id_or_class));
  std::string out = fmt::format("<form {} method=\"post\" action=\"{}\">", attr, escape(action));
  if (!csrf.empty()) out += fmt::format("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(csrf));
  for (const auto& [name, value] : hidden)
    out += fmt::format("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value));
  out += inner;
  out += fmt::format("<button type=\"submit\">{}</button></form>", escape(button));
  return out;
}

std::string sign_in_page() {
  return "<h1>Sign in</h1><p>We e-mail you a link that signs you in; no password needed.</p>" +
         form("sign-in", "/portal/sign-in", "", {}, "E-mail me a link",
              "<label>E-mail <input type=\"email\" name=\"email\" required maxlength=\"320\" "
              "autocomplete=\"email\"></label>");
}

std::string sign_in_sent_page() {
  return "<h1>Check your e-mail</h1><p id=\"notice\" role=\"status\">If this address belongs to a subscriber, a sign-in link is on its way. "
         "It works once, for 15 minutes.</p>";
}

std::string confirm_page(std::string_view token) {
  return "<h1>Sign in</h1>" + form("confirm", "/portal/sign-in/link", "", {{"token", std::string(token)}}, "Sign in");
}

std::string home_page(const Json& customer, const Json& subscriptions, const Json& invoices, const Json& plans,
                      std::string_view) {
  std::string out = fmt::format("<h1>{}</h1>", esc(customer, "name"));
  out += "<h2>Subscriptions</h2><ul id=\"subscriptions\">";
  if (subscriptions.is_array())
    for (const auto& s : subscriptions) {
      const std::string id = text_of(s, "id");
      out += fmt::format(
          "<li class=\"subscription\" data-id=\"{0}\"><a href=\"/portal/subscriptions/{0}\">{1}</a> "
          "&middot; <span class=\"status\">{2}</span></li>",
          escape(id), escape(plan_name(plans, text_of(s, "plan"))), esc(s, "status"));
    }
  out +=
      "</ul><h2>Invoices</h2><table id=\"invoices\"><tr><th>Number</th><th>Date</th><th>Total</th><th>Status</th>"
      "<th></th></tr>";
  if (invoices.is_array())
    for (const auto& i : invoices) {
      const std::string id = text_of(i, "id");
      out += fmt::format(
          "<tr class=\"invoice\" data-id=\"{0}\"><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td>"
          "<td><a class=\"pdf\" href=\"/portal/invoices/{0}/pdf\">PDF</a></td></tr>",
          escape(id), esc(i, "number"), escape(day_of(text_of(i, "created"))),
          escape(money(i.value("total", std::int64_t{0}), text_of(i, "currency"))), esc(i, "status"));
    }
  return out + "</table>";
}

std::string subscription_page(const Json& s, const Json& plan, const Json& boxes, const Json& products,
                              std::string_view csrf) {
  const std::string id = text_of(s, "id");
  const std::string base = "/portal/subscriptions/" + id;
  const std::string status = text_of(s, "status");
  Json names = Json::object();
  if (products.is_array())
    for (const auto& p : products) names[text_of(p, "id")] = text_of(p, "name");
  std::string out =
      fmt::format("<h1>{}</h1><dl><dt>Status</dt><dd id=\"status\">{}</dd>", esc(plan, "name"), escape(status));
  out += fmt::format("<dt>Plan</dt><dd id=\"plan\" data-id=\"{}\">{}</dd>", esc(s, "plan"), esc(plan, "name"));
  out += fmt::format("<dt>Next delivery</dt><dd id=\"next-date\">{}</dd></dl>", escape(next_box_day(boxes)));
  if (s.value("cancel_at_period_end", false))
    out += "<p id=\"ending\">This subscription ends at the end of the current period.</p>";
  const bool live = status == "active" || status == "trialing" || status == "past_due";
  out += "<h2>Upcoming boxes</h2><ol id=\"boxes\">";
  if (boxes.is_array())
    for (const auto& b : boxes) {
      const std::string start = text_of(b["period"], "start");
      const bool skipped = b.value("skipped", false);
      out += fmt::format("<li class=\"box{}\" data-period-start=\"{}\"><strong>{}</strong>{}",
                         skipped ? " skipped" : "", escape(start), escape(day_of(start)), skipped ? " (skipped)" : "");
      const Json& selection = b["selection"];
      if (selection.is_object()) {
        out += item_list(selection["items"], names);
        if (!skipped && selection.value("open", false))
          out += fmt::format(" <a class=\"customize\" href=\"{}/boxes/{}\">Choose what is in it</a> (until {})",
                             escape(base), escape(start), escape(day_of(text_of(selection, "cutoff_at"))));
      } else {
        out += item_list(plan["items"], names);
      }
      if (!skipped && live) out += form(".skip", base + "/skip", csrf, {{"period_start", start}}, "Skip this box");
      out += "</li>";
    }
  out += "</ol>";
  if (!live && status != "paused") return out;
  out += "<h2>Change</h2>";
  if (status == "paused")
    out += form("resume", base + "/resume", csrf, {}, "Resume");
  else
    out += form("pause", base + "/pause", csrf, {}, "Pause");
  if (live) {
    out += form("next-date", base + "/next-date", csrf, {}, "Move the next delivery",
                "<label>Next delivery on <input type=\"date\" name=\"date\" required></label>");
    const Json& delivery = s["delivery"];
    const std::string interval = delivery.is_object() ? text_of(delivery, "interval") : text_of(plan, "interval");
    const std::int64_t count = delivery.is_object() ? delivery.value("interval_count", std::int64_t{1})
                                                    : plan.value("interval_count", std::int64_t{1});
    out += form("frequency", base + "/frequency", csrf, {}, "Change how often",
                fmt::format("<label>Every <input type=\"number\" name=\"interval_count\" min=\"1\" max=\"12\" "
                            "value=\"{}\"> <select name=\"interval\"><option value=\"week\"{}>weeks</option>"
                            "<option value=\"month\"{}>months</option></select></label>",
                            count, interval == "week" ? " selected" : "", interval == "month" ? " selected" : ""));
    std::string options;
    if (products.is_array())
      for (const auto& p : products)
        options += fmt::format("<option value=\"{}\">{}</option>", esc(p, "id"), esc(p, "name"));
    out += form("add-on", base + "/add-ons", csrf, {}, "Add to the next box",
                "<label>Extra <select name=\"product\">" + options +
                    "</select></label><label>Quantity <input type=\"number\" name=\"quantity\" min=\"1\" max=\"100\" "
                    "value=\"1\"></label>");
    if (!s.value("cancel_at_period_end", false))
      out += fmt::format("<p><a id=\"cancel\" href=\"{}/cancel\">Cancel the subscription</a></p>", escape(base));
  }
  return out;
}

std::string selection_page(const Json& s, const Json& box, std::int64_t choose, std::string_view csrf) {
  const std::string start = text_of(box["period"], "start");
  const Json& selection = box["selection"];
  Json chosen = Json::object();
  if (selection.is_object() && selection["items"].is_array())
    for (const auto& i : selection["items"]) chosen[text_of(i, "product")] = i.value("quantity", 0);
  std::string inputs;
  if (selection.is_object() && selection["options"].is_array())
    for (const auto& o : selection["options"]) {
      const std::string product = text_of(o, "product");
      const bool available = o.value("available", true);
      inputs +=
          fmt::format("<label>{}{} <input type=\"number\" name=\"qty:{}\" min=\"0\" max=\"{}\" value=\"{}\"{}></label>",
                      esc(o, "name"), available ? "" : " (out of stock)", escape(product), choose,
                      chosen.contains(product) ? chosen[product].get<int>() : 0, available ? "" : " disabled");
    }
  return fmt::format("<h1>Your box of {}</h1><p>Choose <strong id=\"choose\">{}</strong> items, until {}.</p>",
                     escape(day_of(start)), choose, escape(day_of(text_of(selection, "cutoff_at")))) +
         form("selection", "/portal/subscriptions/" + text_of(s, "id") + "/boxes/" + start, csrf, {}, "Save my choice",
              inputs);
}

std::string cancel_page(const Json& s, std::string_view csrf) {
  std::string options;
  for (std::size_t i = 0; i < std::size(kReasons); ++i)
    options += fmt::format("<option value=\"{}\">{}</option>", kReasons[i], kReasonWords[i]);
  return "<h1>Cancel</h1><p>Before you go: why are you leaving?</p>" +
         form("cancel-reason", "/portal/subscriptions/" + text_of(s, "id") + "/cancel", csrf, {}, "Continue",
              "<label>Reason <select name=\"reason\">" + options + "</select></label>");
}

std::string offers_page(const Json& s, std::string_view reason, const Json& offers, std::string_view csrf) {
  const std::string base = "/portal/subscriptions/" + text_of(s, "id");
  std::string out = "<h1>Would one of these help?</h1>";
  std::string ids;
  if (offers.is_array())
    for (const auto& o : offers) {
      const std::string id = text_of(o, "id");
      ids += (ids.empty() ? "" : ",") + id;
      std::string f = form(".offer", base + "/offers/" + id + "/accept", csrf, {}, "Yes, I take it",
                           fmt::format("<p>{}</p>", esc(o, "description")));
      // The form's data-offer names the offer for scripts and tests.
      f.insert(f.find("<form ") + 6, fmt::format("data-offer=\"{}\" ", escape(id)));
      out += f;
    }
  if (ids.empty()) out += "<p>We have nothing to offer for this reason.</p>";
  out += form("cancel-anyway", base + "/cancel-anyway", csrf, {{"reason", std::string(reason)}, {"offers", ids}},
              "No thanks, cancel at the end of the period");
  return out;
}

std::string account_page(const Json& c, std::string_view csrf) {
  const Json& a = c["shipping_address"];
  auto field = [&](const char* name, const char* label) {
    return fmt::format("<label>{} <input name=\"{}\" value=\"{}\" maxlength=\"200\"></label>", label, name,
                       a.is_object() ? esc(a, name) : std::string());
  };
  std::string out = fmt::format("<h1>Account</h1><p>{} &middot; {}</p>", esc(c, "name"), esc(c, "email"));
  out += "<h2>Shipping address</h2>" +
         form("address", "/portal/account/address", csrf, {}, "Save the address",
              field("line1", "Street") + field("line2", "More") + field("city", "City") + field("state", "State") +
                  field("postal_code", "Postal code") + field("country", "Country (2 letters)"));
  out += "<h2>Card</h2>" + form("card", "/portal/account/card", csrf, {}, "Update my card");
  out +=
      "<h2>Your data</h2><p><a id=\"export\" href=\"/portal/account/export\" download>Download everything we hold "
      "about you</a> (JSON)</p>";
  out += form("erase", "/portal/account/erase", csrf, {}, "Delete my personal data",
              "<label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> I understand: my "
              "subscriptions end now and my personal data is deleted for good.</label>");
  return out;
}

std::string claim_page(std::string_view code, std::string_view csrf) {
  return "<h1>Claim a gift</h1>" +
         form("claim", "/portal/gifts/claim", csrf, {}, "Claim",
              fmt::format("<label>Code <input name=\"claim_code\" value=\"{}\" required maxlength=\"40\"></label>"
                          "<label>First box on <input type=\"date\" name=\"start_date\"></label>",
                          escape(code)));
}

std::string card_link_page(std::string_view link) {
  return fmt::format(
      "<h1>Update your card</h1><p>The card form is on our payment page; the link works once.</p>"
      "<p><a id=\"card-link\" href=\"{}\">Continue to the payment page</a></p>",
      escape(link));
}

std::string erased_page() {
  return "<h1>Your data is deleted</h1><p>Your subscriptions have ended and your personal data was erased. "
         "Invoices stay, as the law requires, without your name or address.</p>";
}

}  // namespace recur::portal
