#include "registry/sweep.h"

#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "registry/runner.h"
#include "registry/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;

TEST(SweepTest, ExpandAndSample) {
  std::vector<KeyValues> grid =
      ExpandGrid({{"lr", {"0.1", "0.01"}}, {"model", {"mlp", "cnn", "softmax"}}});
  ASSERT_EQ(grid.size(), 6u);
  EXPECT_EQ(grid[0], (KeyValues{{"lr", "0.1"}, {"model", "mlp"}}));
  EXPECT_EQ(grid[1], (KeyValues{{"lr", "0.1"}, {"model", "cnn"}}));
  EXPECT_EQ(grid[5], (KeyValues{{"lr", "0.01"}, {"model", "softmax"}}));
  EXPECT_TRUE(ExpandGrid({}).empty());
  std::vector<KeyValues> a = SampleGrid({{"lr", {"1", "2", "3"}}}, 5, 42);
  std::vector<KeyValues> b = SampleGrid({{"lr", {"1", "2", "3"}}}, 5, 42);
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(a, b);
}

TEST(SweepTest, SixTasksTwoRunnersLeaderboardAndBestAlias) {
  StoreOptions options;
  options.root = testing::NewTempDir("sweep");
  absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store& store = **opened;
  std::vector<KeyValues> points =
      ExpandGrid({{"model", {"mlp", "cnn"}}, {"lr", {"0.1", "0.03", "0.01"}}});
  absl::StatusOr<std::vector<int64_t>> ids = CreateSweepTasks(
      store, {"mnist", "s1", "parallel_models", {"test_accuracy"}, 2}, points);
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_EQ(ids->size(), 6u);
  // A stand-in for training: accuracy from the hyperparameters; one point
  // fails for good.
  TaskFn train = [](const Task& task,
                    const HeartbeatFn&) -> absl::StatusOr<TaskResult> {
    const KeyValues& hp = task.hyperparameters;
    if (hp.at("model") == "cnn" && hp.at("lr") == "0.1") {
      return absl::InvalidArgumentError("diverged");
    }
    double acc = (hp.at("model") == "cnn" ? 0.9 : 0.8) -
                 *ParseNumber(hp.at("lr"));
    TaskResult result;
    result.results = {{"test_accuracy", FormatNumber(acc)}};
    result.model = TaskResult::Model{hp.at("model"), hp.at("model"),
                                     "weights-" + task.name, {}};
    return result;
  };
  std::vector<std::thread> runners;
  for (int r = 0; r < 2; ++r) {
    runners.emplace_back([&store, &train, r] {
      absl::StatusOr<RunnerStats> stats = RunTasks(
          store, "runner-" + std::to_string(r), train, RunnerOptions{});
      EXPECT_TRUE(stats.ok()) << stats.status();
    });
  }
  TB_ASSERT_OK(WaitForSweep(
      store, "s1",
      {.poll = absl::Milliseconds(1), .timeout = absl::Seconds(30)}));
  for (std::thread& t : runners) t.join();
  absl::StatusOr<std::vector<LeaderboardRow>> board =
      Leaderboard(store, "s1", "test_accuracy");
  ASSERT_TRUE(board.ok()) << board.status();
  ASSERT_EQ(board->size(), 6u);
  EXPECT_EQ((*board)[0].metric, "0.89");
  EXPECT_EQ((*board)[0].hyperparameters,
            (KeyValues{{"lr", "0.01"}, {"model", "cnn"}}));
  EXPECT_EQ((*board)[5].state, "failed");
  std::ostringstream out;
  PrintLeaderboard(*board, "test_accuracy", out);
  EXPECT_TRUE(absl::StartsWith(out.str(), "RANK  test_accuracy")) << out.str();
  // The failed task says why, not only "failed".
  EXPECT_EQ((*board)[5].error, "INVALID_ARGUMENT: diverged");
  EXPECT_THAT(out.str(), HasSubstr(absl::StrCat((*board)[5].task_name,
                                                " failed: INVALID_ARGUMENT: diverged")));
  TB_ASSERT_OK(AliasBest(store, *board));
  absl::StatusOr<ModelRecord> best = store.GetModelByRef("mnist", "cnn@best");
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_EQ(best->kv.at("test_accuracy"), "0.89");
  EXPECT_EQ(store.LoadBlob(best->checkpoint.sha256).value_or(""),
            "weights-" + (*board)[0].task_name);
  // The CLI's "best" sees the same winner.
  TB_ASSERT_OK_AND_ASSIGN(std::vector<ModelRecord> top,
                          store.FindModels({"", "test_accuracy desc", 1}));
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].aliases, std::vector<std::string>{"best"});
}

// Runner processes that all die leave the tasks open for good: the wait
// must end at once and say how each runner ended, not sit out its timeout.
TEST(SweepTest, WaitEndsWhenEveryRunnerProcessHasDied) {
  StoreOptions options;
  options.root = testing::NewTempDir("dead-runners");
  TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, Store::Open(options));
  TB_ASSERT_OK(CreateSweepTasks(*store, {"mnist", "s2", "parallel_models",
                                         {"test_accuracy"}, 2},
                                ExpandGrid({{"lr", {"0.1", "0.2"}}}))
                   .status());
  std::vector<base::Subprocess> runners;
  TB_ASSERT_OK_AND_ASSIGN(base::Subprocess fails,
                          base::Subprocess::Spawn({"/bin/false"}));
  runners.push_back(std::move(fails));
  TB_ASSERT_OK_AND_ASSIGN(base::Subprocess killed,
                          base::Subprocess::Spawn({"/bin/sleep", "600"}));
  killed.Kill();
  runners.push_back(std::move(killed));
  std::vector<std::string> progress;
  absl::Status s = WaitForSweep(
      *store, "s2",
      {.poll = absl::Milliseconds(1),
       .timeout = absl::Seconds(600),  // the test's own limit fires first
       .runners = &runners,
       .on_progress = [&](const std::string& l) { progress.push_back(l); }});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("every runner process has ended"),
                    HasSubstr("runner 0"), HasSubstr("exited with status 1"),
                    HasSubstr("killed by signal 9"),
                    HasSubstr("2 tasks still open")));
  EXPECT_THAT(progress, Contains(HasSubstr("pending=2")));
}

}  // namespace
}  // namespace trainbus::registry
