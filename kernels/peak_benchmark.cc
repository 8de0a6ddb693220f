// Machine FMA peak: a register-only loop of independent FMAs (no loads), so
// "% of peak" can be quoted for the kernels.
//
//   bazel run -c opt //kernels:peak_benchmark
//
// Independent accumulators cover 2 FMA ports x 4-cycle latency; the counter
// is GFLOP/s (2 flops per lane per FMA). Threads(2) gives
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

// 16 accumulators where there are 32 vector registers; 12 on 16-register
// targets (AVX2), where 16 + the 2 operands spill accumulators to the stack
// and halve the rate. 12 chains still cover 2 ports x 4-cycle latency.
constexpr size_t kChains =
    (HWY_ARCH_X86 && HWY_TARGET > HWY_AVX3) || HWY_TARGET == HWY_SCALAR ? 12
                                                                        : 16;

// Returns flops done; the sum is written out so nothing is optimised away.
uint64_t FmaLoop(uint64_t iters, float* sink) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const V m = hn::Set(d, 0.999999f);
  const V a = hn::Set(d, 1e-7f);
  V c[kChains];
#pragma GCC unroll 16
  for (size_t j = 0; j < kChains; ++j) c[j] = hn::Set(d, 1.0f);
  for (uint64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (size_t j = 0; j < kChains; ++j) c[j] = hn::MulAdd(c[j], m, a);
  }
  V s = c[0];
#pragma GCC unroll 16
  for (size_t j = 1; j < kChains; ++j) s = hn::Add(s, c[j]);
  *sink = hn::GetLane(hn::SumOfLanes(d, s));
  return iters * kChains * hn::Lanes(d) * 2;
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

// Per CPU second, like the single-threaded GEMM rates: on a shared machine
// the wall-clock peak above drops with the load, this one much less.
void BM_FmaPeakCpuTime(benchmark::State& state) { BM_FmaPeak(state); }
BENCHMARK(BM_FmaPeakCpuTime)->Threads(1);

}  // namespace
}  // namespace trainbus::kernels

BENCHMARK_MAIN();
#endif  // HWY_ONCE
