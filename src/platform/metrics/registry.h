// Prometheus metrics: counters, gauges and histograms with labels, kept in memory and written
// in the text exposition format 0.0.4 (GET /metrics). One Registry per process, made by app/
// and passed to what records into it (no global registry: STYLE.md, "Inject, never reach").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace recur::metrics {

enum class Type { kCounter, kGauge, kHistogram };

// The exposition format's escapes: a label value escapes \, " and newline; HELP text \ and newline.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// A sample value as Prometheus reads it: integers below 1e12 without a fraction, others with 12
// significant digits (so never 13 digits in a row, which would look like a card number), +Inf,
// -Inf, NaN.
std::string format_value(double value);

// A value that only goes up (requests, charges, seconds waited).
class Counter {
 public:
  void inc(double by = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed upper bounds (cumulative when written), with their sum.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double value);
  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound, then +Inf (not cumulative)
  std::atomic<double> sum_{0};
};

// A metric name with its label names; one child per combination of label values, made on
// first use and kept for the process's life (so label values must come from a small, fixed
// set: a route's template, never its path).
template <typename Child>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names, Type type,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        type_(type),
        bounds_(std::move(bounds)) {}
  // Requires: as many values as label names. The reference stays valid: keep it for hot paths.
  Child& with(const std::vector<std::string>& label_values);
  Child& only() { return with({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  Type type() const { return type_; }
  const std::vector<double>& bounds() const { return bounds_; }
  // Calls `f(label_values, child)` for every child, in label order.
  void each(const std::function<void(const std::vector<std::string>&, const Child&)>& f) const;

 private:
  Child* make(const std::vector<std::string>& label_values);

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Type type_;
  std::vector<double> bounds_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Child>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// One sample of a family read at scrape time (a pool's size, an outbox's depth).
struct Sample {
  std::vector<std::string> label_values;
  double value = 0;
};

// Latency buckets for requests (seconds): 5 ms to 10 s.
std::vector<double> request_seconds_buckets();

class Registry {
 public:
  // Each name once; asking again for a name returns the family made the first time (its help,
  // labels and buckets as first given).
  CounterFamily& counter(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                             std::vector<double> bounds);
  // A family whose samples `read` returns at each scrape (from a pool, /proc, the database).
  // `read` runs on the scraping thread, one scrape at a time.
  void read_at_scrape(const std::string& name, const std::string& help, Type type, std::vector<std::string> label_names,
                      std::function<std::vector<Sample>()> read);

  // Every family, in the order they were made, in the text exposition format.
  std::string render() const;

 private:
  struct Scraped {
    std::string name, help;
    Type type;
    std::vector<std::string> label_names;
    std::function<std::vector<Sample>()> read;
  };
  struct Entry {
    CounterFamily* counter = nullptr;
    GaugeFamily* gauge = nullptr;
    HistogramFamily* histogram = nullptr;
    Scraped* scraped = nullptr;
  };
  bool taken(const std::string& name) const;

  mutable std::mutex mu_;         // the lists below
  mutable std::mutex scrape_mu_;  // one scrape at a time (read_at_scrape's promise)
  std::vector<Entry> order_;
  std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
  std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_;
  std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
  std::map<std::string, std::unique_ptr<Scraped>> scraped_;
};

// The content type of render()'s text.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace recur::metrics
