// Training throughput (samples/s) of the three models at batch 1 (online
// SGD) and batch 64, plus prediction. The same models and shapes as
// tools/bench/torch_models.py, which tools/bench/compare.sh runs next to it.
//
//   bazel run -c opt //kernels/nn:model_benchmark
//
// GFLOP/s counts the multiply-adds of forward + backward (x2 flops each), as
// EstimateModelCost reports them.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/nn/model.h"
#include "oneapi/tbb/global_control.h"

namespace trainbus::nn {
namespace {

constexpr size_t kSamples = 4096;

struct Data {
  Data() : x(kSamples * 784), labels(kSamples) {
    uint64_t s = 12345;
    for (float& v : x) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      v = static_cast<float>(s >> 40) / static_cast<float>(1 << 24);
    }
    for (size_t i = 0; i < kSamples; ++i) labels[i] = static_cast<int32_t>((i * 7) % 10);
  }
  std::vector<float> x;
  std::vector<int32_t> labels;
};

const Data& GetData() {
  static const Data* data = new Data();
  return *data;
}

// The benchmarked specs, by BM_Predict's first argument.
constexpr const char* kSpecs[] = {"softmax:lr=0.01", "mlp:hidden=128,lr=0.01",
                                  "cnn:conv=8x16,lr=0.01"};

std::string Spec(const char* base, int64_t batch) {
  return std::string(base) + ",batch=" + std::to_string(batch);
}

void Train(benchmark::State& state, const char* base) {
  const size_t batch = static_cast<size_t>(state.range(0));
  // Arg 1: TBB threads (0 = all). On a shared machine 1 thread can win.
  std::unique_ptr<tbb::global_control> limit;
  if (state.range(1) > 0) {
    limit = std::make_unique<tbb::global_control>(
        tbb::global_control::max_allowed_parallelism, state.range(1));
  }
  auto spec = ParseModelSpec(Spec(base, state.range(0)));
  auto model = MakeModel(*spec);
  auto cost = EstimateModelCost(*spec);
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  const Data& data = GetData();
  size_t at = 0;
  for (auto _ : state) {
    if (at + batch > kSamples) at = 0;
    auto loss = (*model)->TrainStep(data.x.data() + at * 784,
                                    data.labels.data() + at, batch);
    if (!loss.ok()) {
      state.SkipWithError(std::string(loss.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(*loss);
    at += batch;
  }
  const double samples = static_cast<double>(state.iterations()) * batch;
  state.SetItemsProcessed(static_cast<int64_t>(samples));
  state.counters["GFLOP/s"] = benchmark::Counter(
      samples * 2.0 * static_cast<double>(cost->training_macs) / 1e9,
      benchmark::Counter::kIsRate);
  state.SetLabel(FormatModelSpec((*model)->spec()));
}

void BM_TrainSoftmax(benchmark::State& state) { Train(state, kSpecs[0]); }
void BM_TrainMlp(benchmark::State& state) { Train(state, kSpecs[1]); }
void BM_TrainCnn(benchmark::State& state) { Train(state, kSpecs[2]); }
// Args: batch, threads (0 = all = 2 here).
BENCHMARK(BM_TrainSoftmax)->ArgsProduct({{1, 64}, {0, 1}})->UseRealTime();
BENCHMARK(BM_TrainMlp)->ArgsProduct({{1, 64}, {0, 1}})->UseRealTime();
BENCHMARK(BM_TrainCnn)->ArgsProduct({{1, 64}, {0, 1}})->UseRealTime();

// The 0.925 recipe's network (experiments/accuracy.cc) with batch norm
// (arg 2 = 1) and without, to price the norm in one run.
void BM_TrainRecipe(benchmark::State& state) {
  Train(state, state.range(2) != 0
                   ? "cnn:conv=16x32,kernel=3,padding=same,hidden=128,opt=adam,"
                     "lr=0.003,smooth=0.1,bn=1"
                   : "cnn:conv=16x32,kernel=3,padding=same,hidden=128,opt=adam,"
                     "lr=0.003,smooth=0.1");
}
// Args: batch, threads (0 = all), batch norm.
BENCHMARK(BM_TrainRecipe)->ArgsProduct({{64}, {0}, {0, 1}})->UseRealTime();

void BM_Predict(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(1));
  auto model = MakeModel(*ParseModelSpec(Spec(kSpecs[state.range(0)], 64)));
  std::vector<float> probs(batch * 10);
  const Data& data = GetData();
  for (auto _ : state) {
    auto s = (*model)->Predict(data.x.data(), batch, probs.data());
    benchmark::DoNotOptimize(probs.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetLabel(std::string(ArchName((*model)->spec().arch)));
}
BENCHMARK(BM_Predict)->ArgsProduct({{0, 1, 2}, {1, 256}})->UseRealTime();

}  // namespace
}  // namespace trainbus::nn

BENCHMARK_MAIN();
