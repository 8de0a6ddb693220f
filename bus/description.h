// What a directory knows about its topology: its resources and bindings,
// the reply to (describe_atom).
#ifndef TRAINBUS_BUS_DESCRIPTION_H_
#define TRAINBUS_BUS_DESCRIPTION_H_

#include <string>
#include <vector>

#include "bus/options.h"
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

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_DESCRIPTION_H_
