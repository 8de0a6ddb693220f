#include "registry/runner.h"

#include <unistd.h>

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"

namespace trainbus::registry {
namespace {

// Renews a lease every `interval` until stopped; remembers a lost lease.
class LeaseKeeper {
 public:
  LeaseKeeper(TaskQueue& queue, int64_t task_id, std::string runner,
              absl::Duration interval)
      : queue_(queue),
        task_id_(task_id),
        runner_(std::move(runner)),
        interval_(interval),
        thread_([this] { Loop(); }) {}

  ~LeaseKeeper() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  absl::Status BeatNow() {
    {
      absl::MutexLock lock(&mu_);
      TB_RETURN_IF_ERROR(lost_);
    }
    absl::Status s = queue_.Heartbeat(task_id_, runner_);
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      absl::MutexLock lock(&mu_);
      lost_ = s;
    }
    return s;
  }

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (true) {
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_)) {
        return;
      }
      if (!lost_.ok()) continue;  // keep waiting for the stop signal
      mu_.Unlock();
      absl::Status s = queue_.Heartbeat(task_id_, runner_);
      mu_.Lock();
      if (s.code() == absl::StatusCode::kFailedPrecondition) lost_ = s;
      // Other errors (registry briefly unreachable): try again next time.
    }
  }

  TaskQueue& queue_;
  const int64_t task_id_;
  const std::string runner_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status lost_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

bool StopRequested(const RunnerOptions& options) {
  return options.stop != nullptr && options.stop->load();
}

// Waits up to `d`, returning early when a stop is requested.
void IdleWait(const RunnerOptions& options, absl::Duration d) {
  absl::Time deadline = absl::Now() + d;
  while (!StopRequested(options) && absl::Now() < deadline) {
    absl::SleepFor(std::min(absl::Milliseconds(20), deadline - absl::Now()));
  }
}

}  // namespace

std::string MakeRunnerId() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::random_device rd;
  return absl::StrCat(host[0] ? host : "host", "-", ::getpid(), "-",
                      rd() % 100000);
}

absl::StatusOr<RunnerStats> RunTasks(TaskQueue& queue,
                                     const std::string& runner_id,
                                     const TaskFn& fn,
                                     const RunnerOptions& options) {
  RunnerStats stats;
  absl::Duration interval = options.heartbeat_interval > absl::ZeroDuration()
                                ? options.heartbeat_interval
                                : options.lease / 3;
  while (!StopRequested(options)) {
    if (options.max_tasks > 0 && stats.claimed >= options.max_tasks) break;
    TB_ASSIGN_OR_RETURN(std::optional<Task> claimed,
                        queue.Claim(runner_id, options.lease));
    if (!claimed.has_value()) {
      if (!options.forever) {
        TB_ASSIGN_OR_RETURN(int64_t open, queue.CheckUnfinished());
        if (open == 0) break;
      }
      // Others hold the open tasks; one may crash and its task come back.
      IdleWait(options, options.idle_wait);
      continue;
    }
    const Task& task = *claimed;
    ++stats.claimed;
    absl::StatusOr<TaskResult> result;
    {
      LeaseKeeper keeper(queue, task.id, runner_id, interval);
      HeartbeatFn heartbeat = [&keeper] { return keeper.BeatNow(); };
      result = fn(task, heartbeat);
    }
    if (!result.ok()) {
      ++stats.failed;
      bool retry = result.status().code() != absl::StatusCode::kInvalidArgument;
      absl::Status s =
          queue.Fail(task.id, runner_id, result.status().ToString(), retry);
      if (s.code() == absl::StatusCode::kFailedPrecondition) {
        ++stats.lease_lost;
      } else if (!s.ok()) {
        return s;
      }
      continue;
    }
    std::string model_name;
    int64_t model_version = 0;
    if (result->model.has_value()) {
      TaskResult::Model& model = *result->model;
      model_name = model.name.empty() ? task.name : model.name;
      KeyValues kv = task.hyperparameters;
      for (const auto& [k, v] : result->results) kv[k] = v;
      for (const auto& [k, v] : model.kv) kv[k] = v;
      kv["task_id"] = absl::StrCat(task.id);
      kv["runner"] = runner_id;
      TB_ASSIGN_OR_RETURN(model_version,
                          queue.SaveModel(task.project, model_name, model.arch,
                                          model.checkpoint, kv));
    }
    absl::Status s = queue.Finish(task.id, runner_id, result->results,
                                  model_name, model_version);
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      ++stats.lease_lost;
    } else if (!s.ok()) {
      return s;
    } else {
      ++stats.finished;
    }
  }
  return stats;
}

absl::StatusOr<RunnerStats> RunTasks(Store& store, const std::string& runner_id,
                                     const TaskFn& fn,
                                     const RunnerOptions& options) {
  StoreTaskQueue queue(store);
  return RunTasks(queue, runner_id, fn, options);
}

}  // namespace trainbus::registry
