// Analytics reports as CSV and SVG (content negotiation on the analytics routes): pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "platform/json.h"

namespace recur::analytics {

// `report` is the endpoint's last path segment ("mrr", "mrr-movements", "churn", "ltv",
// "renewals", "cohorts", "survival", "engagement", "cancellations", "at-risk", "customers";
// "customer-ltv" for GET /v1/customers/{id}/ltv) and `body` exactly the JSON the endpoint
// answers. nullopt: the report has no such rendering
// (the route answers 406). Neither throws on a body of an unexpected shape: a missing or
// mistyped field reads as null.

// RFC 4180: a header row, CRLF after every record, a field quoted when it holds a comma, a
// quote or a line break. A list's rows are its `data`; a single object is one row. Nested
// objects are flattened with dots (counts.new); cohorts' `periods` and survival's `steps`
// are expanded, one record per inner row with the outer columns repeated; an array of
// values is one field joined with "; ". A list's `currency` is a column when its rows have
// none. null is an empty field. A text field starting with = + - @, a tab or a CR gets a
// leading apostrophe (spreadsheet formula injection); numbers are written as they are.
// Every report has a CSV.
std::optional<std::string> render_csv(std::string_view report, const Json& body);

// A self-contained SVG chart (no script, no external reference, no style sheet: presentation
// attributes only, which the API's Content-Security-Policy allows): width, height and
// viewBox, a title, a legend, axes labelled with dates (YYYY-MM-DD) and amounts in major
// units (12345 usd -> 123.45); every text XML-escaped. Data marks carry class "mark" and
// their kind (bar, line, dot, cell, step, band). ltv, customers and customer-ltv have none.
std::optional<std::string> render_svg(std::string_view report, const Json& body);

}  // namespace recur::analytics
