// Metric families and the text exposition format (see registry.h).
#include "platform/metrics/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace recur::metrics {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e12) return fmt::format("{:.0f}", value);
  // 12 significant digits at most: never a run of 13 or more digits, which a card-number
  // scanner (ours, a DLP proxy's) would take for a PAN; 12 digits is more than any gauge needs.
  return fmt::format("{:.12g}", value);
}

namespace {

void atomic_add(std::atomic<double>& target, double by) {
  double seen = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(seen, seen + by, std::memory_order_relaxed)) {
  }
}

const char* type_name(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="1",b="2"}` (with `extra` appended: a histogram's le), or "" without labels.
std::string label_text(const std::vector<std::string>& names, const std::vector<std::string>& values,
                       const std::string& extra = "") {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i)
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? out : "{" + out + "}";
}

void header(std::string& out, const std::string& name, const std::string& help, Type type) {
  out += "# HELP " + name + " " + escape_help(help) + "\n";
  out += "# TYPE " + name + " " + type_name(type) + "\n";
}

template <typename Child>
void render_simple(std::string& out, const Family<Child>& family) {
  header(out, family.name(), family.help(), family.type());
  family.each([&](const std::vector<std::string>& values, const Child& child) {
    out += family.name() + label_text(family.label_names(), values) + " " + format_value(child.value()) + "\n";
  });
}

void render_histogram(std::string& out, const HistogramFamily& family) {
  header(out, family.name(), family.help(), Type::kHistogram);
  const auto& bounds = family.bounds();
  family.each([&](const std::vector<std::string>& values, const Histogram& h) {
    auto snap = h.snapshot();
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      std::string le = "le=\"" + (i < bounds.size() ? format_value(bounds[i]) : std::string("+Inf")) + "\"";
      out += family.name() + "_bucket" + label_text(family.label_names(), values, le) + " " +
             std::to_string(snap.cumulative[i]) + "\n";
    }
    std::string labels = label_text(family.label_names(), values);
    out += family.name() + "_sum" + labels + " " + format_value(snap.sum) + "\n";
    out += family.name() + "_count" + labels + " " + std::to_string(snap.count) + "\n";
  });
}

}  // namespace

void Counter::inc(double by) {
  if (by > 0) atomic_add(value_, by);  // a counter never goes down
}

void Gauge::add(double by) { atomic_add(value_, by); }

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {
  for (std::size_t i = 0; i <= bounds.size(); ++i) buckets_[i] = 0;
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;                                      // one NaN would make _sum NaN for good
  auto at = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // the first bound >= value
  buckets_[static_cast<std::size_t>(at - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, value);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

template <typename Child>
Child& Family<Child>::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size())
    throw std::logic_error("metric " + name_ + " takes " + std::to_string(label_names_.size()) + " label values");
  {
    std::shared_lock lock(mu_);
    auto it = children_.find(label_values);
    if (it != children_.end()) return *it->second;
  }
  return *make(label_values);
}

template <typename Child>
Child* Family<Child>::make(const std::vector<std::string>& label_values) {
  std::unique_lock lock(mu_);
  auto& slot = children_[label_values];
  if (!slot) {
    if constexpr (std::is_same_v<Child, Histogram>)
      slot = std::make_unique<Histogram>(bounds_);
    else
      slot = std::make_unique<Child>();
  }
  return slot.get();
}

template <typename Child>
void Family<Child>::each(const std::function<void(const std::vector<std::string>&, const Child&)>& f) const {
  std::shared_lock lock(mu_);
  for (const auto& [values, child] : children_) f(values, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::vector<double> request_seconds_buckets() { return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}; }

bool Registry::taken(const std::string& name) const {
  return counters_.count(name) || gauges_.count(name) || histograms_.count(name) || scraped_.count(name);
}

CounterFamily& Registry::counter(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  if (auto it = counters_.find(name); it != counters_.end()) return *it->second;
  if (taken(name)) throw std::logic_error("metric " + name + " is already another type");
  auto& family = counters_[name] = std::make_unique<CounterFamily>(name, help, std::move(label_names), Type::kCounter);
  order_.push_back({family.get(), nullptr, nullptr, nullptr});
  return *family;
}

GaugeFamily& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  if (auto it = gauges_.find(name); it != gauges_.end()) return *it->second;
  if (taken(name)) throw std::logic_error("metric " + name + " is already another type");
  auto& family = gauges_[name] = std::make_unique<GaugeFamily>(name, help, std::move(label_names), Type::kGauge);
  order_.push_back({nullptr, family.get(), nullptr, nullptr});
  return *family;
}

HistogramFamily& Registry::histogram(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  if (auto it = histograms_.find(name); it != histograms_.end()) return *it->second;
  if (taken(name)) throw std::logic_error("metric " + name + " is already another type");
  std::sort(bounds.begin(), bounds.end());
  auto& family = histograms_[name] =
      std::make_unique<HistogramFamily>(name, help, std::move(label_names), Type::kHistogram, std::move(bounds));
  order_.push_back({nullptr, nullptr, family.get(), nullptr});
  return *family;
}

void Registry::read_at_scrape(const std::string& name, const std::string& help, Type type,
                              std::vector<std::string> label_names, std::function<std::vector<Sample>()> read) {
  std::lock_guard lock(mu_);
  if (taken(name)) throw std::logic_error("metric " + name + " is registered twice");
  auto& scraped = scraped_[name] =
      std::make_unique<Scraped>(Scraped{name, help, type, std::move(label_names), std::move(read)});
  order_.push_back({nullptr, nullptr, nullptr, scraped.get()});
}

std::string Registry::render() const {
  std::lock_guard scrape(scrape_mu_);
  std::vector<Entry> entries;
  {
    std::lock_guard lock(mu_);
    entries = order_;
  }
  std::string out;
  for (const auto& e : entries) {
    if (e.counter) render_simple(out, *e.counter);
    if (e.gauge) render_simple(out, *e.gauge);
    if (e.histogram) render_histogram(out, *e.histogram);
    if (!e.scraped) continue;
    auto samples = e.scraped->read();
    if (samples.empty()) continue;  // nothing to say (no replica, not SQLite)
    header(out, e.scraped->name, e.scraped->help, e.scraped->type);
    std::sort(samples.begin(), samples.end(),
              [](const Sample& a, const Sample& b) { return a.label_values < b.label_values; });
    for (const auto& s : samples)
      out += e.scraped->name + label_text(e.scraped->label_names, s.label_values) + " " + format_value(s.value) + "\n";
  }
  return out;
}

}  // namespace recur::metrics
