#include "actors/consumer/latency_histogram.h"

#include <algorithm>
#include <cmath>

#include "absl/numeric/bits.h"
#include "absl/strings/str_format.h"

namespace trainbus::actors {

size_t LatencyHistogram::BucketOf(uint64_t v) {
  if (v < kSub) return static_cast<size_t>(v);
  const int exponent = 63 - absl::countl_zero(v);  // >= kSubBits
  const int shift = exponent - kSubBits;
  const uint64_t sub = (v >> shift) & (kSub - 1);
  return kSub + static_cast<size_t>(shift) * kSub + static_cast<size_t>(sub);
}

uint64_t LatencyHistogram::BucketUpper(size_t bucket) {
  if (bucket < kSub) return bucket;
  const size_t shift = (bucket - kSub) / kSub;
  const uint64_t sub = (bucket - kSub) % kSub;
  const uint64_t lower = (kSub + sub) << shift;
  return lower + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(int64_t ns) {
  ns = std::max<int64_t>(ns, 0);
  ++buckets_[BucketOf(static_cast<uint64_t>(ns))];
  min_ = count_ == 0 ? ns : std::min(min_, ns);
  max_ = std::max(max_, ns);
  sum_ += static_cast<double>(ns);
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  count_ += other.count_;
}

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      return std::min<int64_t>(static_cast<int64_t>(BucketUpper(i)), max_);
    }
  }
  return max_;
}

LatencySummary LatencyHistogram::Summary() const {
  LatencySummary s;
  s.count = count_;
  s.min_ns = min();
  s.p50_ns = Percentile(0.5);
  s.p90_ns = Percentile(0.9);
  s.p99_ns = Percentile(0.99);
  s.max_ns = max_;
  s.mean_ns = mean();
  return s;
}

std::string FormatLatencySummary(const LatencySummary& s) {
  if (s.count == 0) return "n 0";
  return absl::StrFormat(
      "n %d  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  mean %.3f ms",
      s.count, s.p50_ns / 1e6, s.p90_ns / 1e6, s.p99_ns / 1e6, s.max_ns / 1e6,
      s.mean_ns / 1e6);
}

}  // namespace trainbus::actors
