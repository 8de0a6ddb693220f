// bazel run //experiments:parallel_models -- [--epochs=1] [--models=...]
//
// Several models train side by side on one Fashion-MNIST stream; each prints
// its accuracy every --eval_every steps, and a summary table closes the run.
// Curves (SVG), the topology (Graphviz) and a JSON report land in --out_dir.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "report/topology_svg.h"
#include "actors/topology/parallel_models.h"

ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist",
          "directory with MNIST-format IDX files (.gz or raw)");
ABSL_FLAG(std::string, models, "",
          "';'-separated model specs, e.g. 'softmax:lr=0.01;mlp:hidden=128,"
          "batch=16;cnn:batch=32' (default: four models)");
ABSL_FLAG(uint64_t, epochs, 1, "passes over the training split");
ABSL_FLAG(uint32_t, eval_every, 100, "training steps between reports");
ABSL_FLAG(uint32_t, eval_subset, 1000,
          "held-out samples per periodic report (0: all); the final "
          "evaluation always uses the whole test split");
ABSL_FLAG(uint64_t, seed, 1, "shuffling and initialisation seed");
ABSL_FLAG(uint64_t, train_limit, 0, "use only the first N training samples");
ABSL_FLAG(uint64_t, test_limit, 0, "use only the first N test samples");
ABSL_FLAG(std::string, policy, "block",
          "backpressure of the mnist->model bindings: block, drop_oldest");
ABSL_FLAG(std::string, report_json, "", "write the JSON report here");
ABSL_FLAG(std::string, out_dir, "/tmp/trainbus/parallel_models",
          "where curves.svg, topology.svg/.dot and report.json go ('' for none)");

namespace {

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::cerr << "cannot write " << path << "\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Trains several models in parallel on one data stream.\n"
      "  bazel run //experiments:parallel_models -- --epochs=1");
  absl::ParseCommandLine(argc, argv);
  trainbus::actors::ParallelModelsConfig config;
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (!absl::GetFlag(FLAGS_models).empty()) {
    auto models = trainbus::actors::ParseModelList(absl::GetFlag(FLAGS_models));
    if (!models.ok()) {
      std::cerr << "--models: " << models.status().message() << "\n";
      return 2;
    }
    config.models = *models;
  }
  config.epochs = absl::GetFlag(FLAGS_epochs);
  config.eval_every = absl::GetFlag(FLAGS_eval_every);
  config.eval_subset = absl::GetFlag(FLAGS_eval_subset);
  config.seed = absl::GetFlag(FLAGS_seed);
  config.train_limit = absl::GetFlag(FLAGS_train_limit);
  config.test_limit = absl::GetFlag(FLAGS_test_limit);
  config.policy = absl::GetFlag(FLAGS_policy);

  auto report = trainbus::actors::RunParallelModels(config);
  if (!report.ok()) {
    std::cerr << "parallel_models: " << report.status().message() << "\n";
    return 1;
  }
  std::cout << "\n" << trainbus::actors::FormatSummaryTable(*report);

  const std::string json = trainbus::actors::ReportToJson(*report);
  if (!absl::GetFlag(FLAGS_report_json).empty()) {
    WriteFile(absl::GetFlag(FLAGS_report_json), json);
  }
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (!out_dir.empty() &&
      std::system(("mkdir -p '" + out_dir + "'").c_str()) == 0) {
    const bool ok =
        WriteFile(out_dir + "/report.json", json) &&
        WriteFile(out_dir + "/curves.svg",
                  trainbus::actors::CurvesToSvg(*report)) &&
        WriteFile(out_dir + "/topology.svg",
                  trainbus::report::TopologyToSvg(report->topology)) &&
        WriteFile(out_dir + "/topology.dot", report->topology.ToDot());
    if (ok) {
      std::cout << "open in a browser: " << out_dir << "/curves.svg "
                << out_dir << "/topology.svg (report: " << out_dir
                << "/report.json)\n";
    }
  }
  for (const auto& m : report->models) {
    if (!m.error.empty()) return 1;
  }
  return 0;
}
