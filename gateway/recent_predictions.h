// The last predictions a run's models made, with the pixels they were made
// on, for the dashboard's thumbnails (/v1/predictions/recent) and the
// feedback a user gives by picking the right class. Thread-safe.
//
//   RecentPredictions recent(256);
//   uint64_t id = recent.Add(std::move(p));   // ids count up from 1
//   auto last = recent.Last(32);              // newest first
//   auto p = recent.Find(id);                 // NotFound once evicted
#ifndef TRAINBUS_GATEWAY_RECENT_PREDICTIONS_H_
#define TRAINBUS_GATEWAY_RECENT_PREDICTIONS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace trainbus::gateway {

struct RecentPrediction {
  uint64_t id = 0;  // set by Add
  std::string model;
  uint32_t model_version = 0;
  int32_t label = -1;  // the predicted class
  std::vector<float> scores;
  std::string source;  // the sample's source and sequence number
  uint64_t sample_seq = 0;
  std::string origin;            // the sample's origin (file, test:<index>)
  std::vector<uint32_t> shape;   // {28, 28}
  std::vector<uint8_t> pixels;   // empty when the sample was not seen
  int64_t time_ns = 0;           // wall clock of the prediction
};

class RecentPredictions {
 public:
  explicit RecentPredictions(size_t capacity) : capacity_(capacity) {}

  // Keeps `p` (evicting the oldest beyond the capacity); returns its id.
  uint64_t Add(RecentPrediction p);
  // Up to `limit` predictions, newest first.
  std::vector<RecentPrediction> Last(size_t limit) const;
  absl::StatusOr<RecentPrediction> Find(uint64_t id) const;
  uint64_t added() const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<RecentPrediction> ring_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace trainbus::gateway

#endif  // TRAINBUS_GATEWAY_RECENT_PREDICTIONS_H_
