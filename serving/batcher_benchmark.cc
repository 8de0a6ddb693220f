// Predict of one row per request from N concurrent clients: through the
// dynamic batcher (one batch thread) versus the peer, each client calling
// the version's Predict itself (taking turns on the replica).
//
//   bazel run -c opt //serving:batcher_benchmark
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "benchmark/benchmark.h"
#include "kernels/nn/model.h"
#include "serving/batcher.h"
#include "serving/model_set.h"

namespace trainbus::serving {
namespace {

constexpr char kArch[] = "mlp:hidden=256";
constexpr size_t kInput = 28 * 28;
constexpr int kClasses = 10;

// One version shared by every benchmark thread.
const ServedVersion& Version() {
  static const std::shared_ptr<const ServedVersion> version = [] {
    auto spec = nn::ParseModelSpec(kArch);
    auto model = nn::MakeModel(*spec);
    registry::ModelRecord record;
    record.name = "bench";
    record.version = 1;
    record.arch = nn::FormatModelSpec(*spec);
    return ServedVersion::Load(record, (*model)->SaveCheckpoint(), {});
  }();
  return *version;
}

Batcher& SharedBatcher() {
  static Batcher* batcher =
      new Batcher({.max_batch_size = 32, .num_batch_threads = 1});
  return *batcher;
}

template <bool kBatched>
void BM_OneRowPerRequest(benchmark::State& state) {
  const ServedVersion& version = Version();
  std::vector<float> x(kInput, 0.5f), probs(kClasses);
  for (auto _ : state) {
    absl::Status s =
        kBatched ? SharedBatcher().Predict(&version, x.data(), 1, probs.data())
                 : version.Predict(x.data(), 1, probs.data());
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    benchmark::DoNotOptimize(probs.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Direct(benchmark::State& state) { BM_OneRowPerRequest<false>(state); }
void BM_Batched(benchmark::State& state) { BM_OneRowPerRequest<true>(state); }

BENCHMARK(BM_Direct)->ThreadRange(1, 32)->UseRealTime();
BENCHMARK(BM_Batched)->ThreadRange(1, 32)->UseRealTime();

}  // namespace
}  // namespace trainbus::serving
