// bazel run //experiments:production_routing -- [--train_limit=20000] ...
//
// The system from the articles: one training stream, two production sources
// (a paced, unlabelled replay of the test split and a directory of images),
// four models that train and predict at once, and consumer applications on
// the predictions (console, JSON-lines file, aggregator) and on the dead
// letters. Prints what every consumer received and the bus metrics.
#include "actors/topology/production_routing.h"

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "actors/topology/flags.h"

ABSL_FLAG(uint64_t, train_limit, 20000, "training samples (0: all 60000)");
ABSL_FLAG(uint32_t, eval_every, 200, "training steps between metrics");
ABSL_FLAG(uint32_t, eval_subset, 500, "held-out samples per periodic metric");
ABSL_FLAG(uint64_t, eval_limit, 2000,
          "held-out test samples [0, N) for evaluation");
ABSL_FLAG(uint64_t, replay_limit, 2000,
          "test samples after the held-out ones replayed without labels");
ABSL_FLAG(double, replay_rate, 250, "replayed samples per second (0: unpaced)");
ABSL_FLAG(std::string, image_dir, "",
          "directory of PNG/JPEG/PGM images to predict; empty: export test "
          "images (and a few broken files) to a temporary directory");
ABSL_FLAG(std::string, export_dir, "/tmp/trainbus/production_routing/images",
          "where test images are exported without --image_dir (emptied first)");
ABSL_FLAG(uint64_t, export_images, 48, "images to export without --image_dir");
ABSL_FLAG(uint64_t, export_broken, 2,
          "undecodable files to export without --image_dir");
ABSL_FLAG(double, image_rate, 20, "images per second (0: unpaced)");
ABSL_FLAG(std::string, train_policy, "block",
          "mnist->model bindings: block, drop_oldest");
ABSL_FLAG(std::string, live_policy, "block",
          "live->model bindings: block, drop_oldest");
ABSL_FLAG(uint32_t, max_queue, 64,
          "queue bound per subscriber on every resource and binding; smaller "
          "queues keep live samples from waiting behind training data");
ABSL_FLAG(uint64_t, print_every, 500, "console: print every Nth prediction");
ABSL_FLAG(std::string, jsonl,
          "/tmp/trainbus/production_routing/predictions.jsonl",
          "JSON-lines file for predictions and metrics ('' for none)");
ABSL_FLAG(double, metrics_every, 0,
          "print the bus metrics table every N seconds during the run (0: only "
          "at the end)");
ABSL_FLAG(double, timeout, 600, "give up after this many seconds");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Trains four models while they predict live traffic; consumers print, "
      "store and aggregate the predictions.\n"
      "  bazel run //experiments:production_routing");
  absl::ParseCommandLine(argc, argv);
  constexpr char kProgram[] = "production_routing";
  trainbus::actors::ProductionRoutingConfig config;
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (absl::Status s = trainbus::actors::ReadModelsFlag(&config.models);
      !s.ok()) {
    return trainbus::actors::ReportFailure(kProgram, s);
  }
  config.seed = absl::GetFlag(FLAGS_seed);
  config.train_limit = absl::GetFlag(FLAGS_train_limit);
  config.eval_every = absl::GetFlag(FLAGS_eval_every);
  config.eval_subset = absl::GetFlag(FLAGS_eval_subset);
  config.eval_limit = absl::GetFlag(FLAGS_eval_limit);
  config.replay_limit = absl::GetFlag(FLAGS_replay_limit);
  config.replay_rate = absl::GetFlag(FLAGS_replay_rate);
  config.image_dir = absl::GetFlag(FLAGS_image_dir);
  config.export_dir = absl::GetFlag(FLAGS_export_dir);
  config.export_images = absl::GetFlag(FLAGS_export_images);
  config.export_broken = absl::GetFlag(FLAGS_export_broken);
  config.image_rate = absl::GetFlag(FLAGS_image_rate);
  config.train_policy = absl::GetFlag(FLAGS_train_policy);
  config.live_policy = absl::GetFlag(FLAGS_live_policy);
  config.max_queue = absl::GetFlag(FLAGS_max_queue);
  config.print_every = absl::GetFlag(FLAGS_print_every);
  config.jsonl_path = absl::GetFlag(FLAGS_jsonl);
  config.metrics_every_seconds = absl::GetFlag(FLAGS_metrics_every);
  config.timeout_seconds = absl::GetFlag(FLAGS_timeout);

  auto report = trainbus::actors::RunProductionRouting(config);
  if (!report.ok()) {
    return trainbus::actors::ReportFailure(kProgram, report.status());
  }
  std::cout << trainbus::actors::FormatProductionReport(*report);
  for (const auto& m : report->models) {
    if (!m.error.empty()) return 1;
  }
  return 0;
}
