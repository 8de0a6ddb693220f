#include "registry/runner.h"

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "registry/test_util.h"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.root = testing::NewTempDir("runner");
    options.clock = &clock_;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  int64_t Create(const std::string& name, int max_attempts = 3) {
    return OrFail(store_->CreateTask(
        testing::TestTask(name, max_attempts, {{"lr", "0.5"}})));
  }

  base::FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(RunnerTest, RunsEveryTaskSavesModelsAndLinksThem) {
  int64_t a = Create("a");
  int64_t b = Create("b");
  TaskFn fn = [](const Task& task,
                 const HeartbeatFn& heartbeat) -> absl::StatusOr<TaskResult> {
    if (absl::Status s = heartbeat(); !s.ok()) return s;
    TaskResult result;
    result.results = {{"test_accuracy", task.name == "a" ? "0.7" : "0.8"},
                      {"ignored", "1"}};
    if (task.name == "b") {
      result.model = TaskResult::Model{"mlp", "mlp:784-32-10", "ckpt-b", {}};
    }
    return result;
  };
  absl::StatusOr<RunnerStats> stats =
      RunTasks(*store_, "r1", fn, RunnerOptions{});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->claimed, 2);
  EXPECT_EQ(stats->finished, 2);
  EXPECT_EQ(OrFail(store_->GetTask(a)).state, TaskState::kDone);
  absl::StatusOr<Task> tb = store_->GetTask(b);
  EXPECT_EQ(tb->results, (KeyValues{{"test_accuracy", "0.8"}}));
  EXPECT_EQ(tb->model_name, "mlp");
  EXPECT_EQ(tb->model_version, 1);
  absl::StatusOr<ModelRecord> model = store_->GetModel("mnist", "mlp", 1);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->arch, "mlp:784-32-10");
  EXPECT_EQ(model->kv.at("test_accuracy"), "0.8");
  EXPECT_EQ(model->kv.at("lr"), "0.5");
  EXPECT_EQ(model->kv.at("task_id"), absl::StrCat(b));
  EXPECT_EQ(OrFail(store_->LoadModelBlob("mnist", "mlp")), "ckpt-b");
}

TEST_F(RunnerTest, ErrorsRetryUntilMaxAttemptsAndInvalidArgumentIsFinal) {
  int64_t flaky = Create("flaky", 3);
  int64_t bad = Create("bad", 3);
  std::map<std::string, int> calls;
  TaskFn fn = [&](const Task& task,
                  const HeartbeatFn&) -> absl::StatusOr<TaskResult> {
    ++calls[task.name];
    if (task.name == "bad") return absl::InvalidArgumentError("lr < 0");
    return absl::InternalError("diverged");
  };
  absl::StatusOr<RunnerStats> stats =
      RunTasks(*store_, "r1", fn, RunnerOptions{});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(calls["flaky"], 3);
  EXPECT_EQ(calls["bad"], 1);
  EXPECT_EQ(stats->failed, 4);
  EXPECT_EQ(OrFail(store_->GetTask(flaky)).state, TaskState::kFailed);
  EXPECT_NE(OrFail(store_->GetTask(flaky)).error.find("diverged"), std::string::npos);
  EXPECT_EQ(OrFail(store_->GetTask(bad)).state, TaskState::kFailed);
  EXPECT_EQ(OrFail(store_->GetTask(bad)).attempts, 1);
}

TEST_F(RunnerTest, LostLeaseDropsTheResult) {
  int64_t id = Create("slow");
  RunnerOptions options;
  options.lease = absl::Seconds(10);
  options.heartbeat_interval = absl::Hours(1);  // only explicit beats
  // The thief still holds the task afterwards, and a runner waits for open
  // tasks held by others (they may crash), so stop after one task.
  options.max_tasks = 1;
  TaskFn fn = [&](const Task& task,
                  const HeartbeatFn& heartbeat) -> absl::StatusOr<TaskResult> {
    clock_.Advance(absl::Seconds(11));
    absl::StatusOr<std::optional<Task>> stolen =
        store_->ClaimTask("thief", absl::Seconds(10));
    EXPECT_TRUE(stolen.ok() && stolen->has_value());
    EXPECT_EQ(heartbeat().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(heartbeat().code(), absl::StatusCode::kFailedPrecondition);
    TaskResult result;
    result.results = {{"test_accuracy", "0.1"}};
    return result;
  };
  absl::StatusOr<RunnerStats> stats =
      RunTasks(*store_, "victim", fn, options);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->lease_lost, 1);
  EXPECT_EQ(stats->finished, 0);
  TB_ASSERT_OK(store_->FinishTask(id, "thief", {{"test_accuracy", "0.9"}}));
  EXPECT_EQ(OrFail(store_->GetTask(id)).results.at("test_accuracy"), "0.9");
}

TEST_F(RunnerTest, BackgroundThreadRenewsTheLease) {
  int64_t id = Create("t");
  RunnerOptions options;
  options.lease = absl::Seconds(10);
  options.heartbeat_interval = absl::Milliseconds(1);
  TaskFn fn = [&](const Task& task,
                  const HeartbeatFn&) -> absl::StatusOr<TaskResult> {
    int64_t first = task.lease_expiry_ns;
    clock_.Advance(absl::Seconds(5));
    int64_t want = clock_.NowNanos() + absl::ToInt64Nanoseconds(options.lease);
    // Wait (bounded) for the background thread's renewal.
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    int64_t expiry = first;
    while (absl::Now() < deadline) {
      expiry = OrFail(store_->GetTask(id)).lease_expiry_ns;
      if (expiry == want) break;
      absl::SleepFor(absl::Milliseconds(1));
    }
    EXPECT_EQ(expiry, want);
    return TaskResult{};
  };
  absl::StatusOr<RunnerStats> stats = RunTasks(*store_, "r", fn, options);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->finished, 1);
}

TEST_F(RunnerTest, TwoRunnerThreadsShareTheQueue) {
  for (int i = 0; i < 12; ++i) Create(absl::StrCat("t", i));
  absl::Mutex mu;
  std::map<int64_t, int> runs;
  TaskFn fn = [&](const Task& task,
                  const HeartbeatFn&) -> absl::StatusOr<TaskResult> {
    absl::MutexLock lock(&mu);
    ++runs[task.id];
    return TaskResult{};
  };
  std::vector<std::thread> threads;
  std::atomic<int64_t> finished{0};
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      absl::StatusOr<RunnerStats> stats =
          RunTasks(*store_, absl::StrCat("r", r), fn, RunnerOptions{});
      ASSERT_TRUE(stats.ok()) << stats.status();
      finished += stats->finished;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(finished.load(), 12);
  EXPECT_EQ(runs.size(), 12u);
  for (const auto& [id, n] : runs) EXPECT_EQ(n, 1);
}

TEST_F(RunnerTest, StopFlagAndMaxTasks) {
  for (int i = 0; i < 3; ++i) Create(absl::StrCat("t", i));
  RunnerOptions options;
  options.max_tasks = 2;
  TaskFn fn = [](const Task&, const HeartbeatFn&) -> absl::StatusOr<TaskResult> {
    return TaskResult{};
  };
  EXPECT_EQ(RunTasks(*store_, "r", fn, options)->claimed, 2);
  std::atomic<bool> stop{true};
  RunnerOptions stopped;
  stopped.stop = &stop;
  stopped.forever = true;
  EXPECT_EQ(RunTasks(*store_, "r", fn, stopped)->claimed, 0);
  EXPECT_FALSE(MakeRunnerId().empty());
}

}  // namespace
}  // namespace trainbus::registry
