// The task runner loop: claim a task, run the caller's training function
// while a background thread keeps the lease alive, then store the model and
// finish the task (or fail it), until no task is left open.
//
//   TaskFn train = [](const Task& task, const HeartbeatFn& heartbeat)
//       -> absl::StatusOr<TaskResult> {
//     double lr = *ParseNumber(task.hyperparameters.at("lr"));
//     ...  // train; optionally call heartbeat() to check the lease is held
//     TaskResult result;
//     result.results = {{"test_accuracy", FormatNumber(acc)}};
//     result.model = TaskResult::Model{"mlp", spec_text, checkpoint_bytes, {}};
//     return result;
//   };
//   absl::StatusOr<RunnerStats> stats =
//       RunTasks(*store, MakeRunnerId(), train, RunnerOptions{});
#ifndef TRAINBUS_REGISTRY_RUNNER_H_
#define TRAINBUS_REGISTRY_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "registry/records.h"
#include "registry/store.h"
#include "registry/task_queue.h"

namespace trainbus::registry {

struct TaskResult {
  struct Model {
    std::string name;        // empty: the task's name
    std::string arch;        // model spec text
    std::string checkpoint;  // checkpoint bytes
    KeyValues kv;            // extra fields; results and hyperparameters are
                             // added automatically
  };
  KeyValues results;  // e.g. {"test_accuracy", "0.93"}
  std::optional<Model> model;
};

// Extends the task's lease now. Returns FailedPrecondition once the lease
// is lost; the task function should then give up (its result is dropped).
using HeartbeatFn = std::function<absl::Status()>;
// Runs one task. An error fails the task: it is retried while attempts
// remain, except InvalidArgument, which fails it for good.
using TaskFn =
    std::function<absl::StatusOr<TaskResult>(const Task&, const HeartbeatFn&)>;

struct RunnerOptions {
  absl::Duration lease = absl::Seconds(30);
  // How often the background thread renews the lease; zero means lease / 3.
  absl::Duration heartbeat_interval = absl::ZeroDuration();
  // Keep waiting for new tasks even when none is open.
  bool forever = false;
  // How long to wait before claiming again when every open task is held by
  // another runner (or, with `forever`, when none is open).
  absl::Duration idle_wait = absl::Milliseconds(200);
  // Stop after this many claimed tasks; 0 means no limit.
  int64_t max_tasks = 0;
  // Set to true (from any thread) to stop after the current task.
  const std::atomic<bool>* stop = nullptr;
};

struct RunnerStats {
  int64_t claimed = 0;
  int64_t finished = 0;
  int64_t failed = 0;      // the task function returned an error
  int64_t lease_lost = 0;  // the result came too late and was dropped
};

// "<hostname>-<pid>-<random>": unique per process.
std::string MakeRunnerId();

// Returns an error only when the registry itself fails.
absl::StatusOr<RunnerStats> RunTasks(TaskQueue& queue,
                                     const std::string& runner_id,
                                     const TaskFn& fn,
                                     const RunnerOptions& options);
absl::StatusOr<RunnerStats> RunTasks(Store& store, const std::string& runner_id,
                                     const TaskFn& fn,
                                     const RunnerOptions& options);

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_RUNNER_H_
