// The whole path against the plain loop: one model trained through the bus
// (generator -> [mnist] -> binding (labelled, block) -> [model1] -> model
// actor, as parallel_models wires it) and the same model, same spec, in
// model_benchmark's plain loop (TrainStep on floats already in memory).
//
//   bazel run -c opt //actors/model:model_actor_benchmark
//   tools/bench/bus_path.sh       # this and //bus:fanout_benchmark, ratios
//
// BM_PlainLoop/model:M/threads:T             samples/s of TrainStep alone
// BM_ThroughBus/model:M/message:K/threads:T  samples/s from the generator's
//     start to the model's summary; the generator publishes K samples per
//     message (1: Samples, >1: SampleBatches)
// threads: TBB's limit for the kernels (0: all cores). On a loaded shared
// machine a 2-thread kernel waits for its descheduled half, so threads:1
// is the steadier comparison.
// Models (M): 0 softmax batch 1, 1 MLP 784-128-10 batch 64, 2 CNN batch 64.
// Periodic evaluation is off (eval_every 10^8), as in the figures.
// The bus side converts bytes to floats on the way; the plain loop does not.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "actors/generator/generator.h"
#include "actors/model/eval_set.h"
#include "actors/model/model_actor.h"
#include "benchmark/benchmark.h"
#include "bus/bus.h"
#include "caf/all.hpp"
#include "data/idx.h"
#include "kernels/nn/model.h"
#include "oneapi/tbb/global_control.h"

namespace trainbus::actors {
namespace {

constexpr size_t kSamples = 4096;
constexpr const char* kSpecs[] = {"softmax:lr=0.01,batch=1",
                                  "mlp:hidden=128,lr=0.01,batch=64",
                                  "cnn:conv=8x16,lr=0.01,batch=64"};
// Samples per bus run: enough that spawning and the pipeline's fill and
// drain stay small against the run (>= ~50 ms at each model's rate).
constexpr uint64_t kStreamSamples[] = {65536, 32768, 8192};

// model_benchmark's shapes and labels (i*7 mod 10), with pixels a model can
// learn from: dim noise, and a bright band of 78 pixels at 78 * label (on
// pure noise a model stays at chance and says so on stdout, every run).
std::shared_ptr<const data::Dataset> MakeData() {
  auto d = std::make_shared<data::Dataset>();
  d->rows = 28;
  d->cols = 28;
  d->count = kSamples;
  d->pixels.resize(kSamples * 784);
  uint64_t s = 12345;
  for (size_t i = 0; i < kSamples; ++i) {
    const uint8_t label = static_cast<uint8_t>((i * 7) % 10);
    d->labels.push_back(label);
    for (size_t p = 0; p < 784; ++p) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      const bool band = p / 78 == label;
      d->pixels[i * 784 + p] = static_cast<uint8_t>((band ? 192 : 0) + (s >> 58));
    }
  }
  return d;
}

const std::shared_ptr<const data::Dataset>& Data() {
  static const auto* data =
      new std::shared_ptr<const data::Dataset>(MakeData());
  return *data;
}

// TBB's thread limit for the benchmark's run (0: none).
std::unique_ptr<tbb::global_control> LimitThreads(int64_t threads) {
  if (threads <= 0) return nullptr;
  return std::make_unique<tbb::global_control>(
      tbb::global_control::max_allowed_parallelism, threads);
}

void BM_PlainLoop(benchmark::State& state) {
  const char* spec_text = kSpecs[state.range(0)];
  auto limit = LimitThreads(state.range(1));
  auto spec = nn::ParseModelSpec(spec_text);
  auto model = nn::MakeModel(*spec);
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  const data::Dataset& d = *Data();
  std::vector<float> x(d.pixels.size());
  BytesToUnitFloats(d.pixels.data(), x.size(), x.data());
  std::vector<int32_t> labels(d.labels.begin(), d.labels.end());
  const size_t batch = spec->batch_size;
  size_t at = 0;
  for (auto _ : state) {
    if (at + batch > kSamples) at = 0;
    auto loss =
        (*model)->TrainStep(x.data() + at * 784, labels.data() + at, batch);
    if (!loss.ok()) {
      state.SkipWithError(std::string(loss.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(*loss);
    at += batch;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.SetLabel(spec_text);
}

caf::actor_system_config& Config(caf::actor_system_config& cfg) {
  bus::AddBusTypes(cfg);
  AddModelActorTypes(cfg);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  return cfg;
}

// Declares [mnist] and [model1], binds them as parallel_models does and
// spawns the model actor, reporting to `listener`. Returns [mnist].
absl::StatusOr<bus::resource_actor> Wire(bus::Bus& bus, const char* spec_text,
                                         caf::actor listener) {
  bus::ResourceOptions mnist{"mnist"}, model1{"model1"};
  mnist.max_queue = model1.max_queue = 1024;
  absl::StatusOr<bus::resource_actor> in = bus.Declare(mnist);
  absl::StatusOr<bus::resource_actor> out = bus.Declare(model1);
  if (!in.ok()) return in.status();
  if (!out.ok()) return out.status();
  bus::BindingOptions binding;
  binding.from = "mnist";
  binding.to = "model1";
  binding.filter = bus::Filter::Labelled();
  binding.window = 256;
  if (auto bound = bus.Bind(binding); !bound.ok()) return bound.status();
  ModelActorOptions m = SharedModelOptions(
      /*eval_every=*/100000000, /*eval_subset=*/1000, /*print=*/false,
      /*metrics=*/{}, std::move(listener), /*eval=*/nullptr);
  m.name = "model1";
  m.spec = *nn::ParseModelSpec(spec_text);
  m.input = *out;
  if (auto actor = SpawnModelActor(bus.system(), m); !actor.ok()) {
    return actor.status();
  }
  return *in;
}

void BM_ThroughBus(benchmark::State& state) {
  const char* spec_text = kSpecs[state.range(0)];
  const uint64_t samples = kStreamSamples[state.range(0)];
  auto limit = LimitThreads(state.range(2));
  caf::actor_system_config cfg;
  caf::actor_system sys{Config(cfg)};
  caf::scoped_actor self{sys};
  for (auto _ : state) {
    bus::Bus bus{sys};
    absl::StatusOr<bus::resource_actor> mnist =
        Wire(bus, spec_text, caf::actor{self});
    if (!mnist.ok()) {
      state.SkipWithError(std::string(mnist.status().message()).c_str());
      return;
    }
    GeneratorOptions g;
    g.source = "bench";
    g.data = Data();
    g.output = *mnist;
    g.epochs = samples / kSamples;
    g.batch = static_cast<uint32_t>(state.range(1));
    const auto start = std::chrono::steady_clock::now();
    SpawnGenerator(sys, g);
    self->receive([](const ModelSummary&) {});
    state.SetIterationTime(std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - start)
                               .count());
    caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
  state.SetLabel(spec_text);
}

BENCHMARK(BM_PlainLoop)
    ->ArgNames({"model", "threads"})
    ->ArgsProduct({{0, 1, 2}, {0, 1}})
    ->UseRealTime();
BENCHMARK(BM_ThroughBus)
    ->ArgNames({"model", "message", "threads"})
    ->ArgsProduct({{0, 1, 2}, {1, 64}, {0, 1}})
    ->UseManualTime();

}  // namespace
}  // namespace trainbus::actors

BENCHMARK_MAIN();
