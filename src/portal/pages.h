// The customer portal's pages (docs/portal.md): HTML built from the API's JSON, with every
// value escaped. Pure: no I/O, so each page is table-tested (pages_test.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/json.h"

namespace recur::portal {

// & < > " ' as entities: safe in text and in double-quoted attributes.
std::string escape(std::string_view text);
// "2026-03-01" of an RFC 3339 time (the text itself when it is not one).
std::string day_of(std::string_view rfc3339);
// "12.34 USD" of minor units and an ISO currency.
std::string money(std::int64_t minor, std::string_view currency);

// What every page around its content needs.
struct Frame {
  std::string title;
  std::string csrf;                   // empty: not signed in (no sign-out form)
  std::optional<std::string> notice;  // after an action: #notice
  std::optional<std::string> error;   // a refused action's detail: .error
};
std::string layout(const Frame& frame, std::string_view content);
// A POST form with the CSRF field: `fields` (hidden name/value pairs) and a submit button.
std::string form(std::string_view id_or_class, std::string_view action, std::string_view csrf,
                 const std::vector<std::pair<std::string, std::string>>& hidden, std::string_view button,
                 std::string_view inner = "");

std::string sign_in_page();
std::string sign_in_sent_page();
std::string confirm_page(std::string_view token);

// `customer`: the API's customer; `subscriptions`, `invoices`: its lists' `data`; `plans`:
// plan id -> the plan (for names).
std::string home_page(const Json& customer, const Json& subscriptions, const Json& invoices, const Json& plans,
                      std::string_view csrf);
// `boxes`: GET …/boxes' `data`; `plan`: the subscription's plan; `products`: the add-ons offered.
std::string subscription_page(const Json& subscription, const Json& plan, const Json& boxes, const Json& products,
                              std::string_view csrf);
std::string selection_page(const Json& subscription, const Json& box, std::int64_t choose, std::string_view csrf);
std::string cancel_page(const Json& subscription, std::string_view csrf);
// The offers the API presented for `reason` (each a retention_offer).
std::string offers_page(const Json& subscription, std::string_view reason, const Json& offers, std::string_view csrf);
std::string account_page(const Json& customer, std::string_view csrf);
std::string claim_page(std::string_view code, std::string_view csrf);
std::string erased_page();
// The one-time link to the hosted update-payment page.
std::string card_link_page(std::string_view link);

}  // namespace recur::portal
