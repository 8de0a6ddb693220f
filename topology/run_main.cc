// `trainbus run` (topology/cli.h): flags onto RunOverrides, the run, the
// summary and the report files.
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/command_line.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "topology/cli.h"
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
    "  --report_json=PATH   write the JSON report there too\n"
    "  --out_dir=DIR        report.json, curves.svg, topology.svg/.dot\n"
    "                       (default /tmp/trainbus/<spec name>; '' for none)\n"
    "  --timeout_s=S        give up (exit 1) after S seconds (0: no limit)\n"
    "  --metrics_every=S    print the bus metrics table every S seconds\n"
    "  --quiet              no banner or progress lines\n";

struct RunCommand {
  RunOverrides overrides;
  ReportFiles files;
  std::optional<std::string> out_dir;
  RunOptions options;
  bool help = false;
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
      base::SplitLongFlags(args, /*switches=*/{"forever", "quiet", "help"});
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

int Run(TopologySpec spec, RunCommand c, std::ostream& out, std::ostream& err) {
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
  absl::StatusOr<RunReport> report = RunSpec(spec, c.options);
  if (!report.ok()) return Fail(err, report.status());
  out << FormatRunReport(*report);
  if (absl::Status s = WriteReportFiles(*report, c.files); !s.ok()) {
    return Fail(err, s);
  }
  if (!c.files.out_dir.empty()) {
    const std::string& dir = c.files.out_dir;
    out << "open in a browser: " << dir << "/curves.svg " << dir
        << "/topology.svg (report: " << dir << "/report.json)\n";
  }
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
  return Run(*std::move(spec), *std::move(command), out, err);
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
