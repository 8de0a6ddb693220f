// Counters, gauges and histograms with labels, rendered in Prometheus's text
// exposition format 0.0.4 (what a /metrics endpoint serves).
//
//   report::MetricRegistry metrics;
//   auto requests = metrics.AddCounter("trainbus_serving_requests_total",
//                                      "Requests answered.", {"model", "status"});
//   (*requests)->Labels({"mnist", "200"}).Increment();
//   auto latency = metrics.AddHistogram("trainbus_serving_request_duration_seconds",
//                                       "Time to answer.", {}, {0.001, 0.01, 0.1});
//   (*latency)->Get().Observe(0.0042);
//   std::string text = metrics.Render();  // Content-Type: kPrometheusContentType
//
// Every metric is thread-safe; references returned by Labels()/Get() stay
// valid for the registry's lifetime (unless the family is Clear()ed). Names are checked when a family is
// added, so a bad name is an error at start, not a scrape Prometheus refuses.
#ifndef TRAINBUS_REPORT_PROMETHEUS_H_
#define TRAINBUS_REPORT_PROMETHEUS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace trainbus::report {

inline constexpr char kPrometheusContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

using LabelValues = std::vector<std::string>;

// A value that only goes up (by non-negative amounts; others are ignored).
class Counter {
 public:
  void Increment(double by = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into buckets with upper bounds (le), plus their sum.
class Histogram {
 public:
  // bounds: ascending and finite; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0.0;
    uint64_t count = 0;
  };
  // Consistent: the +Inf bucket always equals count.
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // per bucket, not cumulative
  double sum_ ABSL_GUARDED_BY(mu_) = 0.0;
};

// Text-format details, public for tests and other writers.
// A label value with \, " and newline escaped.
std::string EscapeLabelValue(absl::string_view value);
// HELP text with \ and newline escaped.
std::string EscapeHelp(absl::string_view help);
// The shortest text that reads back to `value`; "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);

class MetricFamilyBase {
 public:
  MetricFamilyBase(std::string name, std::string help, std::string type,
                   std::vector<std::string> label_names);
  virtual ~MetricFamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // HELP and TYPE lines, then one line per sample.
  void Render(std::string* out) const;

 protected:
  virtual void RenderSamples(std::string* out) const = 0;
  // The sample lines of one metric.
  void RenderOne(std::string* out, const LabelValues& values,
                 const Counter& metric) const;
  void RenderOne(std::string* out, const LabelValues& values,
                 const Gauge& metric) const;
  void RenderOne(std::string* out, const LabelValues& values,
                 const Histogram& metric) const;
  // a="x",b="y" (no braces), plus `extra` (e.g. le="0.5") when given.
  std::string LabelText(const LabelValues& values,
                        absl::string_view extra = "") const;
  // Values padded or cut to the label names (a caller's mistake then still
  // renders a valid scrape).
  LabelValues Fit(LabelValues values) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::string type_;
  const std::vector<std::string> label_names_;
};

// All the metrics of one name, one per combination of label values.
template <typename Metric>
class MetricFamily : public MetricFamilyBase {
 public:
  MetricFamily(std::string name, std::string help, std::string type,
               std::vector<std::string> label_names,
               std::vector<double> bounds = {})
      : MetricFamilyBase(std::move(name), std::move(help), std::move(type),
                         std::move(label_names)),
        bounds_(std::move(bounds)) {
    if (label_names_size() == 0) Labels({});  // a lone metric shows as 0
  }

  // The metric with these label values (in label_names() order), made on
  // first use.
  Metric& Labels(LabelValues values) {
    values = Fit(std::move(values));
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Metric>& metric = metrics_[values];
    if (metric == nullptr) metric = Make();
    return *metric;
  }
  // The metric of a family without labels.
  Metric& Get() { return Labels({}); }
  // Drops every metric, invalidating the references Labels() returned: only
  // for a family whose owner alone sets it, such as gauges refreshed at each
  // scrape (a label value that went away then leaves no stale sample).
  void Clear() {
    absl::MutexLock lock(&mu_);
    metrics_.clear();
    if (label_names_size() == 0) metrics_[{}] = Make();
  }

 protected:
  void RenderSamples(std::string* out) const override {
    absl::MutexLock lock(&mu_);
    for (const auto& [values, metric] : metrics_) {
      RenderOne(out, values, *metric);
    }
  }

 private:
  size_t label_names_size() const { return label_names().size(); }
  std::unique_ptr<Metric> Make() const {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      return std::make_unique<Histogram>(bounds_);
    } else {
      return std::make_unique<Metric>();
    }
  }

  const std::vector<double> bounds_;  // histograms only
  mutable absl::Mutex mu_;
  std::map<LabelValues, std::unique_ptr<Metric>> metrics_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class MetricRegistry {
 public:
  // InvalidArgument for a name or label name Prometheus does not accept (or
  // "le" on a histogram, bounds not ascending); AlreadyExists for a name
  // already added.
  absl::StatusOr<CounterFamily*> AddCounter(
      std::string name, std::string help,
      std::vector<std::string> label_names = {});
  absl::StatusOr<GaugeFamily*> AddGauge(
      std::string name, std::string help,
      std::vector<std::string> label_names = {});
  absl::StatusOr<HistogramFamily*> AddHistogram(
      std::string name, std::string help,
      std::vector<std::string> label_names, std::vector<double> bounds);

  // Every family, in the order added.
  std::string Render() const;

 private:
  absl::Status Check(const std::string& name,
                     const std::vector<std::string>& label_names) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  template <typename Family>
  absl::StatusOr<Family*> Add(std::unique_ptr<Family> family);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<MetricFamilyBase>> families_ ABSL_GUARDED_BY(mu_);
};

// Bucket bounds start, start*factor, ... (count of them).
std::vector<double> ExponentialBuckets(double start, double factor, int count);

}  // namespace trainbus::report

#endif  // TRAINBUS_REPORT_PROMETHEUS_H_
