#include "actors/consumer/aggregator.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "caf/all.hpp"

namespace trainbus::actors {

size_t PredictionAggregator::ModelIndex(const std::string& model) {
  auto it = std::find(names_.begin(), names_.end(), model);
  if (it != names_.end()) return static_cast<size_t>(it - names_.begin());
  names_.push_back(model);
  per_model_.emplace_back();
  return names_.size() - 1;
}

void PredictionAggregator::Add(const bus::Prediction& p, int64_t arrival_ns) {
  ++predictions_;
  ++per_source_[p.source];
  const size_t m = ModelIndex(p.model);
  PerModel& pm = per_model_[m];
  ++pm.predictions;
  if (p.label >= 0) {
    if (pm.by_label.size() <= static_cast<size_t>(p.label)) {
      pm.by_label.resize(p.label + 1);
    }
    ++pm.by_label[p.label];
  }
  if (truth_) {
    const int32_t truth = truth_(p.source, p.sample_seq);
    if (truth != bus::kNoLabel) {
      ++pm.with_truth;
      pm.correct += truth == p.label;
    }
  }
  if (p.publish_ns > 0) {
    prediction_latency_.Record(p.predicted_ns - p.publish_ns);
    delivery_latency_.Record(arrival_ns - p.publish_ns);
  }
  Key key{p.source, p.sample_seq};
  auto [it, inserted] = seen_.try_emplace(key);
  if (inserted) {
    order_.push_back(key);
  }
  for (const auto& [other, label] : it->second) {
    if (other == m) continue;  // a model predicting twice: not a pair
    auto& counts = pairs_[{std::min(m, other), std::max(m, other)}];
    ++counts.first;
    counts.second += label == p.label;
  }
  it->second.emplace_back(m, p.label);
  while (seen_.size() > max_samples_ && !order_.empty()) {
    seen_.erase(order_.front());
    order_.pop_front();
    ++evicted_;
  }
}

AggregateReport PredictionAggregator::Report() const {
  AggregateReport r;
  r.predictions = predictions_;
  r.per_source = per_source_;
  std::vector<size_t> sorted(names_.size());
  std::iota(sorted.begin(), sorted.end(), 0);
  std::sort(sorted.begin(), sorted.end(),
            [&](size_t a, size_t b) { return names_[a] < names_[b]; });
  const size_t n = sorted.size();
  for (size_t i : sorted) {
    const PerModel& pm = per_model_[i];
    r.models.push_back(ModelCounts{names_[i], pm.predictions, pm.with_truth,
                                   pm.correct, pm.by_label});
  }
  r.compared.assign(n * n, 0);
  r.agreed.assign(n * n, 0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const size_t a = sorted[i], b = sorted[j];
      auto it = pairs_.find({std::min(a, b), std::max(a, b)});
      if (a == b || it == pairs_.end()) continue;
      r.compared[i * n + j] = it->second.first;
      r.agreed[i * n + j] = it->second.second;
    }
  }
  r.prediction_latency = prediction_latency_.Summary();
  r.delivery_latency = delivery_latency_.Summary();
  r.evicted = evicted_;
  return r;
}

std::string FormatAggregateReport(const AggregateReport& r) {
  std::string out = absl::StrFormat("%-10s %12s %10s %10s\n", "model",
                                    "predictions", "with_truth", "live_acc");
  for (const ModelCounts& m : r.models) {
    absl::StrAppendFormat(&out, "%-10s %12d %10d %10s\n", m.model,
                          m.predictions, m.with_truth,
                          m.with_truth ? absl::StrFormat("%.4f", m.accuracy())
                                       : std::string("-"));
  }
  absl::StrAppendFormat(&out, "%-10s %12d\n", "total", r.predictions);
  out += "agreement (same label on the same sample):\n";
  absl::StrAppendFormat(&out, "%-10s", "");
  for (const ModelCounts& m : r.models)
    absl::StrAppendFormat(&out, " %8s", m.model);
  out += "\n";
  const size_t n = r.models.size();
  for (size_t i = 0; i < n; ++i) {
    absl::StrAppendFormat(&out, "%-10s", r.models[i].model);
    for (size_t j = 0; j < n; ++j) {
      if (i == j) {
        absl::StrAppendFormat(&out, " %8s", "-");
      } else if (r.compared[i * n + j] == 0) {
        absl::StrAppendFormat(&out, " %8s", "n/a");
      } else {
        absl::StrAppendFormat(&out, " %8.4f", r.Agreement(i, j));
      }
    }
    out += "\n";
  }
  out += "predictions per source:";
  for (const auto& [source, count] : r.per_source) {
    absl::StrAppendFormat(&out, " %s=%d", source, count);
  }
  out += "\n";
  absl::StrAppend(&out, "latency publish->prediction: ",
                  FormatLatencySummary(r.prediction_latency), "\n");
  absl::StrAppend(&out, "latency publish->aggregator: ",
                  FormatLatencySummary(r.delivery_latency), "\n");
  if (r.evicted > 0) {
    absl::StrAppendFormat(&out, "(%d samples forgotten for the memory cap)\n",
                          r.evicted);
  }
  return out;
}

namespace {

class AggregatorLogic : public ConsumerLogic {
 public:
  AggregatorLogic(TruthFn truth, size_t max_samples)
      : aggregator_(std::move(truth), max_samples) {}

  absl::Status OnPrediction(uint64_t, const bus::Prediction& p) override {
    aggregator_.Add(p, std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count());
    return absl::OkStatus();
  }
  caf::message Report() override {
    return caf::make_message(aggregator_.Report());
  }

 private:
  PredictionAggregator aggregator_;
};

}  // namespace

caf::actor SpawnAggregator(caf::actor_system& sys, AggregatorOptions options) {
  return SpawnConsumer(sys, options.consumer,
                       std::make_unique<AggregatorLogic>(
                           std::move(options.truth), options.max_samples));
}

void AddAggregatorTypes(caf::actor_system_config& cfg) {
  cfg.add_message_type<LatencySummary>("trainbus.LatencySummary")
      .add_message_type<ModelCounts>("trainbus.ModelCounts")
      .add_message_type<AggregateReport>("trainbus.AggregateReport");
}

}  // namespace trainbus::actors
