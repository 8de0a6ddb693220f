// The aggregator: a consumer of predictions that answers "how do the models
// do on live data?": predictions per model and per source, how often each
// pair of models agrees on the same sample (source, sample_seq), accuracy
// where the true label is known, and the latency from the sample's publish to
// its prediction (and to the aggregator) as percentiles.
//
//   AggregatorOptions o;
//   o.consumer.inputs = {*bus.Lookup("predictions")};
//   caf::actor agg = SpawnAggregator(sys, o);
//   ...
//   self->request(agg, caf::infinite, report_atom::value)
//       .receive([](const AggregateReport& r) {
//                  std::cout << FormatAggregateReport(r);
//                }, ...);
#ifndef TRAINBUS_ACTORS_CONSUMER_AGGREGATOR_H_
#define TRAINBUS_ACTORS_CONSUMER_AGGREGATOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/consumer/consumer.h"
#include "actors/consumer/latency_histogram.h"
#include "bus/message.h"
#include "caf/meta/type_name.hpp"

namespace trainbus::actors {

// The true label of a sample, or bus::kNoLabel if unknown.
using TruthFn = std::function<int32_t(const std::string& source, uint64_t seq)>;

struct ModelCounts {
  std::string model;
  uint64_t predictions = 0;
  uint64_t with_truth = 0;  // predictions whose true label is known
  uint64_t correct = 0;
  std::vector<uint64_t> by_label;  // predicted label histogram

  double accuracy() const {
    return with_truth ? static_cast<double>(correct) / with_truth : 0;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ModelCounts& x) {
  return f(caf::meta::type_name("trainbus.ModelCounts"), x.model, x.predictions,
           x.with_truth, x.correct, x.by_label);
}

struct AggregateReport {
  uint64_t predictions = 0;
  std::vector<ModelCounts> models;             // sorted by name
  std::map<std::string, uint64_t> per_source;  // predictions per source
  // Row-major models.size()^2: samples both models predicted, and how many
  // of them got the same label. The diagonal is unused.
  std::vector<uint64_t> compared;
  std::vector<uint64_t> agreed;
  LatencySummary prediction_latency;  // publish -> prediction made
  LatencySummary delivery_latency;    // publish -> arrival here
  uint64_t evicted = 0;               // samples forgotten for the memory cap

  double Agreement(size_t i, size_t j) const {
    const size_t k = i * models.size() + j;
    return compared[k] ? static_cast<double>(agreed[k]) / compared[k] : 0;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, AggregateReport& x) {
  return f(caf::meta::type_name("trainbus.AggregateReport"), x.predictions,
           x.models, x.per_source, x.compared, x.agreed, x.prediction_latency,
           x.delivery_latency, x.evicted);
}

// Counts per model, an agreement matrix and latency percentiles as text.
std::string FormatAggregateReport(const AggregateReport& report);

// The aggregation itself, without actors (the actor wraps one of these).
class PredictionAggregator {
 public:
  // Remembers at most `max_samples` samples for agreement; the oldest are
  // forgotten first (a late prediction for them is then not compared).
  explicit PredictionAggregator(TruthFn truth = nullptr,
                                size_t max_samples = size_t{1} << 20)
      : truth_(std::move(truth)), max_samples_(max_samples) {}

  // `arrival_ns`: when it reached us, on the steady clock of publish_ns.
  void Add(const bus::Prediction& p, int64_t arrival_ns);
  AggregateReport Report() const;

 private:
  struct PerModel {
    uint64_t predictions = 0, with_truth = 0, correct = 0;
    std::vector<uint64_t> by_label;
  };
  using Key = std::pair<std::string, uint64_t>;  // (source, sample_seq)

  size_t ModelIndex(const std::string& model);

  TruthFn truth_;
  size_t max_samples_;
  uint64_t predictions_ = 0;
  std::vector<std::string> names_;  // by index, in order of appearance
  std::vector<PerModel> per_model_;
  std::map<std::string, uint64_t> per_source_;
  // pair_counts_[{a, b}] with a < b by index: (compared, agreed).
  std::map<std::pair<size_t, size_t>, std::pair<uint64_t, uint64_t>> pairs_;
  std::map<Key, std::vector<std::pair<size_t, int32_t>>> seen_;
  std::deque<Key> order_;
  uint64_t evicted_ = 0;
  LatencyHistogram prediction_latency_, delivery_latency_;
};

struct AggregatorOptions {
  ConsumerOptions consumer;
  TruthFn truth;
  size_t max_samples = size_t{1} << 20;
};

caf::actor SpawnAggregator(caf::actor_system& sys, AggregatorOptions options);

void AddAggregatorTypes(caf::actor_system_config& cfg);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_CONSUMER_AGGREGATOR_H_
