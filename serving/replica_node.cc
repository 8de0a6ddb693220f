#include "serving/replica_node.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "base/command_line.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "bus/node.h"
#include "bus/serve_process.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "kernels/nn/model.h"

namespace trainbus::serving {
namespace {

constexpr std::chrono::seconds kSpawnTimeout{60};

// The replicas a host spawned and that still run.
struct HostState {
  std::vector<replica_actor> replicas;
};

// Spawns replicas on request. They end with it: a gateway that lost this
// node cannot tell them to stop, and the actor system waits for every actor
// before the process exits on SIGTERM.
replica_host_actor::behavior_type ReplicaHost(
    replica_host_actor::stateful_pointer<HostState> self) {
  self->set_down_handler([self](caf::down_msg& down) {
    std::vector<replica_actor>& r = self->state.replicas;
    r.erase(std::remove_if(r.begin(), r.end(),
                           [&](const replica_actor& a) {
                             return a.address() == down.source;
                           }),
            r.end());
  });
  self->set_exit_handler([self](caf::exit_msg& exit) {
    for (const replica_actor& r : self->state.replicas) {
      self->send_exit(r, exit.reason);
    }
    self->quit(std::move(exit.reason));
  });
  return {
      [self](spawn_replica_atom,
             const std::string& checkpoint) -> caf::result<replica_actor> {
        absl::StatusOr<replica_actor> replica =
            SpawnReplicaActor(self->system(), checkpoint);
        if (!replica.ok()) return base::ToCafError(replica.status());
        self->monitor(*replica);
        self->state.replicas.push_back(*replica);
        return *replica;
      }};
}

// The hosts' handles, connected once each.
class Hosts {
 public:
  Hosts(caf::actor_system& system,
        std::vector<std::pair<std::string, uint16_t>> hosts)
      : system_(system), hosts_(std::move(hosts)) {}

  absl::StatusOr<replica_host_actor> Get(size_t i) {
    absl::MutexLock lock(&mu_);
    if (auto it = connected_.find(i); it != connected_.end() && it->second) {
      return it->second;
    }
    const auto& [host, port] = hosts_[i];
    TB_ASSIGN_OR_RETURN(replica_host_actor h,
                        bus::ConnectActor<replica_host_actor>(
                            system_, "replica node", host, port));
    return connected_[i] = h;
  }
  size_t size() const { return hosts_.size(); }
  std::string Name(size_t i) const {
    return absl::StrCat(hosts_[i].first, ":", hosts_[i].second);
  }

 private:
  caf::actor_system& system_;
  const std::vector<std::pair<std::string, uint16_t>> hosts_;
  absl::Mutex mu_;
  std::map<size_t, replica_host_actor> connected_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<replica_actor> Spawn(caf::actor_system& system,
                                    const replica_host_actor& host,
                                    absl::string_view checkpoint) {
  caf::scoped_actor self{system};
  absl::StatusOr<replica_actor> out = absl::UnavailableError("no reply");
  self->request(host, kSpawnTimeout, spawn_replica_atom::value,
                std::string(checkpoint))
      .receive([&](replica_actor& r) { out = std::move(r); },
               [&](caf::error& e) { out = base::ToStatus(e); });
  return out;
}

}  // namespace

void ConfigureReplicaSystem(caf::actor_system_config& cfg,
                            const bus::TlsOptions& tls) {
  cfg.load<caf::io::middleman>();
  bus::ConfigureTls(cfg, tls);
  cfg.set("middleman.heartbeat-interval",
          caf::timespan{std::chrono::seconds(1)});
  cfg.set("middleman.connection-timeout",
          caf::timespan{std::chrono::seconds(5)});
  cfg.set("logger.verbosity", caf::atom("quiet"));
  base::AddStatusErrors(cfg);
  AddReplicaTypes(cfg);
  cfg.add_message_type<replica_host_actor>("trainbus.replica_host_actor");
}

ReplicaFactory RemoteReplicas(
    caf::actor_system& system,
    std::vector<std::pair<std::string, uint16_t>> hosts,
    absl::Duration timeout) {
  auto shared = std::make_shared<Hosts>(system, std::move(hosts));
  return [&system, shared, timeout](
             absl::string_view checkpoint,
             int index) -> absl::StatusOr<std::unique_ptr<Replica>> {
    const size_t i = static_cast<size_t>(index) % shared->size();
    TB_ASSIGN_OR_RETURN(replica_host_actor host, shared->Get(i));
    TB_ASSIGN_OR_RETURN(
        std::unique_ptr<nn::Model> model,
        nn::LoadModel(std::string_view(checkpoint.data(), checkpoint.size())));
    absl::StatusOr<replica_actor> actor = Spawn(system, host, checkpoint);
    if (!actor.ok()) {
      return absl::Status(actor.status().code(),
                          absl::StrCat("replica node ", shared->Name(i), ": ",
                                       actor.status().message()));
    }
    return std::make_unique<ActorReplica>(
        system, *std::move(actor), model->spec().InputSize(),
        model->spec().classes, timeout,
        absl::StrCat("actor on ", shared->Name(i)));
  };
}

int ReplicaNodeMain(const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err) {
  const std::string usage = absl::StrCat(
      "usage: trainbus replica-node --name=N [--listen=HOST:PORT]\n"
      "                             (--tls_dir=DIR | --insecure)\n"
      "  Hosts serving replicas for `trainbus serve --replica_nodes=...`:\n"
      "  prints LISTENING host:port (default 127.0.0.1:0, any free port)\n"
      "  and serves until SIGINT or SIGTERM. --name picks DIR/<name>.pem.\n",
      bus::kTlsFlagsHelp);
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h" || a == "help") {
      out << usage;
      return 0;
    }
  }
  absl::StatusOr<bus::ServeFlags> flags = bus::ParseServeFlags(
      args, /*default_name=*/"", [](const base::LongFlag&) { return false; },
      err);
  if (!flags.ok()) {
    err << "trainbus replica-node: " << flags.status().message() << "\n";
    return flags.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return bus::ServeUntilStopped<replica_host_actor>(
      "trainbus replica-node", *flags,
      [&](caf::actor_system_config& cfg) {
        ConfigureReplicaSystem(cfg, flags->tls);
      },
      [](caf::actor_system& system) { return system.spawn(ReplicaHost); },
      out, err);
}

}  // namespace trainbus::serving
