// Several processes against one registry: concurrent runners claim each task
// exactly once; a runner killed with SIGKILL mid-task loses its lease and
// another runner finishes the task; a writer killed mid-transaction leaves
// whole batches only; and a runner uses a registry node in another process
// over loopback. Usage (from BUILD): registry_multiprocess_test <helper>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/subprocess.h"
#include "registry/registry_actor.h"
#include "registry/runner.h"
#include "registry/store.h"
#include "registry/test_util.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

std::string g_helper;  // path of registry_test_helper

// Every wait on a helper has this deadline; the test's own size is larger,
// so a stuck helper fails with a message instead of a Bazel timeout.
constexpr absl::Duration kDeadline = absl::Seconds(40);

// A helper process with pipes to its stdin and stdout; killed and reaped
// when the test ends on any path.
absl::StatusOr<base::Subprocess> Spawn(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {g_helper};
  argv.insert(argv.end(), args.begin(), args.end());
  return base::Subprocess::Spawn(argv,
                                 {.pipe_stdin = true, .pipe_stdout = true});
}

// The helper's next line, or the reason there is none.
std::string ReadLine(base::Subprocess& child) {
  absl::StatusOr<std::string> line = child.ReadLine(kDeadline);
  return line.ok() ? *line : absl::StrCat("<", line.status().ToString(), ">");
}

// How the helper ended, or a description of why it did not in time.
std::string WaitForExit(base::Subprocess& child) {
  absl::StatusOr<base::ExitStatus> exit = child.Wait(kDeadline);
  return exit.ok() ? exit->Describe() : exit.status().ToString();
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& root) {
  StoreOptions options;
  options.root = root;
  return Store::Open(options);
}

TaskSpec Spec(const std::string& name) { return testing::TestTask(name); }

TEST(MultiProcessTest, EachTaskClaimedExactlyOnceAcrossProcesses) {
  std::string root = testing::NewTempDir("mp");
  constexpr int kTasks = 60;
  constexpr int kRunners = 4;
  {
    TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenStore(root));
    for (int i = 0; i < kTasks; ++i) {
      ASSERT_TRUE(store->CreateTask(Spec(absl::StrCat("t", i))).ok());
    }
  }
  std::string claims = root + "/claims.txt";
  std::vector<base::Subprocess> runners;
  for (int r = 0; r < kRunners; ++r) {
    TB_ASSERT_OK_AND_ASSIGN(
        base::Subprocess runner,
        Spawn({"--mode=run", "--registry_dir=" + root,
               absl::StrCat("--runner_id=runner-", r),
               "--claims_file=" + claims}));
    runners.push_back(std::move(runner));
  }
  for (base::Subprocess& c : runners) c.CloseStdin();  // go: all at once
  for (base::Subprocess& c : runners) {
    std::string line = ReadLine(c);
    ASSERT_EQ(WaitForExit(c), "exited with status 0");
    EXPECT_EQ(line.rfind("finished ", 0), 0u) << line;
  }
  std::ifstream in(claims);
  std::map<int64_t, int> count;
  std::set<std::string> who;
  int64_t id;
  std::string runner;
  while (in >> id >> runner) {
    ++count[id];
    who.insert(runner);
  }
  EXPECT_EQ(count.size(), static_cast<size_t>(kTasks));
  for (const auto& [task, n] : count) EXPECT_EQ(n, 1) << "task " << task;
  TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenStore(root));
  EXPECT_EQ(store->CheckUnfinished().value_or(-1), 0);
  TB_ASSERT_OK_AND_ASSIGN(std::vector<Task> done,
                          store->ListTasks({"state=done", "", 0}));
  EXPECT_EQ(done.size(), static_cast<size_t>(kTasks));
  // Each task ran on its first attempt.
  TB_ASSERT_OK_AND_ASSIGN(std::vector<Task> retried,
                          store->ListTasks({"attempts>1", "", 0}));
  EXPECT_TRUE(retried.empty());
}

TEST(MultiProcessTest, KilledRunnerTaskIsRunAgain) {
  std::string root = testing::NewTempDir("kill");
  int64_t id = 0;
  {
    TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenStore(root));
    TB_ASSERT_OK_AND_ASSIGN(id, store->CreateTask(Spec("doomed-task")));
  }
  TB_ASSERT_OK_AND_ASSIGN(
      base::Subprocess doomed,
      Spawn({"--mode=hang", "--registry_dir=" + root, "--runner_id=doomed",
             "--lease_ms=200"}));
  ASSERT_EQ(ReadLine(doomed), absl::StrCat("claimed ", id));
  base::ExitStatus killed = doomed.Kill();
  ASSERT_TRUE(!killed.exited && killed.signal == SIGKILL) << killed.Describe();
  {
    TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenStore(root));
    absl::StatusOr<Task> task = store->GetTask(id);
    ASSERT_TRUE(task.ok()) << task.status();
    EXPECT_EQ(task->state, TaskState::kRunning);
    EXPECT_EQ(task->runner, "doomed");
  }
  // A runner whose clock is 1 s ahead sees the 200 ms lease as expired (no
  // sleeping in the test), reclaims the task and finishes it.
  TB_ASSERT_OK_AND_ASSIGN(
      base::Subprocess rescuer,
      Spawn({"--mode=run", "--registry_dir=" + root, "--runner_id=rescuer",
             "--clock_offset_ms=1000"}));
  rescuer.CloseStdin();
  EXPECT_EQ(ReadLine(rescuer), "finished 1");
  ASSERT_EQ(WaitForExit(rescuer), "exited with status 0");
  TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenStore(root));
  absl::StatusOr<Task> task = store->GetTask(id);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state, TaskState::kDone);
  EXPECT_EQ(task->attempts, 2);
  EXPECT_EQ(task->runner, "rescuer");
  EXPECT_EQ(task->results.at("test_accuracy"), "0.5");
}

TEST(MultiProcessTest, WriterKilledMidTransactionLeavesWholeBatches) {
  std::string root = testing::NewTempDir("logs");
  TB_ASSERT_OK(OpenStore(root).status());
  TB_ASSERT_OK_AND_ASSIGN(base::Subprocess writer,
                          Spawn({"--mode=logs", "--registry_dir=" + root}));
  ASSERT_EQ(ReadLine(writer), "appending");
  writer.Kill();
  TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenStore(root));
  absl::StatusOr<std::vector<LogEntry>> logs = store->QueryLogs({"", "", 0});
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_GE(logs->size(), 100u);
  EXPECT_EQ(logs->size() % 100, 0u) << "a partial batch is visible";
  for (const LogEntry& e : *logs) ASSERT_EQ(e.metrics.size(), 2u);
}

TEST(MultiProcessTest, RunnerUsesRegistryNodeInAnotherProcess) {
  std::string root = testing::NewTempDir("node");
  TB_ASSERT_OK(OpenStore(root).status());
  TB_ASSERT_OK_AND_ASSIGN(base::Subprocess node,
                          Spawn({"--mode=serve", "--registry_dir=" + root}));
  std::string line = ReadLine(node);
  uint32_t port32 = 0;
  ASSERT_EQ(line.rfind("port ", 0), 0u) << line;
  ASSERT_TRUE(absl::SimpleAtoi(line.substr(5), &port32));
  uint16_t port = static_cast<uint16_t>(port32);
  {
    caf::actor_system_config cfg;
    AddRegistryMessageTypes(cfg);
    cfg.load<caf::io::middleman>();
    caf::actor_system system{cfg};
    caf::expected<registry_actor> remote =
        system.middleman().remote_actor<registry_actor>("127.0.0.1", port);
    ASSERT_TRUE(remote) << system.render(remote.error());
    {
      caf::scoped_actor self{system};
      for (int i = 0; i < 3; ++i) {
        self->request(*remote, std::chrono::seconds(30),
                      create_task_atom::value, Spec(absl::StrCat("n", i)))
            .receive([](int64_t) {},
                     [&](caf::error& e) { ADD_FAILURE() << system.render(e); });
      }
    }
    RemoteTaskQueue queue(system, *remote);
    TaskFn fn = [](const Task& task,
                   const HeartbeatFn&) -> absl::StatusOr<TaskResult> {
      TaskResult result;
      result.results = {{"test_accuracy", "0.6"}};
      result.model = TaskResult::Model{"", "softmax", "bytes-" + task.name, {}};
      return result;
    };
    absl::StatusOr<RunnerStats> stats =
        RunTasks(queue, "far-runner", fn, RunnerOptions{});
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->finished, 3);
  }
  node.CloseStdin();  // tells the node to stop
  EXPECT_EQ(WaitForExit(node), "exited with status 0");
  TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenStore(root));
  TB_ASSERT_OK_AND_ASSIGN(
      std::vector<Task> done,
      store->ListTasks({"state=done,runner=far-runner", "", 0}));
  EXPECT_EQ(done.size(), 3u);
  EXPECT_EQ(store->LoadModelBlob("mnist", "n1").value_or(""), "bytes-n1");
}

}  // namespace
}  // namespace trainbus::registry

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <path to registry_test_helper>\n", argv[0]);
    return 2;
  }
  trainbus::registry::g_helper = argv[1];
  return RUN_ALL_TESTS();
}
