// Registry throughput: log inserts (single and batched), model save and
// load (MB/s), task claim+finish latency, and a top-1 model query.
//
//   bazel run -c opt //registry:registry_benchmark
//
// Runs against a real registry directory (fsync included) under
// $TEST_TMPDIR or /tmp, removed at the end.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "registry/store.h"
#include "benchmark/benchmark.h"

namespace trainbus::registry {
namespace {

std::string BenchRoot() {
  static const std::string root = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    return absl::StrCat(base != nullptr ? base : "/tmp",
                        "/trainbus-registry-bench-", ::getpid());
  }();
  return root;
}

std::unique_ptr<Store> OpenFresh(const std::string& label) {
  std::string root = absl::StrCat(BenchRoot(), "/", label);
  std::filesystem::remove_all(root);
  StoreOptions options;
  options.root = root;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    std::abort();
  }
  return std::move(*store);
}

LogEntry MakeLog(int64_t step) {
  LogEntry e;
  e.project = "bench";
  e.kind = LogKind::kTrain;
  e.model = "mlp";
  e.model_version = 1;
  e.step = step;
  e.metrics = {{"loss", FormatNumber(1.0 / (step + 1))},
               {"accuracy", FormatNumber(0.5 + step * 1e-7)}};
  return e;
}

void BM_LogInsertSingle(benchmark::State& state) {
  std::unique_ptr<Store> store = OpenFresh("log_single");
  int64_t step = 0;
  for (auto _ : state) {
    absl::Status s = store->AppendLog(MakeLog(step++));
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LogInsertSingle)->UseRealTime();

void BM_LogInsertBatched(benchmark::State& state) {
  std::unique_ptr<Store> store = OpenFresh("log_batch");
  const int64_t batch_size = state.range(0);
  std::vector<LogEntry> batch;
  for (int64_t i = 0; i < batch_size; ++i) batch.push_back(MakeLog(i));
  for (auto _ : state) {
    absl::Status s = store->AppendLogs(batch);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
}
BENCHMARK(BM_LogInsertBatched)->Arg(100)->Arg(1000)->UseRealTime();

std::string Checkpoint(size_t bytes) {
  std::string data(bytes, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < bytes; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    data[i] = static_cast<char>(x);
  }
  return data;
}

void BM_ModelSave(benchmark::State& state) {
  std::unique_ptr<Store> store = OpenFresh("model_save");
  std::string data = Checkpoint(static_cast<size_t>(state.range(0)));
  uint64_t n = 0;
  for (auto _ : state) {
    // New bytes every time, so deduplication never skips the write.
    ++n;
    std::memcpy(data.data(), &n, sizeof(n));
    absl::StatusOr<int64_t> v =
        store->SaveModel("bench", "mlp", "mlp:784-256-10", data,
                         {{"test_accuracy", "0.9"}});
    if (!v.ok()) state.SkipWithError(v.status().ToString().c_str());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ModelSave)->Arg(1 << 20)->Arg(10 << 20)->UseRealTime();

void BM_ModelLoad(benchmark::State& state) {
  std::unique_ptr<Store> store = OpenFresh("model_load");
  std::string data = Checkpoint(static_cast<size_t>(state.range(0)));
  if (!store->SaveModel("bench", "mlp", "mlp", data, {}).ok()) std::abort();
  for (auto _ : state) {
    absl::StatusOr<std::string> bytes = store->LoadModelBlob("bench", "mlp");
    if (!bytes.ok()) state.SkipWithError(bytes.status().ToString().c_str());
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ModelLoad)->Arg(1 << 20)->Arg(10 << 20)->UseRealTime();

// One claim plus one finish: the queue overhead a runner pays per task.
void BM_TaskClaimFinish(benchmark::State& state) {
  std::unique_ptr<Store> store = OpenFresh("tasks");
  TaskSpec spec;
  spec.project = "bench";
  spec.name = "t";
  spec.experiment = "parallel_models";
  spec.hyperparameters = {{"lr", "0.1"}, {"hidden", "128"}};
  spec.result_keys = {"test_accuracy"};
  const KeyValues results = {{"test_accuracy", "0.9"}};
  for (auto _ : state) {
    state.PauseTiming();
    if (!store->CreateTask(spec).ok()) std::abort();
    state.ResumeTiming();
    absl::StatusOr<std::optional<Task>> task =
        store->ClaimTask("bench-runner", absl::Seconds(30));
    if (!task.ok() || !task->has_value()) {
      state.SkipWithError("claim failed");
      break;
    }
    absl::Status s = store->FinishTask((*task)->id, "bench-runner", results);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TaskClaimFinish)->UseRealTime();

// "best --sort test_accuracy" over many models.
void BM_FindBestModel(benchmark::State& state) {
  std::unique_ptr<Store> store = OpenFresh("find");
  for (int64_t i = 0; i < state.range(0); ++i) {
    if (!store->SaveModel("bench", absl::StrCat("m", i % 10), "mlp",
                          absl::StrCat("ckpt", i),
                          {{"test_accuracy", FormatNumber((i * 7919 % 1000) /
                                                          1000.0)}})
             .ok()) {
      std::abort();
    }
  }
  for (auto _ : state) {
    absl::StatusOr<std::vector<ModelRecord>> best =
        store->FindModels({"", "test_accuracy desc", 1});
    if (!best.ok() || best->size() != 1) state.SkipWithError("query failed");
    benchmark::DoNotOptimize(best);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FindBestModel)->Arg(1000)->UseRealTime();

}  // namespace
}  // namespace trainbus::registry

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(trainbus::registry::BenchRoot());
  return 0;
}
