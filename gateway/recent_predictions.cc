#include "gateway/recent_predictions.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace trainbus::gateway {

uint64_t RecentPredictions::Add(RecentPrediction p) {
  absl::MutexLock lock(&mu_);
  p.id = next_id_++;
  ring_.push_back(std::move(p));
  while (ring_.size() > capacity_) ring_.pop_front();
  return ring_.empty() ? 0 : ring_.back().id;
}

std::vector<RecentPrediction> RecentPredictions::Last(size_t limit) const {
  absl::MutexLock lock(&mu_);
  const size_t n = std::min(limit, ring_.size());
  return std::vector<RecentPrediction>(ring_.rbegin(), ring_.rbegin() + n);
}

absl::StatusOr<RecentPrediction> RecentPredictions::Find(uint64_t id) const {
  absl::MutexLock lock(&mu_);
  // Ids are consecutive: the entry's place follows from the oldest id.
  if (!ring_.empty() && id >= ring_.front().id && id <= ring_.back().id) {
    return ring_[id - ring_.front().id];
  }
  return absl::NotFoundError(absl::StrCat(
      "prediction ", id, " is not among the last ", capacity_,
      " predictions; take an id from GET /v1/predictions/recent"));
}

uint64_t RecentPredictions::added() const {
  absl::MutexLock lock(&mu_);
  return next_id_ - 1;
}

}  // namespace trainbus::gateway
