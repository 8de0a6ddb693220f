// GEMM GFLOP/s at the workload's shapes and at 1024^3, ours (single-threaded
// and TBB) next to OpenBLAS sgemm (single-threaded and 2 threads).
//
//   bazel run -c opt //kernels:gemm_benchmark
//
// Names: BM_<impl>/<M>/<K>/<N>/<op>, C (M x N) = op(A) (M x K) op(B) (K x N);
// op 0 = NN, 1 = NT (A * B^T, dense forward), 2 = TN (A^T * B, weight
// gradient). Shapes 64x784x128 and 64x128x10 are the MLP's forward; the
// NT/TN variants of the same products are its backward.
#include <cblas.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/gemm.h"
#include "oneapi/tbb/global_control.h"

namespace trainbus::kernels {
namespace {

struct Operands {
  Operands(size_t m, size_t k, size_t n)
      : a(m * k, 0.5f), b(k * n, 0.25f), c(m * n) {
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) * 0.1f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) * 0.1f;
  }
  std::vector<float> a, b, c;
};

void SetCounters(benchmark::State& state, size_t m, size_t k, size_t n) {
  const double flops = 2.0 * m * k * n;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations());
}

// op(A) and op(B) as stored for each variant.
void Dims(int op, size_t m, size_t k, size_t n, Transpose* ta, Transpose* tb,
          size_t* lda, size_t* ldb) {
  *ta = op == 2 ? Transpose::kYes : Transpose::kNo;
  *tb = op == 1 ? Transpose::kYes : Transpose::kNo;
  *lda = *ta == Transpose::kYes ? m : k;
  *ldb = *tb == Transpose::kYes ? k : n;
}

template <bool kThreaded>
void BM_Ours(benchmark::State& state) {
  const size_t m = state.range(0), k = state.range(1), n = state.range(2);
  const int op = static_cast<int>(state.range(3));
  Operands o(m, k, n);
  Transpose ta, tb;
  size_t lda, ldb;
  Dims(op, m, k, n, &ta, &tb, &lda, &ldb);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            kThreaded ? 2 : 1);
  for (auto _ : state) {
    if (kThreaded) {
      Gemm(ta, tb, m, n, k, 1.0f, o.a.data(), lda, o.b.data(), ldb, 0.0f,
           o.c.data(), n);
    } else {
      GemmSerial(ta, tb, m, n, k, 1.0f, o.a.data(), lda, o.b.data(), ldb, 0.0f,
                 o.c.data(), n);
    }
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, m, k, n);
  state.SetLabel(GemmTargetName());
}

template <int kThreads>
void BM_OpenBLAS(benchmark::State& state) {
  const size_t m = state.range(0), k = state.range(1), n = state.range(2);
  const int op = static_cast<int>(state.range(3));
  Operands o(m, k, n);
  Transpose ta, tb;
  size_t lda, ldb;
  Dims(op, m, k, n, &ta, &tb, &lda, &ldb);
  openblas_set_num_threads(kThreads);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor,
                ta == Transpose::kYes ? CblasTrans : CblasNoTrans,
                tb == Transpose::kYes ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                1.0f, o.a.data(), static_cast<int>(lda), o.b.data(),
                static_cast<int>(ldb), 0.0f, o.c.data(), static_cast<int>(n));
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, m, k, n);
}

// {M, K, N, op}.
constexpr int64_t kShapes[][4] = {
    // MLP 784 -> 128 -> 10 at batch 64: forward (NT), input grad (NN),
    // weight grad (TN).
    {64, 784, 128, 1}, {64, 128, 784, 0}, {128, 64, 784, 2},
    {64, 128, 10, 1}, {64, 10, 128, 0}, {10, 64, 128, 2},
    // Also the plain NN forms of the shapes, and 1024^3.
    {64, 784, 128, 0}, {64, 128, 10, 0},
    {1024, 1024, 1024, 0}, {1024, 1024, 1024, 1}, {1024, 1024, 1024, 2},
    // MLP 784 -> 256 (the benchmark model) and the CNN's conv2 GEMM at
    // batch 64.
    {64, 784, 256, 1}, {256, 64, 784, 2}, {16, 200, 4096, 0},
    // Softmax regression at batch 64: forward and weight gradient.
    {64, 784, 10, 1}, {10, 64, 784, 2},
    // Batch 1: GEMV and rank-1 update.
    {1, 784, 256, 1}, {256, 1, 784, 2},
};

// Registered shape by shape, ours next to OpenBLAS, so that a change in the
// machine's load (it is shared) shifts both sides of a ratio alike.
void RegisterAll() {
  for (const auto& s : kShapes) {
    const std::vector<int64_t> args(s, s + 4);
    const std::vector<std::string> names = {"M", "K", "N", "op"};
    benchmark::RegisterBenchmark("BM_GemmOursSerial", BM_Ours<false>)
        ->Args(args)->ArgNames(names);
    benchmark::RegisterBenchmark("BM_GemmOpenBLAS1", BM_OpenBLAS<1>)
        ->Args(args)->ArgNames(names);
    benchmark::RegisterBenchmark("BM_GemmOurs2T", BM_Ours<true>)
        ->Args(args)->ArgNames(names)->UseRealTime();
    benchmark::RegisterBenchmark("BM_GemmOpenBLAS2", BM_OpenBLAS<2>)
        ->Args(args)->ArgNames(names)->UseRealTime();
  }
}

}  // namespace
}  // namespace trainbus::kernels

int main(int argc, char** argv) {
  trainbus::kernels::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
