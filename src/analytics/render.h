// Analytics reports as CSV and SVG (content negotiation on the analytics routes): pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "platform/json.h"

namespace recur::analytics {

// `body` is the JSON a report answers; `report` its path's last segment ("mrr-movements").
// nullopt: the report has no such rendering (the route answers 406).
std::optional<std::string> render_csv(std::string_view report, const Json& body);
std::optional<std::string> render_svg(std::string_view report, const Json& body);

}  // namespace recur::analytics
