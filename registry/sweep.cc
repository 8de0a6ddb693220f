#include "registry/sweep.h"

#include <algorithm>
#include <map>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "registry/table.h"

namespace trainbus::registry {
namespace {

bool HasBadCharacters(const std::string& sweep) {
  return sweep.find_first_of(",\"") != std::string::npos;
}

}  // namespace

std::vector<KeyValues> ExpandGrid(const ParameterGrid& grid) {
  std::vector<KeyValues> points = {KeyValues{}};
  for (const auto& [key, values] : grid) {
    if (values.empty()) continue;
    std::vector<KeyValues> next;
    for (const KeyValues& p : points) {
      for (const std::string& v : values) {
        KeyValues q = p;
        q[key] = v;
        next.push_back(std::move(q));
      }
    }
    points = std::move(next);
  }
  if (points.size() == 1 && points[0].empty()) points.clear();
  return points;
}

std::vector<KeyValues> SampleGrid(const ParameterGrid& grid, int count,
                                  uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<KeyValues> points;
  for (int i = 0; i < count; ++i) {
    KeyValues p;
    for (const auto& [key, values] : grid) {
      if (values.empty()) continue;
      std::uniform_int_distribution<size_t> pick(0, values.size() - 1);
      p[key] = values[pick(rng)];
    }
    points.push_back(std::move(p));
  }
  return points;
}

absl::StatusOr<std::vector<int64_t>> CreateSweepTasks(
    Store& store, const SweepSpec& spec, const std::vector<KeyValues>& points) {
  if (spec.sweep.empty() || HasBadCharacters(spec.sweep)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sweep name '", spec.sweep, "' must be non-empty without ',' or '\"'"));
  }
  std::vector<int64_t> ids;
  for (size_t i = 0; i < points.size(); ++i) {
    TaskSpec task;
    task.project = spec.project;
    task.name = absl::StrCat(spec.sweep, "-", i);
    task.experiment = spec.experiment;
    task.hyperparameters = points[i];
    task.hyperparameters["sweep"] = spec.sweep;
    task.result_keys = spec.result_keys;
    task.max_attempts = spec.max_attempts;
    TB_ASSIGN_OR_RETURN(int64_t id, store.CreateTask(task));
    ids.push_back(id);
  }
  return ids;
}

namespace {

// "a: exited with status 1; b: killed by signal 9 (Killed)".
std::string DescribeRunners(const std::vector<base::Subprocess>& runners) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < runners.size(); ++i) {
    const std::optional<base::ExitStatus>& exit = runners[i].exit_status();
    parts.push_back(absl::StrCat("runner ", i, " (pid ", runners[i].pid(),
                                 ") ", exit ? exit->Describe() : "runs"));
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace

absl::Status WaitForSweep(Store& store, const std::string& sweep,
                          const SweepWaitOptions& options) {
  const absl::Time deadline = absl::Now() + options.timeout;
  std::string last;
  while (true) {
    TB_ASSIGN_OR_RETURN(
        std::vector<Task> tasks,
        store.ListTasks({absl::StrCat("sweep=\"", sweep, "\""), "", 0}));
    std::map<std::string, int> states;
    for (const Task& t : tasks) ++states[std::string(TaskStateName(t.state))];
    std::string line = "tasks:";
    for (const auto& [state, n] : states) absl::StrAppend(&line, " ", state, "=", n);
    if (line != last && options.on_progress) options.on_progress(line);
    last = line;
    const int open = states["pending"] + states["running"];
    if (open == 0) return absl::OkStatus();
    if (options.runners != nullptr && !options.runners->empty()) {
      bool any_running = false;
      for (size_t i = 0; i < options.runners->size(); ++i) {
        base::Subprocess& runner = (*options.runners)[i];
        const bool ended_before = runner.exit_status().has_value();
        std::optional<base::ExitStatus> exit = runner.Poll();
        if (!exit) {
          any_running = true;
        } else if (!ended_before && options.on_progress) {
          options.on_progress(absl::StrCat("runner ", i, " (pid ",
                                           runner.pid(), ") ",
                                           exit->Describe()));
        }
      }
      if (!any_running) {
        return absl::FailedPreconditionError(absl::StrCat(
            "sweep '", sweep, "': every runner process has ended (",
            DescribeRunners(*options.runners), ") with ", open,
            " tasks still open; see the runners' errors above, then run the "
            "sweep again or start `trainbus runner` (open tasks: `trainbus "
            "registry tasks`)"));
      }
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "sweep '", sweep, "' still has ", open,
          " open tasks after ", absl::FormatDuration(options.timeout),
          "; are runners running? (trainbus registry tasks)"));
    }
    absl::SleepFor(options.poll);
  }
}

absl::StatusOr<std::vector<LeaderboardRow>> Leaderboard(
    Store& store, const std::string& sweep, const std::string& metric,
    bool ascending) {
  TB_ASSIGN_OR_RETURN(
      std::vector<Task> tasks,
      store.ListTasks({absl::StrCat("sweep=\"", sweep, "\""), "", 0}));
  std::vector<LeaderboardRow> rows;
  for (const Task& t : tasks) {
    LeaderboardRow row;
    row.task_id = t.id;
    row.task_name = t.name;
    row.state = std::string(TaskStateName(t.state));
    row.hyperparameters = t.hyperparameters;
    row.hyperparameters.erase("sweep");
    auto it = t.results.find(metric);
    if (it != t.results.end()) row.metric = it->second;
    row.project = t.project;
    row.model_name = t.model_name;
    row.model_version = t.model_version;
    if (t.state == TaskState::kFailed) row.error = t.error;
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [ascending](const LeaderboardRow& a,
                               const LeaderboardRow& b) {
                     std::optional<double> x = ParseNumber(a.metric);
                     std::optional<double> y = ParseNumber(b.metric);
                     if (x.has_value() != y.has_value()) return x.has_value();
                     if (!x.has_value()) return false;
                     return ascending ? *x < *y : *x > *y;
                   });
  return rows;
}

void PrintLeaderboard(const std::vector<LeaderboardRow>& rows,
                      const std::string& metric, std::ostream& out) {
  Table table({"RANK", metric, "TASK", "STATE", "MODEL", "HYPERPARAMETERS"});
  for (size_t i = 0; i < rows.size(); ++i) {
    const LeaderboardRow& r = rows[i];
    std::vector<std::string> hp;
    for (const auto& [k, v] : r.hyperparameters) hp.push_back(k + "=" + v);
    table.Add(
        {absl::StrCat(i + 1), r.metric.empty() ? "-" : r.metric, r.task_name,
         r.state,
         r.model_name.empty() ? "-"
                              : absl::StrCat(r.model_name, ":", r.model_version),
         absl::StrJoin(hp, " ")});
  }
  table.Print(out);
  // Reasons are long; they go under the table, one line per failed task.
  for (const LeaderboardRow& r : rows) {
    if (r.state == "failed") {
      out << r.task_name << " failed: "
          << (r.error.empty() ? "(no error recorded)" : r.error) << "\n";
    }
  }
}

absl::Status AliasBest(Store& store, const std::vector<LeaderboardRow>& rows,
                       const std::string& alias) {
  for (const LeaderboardRow& r : rows) {
    if (!r.model_name.empty() && !r.metric.empty()) {
      return store.SetAlias(r.project, r.model_name, alias, r.model_version);
    }
  }
  return absl::NotFoundError(
      "no task of the sweep saved a model with the metric; nothing to alias");
}

}  // namespace trainbus::registry
