#include "registry/runner_main.h"

#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "registry/loopback_registry.h"
#include "registry/registry_actor.h"
#include "registry/store.h"
#include "registry/test_util.h"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

TaskFn Train() {
  return [](const Task& task,
            const HeartbeatFn&) -> absl::StatusOr<TaskResult> {
    TaskResult result;
    result.results = {{"test_accuracy", "0.8"}};
    result.model = TaskResult::Model{"", "mlp", "w-" + task.name, {}};
    return result;
  };
}

// nullptr (and a failed test) if the store cannot be opened.
std::shared_ptr<Store> StoreWithTasks(const std::string& root, int n) {
  StoreOptions options;
  options.root = root;
  std::shared_ptr<Store> store(OrFail(Store::Open(options)));
  for (int i = 0; store != nullptr && i < n; ++i) {
    TaskSpec spec;
    spec.name = absl::StrCat("t", i);
    spec.experiment = "parallel_models";
    EXPECT_TRUE(store->CreateTask(spec).ok());
  }
  return store;
}

TEST(RunnerMainTest, RunsAgainstARegistryDirectory) {
  std::string root = testing::NewTempDir("rm");
  std::shared_ptr<Store> store = StoreWithTasks(root, 3);
  ASSERT_NE(store, nullptr);
  std::ostringstream out, err;
  int rc = RunnerMain({"--registry_dir", root, "--runner_id=r1",
                       "--lease_ms=5000", "--max_tasks=2"},
                      Train(), out, err);
  ASSERT_EQ(rc, 0) << err.str();
  EXPECT_EQ(out.str(),
            "runner r1: claimed 2, finished 2, failed 0, lease lost 0\n");
  EXPECT_EQ(OrFail(store->CheckUnfinished()), 1);
}

TEST(RunnerMainTest, RunsAgainstARegistryNode) {
  std::string root = testing::NewTempDir("rm");
  std::shared_ptr<Store> store = StoreWithTasks(root, 2);
  ASSERT_NE(store, nullptr);
  testing::LoopbackRegistry node(store);
  ASSERT_TRUE(node.ok()) << node.error();
  std::ostringstream out, err;
  int rc = RunnerMain({"--registry_node",
                       absl::StrCat("127.0.0.1:", node.port()),
                       "--runner_id=n1"},
                      Train(), out, err);
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "finished 2")) << out.str();
  EXPECT_EQ(OrFail(store->LoadModelBlob("", "t1")), "w-t1");
}

TEST(RunnerMainTest, BadFlags) {
  std::ostringstream out, err;
  EXPECT_EQ(RunnerMain({"--lease_ms=abc"}, Train(), out, err), 2);
  EXPECT_EQ(RunnerMain({"--nope=1"}, Train(), out, err), 2);
  EXPECT_EQ(RunnerMain({"--registry_node", "localhost"}, Train(), out, err), 2);
  EXPECT_TRUE(absl::StrContains(err.str(), "host:port"));
  EXPECT_TRUE(absl::StrContains(err.str(), "`trainbus runner help`"));
}

TEST(RunnerMainTest, HelpPrintsUsageInsteadOfAnError) {
  for (const char* help : {"help", "--help", "-h"}) {
    std::ostringstream out, err;
    EXPECT_EQ(RunnerMain({help}, Train(), out, err), 0) << help;
    EXPECT_TRUE(absl::StartsWith(out.str(), "usage: trainbus runner")) << help;
    EXPECT_TRUE(absl::StrContains(out.str(), "--registry_dir")) << help;
    EXPECT_EQ(err.str(), "") << help;
  }
}

}  // namespace
}  // namespace trainbus::registry
