// Convolution forward and backward (im2col + GEMM) at the CNN's layer shapes.
//
//   bazel run -c opt //kernels:conv_benchmark
//
// Args: batch, in channels, height (= width), out channels; 5x5 kernels.
// GFLOP/s counts the convolution's multiply-adds (x2); backward includes
// both the weight and the input gradient.
#include <cstddef>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/conv.h"

namespace trainbus::kernels {
namespace {

// Args: B, C, HW, OC, K (kernel), P (zero padding).
ConvShape Shape(const benchmark::State& state) {
  return ConvShape{static_cast<size_t>(state.range(0)),
                   static_cast<size_t>(state.range(1)),
                   static_cast<size_t>(state.range(2)),
                   static_cast<size_t>(state.range(2)),
                   static_cast<size_t>(state.range(3)),
                   static_cast<size_t>(state.range(4)),
                   static_cast<size_t>(state.range(5))};
}

double Macs(const ConvShape& s) {
  return static_cast<double>(s.OutSize()) * s.ColRows();
}

void BM_ConvForward(benchmark::State& state) {
  const ConvShape s = Shape(state);
  std::vector<float> in(s.InSize(), 0.5f), w(s.WeightSize(), 0.01f),
      b(s.out_channels, 0.1f), out(s.OutSize()), col(s.ColSize());
  for (auto _ : state) {
    Conv2dForward(s, in.data(), w.data(), b.data(), out.data(), col.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * s.batch);
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * Macs(s) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void BM_ConvBackward(benchmark::State& state) {
  const ConvShape s = Shape(state);
  std::vector<float> in(s.InSize(), 0.5f), w(s.WeightSize(), 0.01f),
      b(s.out_channels, 0.1f), out(s.OutSize()), col(s.ColSize()),
      dcol(s.ColSize()), dw(s.WeightSize()), db(s.out_channels),
      din(s.InSize()), dout(s.OutSize(), 0.01f);
  Conv2dForward(s, in.data(), w.data(), b.data(), out.data(), col.data());
  for (auto _ : state) {
    Conv2dBackward(s, col.data(), w.data(), dout.data(), dw.data(), db.data(),
                   din.data(), dcol.data());
    benchmark::DoNotOptimize(din.data());
  }
  state.SetItemsProcessed(state.iterations() * s.batch);
  state.counters["GFLOP/s"] = benchmark::Counter(
      4.0 * Macs(s) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void Shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "C", "HW", "OC", "K", "P"});
  // The default CNN (conv=8x16): conv1 1x28x28 -> 8, conv2 8x12x12 -> 16.
  b->Args({64, 1, 28, 8, 5, 0})->Args({64, 8, 12, 16, 5, 0});
  b->Args({1, 1, 28, 8, 5, 0})->Args({1, 8, 12, 16, 5, 0});
  // A bigger choice (conv=16x32).
  b->Args({64, 1, 28, 16, 5, 0})->Args({64, 16, 12, 32, 5, 0});
  // The accuracy CNN (conv=32x64,kernel=3,padding=same): 1x28x28 -> 32,
  // then 32x14x14 -> 64.
  b->Args({64, 1, 28, 32, 3, 1})->Args({64, 32, 14, 64, 3, 1});
  b->UseRealTime();
}

BENCHMARK(BM_ConvForward)->Apply(Shapes);
BENCHMARK(BM_ConvBackward)->Apply(Shapes);

}  // namespace
}  // namespace trainbus::kernels

BENCHMARK_MAIN();
