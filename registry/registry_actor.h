// The registry as a CAF actor: it owns a Store and runs its blocking SQLite
// calls on a thread of its own (a detached worker), so it never stalls the
// scheduler. The handle returned is a light scheduled actor that relays to
// the worker; publish it through the middleman for runners on other nodes.
// Stop it with anon_send_exit(handle, ...); the worker is linked and stops
// too. Unpublish it before destroying the actor_system.
//
//   auto store = std::shared_ptr<Store>(std::move(*Store::Open(options)));
//   registry_actor registry = SpawnRegistryActor(system, store);
//   auto port = system.middleman().publish(registry, 0, "127.0.0.1");
//   // elsewhere:
//   auto remote = other.middleman().remote_actor<registry_actor>(host, port);
//   RemoteTaskQueue queue(other, *remote);
//   RunTasks(queue, MakeRunnerId(), train, RunnerOptions{});
#ifndef TRAINBUS_REGISTRY_REGISTRY_ACTOR_H_
#define TRAINBUS_REGISTRY_REGISTRY_ACTOR_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "registry/registry_messages.h"
#include "registry/store.h"
#include "registry/task_queue.h"
#include "caf/all.hpp"

namespace trainbus::registry {

registry_actor SpawnRegistryActor(caf::actor_system& system,
                                  std::shared_ptr<Store> store);

// A TaskQueue that talks to a (possibly remote) registry actor with blocking
// requests. Thread-safe: each call uses its own scoped_actor.
class RemoteTaskQueue final : public TaskQueue {
 public:
  RemoteTaskQueue(caf::actor_system& system, registry_actor registry,
                  absl::Duration timeout = absl::Seconds(60))
      : system_(system), registry_(std::move(registry)), timeout_(timeout) {}

  absl::StatusOr<std::optional<Task>> Claim(const std::string& runner,
                                            absl::Duration lease) override;
  absl::Status Heartbeat(int64_t task_id, const std::string& runner) override;
  absl::Status Finish(int64_t task_id, const std::string& runner,
                      const KeyValues& results, const std::string& model_name,
                      int64_t model_version) override;
  absl::Status Fail(int64_t task_id, const std::string& runner,
                    const std::string& error, bool retry) override;
  absl::StatusOr<int64_t> CheckUnfinished() override;
  absl::StatusOr<int64_t> SaveModel(const std::string& project,
                                    const std::string& name,
                                    const std::string& arch,
                                    const std::string& checkpoint,
                                    const KeyValues& kv) override;

 private:
  template <class Reply, class... Ts>
  absl::StatusOr<Reply> Ask(Ts&&... xs);

  caf::actor_system& system_;
  registry_actor registry_;
  absl::Duration timeout_;
};

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_REGISTRY_ACTOR_H_
