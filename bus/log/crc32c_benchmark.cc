// CRC-32C speed, hardware (SSE4.2) and portable, per record size.
//
//   bazel run -c opt //bus/log:crc32c_benchmark
#include <vector>

#include "benchmark/benchmark.h"
#include "bus/log/crc32c.h"

namespace trainbus::bus {
namespace {

void BM_Crc32c(benchmark::State& state) {
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)), 0x5A);
  for (auto _ : state) benchmark::DoNotOptimize(Crc32c(data.data(), data.size()));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32c)->Arg(784)->Arg(64 << 10);

void BM_Crc32cPortable(benchmark::State& state) {
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)), 0x5A);
  for (auto _ : state) {
    benchmark::DoNotOptimize(Crc32cExtendPortable(0, data.data(), data.size()));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32cPortable)->Arg(784);

}  // namespace
}  // namespace trainbus::bus
