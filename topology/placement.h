// Which process runs each part of a spec: the hub (the process that runs
// `trainbus run`) or a worker node started with `trainbus node`.
//
//   TB_ASSIGN_OR_RETURN(NodeAddresses nodes,
//                       ParseNodesFlag("worker1=127.0.0.1:4101"));
//   TB_ASSIGN_OR_RETURN(Placement p, Place(spec, nodes));
//   for (const std::string& n : p.Parts()) ...  // "" (the hub), "worker1"
//
// A component with `node: N` runs on N; one without runs on the hub. A
// binding runs where its destination resource lives, so that it imports its
// source (one stream crosses the network once per node, not once per
// model). Without --nodes everything is local: Place(spec, {}) puts every
// component on the hub, whatever its `node:` says.
#ifndef TRAINBUS_TOPOLOGY_PLACEMENT_H_
#define TRAINBUS_TOPOLOGY_PLACEMENT_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "topology/spec.h"

namespace trainbus::topology {

// Node name -> "HOST:PORT".
using NodeAddresses = std::map<std::string, std::string>;

// Parses "n1=HOST:PORT,n2=HOST:PORT" (the --nodes flag); "" is no nodes.
absl::StatusOr<NodeAddresses> ParseNodesFlag(absl::string_view text);

class Placement {
 public:
  // Everything on the hub.
  Placement() = default;

  // The addresses of the nodes that have a part; empty when all is local.
  const NodeAddresses& addresses() const { return addresses_; }
  bool distributed() const { return !addresses_.empty(); }

  // The hub's part ("") first, then every node with a part, by name.
  std::vector<std::string> Parts() const;

  // The part a component with `node:` `declared` runs in.
  std::string PartOf(const std::string& declared) const;
  // The part that owns resource `name` (a resource the spec does not
  // declare is the hub's).
  std::string OwnerOf(const std::string& resource) const;
  // Where a binding runs: with its destination.
  std::string PartOf(const BindingSpec& binding) const;

  // The resources that part `part` uses but another part owns, by owner:
  // what it imports from each owner's directory before it builds.
  std::map<std::string, std::set<std::string>> Imports(
      const TopologySpec& spec, const std::string& part) const;

 private:
  friend absl::StatusOr<Placement> Place(const TopologySpec& spec,
                                         const NodeAddresses& nodes);
  NodeAddresses addresses_;
  std::map<std::string, std::string> resource_owner_;
};

// Checks `nodes` (from --nodes) against the spec: each must be listed under
// `nodes:`, and each node that has a component must have an address (from
// --nodes, else the spec's `address:`). Empty `nodes`: all local.
absl::StatusOr<Placement> Place(const TopologySpec& spec,
                                const NodeAddresses& nodes);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_PLACEMENT_H_
