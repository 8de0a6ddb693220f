// GEMM GFLOP/s at the workload's shapes and at 1024^3, ours (single-threaded
// and TBB) next to OpenBLAS sgemm and oneDNN's dnnl_sgemm (1 and 2 threads)
// and libxsmm's JIT kernel (1 thread), shape by shape in one binary.
//
//   bazel run -c opt //kernels:gemm_benchmark
//   ... -- --benchmark_filter='Serial|1/' --benchmark_repetitions=3
//
// The context line "gemm_config" is GemmConfigDescription(): the tiles and
// blocking chosen for this CPU. For tuning, TRAINBUS_GEMM_TUNE adds
// BM_GemmOursTuned next to BM_GemmOursSerial at every shape: the chosen
// config with some fields replaced (no rebuild), interleaved with the
// default in the same run, e.g.
//   TRAINBUS_GEMM_TUNE="tile=4x3 tiled_kc=128 pack=131072 kc=384 mc=96 nc=2048 par=1e6"
//
// Names: BM_<impl>/<M>/<K>/<N>/<op>, C (M x N) = op(A) (M x K) op(B) (K x N);
// op 0 = NN, 1 = NT (A * B^T, dense forward), 2 = TN (A^T * B, weight
// gradient). Shapes 64x784x128 and 64x128x10 are the MLP's forward; the
// NT/TN variants of the same products are its backward.
#include <cblas.h>
#include <dnnl.h>
#include <libxsmm.h>
#include <omp.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_config.h"
#include "oneapi/tbb/global_control.h"

namespace trainbus::kernels {
namespace {

// One benchmarked product: its shape from the arguments (M, K, N, op), its
// operands, and op(A) and op(B) as stored for the variant.
struct Problem {
  explicit Problem(const benchmark::State& state)
      : m(state.range(0)),
        k(state.range(1)),
        n(state.range(2)),
        ta(state.range(3) == 2 ? Transpose::kYes : Transpose::kNo),
        tb(state.range(3) == 1 ? Transpose::kYes : Transpose::kNo),
        lda(ta == Transpose::kYes ? m : k),
        ldb(tb == Transpose::kYes ? k : n),
        a(m * k),
        b(k * n),
        c(m * n) {
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) * 0.1f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) * 0.1f;
  }
  size_t m, k, n;
  Transpose ta, tb;
  size_t lda, ldb;
  std::vector<float> a, b, c;
};

void SetCounters(benchmark::State& state, const Problem& p) {
  const double flops = 2.0 * p.m * p.k * p.n;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations());
}

template <bool kThreaded>
void BM_Ours(benchmark::State& state) {
  Problem p(state);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            kThreaded ? 2 : 1);
  const auto gemm = kThreaded ? Gemm : GemmSerial;
  for (auto _ : state) {
    gemm(p.ta, p.tb, p.m, p.n, p.k, 1.0f, p.a.data(), p.lda, p.b.data(), p.ldb,
         0.0f, p.c.data(), p.n);
    benchmark::DoNotOptimize(p.c.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, p);
  state.SetLabel(GemmTargetName());
}

// Set from TRAINBUS_GEMM_TUNE: the config BM_GemmOursTuned runs with.
const GemmConfig* tuned_config = nullptr;

void BM_OursTuned(benchmark::State& state) {
  ScopedGemmConfig scoped(*tuned_config);
  BM_Ours<false>(state);
}

template <int kThreads>
void BM_OpenBLAS(benchmark::State& state) {
  Problem p(state);
  openblas_set_num_threads(kThreads);
  const auto op = [](Transpose t) {
    return t == Transpose::kYes ? CblasTrans : CblasNoTrans;
  };
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, op(p.ta), op(p.tb), static_cast<int>(p.m),
                static_cast<int>(p.n), static_cast<int>(p.k), 1.0f, p.a.data(),
                static_cast<int>(p.lda), p.b.data(), static_cast<int>(p.ldb),
                0.0f, p.c.data(), static_cast<int>(p.n));
    benchmark::DoNotOptimize(p.c.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, p);
}

// oneDNN's sgemm is row-major like ours; its threads are OpenMP's.
template <int kThreads>
void BM_OneDnn(benchmark::State& state) {
  Problem p(state);
  omp_set_num_threads(kThreads);
  const char ta = p.ta == Transpose::kYes ? 'T' : 'N';
  const char tb = p.tb == Transpose::kYes ? 'T' : 'N';
  for (auto _ : state) {
    const dnnl_status_t s =
        dnnl_sgemm(ta, tb, p.m, p.n, p.k, 1.0f, p.a.data(), p.lda, p.b.data(),
                   p.ldb, 0.0f, p.c.data(), p.n);
    if (s != dnnl_success) {
      state.SkipWithError("dnnl_sgemm failed");
      break;
    }
    benchmark::DoNotOptimize(p.c.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, p);
}

// libxsmm's JIT kernel (column-major): row-major C = op(A) op(B) is
// column-major C^T = op(B)^T op(A)^T, so the operands swap. Shapes its JIT
// does not cover are reported as skipped, not sent to a BLAS fallback.
void BM_Xsmm(benchmark::State& state) {
  Problem p(state);
  const int flags = (p.tb == Transpose::kYes ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) |
                    (p.ta == Transpose::kYes ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  const libxsmm_blasint lda = p.ldb, ldb = p.lda, ldc = p.n;
  const float alpha = 1.0f, beta = 0.0f;
  const libxsmm_smmfunction kernel =
      libxsmm_smmdispatch(p.n, p.m, p.k, &lda, &ldb, &ldc, &alpha, &beta,
                          &flags, nullptr);
  if (kernel == nullptr) {
    state.SkipWithError("libxsmm has no JIT kernel for this shape/transpose");
    return;
  }
  for (auto _ : state) {
    kernel(p.b.data(), p.a.data(), p.c.data());
    benchmark::DoNotOptimize(p.c.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, p);
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
    if (tuned_config != nullptr) {
      benchmark::RegisterBenchmark("BM_GemmOursTuned", BM_OursTuned)
          ->Args(args)->ArgNames(names);
    }
    benchmark::RegisterBenchmark("BM_GemmOpenBLAS1", BM_OpenBLAS<1>)
        ->Args(args)->ArgNames(names);
    benchmark::RegisterBenchmark("BM_GemmOneDnn1", BM_OneDnn<1>)
        ->Args(args)->ArgNames(names);
    benchmark::RegisterBenchmark("BM_GemmXsmm1", BM_Xsmm)
        ->Args(args)->ArgNames(names);
    // Wall clock on 1 thread: what the 2-thread runs are compared with.
    benchmark::RegisterBenchmark("BM_GemmOurs1TWall", BM_Ours<false>)
        ->Args(args)->ArgNames(names)->UseRealTime();
    benchmark::RegisterBenchmark("BM_GemmOurs2T", BM_Ours<true>)
        ->Args(args)->ArgNames(names)->UseRealTime();
    benchmark::RegisterBenchmark("BM_GemmOpenBLAS2", BM_OpenBLAS<2>)
        ->Args(args)->ArgNames(names)->UseRealTime();
    benchmark::RegisterBenchmark("BM_GemmOneDnn2", BM_OneDnn<2>)
        ->Args(args)->ArgNames(names)->UseRealTime();
  }
}

// The chosen config with the fields of `spec` ("key=value ...") replaced;
// false (and a message) on a field it does not know.
bool TunedConfig(const std::string& spec, GemmConfig& c) {
  c = ChooseGemmConfig(HostCpu(), GemmVectorUnit());
  c.source = "TRAINBUS_GEMM_TUNE";
  std::istringstream in(spec);
  std::string field;
  while (in >> field) {
    const size_t eq = field.find('=');
    const std::string key = field.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
    GemmTile* tile = key == "tile" ? &c.tile : key == "btile" ? &c.blocked_tile : nullptr;
    size_t* number = key == "tiled_kc" ? &c.tiled_kc
                   : key == "pack" ? &c.tiled_pack_bytes : key == "kc" ? &c.kc
                   : key == "mc" ? &c.mc : key == "nc" ? &c.nc
                   : key == "jit" ? &c.jit_max_rows
                   : key == "par" ? &c.parallel_macs : nullptr;
    if (tile != nullptr &&
        std::sscanf(value.c_str(), "%zux%zu", &tile->rows, &tile->vecs) == 2) {
      continue;
    }
    if (number != nullptr && !value.empty()) {
      *number = static_cast<size_t>(std::atof(value.c_str()));
      continue;
    }
    std::fprintf(stderr,
                 "TRAINBUS_GEMM_TUNE: cannot use '%s'; fields are tile=RxV "
                 "btile=RxV tiled_kc= pack=(bytes) kc= mc= nc= jit= par=\n",
                 field.c_str());
    return false;
  }
  return true;
}

}  // namespace
}  // namespace trainbus::kernels

int main(int argc, char** argv) {
  namespace tk = trainbus::kernels;
  tk::GemmConfig tuned;
  if (const char* spec = std::getenv("TRAINBUS_GEMM_TUNE")) {
    if (!tk::TunedConfig(spec, tuned)) return 2;
    tk::tuned_config = &tuned;
    benchmark::AddCustomContext("gemm_config_tuned",
                                tk::DescribeGemmConfig(tuned));
  }
  tk::RegisterAll();
  libxsmm_init();
  benchmark::AddCustomContext("gemm_config", tk::GemmConfigDescription());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
