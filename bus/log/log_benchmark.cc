// Durable-log throughput: appends of 784-byte records (one MNIST image) with
// fsync off or batched, single vs batch appends, and sequential reads.
//
//   bazel run -c opt //bus/log:log_benchmark
//   bazel run -c opt //bus/log:log_benchmark -- --benchmark_filter=Append
//
// Files go to $TEST_TMPDIR or /tmp (the same disk as the project here).
// Arguments: BM_Append/<fsync every N records; 0 = never>/<records per call>.
// Counters: MB=<megabytes/s> msgs=<records/s> (Google Benchmark appends "/s").
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "bus/log/log.h"

namespace trainbus::bus {
namespace {

constexpr size_t kRecordBytes = 784;

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base ? base : "/tmp", "/log_benchmark.XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

void SetRates(benchmark::State& state, int64_t records) {
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(records * static_cast<int64_t>(kRecordBytes));
  state.counters["msgs"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.counters["MB"] = benchmark::Counter(
      static_cast<double>(records) * kRecordBytes / 1e6, benchmark::Counter::kIsRate);
}

void BM_Append(benchmark::State& state) {
  const int sync_every = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  const std::string dir = MakeTempDir();
  LogOptions options;
  options.fsync = sync_every == 0 ? FsyncPolicy::Never() : FsyncPolicy::EveryN(sync_every);
  options.retention.max_bytes = 512ull << 20;  // bound the disk a long run uses
  auto log = Log::Open(dir, options);
  if (!log.ok()) {
    state.SkipWithError(std::string(log.status().message()).c_str());
    return;
  }
  std::vector<std::vector<uint8_t>> payloads(batch, std::vector<uint8_t>(kRecordBytes));
  for (int i = 0; i < batch; ++i) {
    for (size_t k = 0; k < kRecordBytes; ++k) payloads[i][k] = static_cast<uint8_t>(i + k);
  }
  std::vector<absl::Span<const uint8_t>> spans(payloads.begin(), payloads.end());
  int64_t records = 0;
  for (auto _ : state) {
    absl::StatusOr<uint64_t> offset =
        batch == 1 ? (*log)->Append(spans[0]) : (*log)->AppendBatch(spans);
    if (!offset.ok()) {
      state.SkipWithError(std::string(offset.status().message()).c_str());
      break;
    }
    records += batch;
  }
  SetRates(state, records);
  log->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Append)
    ->ArgNames({"fsync_every", "batch"})
    ->Args({0, 1})
    ->Args({0, 64})
    ->Args({64, 1})
    ->Args({64, 64})
    ->Args({1024, 1})
    ->Args({1024, 64})
    ->Args({1, 1})
    ->UseRealTime();

// Reads a 20000-record log (15.7 MB, in the page cache) front to back.
void BM_SequentialRead(benchmark::State& state) {
  constexpr int kRecords = 20000;
  const std::string dir = MakeTempDir();
  LogOptions options;
  options.segment_bytes = 4ull << 20;  // several segments to cross
  auto log = Log::Open(dir, options);
  if (!log.ok()) {
    state.SkipWithError(std::string(log.status().message()).c_str());
    return;
  }
  std::vector<uint8_t> payload(kRecordBytes, 7);
  for (int i = 0; i < kRecords; ++i) {
    if (!(*log)->Append(payload).ok()) std::abort();
  }
  int64_t records = 0;
  uint64_t checksum = 0;
  for (auto _ : state) {
    auto reader = (*log)->OpenReader(StartAt::Earliest());
    LogRecord record;
    while (true) {
      absl::StatusOr<bool> got = (*reader)->Next(&record);
      if (!got.ok()) {
        state.SkipWithError(std::string(got.status().message()).c_str());
        return;
      }
      if (!*got) break;
      checksum += record.payload[0];
      ++records;
    }
  }
  benchmark::DoNotOptimize(checksum);
  SetRates(state, records);
  log->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SequentialRead)->UseRealTime();

}  // namespace
}  // namespace trainbus::bus
