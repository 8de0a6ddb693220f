// What a task runner needs from the registry, so the same runner loop works
// against a Store in this process (StoreTaskQueue) or against a registry
// actor on another node (RemoteTaskQueue in registry_actor.h).
//
//   StoreTaskQueue queue(*store);
//   absl::StatusOr<std::optional<Task>> task =
//       queue.Claim("runner-1", absl::Seconds(30));
#ifndef TRAINBUS_REGISTRY_TASK_QUEUE_H_
#define TRAINBUS_REGISTRY_TASK_QUEUE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "registry/records.h"
#include "registry/store.h"

namespace trainbus::registry {

class TaskQueue {
 public:
  virtual ~TaskQueue() = default;
  virtual absl::StatusOr<std::optional<Task>> Claim(const std::string& runner,
                                                    absl::Duration lease) = 0;
  virtual absl::Status Heartbeat(int64_t task_id,
                                 const std::string& runner) = 0;
  virtual absl::Status Finish(int64_t task_id, const std::string& runner,
                              const KeyValues& results,
                              const std::string& model_name,
                              int64_t model_version) = 0;
  virtual absl::Status Fail(int64_t task_id, const std::string& runner,
                            const std::string& error, bool retry) = 0;
  virtual absl::StatusOr<int64_t> CheckUnfinished() = 0;
  virtual absl::StatusOr<int64_t> SaveModel(const std::string& project,
                                            const std::string& name,
                                            const std::string& arch,
                                            const std::string& checkpoint,
                                            const KeyValues& kv) = 0;
};

// A TaskQueue over a Store in this process. Thread-safe like the Store.
class StoreTaskQueue final : public TaskQueue {
 public:
  explicit StoreTaskQueue(Store& store) : store_(store) {}
  absl::StatusOr<std::optional<Task>> Claim(const std::string& runner,
                                            absl::Duration lease) override {
    return store_.ClaimTask(runner, lease);
  }
  absl::Status Heartbeat(int64_t task_id, const std::string& runner) override {
    return store_.Heartbeat(task_id, runner);
  }
  absl::Status Finish(int64_t task_id, const std::string& runner,
                      const KeyValues& results, const std::string& model_name,
                      int64_t model_version) override {
    return store_.FinishTask(task_id, runner, results, model_name,
                             model_version);
  }
  absl::Status Fail(int64_t task_id, const std::string& runner,
                    const std::string& error, bool retry) override {
    return store_.FailTask(task_id, runner, error, retry);
  }
  absl::StatusOr<int64_t> CheckUnfinished() override {
    return store_.CheckUnfinished();
  }
  absl::StatusOr<int64_t> SaveModel(const std::string& project,
                                    const std::string& name,
                                    const std::string& arch,
                                    const std::string& checkpoint,
                                    const KeyValues& kv) override {
    return store_.SaveModel(project, name, arch, checkpoint, kv);
  }

 private:
  Store& store_;
};

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_TASK_QUEUE_H_
