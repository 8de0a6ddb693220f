// The sweep's training path: a registry task's hyperparameters become one
// model trained on the bus, and its results and checkpoint come back.
#include "actors/topology/train_task.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/nn/model.h"

namespace trainbus::actors {
namespace {

constexpr char kFashionMnist[] = "/usr/share/datasets/fashion-mnist";

registry::Task MakeTask(registry::KeyValues hp) {
  registry::Task task;
  task.id = 7;
  task.project = "fashion-mnist";
  task.name = "task7";
  task.hyperparameters = std::move(hp);
  return task;
}

// Runs `fn` on a thread of its own and gives up after `seconds`: a run
// that never ends fails the test with a message instead of hanging it.
absl::StatusOr<registry::TaskResult> RunWithDeadline(
    const registry::TaskFn& fn, const registry::Task& task,
    const registry::HeartbeatFn& heartbeat, double seconds) {
  auto done =
      std::make_shared<std::promise<absl::StatusOr<registry::TaskResult>>>();
  std::future<absl::StatusOr<registry::TaskResult>> result = done->get_future();
  std::thread([fn, task, heartbeat, done] {
    done->set_value(fn(task, heartbeat));
  }).detach();
  if (result.wait_for(std::chrono::duration<double>(seconds)) !=
      std::future_status::ready) {
    ADD_FAILURE() << "the task did not end within " << seconds << " s";
    std::_Exit(1);  // the training thread cannot be stopped from here
  }
  return result.get();
}

registry::HeartbeatFn Alive(int* calls) {
  return [calls] {
    ++*calls;
    return absl::OkStatus();
  };
}

class TrainTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kFashionMnist))
        << kFashionMnist << " is missing: run tools/setup.sh";
    defaults_.data_dir = kFashionMnist;
  }

  // Runs a task with these hyperparameters through MakeTrainTaskFn.
  absl::StatusOr<registry::TaskResult> Run(
      registry::KeyValues hp, double seconds = 60,
      registry::HeartbeatFn heartbeat = nullptr) {
    if (!heartbeat) heartbeat = Alive(&heartbeats_);
    return RunWithDeadline(MakeTrainTaskFn(defaults_), MakeTask(std::move(hp)),
                           heartbeat, seconds);
  }

  TrainTaskDefaults defaults_;
  int heartbeats_ = 0;
};

TEST(TaskModelSpecTest, JoinsTheSpecKeysAndLeavesTheRunKeysOut) {
  auto spec = TaskModelSpec({{"model", "mlp"},
                             {"hidden", "32"},
                             {"lr", "0.05"},
                             {"epochs", "2"},
                             {"train_limit", "100"},
                             {"sweep", "s1"}});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->rfind("mlp:", 0), 0u) << *spec;
  EXPECT_NE(spec->find("hidden=32"), std::string::npos) << *spec;
  EXPECT_NE(spec->find("lr=0.05"), std::string::npos) << *spec;
  EXPECT_EQ(spec->find("epochs"), std::string::npos) << *spec;
  EXPECT_EQ(spec->find("sweep"), std::string::npos) << *spec;
}

TEST(CheckTaskEpochsTest, ZeroIsRefusedBecauseATaskMustEnd) {
  EXPECT_TRUE(CheckTaskEpochs(1).ok());
  EXPECT_TRUE(CheckTaskEpochs(5).ok());
  absl::Status zero = CheckTaskEpochs(0);
  EXPECT_EQ(zero.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(zero.message().find("epochs=0 would train forever"),
            std::string::npos)
      << zero;
  EXPECT_NE(zero.message().find("--forever"), std::string::npos) << zero;
}

TEST(TaskModelSpecTest, NamesWhatIsMissingOrWrong) {
  auto none = TaskModelSpec({{"lr", "0.1"}});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("'model'"), std::string::npos);
  // The architectures' own list, not a copy of it.
  EXPECT_NE(none.status().message().find(nn::ArchNameList()),
            std::string::npos)
      << none.status();
  auto bad = TaskModelSpec({{"model", "mlp"}, {"hidden", "wide"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("hidden"), std::string::npos)
      << bad.status();
}

TEST_F(TrainTaskTest, TrainsTheTasksModelAndReturnsItsResults) {
  std::vector<std::string> metric_tasks;  // appended by the sink thread only
  defaults_.on_metric = [&metric_tasks](const registry::Task& task,
                                        const bus::Metric&) {
    metric_tasks.push_back(task.name);
  };
  auto result = Run({{"model", "softmax"},
                     {"lr", "0.01"},
                     {"train_limit", "1000"},
                     {"test_limit", "300"},
                     {"eval_every", "250"}},
                    120);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->results.at("steps"), "1000");
  const double accuracy = std::stod(result->results.at("test_accuracy"));
  // Softmax regression reaches 0.71 after these 1000 samples; chance is 0.1.
  EXPECT_GT(accuracy, 0.65);
  EXPECT_LE(accuracy, 1.0);
  EXPECT_GT(std::stod(result->results.at("parameters")), 7000);
  ASSERT_TRUE(result->model.has_value());
  EXPECT_EQ(result->model->name, "task7");
  EXPECT_EQ(result->model->arch.rfind("softmax", 0), 0u) << result->model->arch;
  EXPECT_FALSE(result->model->checkpoint.empty());
  EXPECT_GE(heartbeats_, 1);
  ASSERT_EQ(metric_tasks.size(), 4u);  // every 250 of 1000 steps
  EXPECT_EQ(metric_tasks.front(), "task7");
}

TEST_F(TrainTaskTest, ZeroEpochsIsRefusedInsteadOfTrainingForever) {
  auto result =
      Run({{"model", "softmax"}, {"epochs", "0"}, {"train_limit", "50"}});
  ASSERT_FALSE(result.ok());
  // InvalidArgument: the runner fails the task for good, without retries.
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("epochs=0"), std::string::npos)
      << result.status();
}

TEST_F(TrainTaskTest, ABadCountOrALostLeaseFailsTheTask) {
  auto bad = Run({{"model", "softmax"}, {"train_limit", "lots"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("train_limit='lots'"),
            std::string::npos)
      << bad.status();
  auto lost =
      Run({{"model", "softmax"}, {"train_limit", "100"}, {"test_limit", "50"}},
          60, [] { return absl::FailedPreconditionError("lease taken over"); });
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrainTaskTest, AMissingDataDirNamesIt) {
  auto result =
      Run({{"model", "softmax"}, {"data_dir", "/nonexistent/fmnist"}});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("/nonexistent/fmnist"),
            std::string::npos)
      << result.status();
}

}  // namespace
}  // namespace trainbus::actors
