// A topology as data: the spec file's structs, and the one parser that fills
// them and checks them.
//
//   absl::StatusOr<TopologySpec> spec = LoadSpecFile("experiments/x.yaml");
//   if (!spec.ok()) { std::cerr << spec.status().message(); return 2; }
//   for (const BindingSpec& b : spec->bindings) bus.Bind(b.options);
//
// The file is YAML (JSON is YAML too). Validation reports every error it
// finds, each with its line and column, and nothing is returned until the
// whole spec is valid. Filters and policies are already the bus's own types,
// model specs are already parsed, so a runner can use the structs directly.
#ifndef TRAINBUS_TOPOLOGY_SPEC_H_
#define TRAINBUS_TOPOLOGY_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amqp/settings.h"
#include "amqp/url.h"
#include "bus/options.h"
#include "bus/tls.h"
#include "kernels/nn/model.h"
#include "topology/population.h"

namespace trainbus::topology {

// 1-based; 0 when unknown (an error about the file as a whole).
struct Location {
  int line = 0;
  int column = 0;
};

// A worker a component can be placed on (`node: worker1`).
struct NodeSpec {
  std::string name;
  std::string address;  // HOST:PORT, or empty: given on the command line
  Location where;
};

struct ResourceSpec {
  bus::ResourceOptions options;  // name, max_queue and the log options
  std::string node;              // empty: the process that runs the spec
  Location where;
};

struct BindingSpec {
  bus::BindingOptions options;  // from, to, filter, policy, window, max_queue
  Location where;
};

// kAmqp: an inbound bridge of the `amqp:` section (never under `sources:`).
enum class SourceKind { kIdxGenerator, kTestReplay, kImageDir, kAmqp };
const char* SourceKindName(SourceKind kind);

struct SourceSpec {
  std::string name;
  SourceKind kind = SourceKind::kIdxGenerator;
  std::string output;    // the resource it publishes to
  std::string data_dir;  // idx, test_replay: the IDX files' directory
  // idx, test_replay instead of data_dir: a registry dataset of IDX files,
  // "name" (the latest version) or "name@version", in the spec's project.
  std::string dataset;
  std::string dir;       // image_dir: the directory it reads
  uint64_t epochs = 1;   // idx: passes over the training split
  double rate = 0;       // samples (files) per second; 0: as fast as accepted
  uint64_t seed = 1;     // idx: the shuffle's seed
  uint64_t limit = 0;    // idx, test_replay: first N samples only; 0: all
  uint64_t first = 0;    // test_replay: index of its first test sample
  bool labels = true;    // idx: false publishes the samples unlabelled
  // idx: samples per message (SampleBatches; 1: one Sample each). Bindings
  // pass a batch on whole and models train from it without re-batching, so
  // the bus costs a few messages per batch instead of per sample.
  uint32_t batch = 64;
  // image_dir: where undecodable files go (empty: printed only).
  std::string dead_letter;
  // image_dir: first write this many test images of `data_dir` (the last
  // ones of the split, PNG/JPEG/PGM in turn) and this many undecodable
  // files into `dir`, replacing an earlier export; 0 and 0: read `dir` as is.
  uint64_t export_images = 0;
  uint64_t export_broken = 0;
  // amqp: its bridge, spec.amqp->inbound[amqp_bridge], and that one's queue.
  size_t amqp_bridge = 0;
  std::string queue;
  std::string node;
  Location where;
};

struct ModelEntry {
  std::string name;
  std::string spec_text;  // as written, e.g. "mlp:hidden=128,lr=0.02"
  nn::ModelSpec spec;     // ParseModelSpec(spec_text)
  std::string input;      // resource it trains from
  std::string output;     // resource it publishes its metrics to
  std::string predictions;  // resource for predictions of unlabelled samples
  uint32_t eval_every = 100;
  uint32_t eval_subset = 1000;  // held-out samples per evaluation; 0: all
  std::string node;
  Location where;
};

enum class ConsumerKind {
  kConsole,
  kJsonl,
  kAggregator,
  kRegistryLogger,
  kDeadLetters,  // records (and prints) dead letters for the run's report
  kAmqp,  // an outbound bridge of the `amqp:` section (never under `consumers:`)
};
const char* ConsumerKindName(ConsumerKind kind);

struct ConsumerSpec {
  std::string name;
  ConsumerKind kind = ConsumerKind::kConsole;
  std::vector<std::string> inputs;  // resources it subscribes to
  std::string path;                 // jsonl: the file it writes
  uint64_t every = 1;               // console: print every Nth prediction
  size_t amqp_bridge = 0;  // amqp: spec.amqp->outbound[amqp_bridge]
  std::string node;
  Location where;
};

// Where finished models and training logs are saved.
struct RegistrySpec {
  std::string dir;
  Location where;
};

// `population:` ASHA and/or PBT over the spec's models (population.h).
struct PopulationSpec {
  PopulationOptions options;
  Location where;
};

// The held-out data every model is evaluated on: the first `limit` samples
// of the test split in `data_dir`. Without the section: the first idx
// source's data_dir, the whole test split.
struct EvaluationSpec {
  std::string data_dir;
  uint64_t limit = 0;  // 0: all
  Location where;
};

// `amqp:` inbound: a RabbitMQ queue consumed into a resource. Each is also a
// source of kind kAmqp in TopologySpec::sources (named like the bridge), so
// runs wait for its end of stream like any other source's.
struct AmqpInboundSpec {
  std::string name;
  std::string resource;
  amqp::InboundSettings settings;  // queue, declare, durable, prefetch, rate
  Location where;
};

// `amqp:` outbound: a resource's predictions published to an exchange. Each
// is also a consumer of kind kAmqp in TopologySpec::consumers.
struct AmqpOutboundSpec {
  std::string name;
  std::string resource;
  // exchange, routing_key, declare, exchange_type, persistent; give_up is
  // the section's give_up_ms.
  amqp::OutboundSettings settings;
  Location where;
};

// `amqp:` the broker and its bridges.
struct AmqpSpec {
  std::string url;          // as written (with its password)
  amqp::BrokerUrl broker;   // parsed
  amqp::Backoff backoff;    // reconnect_min_ms, reconnect_max_ms
  std::vector<AmqpInboundSpec> inbound;
  std::vector<AmqpOutboundSpec> outbound;
  Location where;
};

// `delivery:` how a placed run (--nodes) finds a dead node and recovers its
// models. CAF's middleman heartbeat: a peer silent for connection_timeout_s
// (frozen, or its link gone) is dropped and its actors go down. Every
// checkpoint_every samples each model on a worker node sends its checkpoint
// and input offsets to the hub; a dead node's models resume on the hub from
// there, replaying their durable sources (0: no checkpoints; a dead node's
// models are lost).
struct DeliverySpec {
  double heartbeat_s = 1;
  double connection_timeout_s = 10;
  uint64_t checkpoint_every = 0;
  Location where;
};

// Heartbeats above 0 and the timeout at least twice the heartbeat (one
// late heartbeat must not drop a peer); the message names the keys.
absl::Status CheckDelivery(const DeliverySpec& delivery);

// `tls:` how the processes of a placed run talk (bus/tls.h): `dir` (as
// `trainbus cluster-certs DIR` writes it; the hub uses DIR/hub.pem), the
// hub's `certificate`, `key` and `cafile`, or `insecure: true` for plain
// TCP. Only the hub reads it: a node's TLS comes from its own flags (it
// listens before any spec arrives). The hub's --tls_dir / --insecure win.
struct TlsSpec {
  bus::TlsSettings settings;
  Location where;
};

struct TopologySpec {
  std::string name;
  std::string description;
  std::vector<NodeSpec> nodes;
  std::optional<RegistrySpec> registry;
  std::optional<EvaluationSpec> evaluation;
  std::vector<ResourceSpec> resources;
  std::vector<BindingSpec> bindings;
  std::vector<SourceSpec> sources;
  std::vector<ModelEntry> models;
  std::vector<ConsumerSpec> consumers;
  std::optional<PopulationSpec> population;
  std::optional<AmqpSpec> amqp;
  // `auth: {token: T}`: the gateway (--dashboard) then needs
  // "Authorization: Bearer T"; --auth_token overrides it.
  std::string auth_token;
  DeliverySpec delivery;
  std::optional<TlsSpec> tls;
};

struct SpecError {
  Location where;
  std::string message;
};

// Parses and validates `text`. Returns every error, in file order; fills
// `*spec` only when there are none.
std::vector<SpecError> ParseAndValidate(absl::string_view text,
                                        TopologySpec* spec);

// "ORIGIN:LINE:COLUMN: message" per line (no location: "ORIGIN: message").
std::string FormatErrors(absl::string_view origin,
                         const std::vector<SpecError>& errors);

// The spec, or InvalidArgument whose message is FormatErrors(origin, ...).
absl::StatusOr<TopologySpec> ParseSpec(absl::string_view text,
                                       absl::string_view origin = "spec");
// Reads `path` and parses it (errors are prefixed with the path).
absl::StatusOr<TopologySpec> LoadSpecFile(const std::string& path);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_SPEC_H_
