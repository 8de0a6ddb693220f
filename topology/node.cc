#include "topology/node.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "actors/model/model_actor.h"
#include "actors/topology/components.h"
#include "base/command_line.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "bus/atoms.h"
#include "bus/node.h"
#include "bus/subscribe.h"
#include "bus/subscriber.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "gateway/bus_prometheus.h"
#include "registry/blob_store.h"
#include "report/json_text.h"
#include "topology/checkpoint_store.h"
#include "topology/cli.h"
#include "topology/dashboard.h"
#include "topology/run_report.h"
#include "topology/runner.h"

namespace trainbus::topology {
namespace {

using prepare_atom = caf::atom_constant<caf::atom("prepare")>;
using prepared_atom = caf::atom_constant<caf::atom("prepared")>;
using build_atom = caf::atom_constant<caf::atom("build")>;
using built_atom = caf::atom_constant<caf::atom("built")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using summary_atom = caf::atom_constant<caf::atom("summary")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;

using Clock = std::chrono::steady_clock;
using actors::ModelSummary;

constexpr uint32_t kMetricsCredit = 4096;

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::chrono::milliseconds Left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - Clock::now()));
}

// How a status crosses the wire: its code (0 for OK) and message.
int32_t CodeOf(const absl::Status& s) { return static_cast<int32_t>(s.code()); }

std::string PartName(const std::string& part) {
  return part.empty() ? "the hub" : absl::StrCat("node '", part, "'");
}

// HOST:PORT where the port may be 0 (any free one), which
// bus::ParseHostPort refuses because nobody can connect to it.
absl::StatusOr<std::pair<std::string, uint16_t>> ParseListen(
    const std::string& text) {
  if (text.size() > 2 && absl::EndsWith(text, ":0")) {
    return std::make_pair(text.substr(0, text.size() - 2), uint16_t{0});
  }
  absl::StatusOr<std::pair<std::string, uint16_t>> parsed =
      bus::ParseHostPort(text);
  if (!parsed.ok()) {
    return actors::PrefixStatus("--listen (port 0: any free one)",
                                parsed.status());
  }
  return parsed;
}

constexpr std::chrono::milliseconds kConnectRetry{200};

// How bus::ConnectNode says a peer's TLS does not match ours.
bool IsRefusal(const absl::Status& s) {
  return s.code() == absl::StatusCode::kPermissionDenied ||
         s.code() == absl::StatusCode::kFailedPrecondition;
}

// --tls_* (a path, from the user's directory): true if `name` was one.
bool ReadTlsPathFlag(const std::string& name, const std::string& value,
                     bus::TlsSettings* tls) {
  return bus::ReadTlsFlag(name, UserPath(value), tls);
}

// The TLS files of `name` (bus/tls.h); with --insecure, the warning.
absl::StatusOr<bus::TlsOptions> ProcessTls(const bus::TlsSettings& settings,
                                           const std::string& name) {
  TB_ASSIGN_OR_RETURN(bus::TlsOptions tls, bus::ResolveTls(settings, name));
  if (!tls.enabled()) std::cerr << bus::kInsecureWarning << std::endl;
  return tls;
}

caf::timespan Span(double seconds) {
  return std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(seconds));
}

// Heartbeats: a peer that sends nothing for connection_timeout_s (frozen,
// its link gone, or a port that accepts but never answers) is dropped, so
// a connect or a monitor ends instead of waiting for ever.
caf::actor_system_config& Configure(caf::actor_system_config& cfg,
                                    const Heartbeat& heartbeat,
                                    const bus::TlsOptions& tls) {
  cfg.load<caf::io::middleman>();
  bus::ConfigureTls(cfg, tls);
  cfg.set("middleman.heartbeat-interval", Span(heartbeat.heartbeat_s));
  cfg.set("middleman.connection-timeout",
          Span(heartbeat.connection_timeout_s));
  ConfigureRunSystem(cfg);
  return cfg;
}

// One process's actor system with the network layer, its bus, the part it
// builds and the directory it serves. Members go in reverse: the part's
// actors are stopped, the directory unpublished, then the system waits.
class Process {
 public:
  Process(const Heartbeat& heartbeat, const bus::TlsOptions& tls)
      : sys_(Configure(cfg_, heartbeat, tls)), bus_(sys_), ctx_(sys_, bus_) {
    // On the scheduler's threads: see PartContext::detached_models.
    ctx_.detached_models = false;
    ctx_.sequenced_bindings = true;
  }
  ~Process() {
    ctx_.StopAll();
    if (port_ != 0) bus::UnserveNode(sys_, bus_.directory(), port_);
    caf::anon_send_exit(bus_.directory(), caf::exit_reason::user_shutdown);
  }

  caf::actor_system& sys() { return sys_; }
  bus::Bus& bus() { return bus_; }
  PartContext& ctx() { return ctx_; }

  // Serves the directory on `listen`; returns "host:port".
  absl::StatusOr<std::string> Serve(const std::string& listen) {
    TB_ASSIGN_OR_RETURN(auto host_port, ParseListen(listen));
    TB_ASSIGN_OR_RETURN(port_, bus::ServeNode(sys_, bus_.directory(),
                                              host_port.second,
                                              host_port.first));
    return absl::StrCat(host_port.first, ":", port_);
  }

  // Makes the owners' resources resolvable: each owner's directory is
  // connected once, on first use.
  void ResolveFrom(NodeAddresses owners) {
    ctx_.resolve_remote = [this, owners = std::move(owners)](
                              const ResourceSpec& r)
        -> absl::StatusOr<bus::resource_actor> {
      auto address = owners.find(r.node);
      if (address == owners.end()) {
        return absl::FailedPreconditionError(
            absl::StrCat("resource '", r.options.name, "' lives on ",
                         PartName(r.node), ", which has no address"));
      }
      TB_ASSIGN_OR_RETURN(bus::directory_actor dir, Connect(address->second));
      absl::Status imported = bus::ImportResource(bus_, dir, r.options.name);
      if (!imported.ok()) {
        return actors::PrefixStatus(
            absl::StrCat(PartName(r.node), " at ", address->second), imported);
      }
      return bus_.Lookup(r.options.name);
    };
  }

  // Connects to the directory at `address`, trying again until
  // `connect_timeout_s` has passed: a node may still be starting, and CAF
  // drops a connection whose handshake has not arrived by its next
  // heartbeat, which a loaded machine can miss once.
  absl::StatusOr<bus::directory_actor> Connect(const std::string& address) {
    if (auto it = connected_.find(address); it != connected_.end()) {
      return it->second;
    }
    TB_ASSIGN_OR_RETURN(auto host_port, bus::ParseHostPort(address));
    const auto deadline = Clock::now() + Millis(connect_timeout_s_);
    while (true) {
      absl::StatusOr<bus::directory_actor> dir =
          bus::ConnectNode(sys_, host_port.first, host_port.second);
      if (dir.ok()) return connected_[address] = *dir;
      // A refused certificate, or TLS on one side only: retrying won't help.
      if (IsRefusal(dir.status())) return dir.status();
      if (Clock::now() >= deadline) {
        return absl::Status(dir.status().code(),
                            absl::StrFormat("%s (for %.0f s)",
                                            dir.status().message(),
                                            connect_timeout_s_));
      }
      std::this_thread::sleep_for(kConnectRetry);
    }
  }

  void set_connect_timeout_s(double s) { connect_timeout_s_ = s; }

  // The directory at `address`, known without connecting (Connect uses it).
  void Known(const std::string& address, bus::directory_actor dir) {
    if (dir) connected_[address] = std::move(dir);
  }


 private:
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  bus::Bus bus_;
  PartContext ctx_;
  uint16_t port_ = 0;
  double connect_timeout_s_ = 60;
  std::map<std::string, bus::directory_actor> connected_;
};

// Declares the resources `part` owns, so that other parts can import them
// before this part has built the rest (BuildPart declares them again, which
// returns the same resources).
absl::Status DeclareOwned(const TopologySpec& spec, const std::string& part,
                          bus::Bus& bus) {
  for (const ResourceSpec& r : spec.resources) {
    if (r.node == part) TB_RETURN_IF_ERROR(bus.Declare(r.options).status());
  }
  return absl::OkStatus();
}

DeliverySpec DeliveryOf(const Heartbeat& h) {
  DeliverySpec d;
  d.heartbeat_s = h.heartbeat_s;
  d.connection_timeout_s = h.connection_timeout_s;
  return d;
}

// Where the hub keeps checkpoints: `given`, else beside the log of the
// first durable resource on the hub (what the checkpoints' offsets index),
// else nowhere (memory only).
std::string CheckpointDir(const TopologySpec& spec, const std::string& given) {
  if (!given.empty()) return given;
  for (const ResourceSpec& r : spec.resources) {
    if (r.node.empty() && r.options.durable()) {
      return r.options.log_dir + "/checkpoints";
    }
  }
  return "";
}

// ---- node ------------------------------------------------------------------

// A node's run, driven by the hub's messages on the node's main thread.
class NodeRun {
 public:
  NodeRun(const NodeOptions& options, Process& process,
          caf::scoped_actor& self)
      : options_(options), process_(process), self_(self) {}

  absl::Status Serve() {
    const auto deadline = Clock::now() + Millis(options_.timeout_s);
    while (!finished_ && status_.ok()) {
      bool timed_out = false;
      self_->receive(
          [&](prepare_atom, caf::actor& hub, caf::actor& hub_directory,
              const std::string& text, const std::vector<std::string>& args,
              const std::string& part, const NodeAddresses& addresses,
              uint64_t checkpoint_every) {
            process_.ctx().checkpoint_every = checkpoint_every;
            // The hub's directory through the connection the hub made: one
            // connection per pair of nodes. (A second one back used to drop
            // both under TLS; bus/internal/ssl_error_queue.h fixed that, and
            // one connection is still the simpler thing to watch.)
            if (auto it = addresses.find(""); it != addresses.end()) {
              process_.Known(it->second, caf::actor_cast<bus::directory_actor>(
                                             hub_directory));
            }
            OnPrepare(std::move(hub), text, args, part, addresses);
          },
          [&](build_atom) { Reply(built_atom::value, Build()); },
          [&](start_atom) { Fail(process_.ctx().StartSources()); },
          [&](ModelSummary& s) {
            self_->send(hub_, summary_atom::value, options_.name, std::move(s));
          },
          [&](actors::ModelCheckpoint& c) { self_->send(hub_, std::move(c)); },
          [&](bus::done_atom, std::string& source, uint64_t published) {
            self_->send(hub_, bus::done_atom::value, std::move(source),
                        published);
          },
          [&](bus::done_atom, std::string& source, uint64_t published,
              uint64_t) {
            self_->send(hub_, bus::done_atom::value, std::move(source),
                        published);
          },
          [&](finish_atom) { finished_ = true; },
          [&](caf::down_msg& down) {
            if (down.source != hub_.address()) return;
            Fail(absl::UnavailableError(absl::StrCat(
                "lost the hub at ", hub_address_, " (",
                self_->system().render(down.reason),
                "); is it still running?")));
          },
          caf::after(Left(deadline)) >> [&] { timed_out = true; });
      if (timed_out && !finished_) {
        Fail(absl::DeadlineExceededError(absl::StrFormat(
            "node %s: no run %s within --timeout_s=%.0f", options_.name,
            hub_ ? "finished" : "came", options_.timeout_s)));
      }
    }
    return status_;
  }

 private:
  void OnPrepare(caf::actor hub, const std::string& text,
                 const std::vector<std::string>& args, const std::string& part,
                 const NodeAddresses& addresses) {
    if (hub_) {
      self_->send(hub, prepared_atom::value, options_.name,
                  CodeOf(absl::UnavailableError("")),
                  std::string("this node is already in another hub's run; "
                              "start one more `trainbus node`"));
      return;
    }
    hub_ = std::move(hub);
    self_->monitor(hub_);
    if (auto it = addresses.find(""); it != addresses.end()) {
      hub_address_ = it->second;
    }
    Reply(prepared_atom::value, Prepare(text, args, part, addresses));
  }

  absl::Status Prepare(const std::string& text,
                       const std::vector<std::string>& args,
                       const std::string& part,
                       const NodeAddresses& addresses) {
    if (part != options_.name) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the hub sent the part of node '", part, "' to node '",
          options_.name, "'; check --nodes against each node's --name"));
    }
    TB_ASSIGN_OR_RETURN(spec_, ParseSpec(text, "the hub's spec"));
    if (!args.empty()) {
      if (!options_.apply_args) {
        return absl::InvalidArgumentError("this node takes no run flags");
      }
      TB_RETURN_IF_ERROR(options_.apply_args(args, &spec_));
    }
    // The same placement as the hub's, to say what this part imports.
    NodeAddresses nodes = addresses;
    nodes.erase("");
    TB_ASSIGN_OR_RETURN(placement_, Place(spec_, nodes));
    process_.ResolveFrom(addresses);
    process_.ctx().listener = caf::actor{self_};
    process_.ctx().print = !absl::c_linear_search(args, "--quiet");
    return DeclareOwned(spec_, part, process_.bus());
  }

  absl::Status Build() {
    absl::Status built = BuildPart(spec_, options_.name, process_.ctx());
    if (!built.ok()) return built;
    std::string imports;
    for (const auto& [owner, names] :
         placement_.Imports(spec_, options_.name)) {
      absl::StrAppend(&imports, "; imported ", absl::StrJoin(names, ", "),
                      " from ", PartName(owner));
    }
    std::cout << options_.name << ": built "
              << process_.ctx().models().size() << " model(s), "
              << process_.ctx().consumers().size() << " consumer(s), "
              << process_.ctx().sources().size() << " source(s)" << imports
              << std::endl;
    return built;
  }

  template <class Atom>
  void Reply(Atom atom, const absl::Status& s) {
    self_->send(hub_, atom, options_.name, CodeOf(s),
                std::string(s.message()));
    Fail(s);
  }

  void Fail(const absl::Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }

  const NodeOptions& options_;
  Process& process_;
  caf::scoped_actor& self_;
  TopologySpec spec_;  // outlives the part (Process is destroyed after)
  Placement placement_;
  caf::actor hub_;
  std::string hub_address_ = "(unknown)";
  bool finished_ = false;
  absl::Status status_;
};

// ---- hub -------------------------------------------------------------------

// A lost model's figures: those of its last test report.
void ReadFigures(const bus::Metric& m, ModelSummary* s) {
  auto value = [&](const char* key) {
    auto it = m.values.find(key);
    return it == m.values.end() ? 0.0 : it->second;
  };
  s->test_accuracy = value("test_accuracy");
  s->prequential_accuracy = value("prequential_accuracy");
  s->steps = m.step;
  s->samples = static_cast<uint64_t>(value("samples"));
  s->samples_per_second = value("samples_per_second");
  s->rejected_shape = static_cast<uint64_t>(value("rejected_shape"));
  s->rejected_label = static_cast<uint64_t>(value("rejected_label"));
}

// One model's outcome at the hub.
struct Outcome {
  PlacedModel placed;
  ModelSummary summary;
};

// The hub's run on its main thread: the nodes' replies, every model's
// summary and the metrics that a lost model's row falls back on.
class HubRun {
 public:
  HubRun(const TopologySpec& spec, const Placement& placement,
         const PlacedOptions& options, Process& process,
         caf::scoped_actor& self)
      : spec_(spec),
        placement_(placement),
        options_(options),
        process_(process),
        self_(self),
        credit_(kMetricsCredit / 8) {
    for (const ModelEntry& m : spec.models) {
      part_of_model_[m.name] = placement.PartOf(m.node);
    }
    if (spec.delivery.checkpoint_every > 0) {
      const std::string dir = CheckpointDir(spec, options.checkpoint_dir);
      if (!dir.empty()) store_.emplace(dir);
    }
  }

  // Finds every node's main thread and watches it.
  absl::Status Connect() {
    for (const auto& [name, address] : placement_.addresses()) {
      absl::StatusOr<bus::directory_actor> dir = process_.Connect(address);
      absl::Status found = dir.status();
      if (found.ok()) {
        found = bus::ImportResource(process_.bus(), *dir,
                                    absl::StrCat(kNodeAgentName, ".", name));
      }
      if (IsRefusal(found)) {
        return absl::Status(found.code(), absl::StrCat("node '", name, "': ",
                                                       found.message()));
      }
      if (!found.ok()) {
        return absl::UnavailableError(absl::StrCat(
            "node '", name, "' at ", address, ": ", found.message(),
            "; start it with `trainbus node --name=", name,
            " --listen=", address, "`"));
      }
    }
    for (const auto& [name, address] : placement_.addresses()) {
      TB_ASSIGN_OR_RETURN(
          bus::resource_actor agent,
          process_.bus().Lookup(absl::StrCat(kNodeAgentName, ".", name)));
      agents_[name] = caf::actor_cast<caf::actor>(agent);
      self_->monitor(agents_[name]);
    }
    ReportNodes();
    return absl::OkStatus();
  }

  // Every node parses the spec and declares what it owns; then every part
  // builds; then the sources start.
  absl::Status Build(const std::string& spec_text, const std::string& hub) {
    NodeAddresses addresses = placement_.addresses();
    addresses[""] = hub;
    for (const auto& [name, agent] : agents_) {
      self_->send(agent, prepare_atom::value, caf::actor{self_},
                  caf::actor_cast<caf::actor>(process_.bus().directory()),
                  spec_text, options_.run_args, name, addresses,
                  spec_.delivery.checkpoint_every);
    }
    TB_RETURN_IF_ERROR(DeclareOwned(spec_, "", process_.bus()));
    TB_RETURN_IF_ERROR(AwaitNodes("prepare", prepared_atom::value));
    process_.ResolveFrom(addresses);
    process_.ctx().listener = caf::actor{self_};
    process_.ctx().print = options_.print;
    for (const auto& [name, agent] : agents_) {
      self_->send(agent, build_atom::value);
    }
    // Without nodes the hub's part is all of it.
    const std::string part =
        placement_.distributed() ? "" : std::string(kEveryNode);
    TB_RETURN_IF_ERROR(actors::PrefixStatus(
        "the hub", BuildPart(spec_, part, process_.ctx())));
    TB_RETURN_IF_ERROR(AwaitNodes("build", built_atom::value));
    TB_RETURN_IF_ERROR(WatchMetrics());
    if (!options_.hooks.after_build) return absl::OkStatus();
    return options_.hooks.after_build(process_.ctx());
  }

  absl::Status Start() {
    start_ = Clock::now();
    for (const auto& [name, agent] : agents_) {
      self_->send(agent, start_atom::value);
    }
    return process_.ctx().StartSources();
  }

  // Until every model has a result (a lost node's models are "lost").
  absl::StatusOr<PlacedReport> Wait() {
    const auto deadline = Clock::now() + Millis(options_.timeout_s);
    while (results_.size() < spec_.models.size()) {
      bool timed_out = false;
      self_->receive(
          [&](summary_atom, const std::string& part, ModelSummary& s) {
            OnSummary(part, std::move(s));
          },
          [&](ModelSummary& s) { OnSummary("", std::move(s)); },
          [&](bus::done_atom, const std::string& source, uint64_t published) {
            published_[source] = published;
          },
          [&](bus::done_atom, const std::string& source, uint64_t published,
              uint64_t) { published_[source] = published; },
          [&](bus::deliver_atom, uint64_t, const bus::Metric& m) {
            OnMetric(m);
          },
          [&](actors::ModelCheckpoint& c) { OnCheckpoint(std::move(c)); },
          [&](caf::down_msg& down) { OnDown(down); },
          caf::after(Left(deadline)) >> [&] { timed_out = true; });
      if (timed_out) {
        std::vector<std::string> missing;
        for (const ModelEntry& m : spec_.models) {
          if (!results_.count(m.name)) missing.push_back(m.name);
        }
        return absl::DeadlineExceededError(absl::StrFormat(
            "the run did not finish within %.0f s; still training: %s",
            options_.timeout_s, absl::StrJoin(missing, ", ")));
      }
    }
    return Report();
  }

  // The hub's consumers confirm they received everything, and finished
  // models go to the spec's registry (the hub has every checkpoint).
  absl::Status Finalize(RunReport* run) {
    TB_RETURN_IF_ERROR(Drain(spec_, process_.ctx(), self_,
                             Millis(options_.connect_timeout_s), run));
    return actors::PrefixStatus("registry", SaveModels(spec_, *run));
  }

  // Tells every live node that the run is over.
  void Finish() {
    for (const auto& [name, agent] : agents_) {
      if (!lost_.count(name)) self_->send(agent, finish_atom::value);
    }
    if (!agents_.empty()) ReportNodes("finished");
  }

 private:
  template <class Atom>
  absl::Status AwaitNodes(const char* phase, Atom) {
    const auto deadline = Clock::now() + Millis(options_.connect_timeout_s);
    std::set<std::string> waiting;
    for (const auto& [name, agent] : agents_) waiting.insert(name);
    absl::Status status;
    while (!waiting.empty() && status.ok()) {
      bool timed_out = false;
      self_->receive(
          [&](Atom, const std::string& node, int32_t code,
              const std::string& error) {
            waiting.erase(node);
            if (code != 0 && status.ok()) {
              // The node's own code: bad data stays InvalidArgument.
              status = absl::Status(
                  static_cast<absl::StatusCode>(code),
                  absl::StrCat("node '", node, "' could not ", phase,
                               " its part: ", error));
            }
          },
          [&](caf::down_msg& down) {
            status = absl::UnavailableError(absl::StrCat(
                "node '", NodeOf(down.source), "' went away during ", phase,
                " (", self_->system().render(down.reason), ")"));
          },
          caf::after(Left(deadline)) >> [&] { timed_out = true; });
      if (timed_out) {
        return absl::DeadlineExceededError(absl::StrFormat(
            "no answer to %s from node(s) %s within %.0f s; are they "
            "running `trainbus node` and reachable?",
            phase, absl::StrJoin(waiting, ", "), options_.connect_timeout_s));
      }
    }
    return status;
  }

  // The hub hears every model's test reports, for a lost model's row.
  absl::Status WatchMetrics() {
    std::set<std::string> outputs;
    for (const ModelEntry& m : spec_.models) {
      if (!m.output.empty()) outputs.insert(m.output);
    }
    for (const std::string& name : outputs) {
      TB_ASSIGN_OR_RETURN(bus::resource_actor r,
                          process_.ctx().Resource(name));
      bus::SubscribeOptions sub;
      sub.name = "hub";
      sub.initial_credit = kMetricsCredit;
      sub.policy = bus::Policy::kBlock;  // a test report is never dropped
      bus::SubscribeNow(caf::actor{self_}, r, sub);
    }
    return absl::OkStatus();
  }

  void OnMetric(const bus::Metric& m) {
    credit_.Consumed(self_.ptr(),
                     caf::actor_cast<caf::actor>(self_->current_sender()));
    if (m.split == "test") ReadFigures(m, &progress_[m.model]);
    if (options_.hooks.on_metric) options_.hooks.on_metric(m);
  }

  // Every node with a part: lost, else `live` ("connected", "finished").
  void ReportNodes(const char* live = "connected") {
    if (!options_.on_nodes) return;
    std::vector<NodeStatus> nodes;
    for (const auto& [name, address] : placement_.addresses()) {
      nodes.push_back({name, address, lost_.count(name) ? "lost" : live});
    }
    options_.on_nodes(nodes);
  }

  void OnSummary(const std::string& part, ModelSummary s) {
    if (results_.count(s.name)) return;
    Outcome& o = results_[s.name];
    if (auto moved = moves_.find(s.name); moved != moves_.end()) {
      o.placed = moved->second;
    }
    o.placed.part = part;
    o.placed.status = s.error.empty() ? "done" : "failed";
    o.placed.checkpoint_sha256 = registry::BlobStore::Sha256Hex(s.checkpoint);
    o.summary = std::move(s);
    if (options_.print) {
      std::cout << "hub: " << FormatPlacedResult(o.summary, o.placed)
                << std::endl;
    }
  }

  void OnDown(const caf::down_msg& down) {
    const std::string node = NodeOf(down.source);
    if (node.empty() || lost_.count(node)) return;
    std::vector<std::string> unfinished;
    for (const auto& [model, part] : part_of_model_) {
      if (part == node && !results_.count(model)) unfinished.push_back(model);
    }
    if (unfinished.empty()) return;  // it finished and left
    lost_.insert(node);
    ReportNodes();
    std::cout << "hub: lost node " << node << " ("
              << self_->system().render(down.reason) << ") with "
              << unfinished.size()
              << " unfinished model(s): " << absl::StrJoin(unfinished, ", ")
              << "; the others carry on" << std::endl;
    for (const std::string& model : unfinished) {
      if (spec_.delivery.checkpoint_every > 0 && Move(node, model)) continue;
      // Keeps the figures of its last report: the progress it did make.
      Outcome& o = results_[model];
      o.placed.part = node;
      o.placed.status = "lost";
      o.summary = progress_[model];
      o.summary.name = model;
      o.summary.error = absl::StrFormat(
          "node %s died before the end of the stream; figures as of its "
          "last report (step %d)",
          node, o.summary.steps);
    }
  }

  // Resumes `model` of the dead `node` on the hub from its last checkpoint;
  // false (said why) when it cannot.
  // Kept in memory and, with a checkpoint store, on disk first: a model
  // restarted on the hub reads it back from there.
  void OnCheckpoint(actors::ModelCheckpoint c) {
    ++checkpoints_received_;
    if (store_) {
      if (absl::Status s = store_->Save(c); !s.ok()) {
        std::cout << "hub: cannot keep the checkpoint of " << c.model
                  << " on disk (" << s.message()
                  << "); it is kept in memory only" << std::endl;
      }
    }
    const std::string model = c.model;
    checkpoints_[model] =
        std::make_shared<const actors::ModelCheckpoint>(std::move(c));
  }

  // The model's latest checkpoint: from the store when there is one (what a
  // restart after the hub's own death would have), else from memory.
  std::shared_ptr<const actors::ModelCheckpoint> LatestCheckpoint(
      const std::string& model) {
    if (store_) {
      absl::StatusOr<std::optional<actors::ModelCheckpoint>> c =
          store_->Load(model);
      if (c.ok() && c->has_value()) {
        return std::make_shared<const actors::ModelCheckpoint>(**std::move(c));
      }
      if (!c.ok()) {
        std::cout << "hub: " << c.status().message()
                  << "; using the copy in memory" << std::endl;
      }
    }
    auto it = checkpoints_.find(model);
    return it == checkpoints_.end() ? nullptr : it->second;
  }

  bool Move(const std::string& node, const std::string& model) {
    std::shared_ptr<const actors::ModelCheckpoint> checkpoint =
        LatestCheckpoint(model);
    absl::Status moved =
        ResumeModel(spec_, model, checkpoint, process_.ctx());
    if (!moved.ok()) {
      std::cout << "hub: cannot move " << model << " off node " << node
                << ": " << moved.message() << "; it is lost" << std::endl;
      return false;
    }
    PlacedModel& placed = moves_[model];
    placed.moved_from = node;
    placed.resumed_at = checkpoint ? checkpoint->samples : 0;
    const uint64_t reported = progress_[model].samples;
    placed.retrained =
        reported > placed.resumed_at ? reported - placed.resumed_at : 0;
    part_of_model_[model] = "";
    std::string from = "from scratch (no checkpoint yet)";
    if (checkpoint) {
      std::vector<std::string> offsets;
      for (const auto& [resource, offset] : checkpoint->offsets) {
        offsets.push_back(absl::StrCat(resource, " after offset ", offset));
      }
      from = absl::StrCat("from its checkpoint at ", checkpoint->samples,
                          " samples, replaying ",
                          absl::StrJoin(offsets, ", "));
    }
    std::cout << "hub: moved " << model << " off node " << node
              << " to the hub: resumes " << from << " (" << placed.retrained
              << " samples it had trained past the checkpoint are trained "
                 "again)"
              << std::endl;
    return true;
  }

  std::string NodeOf(const caf::actor_addr& source) const {
    for (const auto& [name, agent] : agents_) {
      if (agent.address() == source) return name;
    }
    return "";
  }

  PlacedReport Report() {
    PlacedReport r;
    RunReport& run = r.run;
    run.name = spec_.name;
    run.wall_seconds =
        std::chrono::duration<double>(Clock::now() - start_).count();
    for (const SourceSpec& s : spec_.sources) {
      run.sources.push_back({s.name, s.kind, published_[s.name], 0});
      if (s.kind != SourceKind::kIdxGenerator || !run.data_dir.empty()) {
        continue;
      }
      run.data_dir = s.data_dir;
      run.epochs = s.epochs;
      run.train_samples = s.epochs > 0 ? published_[s.name] / s.epochs : 0;
    }
    for (const ModelEntry& m : spec_.models) {
      Outcome& o = results_[m.name];
      // A lost model's summary has only its figures: name what it was.
      if (o.summary.spec.empty()) o.summary.spec = m.spec_text;
      if (o.summary.arch.empty()) o.summary.arch = std::string(nn::ArchName(m.spec.arch));
      run.models.push_back(std::move(o.summary));
      r.placed.push_back(std::move(o.placed));
    }
    for (const auto& [name, agent] : agents_) r.nodes.push_back(name);
    r.lost_nodes.assign(lost_.begin(), lost_.end());
    r.checkpoints = checkpoints_received_;
    return r;
  }

  const TopologySpec& spec_;
  const Placement& placement_;
  const PlacedOptions& options_;
  Process& process_;
  caf::scoped_actor& self_;
  bus::CreditReturner credit_;
  std::map<std::string, caf::actor> agents_;
  std::map<std::string, std::string> part_of_model_;
  std::map<std::string, Outcome> results_;
  std::map<std::string, ModelSummary> progress_;  // the last test reports
  std::set<std::string> lost_;
  std::map<std::string, uint64_t> published_;  // by source
  // The last checkpoint of each model on a node, and how many came.
  std::map<std::string, std::shared_ptr<const actors::ModelCheckpoint>>
      checkpoints_;
  uint64_t checkpoints_received_ = 0;
  std::optional<CheckpointStore> store_;  // DIR/<model>.ckpt
  std::map<std::string, PlacedModel> moves_;  // models moved off dead nodes
  Clock::time_point start_ = Clock::now();
};

}  // namespace

absl::Status RunNode(const NodeOptions& options) {
  if (options.name.empty()) {
    return absl::InvalidArgumentError(
        "a node needs --name=N, the name the spec's `nodes:` gives it");
  }
  TB_RETURN_IF_ERROR(CheckDelivery(DeliveryOf(options.heartbeat)));
  TB_ASSIGN_OR_RETURN(bus::TlsOptions tls,
                      ProcessTls(options.tls, options.name));
  Process process(options.heartbeat, tls);
  caf::scoped_actor self{process.sys()};
  // The hub finds this thread by name in the directory the node serves.
  TB_RETURN_IF_ERROR(
      process.bus()
          .Attach(absl::StrCat(kNodeAgentName, ".", options.name),
                  caf::actor_cast<bus::resource_actor>(caf::actor{self}))
          .status());
  TB_ASSIGN_OR_RETURN(std::string address, process.Serve(options.listen));
  if (options.on_listening) options.on_listening(address);
  return NodeRun(options, process, self).Serve();
}

absl::StatusOr<PlacedReport> RunPlaced(const TopologySpec& given,
                                       const std::string& spec_text,
                                       const Placement& placement,
                                       const PlacedOptions& options) {
  TopologySpec spec = given;
  DeliverySpec& d = spec.delivery;
  d.heartbeat_s = options.heartbeat_s.value_or(d.heartbeat_s);
  d.connection_timeout_s =
      options.connection_timeout_s.value_or(d.connection_timeout_s);
  d.checkpoint_every = options.checkpoint_every.value_or(d.checkpoint_every);
  TB_RETURN_IF_ERROR(CheckDelivery(d));
  bus::TlsSettings settings = options.tls;
  if (!settings.given() && spec.tls) settings = spec.tls->settings;
  TB_ASSIGN_OR_RETURN(bus::TlsOptions tls, ProcessTls(settings, "hub"));
  Process process(Heartbeat{d.heartbeat_s, d.connection_timeout_s}, tls);
  process.set_connect_timeout_s(options.connect_timeout_s);
  caf::scoped_actor self{process.sys()};
  TB_ASSIGN_OR_RETURN(std::string hub, process.Serve(options.listen));
  HubRun run(spec, placement, options, process, self);
  absl::Status status = run.Connect();
  if (status.ok()) status = run.Build(spec_text, hub);
  if (status.ok()) status = run.Start();
  absl::StatusOr<PlacedReport> report =
      status.ok() ? run.Wait() : absl::StatusOr<PlacedReport>(status);
  if (report.ok()) status = run.Finalize(&report->run);
  if (options.hooks.before_teardown) options.hooks.before_teardown();
  run.Finish();
  if (!status.ok()) return status;
  return report;
}

std::string FormatPlacedResult(const ModelSummary& m,
                               const PlacedModel& placed) {
  return absl::StrFormat(
      "RESULT node=%s model=%s status=%s test_accuracy=%.4f "
      "prequential_accuracy=%.4f steps=%d samples=%d samples_per_s=%.0f "
      "checkpoint_sha256=%s",
      placed.part.empty() ? "hub" : placed.part, m.name, placed.status,
      m.test_accuracy, m.prequential_accuracy, m.steps, m.samples,
      m.samples_per_second,
      placed.checkpoint_sha256.empty() ? "-"
                                       : placed.checkpoint_sha256.substr(0, 16));
}

std::string FormatPlacedReport(const PlacedReport& report) {
  std::string out = FormatSummaryTable(report.run);
  uint64_t published = 0;
  for (const SourceReport& s : report.run.sources) published += s.published;
  for (const std::string& node : report.nodes) {
    std::vector<std::string> models;
    for (size_t i = 0; i < report.placed.size(); ++i) {
      const PlacedModel& p = report.placed[i];
      if (p.part != node && p.moved_from != node) continue;
      models.push_back(absl::StrCat(
          report.run.models[i].name, " (",
          p.part == node ? p.status : "moved to the hub", ")"));
    }
    absl::StrAppend(&out, "node ", node, ": ",
                    models.empty() ? "no models" : absl::StrJoin(models, ", "),
                    "\n");
  }
  for (size_t i = 0; i < report.placed.size(); ++i) {
    const PlacedModel& p = report.placed[i];
    if (p.moved_from.empty()) continue;
    const actors::ModelSummary& m = report.run.models[i];
    absl::StrAppendFormat(
        &out,
        "moved %s off %s: resumed at %d samples, %d replayed from the log, "
        "%d trained again, %d duplicates dropped\n",
        m.name, p.moved_from, p.resumed_at, m.samples - p.resumed_at,
        p.retrained, m.duplicates);
  }
  absl::StrAppendFormat(
      &out, "%d node(s), %d lost%s; %d samples published\n",
      report.nodes.size(), report.lost_nodes.size(),
      report.lost_nodes.empty()
          ? ""
          : absl::StrCat(" (", absl::StrJoin(report.lost_nodes, ", "), ")"),
      published);
  return out;
}

std::string PlacedReportToJson(const PlacedReport& report) {
  report::Json doc =
      report::Json::parse(ReportToJson(report.run), nullptr, false);
  for (size_t i = 0; i < report.placed.size(); ++i) {
    report::Json& m = doc["models"][i];
    m["node"] = report.placed[i].part;
    m["status"] = report.placed[i].status;
    m["checkpoint_sha256"] = report.placed[i].checkpoint_sha256;
    m["duplicates"] = report.run.models[i].duplicates;
    if (report.placed[i].moved_from.empty()) continue;
    m["moved_from"] = report.placed[i].moved_from;
    m["resumed_at"] = report.placed[i].resumed_at;
    m["retrained"] = report.placed[i].retrained;
  }
  doc["nodes"] = report.nodes;
  doc["lost_nodes"] = report.lost_nodes;
  // What recovery did, in one place: the counters of the run.
  report::Json moved = report::Json::array();
  uint64_t replayed = 0, retrained = 0, duplicates = 0;
  for (size_t i = 0; i < report.placed.size(); ++i) {
    const PlacedModel& p = report.placed[i];
    const actors::ModelSummary& m = report.run.models[i];
    duplicates += m.duplicates;
    if (p.moved_from.empty()) continue;
    moved.push_back(m.name);
    replayed += m.samples - p.resumed_at;
    retrained += p.retrained;
  }
  doc["recovery"] = {{"nodes_lost", report.lost_nodes.size()},
                     {"models_moved", moved},
                     {"samples_replayed", replayed},
                     {"samples_retrained", retrained},
                     {"duplicates_dropped", duplicates},
                     {"checkpoints_received", report.checkpoints}};
  return report::ToJsonText(doc) + "\n";
}

namespace {

// The flags `trainbus run --nodes` reads itself; any other goes to the
// runner's overrides, on the hub and on every node.
struct PlacedFlags {
  std::string spec_path;
  std::string nodes;
  std::string report_json;
  PlacedOptions options;
  bool help = false;
  // The hub's dashboard (--dashboard, not passed on), and the run flags it
  // reads too (passed on as well).
  std::optional<std::string> dashboard;
  bool dashboard_hold = false;
  std::optional<std::string> auth_token, registry_dir;
};

// --auth_token=T and --registry_dir=D, which the hub's dashboard reads and
// every node is given too.
void ReadSharedFlag(const std::string& arg, PlacedFlags* f) {
  for (auto [flag, field] :
       {std::make_pair("--auth_token=", &f->auth_token),
        std::make_pair("--registry_dir=", &f->registry_dir)}) {
    if (absl::StartsWith(arg, flag)) *field = arg.substr(strlen(flag));
  }
}

absl::StatusOr<PlacedFlags> ReadPlacedFlags(
    const std::vector<std::string>& args) {
  PlacedFlags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      f.help = true;
      continue;
    }
    if (a == "--quiet") {
      f.options.print = false;
      f.options.run_args.push_back(a);  // the nodes' model actors too
      continue;
    }
    if (a == "--dashboard_hold") {
      f.dashboard_hold = true;
      continue;
    }
    if (a == "--insecure") {
      f.options.tls.insecure = true;
      continue;
    }
    if (!absl::StartsWith(a, "--")) {
      if (!f.spec_path.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument '", a, "'; give one SPEC"));
      }
      f.spec_path = UserPath(a);
      continue;
    }
    std::string name = a.substr(2), value;
    const size_t eq = name.find('=');
    const bool mine = absl::c_linear_search(
        std::vector<std::string>{"nodes", "listen", "report_json",
                                 "timeout_s", "connect_timeout_s",
                                 "heartbeat_s", "connection_timeout_s",
                                 "checkpoint_every", "checkpoint_dir",
                                 "dashboard", "tls_dir",
                                 "tls_certificate", "tls_key", "tls_cafile"},
        name.substr(0, eq));
    if (!mine) {
      ReadSharedFlag(a, &f);
      f.options.run_args.push_back(a);
      continue;
    }
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name,
                                                     " needs a value"));
    }
    double seconds = 0;
    uint64_t count = 0;
    if (ReadTlsPathFlag(name, value, &f.options.tls)) {
    } else if (name == "nodes") {
      f.nodes = value;
    } else if (name == "dashboard") {
      f.dashboard = value;
    } else if (name == "checkpoint_dir") {
      f.options.checkpoint_dir = UserPath(value);
    } else if (name == "checkpoint_every") {
      if (!absl::SimpleAtoi(value, &count)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--checkpoint_every=", value,
                         ": give a number of samples (0: none)"));
      }
      f.options.checkpoint_every = count;
    } else if (name == "listen") {
      f.options.listen = value;
    } else if (name == "report_json") {
      f.report_json = UserPath(value);
    } else if (!absl::SimpleAtod(value, &seconds) || seconds <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, "=", value, ": give a number of seconds above 0"));
    } else if (name == "heartbeat_s") {
      f.options.heartbeat_s = seconds;
    } else if (name == "connection_timeout_s") {
      f.options.connection_timeout_s = seconds;
    } else {
      (name == "timeout_s" ? f.options.timeout_s
                           : f.options.connect_timeout_s) = seconds;
    }
  }
  if (f.spec_path.empty() && !f.help) {
    return absl::InvalidArgumentError("give the spec file: trainbus run SPEC");
  }
  TB_RETURN_IF_ERROR(ParseListen(f.options.listen).status());
  return f;
}

// The spec of a placed run and the hub's dashboard, which points into it.
struct PlacedRun {
  TopologySpec spec;
  std::unique_ptr<RunDashboard> dashboard;
};

// The nodes' states as the gateway counts and lists them.
gateway::NodeCounts CountNodes(const std::vector<NodeStatus>& nodes) {
  gateway::NodeCounts counts;
  for (const NodeStatus& n : nodes) {
    counts.connected += n.state == "connected";
    counts.lost += n.state == "lost";
    counts.nodes.push_back({n.name, n.address, n.state});
  }
  return counts;
}

// --dashboard: the gateway on the hub, listening before the nodes are
// reached, fed by the hub's hooks and told of every node's state.
absl::Status StartPlacedDashboard(const PlacedFlags& f, std::ostream& out,
                                  PlacedRun* run, PlacedOptions* options) {
  TB_ASSIGN_OR_RETURN(
      run->dashboard,
      RunDashboard::Start(run->spec,
                          DashboardOptionsFor(run->spec, *f.dashboard,
                                              f.auth_token, f.registry_dir)));
  run->dashboard->Attach(&options->hooks);
  gateway::Gateway* gw = &run->dashboard->gateway();
  options->on_nodes = [gw](const std::vector<NodeStatus>& nodes) {
    gw->SetNodes(CountNodes(nodes));
  };
  out << "dashboard: " << run->dashboard->url() << std::endl;
  return absl::OkStatus();
}

absl::StatusOr<PlacedReport> RunPlacedFromFlags(const PlacedFlags& f,
                                                const ApplyRunArgs& apply_args,
                                                std::ostream& out,
                                                PlacedRun* run) {
  TB_ASSIGN_OR_RETURN(std::string text, base::ReadFile(f.spec_path));
  TB_ASSIGN_OR_RETURN(run->spec, ParseSpec(text, f.spec_path));
  TopologySpec& spec = run->spec;
  if (!f.options.run_args.empty()) {
    if (!apply_args) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown flag(s) ", absl::StrJoin(f.options.run_args, " ")));
    }
    TB_RETURN_IF_ERROR(apply_args(f.options.run_args, &spec));
  }
  TB_ASSIGN_OR_RETURN(NodeAddresses nodes, ParseNodesFlag(f.nodes));
  TB_ASSIGN_OR_RETURN(Placement placement, Place(spec, nodes));
  if (!f.report_json.empty()) {
    TB_RETURN_IF_ERROR(actors::PrefixStatus(
        "--report_json", base::CheckFileWritable(f.report_json)));
  }
  PlacedOptions options = f.options;
  if (f.dashboard) {
    TB_RETURN_IF_ERROR(StartPlacedDashboard(f, out, run, &options));
  }
  absl::StatusOr<PlacedReport> report =
      RunPlaced(spec, text, placement, options);
  if (run->dashboard) {
    run->dashboard->Finish(report.ok()
                               ? absl::StatusOr<RunReport>(report->run)
                               : absl::StatusOr<RunReport>(report.status()));
  }
  return report;
}

}  // namespace

bool HasNodesFlag(const std::vector<std::string>& args) {
  return absl::c_any_of(args, [](const std::string& a) {
    return a == "--nodes" || absl::StartsWith(a, "--nodes=");
  });
}

int PlacedRunMain(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err, const ApplyRunArgs& apply_args) {
  absl::StatusOr<PlacedFlags> flags = ReadPlacedFlags(args);
  if (flags.ok() && flags->help) {
    out << "usage: trainbus run SPEC --nodes=n1=HOST:PORT,... [flags]\n"
           "  runs SPEC with each component that has `node: n1` on node n1\n"
           "  (started with `trainbus node --name=n1 --listen=HOST:PORT`);\n"
           "  the rest runs here. Flags:\n"
           "  --nodes=...           every node that has a part, NAME=HOST:PORT\n"
           "  --listen=HOST:PORT    this hub's directory, for the nodes to\n"
           "                        import from (default 127.0.0.1:0)\n"
           "  --report_json=PATH    the models' results, with each final\n"
           "                        checkpoint's sha256\n"
           "  --timeout_s=S         for the whole run (default 3600)\n"
           "  --connect_timeout_s=S for each node to be reachable (the hub\n"
           "                        tries again until then) and to answer\n"
           "                        each phase (default 60)\n"
           "  --heartbeat_s=S       the middleman's heartbeat (default: the\n"
           "                        spec's delivery.heartbeat_s, else 1)\n"
           "  --connection_timeout_s=S  a node silent this long is dead\n"
           "                        (delivery.connection_timeout_s, else 10)\n"
           "  --checkpoint_every=N  node models checkpoint to the hub every N\n"
           "                        samples; a dead node's models resume on\n"
           "                        the hub (delivery.checkpoint_every, else 0)\n"
           "  --dashboard=[HOST]:PORT  the dashboard and the gateway's API on\n"
           "                        the hub, with the nodes' states and counts\n"
           "  --dashboard_hold      keep serving it after the run until a signal\n"
           "  --checkpoint_dir=DIR  where the hub keeps them, one file per model\n"
           "                        (default: LOG_DIR/checkpoints of the first\n"
           "                        durable resource on the hub)\n"
           "  --quiet               no progress lines\n"
        << bus::kTlsFlagsHelp
        << "  (one of --tls_dir, the three files, the spec's `tls:` or\n"
           "  --insecure is required)\n"
           "  and the spec flags of `trainbus run --help` (--epochs,\n"
           "  --train_limit, --models, ...), applied here and on every node.\n";
    return 0;
  }
  PlacedRun run;
  absl::StatusOr<PlacedReport> report =
      flags.ok() ? RunPlacedFromFlags(*flags, apply_args, out, &run)
                 : absl::StatusOr<PlacedReport>(flags.status());
  const bool hold = flags.ok() && flags->dashboard_hold && run.dashboard;
  if (!report.ok()) {
    err << "trainbus run: " << report.status().message() << "\n";
    if (hold) run.dashboard->HoldUntilSignal(out);
    return report.status().code() == absl::StatusCode::kInvalidArgument ? 2
                                                                        : 1;
  }
  for (size_t i = 0; i < report->placed.size(); ++i) {
    out << FormatPlacedResult(report->run.models[i], report->placed[i])
        << "\n";
  }
  out << "\n" << FormatPlacedReport(*report) << std::flush;
  if (!flags->report_json.empty()) {
    if (absl::Status s = base::WriteFileAtomically(flags->report_json,
                                                   PlacedReportToJson(*report));
        !s.ok()) {
      err << "trainbus run: " << s.message() << "\n";
      return 1;
    }
  }
  if (hold) run.dashboard->HoldUntilSignal(out);
  return 0;
}

int NodeMain(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err, const ApplyRunArgs& apply_args) {
  const std::string kUsage = absl::StrCat(
      "usage: trainbus node --name=N (--tls_dir=DIR | --insecure)\n"
      "                     [--listen=HOST:PORT] [--timeout_s=S]\n"
      "                     [--heartbeat_s=S] [--connection_timeout_s=S]\n"
      "  Starts a worker node: it serves its bus directory on --listen\n"
      "  (default 127.0.0.1:0, any free port), prints LISTENING host:port,\n"
      "  builds its share of the spec a hub sends (`trainbus run SPEC\n"
      "  --nodes=N=HOST:PORT,...`), runs it and exits when the run ends.\n"
      "  --timeout_s (default 3600): for a hub to come and the run to end.\n"
      "  --heartbeat_s (1), --connection_timeout_s (10): a hub silent that\n"
      "  long is lost.\n",
      bus::kTlsFlagsHelp);
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h" || a == "help") {
      out << kUsage;
      return 0;
    }
  }
  absl::StatusOr<std::vector<base::LongFlag>> flags =
      base::SplitLongFlags(args, /*switches=*/{"insecure"});
  if (!flags.ok()) {
    err << "trainbus node: " << flags.status().message() << "\n" << kUsage;
    return 2;
  }
  NodeOptions options;
  options.apply_args = apply_args;
  for (const base::LongFlag& f : *flags) {
    if (f.name == "name") {
      options.name = f.value;
    } else if (f.name == "insecure" && f.value.empty()) {
      options.tls.insecure = true;
    } else if (ReadTlsPathFlag(f.name, f.value, &options.tls)) {
    } else if (f.name == "listen") {
      options.listen = f.value;
    } else if (f.name == "timeout_s" &&
               absl::SimpleAtod(f.value, &options.timeout_s) &&
               options.timeout_s > 0) {
    } else if (f.name == "heartbeat_s" &&
               absl::SimpleAtod(f.value, &options.heartbeat.heartbeat_s)) {
    } else if (f.name == "connection_timeout_s" &&
               absl::SimpleAtod(f.value,
                                &options.heartbeat.connection_timeout_s)) {
    } else {
      err << "trainbus node: unknown or bad flag --" << f.name << "=" << f.value
          << "\n" << kUsage;
      return 2;
    }
  }
  if (absl::Status s = ParseListen(options.listen).status(); !s.ok()) {
    err << "trainbus node: " << s.message() << "\n";
    return 2;
  }
  options.on_listening = [&out](const std::string& address) {
    out << "LISTENING " << address << std::endl;
  };
  absl::Status s = RunNode(options);
  if (!s.ok()) {
    err << "trainbus node: " << s.message() << "\n";
    return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  out << options.name << ": the run finished" << std::endl;
  return 0;
}

}  // namespace trainbus::topology
