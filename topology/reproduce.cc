#include "topology/reproduce.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/command_line.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "base/subprocess.h"

namespace trainbus::topology {
namespace {

constexpr char kUsage[] =
    "usage: trainbus reproduce RUN_ID [--registry_dir=DIR] [--out_dir=DIR]\n"
    "  runs a recorded `trainbus run` again from its manifest (spec text,\n"
    "  flags, seeds) and compares every model's final checkpoint with the\n"
    "  recorded one: bit-identical (exit 0), or the largest weight difference\n"
    "  and the likely cause (exit 1): changed input files, another Highway\n"
    "  target, other package versions, another CPU or source tree.\n"
    "  --registry_dir  the registry holding the run (default:\n"
    "                  $TRAINBUS_REGISTRY_DIR, else\n"
    "                  ~/.local/share/trainbus/registry)\n"
    "  --out_dir       where the replay writes its report and manifest.json\n"
    "                  (default: REGISTRY/replays/run-RUN_ID)\n";

// A replay can train for as long as the original did.
constexpr absl::Duration kReplayTimeout = absl::Hours(48);

// Flags of the recorded run that name its outputs: the replay gets its own.
bool IsOutputFlag(absl::string_view arg) {
  for (absl::string_view name : {"--out_dir", "--report_json",
                                 "--registry_dir", "--jsonl"}) {
    if (arg == name || absl::StartsWith(arg, absl::StrCat(name, "="))) {
      return true;
    }
  }
  return false;
}

std::string ShortSha(absl::string_view sha) {
  return std::string(sha.substr(0, 12));
}

void InputDifferences(const RunManifest& a, const RunManifest& b,
                      std::vector<std::string>* out) {
  std::map<std::string, const InputFile*> replayed;
  for (const InputFile& f : b.inputs) replayed[f.path] = &f;
  for (const InputFile& f : a.inputs) {
    auto it = replayed.find(f.path);
    if (it == replayed.end()) {
      out->push_back(absl::StrCat("input file ", f.path, " (source '",
                                  f.source, "') is gone"));
      continue;
    }
    if (it->second->sha256 != f.sha256) {
      out->push_back(absl::StrCat(
          "changed data: input file ", f.path, " (source '", f.source,
          "') has sha256 ", ShortSha(it->second->sha256), "..., recorded ",
          ShortSha(f.sha256), "..."));
    }
    replayed.erase(it);
  }
  for (const auto& [path, f] : replayed) {
    out->push_back(absl::StrCat("new input file ", path, " (source '",
                                f->source, "')"));
  }
}

void PackageDifferences(const Environment& a, const Environment& b,
                        std::vector<std::string>* out) {
  std::map<std::string, std::string> now;
  for (const PackageVersion& p : b.packages) now[p.name] = p.version;
  for (const PackageVersion& p : a.packages) {
    auto it = now.find(p.name);
    const std::string version =
        it == now.end() ? "not recorded" : it->second;
    if (version != p.version) {
      out->push_back(absl::StrCat("a different package version: ", p.name,
                                  " is ", version, ", recorded ", p.version));
    }
  }
}

void SourceDifferences(const SourceTree& a, const SourceTree& b,
                       std::vector<std::string>* out) {
  if (a.commit != b.commit) {
    out->push_back(absl::StrCat("different code: source commit ", b.commit,
                                ", recorded ", a.commit));
  } else if (a.dirty || b.dirty) {
    out->push_back(absl::StrCat(
        "possibly different code: the source tree at ", a.commit,
        " had uncommitted changes (", a.dirty ? "recorded run" : "",
        a.dirty && b.dirty ? " and " : "", b.dirty ? "replay" : "", ")"));
  }
}

absl::StatusOr<ModelComparison> Compare(registry::Store& store,
                                        const ModelCheckpoint* recorded,
                                        const ModelCheckpoint* replayed) {
  ModelComparison c;
  c.model = recorded ? recorded->model : replayed->model;
  if (recorded == nullptr || replayed == nullptr) {
    c.problem = recorded ? "missing from the replay"
                         : "not in the recorded run (the spec's models "
                           "changed)";
    (recorded ? c.recorded_sha256 : c.replayed_sha256) =
        recorded ? recorded->sha256 : replayed->sha256;
    return c;
  }
  c.recorded_sha256 = recorded->sha256;
  c.replayed_sha256 = replayed->sha256;
  c.identical = recorded->sha256 == replayed->sha256;
  if (c.identical) return c;
  TB_ASSIGN_OR_RETURN(std::string a, store.LoadBlob(recorded->sha256));
  TB_ASSIGN_OR_RETURN(std::string b, store.LoadBlob(replayed->sha256));
  absl::StatusOr<nn::CheckpointDifference> d = nn::CompareCheckpoints(a, b);
  if (!d.ok()) {
    c.problem = std::string(d.status().message());
  } else {
    c.difference = *d;
  }
  return c;
}

absl::StatusOr<std::vector<ModelComparison>> CompareModels(
    registry::Store& store, const RunManifest& recorded,
    const RunManifest& replayed) {
  std::map<std::string, std::pair<const ModelCheckpoint*,
                                  const ModelCheckpoint*>> by_model;
  for (const ModelCheckpoint& c : recorded.checkpoints) {
    by_model[c.model].first = &c;
  }
  for (const ModelCheckpoint& c : replayed.checkpoints) {
    by_model[c.model].second = &c;
  }
  std::vector<ModelComparison> out;
  for (const auto& [model, pair] : by_model) {
    TB_ASSIGN_OR_RETURN(ModelComparison c,
                        Compare(store, pair.first, pair.second));
    out.push_back(std::move(c));
  }
  return out;
}

std::string DescribeModel(const ModelComparison& c) {
  if (c.identical) return absl::StrCat(c.model, ": bit-identical");
  if (!c.problem.empty()) return absl::StrCat(c.model, ": ", c.problem);
  const nn::CheckpointDifference& d = c.difference;
  std::string text = absl::StrFormat(
      "%s: differs, largest weight difference %.6g in %s[%u]", c.model,
      d.max_abs_difference, d.tensor, d.index);
  if (d.steps_a != d.steps_b) {
    absl::StrAppend(&text, " (", d.steps_b, " training steps, recorded ",
                    d.steps_a, ")");
  } else if (d.max_abs_difference == 0) {
    absl::StrAppend(&text, " (equal weights, other bytes differ)");
  }
  return text;
}

}  // namespace

absl::StatusOr<int64_t> ParseRunId(absl::string_view text) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(text, &id) || id <= 0 ||
      absl::StartsWith(text, "+")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "run id '", text,
        "' is not a run number; pass the id `trainbus run` printed (for "
        "example 3; it is also \"run_id\" in the run's manifest.json)"));
  }
  return id;
}

std::vector<std::string> ManifestDifferences(const RunManifest& recorded,
                                             const RunManifest& replayed) {
  std::vector<std::string> out;
  InputDifferences(recorded, replayed, &out);
  const Environment& a = recorded.environment;
  const Environment& b = replayed.environment;
  if (a.highway_target != b.highway_target) {
    out.push_back(absl::StrCat("a different Highway target: ",
                               b.highway_target, ", recorded ",
                               a.highway_target));
  }
  if (!a.kernel_config.empty() && a.kernel_config != b.kernel_config) {
    out.push_back(absl::StrCat("a different GEMM configuration: ",
                               b.kernel_config, ", recorded ",
                               a.kernel_config));
  }
  PackageDifferences(a, b, &out);
  if (a.cpu_model != b.cpu_model) {
    out.push_back(absl::StrCat("a different CPU: ", b.cpu_model,
                               ", recorded ", a.cpu_model));
  }
  SourceDifferences(a.source, b.source, &out);
  if (recorded.seeds != replayed.seeds) {
    out.push_back("different seeds (the recorded flags were not applied)");
  }
  return out;
}

absl::StatusOr<ReproduceReport> Reproduce(registry::Store& store,
                                          int64_t run_id,
                                          const ReplayFn& replay,
                                          const std::string& out_dir) {
  TB_ASSIGN_OR_RETURN(RunManifest recorded, LoadManifest(store, run_id));
  if (recorded.state != registry::RunStateName(registry::RunState::kFinished)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "run ", run_id, " is ", recorded.state,
        recorded.error.empty() ? "" : absl::StrCat(" (", recorded.error, ")"),
        "; only a finished run has final checkpoints to compare"));
  }
  ReplayRequest request{recorded, &store, out_dir};
  absl::StatusOr<RunManifest> replayed = replay(request);
  if (!replayed.ok()) {
    return absl::Status(replayed.status().code(),
                        absl::StrCat("replaying run ", run_id, " failed: ",
                                     replayed.status().message()));
  }
  ReproduceReport report;
  report.run_id = run_id;
  report.replay_run_id = replayed->run_id;
  TB_ASSIGN_OR_RETURN(report.models, CompareModels(store, recorded, *replayed));
  report.bit_identical = !report.models.empty();
  for (const ModelComparison& c : report.models) {
    report.bit_identical = report.bit_identical && c.identical;
  }
  report.differences = ManifestDifferences(recorded, *replayed);
  return report;
}

std::string FormatReproduceReport(const ReproduceReport& r) {
  std::string out = absl::StrCat("run ", r.run_id, " reproduced as run ",
                                 r.replay_run_id, ": ");
  if (r.bit_identical) {
    absl::StrAppend(&out, "bit-identical (", r.models.size(), " model",
                    r.models.size() == 1 ? "" : "s", ")\n");
  } else {
    absl::StrAppend(&out, "final checkpoints differ\n");
  }
  for (const ModelComparison& c : r.models) {
    absl::StrAppend(&out, "  ", DescribeModel(c), "\n");
  }
  if (r.bit_identical) {
    for (const std::string& d : r.differences) {
      absl::StrAppend(&out, "note: ", d, " (the weights are the same)\n");
    }
    return out;
  }
  if (r.differences.empty()) {
    absl::StrAppend(
        &out,
        "likely cause: nothing recorded differs, so the run is not "
        "deterministic: a binding with policy drop_oldest or catch_up, a "
        "rate-limited source or several sources make what each model sees "
        "depend on timing\n");
  }
  for (size_t i = 0; i < r.differences.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "likely cause: " : "also differs: ",
                    r.differences[i], "\n");
  }
  return out;
}

ReplayFn SubprocessReplay(std::string trainbus) {
  return [trainbus](const ReplayRequest& request)
             -> absl::StatusOr<RunManifest> {
    // Absolute paths: `trainbus run` resolves relative ones against the
    // directory `bazel run` was started in, which need not be ours.
    std::error_code ec;
    const std::string out_dir =
        std::filesystem::absolute(request.out_dir, ec).string();
    const std::string registry =
        std::filesystem::absolute(request.store->root(), ec).string();
    const std::string spec_path = absl::StrCat(out_dir, "/spec.yaml");
    TB_RETURN_IF_ERROR(
        base::WriteFileAtomically(spec_path, request.original.spec_text));
    std::vector<std::string> argv = {trainbus, "run", spec_path};
    for (const std::string& arg : request.original.args) {
      if (!IsOutputFlag(arg)) argv.push_back(arg);
    }
    argv.push_back(absl::StrCat("--out_dir=", out_dir));
    // JSON-lines sinks write into the replay's directory, not over the
    // recorded run's files.
    argv.push_back(absl::StrCat("--jsonl=", out_dir, "/replay.jsonl"));
    argv.push_back(absl::StrCat("--registry_dir=", registry));
    TB_ASSIGN_OR_RETURN(base::ProgramRun run,
                        base::RunProgram(argv, kReplayTimeout));
    if (!run.exit.success()) {
      return absl::AbortedError(absl::StrCat("`trainbus run` ",
                                             run.exit.Describe(), ":\n",
                                             run.output));
    }
    TB_ASSIGN_OR_RETURN(
        std::string json,
        base::ReadFile(absl::StrCat(out_dir, "/manifest.json")));
    return ParseManifest(json);
  };
}

namespace {

struct ReproduceCommand {
  bool help = false;
  int64_t run_id = 0;
  registry::StoreOptions store;
  std::string out_dir;
};

absl::StatusOr<ReproduceCommand> ParseReproduceArgs(
    const std::vector<std::string>& args) {
  ReproduceCommand c;
  std::string run_text;
  std::vector<std::string> flag_args;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      c.help = true;
      return c;
    }
    if (!absl::StartsWith(arg, "-") && run_text.empty()) {
      run_text = arg;
      continue;
    }
    flag_args.push_back(arg);
    // "--name value": the value is not the RUN_ID.
    if (absl::StartsWith(arg, "--") && arg.find('=') == std::string::npos &&
        i + 1 < args.size()) {
      flag_args.push_back(args[++i]);
    }
  }
  TB_ASSIGN_OR_RETURN(std::vector<base::LongFlag> flags,
                      base::SplitLongFlags(flag_args));
  for (const base::LongFlag& f : flags) {
    if (f.name == "registry_dir") {
      c.store.root = f.value;
    } else if (f.name == "out_dir") {
      c.out_dir = f.value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", f.name));
    }
  }
  if (run_text.empty()) return absl::InvalidArgumentError("missing RUN_ID");
  TB_ASSIGN_OR_RETURN(c.run_id, ParseRunId(run_text));
  // The registry must exist: a mistyped --registry_dir creates nothing.
  c.store.create_if_missing = false;
  return c;
}

absl::StatusOr<ReproduceReport> OpenAndReproduce(ReproduceCommand c,
                                                 const ReplayFn& replay) {
  TB_ASSIGN_OR_RETURN(std::unique_ptr<registry::Store> store,
                      registry::Store::Open(c.store));
  if (c.out_dir.empty()) {
    c.out_dir = absl::StrCat(store->root(), "/replays/run-", c.run_id);
  }
  TB_RETURN_IF_ERROR(base::CreateDirectories(c.out_dir));
  return Reproduce(*store, c.run_id, replay, c.out_dir);
}

}  // namespace

int ReproduceMain(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err, const ReplayFn& replay) {
  absl::StatusOr<ReproduceCommand> command = ParseReproduceArgs(args);
  if (!command.ok()) {
    err << "trainbus reproduce: " << command.status().message() << "\n"
        << kUsage;
    return 2;
  }
  if (command->help) {
    out << kUsage;
    return 0;
  }
  absl::StatusOr<ReproduceReport> report =
      OpenAndReproduce(*std::move(command), replay);
  if (!report.ok()) {
    err << "trainbus reproduce: " << report.status().message() << "\n";
    return 2;
  }
  out << FormatReproduceReport(*report);
  return report->bit_identical ? 0 : 1;
}

}  // namespace trainbus::topology
