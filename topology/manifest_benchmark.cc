// What recording a run manifest costs a `trainbus run`: hashing the inputs
// (the Fashion-MNIST directory, 31 MB of .gz files) against coreutils'
// sha256sum on the same files, and asking dpkg and git about the machine.
//
//   bazel run -c opt //topology:manifest_benchmark
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/subprocess.h"
#include "benchmark/benchmark.h"
#include "data/idx.h"
#include "topology/manifest.h"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

TopologySpec FashionMnistSpec() {
  TopologySpec spec;
  SourceSpec source;
  source.name = "fashion-mnist/train";
  source.data_dir = std::string(data::kDefaultMnistDir);
  spec.sources.push_back(source);
  return spec;
}

int64_t TotalBytes(const std::vector<InputFile>& files) {
  int64_t bytes = 0;
  for (const InputFile& f : files) bytes += f.size;
  return bytes;
}

void BM_HashInputs(benchmark::State& state) {
  const TopologySpec spec = FashionMnistSpec();
  int64_t bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<std::vector<InputFile>> files = HashInputs(spec);
    if (!files.ok()) {
      state.SkipWithError(std::string(files.status().message()).c_str());
      return;
    }
    bytes += TotalBytes(*files);
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_HashInputs)->Unit(benchmark::kMillisecond)->UseRealTime();

// The peer: coreutils sha256sum over the same files, in a child process.
void BM_Sha256sumPeer(benchmark::State& state) {
  absl::StatusOr<std::vector<InputFile>> files = HashInputs(FashionMnistSpec());
  if (!files.ok()) {
    state.SkipWithError(std::string(files.status().message()).c_str());
    return;
  }
  std::vector<std::string> argv = {"/usr/bin/sha256sum"};
  for (const InputFile& f : *files) argv.push_back(f.path);
  int64_t bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<base::ProgramRun> run =
        base::RunProgram(argv, absl::Seconds(60));
    if (!run.ok() || !run->exit.success()) {
      state.SkipWithError("sha256sum failed");
      return;
    }
    bytes += TotalBytes(*files);
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_Sha256sumPeer)->Unit(benchmark::kMillisecond)->UseRealTime();

// dpkg-query -S over the mapped libraries, dpkg-query -W, git rev-parse and
// git status: the rest of RunRecorder::Begin.
void BM_CollectEnvironment(benchmark::State& state) {
  for (auto _ : state) {
    Environment env = CollectEnvironment();
    benchmark::DoNotOptimize(env.packages.size());
  }
}
BENCHMARK(BM_CollectEnvironment)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace trainbus::topology

BENCHMARK_MAIN();
