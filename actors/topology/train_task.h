// The training function a registry task runner runs: one task = one model
// trained on the bus (generator -> [mnist] -> [model] -> model actor), with
// the task's hyperparameters.
//
// Hyperparameters: "model" (the architecture, e.g. "mlp"), any model-spec
// key ("lr", "hidden", "batch", "opt", "momentum", "wd", "conv", ...), and the
// run settings "epochs" (1 or more: a task must end), "train_limit",
// "test_limit", "eval_every", "seed",
// "data_dir". Results: test_accuracy, prequential_accuracy,
// samples_per_second, steps, train_seconds; the trained model's checkpoint
// is returned for the runner to store.
#ifndef TRAINBUS_ACTORS_TOPOLOGY_TRAIN_TASK_H_
#define TRAINBUS_ACTORS_TOPOLOGY_TRAIN_TASK_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "registry/records.h"
#include "registry/runner.h"
#include "bus/message.h"

namespace trainbus::actors {

struct TrainTaskDefaults {
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  uint64_t epochs = 1;
  uint32_t eval_every = 200;
  bool print = false;
  // Receives every Metric the model publishes, with the task it belongs to
  // (e.g. to append train/test logs to the registry).
  std::function<void(const registry::Task&, const bus::Metric&)> on_metric;
};

// The model spec text for a task: "model" plus the spec keys, e.g.
// {"model": "mlp", "lr": "0.05", "hidden": "128"} -> "mlp:hidden=128,lr=0.05".
absl::StatusOr<std::string> TaskModelSpec(const registry::KeyValues& hp);

// The task's "epochs": 1 or more (0 would be the generator's "forever").
// The sweep checks its --epochs with it before creating any task.
absl::Status CheckTaskEpochs(uint64_t epochs);

registry::TaskFn MakeTrainTaskFn(TrainTaskDefaults defaults);

// `trainbus runner [--data_dir=DIR] [--verbose] <runner flags>`: claims
// training tasks from a registry and runs them until none is open (see
// registry/runner_main.h for the runner flags). With --registry_dir, each
// model's metrics are also stored as test logs in that registry.
int TrainRunnerMain(const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_TOPOLOGY_TRAIN_TASK_H_
