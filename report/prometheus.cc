#include "report/prometheus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace trainbus::report {
namespace {

void AddTo(std::atomic<double>& value, double by) {
  double old = value.load(std::memory_order_relaxed);
  while (!value.compare_exchange_weak(old, old + by,
                                      std::memory_order_relaxed)) {
  }
}

bool IsNameStart(char c, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (colon_ok && c == ':');
}

// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names, no colons for label names.
bool IsValidName(absl::string_view name, bool colon_ok) {
  if (name.empty() || !IsNameStart(name[0], colon_ok)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) {
    return IsNameStart(c, colon_ok) || (c >= '0' && c <= '9');
  });
}

std::string Escape(absl::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

void Sample(std::string* out, absl::string_view name, absl::string_view labels,
            double value) {
  absl::StrAppend(out, name, labels.empty() ? "" : "{", labels,
                  labels.empty() ? "" : "}", " ", FormatValue(value), "\n");
}

}  // namespace

void Counter::Increment(double by) {
  if (by >= 0) AddTo(value_, by);
}

void Gauge::Add(double by) { AddTo(value_, by); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  // The first bucket whose bound is >= value (le is inclusive); NaN goes to
  // +Inf.
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  ++counts_[std::isnan(value) ? bounds_.size() : bucket];
  sum_ += value;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  absl::MutexLock lock(&mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    snapshot.cumulative.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_;
  return snapshot;
}

std::string EscapeLabelValue(absl::string_view value) {
  return Escape(value, /*quotes=*/true);
}

std::string EscapeHelp(absl::string_view help) {
  return Escape(help, /*quotes=*/false);
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Counts stay integers ("1234567", not "1.23457e+06").
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

MetricFamilyBase::MetricFamilyBase(std::string name, std::string help,
                                   std::string type,
                                   std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(std::move(type)),
      label_names_(std::move(label_names)) {}

void MetricFamilyBase::Render(std::string* out) const {
  absl::StrAppend(out, "# HELP ", name_, " ", EscapeHelp(help_), "\n",
                  "# TYPE ", name_, " ", type_, "\n");
  RenderSamples(out);
}

std::string MetricFamilyBase::LabelText(const LabelValues& values,
                                        absl::string_view extra) const {
  std::string text;
  for (size_t i = 0; i < label_names_.size(); ++i) {
    absl::StrAppend(&text, i == 0 ? "" : ",", label_names_[i], "=\"",
                    EscapeLabelValue(values[i]), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&text, text.empty() ? "" : ",", extra);
  return text;
}

LabelValues MetricFamilyBase::Fit(LabelValues values) const {
  values.resize(label_names_.size());
  return values;
}

void MetricFamilyBase::RenderOne(std::string* out, const LabelValues& values,
                                 const Counter& metric) const {
  Sample(out, name_, LabelText(values), metric.value());
}

void MetricFamilyBase::RenderOne(std::string* out, const LabelValues& values,
                                 const Gauge& metric) const {
  Sample(out, name_, LabelText(values), metric.value());
}

void MetricFamilyBase::RenderOne(std::string* out, const LabelValues& values,
                                 const Histogram& metric) const {
  const Histogram::Snapshot s = metric.Read();
  const std::string bucket = absl::StrCat(name_, "_bucket");
  for (size_t i = 0; i < s.cumulative.size(); ++i) {
    const std::string le = i < s.bounds.size() ? FormatValue(s.bounds[i])
                                               : std::string("+Inf");
    Sample(out, bucket, LabelText(values, absl::StrCat("le=\"", le, "\"")),
           static_cast<double>(s.cumulative[i]));
  }
  Sample(out, absl::StrCat(name_, "_sum"), LabelText(values), s.sum);
  Sample(out, absl::StrCat(name_, "_count"), LabelText(values),
         static_cast<double>(s.count));
}

absl::Status MetricRegistry::Check(
    const std::string& name, const std::vector<std::string>& label_names) const {
  if (!IsValidName(name, /*colon_ok=*/true)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", name, "' is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"));
  }
  for (const std::string& label : label_names) {
    if (!IsValidName(label, /*colon_ok=*/false) || label.rfind("__", 0) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric ", name, ": '", label,
          "' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)"));
    }
  }
  for (const auto& family : families_) {
    if (family->name() == name) {
      return absl::AlreadyExistsError(
          absl::StrCat("metric ", name, " is already registered"));
    }
  }
  return absl::OkStatus();
}

template <typename Family>
absl::StatusOr<Family*> MetricRegistry::Add(std::unique_ptr<Family> family) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Check(family->name(), family->label_names()); !s.ok()) {
    return s;
  }
  Family* raw = family.get();
  families_.push_back(std::move(family));
  return raw;
}

absl::StatusOr<CounterFamily*> MetricRegistry::AddCounter(
    std::string name, std::string help, std::vector<std::string> label_names) {
  return Add(std::make_unique<CounterFamily>(
      std::move(name), std::move(help), "counter", std::move(label_names)));
}

absl::StatusOr<GaugeFamily*> MetricRegistry::AddGauge(
    std::string name, std::string help, std::vector<std::string> label_names) {
  return Add(std::make_unique<GaugeFamily>(
      std::move(name), std::move(help), "gauge", std::move(label_names)));
}

absl::StatusOr<HistogramFamily*> MetricRegistry::AddHistogram(
    std::string name, std::string help, std::vector<std::string> label_names,
    std::vector<double> bounds) {
  for (const std::string& label : label_names) {
    if (label == "le") {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram ", name, ": 'le' is reserved for bucket bounds"));
    }
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram ", name,
          ": bucket bounds must be finite and strictly ascending"));
    }
  }
  return Add(std::make_unique<HistogramFamily>(
      std::move(name), std::move(help), "histogram", std::move(label_names),
      std::move(bounds)));
}

std::string MetricRegistry::Render() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& family : families_) family->Render(&out);
  return out;
}

std::vector<double> ExponentialBuckets(double start, double factor,
                                       int count) {
  std::vector<double> bounds;
  for (int i = 0; i < count; ++i, start *= factor) bounds.push_back(start);
  return bounds;
}

}  // namespace trainbus::report
