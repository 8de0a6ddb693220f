// Nodes: one bus spread over several processes (or machines) through CAF's
// middleman. A node serves its directory on a TCP port; another node
// connects to it and imports resources by name, after which local bindings
// bind to them as if they were local. The topology code does not change.
//
//   // node A
//   caf::actor_system_config cfg;
//   cfg.load<caf::io::middleman>();
//   trainbus::bus::AddBusTypes(cfg);
//   caf::actor_system sys{cfg};
//   trainbus::bus::Bus bus{sys};
//   bus.Declare({"mnist"});
//   absl::StatusOr<uint16_t> port =
//       trainbus::bus::ServeNode(sys, bus.directory(), 0);
//
//   // node B (same configuration)
//   absl::StatusOr<trainbus::bus::directory_actor> a =
//       trainbus::bus::ConnectNode(sys, "127.0.0.1", *port);
//   trainbus::bus::ImportResource(bus, *a, "mnist");
//   bus.Declare({"model1"});
//   bus.Bind({"mnist", "model1", Filter::Labelled()});
//
// When a node dies, CAF turns its actors' proxies into down messages: the
// directory that imported one of its resources forgets it, bindings from or
// to it quit (and the directory forgets them too), and a resource drops the
// subscriptions of remote subscribers. Lookups then fail with
// "resource 'mnist' not declared ...".
#ifndef TRAINBUS_BUS_NODE_H_
#define TRAINBUS_BUS_NODE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bus/bus.h"
#include "bus/protocol.h"
#include "caf/actor_system.hpp"

namespace trainbus::bus {

// Publishes `directory` on host:port (port 0: any free port) and returns the
// port it listens on. The actor system must have loaded caf::io::middleman;
// with caf::openssl::manager loaded too (bus/tls.h ConfigureTls) it serves
// and connects over TLS, verifying each peer.
absl::StatusOr<uint16_t> ServeNode(caf::actor_system& sys,
                                   const directory_actor& directory,
                                   uint16_t port,
                                   const std::string& host = "127.0.0.1");

// Stops serving `directory` on `port` (what ServeNode opened).
void UnserveNode(caf::actor_system& sys, const directory_actor& directory,
                 uint16_t port);

// Connects to the directory a node serves on host:port. Both ends must run
// the same bus protocol (CAF compares the typed interfaces on connect) and
// both TLS with one CA, or both plain TCP: a mismatch is PermissionDenied
// (another CA) or FailedPrecondition (TLS on one side only), saying so.
absl::StatusOr<directory_actor> ConnectNode(caf::actor_system& sys,
                                       const std::string& host, uint16_t port);

// Parses "host:port" (e.g. "127.0.0.1:4242") for ConnectNode.
absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(
    const std::string& text);

// Looks `name` up in `remote_directory` and attaches it to `local`'s
// directory under the same name, so local bindings can bind to it.
absl::Status ImportResource(Bus& local,
                            const directory_actor& remote_directory,
                            const std::string& name);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_NODE_H_
