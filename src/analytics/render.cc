// See render.h. (Placeholder until the renderers land: every report answers 406.)
#include "analytics/render.h"

namespace recur::analytics {

std::optional<std::string> render_csv(std::string_view, const Json&) { return std::nullopt; }
std::optional<std::string> render_svg(std::string_view, const Json&) { return std::nullopt; }

}  // namespace recur::analytics
