// The generic runner: executes a TopologySpec (topology/spec.h). One
// function builds one process's share of a spec (BuildPart), so that the
// same spec runs in one process or split over nodes; RunSpec builds every
// share in this process, streams the sources, waits for every model to see
// the end of its streams, drains the consumers and returns what happened.
//
//   TB_ASSIGN_OR_RETURN(TopologySpec spec, LoadSpecFile("experiments/x.yaml"));
//   RunOverrides flags;  // what `trainbus run` flags say
//   flags.epochs = 2;
//   TB_RETURN_IF_ERROR(ApplyOverrides(flags, &spec));
//   RunOptions options;
//   options.hooks.on_metric = [](const bus::Metric& m) { ... };
//   TB_ASSIGN_OR_RETURN(RunReport report, RunSpec(spec, options));
//   std::cout << FormatRunReport(report);        // topology/run_report.h
//
// Placement (`node:` keys) plugs in through PartContext: a part builds the
// components placed on its node and asks `resolve_remote` for resources that
// live elsewhere. A controller (population training) plugs in through
// RunHooks::after_build, which sees every spawned model actor and binding by
// name before the sources start.
//
// Lifecycle of one process's part:
//   PartContext ctx(sys, bus);            // + ctx.listener, ctx.resolve_remote
//   BuildPart(spec, node, ctx);           // resources, bindings, consumers,
//                                         // models; sources prepared
//   ctx.StartSources();                   // the streams begin
//   ... wait for ModelSummary messages at ctx.listener ...
//   ctx.StopAll();                        // everything the part spawned
#ifndef TRAINBUS_TOPOLOGY_RUNNER_H_
#define TRAINBUS_TOPOLOGY_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "actors/consumer/aggregator.h"
#include "actors/consumer/consumer.h"
#include "actors/model/eval_set.h"
#include "actors/model/model_actor.h"
#include "amqp/counters.h"
#include "bus/bus.h"
#include "bus/directory.h"
#include "bus/message.h"
#include "bus/metrics.h"
#include "bus/protocol.h"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"
#include "data/idx.h"
#include "topology/population.h"
#include "topology/spec.h"

namespace trainbus::topology {

// BuildPart's `node` for "every component, whatever its node": one process.
inline constexpr absl::string_view kEveryNode = "*";

// What `trainbus run` flags change in a spec. Unset fields leave it alone.
struct RunOverrides {
  std::optional<std::string> data_dir;  // every source's and the evaluation's
  std::optional<uint64_t> epochs;       // idx sources
  bool forever = false;                 // idx sources stream until stopped
  // ParseModelList text ("softmax:lr=0.01;m2=mlp"): replaces the models; each
  // new one is fed and published like the spec's first model.
  std::optional<std::string> models;
  std::optional<uint64_t> train_limit;  // idx sources' limit (0: all)
  std::optional<uint64_t> test_limit;   // held-out samples (0: all)
  std::optional<uint32_t> eval_every;   // every model
  std::optional<uint32_t> eval_subset;  // every model
  // Shuffle seed of idx sources; seed N also shifts every model's
  // initialisation seed by N - 1 (seed 1 keeps the spec's own).
  std::optional<uint64_t> seed;
  std::optional<std::string> policy;        // bindings into model inputs
  std::optional<std::string> train_policy;  // ... whose filter is labelled
  std::optional<std::string> live_policy;   // ... whose filter is unlabelled
  std::optional<uint32_t> max_queue;        // every resource and binding
  std::optional<double> replay_rate;        // test_replay sources
  std::optional<uint64_t> replay_limit;     // test_replay sources
  std::optional<double> image_rate;         // image_dir sources
  std::optional<std::string> image_dir;     // image_dir sources (no export)
  std::optional<std::string> export_dir;    // image_dir: export here
  std::optional<uint64_t> export_images;    // image_dir: images to export
  std::optional<uint64_t> export_broken;    // image_dir: broken files
  std::optional<std::string> jsonl;         // jsonl consumers' path
  std::optional<uint64_t> print_every;      // console consumers' `every`
  std::optional<std::string> amqp_url;      // the amqp: section's broker
};

// Checks the values (epochs >= 1 unless forever, a known policy, model
// specs that parse) and applies them; errors name the flag.
absl::Status ApplyOverrides(const RunOverrides& flags, TopologySpec* spec);

// Per-run observers and the controller hook.
class PartContext;
struct RunHooks {
  // Every Metric published to a model's output resource, on a thread of its
  // own (one at a time), e.g. to store logs or drive a population.
  std::function<void(const bus::Metric&)> on_metric;
  // After every part is built and before any source starts: spawn a
  // controller, subscribe it to `ctx.Resource("metrics")`, keep
  // `ctx.models()` / `ctx.bindings()` to stop or message them later (a
  // controller actor may send them exit itself: a model actor that goes
  // down without a summary is listed in RunReport::stopped_models and not
  // waited for). An error aborts the run (everything is stopped).
  std::function<absl::Status(PartContext& ctx)> after_build;
  // Once the run is over (or failed), before anything it built is stopped:
  // let go of the bus (e.g. the gateway's views of it).
  std::function<void()> before_teardown;
};

// A model actor the part spawned, by its spec name.
struct SpawnedModel {
  const ModelEntry* entry = nullptr;  // points into the spec given to BuildPart
  caf::actor actor;
  std::vector<std::string> feeds;  // names ("from->to") of its bindings
};

// A source the part prepared (and, after StartSources, spawned).
struct PreparedSource {
  const SourceSpec* entry = nullptr;
  uint64_t samples = 0;  // per pass: samples (idx, test_replay); 0: files
  caf::actor actor;      // null until StartSources
  std::function<absl::StatusOr<caf::actor>()> start;
};

// One dead letter (an image that could not be decoded), as recorded by a
// `dead_letters` consumer.
struct DeadLetter {
  uint64_t seq = 0;
  std::string path;
  std::string error;
};

// The state of one process's share of a run: the local bus, what was built
// (by name) and how to reach what lives elsewhere. Not thread-safe: use it
// from the thread that runs the part (hooks run there too).
class PartContext {
 public:
  PartContext(caf::actor_system& sys, bus::Bus& bus);
  ~PartContext();
  PartContext(const PartContext&) = delete;
  PartContext& operator=(const PartContext&) = delete;

  caf::actor_system& system() { return sys_; }
  bus::Bus& bus() { return bus_; }

  // Receives every model's ModelSummary and every source's
  // (done_atom, source, published[, dead_lettered]). Set before BuildPart.
  caf::actor listener;
  // Whether model actors print their own progress lines (when no console
  // consumer prints their metrics).
  bool print = true;
  // Whether model actors get a thread of their own. A placed run's parts
  // say false: with CAF 0.17 a detached actor whose handle crossed to
  // another node can keep ~actor_system waiting (docs/ARCHITECTURE.md).
  bool detached_models = true;
  // Resolves a resource declared on another node (`node:` of the
  // ResourceSpec is not this part's). Default: none, so such a resource is
  // an error naming its node. The placement runner sets it.
  std::function<absl::StatusOr<bus::resource_actor>(const ResourceSpec&)>
      resolve_remote;
  // A placed run's parts: bindings stamp the source offsets into what they
  // forward (bus/sequence.h), and model actors send the listener a
  // ModelCheckpoint every this many samples (0: never).
  bool sequenced_bindings = false;
  uint64_t checkpoint_every = 0;

  // A resource of the spec by name: declared here, or resolved remotely
  // (and then remembered).
  absl::StatusOr<bus::resource_actor> Resource(const std::string& name);

  // What the part built, by spec name.
  const std::map<std::string, SpawnedModel>& models() const { return models_; }
  const std::map<std::string, bus::binding_actor>& bindings() const {
    return bindings_;
  }
  const std::map<std::string, caf::actor>& consumers() const {
    return consumers_;
  }
  const std::vector<PreparedSource>& sources() const { return sources_; }

  // Spawns the prepared sources, in spec order.
  absl::Status StartSources();
  // Sends exit to everything the part spawned (sources, models, bindings,
  // consumers). Safe to call twice.
  void StopAll();
  // Stops one model actor and the bindings that feed it (e.g. a pruned
  // population member); the run then no longer waits for its summary.
  absl::Status StopModel(const std::string& name);
  // Models stopped through StopModel.
  const std::vector<std::string>& stopped_models() const { return stopped_; }

  // The held-out set every model here evaluates on, and its size (after
  // BuildPart; null / 0 when the part has no models).
  std::shared_ptr<const actors::EvalSet> eval() const;
  size_t eval_samples() const;

  // Dead letters recorded by `dead_letters` consumers (copied under a lock).
  std::vector<DeadLetter> DeadLetters() const;

  // The counters of the part's AMQP bridges, by bridge name (live: read
  // them at any time, e.g. for /metrics; amqp/counters.h).
  const std::map<std::string, std::shared_ptr<const amqp::BridgeCounters>>&
  amqp_counters() const {
    return amqp_counters_;
  }

  // ---- Used by BuildPart (and the placement runner). ----
  void AddAmqpCounters(const std::string& name,
                       std::shared_ptr<const amqp::BridgeCounters> counters);
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  friend absl::Status BuildPart(const TopologySpec&, absl::string_view,
                                PartContext&);
  friend absl::Status ResumeModel(
      const TopologySpec&, const std::string&,
      std::shared_ptr<const actors::ModelCheckpoint>, PartContext&);
  caf::actor_system& sys_;
  bus::Bus& bus_;
  std::map<std::string, SpawnedModel> models_;
  std::map<std::string, bus::binding_actor> bindings_;
  std::map<std::string, caf::actor> consumers_;
  std::vector<PreparedSource> sources_;
  std::vector<std::string> stopped_;
  std::map<std::string, std::shared_ptr<const amqp::BridgeCounters>>
      amqp_counters_;
  std::unique_ptr<Impl> impl_;
};

// Builds the components of `spec` placed on `node` ("" = those without a
// `node:`, kEveryNode = all of them) into `ctx`: declares its resources,
// binds its bindings (those whose destination resource is on the node),
// spawns its consumers and model actors (each model's held-out set is the
// spec's evaluation data, checked against the model before anything is
// spawned) and prepares its sources (loaded, not started). `spec` must
// outlive `ctx`.
absl::Status BuildPart(const TopologySpec& spec, absl::string_view node,
                       PartContext& ctx);

// Builds model `name` of `spec` here, whatever its `node:` says (its node
// died): declares its input resource, binds the bindings into it from
// their sources again (sequenced; each resumes after `checkpoint`'s offset
// for its source, else from the earliest, so every source must be durable)
// and spawns the model from `checkpoint` (null: from scratch), which drops
// whatever the replay repeats. `spec` must be the one BuildPart was given.
absl::Status ResumeModel(const TopologySpec& spec, const std::string& name,
                         std::shared_ptr<const actors::ModelCheckpoint> checkpoint,
                         PartContext& ctx);

// How many end-of-stream markers reach the model's input: one per path
// from a source through bindings (a marker passes every filter).
uint32_t EndMarkersFor(const TopologySpec& spec, const ModelEntry& model);

// Registers every message type a run uses. Call before building the
// actor_system (the placement runner's nodes too).
void ConfigureRunSystem(caf::actor_system_config& cfg);

struct RunOptions {
  bool print = true;  // banner, model costs and progress lines
  // How long to wait for every model (not with a forever source); 0: no
  // limit. Consumers get as long again to confirm they received everything.
  double timeout_s = 24 * 3600;
  // Print the bus metrics table every this many seconds while the run goes
  // (0: only in the report at the end).
  double metrics_every_s = 0;
  RunHooks hooks;
};

// What each source published.
struct SourceReport {
  std::string name;
  SourceKind kind = SourceKind::kIdxGenerator;
  uint64_t published = 0;
  uint64_t dead_lettered = 0;  // image_dir: files that could not be decoded
};

struct RunReport {
  std::string name;          // the spec's
  std::string data_dir;      // the first idx source's
  size_t train_samples = 0;  // the first idx source's, per epoch
  size_t test_samples = 0;   // held-out samples
  uint64_t epochs = 0;       // the first idx source's
  double wall_seconds = 0;
  std::vector<actors::ModelSummary> models;          // in spec order
  std::vector<std::string> stopped_models;           // StopModel'd, no summary
  std::vector<SourceReport> sources;                 // in spec order
  std::vector<actors::ConsumerStats> consumers;      // in spec order
  std::optional<actors::AggregateReport> aggregate;  // the first aggregator's
  std::vector<DeadLetter> dead_letters;
  std::vector<bus::ResourceMetrics> bus;  // at the end of the run
  bus::TopologyDescription topology;
  // Whether the spec has production (unlabelled) sources: the report is then
  // formatted as production routing's (consumers, aggregate, dead letters).
  bool production = false;
  std::string jsonl_path;  // the first jsonl consumer's
  std::string image_dir;   // the first image_dir source's
  // What population training did to each model (empty without one).
  std::vector<Fate> population;
  // The AMQP bridges' counters at the end of the run, in spec order.
  std::vector<amqp::BridgeStats> amqp;
};

// The end of a run, for RunSpec and the placement runner (topology/node.h):
// each of `ctx`'s consumers confirms it received what `report` says was sent
// to it (fills report->consumers, and report->aggregate from the first
// aggregator), within `timeout`.
absl::Status Drain(const TopologySpec& spec, PartContext& ctx,
                   caf::scoped_actor& self, std::chrono::milliseconds timeout,
                   RunReport* report);
// Saves `report`'s finished models in the spec's registry section (none:
// nothing to do), with their results as key/values.
absl::Status SaveModels(const TopologySpec& spec, const RunReport& report);

// Runs the whole spec in this process (BuildPart(spec, kEveryNode, ...)).
// Errors: bad data or models (before anything runs), a timeout (everything
// stopped; the message says which flag to raise), a consumer that did not
// receive everything.
absl::StatusOr<RunReport> RunSpec(const TopologySpec& spec,
                                  const RunOptions& options);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_RUNNER_H_
