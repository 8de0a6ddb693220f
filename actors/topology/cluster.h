// The "parallel models" topology spread over processes: a hub node owns the
// data stream and the metrics, worker nodes own the models.
//
//   hub:      generator --> [mnist]            [metrics] --> printed, summary
//                              |   (network)      ^
//   worker1:                   +--labelled--> [model1] --> model actor --+
//                              +--labelled--> [model2] --> model actor --+
//   worker2:                   +--labelled--> [model1] --> ...
//
// The worker imports the hub's [mnist] and [metrics] (bus/node.h) and then
// builds exactly what experiments/parallel_models.yaml builds in one process: a resource
// per model bound to [mnist], a model actor on it. The hub serves its
// directory, waits for `workers` workers to join, streams the training split
// once, and ends when every joined worker has reported a final result for
// each of its models or has died (a dead worker's models are "lost"; the
// others finish).
//
//   HubConfig hub;  hub.workers = 2;  hub.train_limit = 2000;
//   absl::StatusOr<HubReport> r = RunHub(hub);      // process 1
//   WorkerConfig w; w.name = "worker1"; w.hub = "127.0.0.1:4242";
//   RunWorker(w);                                   // processes 2 and 3
//
// Hub output: one line per Metric received ("hub: worker1/model1 step ..."),
// then one machine-readable line per model
//   RESULT worker=worker1 model=worker1/model1 status=done
//          test_accuracy=0.7712 ...  (one line)
// and a summary table. The hub announces its port as "LISTENING host:port".
#ifndef TRAINBUS_ACTORS_TOPOLOGY_CLUSTER_H_
#define TRAINBUS_ACTORS_TOPOLOGY_CLUSTER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actors/model/model_actor.h"
#include "actors/topology/components.h"

namespace trainbus::actors {

struct HubConfig {
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string host = "127.0.0.1";
  uint16_t port = 0;   // 0: any free port
  size_t workers = 1;  // stream once this many have joined (>= 1)
  uint64_t epochs = 1;  // >= 1 (see CheckEpochs)
  bool forever = false;  // stream until stopped; no run timeout
  uint64_t seed = 1;
  size_t train_limit = 0;  // 0: the whole training split
  double rate = 0;         // samples/s; 0: as fast as accepted
  uint32_t max_queue = 1024;
  double join_timeout_s = 60;  // for the workers to join
  double run_timeout_s = 600;  // for the whole run
  bool print = true;
  // Called with the bound port before the hub waits for workers.
  std::function<void(uint16_t)> on_listening;
};

struct ClusterModelResult {
  std::string worker;
  std::string model;   // "<worker>/<name>"
  // "done", "failed" or "lost"; a lost model keeps the figures of its last
  // periodic report.
  std::string status;
  double test_accuracy = 0;
  double prequential_accuracy = 0;
  uint64_t steps = 0;
  uint64_t samples = 0;
  double samples_per_second = 0;
  std::string error;
  uint64_t rejected_shape = 0;        // samples refused (see ModelSummary)
  uint64_t rejected_label = 0;
  std::vector<std::string> warnings;  // e.g. training accuracy at chance
};

struct HubReport {
  size_t train_samples = 0;
  uint64_t published = 0;
  double wall_seconds = 0;
  std::vector<std::string> workers;  // in joining order
  std::vector<std::string> lost_workers;
  std::vector<ClusterModelResult> models;  // in joining order
};

absl::StatusOr<HubReport> RunHub(const HubConfig& config);

struct WorkerConfig {
  std::string name = "worker1";
  std::string hub = "127.0.0.1:0";  // host:port the hub printed
  std::string data_dir = "/usr/share/datasets/fashion-mnist";  // test split
  std::vector<NamedModel> models = {
      {"model1", "softmax:opt=sgd,lr=0.01,batch=1"}};
  uint32_t eval_every = 100;
  uint32_t eval_subset = 1000;
  size_t test_limit = 0;
  uint64_t seed = 1;
  std::string policy = "block";  // bindings mnist -> model
  bool print = false;            // the model actors' own progress lines
  double run_timeout_s = 600;
};

// Runs until each model has seen the end of the stream and its final result
// has reached the hub; fails if the hub goes away first.
absl::StatusOr<std::vector<ModelSummary>> RunWorker(const WorkerConfig& config);

std::string FormatResultLine(const ClusterModelResult& r);
std::string FormatHubSummary(const HubReport& report);
std::string HubReportToJson(const HubReport& report);

// The path of the running executable (/proc/self/exe).
std::string SelfExecutable();

// `cluster` in its default role: a hub and `workers` workers on loopback,
// each a child process of `program` (--role=hub / --role=worker), with the
// demo's own flags passed on to the children.
struct LocalDemoConfig {
  std::string program;  // the cluster binary
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  size_t workers = 2;
  size_t train_limit = 6000;
  uint64_t epochs = 1;
  bool forever = false;
  double rate = 0;
  uint64_t seed = 1;
  // Every worker's models; empty: the demo's two on worker1, one on worker2
  // (and in turn on any further worker).
  std::string models;
  size_t test_limit = 2000;
  uint32_t eval_every = 100;
  uint32_t eval_subset = 500;
  bool print_models = false;
  std::string report_json;  // the hub writes it
  double timeout_s = 300;
};

// The command lines: the hub's first, then one per worker (each worker's
// --hub is left for the caller to append once the hub listens).
std::vector<std::vector<std::string>> LocalDemoCommands(
    const LocalDemoConfig& config);

// Runs the demo, prints everyone's output interleaved and a summary line to
// `out`; returns 0 when every process exits cleanly.
int RunLocalDemo(const LocalDemoConfig& config, std::ostream& out);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_TOPOLOGY_CLUSTER_H_
