// `trainbus run` (topology/cli.h): flags onto RunOverrides, the run, the
// summary and the report files.
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "actors/population/run_hook.h"
#include "base/command_line.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "topology/cli.h"
#include "topology/dashboard.h"
#include "topology/manifest.h"
#include "topology/run_report.h"
#include "topology/runner.h"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

constexpr char kRunUsage[] =
    "usage: trainbus run SPEC [flags]\n"
    "  runs a topology spec (YAML or JSON) in this process: declares its\n"
    "  resources and bindings, starts its consumers, model actors and\n"
    "  sources, waits for every model to finish, prints a summary and writes\n"
    "  the report. Flags override the spec:\n"
    "  --data_dir=DIR       every source's and the evaluation's IDX files\n"
    "  --epochs=N           passes of the idx sources (at least 1)\n"
    "  --forever            stream until stopped (no report)\n"
    "  --models='a;b'       replace the models ('softmax:lr=0.01;m2=mlp'),\n"
    "                       each fed and published like the spec's first\n"
    "  --train_limit=N      first N training samples (0: all)\n"
    "  --test_limit=N       first N held-out samples (0: all; --eval_limit)\n"
    "  --eval_every=N       training steps between evaluations\n"
    "  --eval_subset=N      held-out samples per periodic evaluation (0: all)\n"
    "  --seed=N             shuffle seed; shifts model initialisation by N-1\n"
    "  --policy=P           bindings into models: block, drop_oldest, "
    "catch_up\n"
    "  --train_policy=P --live_policy=P   only the labelled / unlabelled ones\n"
    "  --max_queue=N        queue bound of every resource and binding\n"
    "  --replay_rate=R --replay_limit=N   test_replay sources\n"
    "  --image_rate=R --image_dir=DIR     image_dir sources (DIR: no export)\n"
    "  --export_dir=DIR --export_images=N --export_broken=N\n"
    "                       image_dir sources: export test images there first\n"
    "  --print_every=N      console consumers: every Nth prediction (0: none)\n"
    "  --jsonl=PATH         jsonl consumers' file ('' drops them)\n"
    "  --amqp_url=URL       the amqp: section's broker (amqp://U:P@HOST:PORT/V)\n"
    "  --report_json=PATH   write the JSON report there too\n"
    "  --out_dir=DIR        report.json, curves.svg, topology.svg/.dot\n"
    "                       (default /tmp/trainbus/<spec name>; '' for none)\n"
    "  --timeout_s=S        give up (exit 1) after S seconds (0: no limit)\n"
    "  --registry_dir=DIR   record the run's manifest there (default: the\n"
    "                       spec's registry dir, else the default registry);\n"
    "                       `trainbus reproduce RUN_ID` re-runs it\n"
    "  --metrics_every=S    print the bus metrics table every S seconds\n"
    "  --quiet              no banner or progress lines\n"
    "  --no_population      ignore the spec's population: (train every\n"
    "                       model to the end, e.g. to compare)\n"
    "  --dashboard=[HOST]:PORT  serve the dashboard and the gateway's API\n"
    "                       (gateway/README.md) while the run goes; HOST\n"
    "                       defaults to 127.0.0.1, PORT 0 picks a free one\n"
    "  --dashboard_hold     keep serving it after the run until SIGINT/SIGTERM\n"
    "  --auth_token=T       the gateway then needs 'Authorization: Bearer T'\n"
    "                       (default: the spec's auth: token)\n";

struct RunCommand {
  RunOverrides overrides;
  ReportFiles files;
  std::optional<std::string> out_dir;
  std::optional<std::string> registry_dir;  // where the manifest goes
  RunOptions options;
  bool help = false;
  bool no_population = false;
  std::optional<std::string> dashboard;  // --dashboard=[HOST]:PORT
  bool dashboard_hold = false;
  std::optional<std::string> auth_token;
};

template <class T>
absl::Status ParseNumber(const base::LongFlag& f, std::optional<T>* out) {
  T value{};
  bool ok;
  if constexpr (std::is_floating_point_v<T>) {
    ok = absl::SimpleAtod(f.value, &value) && value >= 0;
  } else {
    ok = absl::SimpleAtoi(f.value, &value);
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", f.name, "='", f.value, "' is not a non-negative number"));
  }
  *out = value;
  return absl::OkStatus();
}

// Every flag, by name: what it sets. A table, so that a flag is one line.
using FlagFn = std::function<absl::Status(const base::LongFlag&, RunCommand*)>;

template <class T>
FlagFn Number(std::optional<T> RunOverrides::*field) {
  return [field](const base::LongFlag& f, RunCommand* c) {
    return ParseNumber(f, &(c->overrides.*field));
  };
}

FlagFn Seconds(double RunOptions::*field) {
  return [field](const base::LongFlag& f, RunCommand* c) {
    std::optional<double> seconds;
    TB_RETURN_IF_ERROR(ParseNumber(f, &seconds));
    c->options.*field = *seconds;
    return absl::OkStatus();
  };
}

FlagFn Text(std::optional<std::string> RunOverrides::*field) {
  return [field](const base::LongFlag& f, RunCommand* c) {
    c->overrides.*field = f.value;
    return absl::OkStatus();
  };
}

const std::map<std::string, FlagFn>& Flags() {
  static const auto* flags = new std::map<std::string, FlagFn>{
      {"data_dir", Text(&RunOverrides::data_dir)},
      {"models", Text(&RunOverrides::models)},
      {"policy", Text(&RunOverrides::policy)},
      {"train_policy", Text(&RunOverrides::train_policy)},
      {"live_policy", Text(&RunOverrides::live_policy)},
      {"image_dir", Text(&RunOverrides::image_dir)},
      {"export_dir", Text(&RunOverrides::export_dir)},
      {"jsonl", Text(&RunOverrides::jsonl)},
      {"amqp_url", Text(&RunOverrides::amqp_url)},
      {"epochs", Number(&RunOverrides::epochs)},
      {"train_limit", Number(&RunOverrides::train_limit)},
      {"test_limit", Number(&RunOverrides::test_limit)},
      {"eval_limit", Number(&RunOverrides::test_limit)},
      {"eval_every", Number(&RunOverrides::eval_every)},
      {"eval_subset", Number(&RunOverrides::eval_subset)},
      {"seed", Number(&RunOverrides::seed)},
      {"max_queue", Number(&RunOverrides::max_queue)},
      {"replay_rate", Number(&RunOverrides::replay_rate)},
      {"replay_limit", Number(&RunOverrides::replay_limit)},
      {"image_rate", Number(&RunOverrides::image_rate)},
      {"export_images", Number(&RunOverrides::export_images)},
      {"export_broken", Number(&RunOverrides::export_broken)},
      {"print_every", Number(&RunOverrides::print_every)},
      {"help",
       [](const base::LongFlag&, RunCommand* c) {
         c->help = true;
         return absl::OkStatus();
       }},
      {"forever",
       [](const base::LongFlag&, RunCommand* c) {
         c->overrides.forever = true;
         return absl::OkStatus();
       }},
      {"quiet",
       [](const base::LongFlag&, RunCommand* c) {
         c->options.print = false;
         return absl::OkStatus();
       }},
      {"no_population",
       [](const base::LongFlag&, RunCommand* c) {
         c->no_population = true;
         return absl::OkStatus();
       }},
      {"report_json",
       [](const base::LongFlag& f, RunCommand* c) {
         c->files.report_json = f.value;
         return absl::OkStatus();
       }},
      {"out_dir",
       [](const base::LongFlag& f, RunCommand* c) {
         c->out_dir = f.value;
         return absl::OkStatus();
       }},
      {"registry_dir",  // where the run's manifest is recorded
       [](const base::LongFlag& f, RunCommand* c) {
         c->registry_dir = f.value;
         return absl::OkStatus();
       }},
      {"dashboard",
       [](const base::LongFlag& f, RunCommand* c) {
         c->dashboard = f.value;
         return absl::OkStatus();
       }},
      {"dashboard_hold",
       [](const base::LongFlag&, RunCommand* c) {
         c->dashboard_hold = true;
         return absl::OkStatus();
       }},
      {"auth_token",
       [](const base::LongFlag& f, RunCommand* c) {
         c->auth_token = f.value;
         return absl::OkStatus();
       }},
      {"timeout_s", Seconds(&RunOptions::timeout_s)},
      {"metrics_every", Seconds(&RunOptions::metrics_every_s)},
  };
  return *flags;
}

absl::Status ApplyFlag(const base::LongFlag& f, RunCommand* c) {
  // production_routing's name for it.
  const std::string name = f.name == "timeout" ? "timeout_s" : f.name;
  auto it = Flags().find(name);
  if (it == Flags().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown flag '--", f.name, "'; see trainbus run --help"));
  }
  return it->second(f, c);
}

absl::StatusOr<RunCommand> ParseRunFlags(const std::vector<std::string>& args) {
  absl::StatusOr<std::vector<base::LongFlag>> flags =
      base::SplitLongFlags(
          args, /*switches=*/{"forever", "quiet", "help", "no_population",
                         "dashboard_hold"});
  if (!flags.ok()) return flags.status();
  RunCommand c;
  for (const base::LongFlag& f : *flags) {
    if (absl::Status s = ApplyFlag(f, &c); !s.ok()) return s;
  }
  return c;
}

// Prints "trainbus run: message" and returns the exit code for it: 2 for
// bad input, 1 for anything else.
int Fail(std::ostream& err, const absl::Status& status) {
  err << "trainbus run: " << status.message() << "\n";
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

// Begins the run's manifest (topology/manifest.h) in --registry_dir, else
// the spec's registry, else the default one. Only a registry that was named
// and cannot be used stops the run; otherwise the run goes on unrecorded.
absl::StatusOr<std::optional<RunRecorder>> StartManifest(
    const TopologySpec& spec, const RunCommand& c, RunStart start,
    std::ostream& err) {
  const bool named = c.registry_dir.has_value() || spec.registry.has_value();
  const std::string dir = c.registry_dir.value_or(
      spec.registry ? spec.registry->dir : std::string());
  start.spec = &spec;
  absl::StatusOr<RunRecorder> recorder = RunRecorder::Open(dir, std::move(start));
  if (recorder.ok()) return std::optional<RunRecorder>(*std::move(recorder));
  if (named) return recorder.status();
  err << "trainbus run: warning: no run manifest recorded: "
      << recorder.status().message() << "; pass --registry_dir\n";
  return std::optional<RunRecorder>();
}

// Records how the run ended; a manifest that cannot be saved is a warning.
// Returns the line that tells how to reproduce the run, or "".
std::string FinishManifest(std::optional<RunRecorder>& recorder,
                           const absl::StatusOr<RunReport>& report,
                           const std::string& out_dir, std::ostream& err) {
  if (!recorder.has_value()) return "";
  absl::Status saved;
  if (!report.ok()) {
    saved = recorder->Fail(report.status().message(), out_dir);
  } else {
    std::vector<std::pair<std::string, std::string>> checkpoints;
    for (const actors::ModelSummary& m : report->models) {
      if (!m.checkpoint.empty()) checkpoints.push_back({m.name, m.checkpoint});
    }
    saved = recorder->Finish(checkpoints, out_dir).status();
  }
  if (!saved.ok()) {
    err << "trainbus run: warning: the run manifest was not saved: "
        << saved.message() << "\n";
    return "";
  }
  return absl::StrCat("run ", recorder->run_id(), " recorded in ",
                      recorder->registry_root(), " (trainbus reproduce ",
                      recorder->run_id(), " --registry_dir=",
                      recorder->registry_root(), ")\n");
}

// --dashboard: the gateway, listening before the run starts, its hooks in
// c->options. Null without the flag.
absl::StatusOr<std::unique_ptr<RunDashboard>> StartDashboard(
    const TopologySpec& spec, RunCommand& c, std::ostream& out) {
  if (!c.dashboard) return nullptr;
  TB_ASSIGN_OR_RETURN(
      std::unique_ptr<RunDashboard> dashboard,
      RunDashboard::Start(spec, DashboardOptionsFor(spec, *c.dashboard,
                                                    c.auth_token,
                                                    c.registry_dir)));
  dashboard->Attach(&c.options.hooks);
  out << "dashboard: " << dashboard->url() << std::endl;
  return dashboard;
}

int Run(TopologySpec spec, RunCommand c, RunStart start, std::ostream& out,
        std::ostream& err) {
  if (absl::Status s = ApplyOverrides(c.overrides, &spec); !s.ok()) {
    return Fail(err, s);
  }
  c.files.out_dir = c.out_dir.value_or(
      spec.name.empty() ? "" : absl::StrCat("/tmp/trainbus/", spec.name));
  if (c.overrides.forever) {
    if (!c.files.report_json.empty()) {
      return Fail(err, absl::InvalidArgumentError(
                           "--report_json needs a run that ends; drop "
                           "--forever or --report_json"));
    }
    c.files.out_dir.clear();  // nothing to write at the end
  }
  // Results that cannot be written are found out now, not after training.
  if (absl::Status s = CheckReportFiles(c.files); !s.ok()) return Fail(err, s);
  if (c.no_population) spec.population.reset();
  auto population = std::make_shared<actors::PopulationResult>();
  if (spec.population) {
    c.options.hooks.after_build =
        actors::PopulationHook(spec, c.options.print, population);
  }
  absl::StatusOr<std::unique_ptr<RunDashboard>> dashboard =
      StartDashboard(spec, c, out);
  if (!dashboard.ok()) return Fail(err, dashboard.status());
  absl::StatusOr<std::optional<RunRecorder>> recorder =
      StartManifest(spec, c, std::move(start), err);
  if (!recorder.ok()) return Fail(err, recorder.status());
  absl::StatusOr<RunReport> report = RunSpec(spec, c.options);
  if (*dashboard) (*dashboard)->Finish(report);
  const std::string recorded =
      FinishManifest(*recorder, report, c.files.out_dir, err);
  if (!report.ok()) {
    const int code = Fail(err, report.status());
    if (c.dashboard_hold && *dashboard) (*dashboard)->HoldUntilSignal(out);
    return code;
  }
  // The run's actor system is gone: the controller has finished writing.
  if (spec.population) report->population = population->fates;
  out << FormatRunReport(*report);
  if (absl::Status s = WriteReportFiles(spec, *report, c.files); !s.ok()) {
    return Fail(err, s);
  }
  if (!c.files.out_dir.empty()) {
    const std::string& dir = c.files.out_dir;
    out << "open in a browser: " << dir << "/curves.svg " << dir
        << "/topology.svg (report: " << dir << "/report.json)\n";
  }
  out << recorded;
  if (c.dashboard_hold && *dashboard) (*dashboard)->HoldUntilSignal(out);
  for (const auto& m : report->models) {
    if (!m.error.empty()) return 1;
  }
  return 0;
}

}  // namespace

absl::Status ApplyRunFlags(const std::vector<std::string>& args,
                           TopologySpec* spec) {
  TB_ASSIGN_OR_RETURN(RunCommand command, ParseRunFlags(args));
  return ApplyOverrides(command.overrides, spec);
}

int RunSpecTextMain(absl::string_view origin, absl::string_view text,
                    const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err) {
  absl::StatusOr<RunCommand> command = ParseRunFlags(args);
  if (!command.ok()) {
    err << "trainbus run: " << command.status().message() << "\n" << kRunUsage;
    return 2;
  }
  if (command->help) {
    out << kRunUsage;
    return 0;
  }
  absl::StatusOr<TopologySpec> spec = ParseSpec(text, origin);
  if (!spec.ok()) {
    err << spec.status().message() << "\n";
    return 2;
  }
  RunStart start;
  start.spec_text = std::string(text);
  start.spec_origin = std::string(origin);
  start.args = args;
  return Run(*std::move(spec), *std::move(command), std::move(start), out,
             err);
}

int RunMain(const std::vector<std::string>& args, std::ostream& out,
            std::ostream& err) {
  if (!args.empty() &&
      (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    out << kRunUsage;
    return 0;
  }
  if (args.empty() || args[0].rfind("-", 0) == 0) {
    err << "trainbus run: missing SPEC (the first argument)\n" << kRunUsage;
    return 2;
  }
  absl::StatusOr<std::string> text = base::ReadFile(UserPath(args[0]));
  if (!text.ok()) {
    err << "trainbus run: " << text.status().message() << "\n";
    return 1;
  }
  return RunSpecTextMain(args[0], *text,
                         std::vector<std::string>(args.begin() + 1, args.end()),
                         out, err);
}

}  // namespace trainbus::topology
