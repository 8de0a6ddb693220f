#include "actors/topology/train_task.h"

#include <iostream>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "registry/metric_logger.h"
#include "registry/runner_main.h"
#include "registry/store.h"
#include "actors/topology/components.h"
#include "topology/runner.h"
#include "topology/spec.h"

namespace trainbus::actors {
namespace {

// One training stream into the task's one model (ApplyOverrides puts the
// task's model, data and limits in).
constexpr char kTaskSpec[] = R"(
name: train_task
sources:
  - {name: fashion-mnist/train, kind: idx, data_dir: data, output: mnist}
resources:
  - {name: mnist, max_queue: 1024}
  - {name: metrics, max_queue: 1024}
  - {name: model, max_queue: 1024}
bindings:
  - {from: mnist, to: model, filter: labelled, policy: block, window: 256}
models:
  - {name: model, spec: softmax, input: model, output: metrics}
)";

// Keys that configure the run rather than the model.
const std::set<std::string>& RunKeys() {
  static const auto* keys = new std::set<std::string>{
      "model", "epochs", "train_limit", "test_limit", "eval_every",
      "seed",  "data_dir", "sweep"};
  return *keys;
}

absl::Status ReadCount(const registry::KeyValues& hp, const std::string& key,
                       uint64_t* out) {
  auto it = hp.find(key);
  if (it == hp.end()) return absl::OkStatus();
  if (!absl::SimpleAtoi(it->second, out)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hyperparameter ", key, "='", it->second,
        "' is not a non-negative integer"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> TaskModelSpec(const registry::KeyValues& hp) {
  auto model = hp.find("model");
  if (model == hp.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("task has no 'model' hyperparameter; set model= to ",
                     nn::ArchNameList()));
  }
  std::string spec = model->second;
  char sep = ':';
  for (const auto& [key, value] : hp) {
    if (RunKeys().count(key)) continue;
    absl::StrAppend(&spec, std::string(1, sep), key, "=", value);
    sep = ',';
  }
  absl::StatusOr<nn::ModelSpec> parsed = nn::ParseModelSpec(spec);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model spec '", spec, "': ", parsed.status().message()));
  }
  return nn::FormatModelSpec(*parsed);
}

absl::Status CheckTaskEpochs(uint64_t epochs) {
  if (epochs > 0) return absl::OkStatus();
  // The generator's 0 is "forever" (parallel_models' --forever): a task
  // would never end.
  return absl::InvalidArgumentError(
      "epochs=0 would train forever, and a task must end (a sweep has no "
      "--forever); set epochs to 1 or more");
}

registry::TaskFn MakeTrainTaskFn(TrainTaskDefaults defaults) {
  return [defaults](const registry::Task& task,
                    const registry::HeartbeatFn& heartbeat)
             -> absl::StatusOr<registry::TaskResult> {
    TB_ASSIGN_OR_RETURN(std::string spec, TaskModelSpec(task.hyperparameters));
    topology::RunOverrides flags;
    flags.models = absl::StrCat(task.name, "=", spec);
    flags.data_dir = defaults.data_dir;
    const auto& hp = task.hyperparameters;
    if (auto it = hp.find("data_dir"); it != hp.end()) {
      flags.data_dir = it->second;
    }
    uint64_t epochs = defaults.epochs, train_limit = 0, test_limit = 0,
             eval_every = defaults.eval_every, seed = 1;
    for (auto [key, out] :
         {std::pair<const char*, uint64_t*>{"epochs", &epochs},
          {"train_limit", &train_limit},
          {"test_limit", &test_limit},
          {"eval_every", &eval_every},
          {"seed", &seed}}) {
      TB_RETURN_IF_ERROR(ReadCount(hp, key, out));
    }
    TB_RETURN_IF_ERROR(CheckTaskEpochs(epochs));
    flags.epochs = epochs;
    flags.train_limit = train_limit;
    flags.test_limit = test_limit;
    flags.eval_every = static_cast<uint32_t>(eval_every);
    flags.seed = seed;
    TB_ASSIGN_OR_RETURN(topology::TopologySpec run_spec,
                        topology::ParseSpec(kTaskSpec, "train task"));
    TB_RETURN_IF_ERROR(topology::ApplyOverrides(flags, &run_spec));
    topology::RunOptions options;
    options.print = defaults.print;
    if (defaults.on_metric) {
      options.hooks.on_metric = [&task, fn = defaults.on_metric](
                                    const bus::Metric& m) { fn(task, m); };
    }
    if (!options.print) {
      // The run prints it only with the progress lines.
      const topology::ModelEntry& m = run_spec.models.front();
      std::cout << ModelCostLines({{m.name, m.spec_text}}, {m.spec}, "task ")
                << std::flush;
    }
    TB_ASSIGN_OR_RETURN(topology::RunReport report,
                        topology::RunSpec(run_spec, options));
    // Give up quietly if another runner took the task over meanwhile.
    TB_RETURN_IF_ERROR(heartbeat());
    const ModelSummary& m = report.models.front();
    if (!m.error.empty()) {
      return absl::InternalError(absl::StrCat("training failed: ", m.error));
    }
    registry::TaskResult result;
    result.results = {
        {"test_accuracy", registry::FormatNumber(m.test_accuracy)},
        {"prequential_accuracy",
         registry::FormatNumber(m.prequential_accuracy)},
        {"samples_per_second", registry::FormatNumber(m.samples_per_second)},
        {"train_seconds", registry::FormatNumber(m.train_seconds)},
        {"steps", registry::FormatNumber(static_cast<double>(m.steps))},
        {"parameters",
         registry::FormatNumber(static_cast<double>(m.parameters))},
    };
    registry::TaskResult::Model model;
    model.name = task.name;
    model.arch = m.spec;
    model.checkpoint = m.checkpoint;
    result.model = std::move(model);
    return result;
  };
}

int TrainRunnerMain(const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err) {
  TrainTaskDefaults defaults;
  std::vector<std::string> runner_args;
  std::string registry_dir;
  for (const std::string& arg : args) {
    if (arg.rfind("--data_dir=", 0) == 0) {
      defaults.data_dir = arg.substr(11);
      continue;
    }
    if (arg == "--verbose") {
      defaults.print = true;
      continue;
    }
    if (arg.rfind("--registry_dir=", 0) == 0) registry_dir = arg.substr(15);
    runner_args.push_back(arg);
  }
  std::unique_ptr<registry::Store> logs;
  if (!registry_dir.empty()) {
    registry::StoreOptions options;
    options.root = registry_dir;
    absl::StatusOr<std::unique_ptr<registry::Store>> store =
        registry::Store::Open(options);
    if (!store.ok()) {
      err << "trainbus runner: " << store.status().message() << "\n";
      return 1;
    }
    logs = std::move(*store);
    defaults.on_metric = [&logs](const registry::Task& task,
                                 const bus::Metric& m) {
      absl::StatusOr<registry::LogEntry> entry =
          registry::MetricToLogEntry(m, task.project, /*model_version=*/0);
      if (!entry.ok()) return;  // not a train/validation/test metric
      entry->model = task.name;
      // A lost log line is reported, not fatal: the result still counts.
      if (absl::Status s = logs->AppendLog(*entry); !s.ok()) {
        std::cerr << "trainbus runner: log not stored: " << s.message()
                  << "\n";
      }
    };
  }
  return registry::RunnerMain(runner_args, MakeTrainTaskFn(defaults), out,
                              err);
}

}  // namespace trainbus::actors
