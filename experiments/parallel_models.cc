// bazel run //experiments:parallel_models -- [--epochs=1] [--models=...]
//
// Several models train side by side on one Fashion-MNIST stream; each prints
// its accuracy every --eval_every steps, and a summary table closes the run.
// Curves (SVG), the topology (Graphviz) and a JSON report land in --out_dir.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "actors/topology/flags.h"
#include "actors/topology/parallel_models.h"

ABSL_FLAG(uint64_t, epochs, 1,
          "passes over the training split (at least 1; see --forever)");
ABSL_FLAG(bool, forever, false,
          "stream the training split again and again until the process is "
          "stopped; prints progress but writes no summary or report");
ABSL_FLAG(uint32_t, eval_every, 100, "training steps between reports");
ABSL_FLAG(uint32_t, eval_subset, 1000,
          "held-out samples per periodic report (0: all); the final "
          "evaluation always uses the whole test split");
ABSL_FLAG(uint64_t, train_limit, 0, "use only the first N training samples");
ABSL_FLAG(uint64_t, test_limit, 0, "use only the first N test samples");
ABSL_FLAG(std::string, policy, "block",
          "backpressure of the mnist->model bindings: block, drop_oldest");
ABSL_FLAG(double, timeout_s, 24 * 3600,
          "give up (and exit 1) when the models have not all finished after "
          "this many seconds (0: no limit; --forever has none)");
ABSL_FLAG(std::string, report_json, "",
          "write the JSON report here (its directory is created; checked "
          "before training starts)");
ABSL_FLAG(std::string, out_dir, "/tmp/trainbus/parallel_models",
          "where curves.svg, topology.svg/.dot and report.json go ('' for "
          "none; created and checked before training starts)");

namespace ta = trainbus::actors;

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Trains several models in parallel on one data stream.\n"
      "  bazel run //experiments:parallel_models -- --epochs=1");
  absl::ParseCommandLine(argc, argv);
  constexpr char kProgram[] = "parallel_models";
  ta::ParallelModelsConfig config;
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (absl::Status s = ta::ReadModelsFlag(&config.models); !s.ok()) {
    return ta::ReportFailure(kProgram, s);
  }
  config.epochs = absl::GetFlag(FLAGS_epochs);
  config.forever = absl::GetFlag(FLAGS_forever);
  config.eval_every = absl::GetFlag(FLAGS_eval_every);
  config.eval_subset = absl::GetFlag(FLAGS_eval_subset);
  config.seed = absl::GetFlag(FLAGS_seed);
  config.train_limit = absl::GetFlag(FLAGS_train_limit);
  config.test_limit = absl::GetFlag(FLAGS_test_limit);
  config.policy = absl::GetFlag(FLAGS_policy);
  config.timeout_s = absl::GetFlag(FLAGS_timeout_s);
  ta::ReportFiles files;
  files.report_json = absl::GetFlag(FLAGS_report_json);
  files.out_dir = absl::GetFlag(FLAGS_out_dir);
  if (config.forever && !files.report_json.empty()) {
    return ta::ReportFailure(
        kProgram, absl::InvalidArgumentError(
                      "--report_json needs a run that ends; drop --forever "
                      "or --report_json"));
  }
  if (config.forever) files.out_dir.clear();  // nothing to write at the end
  // Results that cannot be written are found out now, not after training.
  if (absl::Status s = ta::CheckReportFiles(files); !s.ok()) {
    return ta::ReportFailure(kProgram, s);
  }

  auto report = ta::RunParallelModels(config);
  if (!report.ok()) return ta::ReportFailure(kProgram, report.status());
  std::cout << "\n" << ta::FormatSummaryTable(*report);
  if (absl::Status s = ta::WriteReportFiles(*report, files); !s.ok()) {
    return ta::ReportFailure(kProgram, s);
  }
  if (!files.out_dir.empty()) {
    const std::string& dir = files.out_dir;
    std::cout << "open in a browser: " << dir << "/curves.svg " << dir
              << "/topology.svg (report: " << dir << "/report.json)\n";
  }
  for (const auto& m : report->models) {
    if (!m.error.empty()) return 1;
  }
  return 0;
}
