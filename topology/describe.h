// What a topology spec declares, for people: a one-line summary, a table per
// section, and a Graphviz DOT graph of every component.
//
//   std::cout << DescribeTable(spec);
//   std::cout << DescribeDot(spec);   // dot -Tsvg > topology.svg
#ifndef TRAINBUS_TOPOLOGY_DESCRIBE_H_
#define TRAINBUS_TOPOLOGY_DESCRIBE_H_

#include <string>

#include "topology/spec.h"

namespace trainbus::topology {

// "1 source, 6 resources, 4 bindings, 4 models, 1 consumer, 0 nodes".
std::string Summary(const TopologySpec& spec);

// Sections SOURCES, RESOURCES, BINDINGS, MODELS, CONSUMERS, NODES (and
// REGISTRY when there is one), each a fixed-width table; empty ones say
// "(none)".
std::string DescribeTable(const TopologySpec& spec);

// A digraph: sources (house), resources (cylinder), models (box), consumers
// (note); edges for publishing, bindings (labelled with filter and policy),
// training input and subscriptions. Components with a `node:` sit in a
// cluster per node.
std::string DescribeDot(const TopologySpec& spec);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_DESCRIBE_H_
