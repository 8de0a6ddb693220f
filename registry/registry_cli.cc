#include "registry/registry_cli.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "registry/filter.h"
#include "registry/store.h"
#include "registry/table.h"

namespace trainbus::registry {
namespace {

constexpr char kUsage[] = R"(usage: trainbus registry <command> [flags]

commands:
  ls [models|datasets|logs|tasks]   list records (default: models)
  show <name>[:version|@alias]      one model with all its fields
  show dataset <name>[:version]     one dataset and its files
  show task <id>                    one task
  best [--sort KEY [asc|desc]]      the best model (default: test_accuracy desc)
  tasks                             the task queue: state, attempts, lease, runner
  unfinished                        how many tasks are pending or running
  alias <name> <alias> <version>    point an alias (e.g. production) at a version
  predictions [--run R]             batch inference batches (`trainbus predict`)
  predictions --batch ID            the rows of one batch: input, label, scores
  verify                            check every blob's size and sha256; lists
                                    damaged ones and who uses them (exit 1)
  delete [models|logs] --filter F --yes
                                    delete matching records (never without --yes)

flags:
  --registry_dir DIR  registry directory (default: $TRAINBUS_REGISTRY_DIR, else
                      $XDG_DATA_HOME/trainbus/registry, else
                      ~/.local/share/trainbus/registry)
  --project P         project for show/alias/best (default: "default"; ls and
                      best accept project=P in --filter instead)
  --filter F          e.g. name=mlp,test_accuracy>0.8 (= != < <= > >=)
  --sort S            e.g. "test_accuracy desc" or "time desc"
  --limit N           at most N rows
  --batch ID          predictions: the batch to show
  --run R             predictions: only the batches of run R
  --json              JSON instead of a table
  --yes               confirm a delete
)";

struct Args {
  std::vector<std::string> positional;
  std::string registry_dir;
  std::string project;
  std::string filter;
  std::string sort;
  int64_t limit = 0;
  bool json = false;
  bool yes = false;
  bool help = false;
  // predictions
  int64_t batch = 0;
  std::string run;
};

std::optional<std::string> ParseArgs(const std::vector<std::string>& raw,
                                     Args& args) {
  static const std::set<std::string> kValued = {"registry_dir", "project",
                                                "filter", "sort", "limit",
                                                "batch",        "run"};
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string& a = raw[i];
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      if (a == "-h") {
        args.help = true;
      } else {
        args.positional.push_back(a);
      }
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "json" || name == "yes" || name == "help") {
      if (has_value) return absl::StrCat("--", name, " takes no value");
      (name == "json" ? args.json : name == "yes" ? args.yes : args.help) =
          true;
      continue;
    }
    if (kValued.count(name) == 0) {
      return absl::StrCat("unknown flag --", name, "; see `help`");
    }
    if (!has_value) {
      if (i + 1 >= raw.size()) return absl::StrCat("--", name, " needs a value");
      value = raw[++i];
    }
    if (name == "registry_dir") args.registry_dir = value;
    if (name == "project") args.project = value;
    if (name == "filter") args.filter = value;
    if (name == "sort") args.sort = value;
    if (name == "run") args.run = value;
    if (name == "batch" &&
        (!absl::SimpleAtoi(value, &args.batch) || args.batch <= 0)) {
      return absl::StrCat("--batch wants a batch id >= 1, got '", value, "'");
    }
    if (name == "limit" && (!absl::SimpleAtoi(value, &args.limit) ||
                            args.limit < 0)) {
      return absl::StrCat("--limit wants a number >= 0, got '", value, "'");
    }
  }
  return std::nullopt;
}

// ---- Output helpers --------------------------------------------------------

std::string FormatTime(int64_t ns) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixNanos(ns),
                          absl::UTCTimeZone());
}

using Json = nlohmann::json;

// A value: a JSON number when it reads as one (integers stay integers),
// else a string. "+1" stays a string: it is not how a number is written.
Json JsonValue(const std::string& v) {
  std::optional<double> n = ParseNumber(v);
  if (!n || v.find('+') != std::string::npos || !std::isfinite(*n)) return v;
  if (std::nearbyint(*n) == *n && std::fabs(*n) < 9.0e15) {
    return static_cast<int64_t>(*n);
  }
  return *n;
}

Json JsonKv(const KeyValues& kv) {
  Json out = Json::object();
  for (const auto& [k, v] : kv) out[k] = JsonValue(v);
  return out;
}

// Pretty-printed; bytes that are not UTF-8 become U+FFFD instead of an
// exception.
void PrintJson(const Json& j, std::ostream& out) {
  out << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

template <typename T, typename ToJson>
void PrintJsonList(const std::vector<T>& items, ToJson to_json,
                   std::ostream& out) {
  Json list = Json::array();
  for (const T& item : items) list.push_back(to_json(item));
  PrintJson(list, out);
}

std::string KvSummary(const KeyValues& kv, const std::set<std::string>& skip,
                      size_t max_width = 60) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : kv) {
    if (skip.count(k) == 0) parts.push_back(absl::StrCat(k, "=", v));
  }
  std::string s = absl::StrJoin(parts, " ");
  if (s.size() > max_width) s = s.substr(0, max_width - 3) + "...";
  return s;
}

// Keys named by the sort (and not columns) get their own column.
std::vector<std::string> SortedKvKeys(const std::string& sort,
                                      const std::set<std::string>& columns) {
  std::vector<std::string> keys;
  absl::StatusOr<std::vector<SortKey>> parsed = ParseSort(sort);
  if (!parsed.ok()) return keys;
  for (const SortKey& k : *parsed) {
    if (columns.count(k.key) == 0) keys.push_back(k.key);
  }
  return keys;
}

std::string Get(const KeyValues& kv, const std::string& key) {
  auto it = kv.find(key);
  return it == kv.end() ? "-" : it->second;
}

// ---- Printers --------------------------------------------------------------

Json ModelJson(const ModelRecord& m) {
  return {{"project", m.project},
          {"name", m.name},
          {"version", m.version},
          {"time", FormatTime(m.time_ns)},
          {"arch", m.arch},
          {"checkpoint_sha256", m.checkpoint.sha256},
          {"checkpoint_bytes", m.checkpoint.size},
          {"aliases", m.aliases},
          {"fields", JsonKv(m.kv)}};
}

void PrintModels(const std::vector<ModelRecord>& models, const Args& args,
                 std::ostream& out) {
  if (args.json) return PrintJsonList(models, ModelJson, out);
  std::vector<std::string> extra = SortedKvKeys(
      args.sort, {"id", "project", "name", "version", "time", "arch"});
  std::vector<std::string> header = {"PROJECT", "NAME", "VERSION", "CREATED",
                                     "ARCH"};
  for (const std::string& k : extra) header.push_back(k);
  header.push_back("ALIASES");
  header.push_back("FIELDS");
  Table table(header);
  std::set<std::string> skip(extra.begin(), extra.end());
  for (const ModelRecord& m : models) {
    std::vector<std::string> row = {m.project, m.name, absl::StrCat(m.version),
                                    FormatTime(m.time_ns), m.arch};
    for (const std::string& k : extra) row.push_back(Get(m.kv, k));
    row.push_back(m.aliases.empty() ? "-" : absl::StrJoin(m.aliases, ","));
    row.push_back(KvSummary(m.kv, skip));
    table.Add(row);
  }
  table.Print(out);
}

void PrintModelDetail(const ModelRecord& m, const Args& args,
                      std::ostream& out) {
  if (args.json) return PrintJson(ModelJson(m), out);
  out << "model      " << m.project << "/" << m.name << ":" << m.version
      << "\n";
  out << "created    " << FormatTime(m.time_ns) << " UTC\n";
  out << "arch       " << m.arch << "\n";
  out << "checkpoint " << m.checkpoint.sha256 << " (" << m.checkpoint.size
      << " bytes)\n";
  out << "aliases    "
      << (m.aliases.empty() ? "-" : absl::StrJoin(m.aliases, ", ")) << "\n";
  Table table({"KEY", "VALUE"});
  for (const auto& [k, v] : m.kv) table.Add({k, v});
  table.Print(out);
}

Json DatasetJson(const DatasetRecord& d) {
  Json files = Json::array();
  for (const BlobRef& f : d.files) {
    files.push_back({{"name", f.name}, {"sha256", f.sha256}, {"bytes", f.size}});
  }
  return {{"project", d.project},
          {"name", d.name},
          {"version", d.version},
          {"time", FormatTime(d.time_ns)},
          {"files", std::move(files)},
          {"fields", JsonKv(d.kv)}};
}

void PrintDatasets(const std::vector<DatasetRecord>& sets, const Args& args,
                   std::ostream& out, bool detail) {
  if (args.json) return PrintJsonList(sets, DatasetJson, out);
  Table table({"PROJECT", "NAME", "VERSION", "CREATED", "FILES", "BYTES",
               "FIELDS"});
  for (const DatasetRecord& d : sets) {
    int64_t bytes = 0;
    for (const BlobRef& f : d.files) bytes += f.size;
    table.Add({d.project, d.name, absl::StrCat(d.version),
               FormatTime(d.time_ns), absl::StrCat(d.files.size()),
               absl::StrCat(bytes), KvSummary(d.kv, {})});
  }
  table.Print(out);
  if (detail) {
    for (const DatasetRecord& d : sets) {
      Table files({"FILE", "SHA256", "BYTES"});
      for (const BlobRef& f : d.files) {
        files.Add({f.name, f.sha256, absl::StrCat(f.size)});
      }
      out << "\n";
      files.Print(out);
    }
  }
}

Json LogJson(const LogEntry& e) {
  return {{"id", e.id},
          {"project", e.project},
          {"kind", std::string(LogKindName(e.kind))},
          {"model", e.model},
          {"version", e.model_version},
          {"step", e.step},
          {"time", FormatTime(e.time_ns)},
          {"metrics", JsonKv(e.metrics)}};
}

void PrintLogs(const std::vector<LogEntry>& logs, const Args& args,
               std::ostream& out) {
  if (args.json) return PrintJsonList(logs, LogJson, out);
  Table table({"ID", "KIND", "MODEL", "VERSION", "STEP", "TIME", "METRICS"});
  for (const LogEntry& e : logs) {
    table.Add({absl::StrCat(e.id), std::string(LogKindName(e.kind)), e.model,
               absl::StrCat(e.model_version), absl::StrCat(e.step),
               FormatTime(e.time_ns), KvSummary(e.metrics, {}, 80)});
  }
  table.Print(out);
}

Json TaskJson(const Task& t) {
  return {{"id", t.id},
          {"project", t.project},
          {"name", t.name},
          {"experiment", t.experiment},
          {"state", std::string(TaskStateName(t.state))},
          {"attempts", t.attempts},
          {"max_attempts", t.max_attempts},
          {"runner", t.runner},
          {"lease_expiry",
           t.lease_expiry_ns ? FormatTime(t.lease_expiry_ns) : ""},
          {"created", FormatTime(t.created_ns)},
          {"error", t.error},
          {"hyperparameters", JsonKv(t.hyperparameters)},
          {"results", JsonKv(t.results)},
          {"model", t.model_name.empty()
                        ? ""
                        : absl::StrCat(t.model_name, ":", t.model_version)}};
}

void PrintTasks(const std::vector<Task>& tasks, int64_t now_ns,
                const Args& args, std::ostream& out) {
  if (args.json) return PrintJsonList(tasks, TaskJson, out);
  Table table({"ID", "NAME", "STATE", "ATTEMPTS", "LEASE", "RUNNER",
               "HYPERPARAMETERS", "RESULTS", "MODEL"});
  for (const Task& t : tasks) {
    std::string lease = "-";
    if (t.state == TaskState::kRunning) {
      int64_t left_ms = (t.lease_expiry_ns - now_ns) / 1'000'000;
      lease = left_ms > 0 ? absl::StrCat("expires in ",
                                         FormatNumber((left_ms / 100) / 10.0), "s")
                          : "expired";
    }
    std::string results = KvSummary(t.results, {}, 40);
    if (t.state == TaskState::kFailed && !t.error.empty()) {
      results = absl::StrCat("error: ", t.error.substr(0, 50));
    }
    table.Add({absl::StrCat(t.id), t.name, std::string(TaskStateName(t.state)),
               absl::StrCat(t.attempts, "/", t.max_attempts), lease,
               t.runner.empty() ? "-" : t.runner,
               KvSummary(t.hyperparameters, {}, 40),
               results.empty() ? "-" : results,
               t.model_name.empty()
                   ? "-"
                   : absl::StrCat(t.model_name, ":", t.model_version)});
  }
  table.Print(out);
}

// ---- Commands --------------------------------------------------------------

int Fail(std::ostream& err, const absl::Status& s) {
  err << "trainbus registry: " << s.message() << "\n";
  return 1;
}

// Prints the value with `print` (exit code 0), or the error (1).
template <typename T, typename Print>
int PrintOrFail(const absl::StatusOr<T>& got, std::ostream& err, Print print) {
  if (!got.ok()) return Fail(err, got.status());
  print(*got);
  return 0;
}

int Usage(std::ostream& err, absl::string_view message) {
  err << "trainbus registry: " << message << "\n"
      << "run `trainbus registry help` for usage\n";
  return 2;
}

// "name:3" -> ("name", 3); "name" -> ("name", 0).
std::optional<std::pair<std::string, int64_t>> SplitVersion(
    const std::string& ref) {
  size_t colon = ref.find(':');
  if (colon == std::string::npos) return std::make_pair(ref, int64_t{0});
  int64_t v = 0;
  if (!absl::SimpleAtoi(ref.substr(colon + 1), &v) || v <= 0) {
    return std::nullopt;
  }
  return std::make_pair(ref.substr(0, colon), v);
}

int Ls(Store& store, const Args& args, std::ostream& out, std::ostream& err) {
  std::string what =
      args.positional.size() > 1 ? args.positional[1] : std::string("models");
  Query query{args.filter, args.sort, args.limit};
  if (what == "models" || what == "model") {
    return PrintOrFail(store.FindModels(query), err,
                       [&](const auto& v) { PrintModels(v, args, out); });
  } else if (what == "datasets" || what == "dataset") {
    return PrintOrFail(store.FindDatasets(query), err, [&](const auto& v) {
      PrintDatasets(v, args, out, false);
    });
  } else if (what == "logs" || what == "log") {
    return PrintOrFail(store.QueryLogs(query), err,
                       [&](const auto& v) { PrintLogs(v, args, out); });
  } else if (what == "tasks" || what == "task") {
    return PrintOrFail(store.ListTasks(query), err, [&](const auto& v) {
      PrintTasks(v, store.NowNanos(), args, out);
    });
  } else {
    return Usage(err, absl::StrCat("ls: unknown kind '", what,
                                   "'; use models, datasets, logs or tasks"));
  }
  return 0;
}

int Show(Store& store, const Args& args, std::ostream& out, std::ostream& err) {
  const std::vector<std::string>& p = args.positional;
  if (p.size() == 3 && p[1] == "dataset") {
    std::optional<std::pair<std::string, int64_t>> ref = SplitVersion(p[2]);
    if (!ref) return Usage(err, "show dataset <name>[:version]");
    absl::StatusOr<DatasetRecord> d =
        store.FindDataset(args.project, ref->first, ref->second);
    if (!d.ok()) return Fail(err, d.status());
    PrintDatasets({*d}, args, out, true);
    return 0;
  }
  if (p.size() == 3 && p[1] == "task") {
    int64_t id = 0;
    if (!absl::SimpleAtoi(p[2], &id)) return Usage(err, "show task <id>");
    absl::StatusOr<Task> t = store.GetTask(id);
    if (!t.ok()) return Fail(err, t.status());
    if (args.json) {
      PrintJson(TaskJson(*t), out);
    } else {
      PrintTasks({*t}, store.NowNanos(), args, out);
      if (!t->error.empty()) out << "error: " << t->error << "\n";
    }
    return 0;
  }
  if (p.size() != 2) {
    return Usage(err, "show <name>[:version|@alias] | show dataset <name> | "
                      "show task <id>");
  }
  absl::StatusOr<ModelRecord> m = store.GetModelByRef(args.project, p[1]);
  if (!m.ok()) return Fail(err, m.status());
  PrintModelDetail(*m, args, out);
  return 0;
}

int Best(Store& store, const Args& args, std::ostream& out, std::ostream& err) {
  std::string sort = args.sort.empty() ? "test_accuracy" : args.sort;
  // A bare key ranks from the highest value down.
  absl::StatusOr<std::vector<SortKey>> keys = ParseSort(sort);
  if (!keys.ok()) return Fail(err, keys.status());
  if (keys->size() == 1 && sort.find(' ') == std::string::npos) {
    sort += " desc";
  }
  std::string filter = args.filter;
  if (!args.project.empty()) {
    filter = filter.empty() ? absl::StrCat("project=", args.project)
                            : absl::StrCat(filter, ",project=", args.project);
  }
  // Only models that have the key can win.
  std::string key = (*keys)[0].key;
  static const std::set<std::string> kColumns = {"id",   "project", "name",
                                                 "version", "time", "arch"};
  if (kColumns.count(key) == 0) {
    std::string has = absl::StrCat(key, ">=-1e308");
    filter = filter.empty() ? has : absl::StrCat(filter, ",", has);
  }
  absl::StatusOr<std::vector<ModelRecord>> models =
      store.FindModels({filter, sort, args.limit > 0 ? args.limit : 1});
  if (!models.ok()) return Fail(err, models.status());
  if (models->empty()) {
    err << "trainbus registry: no model has a numeric '" << key
        << "'; list models with `trainbus registry ls models`\n";
    return 1;
  }
  if (models->size() == 1) {
    PrintModelDetail((*models)[0], args, out);
  } else {
    Args a = args;
    a.sort = sort;
    PrintModels(*models, a, out);
  }
  return 0;
}

int Alias(Store& store, const Args& args, std::ostream& out,
          std::ostream& err) {
  const std::vector<std::string>& p = args.positional;
  int64_t version = 0;
  if (p.size() != 4 || !absl::SimpleAtoi(p[3], &version)) {
    return Usage(err, "alias <name> <alias> <version>");
  }
  absl::Status s = store.SetAlias(args.project, p[1], p[2], version);
  if (!s.ok()) return Fail(err, s);
  out << p[1] << "@" << p[2] << " -> version " << version << "\n";
  return 0;
}

int Delete(Store& store, const Args& args, std::ostream& out,
           std::ostream& err) {
  std::string what =
      args.positional.size() > 1 ? args.positional[1] : std::string("models");
  if (what != "models" && what != "logs") {
    return Usage(err, "delete [models|logs] --filter F --yes");
  }
  if (args.filter.empty()) {
    return Usage(err, "delete needs --filter (e.g. --filter name=mlp,version<3)");
  }
  if (!args.yes) {
    size_t count = 0;
    if (what == "models") {
      absl::StatusOr<std::vector<ModelRecord>> found =
          store.FindModels({args.filter, "", 0});
      if (!found.ok()) return Fail(err, found.status());
      count = found->size();
    } else {
      absl::StatusOr<std::vector<LogEntry>> found =
          store.QueryLogs({args.filter, "", 0});
      if (!found.ok()) return Fail(err, found.status());
      count = found->size();
    }
    err << "trainbus registry: would delete " << count << " " << what
        << "; add --yes to delete them\n";
    return 1;
  }
  absl::StatusOr<int64_t> n = what == "models"
                                  ? store.DeleteModels(args.filter)
                                  : store.DeleteLogs(args.filter);
  if (!n.ok()) return Fail(err, n.status());
  out << "deleted " << *n << " " << what << "\n";
  return 0;
}

int Verify(Store& store, const Args& args, std::ostream& out,
           std::ostream& err) {
  absl::StatusOr<BlobReport> report = store.VerifyBlobs();
  if (!report.ok()) return Fail(err, report.status());
  if (args.json) {
    Json problems = Json::array();
    for (const BlobProblem& p : report->problems) {
      problems.push_back({{"sha256", p.sha256},
                          {"expected_bytes", p.expected_size},
                          {"problem", p.problem},
                          {"owners", p.owners}});
    }
    PrintJson({{"blobs_checked", report->blobs_checked},
               {"bytes_checked", report->bytes_checked},
               {"problems", std::move(problems)}},
              out);
  } else {
    out << "checked " << report->blobs_checked << " blobs ("
        << report->bytes_checked << " bytes) in " << store.root() << "\n";
    for (const BlobProblem& p : report->problems) {
      out << "BAD " << p.sha256 << ", used by " << absl::StrJoin(p.owners, ", ")
          << ":\n    " << p.problem << "\n";
    }
  }
  if (report->problems.empty()) {
    if (!args.json) out << "all blobs intact\n";
    return 0;
  }
  err << "trainbus registry: " << report->problems.size() << " of "
      << report->blobs_checked
      << " blobs are missing or damaged; restore them from backup, or delete "
         "the records that use them (`trainbus registry delete --filter "
         "name=... --yes`)\n";
  return 1;
}

// ---- Predictions -----------------------------------------------------------

Json BatchJson(const PredictionBatch& b) {
  return {{"batch", b.id},
          {"run", b.run},
          {"project", b.project},
          {"model", b.model},
          {"version", b.model_version},
          {"time", FormatTime(b.time_ns)},
          {"rows", b.rows},
          {"errors", b.errors}};
}

// The scores as stored (a JSON array); an unreadable one stays text.
Json ScoresJson(const std::string& scores) {
  Json parsed = Json::parse(scores, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? Json(scores) : parsed;
}

int Predictions(Store& store, const Args& args, std::ostream& out,
                std::ostream& err) {
  if (args.batch == 0) {
    return PrintOrFail(
        store.ListPredictionBatches(args.run, args.limit), err,
        [&](const std::vector<PredictionBatch>& batches) {
          if (args.json) return PrintJsonList(batches, BatchJson, out);
          Table table({"BATCH", "RUN", "MODEL", "VERSION", "TIME", "ROWS",
                       "ERRORS"});
          for (const PredictionBatch& b : batches) {
            table.Add({absl::StrCat(b.id), b.run,
                       absl::StrCat(b.project, "/", b.model),
                       absl::StrCat(b.model_version), FormatTime(b.time_ns),
                       absl::StrCat(b.rows), absl::StrCat(b.errors)});
          }
          table.Print(out);
        });
  }
  absl::StatusOr<PredictionBatch> batch = store.GetPredictionBatch(args.batch);
  if (!batch.ok()) return Fail(err, batch.status());
  absl::StatusOr<std::vector<PredictionRow>> rows =
      store.GetPredictions(args.batch);
  if (!rows.ok()) return Fail(err, rows.status());
  if (args.json) {
    Json list = Json::array();
    for (const PredictionRow& r : *rows) {
      list.push_back({{"id", r.id},
                      {"input", r.input},
                      {"label", r.label},
                      {"scores", ScoresJson(r.scores)},
                      {"error", r.error}});
    }
    Json j = BatchJson(*batch);
    j["predictions"] = std::move(list);
    PrintJson(j, out);
    return 0;
  }
  out << "batch " << batch->id << " of run " << batch->run << ": "
      << batch->project << "/" << batch->model << ":" << batch->model_version
      << ", " << batch->rows << " rows (" << batch->errors << " errors), "
      << FormatTime(batch->time_ns) << " UTC\n";
  Table table({"ID", "INPUT", "LABEL", "SCORE", "ERROR"});
  for (const PredictionRow& r : *rows) {
    std::string score = "-";
    Json scores = ScoresJson(r.scores);
    if (r.error.empty() && scores.is_array() && r.label >= 0 &&
        static_cast<size_t>(r.label) < scores.size() &&
        scores[r.label].is_number()) {
      score = FormatNumber(scores[r.label].get<double>());
    }
    table.Add({absl::StrCat(r.id), r.input,
               r.error.empty() ? absl::StrCat(r.label) : "-", score,
               r.error.empty() ? "-" : r.error});
  }
  table.Print(out);
  return 0;
}

}  // namespace

int RunRegistryCli(const std::vector<std::string>& raw, std::ostream& out,
                   std::ostream& err) {
  Args args;
  if (std::optional<std::string> problem = ParseArgs(raw, args)) {
    return Usage(err, *problem);
  }
  // `help` anywhere ("ls help", "help ls") asks for usage, like --help.
  const bool help_word =
      std::find(args.positional.begin(), args.positional.end(), "help") !=
      args.positional.end();
  if (args.help || help_word || args.positional.empty()) {
    out << kUsage;
    return args.positional.empty() && !args.help ? 2 : 0;
  }
  const std::string& command = args.positional[0];
  static const std::set<std::string> kCommands = {
      "ls",         "show",  "best",   "tasks",
      "unfinished", "alias", "delete", "verify", "predictions"};
  if (kCommands.count(command) == 0) {
    return Usage(err, absl::StrCat("unknown command '", command, "'"));
  }
  StoreOptions options;
  options.root = args.registry_dir;
  // Only alias and a confirmed delete write. Every command needs an
  // existing registry: a mistyped --registry_dir must not create one.
  options.read_only = !(command == "alias" || (command == "delete" && args.yes));
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store.ok()) return Fail(err, store.status());
  if (command == "verify") return Verify(**store, args, out, err);
  if (command == "ls") return Ls(**store, args, out, err);
  if (command == "show") return Show(**store, args, out, err);
  if (command == "best") return Best(**store, args, out, err);
  if (command == "alias") return Alias(**store, args, out, err);
  if (command == "delete") return Delete(**store, args, out, err);
  if (command == "predictions") return Predictions(**store, args, out, err);
  if (command == "tasks") {
    Args a = args;
    a.positional = {"ls", "tasks"};
    return Ls(**store, a, out, err);
  }
  // unfinished
  absl::StatusOr<int64_t> n = (*store)->CheckUnfinished();
  if (!n.ok()) return Fail(err, n.status());
  if (args.json) {
    PrintJson({{"unfinished", *n}}, out);
  } else {
    out << *n << "\n";
  }
  return 0;
}

}  // namespace trainbus::registry
