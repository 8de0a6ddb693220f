// What a topology spec declares, for people: a one-line summary, a table per
// section, and a Graphviz DOT graph of every component.
//
//   std::cout << DescribeTable(spec);
//   std::cout << DescribeDot(spec);   // dot -Tsvg > topology.svg
#ifndef TRAINBUS_TOPOLOGY_DESCRIBE_H_
#define TRAINBUS_TOPOLOGY_DESCRIBE_H_

#include <string>

#include "report/topology_svg.h"
#include "topology/spec.h"

namespace trainbus::topology {

// "1 source, 6 resources, 4 bindings, 4 models, 1 consumer, 0 nodes", and
// ", population asha+pbt" when the spec has one.
std::string Summary(const TopologySpec& spec);

// Sections SOURCES, RESOURCES, BINDINGS, MODELS, CONSUMERS, NODES (and
// POPULATION, REGISTRY when there are), each a fixed-width table; empty ones say
// "(none)".
std::string DescribeTable(const TopologySpec& spec);

// A digraph: sources (house), resources (cylinder), models (box), consumers
// (note); edges for publishing, bindings (labelled with filter and policy),
// training input and subscriptions. Components with a `node:` sit in a
// cluster per node.
std::string DescribeDot(const TopologySpec& spec);

// The same components and edges as a report::TopologyGraph: node ids are
// "KIND:NAME" (source, resource, model, consumer; "population" for the
// controller, which has a dashed edge to every model it may prune or
// overwrite), and each `node:` is a group (unplaced: the hub).
report::TopologyGraph DescribeGraph(const TopologySpec& spec);
// TopologyToSvg(DescribeGraph(spec)): what `describe --format=svg` prints
// and a run writes as topology.svg.
std::string DescribeSvg(const TopologySpec& spec);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_DESCRIBE_H_
