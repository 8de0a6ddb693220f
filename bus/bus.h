// A blocking C++ front end to a node's bus, for experiments, tools and
// tests that do not live inside an actor.
//
//   caf::actor_system_config cfg;
//   trainbus::bus::AddBusTypes(cfg);
//   caf::actor_system sys{cfg};
//   trainbus::bus::Bus bus{sys};
//   auto mnist = bus.Declare({.name = "mnist"});
//   bus.Declare({.name = "model1"});
//   bus.Bind({"mnist", "model1", Filter::Labelled()});
#ifndef TRAINBUS_BUS_BUS_H_
#define TRAINBUS_BUS_BUS_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bus/directory.h"
#include "bus/metrics.h"
#include "bus/options.h"
#include "bus/protocol.h"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

namespace trainbus::bus {

// Registers the bus's message types (with the handle types of protocol.h)
// and the status error category. Call before the
// actor_system is built: remote nodes and the durable log need them.
void AddBusTypes(caf::actor_system_config& cfg);

class Bus {
 public:
  // Uses a new local directory.
  explicit Bus(caf::actor_system& sys);
  // Uses `directory`, which may live on another node.
  Bus(caf::actor_system& sys, directory_actor directory);

  absl::StatusOr<resource_actor> Declare(const ResourceOptions& options);
  absl::StatusOr<binding_actor> Bind(const BindingOptions& options);
  // Whether there was a binding from -> to (it is gone either way).
  absl::StatusOr<bool> Unbind(const std::string& from, const std::string& to);
  absl::StatusOr<resource_actor> Lookup(const std::string& name);
  // Makes `resource` (e.g. a remote one) known here under `name`.
  absl::StatusOr<resource_actor> Attach(const std::string& name,
                                        const resource_actor& resource);
  absl::StatusOr<TopologyDescription> Describe();
  absl::StatusOr<std::vector<ResourceMetrics>> Metrics();

  const directory_actor& directory() const { return directory_; }
  caf::actor_system& system() { return sys_; }

 private:
  template <class T, class... Ts>
  absl::StatusOr<T> Ask(Ts&&... xs);

  caf::actor_system& sys_;
  directory_actor directory_;
  std::chrono::milliseconds timeout_{30000};
};

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_BUS_H_
