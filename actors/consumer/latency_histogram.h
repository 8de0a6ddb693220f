// A small log-linear histogram for latencies in nanoseconds: 16 buckets per
// power of two, so a percentile is within 1/16 (6.25%) of the true value,
// in a fixed 8 KB whatever the range (HdrHistogram's idea, minus the rest).
//
//   LatencyHistogram h;
//   h.Record(1'200'000);            // 1.2 ms
//   int64_t p99 = h.Percentile(0.99);
#ifndef TRAINBUS_ACTORS_CONSUMER_LATENCY_HISTOGRAM_H_
#define TRAINBUS_ACTORS_CONSUMER_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "caf/meta/type_name.hpp"

namespace trainbus::actors {

// Percentiles of a histogram, for reports.
struct LatencySummary {
  uint64_t count = 0;
  int64_t min_ns = 0;
  int64_t p50_ns = 0;
  int64_t p90_ns = 0;
  int64_t p99_ns = 0;
  int64_t max_ns = 0;
  double mean_ns = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, LatencySummary& x) {
  return f(caf::meta::type_name("trainbus.LatencySummary"), x.count, x.min_ns,
           x.p50_ns, x.p90_ns, x.p99_ns, x.max_ns, x.mean_ns);
}

// "n 4200  p50 1.21 ms  p90 3.02 ms  p99 8.40 ms  max 12.0 ms"
std::string FormatLatencySummary(const LatencySummary& s);

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 4;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr size_t kBuckets = kSub + (64 - kSubBits) * kSub;

  // Negative values (clocks that disagree) count as 0.
  void Record(int64_t ns);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / count_ : 0; }
  // The value at quantile q in [0, 1]: the upper edge of the bucket holding
  // that rank, clamped to the largest value seen. 0 when empty.
  int64_t Percentile(double q) const;
  LatencySummary Summary() const;

  // Bucket arithmetic, exposed for tests.
  static size_t BucketOf(uint64_t v);
  static uint64_t BucketUpper(size_t bucket);  // largest value in the bucket

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_CONSUMER_LATENCY_HISTOGRAM_H_
