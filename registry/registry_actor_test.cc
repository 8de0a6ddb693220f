#include "registry/registry_actor.h"

#include <chrono>

#include "base/status_error.h"
#include "registry/loopback_registry.h"
#include "registry/runner.h"
#include "registry/test_util.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

// nullptr (and a failed test) if the store cannot be opened.
std::shared_ptr<Store> OpenStore(const base::Clock* clock = nullptr) {
  StoreOptions options;
  options.root = testing::NewTempDir("actor");
  options.clock = clock;
  return std::shared_ptr<Store>(OrFail(Store::Open(options)));
}

TaskSpec Spec(const std::string& name) { return testing::TestTask(name); }

// Sends a request and returns the reply or the error as a Status.
template <class Reply, class... Ts>
absl::StatusOr<Reply> Ask(caf::scoped_actor& self, const registry_actor& r,
                          Ts&&... xs) {
  absl::StatusOr<Reply> out = absl::InternalError("no reply");
  self->request(r, std::chrono::seconds(30), std::forward<Ts>(xs)...)
      .receive([&](Reply& reply) { out = std::move(reply); },
               [&](caf::error& error) { out = base::ToStatus(error); });
  return out;
}

TEST(RegistryActorTest, EveryRequestInProcess) {
  caf::actor_system_config cfg;
  AddRegistryMessageTypes(cfg);
  caf::actor_system system{cfg};
  std::shared_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  registry_actor registry = SpawnRegistryActor(system, store);
  {
    caf::scoped_actor self{system};
    absl::StatusOr<int64_t> id =
        Ask<int64_t>(self, registry, create_task_atom::value, Spec("t1"));
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(*Ask<int64_t>(self, registry, unfinished_atom::value), 1);
    absl::StatusOr<ClaimReply> claim =
        Ask<ClaimReply>(self, registry, claim_atom::value, std::string("r1"),
                        int64_t{30'000'000'000});
    ASSERT_TRUE(claim.ok()) << claim.status();
    ASSERT_TRUE(claim->has_task);
    EXPECT_EQ(claim->task.id, *id);
    EXPECT_EQ(claim->task.hyperparameters.at("lr"), "0.1");
    EXPECT_TRUE(Ask<bool>(self, registry, heartbeat_atom::value, *id,
                          std::string("r1"))
                    .ok());
    absl::StatusOr<bool> stolen = Ask<bool>(self, registry,
                                            heartbeat_atom::value, *id,
                                            std::string("someone-else"));
    EXPECT_EQ(stolen.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(stolen.status().message().find("no longer holds the lease"),
              absl::string_view::npos);

    absl::StatusOr<int64_t> version = Ask<int64_t>(
        self, registry, save_model_atom::value,
        SaveModelRequest{"mnist", "mlp", "mlp:784-10", "ckpt",
                         {{"test_accuracy", "0.9"}}});
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_TRUE(Ask<bool>(self, registry, finish_atom::value,
                          FinishRequest{*id, "r1", {{"test_accuracy", "0.9"}},
                                        "mlp", *version})
                    .ok());
    // A second task fails once and goes back to pending.
    absl::StatusOr<int64_t> id2 =
        Ask<int64_t>(self, registry, create_task_atom::value, Spec("t2"));
    ASSERT_TRUE(id2.ok());
    ASSERT_TRUE(Ask<ClaimReply>(self, registry, claim_atom::value,
                                std::string("r1"), int64_t{1'000'000'000})
                    ->has_task);
    EXPECT_TRUE(Ask<bool>(self, registry, fail_atom::value, *id2,
                          std::string("r1"), std::string("oom"), true)
                    .ok());
    EXPECT_EQ(OrFail(store->GetTask(*id2)).state, TaskState::kPending);
    EXPECT_EQ(OrFail(store->GetTask(*id2)).error, "oom");
    absl::StatusOr<TaskList> tasks =
        Ask<TaskList>(self, registry, list_tasks_atom::value,
                      Query{"state=done", "", 0});
    ASSERT_TRUE(tasks.ok()) << tasks.status();
    ASSERT_EQ(tasks->tasks.size(), 1u);
    EXPECT_EQ(tasks->tasks[0].model_version, *version);

    EXPECT_TRUE(Ask<bool>(self, registry, set_alias_atom::value,
                          std::string("mnist"), std::string("mlp"),
                          std::string("best"), *version)
                    .ok());
    absl::StatusOr<ModelBlob> blob =
        Ask<ModelBlob>(self, registry, load_model_atom::value,
                       std::string("mnist"), std::string("mlp@best"));
    ASSERT_TRUE(blob.ok()) << blob.status();
    EXPECT_EQ(blob->checkpoint, "ckpt");
    EXPECT_EQ(blob->model.aliases, std::vector<std::string>{"best"});

    absl::StatusOr<ModelList> models =
        Ask<ModelList>(self, registry, find_models_atom::value,
                       Query{"test_accuracy>0.5", "test_accuracy desc", 1});
    ASSERT_TRUE(models.ok()) << models.status();
    ASSERT_EQ(models->models.size(), 1u);
    absl::StatusOr<ModelList> bad = Ask<ModelList>(
        self, registry, find_models_atom::value, Query{"acc=>1", "", 0});
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("unknown operator '=>'"),
              absl::string_view::npos);

    LogEntry entry;
    entry.project = "mnist";
    entry.kind = LogKind::kValidation;
    entry.model = "mlp";
    entry.model_version = *version;
    entry.step = 100;
    entry.metrics = {{"accuracy", "0.88"}};
    EXPECT_EQ(*Ask<int64_t>(self, registry, append_logs_atom::value,
                            LogList{{entry, entry}}),
              2);
    absl::StatusOr<LogList> logs = Ask<LogList>(
        self, registry, query_logs_atom::value, Query{"kind=validation", "", 0});
    ASSERT_TRUE(logs.ok()) << logs.status();
    EXPECT_EQ(logs->entries.size(), 2u);
    EXPECT_EQ(logs->entries[0].kind, LogKind::kValidation);
  }
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
}

TEST(RegistryActorTest, RemoteRunnerClaimsAndFinishesOverLoopback) {
  std::shared_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateTask(Spec("remote-1")).ok());
  ASSERT_TRUE(store->CreateTask(Spec("remote-2")).ok());

  testing::LoopbackRegistry node(store);
  ASSERT_TRUE(node.ok()) << node.error();

  {
    caf::actor_system_config client_cfg;
    AddRegistryMessageTypes(client_cfg);
    client_cfg.load<caf::io::middleman>();
    caf::actor_system client{client_cfg};
    caf::expected<registry_actor> remote =
        client.middleman().remote_actor<registry_actor>("127.0.0.1", node.port());
    ASSERT_TRUE(remote) << client.render(remote.error());
    RemoteTaskQueue queue(client, *remote);
    TaskFn fn = [](const Task& task,
                   const HeartbeatFn& heartbeat) -> absl::StatusOr<TaskResult> {
      if (absl::Status s = heartbeat(); !s.ok()) return s;
      TaskResult result;
      result.results = {{"test_accuracy", "0.75"}};
      result.model =
          TaskResult::Model{"", "softmax:784-10", "remote-bytes-" + task.name,
                            {}};
      return result;
    };
    absl::StatusOr<RunnerStats> stats =
        RunTasks(queue, "remote-runner", fn, RunnerOptions{});
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->finished, 2);
    // Multi-megabyte checkpoints cross the wire both ways.
    std::string big(4 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
    absl::StatusOr<int64_t> v = queue.SaveModel("mnist", "big", "cnn", big, {});
    ASSERT_TRUE(v.ok()) << v.status();
    {
      caf::scoped_actor self{client};
      absl::StatusOr<ModelBlob> blob =
          Ask<ModelBlob>(self, *remote, load_model_atom::value,
                         std::string("mnist"), std::string("big"));
      ASSERT_TRUE(blob.ok()) << blob.status();
      EXPECT_TRUE(blob->checkpoint == big);
    }
    // Errors cross the wire with their code.
    absl::Status lost = queue.Heartbeat(1, "remote-runner");
    EXPECT_EQ(lost.code(), absl::StatusCode::kFailedPrecondition) << lost;
  }
  absl::StatusOr<std::vector<Task>> done =
      store->ListTasks({"state=done", "", 0});
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 2u);
  EXPECT_EQ((*done)[0].runner, "remote-runner");
  EXPECT_EQ(OrFail(store->LoadModelBlob("mnist", "remote-2")), "remote-bytes-remote-2");
}

}  // namespace
}  // namespace trainbus::registry
