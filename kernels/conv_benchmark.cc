// Convolution forward, backward data and backward weights at the CNN's layer
// shapes, by each method (im2col + GEMM, direct): the measurements behind
// ChooseConvMethods. The peer (oneDNN) is in conv_peer_benchmark.cc.
//
//   bazel run -c opt //kernels:conv_benchmark
//
// Args: batch, in channels, height (= width), out channels, kernel,
// padding, method (0 = im2col, 1 = direct). GFLOP/s counts the
// convolution's multiply-adds (x2) per pass.
#include <cstddef>
#include <cstdint>
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

ConvMethod Method(const benchmark::State& state) {
  return state.range(6) == 0 ? ConvMethod::kIm2col : ConvMethod::kDirect;
}

// Runs pass(in, weight, bias, out-or-dout, result buffers) and reports.
template <class Pass>
void Run(benchmark::State& state, const Pass& pass) {
  const ConvShape s = Shape(state);
  std::vector<float> in(s.InSize(), 0.5f), w(s.WeightSize(), 0.01f),
      b(s.out_channels, 0.1f), out(s.OutSize(), 0.01f), dw(s.WeightSize()),
      din(s.InSize());
  for (auto _ : state) {
    pass(s, Method(state), in.data(), w.data(), b.data(), out.data(),
         dw.data(), din.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * s.batch);
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * Macs(s) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void BM_ConvForward(benchmark::State& state) {
  Run(state, [](const ConvShape& s, ConvMethod m, const float* in,
                const float* w, const float* b, float* out, float*, float*) {
    ConvForward(s, m, in, w, b, /*relu=*/true, out);
  });
}

void BM_ConvBackwardData(benchmark::State& state) {
  Run(state, [](const ConvShape& s, ConvMethod m, const float*,
                const float* w, const float*, float* dout, float*,
                float* din) { ConvBackwardData(s, m, w, dout, din); });
}

void BM_ConvBackwardWeights(benchmark::State& state) {
  Run(state, [](const ConvShape& s, ConvMethod m, const float* in,
                const float*, const float*, float* dout, float* dw, float*) {
    ConvBackwardWeights(s, m, in, dout, dw);
  });
}

// The CNNs' layers, (B, C, HW, OC, K, P), each by both methods in turn.
void Shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "C", "HW", "OC", "K", "P", "M"});
  const std::vector<std::vector<int64_t>> shapes = {
      // The default CNN (conv=8x16): conv1 1x28x28 -> 8, conv2 8x12x12 -> 16.
      {64, 1, 28, 8, 5, 0}, {64, 8, 12, 16, 5, 0},
      {1, 1, 28, 8, 5, 0}, {1, 8, 12, 16, 5, 0},
      // A bigger choice (conv=16x32).
      {64, 1, 28, 16, 5, 0}, {64, 16, 12, 32, 5, 0},
      // The accuracy CNN (conv=32x64,kernel=3,padding=same): 1x28x28 -> 32,
      // then 32x14x14 -> 64.
      {64, 1, 28, 32, 3, 1}, {64, 32, 14, 64, 3, 1}};
  for (std::vector<int64_t> args : shapes) {
    args.push_back(0);
    b->Args(args);
    args.back() = 1;
    b->Args(args);
  }
  b->UseRealTime();
}

BENCHMARK(BM_ConvForward)->Apply(Shapes);
BENCHMARK(BM_ConvBackwardData)->Apply(Shapes);
BENCHMARK(BM_ConvBackwardWeights)->Apply(Shapes);

}  // namespace
}  // namespace trainbus::kernels

BENCHMARK_MAIN();
