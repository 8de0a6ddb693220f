#include "registry/sweep.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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
    absl::StatusOr<int64_t> id = store.CreateTask(task);
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  return ids;
}

absl::Status WaitForSweep(Store& store, const std::string& sweep,
                          absl::Duration poll, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<std::vector<Task>> tasks =
        store.ListTasks({absl::StrCat("sweep=\"", sweep, "\""), "", 0});
    if (!tasks.ok()) return tasks.status();
    int64_t open = 0;
    for (const Task& t : *tasks) {
      if (t.state == TaskState::kPending || t.state == TaskState::kRunning) {
        ++open;
      }
    }
    if (open == 0) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "sweep '", sweep, "' still has ", open,
          " open tasks; are runners running? (trainbus registry tasks)"));
    }
    absl::SleepFor(poll);
  }
}

absl::StatusOr<std::vector<LeaderboardRow>> Leaderboard(
    Store& store, const std::string& sweep, const std::string& metric,
    bool ascending) {
  absl::StatusOr<std::vector<Task>> tasks =
      store.ListTasks({absl::StrCat("sweep=\"", sweep, "\""), "", 0});
  if (!tasks.ok()) return tasks.status();
  std::vector<LeaderboardRow> rows;
  for (const Task& t : *tasks) {
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
  std::vector<std::vector<std::string>> table = {
      {"RANK", metric, "TASK", "STATE", "MODEL", "HYPERPARAMETERS"}};
  for (size_t i = 0; i < rows.size(); ++i) {
    const LeaderboardRow& r = rows[i];
    std::vector<std::string> hp;
    for (const auto& [k, v] : r.hyperparameters) hp.push_back(k + "=" + v);
    table.push_back(
        {absl::StrCat(i + 1), r.metric.empty() ? "-" : r.metric, r.task_name,
         r.state,
         r.model_name.empty() ? "-"
                              : absl::StrCat(r.model_name, ":", r.model_version),
         absl::StrJoin(hp, " ")});
  }
  std::vector<size_t> width(table[0].size(), 0);
  for (const auto& row : table) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : table) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
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
