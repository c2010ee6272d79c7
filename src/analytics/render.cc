// Analytics reports as CSV and SVG charts; see render.h.
#include "analytics/render.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "platform/money.h"

namespace recur::analytics {
namespace {

// ---------------------------------------------------------------- reading a body

const Json* member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  return it == object.end() ? nullptr : &*it;
}

// A list's rows (its `data`), or nothing.
std::vector<const Json*> rows_of(const Json& body) {
  std::vector<const Json*> rows;
  const Json* data = member(body, "data");
  if (data == nullptr || !data->is_array()) return rows;
  for (const auto& row : *data)
    if (row.is_object()) rows.push_back(&row);
  return rows;
}

std::vector<const Json*> inner_rows(const Json& row, std::string_view key) {
  std::vector<const Json*> out;
  const Json* list = member(row, key);
  if (list == nullptr || !list->is_array()) return out;
  for (const auto& inner : *list)
    if (inner.is_object()) out.push_back(&inner);
  return out;
}

std::optional<double> number_at(const Json& row, std::string_view key) {
  const Json* v = member(row, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

double number_or_zero(const Json& row, std::string_view key) { return number_at(row, key).value_or(0); }

std::string text_at(const Json& row, std::string_view key) {
  const Json* v = member(row, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// "2027-01-31T00:00:00Z" -> "2027-01-31".
std::string date_of(std::string_view rfc3339) { return std::string(rfc3339.substr(0, 10)); }

// ---------------------------------------------------------------- CSV

// Which columns a report has, in the order a person reads them; fields the layout does not
// name (a model's signals, a field added later) follow, sorted.
struct CsvLayout {
  bool list = true;  // rows are the body's data; else the body is the one row
  std::vector<std::string_view> columns;
  std::string_view expand;  // an array of inner rows, one record each
  std::vector<std::string_view> inner_columns;
};

const std::map<std::string_view, CsvLayout>& csv_layouts() {
  static const std::map<std::string_view, CsvLayout> kLayouts = {
      {"mrr", {false, {"at", "currency", "mrr", "arr", "customers", "subscriptions", "arpa"}, {}, {}}},
      {"ltv", {false, {"at", "currency", "arpa", "customer_churn_rate", "ltv"}, {}, {}}},
      {"mrr-movements",
       {true,
        {"period_start", "period_end", "mrr_start", "new", "expansion", "contraction", "churn", "reactivation",
         "mrr_end", "counts.new", "counts.expansion", "counts.contraction", "counts.churn", "counts.reactivation"},
        {},
        {}}},
      {"churn",
       {true,
        {"period_start", "period_end", "customers_start", "churned_customers", "customer_churn_rate", "voluntary",
         "involuntary", "gross_mrr_churn_rate", "net_mrr_churn_rate", "quick_ratio"},
        {},
        {}}},
      {"renewals",
       {true,
        {"period_start", "period_end", "due", "paid_first_attempt", "recovered", "failed", "pending",
         "first_attempt_rate", "recovered_rate", "failed_rate", "recovery_rate", "first_renewals_due",
         "first_renewals_paid", "first_renewal_rate"},
        {},
        {}}},
      {"cohorts",
       {true,
        {"cohort_start", "cohort_end", "customers", "mrr_start", "realised_ltv"},
        "periods",
        {"period_start", "period_end", "customers", "retention", "mrr", "nrr", "grr"}}},
      {"survival",
       {true,
        {"group", "subscriptions", "ended", "median_days"},
        "steps",
        {"days", "at_risk", "ended", "survival", "lower", "upper"}}},
      {"engagement",
       {true,
        {"period_start", "period_end", "active_subscribers", "engaged_subscribers", "engaged_share",
         "actions_per_subscriber", "skips", "pauses", "resumes", "upgrades", "downgrades", "frequency_changes",
         "coupon_redemptions", "backorder_choices", "retention_interactions", "api_actions"},
        {},
        {}}},
      {"cancellations",
       {true,
        {"period_start", "period_end", "reason", "offer", "cancellations", "offered", "accepted", "declined",
         "canceled_anyway", "accepted_retained_30d", "accepted_retained_60d", "accepted_retained_90d"},
        {},
        {}}},
      {"at-risk", {true, {"subscription", "customer", "plan", "currency", "mrr", "score", "reasons"}, {}, {}}},
      {"customers",
       {true,
        {"customer", "currency", "realised", "average_order_value", "orders_per_month", "expected_remaining_months",
         "expected_future", "ltv"},
        {},
        {}}},
      // GET /v1/customers/{id}/ltv: one customer's row of the ranking.
      {"customer-ltv",
       {false,
        {"customer", "currency", "realised", "average_order_value", "orders_per_month", "expected_remaining_months",
         "expected_future", "ltv"},
        {},
        {}}},
  };
  return kLayouts;
}

// A row's fields by dotted path. `skip` leaves out the expanded array (and an object's
// "object" tag, which names the type and is the same on every row).
using FlatRow = std::map<std::string, const Json*, std::less<>>;

void flatten(const Json& value, const std::string& path, std::string_view skip, FlatRow& out) {
  if (!value.is_object()) {
    if (!path.empty()) out[path] = &value;
    return;
  }
  for (const auto& [key, inner] : value.items()) {
    if (path.empty() && (key == "object" || key == skip)) continue;
    flatten(inner, path.empty() ? key : path + "." + key, {}, out);
  }
}

std::vector<std::string> columns_of(const std::vector<std::string_view>& named, const std::vector<FlatRow>& rows) {
  std::vector<std::string> columns(named.begin(), named.end());
  std::set<std::string> extra;
  for (const auto& row : rows)
    for (const auto& [path, value] : row)
      if (std::find(named.begin(), named.end(), path) == named.end()) extra.insert(path);
  columns.insert(columns.end(), extra.begin(), extra.end());
  return columns;
}

// A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
std::string guard_formula(std::string text) {
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos) text.insert(0, "'");
  return text;
}

std::string scalar_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "";
  return v.dump();
}

std::string field_text(const Json* v) {
  if (v == nullptr || v->is_null()) return "";
  if (v->is_number() || v->is_boolean()) return scalar_text(*v);
  if (v->is_string()) return guard_formula(v->get<std::string>());
  bool scalars = v->is_array() && std::none_of(v->begin(), v->end(), [](const Json& e) { return e.is_structured(); });
  if (!scalars) return guard_formula(v->dump());
  std::string joined;
  for (const auto& e : *v) {
    if (e.is_null()) continue;
    if (!joined.empty()) joined += "; ";
    joined += scalar_text(e);
  }
  return guard_formula(joined);
}

std::string quoted(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void write_record(std::string& out, const std::vector<std::string>& fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += quoted(fields[i]);
  }
  out += "\r\n";
}

std::vector<std::string> fields_of(const FlatRow& row, const std::vector<std::string>& columns) {
  std::vector<std::string> fields;
  for (const auto& column : columns) {
    auto it = row.find(column);
    fields.push_back(field_text(it == row.end() ? nullptr : it->second));
  }
  return fields;
}

// One CSV row before expansion: its own fields and those of its inner rows.
struct CsvRow {
  FlatRow outer;
  std::vector<FlatRow> inner;
};

std::string write_csv(const CsvLayout& layout, const std::vector<CsvRow>& rows) {
  std::vector<FlatRow> outers, inners;
  for (const auto& row : rows) {
    outers.push_back(row.outer);
    inners.insert(inners.end(), row.inner.begin(), row.inner.end());
  }
  auto columns = columns_of(layout.columns, outers);
  std::vector<std::string> inner_columns;
  if (!layout.expand.empty()) inner_columns = columns_of(layout.inner_columns, inners);
  std::vector<std::string> header = columns;
  for (const auto& c : inner_columns) header.push_back(std::string(layout.expand) + "." + c);

  std::string out;
  write_record(out, header);
  for (const auto& row : rows) {
    auto outer = fields_of(row.outer, columns);
    if (layout.expand.empty() || row.inner.empty()) {
      // A cohort without periods still shows: its inner fields are empty.
      outer.resize(header.size());
      write_record(out, outer);
      continue;
    }
    for (const auto& inner : row.inner) {
      auto fields = outer;
      auto more = fields_of(inner, inner_columns);
      fields.insert(fields.end(), more.begin(), more.end());
      write_record(out, fields);
    }
  }
  return out;
}

// ---------------------------------------------------------------- SVG: text and numbers

// XML text and attribute values. Characters XML 1.0 does not allow (controls but tab, LF
// and CR) are dropped: a parser would refuse the whole document for one of them.
std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

// At most `max` characters (code points, never a UTF-8 sequence cut), an ellipsis if cut.
std::string shortened(std::string_view text, std::size_t max) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars++ == max) return std::string(text.substr(0, i)) + "\u2026";
  }
  return std::string(text);
}

std::string num(double v) {
  if (std::abs(v) < 0.05) return "0";
  return fmt::format("{:.1f}", v);
}

// 12345 at exponent 2 -> "123.45"; exact, no floating point.
std::string major_units(std::int64_t minor, int exponent) {
  std::uint64_t magnitude = minor < 0 ? 0 - static_cast<std::uint64_t>(minor) : static_cast<std::uint64_t>(minor);
  std::string sign = minor < 0 ? "-" : "";
  if (exponent <= 0) return sign + std::to_string(magnitude);
  std::uint64_t scale = 1;
  for (int i = 0; i < exponent; ++i) scale *= 10;
  std::string fraction = std::to_string(magnitude % scale);
  fraction.insert(0, static_cast<std::size_t>(exponent) - fraction.size(), '0');
  return sign + std::to_string(magnitude / scale) + "." + fraction;
}

std::string upper(std::string text) {
  for (auto& c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

enum class Unit { kAmount, kShare, kCount, kDays, kScore };

struct ValueFormat {
  Unit unit = Unit::kCount;
  int exponent = 2;  // kAmount: the currency's minor-unit exponent
};

ValueFormat amounts_in(const std::string& currency) {
  return {Unit::kAmount, currency.empty() ? 2 : currency_exponent(currency)};
}

// A value as an axis or a label shows it; `step` is the axis's tick step (precision).
std::string format_value(double v, ValueFormat f, double step) {
  switch (f.unit) {
    case Unit::kAmount: return major_units(std::llround(v), f.exponent);
    case Unit::kShare: return step * 100 >= 1 ? fmt::format("{:.0f}%", v * 100) : fmt::format("{:.1f}%", v * 100);
    case Unit::kScore: return fmt::format("{:.2f}", v);
    case Unit::kCount:
    case Unit::kDays: return step >= 1 ? fmt::format("{:.0f}", v) : fmt::format("{:g}", v);
  }
  return "";
}

// ---------------------------------------------------------------- SVG: the document

constexpr double kWidth = 720;
constexpr double kHeight = 360;
constexpr std::string_view kInk = "#212121";
constexpr std::string_view kMuted = "#616161";
constexpr std::string_view kGrid = "#e0e0e0";
constexpr std::string_view kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string_view series_color(std::size_t i) { return kPalette[i % std::size(kPalette)]; }

struct Box {
  double left = 0, top = 0, right = 0, bottom = 0;
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

struct TextStyle {
  std::string_view anchor = "start";
  double size = 11;
  std::string_view fill = kInk;
  bool bold = false;
  double rotate = 0;  // degrees about the text's anchor point
};

class Svg {
 public:
  Svg(double width, double height, std::string_view title) : width_(width) {
    out_ = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" role="img" )"
        R"(font-family="sans-serif" font-size="11">)",
        fmt::format("{:g}", width), fmt::format("{:g}", height));
    out_ += "<title>" + xml_escape(title) + "</title>";
    rect(0, 0, width, height, "#ffffff", "background");
    text(16, 24, title, {.size = 15, .bold = true});
  }

  double width() const { return width_; }

  void rect(double x, double y, double w, double h, std::string_view fill, std::string_view cls,
            std::string_view tooltip = {}) {
    out_ += fmt::format(R"(<rect class="{}" x="{}" y="{}" width="{}" height="{}" fill="{}")", cls, num(x), num(y),
                        num(std::max(0.0, w)), num(std::max(0.0, h)), fill);
    close("rect", tooltip);
  }
  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double stroke_width = 1) {
    out_ += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="{}"/>)", num(x1), num(y1),
                        num(x2), num(y2), stroke, num(stroke_width));
  }
  void path(const std::string& d, std::string_view cls, std::string_view stroke, std::string_view fill,
            double fill_opacity = 1) {
    out_ += fmt::format(R"(<path class="{}" d="{}" stroke="{}" stroke-width="2" fill="{}")", cls, d, stroke, fill);
    if (fill_opacity < 1) out_ += fmt::format(R"( fill-opacity="{}")", fill_opacity);
    out_ += "/>";
  }
  void circle(double x, double y, double r, std::string_view fill, std::string_view tooltip = {}) {
    out_ += fmt::format(R"(<circle class="mark dot" cx="{}" cy="{}" r="{}" fill="{}")", num(x), num(y), num(r), fill);
    close("circle", tooltip);
  }
  void text(double x, double y, std::string_view content, const TextStyle& style = {}) {
    out_ += fmt::format(R"(<text x="{}" y="{}" text-anchor="{}" font-size="{}" fill="{}")", num(x), num(y),
                        style.anchor, num(style.size), style.fill);
    if (style.bold) out_ += R"( font-weight="bold")";
    if (style.rotate != 0) out_ += fmt::format(" transform=\"rotate({} {} {})\"", num(style.rotate), num(x), num(y));
    out_ += ">" + xml_escape(content) + "</text>";
  }

  std::string finish() && { return std::move(out_) + "</svg>\n"; }

 private:
  // A mark's <title> is its tooltip in a browser.
  void close(std::string_view element, std::string_view tooltip) {
    if (tooltip.empty()) {
      out_ += "/>";
      return;
    }
    out_ += "><title>" + xml_escape(tooltip) + "</title></" + std::string(element) + ">";
  }

  double width_;
  std::string out_;
};

struct LegendItem {
  LegendItem(std::string label_, std::string_view color_, bool line_ = false)
      : label(std::move(label_)), color(color_), line(line_) {}
  std::string label;
  std::string color;
  bool line = false;  // a line series: a thin swatch
};

// The legend under the title, wrapped to the width; returns the y below it.
double legend(Svg& svg, const std::vector<LegendItem>& items, double top) {
  double x = 16, y = top;
  for (const auto& item : items) {
    std::string label = shortened(item.label, 32);
    double w = 14 + 6.5 * static_cast<double>(label.size()) + 16;
    if (x + w > svg.width() - 16 && x > 16) {
      x = 16;
      y += 16;
    }
    if (item.line) svg.rect(x, y - 5, 12, 3, item.color, "swatch");
    else svg.rect(x, y - 9, 10, 10, item.color, "swatch");
    svg.text(x + 16, y, label, {.fill = kMuted});
    x += w;
  }
  return items.empty() ? top : y + 8;
}

struct Chart {
  Svg svg;
  Box plot;
};

// The title, the legend and the plot's box below them; `left` leaves room for labels.
Chart chart(std::string_view title, const std::vector<LegendItem>& items, double height = kHeight,
            double left = 72) {
  Svg svg(kWidth, height, title);
  double below = legend(svg, items, 46);
  return {std::move(svg), Box{left, below + 14, kWidth - 24, height - 44}};
}

void no_data(Chart& c) {
  c.svg.text((c.plot.left + c.plot.right) / 2, (c.plot.top + c.plot.bottom) / 2, "No data",
             {.anchor = "middle", .size = 13, .fill = kMuted});
}

// ---------------------------------------------------------------- SVG: axes

struct Scale {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  double operator()(double v) const { return d1 == d0 ? r0 : r0 + (v - d0) * (r1 - r0) / (d1 - d0); }
};

struct Ticks {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> values;
};

// About five ticks at 1, 2 or 5 x 10^k covering [lo, hi] (which always holds 0 for
// amounts and counts: the callers include it); integral: steps of at least 1.
Ticks nice_ticks(double lo, double hi, bool integral) {
  if (!(lo <= hi)) std::swap(lo, hi);
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo < 1e-12) hi = lo + (integral || lo != 0 ? std::max(1.0, std::abs(lo)) : 1);
  double raw = (hi - lo) / 5;
  double magnitude = std::pow(10, std::floor(std::log10(raw)));
  double n = raw / magnitude;
  double step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * magnitude;
  if (integral) step = std::max(step, 1.0);
  Ticks t{std::floor(lo / step) * step, std::ceil(hi / step) * step, step, {}};
  for (int i = 0; i <= 50; ++i) {
    double v = t.lo + i * step;
    if (v > t.hi + step / 2) break;
    t.values.push_back(v);
  }
  return t;
}

bool integral(ValueFormat f) { return f.unit == Unit::kAmount || f.unit == Unit::kCount; }

// A vertical value axis over [lo, hi] on the plot's left, with grid lines.
Scale value_axis_y(Chart& c, double lo, double hi, ValueFormat f, std::string_view title) {
  Ticks t = nice_ticks(lo, hi, integral(f));
  Scale s{t.lo, t.hi, c.plot.bottom, c.plot.top};
  for (double v : t.values) {
    c.svg.line(c.plot.left, s(v), c.plot.right, s(v), kGrid);
    c.svg.text(c.plot.left - 6, s(v) + 4, format_value(v, f, t.step), {.anchor = "end", .fill = kMuted});
  }
  c.svg.text(14, (c.plot.top + c.plot.bottom) / 2, title, {.anchor = "middle", .fill = kMuted, .rotate = -90});
  return s;
}

// A horizontal value axis over [lo, hi] under the plot, with grid lines.
Scale value_axis_x(Chart& c, double lo, double hi, ValueFormat f, std::string_view title) {
  Ticks t = nice_ticks(lo, hi, integral(f));
  Scale s{t.lo, t.hi, c.plot.left, c.plot.right};
  for (double v : t.values) {
    c.svg.line(s(v), c.plot.top, s(v), c.plot.bottom, kGrid);
    c.svg.text(s(v), c.plot.bottom + 16, format_value(v, f, t.step), {.anchor = "middle", .fill = kMuted});
  }
  c.svg.text((c.plot.left + c.plot.right) / 2, c.plot.bottom + 34, title, {.anchor = "middle", .fill = kMuted});
  return s;
}

// Categories (periods) side by side along the bottom, labelled with their dates; as many
// labels as fit.
struct Bands {
  double left = 0, width = 0;
  double start(std::size_t i) const { return left + width * static_cast<double>(i); }
  double center(std::size_t i) const { return start(i) + width / 2; }
};

Bands band_axis_x(Chart& c, const std::vector<std::string>& labels, std::string_view title) {
  Bands b{c.plot.left, c.plot.width() / static_cast<double>(std::max<std::size_t>(1, labels.size()))};
  c.svg.line(c.plot.left, c.plot.bottom, c.plot.right, c.plot.bottom, kMuted);
  std::size_t fit = std::max<std::size_t>(1, static_cast<std::size_t>(c.plot.width() / 76));
  std::size_t every = (labels.size() + fit - 1) / fit;
  for (std::size_t i = 0; i < labels.size(); i += std::max<std::size_t>(1, every))
    c.svg.text(b.center(i), c.plot.bottom + 16, labels[i], {.anchor = "middle", .fill = kMuted});
  c.svg.text((c.plot.left + c.plot.right) / 2, c.plot.bottom + 34, title, {.anchor = "middle", .fill = kMuted});
  return b;
}

std::vector<std::string> period_labels(const std::vector<const Json*>& rows, std::string_view key = "period_start") {
  std::vector<std::string> labels;
  for (const Json* row : rows) labels.push_back(date_of(text_at(*row, key)));
  return labels;
}

// Points joined by a line, broken where a value is null; a dot on each point.
struct SeriesPoint {
  double x = 0;
  std::optional<double> y;
  std::string tooltip;
};

void line_series(Chart& c, const std::vector<SeriesPoint>& points, std::string_view color) {
  std::string d;
  bool open = false;
  for (const auto& p : points) {
    if (!p.y) {
      open = false;
      continue;
    }
    d += fmt::format("{}{} {} ", open ? "L" : "M", num(p.x), num(*p.y));
    open = true;
  }
  // A line needs two points in a row; lone points are the dots alone.
  if (d.find('L') != std::string::npos) {
    d.pop_back();
    c.svg.path(d, "mark line", color, "none");
  }
  for (const auto& p : points)
    if (p.y) c.svg.circle(p.x, *p.y, 3, color, p.tooltip);
}

// ---------------------------------------------------------------- SVG: the charts

std::string currency_of(const Json& body) {
  std::string currency = text_at(body, "currency");
  if (currency.empty()) {
    auto rows = rows_of(body);
    if (!rows.empty()) currency = text_at(*rows.front(), "currency");
  }
  return currency;
}

std::string with_currency(std::string_view title, const std::string& currency) {
  return currency.empty() ? std::string(title) : fmt::format("{} ({})", title, upper(currency));
}

// MRR: a line over a list of {at, mrr}; the endpoint's single object is one point, a dot
// with its amount.
std::string mrr_chart(const Json& body) {
  std::vector<const Json*> points = rows_of(body);
  if (points.empty() && member(body, "mrr") != nullptr) points.push_back(&body);
  std::string currency = currency_of(body);
  ValueFormat f = amounts_in(currency);
  Chart c = chart(with_currency("MRR", currency), {{"MRR", series_color(0), true}});
  double hi = 0;
  for (const Json* p : points) hi = std::max(hi, number_or_zero(*p, "mrr"));
  Scale y = value_axis_y(c, 0, hi, f, currency.empty() ? "MRR" : upper(currency));
  Bands x = band_axis_x(c, period_labels(points, "at"), "date");
  if (points.empty()) no_data(c);
  std::vector<SeriesPoint> series;
  for (std::size_t i = 0; i < points.size(); ++i) {
    auto v = number_at(*points[i], "mrr");
    series.push_back({x.center(i), v ? std::optional(y(*v)) : std::nullopt,
                      v ? major_units(std::llround(*v), f.exponent) : ""});
  }
  line_series(c, series, series_color(0));
  if (points.size() == 1 && series.front().y) {
    c.svg.text(series.front().x, *series.front().y - 10, series.front().tooltip + " " + upper(currency),
               {.anchor = "middle", .size = 13, .bold = true});
  }
  return std::move(c.svg).finish();
}

struct Component {
  std::string_view key;
  std::string_view label;
  std::string_view color;
};

std::vector<LegendItem> legend_of(std::span<const Component> parts, bool line = false) {
  std::vector<LegendItem> items;
  for (const auto& part : parts) items.push_back({std::string(part.label), part.color, line});
  return items;
}

// A bar split into parts stacked from `base` (shares or amounts), upward or downward.
double stack(Chart& c, const Scale& y, double x, double width, double base, double value, int direction,
             std::string_view color, const std::string& tooltip) {
  if (value <= 0) return base;
  double end = base + direction * value;
  c.svg.rect(x, std::min(y(base), y(end)), width, std::abs(y(end) - y(base)), color, "mark bar", tooltip);
  return end;
}

std::string movements_chart(const Json& body) {
  static constexpr Component kUp[] = {
      {"new", "new", "#2e7d32"}, {"expansion", "expansion", "#81c784"}, {"reactivation", "reactivation", "#00897b"}};
  static constexpr Component kDown[] = {{"contraction", "contraction", "#fb8c00"}, {"churn", "churn", "#c62828"}};
  auto rows = rows_of(body);
  std::string currency = currency_of(body);
  ValueFormat f = amounts_in(currency);
  std::vector<LegendItem> items = legend_of(kUp);
  for (auto& item : legend_of(kDown)) items.push_back(std::move(item));
  items.push_back({"net", kInk, true});
  Chart c = chart(with_currency("MRR movements", currency), items);

  double lo = 0, hi = 0;
  std::vector<double> nets;
  for (const Json* row : rows) {
    double up = 0, down = 0;
    for (const auto& k : kUp) up += std::abs(number_or_zero(*row, k.key));
    for (const auto& k : kDown) down += std::abs(number_or_zero(*row, k.key));
    nets.push_back(up - down);
    lo = std::min({lo, -down, up - down});
    hi = std::max({hi, up, up - down});
  }
  Scale y = value_axis_y(c, lo, hi, f, currency.empty() ? "MRR" : upper(currency));
  Bands x = band_axis_x(c, period_labels(rows), "period start");
  if (rows.empty()) no_data(c);
  c.svg.line(c.plot.left, y(0), c.plot.right, y(0), kMuted);
  std::vector<SeriesPoint> net;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    double bar_x = x.start(i) + x.width * 0.2, bar_w = x.width * 0.6;
    std::string date = date_of(text_at(*rows[i], "period_start"));
    auto tip = [&](const Component& k, double v) {
      return fmt::format("{} {}: {}", date, k.label, major_units(std::llround(v), f.exponent));
    };
    double base = 0;
    for (const auto& k : kUp) {
      double v = std::abs(number_or_zero(*rows[i], k.key));
      base = stack(c, y, bar_x, bar_w, base, v, 1, k.color, tip(k, v));
    }
    base = 0;
    for (const auto& k : kDown) {
      double v = std::abs(number_or_zero(*rows[i], k.key));
      base = stack(c, y, bar_x, bar_w, base, v, -1, k.color, tip(k, -v));
    }
    net.push_back({x.center(i), y(nets[i]), fmt::format("{} net: {}", date, major_units(std::llround(nets[i]), f.exponent))});
  }
  line_series(c, net, kInk);
  return std::move(c.svg).finish();
}

std::string churn_chart(const Json& body) {
  static constexpr Component kSeries[] = {{"customer_churn_rate", "customer churn rate", "#1f77b4"},
                                          {"gross_mrr_churn_rate", "gross MRR churn rate", "#d62728"}};
  auto rows = rows_of(body);
  Chart c = chart("Churn", legend_of(kSeries, true));
  double lo = 0, hi = 0;
  for (const Json* row : rows) {
    for (const auto& s : kSeries) {
      auto v = number_at(*row, s.key);
      lo = std::min(lo, v.value_or(0));
      hi = std::max(hi, v.value_or(0));
    }
  }
  Scale y = value_axis_y(c, lo, hi == 0 ? 0.1 : hi, {Unit::kShare}, "rate");
  Bands x = band_axis_x(c, period_labels(rows), "period start");
  bool any = false;
  for (const auto& s : kSeries) {
    std::vector<SeriesPoint> points;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto v = number_at(*rows[i], s.key);
      any = any || v.has_value();
      points.push_back({x.center(i), v ? std::optional(y(*v)) : std::nullopt,
                        v ? fmt::format("{} {}: {:.1f}%", date_of(text_at(*rows[i], "period_start")), s.label, *v * 100)
                          : ""});
    }
    line_series(c, points, s.color);
  }
  if (!any) no_data(c);
  return std::move(c.svg).finish();
}

// White to dark blue by share (0..1).
std::string shade(double share) {
  share = std::clamp(share, 0.0, 1.0);
  auto mix = [&](int from, int to) { return static_cast<int>(std::lround(from + (to - from) * share)); };
  return fmt::format("#{:02x}{:02x}{:02x}", mix(0xf7, 0x08), mix(0xfb, 0x30), mix(0xff, 0x6b));
}

// A cohort with no customers has nothing to show in any period: it is left out (a year of
// weekly cohorts is otherwise mostly empty rows).
std::vector<const Json*> cohorts_with_customers(const Json& body) {
  std::vector<const Json*> rows;
  for (const Json* row : rows_of(body))
    if (number_at(*row, "customers").value_or(1) != 0) rows.push_back(row);
  return rows;
}

std::string cohorts_chart(const Json& body) {
  auto rows = cohorts_with_customers(body);
  std::size_t columns = 0;
  for (const Json* row : rows) columns = std::max(columns, inner_rows(*row, "periods").size());
  constexpr double kCell = 22;
  double height = 140 + kCell * static_cast<double>(std::max<std::size_t>(1, rows.size()));
  Chart c = chart("Retention by cohort", {{"0%", shade(0)}, {"50%", shade(0.5)}, {"100%", shade(1)}}, height, 96);
  c.plot.top += 18;  // the column headers
  double cell_w = columns == 0 ? 0 : std::min(64.0, c.plot.width() / static_cast<double>(columns));
  bool texts = cell_w >= 30;  // narrower cells keep their value in the tooltip only
  std::size_t every = static_cast<std::size_t>(std::ceil(18 / std::max(cell_w, 1.0)));
  c.svg.text(c.plot.left, c.plot.top - 20, "periods since start", {.fill = kMuted});
  for (std::size_t j = 0; j < columns; j += every)
    c.svg.text(c.plot.left + cell_w * (static_cast<double>(j) + 0.5), c.plot.top - 5, std::to_string(j),
               {.anchor = "middle", .fill = kMuted});
  c.svg.text(14, c.plot.top + kCell * static_cast<double>(rows.size()) / 2, "cohort",
             {.anchor = "middle", .fill = kMuted, .rotate = -90});
  if (rows.empty() || columns == 0) no_data(c);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    double top = c.plot.top + kCell * static_cast<double>(i);
    std::string cohort = date_of(text_at(*rows[i], "cohort_start"));
    c.svg.text(c.plot.left - 6, top + kCell / 2 + 4, cohort, {.anchor = "end", .fill = kMuted});
    auto periods = inner_rows(*rows[i], "periods");
    for (std::size_t j = 0; j < periods.size(); ++j) {
      double left = c.plot.left + cell_w * static_cast<double>(j);
      auto retention = number_at(*periods[j], "retention");
      std::string label = retention ? fmt::format("{:.0f}%", *retention * 100) : "\u2013";
      c.svg.rect(left + 1, top + 1, cell_w - 2, kCell - 2, retention ? shade(*retention) : "#eeeeee", "mark cell",
                 fmt::format("cohort {}, period {}: {}", cohort, j, label));
      if (!texts) continue;
      c.svg.text(left + cell_w / 2, top + kCell / 2 + 4, label,
                 {.anchor = "middle", .size = 10, .fill = retention && *retention > 0.55 ? "#ffffff" : kInk});
    }
  }
  return std::move(c.svg).finish();
}

// The points of a step function: each value held until the next step's day.
std::vector<std::pair<double, double>> step_points(const std::vector<const Json*>& steps, std::string_view key) {
  std::vector<std::pair<double, double>> points;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    double day = number_or_zero(*steps[i], "days");
    double v = number_at(*steps[i], key).value_or(points.empty() ? 1 : points.back().second);
    if (!points.empty()) points.push_back({day, points.back().second});
    points.push_back({day, v});
  }
  return points;
}

std::string survival_chart(const Json& body) {
  auto rows = rows_of(body);
  std::vector<LegendItem> items;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::string group = text_at(*rows[i], "group");
    items.push_back({group.empty() ? "all" : group, series_color(i), true});
  }
  if (!rows.empty()) items.push_back({"95% band", "#bdbdbd"});
  Chart c = chart("Survival", items);
  double max_days = 0;
  for (const Json* row : rows)
    for (const Json* step : inner_rows(*row, "steps")) max_days = std::max(max_days, number_or_zero(*step, "days"));
  Scale y = value_axis_y(c, 0, 1, {Unit::kShare}, "surviving");
  Scale x = value_axis_x(c, 0, max_days == 0 ? 30 : max_days, {Unit::kDays}, "days since start");
  bool any = false;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto steps = inner_rows(*rows[i], "steps");
    std::sort(steps.begin(), steps.end(),
              [](const Json* a, const Json* b) { return number_or_zero(*a, "days") < number_or_zero(*b, "days"); });
    if (steps.empty()) continue;
    any = true;
    auto at = [&](const std::pair<double, double>& p) { return fmt::format("{} {}", num(x(p.first)), num(y(p.second))); };
    if (steps.size() > 1) {
      auto upper_points = step_points(steps, "upper");
      auto lower_points = step_points(steps, "lower");
      std::string band = "M" + at(upper_points.front());
      for (std::size_t k = 1; k < upper_points.size(); ++k) band += " L" + at(upper_points[k]);
      for (auto it = lower_points.rbegin(); it != lower_points.rend(); ++it) band += " L" + at(*it);
      c.svg.path(band + " Z", "mark band", "none", series_color(i), 0.18);
    }
    auto curve = step_points(steps, "survival");
    std::string d = "M" + at(curve.front());
    for (std::size_t k = 1; k < curve.size(); ++k) d += " L" + at(curve[k]);
    c.svg.path(d, "mark step", series_color(i), "none");
    if (steps.size() == 1) c.svg.circle(x(curve.front().first), y(curve.front().second), 3, series_color(i));
  }
  if (!any) no_data(c);
  return std::move(c.svg).finish();
}

// Bars side by side (grouped) or stacked per period, of the components' values.
std::string renewals_chart(const Json& body) {
  static constexpr Component kParts[] = {{"paid_first_attempt", "paid first attempt", "#2e7d32"},
                                         {"recovered", "recovered", "#81c784"},
                                         {"failed", "failed", "#c62828"},
                                         {"pending", "pending", "#bdbdbd"}};
  auto rows = rows_of(body);
  Chart c = chart("Renewals", legend_of(kParts));
  Scale y = value_axis_y(c, 0, 1, {Unit::kShare}, "share of renewals due");
  Bands x = band_axis_x(c, period_labels(rows), "period start");
  bool any = false;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    double due = number_or_zero(*rows[i], "due");
    if (due <= 0) continue;
    any = true;
    double base = 0;
    for (const auto& k : kParts) {
      double share = number_or_zero(*rows[i], k.key) / due;
      base = stack(c, y, x.start(i) + x.width * 0.2, x.width * 0.6, base, share, 1, k.color,
                   fmt::format("{} {}: {:.1f}%", date_of(text_at(*rows[i], "period_start")), k.label, share * 100));
    }
  }
  if (!any) no_data(c);
  return std::move(c.svg).finish();
}

std::string engagement_chart(const Json& body) {
  static constexpr Component kBars[] = {{"active_subscribers", "active subscribers", "#90caf9"},
                                        {"engaged_subscribers", "engaged subscribers", "#1565c0"}};
  auto rows = rows_of(body);
  Chart c = chart("Engagement", legend_of(kBars));
  double hi = 0;
  for (const Json* row : rows)
    for (const auto& k : kBars) hi = std::max(hi, number_or_zero(*row, k.key));
  Scale y = value_axis_y(c, 0, hi, {Unit::kCount}, "subscribers");
  Bands x = band_axis_x(c, period_labels(rows), "period start");
  if (rows.empty()) no_data(c);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    double w = x.width * 0.7 / static_cast<double>(std::size(kBars));
    for (std::size_t k = 0; k < std::size(kBars); ++k) {
      double v = number_or_zero(*rows[i], kBars[k].key);
      stack(c, y, x.start(i) + x.width * 0.15 + w * static_cast<double>(k), w, 0, v, 1, kBars[k].color,
            fmt::format("{} {}: {}", date_of(text_at(*rows[i], "period_start")), kBars[k].label, v));
    }
  }
  return std::move(c.svg).finish();
}

// One horizontal bar per labelled value, largest first, at most 50.
struct Labelled {
  std::string label;
  double value = 0;
};

std::string horizontal_bars(std::string_view title, std::string_view series, std::vector<Labelled> bars,
                            ValueFormat f, std::string_view axis_title) {
  constexpr std::size_t kMaxBars = 50;
  constexpr double kRow = 22;
  std::stable_sort(bars.begin(), bars.end(), [](const Labelled& a, const Labelled& b) { return a.value > b.value; });
  if (bars.size() > kMaxBars) bars.resize(kMaxBars);
  double height = 130 + kRow * static_cast<double>(std::max<std::size_t>(1, bars.size()));
  Chart c = chart(title, {{std::string(series), series_color(0)}}, height, 216);
  double hi = f.unit == Unit::kScore ? 1 : 0;
  for (const auto& b : bars) hi = std::max(hi, b.value);
  Scale x = value_axis_x(c, 0, hi, f, axis_title);
  if (bars.empty()) no_data(c);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    double top = c.plot.top + kRow * static_cast<double>(i);
    std::string value = format_value(bars[i].value, f, f.unit == Unit::kCount ? 1 : 0.01);
    c.svg.text(c.plot.left - 6, top + kRow / 2 + 4, shortened(bars[i].label, 30), {.anchor = "end", .fill = kInk});
    c.svg.rect(x(0), top + 3, x(bars[i].value) - x(0), kRow - 6, series_color(0), "mark bar", bars[i].label + ": " + value);
    c.svg.text(x(bars[i].value) + 4, top + kRow / 2 + 4, value, {.fill = kMuted});
  }
  return std::move(c.svg).finish();
}

std::string cancellations_chart(const Json& body) {
  std::map<std::string, double> by_reason;
  for (const Json* row : rows_of(body)) {
    std::string reason = text_at(*row, "reason");
    by_reason[reason.empty() ? "(no reason)" : reason] += number_or_zero(*row, "cancellations");
  }
  std::vector<Labelled> bars;
  for (const auto& [reason, count] : by_reason) bars.push_back({reason, count});
  return horizontal_bars("Cancellations by reason", "cancellations", std::move(bars), {Unit::kCount},
                         "cancellations");
}

std::string at_risk_chart(const Json& body) {
  std::vector<Labelled> bars;
  for (const Json* row : rows_of(body)) bars.push_back({text_at(*row, "subscription"), number_or_zero(*row, "score")});
  std::string model;
  if (const Json* m = member(body, "model")) model = text_at(*m, "name");
  std::string title = model.empty() ? "Subscriptions at risk" : fmt::format("Subscriptions at risk ({})", model);
  return horizontal_bars(title, "risk score", std::move(bars), {Unit::kScore}, "score");
}

}  // namespace

std::optional<std::string> render_csv(std::string_view report, const Json& body) {
  const auto& layouts = csv_layouts();
  auto found = layouts.find(report);
  if (found == layouts.end()) return std::nullopt;
  const CsvLayout& layout = found->second;
  std::vector<const Json*> sources = layout.list ? rows_of(body) : std::vector<const Json*>{&body};
  // A list's currency is said once, on the list; each record says it.
  const Json* list_currency = layout.list ? member(body, "currency") : nullptr;
  std::vector<CsvRow> rows;
  for (const Json* source : sources) {
    CsvRow row;
    flatten(*source, "", layout.expand, row.outer);
    if (list_currency != nullptr && !row.outer.contains("currency")) row.outer["currency"] = list_currency;
    for (const Json* inner : inner_rows(*source, layout.expand)) flatten(*inner, "", {}, row.inner.emplace_back());
    rows.push_back(std::move(row));
  }
  CsvLayout effective = layout;
  if (list_currency != nullptr &&
      std::find(effective.columns.begin(), effective.columns.end(), "currency") == effective.columns.end())
    effective.columns.insert(effective.columns.begin(), "currency");
  return write_csv(effective, rows);
}

std::optional<std::string> render_svg(std::string_view report, const Json& body) {
  static const std::map<std::string_view, std::function<std::string(const Json&)>> kCharts = {
      {"mrr", mrr_chart},
      {"mrr-movements", movements_chart},
      {"churn", churn_chart},
      {"cohorts", cohorts_chart},
      {"survival", survival_chart},
      {"renewals", renewals_chart},
      {"engagement", engagement_chart},
      {"cancellations", cancellations_chart},
      {"at-risk", at_risk_chart},
  };
  auto found = kCharts.find(report);
  if (found == kCharts.end()) return std::nullopt;
  return found->second(body);
}

}  // namespace recur::analytics
