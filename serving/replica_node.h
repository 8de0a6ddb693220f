// Serving replicas on other processes: `trainbus replica-node` hosts replica
// actors (serving/actor_replica.h) for `trainbus serve --replica_nodes=...`,
// over CAF's middleman with the same TLS as placed runs (bus/tls.h).
//
//   trainbus cluster-certs certs --nodes=r1,r2
//   trainbus replica-node --name=r1 --listen=127.0.0.1:4301 --tls_dir=certs
//   trainbus serve --registry_dir=R --model=M --replicas=2
//       --replica_nodes=127.0.0.1:4301,127.0.0.1:4302 --tls_dir=certs
//
// Replica i of each version is spawned on node i % nodes from the version's
// checkpoint bytes. A node that dies (its socket closes, or it is silent
// past the heartbeat's timeout) takes its replicas out of the rotation, and
// a batch in flight to one is retried once on another (ReplicaPool).
#ifndef TRAINBUS_SERVING_REPLICA_NODE_H_
#define TRAINBUS_SERVING_REPLICA_NODE_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bus/tls.h"
#include "caf/actor_system_config.hpp"
#include "serving/actor_replica.h"
#include "serving/replica.h"

namespace trainbus::serving {

using spawn_replica_atom = caf::atom_constant<caf::atom("spawnrep")>;

// (spawn_replica, checkpoint bytes) -> a replica actor on the host's node.
using replica_host_actor = caf::typed_actor<caf::replies_to<
    spawn_replica_atom, std::string>::with<replica_actor>>;

// The network layer for replica traffic, on both sides: the middleman with
// a 1 s heartbeat and 5 s timeout, `tls` (none: plain TCP) and the types.
void ConfigureReplicaSystem(caf::actor_system_config& cfg,
                            const bus::TlsOptions& tls);

// Replica i on hosts[i % hosts.size()] (connected once each, on first use;
// the system must be configured with ConfigureReplicaSystem).
ReplicaFactory RemoteReplicas(
    caf::actor_system& system,
    std::vector<std::pair<std::string, uint16_t>> hosts,
    absl::Duration timeout = absl::Seconds(30));

// `trainbus replica-node --name=N --listen=HOST:PORT (--tls_dir=DIR |
// --insecure)`: prints LISTENING host:port and serves until SIGTERM/SIGINT.
int ReplicaNodeMain(const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err);

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_REPLICA_NODE_H_
