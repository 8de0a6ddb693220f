// Every Metric a run's models published, in arrival order: the whole curve
// for a page opened late (/v1/metrics/history) and a cursor for streams
// (/v1/metrics/stream). Thread-safe; one writer (the run's metric hook) and
// any number of readers.
//
//   MetricsHistory history;
//   history.Append(metric);                       // from RunHooks::on_metric
//   size_t next = 0;
//   for (const bus::Metric& m : history.Since(&next, absl::Seconds(1))) ...
#ifndef TRAINBUS_GATEWAY_METRICS_HISTORY_H_
#define TRAINBUS_GATEWAY_METRICS_HISTORY_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bus/message.h"

namespace trainbus::gateway {

class MetricsHistory {
 public:
  void Append(bus::Metric metric);

  // The points from index *next on, waiting up to `wait` for one when there
  // is none yet (and the history is open); advances *next past them.
  std::vector<bus::Metric> Since(size_t* next, absl::Duration wait) const;
  size_t size() const;

  // The last point with split "test" of each model (its figures so far).
  std::map<std::string, bus::Metric> Latest() const;

  // Wakes every waiting reader; Since no longer waits.
  void Close();
  bool closed() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<bus::Metric> points_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bus::Metric> latest_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace trainbus::gateway

#endif  // TRAINBUS_GATEWAY_METRICS_HISTORY_H_
