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
#include "actors/topology/parallel_models.h"

namespace trainbus::actors {
namespace {

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
    ParallelModelsConfig config;
    config.data_dir = defaults.data_dir;
    config.epochs = defaults.epochs;
    config.eval_every = defaults.eval_every;
    config.print = defaults.print;
    config.models = {{task.name, spec}};
    const auto& hp = task.hyperparameters;
    if (auto it = hp.find("data_dir"); it != hp.end()) {
      config.data_dir = it->second;
    }
    uint64_t train_limit = 0, test_limit = 0, eval_every = config.eval_every;
    for (auto [key, out] :
         {std::pair<const char*, uint64_t*>{"epochs", &config.epochs},
          {"train_limit", &train_limit},
          {"test_limit", &test_limit},
          {"eval_every", &eval_every},
          {"seed", &config.seed}}) {
      TB_RETURN_IF_ERROR(ReadCount(hp, key, out));
    }
    TB_RETURN_IF_ERROR(CheckTaskEpochs(config.epochs));
    config.train_limit = train_limit;
    config.test_limit = test_limit;
    config.eval_every = static_cast<uint32_t>(eval_every);
    if (defaults.on_metric) {
      config.on_metric = [&task, fn = defaults.on_metric](
                             const bus::Metric& m) { fn(task, m); };
    }
    if (!config.print) {
      // RunParallelModels prints it only with the progress lines.
      TB_ASSIGN_OR_RETURN(std::vector<nn::ModelSpec> specs,
                          ParseModelSpecs(config.models, config.seed));
      std::cout << ModelCostLines(config.models, specs, "task ")
                << std::flush;
    }
    TB_ASSIGN_OR_RETURN(ParallelModelsReport report, RunParallelModels(config));
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
