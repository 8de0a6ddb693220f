// Training throughput (samples/s) of the three models at batch 1 (online
// SGD) and batch 64, plus prediction. The same models and shapes as
// tools/bench/torch_models.py, which tools/bench/compare.sh runs next to it.
//
//   bazel run -c opt //kernels/nn:model_benchmark
//
// GFLOP/s counts the multiply-adds of forward + backward (x2 flops each).
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

// Training flops per sample: forward, weight gradients and the input
// gradients that are needed (not the first layer's).
double TrainFlops(const std::string& arch) {
  if (arch == "softmax") return 2.0 * 784 * 10 * 2;
  if (arch == "mlp") return 2.0 * (784 * 128 * 2 + 128 * 10 * 3);
  // cnn 8x16: conv1 24x24x8 from 25 taps, conv2 8x8x16 from 200 taps, fc 256x10.
  const double conv1 = 24.0 * 24 * 8 * 25, conv2 = 8.0 * 8 * 16 * 200,
               fc = 256.0 * 10;
  return 2.0 * (conv1 * 2 + conv2 * 3 + fc * 3);
}

std::string Spec(const std::string& arch, int64_t batch) {
  const std::string b = ",batch=" + std::to_string(batch);
  if (arch == "softmax") return "softmax:lr=0.01" + b;
  if (arch == "mlp") return "mlp:hidden=128,lr=0.01" + b;
  return "cnn:conv=8x16,lr=0.01" + b;
}

void Train(benchmark::State& state, const std::string& arch) {
  const size_t batch = static_cast<size_t>(state.range(0));
  // Arg 1: TBB threads (0 = all). On a shared machine 1 thread can win.
  std::unique_ptr<tbb::global_control> limit;
  if (state.range(1) > 0) {
    limit = std::make_unique<tbb::global_control>(
        tbb::global_control::max_allowed_parallelism, state.range(1));
  }
  auto spec = ParseModelSpec(Spec(arch, state.range(0)));
  auto model = MakeModel(*spec);
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
      samples * TrainFlops(arch) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(FormatModelSpec((*model)->spec()));
}

void BM_TrainSoftmax(benchmark::State& state) { Train(state, "softmax"); }
void BM_TrainMlp(benchmark::State& state) { Train(state, "mlp"); }
void BM_TrainCnn(benchmark::State& state) { Train(state, "cnn"); }
// Args: batch, threads (0 = all = 2 here).
BENCHMARK(BM_TrainSoftmax)->ArgsProduct({{1, 64}, {0, 1}})->UseRealTime();
BENCHMARK(BM_TrainMlp)->ArgsProduct({{1, 64}, {0, 1}})->UseRealTime();
BENCHMARK(BM_TrainCnn)->ArgsProduct({{1, 64}, {0, 1}})->UseRealTime();

void BM_Predict(benchmark::State& state) {
  const char* archs[] = {"softmax", "mlp", "cnn"};
  const std::string arch = archs[state.range(0)];
  const size_t batch = static_cast<size_t>(state.range(1));
  auto model = MakeModel(*ParseModelSpec(Spec(arch, 64)));
  std::vector<float> probs(batch * 10);
  const Data& data = GetData();
  for (auto _ : state) {
    auto s = (*model)->Predict(data.x.data(), batch, probs.data());
    benchmark::DoNotOptimize(probs.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetLabel(arch);
}
BENCHMARK(BM_Predict)->ArgsProduct({{0, 1, 2}, {1, 256}})->UseRealTime();

}  // namespace
}  // namespace trainbus::nn

BENCHMARK_MAIN();
