// The "parallel models" topology: one training stream, many models.
//
//   generator --> [mnist] --labelled--> [model1] --> model actor 1 --+
//                         --labelled--> [model2] --> model actor 2 --+--> [metrics]
//                         ...                                        |
//                         --labelled--> [modelN] --> model actor N --+
//
// One published sample reaches every model through its binding without its
// pixels being copied. RunParallelModels builds the topology in this
// process, streams the training split, waits until every model has seen the
// end of the stream, and returns what each one reached.
//
//   ParallelModelsConfig config;
//   config.models = DefaultModels();
//   absl::StatusOr<ParallelModelsReport> report = RunParallelModels(config);
//   std::cout << FormatSummaryTable(*report);
#ifndef TRAINBUS_ACTORS_TOPOLOGY_PARALLEL_MODELS_H_
#define TRAINBUS_ACTORS_TOPOLOGY_PARALLEL_MODELS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actors/model/model_actor.h"
#include "actors/topology/components.h"
#include "bus/directory.h"
#include "bus/metrics.h"

namespace trainbus::actors {

// Four models that differ in architecture, optimizer and batch size.
std::vector<NamedModel> DefaultModels();

struct ParallelModelsConfig {
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::vector<NamedModel> models = DefaultModels();
  uint64_t epochs = 1;             // >= 1 (see CheckEpochs)
  bool forever = false;            // stream until the process is stopped
  uint32_t eval_every = 100;
  uint32_t eval_subset = 1000;     // held-out samples per periodic report
  uint64_t seed = 1;
  size_t train_limit = 0;          // use only the first N training samples
  size_t test_limit = 0;           // ... and the first N test samples
  std::string policy = "block";    // bindings mnist -> modelK
  uint32_t max_queue = 1024;
  bool print = true;
  // How long to wait for every model to report (not with `forever`);
  // 0: no limit.
  double timeout_s = 24 * 3600;
  // Called (on a thread of its own) with every Metric a model publishes,
  // e.g. to store train/test logs in the registry.
  std::function<void(const bus::Metric&)> on_metric;
};

struct ParallelModelsReport {
  std::string data_dir;
  size_t train_samples = 0;
  size_t test_samples = 0;
  uint64_t epochs = 0;
  double wall_seconds = 0;
  std::vector<ModelSummary> models;        // in config order
  std::vector<bus::ResourceMetrics> bus;   // at the end of the run
  bus::TopologyDescription topology;
};

absl::StatusOr<ParallelModelsReport> RunParallelModels(
    const ParallelModelsConfig& config);

// A fixed-width table, one row per model.
std::string FormatSummaryTable(const ParallelModelsReport& report);
// The report as JSON: per model name, kind, hyperparameters, steps,
// test_accuracy, samples/s, the accuracy curve, then the samples it
// refused (rejected_shape, rejected_label) and its warnings.
std::string ReportToJson(const ParallelModelsReport& report);
// Test accuracy against samples seen, one line per model.
std::string CurvesToSvg(const ParallelModelsReport& report);

// Where a run's results go: a JSON report, and a directory that gets
// report.json, curves.svg, topology.svg and topology.dot. Empty: none.
struct ReportFiles {
  std::string report_json;
  std::string out_dir;
};
// Before the run: creates the directories and checks both can be written,
// so that a run whose results would be lost does not start.
absl::Status CheckReportFiles(const ReportFiles& files);
// After the run: writes every file (each atomically).
absl::Status WriteReportFiles(const ParallelModelsReport& report,
                              const ReportFiles& files);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_TOPOLOGY_PARALLEL_MODELS_H_
