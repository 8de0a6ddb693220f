// A bus node for in-process tests of node links: an actor system with a
// middleman and the bus's types, and a Bus on it. Two of them in one test
// are two nodes joined over real loopback sockets (bus/node.h).
//
//   trainbus::bus::TestNode a, b;
//   trainbus::bus::TestNode tls_node(
//       [&](caf::actor_system_config& cfg) { ConfigureTls(cfg, options); });
#ifndef TRAINBUS_BUS_TEST_NODE_H_
#define TRAINBUS_BUS_TEST_NODE_H_

#include <functional>
#include <memory>

#include "bus/bus.h"
#include "bus/node.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"

namespace trainbus::bus {

struct TestNode {
  // `configure` runs after the middleman is loaded and before the system
  // starts (e.g. the TLS settings).
  explicit TestNode(
      const std::function<void(caf::actor_system_config&)>& configure = {}) {
    cfg.load<caf::io::middleman>();
    if (configure) configure(cfg);
    AddBusTypes(cfg);
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    bus = std::make_unique<Bus>(*sys);
  }
  ~TestNode() { Shutdown(); }
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  // Stops the directory (and its resources and bindings) and the system.
  void Shutdown() {
    if (!sys) return;
    caf::anon_send_exit(bus->directory(), caf::exit_reason::user_shutdown);
    bus.reset();
    sys.reset();
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<Bus> bus;
};

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_TEST_NODE_H_
