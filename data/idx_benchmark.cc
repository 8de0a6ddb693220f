// Loading IDX files and shuffling indices.
//   bazel run -c opt //data:idx_benchmark
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "data/idx.h"
#include "data/shuffle.h"
#include "benchmark/benchmark.h"

namespace trainbus::data {
namespace {

// The installed Fashion-MNIST (gzip): 70000 images per iteration.
void BM_LoadMnistDir(benchmark::State& state) {
  size_t items = 0, bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<MnistSplits> s = LoadMnistDir(kDefaultMnistDir);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.status().message()).c_str());
      return;
    }
    items += s->train.count + s->test.count;
    bytes += s->train.pixels.size() + s->test.pixels.size();
  }
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_LoadMnistDir)->Unit(benchmark::kMillisecond);

// The train split uncompressed: what reading costs without inflate.
void BM_LoadIdxPairRaw(benchmark::State& state) {
  absl::StatusOr<MnistSplits> s = LoadMnistDir(kDefaultMnistDir);
  if (!s.ok()) {
    state.SkipWithError(std::string(s.status().message()).c_str());
    return;
  }
  const char* tmp = std::getenv("TMPDIR");
  const std::string base =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/idx_benchmark_train");
  const std::string images = base + "-images", labels = base + "-labels";
  if (!WriteIdxPair(images, labels, s->train).ok()) {
    state.SkipWithError("cannot write the raw copy to $TMPDIR");
    return;
  }
  size_t items = 0;
  for (auto _ : state) {
    absl::StatusOr<Dataset> d = LoadIdxPair(images, labels);
    if (!d.ok()) {
      state.SkipWithError(std::string(d.status().message()).c_str());
      break;
    }
    items += d->count;
  }
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(items * 785);
  std::remove(images.c_str());
  std::remove(labels.c_str());
}
BENCHMARK(BM_LoadIdxPairRaw)->Unit(benchmark::kMillisecond);

void BM_EpochShufflerNext(benchmark::State& state) {
  EpochShuffler s(60000, 1);
  size_t sum = 0;
  for (auto _ : state) sum += s.Next().index;
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EpochShufflerNext);

}  // namespace
}  // namespace trainbus::data

BENCHMARK_MAIN();
