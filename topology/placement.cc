#include "topology/placement.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bus/node.h"

namespace trainbus::topology {

absl::StatusOr<NodeAddresses> ParseNodesFlag(absl::string_view text) {
  NodeAddresses nodes;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    item = absl::StripAsciiWhitespace(item);
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--nodes: '", item,
          "' is not NAME=HOST:PORT; e.g. --nodes=worker1=127.0.0.1:4101,"
          "worker2=127.0.0.1:4102"));
    }
    const std::string name(item.substr(0, eq));
    const std::string address(item.substr(eq + 1));
    if (absl::Status s = bus::ParseHostPort(address).status(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--nodes: node '", name, "': ", s.message()));
    }
    if (!nodes.emplace(name, address).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--nodes names node '", name, "' twice; give each node once"));
    }
  }
  return nodes;
}

std::vector<std::string> Placement::Parts() const {
  std::vector<std::string> parts = {""};
  for (const auto& [name, address] : addresses_) parts.push_back(name);
  return parts;
}

std::string Placement::PartOf(const std::string& declared) const {
  return addresses_.count(declared) ? declared : "";
}

std::string Placement::OwnerOf(const std::string& resource) const {
  auto it = resource_owner_.find(resource);
  return it == resource_owner_.end() ? "" : it->second;
}

std::string Placement::PartOf(const BindingSpec& binding) const {
  return OwnerOf(binding.options.to);
}

std::map<std::string, std::set<std::string>> Placement::Imports(
    const TopologySpec& spec, const std::string& part) const {
  std::map<std::string, std::set<std::string>> imports;
  auto use = [&](const std::string& resource) {
    if (resource.empty()) return;
    const std::string owner = OwnerOf(resource);
    if (owner != part) imports[owner].insert(resource);
  };
  for (const BindingSpec& b : spec.bindings) {
    if (PartOf(b) == part) use(b.options.from);
  }
  for (const SourceSpec& s : spec.sources) {
    if (PartOf(s.node) == part) use(s.output);
  }
  for (const ModelEntry& m : spec.models) {
    if (PartOf(m.node) != part) continue;
    use(m.input);
    use(m.output);
  }
  for (const ConsumerSpec& c : spec.consumers) {
    if (PartOf(c.node) != part) continue;
    for (const std::string& input : c.inputs) use(input);
  }
  return imports;
}

absl::StatusOr<Placement> Place(const TopologySpec& spec,
                                const NodeAddresses& nodes) {
  Placement placement;
  if (nodes.empty()) return placement;  // all local
  std::map<std::string, const NodeSpec*> listed;
  for (const NodeSpec& n : spec.nodes) listed[n.name] = &n;
  for (const auto& [name, address] : nodes) {
    if (listed.count(name) == 0) {
      std::vector<std::string> names;
      for (const auto& [n, unused] : listed) names.push_back(n);
      return absl::InvalidArgumentError(absl::StrCat(
          "--nodes names node '", name,
          "', which the spec does not list under 'nodes' (it lists: ",
          names.empty() ? "none" : absl::StrJoin(names, ", "),
          "); list it there or drop it from --nodes"));
    }
  }
  // The nodes that have something to run, in the order of first use.
  std::set<std::string> used;
  for (const ResourceSpec& r : spec.resources) used.insert(r.node);
  for (const SourceSpec& s : spec.sources) used.insert(s.node);
  for (const ModelEntry& m : spec.models) used.insert(m.node);
  for (const ConsumerSpec& c : spec.consumers) used.insert(c.node);
  used.erase("");
  for (const std::string& name : used) {
    auto given = nodes.find(name);
    std::string address =
        given != nodes.end() ? given->second : listed.at(name)->address;
    if (address.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node '", name,
          "' has components but no address; start it with `trainbus node "
          "--name=",
          name, " --listen=HOST:PORT` and add ", name,
          "=HOST:PORT to --nodes (or give it an 'address:' in the spec)"));
    }
    placement.addresses_[name] = std::move(address);
  }
  for (const ResourceSpec& r : spec.resources) {
    placement.resource_owner_[r.options.name] = placement.PartOf(r.node);
  }
  return placement;
}

}  // namespace trainbus::topology
