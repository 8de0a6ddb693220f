// The directory: one per actor system, it owns the topology. Resources and
// bindings are declared through it, by name, any number of times.
//
//   caf::actor dir = trainbus::bus::SpawnDirectory(sys);
//   self->request(dir, infinite, declare_atom::value, ResourceOptions{"mnist"})
//   self->request(dir, infinite, bind_atom::value,
//                 BindingOptions{"mnist", "model1", Filter::Labelled()})
//
// Declaring an existing resource with the same options, or an existing
// binding with the same filter and policy, returns the existing actor.
// A binding that would close a cycle is refused (messages would circle
// forever), and so is a binding that names an undeclared resource.
// Resources on other nodes join a directory through (attach_atom, name, actor)
// and are then bound to like local ones.
#ifndef TRAINBUS_BUS_DIRECTORY_H_
#define TRAINBUS_BUS_DIRECTORY_H_

#include <string>
#include <vector>

#include "bus/options.h"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/meta/type_name.hpp"

namespace trainbus::bus {

struct TopologyDescription {
  struct Resource {
    std::string name;
    bool durable = false;
    bool remote = false;
  };
  std::vector<Resource> resources;
  std::vector<BindingOptions> bindings;

  // Graphviz: resources as boxes, bindings as edges labelled filter/policy.
  std::string ToDot() const;
  // An indented text tree, one line per resource and binding.
  std::string ToText() const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        TopologyDescription::Resource& x) {
  return f(caf::meta::type_name("trainbus.TopologyResource"), x.name,
           x.durable, x.remote);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TopologyDescription& x) {
  return f(caf::meta::type_name("trainbus.TopologyDescription"), x.resources,
           x.bindings);
}

caf::actor SpawnDirectory(caf::actor_system& sys);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_DIRECTORY_H_
