#include "serving/replica_node.h"

#include <signal.h>
#include <time.h>

#include <chrono>
#include <map>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "base/command_line.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "bus/node.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "kernels/nn/model.h"

namespace trainbus::serving {
namespace {

constexpr std::chrono::seconds kSpawnTimeout{60};

replica_host_actor::behavior_type ReplicaHost(
    replica_host_actor::pointer self) {
  return {
      [self](spawn_replica_atom,
             const std::string& checkpoint) -> caf::result<replica_actor> {
        absl::StatusOr<replica_actor> replica =
            SpawnReplicaActor(self->system(), checkpoint);
        if (!replica.ok()) return base::ToCafError(replica.status());
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

// Blocks until SIGINT or SIGTERM (blocked in every thread beforehand).
void AwaitStopSignal(const sigset_t& stop) {
  int signal = 0;
  sigwait(&stop, &signal);
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
  absl::StatusOr<std::vector<base::LongFlag>> flags =
      base::SplitLongFlags(args, /*switches=*/{"insecure"});
  std::string name, listen = "127.0.0.1:0";
  bus::TlsSettings settings;
  for (const base::LongFlag& f : flags.ok() ? *flags
                                            : std::vector<base::LongFlag>{}) {
    if (f.name == "name") {
      name = f.value;
    } else if (f.name == "listen") {
      listen = f.value;
    } else if (f.name == "insecure" && f.value.empty()) {
      settings.insecure = true;
    } else if (!bus::ReadTlsFlag(f.name, f.value, &settings)) {
      flags = absl::InvalidArgumentError(
          absl::StrCat("unknown or bad flag --", f.name, "=", f.value));
      break;
    }
  }
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  if (flags.ok() && (name.empty() || colon == std::string::npos ||
                     !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
                     port > 65535)) {
    flags = absl::InvalidArgumentError(
        "give --name=N and --listen=HOST:PORT (port 0: any free one)");
  }
  absl::StatusOr<bus::TlsOptions> tls =
      flags.ok() ? bus::ResolveTls(settings, name)
                 : absl::StatusOr<bus::TlsOptions>(flags.status());
  if (!tls.ok()) {
    err << "trainbus replica-node: " << tls.status().message() << "\n";
    return tls.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (!tls->enabled()) err << bus::kInsecureWarning << std::endl;
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  int code = 0;
  {
    caf::actor_system_config cfg;
    ConfigureReplicaSystem(cfg, *tls);
    caf::actor_system system{cfg};
    replica_host_actor host = system.spawn(ReplicaHost);
    const std::string host_name = listen.substr(0, colon);
    caf::expected<uint16_t> bound = bus::PublishActor(
        system, host, static_cast<uint16_t>(port), host_name);
    if (!bound) {
      err << "trainbus replica-node: cannot listen on " << listen << ": "
          << system.render(bound.error()) << "\n";
      code = 1;
    } else {
      out << "LISTENING " << host_name << ":" << *bound << std::endl;
      AwaitStopSignal(stop);
      bus::UnpublishActor(system, host.address(), *bound);
    }
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return code;
}

}  // namespace trainbus::serving
