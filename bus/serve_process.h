// The shape every long-running serving process of trainbus shares (`trainbus
// replica-node`, `trainbus registry-node`): one actor published on
// --listen=HOST:PORT over TLS (bus/tls.h) or, asked for by name, plain TCP;
// "LISTENING host:port" on stdout once bound; served until SIGINT or SIGTERM,
// then unpublished and stopped.
//
//   absl::StatusOr<bus::ServeFlags> flags = bus::ParseServeFlags(
//       args, "registry", [&](const base::LongFlag& f) {
//         if (f.name != "registry_dir") return false;
//         dir = f.value;
//         return true;
//       }, err);
//   if (!flags.ok()) ...;
//   return bus::ServeUntilStopped<registry_actor>(
//       "trainbus registry-node", *flags, configure, spawn, out, err);
#ifndef TRAINBUS_BUS_SERVE_PROCESS_H_
#define TRAINBUS_BUS_SERVE_PROCESS_H_

#include <signal.h>

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/command_line.h"
#include "bus/tls.h"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/send.hpp"

namespace trainbus::bus {

struct ServeFlags {
  std::string name;  // picks DIR/<name>.pem under --tls_dir
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  TlsOptions tls;     // resolved; disabled: --insecure (warned on `err`)
};

// --name=N (default `default_name`), --listen=HOST:PORT (default
// 127.0.0.1:0), the TLS flags and --insecure; any other flag goes to
// `extra`, which returns false for one it does not know. Resolves the TLS
// files (ResolveTls). InvalidArgument for a bad flag or a missing TLS choice;
// NotFound or others for files that do not load.
absl::StatusOr<ServeFlags> ParseServeFlags(
    const std::vector<std::string>& args, const std::string& default_name,
    const std::function<bool(const base::LongFlag&)>& extra,
    std::ostream& err);

// Blocks SIGINT and SIGTERM in this thread, and so in every thread it starts
// afterwards (CAF's), until destroyed; Wait() returns on the first of them.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  void Wait() const;

 private:
  sigset_t stop_, old_;
};

// Builds an actor system with `configure` (which loads the middleman and
// calls ConfigureTls with flags.tls, as bus/tls.h says), spawns the served actor, publishes it on flags' host:port and serves it
// until SIGINT or SIGTERM. 0 after a signal, 1 if it cannot listen.
template <class Handle>
int ServeUntilStopped(
    const std::string& command, const ServeFlags& flags,
    const std::function<void(caf::actor_system_config&)>& configure,
    const std::function<Handle(caf::actor_system&)>& spawn, std::ostream& out,
    std::ostream& err) {
  StopSignals signals;  // before the actor system starts its threads
  caf::actor_system_config cfg;
  configure(cfg);
  caf::actor_system system{cfg};
  Handle served = spawn(system);
  caf::expected<uint16_t> bound =
      PublishActor(system, served, flags.port, flags.host);
  int code = 0;
  if (!bound) {
    err << command << ": cannot listen on " << flags.host << ":" << flags.port
        << ": " << system.render(bound.error())
        << "; pick another --listen port or stop what holds it\n";
    code = 1;
  } else {
    out << "LISTENING " << flags.host << ":" << *bound << std::endl;
    signals.Wait();
    UnpublishActor(system, served.address(), *bound);
  }
  caf::anon_send_exit(served, caf::exit_reason::user_shutdown);
  return code;
}

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_SERVE_PROCESS_H_
