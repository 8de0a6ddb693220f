// bazel run //experiments:sweep -- [--grid='model=softmax,mlp;lr=0.005,0.01,0.02']
//
// A hyperparameter sweep over the registry's task queue: one task per grid
// point, --runners runner processes claim them (with leases) and train each
// model on the bus, then a leaderboard sorted by test accuracy; the best
// model gets the alias "best" (`trainbus registry show <name>@best`).
// Runners on other machines join with `trainbus runner --registry_node=...`.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/subprocess.h"
#include "registry/store.h"
#include "registry/sweep.h"
#include "actors/topology/train_task.h"

ABSL_FLAG(std::string, registry_dir, "",
          "registry directory (default: $TRAINBUS_REGISTRY_DIR or "
          "~/.local/share/trainbus/registry)");
ABSL_FLAG(std::string, grid, "model=softmax,mlp;lr=0.005,0.01,0.02",
          "';'-separated key=v1,v2,... lists; every combination is a task");
ABSL_FLAG(std::string, fixed, "batch=16",
          "hyperparameters every task gets, e.g. 'batch=16,hidden=128'");
ABSL_FLAG(int, runners, 2, "runner processes to start on this machine");
ABSL_FLAG(uint64_t, train_limit, 20000, "training samples per task (0: all)");
ABSL_FLAG(uint64_t, epochs, 1,
          "passes over the training data per task (at least 1: a task must "
          "end)");
ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist",
          "MNIST-format data directory");
ABSL_FLAG(std::string, project, "fashion-mnist", "registry project");
ABSL_FLAG(std::string, sweep, "", "sweep name (default: sweep-<unix time>)");
ABSL_FLAG(int, timeout_s, 1800, "give up waiting after this long");

namespace {

using trainbus::registry::KeyValues;

absl::StatusOr<trainbus::registry::ParameterGrid> ParseGrid(
    const std::string& text) {
  trainbus::registry::ParameterGrid grid;
  for (absl::string_view part : absl::StrSplit(text, ';', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, '=');
    if (kv.first.empty() || kv.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--grid part '", part, "' is not key=v1,v2,..."));
    }
    grid[kv.first] = absl::StrSplit(kv.second, ',', absl::SkipEmpty());
  }
  if (grid.empty()) return absl::InvalidArgumentError("--grid is empty");
  return grid;
}

// A runner process of this same binary (its `runner` subcommand).
absl::StatusOr<trainbus::base::Subprocess> StartRunner(
    const std::string& registry_dir, const std::string& data_dir, int index) {
  return trainbus::base::Subprocess::Spawn(
      {"/proc/self/exe", "runner", "--registry_dir=" + registry_dir,
       "--data_dir=" + data_dir,
       absl::StrCat("--runner_id=", "sweep-runner-", index, "-", getpid())});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "runner") {
    return trainbus::actors::TrainRunnerMain(
        std::vector<std::string>(argv + 2, argv + argc), std::cout, std::cerr);
  }
  absl::SetProgramUsageMessage(
      "Runs a hyperparameter sweep through the registry's task queue.");
  absl::ParseCommandLine(argc, argv);
  // Before the registry is opened or a runner started: every task would
  // fail on it.
  if (absl::Status s =
          trainbus::actors::CheckTaskEpochs(absl::GetFlag(FLAGS_epochs));
      !s.ok()) {
    std::cerr << "sweep: --" << s.message() << "\n";
    return 2;
  }

  trainbus::registry::StoreOptions store_options;
  store_options.root = absl::GetFlag(FLAGS_registry_dir).empty()
                           ? trainbus::registry::Store::DefaultRoot()
                           : absl::GetFlag(FLAGS_registry_dir);
  auto store = trainbus::registry::Store::Open(store_options);
  if (!store.ok()) {
    std::cerr << "sweep: " << store.status().message() << "\n";
    return 1;
  }
  auto grid = ParseGrid(absl::GetFlag(FLAGS_grid));
  if (!grid.ok()) {
    std::cerr << "sweep: " << grid.status().message() << "\n";
    return 2;
  }
  KeyValues fixed;
  for (absl::string_view kv :
       absl::StrSplit(absl::GetFlag(FLAGS_fixed), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
    fixed[p.first] = p.second;
  }
  fixed["train_limit"] = std::to_string(absl::GetFlag(FLAGS_train_limit));
  fixed["epochs"] = std::to_string(absl::GetFlag(FLAGS_epochs));
  std::vector<KeyValues> points = trainbus::registry::ExpandGrid(*grid);
  for (KeyValues& p : points) {
    for (const auto& [k, v] : fixed) p.emplace(k, v);
    // Validate up front: a typo should not cost a runner's time.
    if (auto spec = trainbus::actors::TaskModelSpec(p); !spec.ok()) {
      std::cerr << "sweep: " << spec.status().message() << "\n";
      return 2;
    }
  }
  const std::string sweep =
      absl::GetFlag(FLAGS_sweep).empty()
          ? absl::StrCat("sweep-", absl::ToUnixSeconds(absl::Now()))
          : absl::GetFlag(FLAGS_sweep);
  trainbus::registry::SweepSpec spec;
  spec.project = absl::GetFlag(FLAGS_project);
  spec.sweep = sweep;
  spec.experiment = "parallel_models";
  spec.result_keys = {"test_accuracy", "samples_per_second"};
  auto ids = trainbus::registry::CreateSweepTasks(**store, spec, points);
  if (!ids.ok()) {
    std::cerr << "sweep: " << ids.status().message() << "\n";
    return 1;
  }
  std::cout << "sweep " << sweep << ": " << ids->size() << " tasks in "
            << store_options.root << ", " << absl::GetFlag(FLAGS_runners)
            << " runners\n";

  std::vector<trainbus::base::Subprocess> runners;
  for (int i = 0; i < absl::GetFlag(FLAGS_runners); ++i) {
    auto runner =
        StartRunner(store_options.root, absl::GetFlag(FLAGS_data_dir), i);
    if (!runner.ok()) {
      std::cerr << "sweep: cannot start a runner process: "
                << runner.status().message() << "\n";
      break;
    }
    runners.push_back(*std::move(runner));
  }
  if (runners.empty() && absl::GetFlag(FLAGS_runners) > 0) {
    std::cerr << "sweep: no runner process started; the tasks stay in the "
                 "registry for `trainbus runner`\n";
    return 1;
  }

  // Progress while the runners work: one line whenever a count changes. The
  // runners are reaped as they end (and killed if we give up).
  trainbus::registry::SweepWaitOptions wait;
  wait.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  wait.runners = &runners;
  wait.on_progress = [](const std::string& line) {
    std::cout << "  " << line << "\n" << std::flush;
  };
  if (absl::Status s = trainbus::registry::WaitForSweep(**store, sweep, wait);
      !s.ok()) {
    std::cerr << "sweep: " << s.message() << "\n";
    if (s.code() == absl::StatusCode::kDeadlineExceeded) {
      std::cerr << "sweep: timed out; `trainbus registry tasks` shows what is "
                   "left, and runners can still finish it\n";
    }
    return 1;
  }
  for (trainbus::base::Subprocess& runner : runners) {
    // Runners stop by themselves once no task is open.
    if (!runner.Wait(absl::Seconds(30)).ok()) runner.Kill();
  }
  auto board =
      trainbus::registry::Leaderboard(**store, sweep, "test_accuracy");
  if (!board.ok()) {
    std::cerr << "sweep: " << board.status().message() << "\n";
    return 1;
  }
  std::cout << "\n";
  trainbus::registry::PrintLeaderboard(*board, "test_accuracy", std::cout);
  if (absl::Status s = trainbus::registry::AliasBest(**store, *board, "best");
      !s.ok()) {
    std::cerr << "sweep: no model to alias: " << s.message() << "\n";
    return 1;
  }
  std::cout << "\nbest model aliased 'best': " << board->front().model_name
            << " v" << board->front().model_version
            << "  (trainbus registry best --sort 'test_accuracy desc')\n";
  // What to run next: serve the winner and classify an image with it.
  const std::string& best = board->front().model_name;
  std::cout << "serve it: trainbus serve --registry_dir=" << store_options.root
            << " --model=" << board->front().project << "/" << best
            << "\n  curl --data-binary @image.png -H 'Content-Type: image/png'"
            << " http://127.0.0.1:8501/v1/models/" << best
            << "/labels/best:classify\n";
  return 0;
}
