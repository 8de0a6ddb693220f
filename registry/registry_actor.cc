#include "registry/registry_actor.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_error.h"
#include "base/status_macros.h"

namespace trainbus::registry {
namespace {

using base::ToCafError;

template <class T>
caf::result<T> Reply(absl::StatusOr<T> value) {
  if (!value.ok()) return ToCafError(value.status());
  return std::move(*value);
}

caf::result<bool> ReplyOk(const absl::Status& status) {
  if (!status.ok()) return ToCafError(status);
  return true;
}

// Runs the blocking Store calls on its own thread (spawned detached).
registry_actor::behavior_type WorkerBehavior(registry_actor::pointer self,
                                             std::shared_ptr<Store> store) {
  return {
      [store](claim_atom, const std::string& runner,
              int64_t lease_ns) -> caf::result<ClaimReply> {
        absl::StatusOr<std::optional<Task>> task =
            store->ClaimTask(runner, absl::Nanoseconds(lease_ns));
        if (!task.ok()) return ToCafError(task.status());
        ClaimReply reply;
        if (task->has_value()) {
          reply.has_task = true;
          reply.task = std::move(**task);
        }
        return reply;
      },
      [store](heartbeat_atom, int64_t task_id,
              const std::string& runner) -> caf::result<bool> {
        return ReplyOk(store->Heartbeat(task_id, runner));
      },
      [store](finish_atom, const FinishRequest& r) -> caf::result<bool> {
        return ReplyOk(store->FinishTask(r.task_id, r.runner, r.results,
                                         r.model_name, r.model_version));
      },
      [store](fail_atom, int64_t task_id, const std::string& runner,
              const std::string& error, bool retry) -> caf::result<bool> {
        return ReplyOk(store->FailTask(task_id, runner, error, retry));
      },
      [store](create_task_atom, const TaskSpec& spec) -> caf::result<int64_t> {
        return Reply(store->CreateTask(spec));
      },
      [store](unfinished_atom) -> caf::result<int64_t> {
        return Reply(store->CheckUnfinished());
      },
      [store](list_tasks_atom, const Query& q) -> caf::result<TaskList> {
        absl::StatusOr<std::vector<Task>> tasks = store->ListTasks(q);
        if (!tasks.ok()) return ToCafError(tasks.status());
        return TaskList{std::move(*tasks)};
      },
      [store](save_model_atom,
              const SaveModelRequest& r) -> caf::result<int64_t> {
        return Reply(
            store->SaveModel(r.project, r.name, r.arch, r.checkpoint, r.kv));
      },
      [store](find_models_atom, const Query& q) -> caf::result<ModelList> {
        absl::StatusOr<std::vector<ModelRecord>> models = store->FindModels(q);
        if (!models.ok()) return ToCafError(models.status());
        return ModelList{std::move(*models)};
      },
      [store](load_model_atom, const std::string& project,
              const std::string& ref) -> caf::result<ModelBlob> {
        absl::StatusOr<ModelRecord> model = store->GetModelByRef(project, ref);
        if (!model.ok()) return ToCafError(model.status());
        absl::StatusOr<std::string> bytes =
            store->LoadBlob(model->checkpoint.sha256);
        if (!bytes.ok()) return ToCafError(bytes.status());
        return ModelBlob{std::move(*model), std::move(*bytes)};
      },
      [store](set_alias_atom, const std::string& project,
              const std::string& name, const std::string& alias,
              int64_t version) -> caf::result<bool> {
        return ReplyOk(store->SetAlias(project, name, alias, version));
      },
      [store](append_logs_atom, const LogList& logs) -> caf::result<int64_t> {
        absl::Status s = store->AppendLogs(logs.entries);
        if (!s.ok()) return ToCafError(s);
        return static_cast<int64_t>(logs.entries.size());
      },
      [store](query_logs_atom, const Query& q) -> caf::result<LogList> {
        absl::StatusOr<std::vector<LogEntry>> entries = store->QueryLogs(q);
        if (!entries.ok()) return ToCafError(entries.status());
        return LogList{std::move(*entries)};
      },
  };
}

// Relays a request to the worker and answers it itself, so the worker's
// handle never crosses the network.
template <class T, class... Ts>
caf::result<T> Relay(registry_actor::pointer self, const registry_actor& worker,
                     const Ts&... xs) {
  caf::typed_response_promise<T> promise = self->make_response_promise<T>();
  self->request(worker, caf::infinite, xs...)
      .then([promise](T& value) mutable { promise.deliver(std::move(value)); },
            [promise](caf::error& error) mutable {
              promise.deliver(std::move(error));
            });
  return promise;
}

// The published face of the registry: a cheap scheduled actor that relays
// every request to the detached worker. (CAF 0.17 can hang at shutdown when
// a detached actor is published or sent to a remote node, actor-framework
// issues #1110 and #1196, so the detached worker stays local.)
registry_actor::behavior_type FrontBehavior(registry_actor::pointer self,
                                            registry_actor worker) {
  self->link_to(worker);
  return {
      [self, worker](claim_atom a, const std::string& runner,
                     int64_t lease_ns) {
        return Relay<ClaimReply>(self, worker, a, runner, lease_ns);
      },
      [self, worker](heartbeat_atom a, int64_t task_id,
                     const std::string& runner) {
        return Relay<bool>(self, worker, a, task_id, runner);
      },
      [self, worker](finish_atom a, const FinishRequest& r) {
        return Relay<bool>(self, worker, a, r);
      },
      [self, worker](fail_atom a, int64_t task_id, const std::string& runner,
                     const std::string& error, bool retry) {
        return Relay<bool>(self, worker, a, task_id, runner, error, retry);
      },
      [self, worker](create_task_atom a, const TaskSpec& spec) {
        return Relay<int64_t>(self, worker, a, spec);
      },
      [self, worker](unfinished_atom a) {
        return Relay<int64_t>(self, worker, a);
      },
      [self, worker](list_tasks_atom a, const Query& q) {
        return Relay<TaskList>(self, worker, a, q);
      },
      [self, worker](save_model_atom a, const SaveModelRequest& r) {
        return Relay<int64_t>(self, worker, a, r);
      },
      [self, worker](find_models_atom a, const Query& q) {
        return Relay<ModelList>(self, worker, a, q);
      },
      [self, worker](load_model_atom a, const std::string& project,
                     const std::string& ref) {
        return Relay<ModelBlob>(self, worker, a, project, ref);
      },
      [self, worker](set_alias_atom a, const std::string& project,
                     const std::string& name, const std::string& alias,
                     int64_t version) {
        return Relay<bool>(self, worker, a, project, name, alias, version);
      },
      [self, worker](append_logs_atom a, const LogList& logs) {
        return Relay<int64_t>(self, worker, a, logs);
      },
      [self, worker](query_logs_atom a, const Query& q) {
        return Relay<LogList>(self, worker, a, q);
      },
  };
}

}  // namespace

void AddRegistryMessageTypes(caf::actor_system_config& cfg) {
  cfg.add_message_type<ClaimReply>("trainbus.registry.ClaimReply");
  cfg.add_message_type<FinishRequest>("trainbus.registry.FinishRequest");
  cfg.add_message_type<TaskSpec>("trainbus.registry.TaskSpec");
  cfg.add_message_type<Task>("trainbus.registry.Task");
  cfg.add_message_type<Query>("trainbus.registry.Query");
  cfg.add_message_type<TaskList>("trainbus.registry.TaskList");
  cfg.add_message_type<SaveModelRequest>("trainbus.registry.SaveModelRequest");
  cfg.add_message_type<ModelRecord>("trainbus.registry.ModelRecord");
  cfg.add_message_type<ModelList>("trainbus.registry.ModelList");
  cfg.add_message_type<ModelBlob>("trainbus.registry.ModelBlob");
  cfg.add_message_type<LogEntry>("trainbus.registry.LogEntry");
  cfg.add_message_type<LogList>("trainbus.registry.LogList");
  base::AddStatusErrors(cfg);
}

namespace {

// The registry's own errors as they are; CAF's (timeout, node gone) with a
// hint where to look.
absl::Status ReplyError(const caf::error& error) {
  absl::Status status = base::ToStatus(error);
  if (base::IsStatusError(error)) return status;
  return absl::Status(
      status.code(),
      absl::StrCat("registry actor did not answer (", status.message(),
                   "); check that the registry node is running and reachable"));
}

}  // namespace

registry_actor SpawnRegistryActor(caf::actor_system& system,
                                  std::shared_ptr<Store> store) {
  registry_actor worker =
      system.spawn<caf::detached>(WorkerBehavior, std::move(store));
  return system.spawn(FrontBehavior, std::move(worker));
}

template <class Reply, class... Ts>
absl::StatusOr<Reply> RemoteTaskQueue::Ask(Ts&&... xs) {
  caf::scoped_actor self{system_};
  absl::StatusOr<Reply> out = absl::InternalError("registry sent no reply");
  auto timeout =
      std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout_));
  self->request(registry_, timeout, std::forward<Ts>(xs)...)
      .receive([&](Reply& reply) { out = std::move(reply); },
               [&](caf::error& error) { out = ReplyError(error); });
  return out;
}

absl::StatusOr<std::optional<Task>> RemoteTaskQueue::Claim(
    const std::string& runner, absl::Duration lease) {
  TB_ASSIGN_OR_RETURN(ClaimReply reply,
                      Ask<ClaimReply>(claim_atom::value, runner,
                                      absl::ToInt64Nanoseconds(lease)));
  if (!reply.has_task) return std::optional<Task>();
  return std::optional<Task>(std::move(reply.task));
}

absl::Status RemoteTaskQueue::Heartbeat(int64_t task_id,
                                        const std::string& runner) {
  return Ask<bool>(heartbeat_atom::value, task_id, runner).status();
}

absl::Status RemoteTaskQueue::Finish(int64_t task_id, const std::string& runner,
                                     const KeyValues& results,
                                     const std::string& model_name,
                                     int64_t model_version) {
  return Ask<bool>(finish_atom::value,
                   FinishRequest{task_id, runner, results, model_name,
                                 model_version})
      .status();
}

absl::Status RemoteTaskQueue::Fail(int64_t task_id, const std::string& runner,
                                   const std::string& error, bool retry) {
  return Ask<bool>(fail_atom::value, task_id, runner, error, retry).status();
}

absl::StatusOr<int64_t> RemoteTaskQueue::CheckUnfinished() {
  return Ask<int64_t>(unfinished_atom::value);
}

absl::StatusOr<int64_t> RemoteTaskQueue::SaveModel(
    const std::string& project, const std::string& name,
    const std::string& arch, const std::string& checkpoint,
    const KeyValues& kv) {
  return Ask<int64_t>(save_model_atom::value,
                      SaveModelRequest{project, name, arch, checkpoint, kv});
}

}  // namespace trainbus::registry
