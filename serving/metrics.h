// The serving metrics behind GET /metrics (Prometheus text format 0.0.4,
// report/prometheus.h):
//   trainbus_serving_requests_total{model,version,status}   counter
//   trainbus_serving_request_duration_seconds{model}        histogram
//   trainbus_serving_batch_size{model}                      histogram (rows)
//   trainbus_serving_queue_depth                            gauge (requests)
//   trainbus_serving_queued_batches                         gauge
//   trainbus_serving_loaded_version{model,label}            gauge; label
//       "latest" is the highest loaded version, the others are aliases
//   trainbus_serving_swaps_total{model}                     counter
//   trainbus_serving_replica_retries_total{model}           counter: batches
//       retried on another replica because theirs was gone (its node died)
//   trainbus_serving_replicas_out{model}                    gauge: replicas
//       of the latest version out of the rotation
#ifndef TRAINBUS_SERVING_METRICS_H_
#define TRAINBUS_SERVING_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/string_view.h"
#include "report/prometheus.h"
#include "serving/batcher.h"
#include "serving/model_set.h"

namespace trainbus::serving {

class ServingMetrics {
 public:
  static absl::StatusOr<std::unique_ptr<ServingMetrics>> Create();

  // One answered request to a model's API; version "" when none was chosen.
  void CountRequest(absl::string_view model, absl::string_view version,
                    int http_status, double seconds);
  // A batch retried because its replica was gone.
  void CountRetry(absl::string_view model);
  // For the Batcher.
  report::HistogramFamily* batch_sizes() { return batch_sizes_; }
  // Requests answered for `model` so far and the 99th percentile of their
  // durations (the upper bound of the histogram bucket it falls in; 0
  // without requests), for the gateway's /v1/serving.
  struct Summary {
    uint64_t requests = 0;
    double p99_seconds = 0;
  };
  Summary Summarize(absl::string_view model) const;
  // The text of a scrape, with the gauges read from `models` and `batcher`
  // (may be null) now.
  std::string Render(const ModelSet& models, const Batcher* batcher,
                     int64_t swaps);

 private:
  ServingMetrics() = default;

  absl::Mutex render_mu_;  // scrapes take turns (swaps_ catches up)
  report::MetricRegistry registry_;
  report::CounterFamily* requests_ = nullptr;
  report::HistogramFamily* durations_ = nullptr;
  report::HistogramFamily* batch_sizes_ = nullptr;
  report::GaugeFamily* queue_depth_ = nullptr;
  report::GaugeFamily* queued_batches_ = nullptr;
  report::GaugeFamily* loaded_version_ = nullptr;
  report::CounterFamily* swaps_ = nullptr;
  report::CounterFamily* retries_ = nullptr;
  report::GaugeFamily* replicas_out_ = nullptr;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_METRICS_H_
