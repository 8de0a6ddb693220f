#include "actors/consumer/latency_histogram.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace trainbus::actors {
namespace {

TEST(LatencyHistogramTest, BucketsCoverEveryValueOnceAndInOrder) {
  for (uint64_t v : {0ull, 1ull, 15ull, 16ull, 17ull, 31ull, 32ull, 33ull,
                     1000ull, 123456789ull, ~0ull}) {
    const size_t b = LatencyHistogram::BucketOf(v);
    ASSERT_LT(b, LatencyHistogram::kBuckets) << v;
    EXPECT_LE(v, LatencyHistogram::BucketUpper(b)) << v;
    if (b > 0) {
      EXPECT_GT(v, LatencyHistogram::BucketUpper(b - 1)) << v;
    }
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(~0ull), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogramTest, PercentilesAreWithinOneSixteenth) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100000; ++v) h.Record(v * 1000);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1000);
  EXPECT_EQ(h.max(), 100000000);
  for (double q : {0.5, 0.9, 0.99}) {
    const double truth = q * 100000 * 1000;
    const double got = static_cast<double>(h.Percentile(q));
    EXPECT_GE(got, truth) << q;
    EXPECT_LE(got, truth * (1 + 1.0 / 16)) << q;
  }
  EXPECT_EQ(h.Percentile(1.0), h.max());
  EXPECT_NEAR(h.mean(), 50000.5 * 1000, 1);
}

TEST(LatencyHistogramTest, EmptyNegativeAndMerge) {
  LatencyHistogram a;
  EXPECT_EQ(a.Percentile(0.5), 0);
  EXPECT_EQ(a.Summary().count, 0u);
  a.Record(-5);  // clocks that disagree count as zero
  EXPECT_EQ(a.max(), 0);
  LatencyHistogram b;
  b.Record(7);
  b.Record(9);
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.Percentile(0.5), 7);
  EXPECT_EQ(a.Summary().max_ns, 9);
  EXPECT_EQ(FormatLatencySummary(LatencySummary{}), "n 0");
}

}  // namespace
}  // namespace trainbus::actors
