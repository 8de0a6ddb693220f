#include "serving/metrics.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace trainbus::serving {

absl::StatusOr<std::unique_ptr<ServingMetrics>> ServingMetrics::Create() {
  std::unique_ptr<ServingMetrics> m(new ServingMetrics());
  report::MetricRegistry& r = m->registry_;
  TB_ASSIGN_OR_RETURN(
      m->requests_,
      r.AddCounter("trainbus_serving_requests_total",
                   "Model API requests answered, by model, version served "
                   "(empty if none) and HTTP status.",
                   {"model", "version", "status"}));
  // 50 us to about 3.3 s.
  TB_ASSIGN_OR_RETURN(
      m->durations_,
      r.AddHistogram("trainbus_serving_request_duration_seconds",
                     "Time from a parsed request to its response.", {"model"},
                     report::ExponentialBuckets(0.00005, 2, 17)));
  TB_ASSIGN_OR_RETURN(
      m->batch_sizes_,
      r.AddHistogram("trainbus_serving_batch_size",
                     "Rows per batch predicted by the dynamic batcher.",
                     {"model"}, report::ExponentialBuckets(1, 2, 11)));
  TB_ASSIGN_OR_RETURN(
      m->queue_depth_,
      r.AddGauge("trainbus_serving_queue_depth",
                 "Requests waiting in the batch queue for a model worker."));
  TB_ASSIGN_OR_RETURN(
      m->queued_batches_,
      r.AddGauge("trainbus_serving_queued_batches",
                 "Batches waiting for a thread (503 at "
                 "--max_enqueued_batches)."));
  TB_ASSIGN_OR_RETURN(
      m->loaded_version_,
      r.AddGauge("trainbus_serving_loaded_version",
                 "The version served: label=\"latest\" for requests without "
                 "a version or label, else per alias.",
                 {"model", "label"}));
  TB_ASSIGN_OR_RETURN(
      m->swaps_, r.AddCounter("trainbus_serving_swaps_total",
                              "Snapshots of the registry swapped in (hot "
                              "swaps) since start.",
                              {"model"}));
  TB_ASSIGN_OR_RETURN(
      m->retries_,
      r.AddCounter("trainbus_serving_replica_retries_total",
                   "Batches retried once on another replica because theirs "
                   "was gone (its node died).",
                   {"model"}));
  TB_ASSIGN_OR_RETURN(
      m->replicas_out_,
      r.AddGauge("trainbus_serving_replicas_out",
                 "Replicas of the latest version out of the rotation.",
                 {"model"}));
  return m;
}

ServingMetrics::Summary ServingMetrics::Summarize(
    absl::string_view model) const {
  const report::Histogram::Snapshot h =
      durations_->Labels({std::string(model)}).Read();
  Summary s;
  s.requests = h.count;
  for (size_t i = 0; i < h.bounds.size() && h.count > 0; ++i) {
    if (h.cumulative[i] >= 0.99 * static_cast<double>(h.count)) {
      s.p99_seconds = h.bounds[i];
      return s;
    }
  }
  if (h.count > 0) s.p99_seconds = h.bounds.empty() ? 0 : h.bounds.back();
  return s;
}

void ServingMetrics::CountRetry(absl::string_view model) {
  retries_->Labels({std::string(model)}).Increment();
}

void ServingMetrics::CountRequest(absl::string_view model,
                                  absl::string_view version, int http_status,
                                  double seconds) {
  requests_
      ->Labels({std::string(model), std::string(version),
                absl::StrCat(http_status)})
      .Increment();
  durations_->Labels({std::string(model)}).Observe(seconds);
}

std::string ServingMetrics::Render(const ModelSet& models,
                                   const Batcher* batcher, int64_t swaps) {
  absl::MutexLock lock(&render_mu_);
  if (batcher != nullptr) {
    queue_depth_->Get().Set(static_cast<double>(batcher->queued_tasks()));
    queued_batches_->Get().Set(static_cast<double>(batcher->queued_batches()));
  }
  // Only the labels the snapshot has now (an alias may have been removed).
  loaded_version_->Clear();
  absl::StatusOr<const ServedVersion*> latest = models.Latest();
  loaded_version_->Labels({models.name(), "latest"})
      .Set(latest.ok() ? static_cast<double>((*latest)->version()) : 0);
  for (const auto& [label, version] : models.labels()) {
    loaded_version_->Labels({models.name(), label})
        .Set(models.ByVersion(version).ok() ? static_cast<double>(version) : 0);
  }
  replicas_out_->Labels({models.name()})
      .Set(latest.ok() ? static_cast<double>((*latest)->replicas_out()) : 0);
  // At 0 before the first retry, so rate() and alerts see the series.
  retries_->Labels({models.name()});
  report::Counter& swapped = swaps_->Labels({models.name()});
  swapped.Increment(static_cast<double>(swaps) - swapped.value());
  return registry_.Render();
}

}  // namespace trainbus::serving
