// The "production routing" topology: training and production traffic on one
// bus, predictions fanned out to consumer applications.
//
//   generator (train, labelled) --> [mnist] --labelled--> [modelK] --> model K
//   test replay (unlabelled) --+--> [live] --unlabelled--> [modelK]    |  |
//   image directory -----------+      |                                |  |
//        |  (undecodable files)                      [metrics] <-------+  |
//        +--> [dead_letter] --> dead-letter app      [predictions] <------+
//                                                     |--> console (every Nth)
//                                                     |--> JSON-lines file
//                                                     +--> aggregator
//
// Every model trains on the labelled stream and predicts every live sample,
// so the aggregator can say how often the models agree on the same sample
// and how long a sample takes from its publish to each prediction.
//
// End of the run: each source ends its stream with an end-of-stream marker,
// which reaches every model (models keep running after a marker,
// quit_at_end = false). Once every model has seen all 1 + 2 markers, the
// runner knows how many predictions and metrics were sent, asks each
// consumer to confirm it received that many (flush_atom), collects the
// reports and shuts the system down.
//
//   ProductionRoutingConfig config;          // defaults run in < 2 minutes
//   auto report = RunProductionRouting(config);
//   if (report.ok()) std::cout << FormatProductionReport(*report);
#ifndef TRAINBUS_ACTORS_TOPOLOGY_PRODUCTION_ROUTING_H_
#define TRAINBUS_ACTORS_TOPOLOGY_PRODUCTION_ROUTING_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "actors/consumer/aggregator.h"
#include "actors/consumer/consumer.h"
#include "data/idx.h"
#include "actors/model/model_actor.h"
#include "actors/topology/parallel_models.h"
#include "bus/metrics.h"

namespace trainbus::actors {

struct ProductionRoutingConfig {
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::vector<NamedModel> models = DefaultModels();
  uint64_t seed = 1;
  // Training: the first train_limit samples of the train split, once.
  size_t train_limit = 20000;
  uint32_t eval_every = 200;
  uint32_t eval_subset = 500;
  // Held-out evaluation: test samples [0, eval_limit).
  size_t eval_limit = 2000;
  // Production source 1: test samples [eval_limit, eval_limit + replay_limit)
  // replayed without labels at replay_rate per second (0: unpaced).
  size_t replay_limit = 2000;
  double replay_rate = 250;
  // Production source 2: a directory of images. Empty: export
  // export_images test images (from the end of the split, PNG/JPEG/PGM in
  // turn) and export_broken undecodable files to export_dir (emptied first).
  std::string image_dir;
  std::string export_dir = "/tmp/trainbus/production_routing/images";
  size_t export_images = 48;
  size_t export_broken = 2;
  double image_rate = 20;
  // Routing.
  std::string train_policy = "block";  // mnist -> modelK
  std::string live_policy = "block";   // live -> modelK
  // Per-subscriber queue bound (and binding window, up to 256). Small
  // queues keep live samples from waiting behind a backlog of training data:
  // 64 gives p90 publish->prediction ~0.2 s here, 1024 ~1.7 s.
  uint32_t max_queue = 64;
  // Consumers.
  uint64_t print_every = 500;  // console: every Nth prediction
  std::string jsonl_path = "/tmp/trainbus/production_routing/predictions.jsonl";
  bool print = true;
  double metrics_every_seconds = 0;  // print the bus metrics table (0: off)
  double timeout_seconds = 600;  // give up (with an error) after this
};

struct DeadLetter {
  uint64_t seq = 0;
  std::string path;
  std::string error;
};

struct ProductionRoutingReport {
  size_t train_samples = 0;
  size_t eval_samples = 0;
  uint64_t replayed = 0;  // samples the test replay published
  uint64_t images = 0;    // images the image source published
  std::string image_dir;
  double wall_seconds = 0;
  std::vector<ModelSummary> models;  // in config order
  std::vector<ConsumerStats> consumers;
  AggregateReport aggregate;
  std::vector<DeadLetter> dead_letters;
  std::vector<bus::ResourceMetrics> bus;
  std::string topology_text;
  std::string jsonl_path;
};

absl::StatusOr<ProductionRoutingReport> RunProductionRouting(
    const ProductionRoutingConfig& config);

// What each consumer received, the aggregate (counts, agreement matrix,
// latency), the dead letters with their reasons, the models and the bus.
std::string FormatProductionReport(const ProductionRoutingReport& report);

// Writes samples [first, first + n) of `d` into `dir` (created if missing)
// as img_NNNN_L.{png,jpg,pgm} in turn, then `broken` files that cannot be
// decoded (a truncated PNG, a text file called .jpg, ...). Returns the true
// label of each file in name order (kNoLabel for the broken ones), which is
// the seq the image source gives it.
absl::StatusOr<std::vector<int32_t>> ExportImages(const data::Dataset& d,
                                                  size_t first, size_t n,
                                                  size_t broken,
                                                  const std::string& dir);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_TOPOLOGY_PRODUCTION_ROUTING_H_
