// One spec across processes: `trainbus node` (a worker that builds its share
// of a spec when a hub asks) and the hub side of
// `trainbus run SPEC --nodes=n1=HOST:PORT,...`.
//
//   // each worker process
//   NodeOptions n;  n.name = "worker1";  n.listen = "127.0.0.1:4101";
//   absl::Status s = RunNode(n);  // prints "LISTENING host:port", one run
//   // the hub
//   TB_ASSIGN_OR_RETURN(Placement p, Place(spec, nodes));
//   TB_ASSIGN_OR_RETURN(PlacedReport r, RunPlaced(spec, text, p, options));
//
// The hub and each node talk through their main threads (CAF messages over
// the middleman; a node's main thread is found by its name in the directory
// it serves, so a hub that got the name wrong is told so):
//   hub -> node  prepare(hub, spec text, run args, part, addresses)
//                the node parses the spec (with the same run flags) and
//                declares the resources it owns           -> prepared(error)
//   hub -> node  build      imports what it uses from the owners'
//                directories (bus/node.h), binds, spawns consumers and
//                models (topology/runner.h BuildPart)     -> built(error)
//   hub -> node  start      starts the node's sources
//   node -> hub  summary(part, ModelSummary) as each model ends
//   hub -> node  finish     once every model has ended: the node stops
//   node -> hub  ModelCheckpoint every `delivery.checkpoint_every` samples
//                of each model (weights and the source offsets trained to)
// Each side monitors the other, with the middleman's heartbeat on: a node
// that dies, freezes or loses its link, or never answers within the
// deadline, is declared dead naming it. With checkpoints on, each of its
// unfinished models moves to the hub and resumes from its last checkpoint
// (topology/runner.h ResumeModel: its durable sources replayed after the
// checkpoint's offsets, the rest dropped as duplicates); without, they are
// "lost" with the figures of their last test report. The others finish.
#ifndef TRAINBUS_TOPOLOGY_NODE_H_
#define TRAINBUS_TOPOLOGY_NODE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actors/model/model_actor.h"
#include "bus/tls.h"
#include "topology/placement.h"
#include "topology/runner.h"
#include "topology/spec.h"

namespace trainbus::topology {

// A node's main thread sits in its directory as "trainbus.node.<name>".
inline constexpr char kNodeAgentName[] = "trainbus.node";

// Turns the run flags the hub was given into the spec a part builds: the
// hub and every node apply the same ones (topology/runner's overrides).
using ApplyRunArgs = std::function<absl::Status(
    const std::vector<std::string>& args, TopologySpec* spec)>;

// The middleman's heartbeat (topology/spec.h DeliverySpec): every process
// of a placed run sends one every heartbeat_s and drops a peer silent for
// connection_timeout_s, whose actors then go down (CAF 0.17 has no node
// monitor; this is how a frozen node is declared dead).
struct Heartbeat {
  double heartbeat_s = 1;
  double connection_timeout_s = 10;
};

struct NodeOptions {
  std::string name;                     // as the spec's `nodes:` lists it
  std::string listen = "127.0.0.1:0";   // port 0: any free one
  Heartbeat heartbeat;                  // --heartbeat_s, --connection_timeout_s
  // --tls_dir (DIR/<name>.pem), --tls_certificate/--tls_key/--tls_cafile,
  // or --insecure: one is required (bus/tls.h ResolveTls).
  bus::TlsSettings tls;
  double timeout_s = 3600;  // for a hub to come, and for the run
  ApplyRunArgs apply_args;  // null: the args must be empty
  // Called with "host:port" once the node listens.
  std::function<void(const std::string&)> on_listening;
};

// Serves one run for a hub, then returns: OK when the hub said the run
// finished; an error when the hub went away, refused this node or the
// deadline passed.
absl::Status RunNode(const NodeOptions& options);

// A node of a placed run, as the hub sees it.
struct NodeStatus {
  std::string name;
  std::string address;  // HOST:PORT
  std::string state;    // "connected", "lost" or "finished"
};

struct PlacedOptions {
  std::string listen = "127.0.0.1:0";  // the hub's directory, for the nodes
  // Override the spec's `delivery:` (--heartbeat_s, --connection_timeout_s,
  // --checkpoint_every); the checkpoint interval goes to every node.
  std::optional<double> heartbeat_s, connection_timeout_s;
  std::optional<uint64_t> checkpoint_every;
  // Where the hub keeps each model's latest checkpoint (topology/
  // checkpoint_store.h), read back when a model moves; empty: beside the
  // log of the first durable resource on the hub (LOG_DIR/checkpoints).
  std::string checkpoint_dir;
  std::vector<std::string> run_args;   // passed on to every node
  // The hub's TLS (DIR/hub.pem): these flags, else the spec's `tls:`; a run
  // with neither is an error naming --tls_dir and --insecure.
  bus::TlsSettings tls;
  // For every node to be reachable (connects are tried again until then),
  // and then per phase, for every node to answer.
  double connect_timeout_s = 60;
  double timeout_s = 3600;             // for the whole run
  bool print = true;
  // The hub's observers, as an in-process run's (topology/runner.h):
  // on_metric sees every metric the hub hears from the models' outputs (on
  // the hub's main thread), after_build gets the hub's part once every part
  // is built and before the sources start, before_teardown comes once the
  // run is over. E.g. the dashboard's (RunDashboard::Attach).
  RunHooks hooks;
  // Every node and its state, each time one changes: all "connected" once
  // the hub found them, "lost" when one dies, "finished" at the end.
  std::function<void(const std::vector<NodeStatus>&)> on_nodes;
};

// Where each model ran and how it ended, beside the run's report.
struct PlacedModel {
  std::string part;    // the node it ran on ("" = the hub)
  // "done", "failed" or "lost"; a lost model's summary holds the figures
  // of its last test report.
  std::string status;
  std::string checkpoint_sha256;  // of the final checkpoint; "" when lost
  // A model moved off a dead node: the node, the samples in the checkpoint
  // it resumed from (0: none, it started again), and the samples that node
  // had reported past that checkpoint, trained again from the replay.
  std::string moved_from;
  uint64_t resumed_at = 0;
  uint64_t retrained = 0;
};

struct PlacedReport {
  // As an in-process run reports (topology/run_report.h): the models'
  // summaries (with their final checkpoints) in spec order, each source's
  // count, the wall time from the sources' start.
  RunReport run;
  std::vector<PlacedModel> placed;      // beside run.models
  std::vector<std::string> nodes;       // parts other than the hub
  std::vector<std::string> lost_nodes;
  uint64_t checkpoints = 0;             // received from the nodes' models
};

// Runs `spec` (whose text is `spec_text`) with its parts on the placed
// nodes, which must be running `trainbus node`; the hub builds its own part.
absl::StatusOr<PlacedReport> RunPlaced(const TopologySpec& spec,
                                       const std::string& spec_text,
                                       const Placement& placement,
                                       const PlacedOptions& options);

// "RESULT node=worker1 model=worker1/model1 status=done test_accuracy=..."
std::string FormatPlacedResult(const actors::ModelSummary& m,
                               const PlacedModel& placed);
// The run's summary table (FormatSummaryTable), then a line per node and
// one on the lost.
std::string FormatPlacedReport(const PlacedReport& report);
// The run's JSON report (ReportToJson) with each model's node, status and
// checkpoint_sha256, and the nodes and lost_nodes.
std::string PlacedReportToJson(const PlacedReport& report);

// Whether `trainbus run` args ask for placement (a --nodes flag): then
// PlacedRunMain runs them, else the in-process RunMain (topology/cli.h).
bool HasNodesFlag(const std::vector<std::string>& args);

// `trainbus run SPEC --nodes=n1=HOST:PORT,... [--listen=HOST:PORT]
// [--report_json=PATH] [--timeout_s=S] [--connect_timeout_s=S]
// [--dashboard=[HOST]:PORT [--dashboard_hold]] [run flags]`: the run flags
// go to `apply_args` here and on every node; the dashboard runs on the hub.
int PlacedRunMain(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err, const ApplyRunArgs& apply_args);

// `trainbus node --name=N --listen=HOST:PORT (--tls_dir=DIR | --insecure)
// [--timeout_s=S]`.
int NodeMain(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err, const ApplyRunArgs& apply_args);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_NODE_H_
