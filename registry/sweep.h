// Helpers for a hyperparameter sweep over the registry's task queue: expand a
// grid (or sample one), create one task per point, wait for them, rank the
// results and alias the winner. experiments/sweep is a thin driver on top.
//
//   std::vector<KeyValues> points =
//       ExpandGrid({{"model", {"mlp", "cnn"}}, {"lr", {"0.1", "0.01"}}});
//   auto ids = CreateSweepTasks(*store, {"mnist", "sweep1", "parallel_models",
//                                        {"test_accuracy"}, 3}, points);
//   ... runners run (RunTasks / RunnerMain) ...
//   WaitForSweep(*store, "sweep1", {.timeout = absl::Hours(1)});
//   auto board = Leaderboard(*store, "sweep1", "test_accuracy");
//   PrintLeaderboard(*board, "test_accuracy", std::cout);
//   AliasBest(*store, *board, "best");
#ifndef TRAINBUS_REGISTRY_SWEEP_H_
#define TRAINBUS_REGISTRY_SWEEP_H_

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/subprocess.h"
#include "registry/records.h"
#include "registry/store.h"

namespace trainbus::registry {

using ParameterGrid = std::map<std::string, std::vector<std::string>>;

// Every combination, in a fixed order (the last key varies fastest).
std::vector<KeyValues> ExpandGrid(const ParameterGrid& grid);
// `count` points, each value drawn uniformly from its list (seeded).
std::vector<KeyValues> SampleGrid(const ParameterGrid& grid, int count,
                                  uint64_t seed);

struct SweepSpec {
  std::string project;
  std::string sweep;       // sweep name; tasks are "<sweep>-<i>"
  std::string experiment;  // what a runner runs
  std::vector<std::string> result_keys;
  int32_t max_attempts = 3;
};

// One task per point; each task also gets the hyperparameter sweep=<name>.
absl::StatusOr<std::vector<int64_t>> CreateSweepTasks(
    Store& store, const SweepSpec& spec, const std::vector<KeyValues>& points);

struct SweepWaitOptions {
  absl::Duration poll = absl::Milliseconds(250);
  absl::Duration timeout = absl::Hours(1);
  // The runner processes started for the sweep on this machine, if any
  // (not owned). When every one of them has ended while tasks are still
  // open, nobody local will finish them: the wait ends at once with
  // FailedPrecondition saying how each runner ended. A runner that ends
  // early is reported through on_progress.
  std::vector<base::Subprocess>* runners = nullptr;
  // Called with a line such as "tasks: done=2 pending=4" whenever the
  // counts change, and with a line for each runner that ends.
  std::function<void(const std::string&)> on_progress;
};

// Polls until no task of the sweep is pending or running. DeadlineExceeded
// after `options.timeout`.
absl::Status WaitForSweep(Store& store, const std::string& sweep,
                          const SweepWaitOptions& options);

struct LeaderboardRow {
  int64_t task_id = 0;
  std::string task_name;
  std::string state;
  KeyValues hyperparameters;  // without the "sweep" marker
  std::string metric;         // the ranked result, "" if missing
  std::string project;
  std::string model_name;     // "" if the task saved no model
  int64_t model_version = 0;
  std::string error;          // why the task failed (its last error)
};

// The sweep's tasks, best first by numeric `metric` (descending unless
// `ascending`); tasks without the metric (failed ones) come last. The
// printed board gives each failed task's reason.
absl::StatusOr<std::vector<LeaderboardRow>> Leaderboard(
    Store& store, const std::string& sweep, const std::string& metric,
    bool ascending = false);
void PrintLeaderboard(const std::vector<LeaderboardRow>& rows,
                      const std::string& metric, std::ostream& out);
// Points `alias` at the model of the first row that has one.
absl::Status AliasBest(Store& store, const std::vector<LeaderboardRow>& rows,
                       const std::string& alias = "best");

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_SWEEP_H_
