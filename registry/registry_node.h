// `trainbus registry-node`: serves a registry to the runners of other
// processes and machines (`trainbus runner --registry_node=HOST:PORT`), over
// TLS with certificates of the cluster's CA, or plain TCP by name.
//
//   trainbus cluster-certs certs --nodes=registry,runner
//   trainbus registry-node --registry_dir=DIR --listen=0.0.0.0:4200
//       --tls_dir=certs                                  # (one line)
//   trainbus runner --registry_node=HOST:4200 --tls_dir=certs   # elsewhere
#ifndef TRAINBUS_REGISTRY_REGISTRY_NODE_H_
#define TRAINBUS_REGISTRY_REGISTRY_NODE_H_

#include <ostream>
#include <string>
#include <vector>

#include "bus/tls.h"
#include "caf/actor_system_config.hpp"

namespace trainbus::registry {

// The actor system of a registry node or of a runner that talks to one:
// the registry's message types, the middleman, and TLS when `tls` is on.
void ConfigureRegistrySystem(caf::actor_system_config& cfg,
                             const bus::TlsOptions& tls);

// Prints LISTENING host:port and serves until SIGINT or SIGTERM (exit 0);
// 2 for bad flags or no TLS choice, 1 if the registry does not open or the
// port is taken.
int RegistryNodeMain(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err);

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_REGISTRY_NODE_H_
