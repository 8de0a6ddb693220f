// Machine FMA peak: a register-only loop of independent FMAs (no loads), so
// "% of peak" can be quoted for the kernels.
//
//   bazel run -c opt //kernels:peak_benchmark
//
// 16 independent accumulators cover 2 FMA ports x 4-cycle latency twice
// over; the counter is GFLOP/s (2 flops per lane per FMA). Threads(2) gives
// the whole machine (2 cores).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/peak_benchmark.cc"
#include <cstddef>
#include <cstdint>

#include "benchmark/benchmark.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace trainbus::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Returns flops done; the sum is written out so nothing is optimised away.
uint64_t FmaLoop(uint64_t iters, float* sink) {
  const hn::ScalableTag<float> d;
  auto m = hn::Set(d, 0.999999f);
  auto a = hn::Set(d, 1e-7f);
  auto c0 = hn::Set(d, 1.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
       c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0,
       c13 = c0, c14 = c0, c15 = c0;
  for (uint64_t i = 0; i < iters; ++i) {
    c0 = hn::MulAdd(c0, m, a);
    c1 = hn::MulAdd(c1, m, a);
    c2 = hn::MulAdd(c2, m, a);
    c3 = hn::MulAdd(c3, m, a);
    c4 = hn::MulAdd(c4, m, a);
    c5 = hn::MulAdd(c5, m, a);
    c6 = hn::MulAdd(c6, m, a);
    c7 = hn::MulAdd(c7, m, a);
    c8 = hn::MulAdd(c8, m, a);
    c9 = hn::MulAdd(c9, m, a);
    c10 = hn::MulAdd(c10, m, a);
    c11 = hn::MulAdd(c11, m, a);
    c12 = hn::MulAdd(c12, m, a);
    c13 = hn::MulAdd(c13, m, a);
    c14 = hn::MulAdd(c14, m, a);
    c15 = hn::MulAdd(c15, m, a);
  }
  auto s = hn::Add(hn::Add(hn::Add(c0, c1), hn::Add(c2, c3)),
                   hn::Add(hn::Add(c4, c5), hn::Add(c6, c7)));
  s = hn::Add(s, hn::Add(hn::Add(hn::Add(c8, c9), hn::Add(c10, c11)),
                         hn::Add(hn::Add(c12, c13), hn::Add(c14, c15))));
  *sink = hn::GetLane(hn::SumOfLanes(d, s));
  return iters * 16 * hn::Lanes(d) * 2;
}

const char* PeakTargetName() { return hwy::TargetName(HWY_TARGET); }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace trainbus::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace trainbus::kernels {
namespace {

HWY_EXPORT(FmaLoop);
HWY_EXPORT(PeakTargetName);

void BM_FmaPeak(benchmark::State& state) {
  float sink = 0;
  uint64_t flops = 0;
  for (auto _ : state) {
    flops += HWY_DYNAMIC_DISPATCH(FmaLoop)(1 << 20, &sink);
    benchmark::DoNotOptimize(sink);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(flops) / 1e9,
                         benchmark::Counter::kIsRate);
  state.SetLabel(HWY_DYNAMIC_DISPATCH(PeakTargetName)());
}
BENCHMARK(BM_FmaPeak)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace trainbus::kernels

BENCHMARK_MAIN();
#endif  // HWY_ONCE
