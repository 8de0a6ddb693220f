// What sequencing costs a binding per sample: the copy it makes anyway (the
// publish) against that copy plus the stamp, and the receiver's duplicate
// check, on a 784-byte sample (whose pixels are shared, not copied).
//
//   bazel run -c opt //bus:sequence_benchmark
//
// BM_Copy:        Sample copy (what an unsequenced binding publishes)
// BM_CopyStamped: the copy plus StampOffset (a sequenced binding)
// BM_Admit:       DuplicateFilter::Admit of a stamped sample (a model)
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "bus/message.h"
#include "bus/sequence.h"

namespace trainbus::bus {
namespace {

Sample Mnist() {
  Sample s;
  s.source = "fashion-mnist/train";
  s.shape = {28, 28};
  s.pixels = Bytes(std::vector<uint8_t>(784, 7));
  s.label = 3;
  return s;
}

void BM_Copy(benchmark::State& state) {
  const Sample s = Mnist();
  for (auto _ : state) {
    Sample copy = s;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_Copy);

void BM_CopyStamped(benchmark::State& state) {
  const Sample s = Mnist();
  const std::string key = OffsetKey("mnist");
  uint64_t offset = 0;
  for (auto _ : state) {
    Sample copy = s;
    StampOffset(key, offset++, &copy);
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_CopyStamped);

void BM_Admit(benchmark::State& state) {
  std::vector<Sample> stamped(1024, Mnist());
  for (size_t i = 0; i < stamped.size(); ++i) {
    StampOffset(OffsetKey("mnist"), i, &stamped[i]);
  }
  DuplicateFilter seen;
  size_t i = 0;
  for (auto _ : state) {
    // A fresh filter every 1024 samples (amortised: one in 1024 iterations).
    if (i == stamped.size()) {
      seen = DuplicateFilter();
      i = 0;
    }
    benchmark::DoNotOptimize(seen.Admit(stamped[i++]));
  }
}
BENCHMARK(BM_Admit);

}  // namespace
}  // namespace trainbus::bus

BENCHMARK_MAIN();
