// Several processes against one registry: concurrent runners claim each task
// exactly once; a runner killed with SIGKILL mid-task loses its lease and
// another runner finishes the task; a writer killed mid-transaction leaves
// whole batches only; and a runner uses a registry node in another process
// over loopback. Usage (from BUILD): registry_multiprocess_test <helper>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "registry/registry_actor.h"
#include "registry/runner.h"
#include "registry/store.h"
#include "registry/test_util.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "gtest/gtest.h"

extern char** environ;

namespace trainbus::registry {
namespace {

std::string g_helper;  // path of registry_test_helper

struct Child {
  pid_t pid = -1;
  int stdin_fd = -1;   // our end of its stdin
  int stdout_fd = -1;  // our end of its stdout
};

Child Spawn(const std::vector<std::string>& args) {
  int in[2], out[2];
  EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  std::vector<std::string> all = {g_helper};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  Child child;
  int rc = posix_spawn(&child.pid, g_helper.c_str(), &actions, nullptr,
                       argv.data(), environ);
  EXPECT_EQ(rc, 0) << "cannot spawn " << g_helper;
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  child.stdin_fd = in[1];
  child.stdout_fd = out[0];
  return child;
}

// Reads one line from the child's stdout (blocks; "" at EOF).
std::string ReadLine(const Child& child) {
  std::string line;
  char c;
  while (::read(child.stdout_fd, &c, 1) == 1) {
    if (c == '\n') break;
    line.push_back(c);
  }
  return line;
}

int Wait(Child& child) {
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  if (child.stdin_fd >= 0) ::close(child.stdin_fd);
  if (child.stdout_fd >= 0) ::close(child.stdout_fd);
  child.stdin_fd = child.stdout_fd = -1;
  return status;
}

std::unique_ptr<Store> OpenStore(const std::string& root) {
  StoreOptions options;
  options.root = root;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

TaskSpec Spec(const std::string& name) {
  TaskSpec spec;
  spec.project = "mnist";
  spec.name = name;
  spec.experiment = "parallel_models";
  spec.max_attempts = 3;
  return spec;
}

TEST(MultiProcessTest, EachTaskClaimedExactlyOnceAcrossProcesses) {
  std::string root = testing::NewTempDir("mp");
  constexpr int kTasks = 60;
  constexpr int kRunners = 4;
  {
    std::unique_ptr<Store> store = OpenStore(root);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < kTasks; ++i) {
      ASSERT_TRUE(store->CreateTask(Spec(absl::StrCat("t", i))).ok());
    }
  }
  std::string claims = root + "/claims.txt";
  std::vector<Child> runners;
  for (int r = 0; r < kRunners; ++r) {
    runners.push_back(Spawn({"--mode=run", "--registry_dir=" + root,
                             absl::StrCat("--runner_id=runner-", r),
                             "--claims_file=" + claims}));
  }
  for (Child& c : runners) {  // go: every runner starts at once
    ::close(c.stdin_fd);
    c.stdin_fd = -1;
  }
  for (Child& c : runners) {
    std::string line = ReadLine(c);
    int status = Wait(c);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "runner exited with " << status;
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
  std::unique_ptr<Store> store = OpenStore(root);
  EXPECT_EQ(*store->CheckUnfinished(), 0);
  EXPECT_EQ(store->ListTasks({"state=done", "", 0})->size(),
            static_cast<size_t>(kTasks));
  // Each task ran on its first attempt.
  EXPECT_TRUE(store->ListTasks({"attempts>1", "", 0})->empty());
}

TEST(MultiProcessTest, KilledRunnerTaskIsRunAgain) {
  std::string root = testing::NewTempDir("kill");
  int64_t id = 0;
  {
    std::unique_ptr<Store> store = OpenStore(root);
    ASSERT_NE(store, nullptr);
    id = *store->CreateTask(Spec("doomed-task"));
  }
  Child doomed = Spawn({"--mode=hang", "--registry_dir=" + root,
                        "--runner_id=doomed", "--lease_ms=200"});
  EXPECT_EQ(ReadLine(doomed), absl::StrCat("claimed ", id));
  ASSERT_EQ(::kill(doomed.pid, SIGKILL), 0);
  int status = Wait(doomed);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  {
    std::unique_ptr<Store> store = OpenStore(root);
    absl::StatusOr<Task> task = store->GetTask(id);
    ASSERT_TRUE(task.ok()) << task.status();
    EXPECT_EQ(task->state, TaskState::kRunning);
    EXPECT_EQ(task->runner, "doomed");
  }
  // A runner whose clock is 1 s ahead sees the 200 ms lease as expired (no
  // sleeping in the test), reclaims the task and finishes it.
  Child rescuer = Spawn({"--mode=run", "--registry_dir=" + root,
                         "--runner_id=rescuer", "--clock_offset_ms=1000"});
  ::close(rescuer.stdin_fd);
  rescuer.stdin_fd = -1;
  EXPECT_EQ(ReadLine(rescuer), "finished 1");
  status = Wait(rescuer);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::unique_ptr<Store> store = OpenStore(root);
  absl::StatusOr<Task> task = store->GetTask(id);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state, TaskState::kDone);
  EXPECT_EQ(task->attempts, 2);
  EXPECT_EQ(task->runner, "rescuer");
  EXPECT_EQ(task->results.at("test_accuracy"), "0.5");
}

TEST(MultiProcessTest, WriterKilledMidTransactionLeavesWholeBatches) {
  std::string root = testing::NewTempDir("logs");
  ASSERT_NE(OpenStore(root), nullptr);
  Child writer = Spawn({"--mode=logs", "--registry_dir=" + root});
  EXPECT_EQ(ReadLine(writer), "appending");
  ASSERT_EQ(::kill(writer.pid, SIGKILL), 0);
  Wait(writer);
  std::unique_ptr<Store> store = OpenStore(root);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<LogEntry>> logs = store->QueryLogs({"", "", 0});
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_GE(logs->size(), 100u);
  EXPECT_EQ(logs->size() % 100, 0u) << "a partial batch is visible";
  for (const LogEntry& e : *logs) ASSERT_EQ(e.metrics.size(), 2u);
}

TEST(MultiProcessTest, RunnerUsesRegistryNodeInAnotherProcess) {
  std::string root = testing::NewTempDir("node");
  ASSERT_NE(OpenStore(root), nullptr);
  Child node = Spawn({"--mode=serve", "--registry_dir=" + root});
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
  ::close(node.stdin_fd);  // tells the node to stop
  node.stdin_fd = -1;
  int status = Wait(node);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::unique_ptr<Store> store = OpenStore(root);
  EXPECT_EQ(store->ListTasks({"state=done,runner=far-runner", "", 0})->size(),
            3u);
  EXPECT_EQ(*store->LoadModelBlob("mnist", "n1"), "bytes-n1");
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
