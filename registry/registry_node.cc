#include "registry/registry_node.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bus/serve_process.h"
#include "caf/io/middleman.hpp"
#include "registry/registry_actor.h"
#include "registry/store.h"

namespace trainbus::registry {

void ConfigureRegistrySystem(caf::actor_system_config& cfg,
                             const bus::TlsOptions& tls) {
  AddRegistryMessageTypes(cfg);
  cfg.load<caf::io::middleman>();
  bus::ConfigureTls(cfg, tls);
}

int RegistryNodeMain(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h" || a == "help") {
      out << absl::StrCat(
          "usage: trainbus registry-node [--registry_dir=DIR]\n"
          "           [--listen=HOST:PORT] [--name=N] (--tls_dir=DIR | "
          "--insecure)\n"
          "  Serves the registry (default: as `trainbus registry`) to\n"
          "  `trainbus runner --registry_node=HOST:PORT` on other processes\n"
          "  and machines: prints LISTENING host:port (default 127.0.0.1:0,\n"
          "  any free port) and serves until SIGINT or SIGTERM. --name\n"
          "  (default registry) picks DIR/<name>.pem.\n",
          bus::kTlsFlagsHelp);
      return 0;
    }
  }
  StoreOptions options;
  absl::StatusOr<bus::ServeFlags> flags = bus::ParseServeFlags(
      args, "registry", [&](const base::LongFlag& f) {
        if (f.name != "registry_dir" || f.value.empty()) return false;
        options.root = f.value;
        return true;
      },
      err);
  if (!flags.ok()) {
    err << "trainbus registry-node: " << flags.status().message()
        << "; run `trainbus registry-node help` for usage\n";
    return flags.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store.ok()) {
    err << "trainbus registry-node: " << store.status().message() << "\n";
    return 1;
  }
  std::shared_ptr<Store> shared = *std::move(store);
  out << "registry-node: serving the registry at " << shared->root()
      << (flags->tls.enabled() ? " over TLS" : " over plain TCP") << std::endl;
  return bus::ServeUntilStopped<registry_actor>(
      "trainbus registry-node", *flags,
      [&](caf::actor_system_config& cfg) {
        ConfigureRegistrySystem(cfg, flags->tls);
      },
      [&](caf::actor_system& system) {
        return SpawnRegistryActor(system, shared);
      },
      out, err);
}

}  // namespace trainbus::registry
