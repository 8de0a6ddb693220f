#include "gateway/metrics_history.h"

#include <utility>

namespace trainbus::gateway {

void MetricsHistory::Append(bus::Metric metric) {
  absl::MutexLock lock(&mu_);
  if (metric.split == "test") latest_[metric.model] = metric;
  points_.push_back(std::move(metric));
}

std::vector<bus::Metric> MetricsHistory::Since(size_t* next,
                                               absl::Duration wait) const {
  absl::MutexLock lock(&mu_);
  const size_t from = *next;
  auto ready = [this, from]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return closed_ || points_.size() > from;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
  if (from >= points_.size()) return {};
  std::vector<bus::Metric> out(points_.begin() + from, points_.end());
  *next = points_.size();
  return out;
}

size_t MetricsHistory::size() const {
  absl::MutexLock lock(&mu_);
  return points_.size();
}

std::map<std::string, bus::Metric> MetricsHistory::Latest() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

void MetricsHistory::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

bool MetricsHistory::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

}  // namespace trainbus::gateway
