// Draws a topology graph as a standalone SVG 1.1 picture, laid out by us (no
// graphviz): columns by depth from the graph's roots, each placement group
// (a process: the hub, or a worker node) a horizontal band with a box
// around its components, rows that never overlap, and edges as curves with
// arrowheads, labelled where they carry a label.
//
//   TopologyGraph g;
//   g.groups = {{"w1", "node w1 (127.0.0.1:4101)"}};
//   g.nodes = {{"resource:in", "resource", "[in]", "durable", "", true},
//              {"model:m", "model", "m", "mlp:hidden=64", "w1"}};
//   g.edges = {{"resource:in", "model:m"}};
//   WriteFile("topology.svg", TopologyToSvg(g));
//
// Each component is a <g class="node KIND"> whose <title> is its id, each
// edge a <g class="edge"> titled "FROM -> TO", each group a <g class="group">
// titled with its label, so tools and tests can find them.
#ifndef TRAINBUS_REPORT_TOPOLOGY_SVG_H_
#define TRAINBUS_REPORT_TOPOLOGY_SVG_H_

#include <string>
#include <vector>

namespace trainbus::report {

struct TopologyGraph {
  struct Node {
    std::string id;    // unique; edges name it
    std::string kind;  // source, resource, model, consumer, controller: colour
    std::string title;     // first line, bold
    std::string subtitle;  // second line, small; may be empty
    std::string group;     // a Group's id; "" = the local (hub) process
    bool emphasis = false;  // a double border (durable resources)
  };
  struct Edge {
    std::string from;
    std::string to;
    std::string label;  // may be empty
    bool dashed = false;
  };
  struct Group {
    std::string id;
    std::string label;
  };
  std::vector<Node> nodes;
  std::vector<Edge> edges;  // edges naming an unknown node are skipped
  // Boxes, in this order below the local process's band. Without groups the
  // local process gets no box; with some it is boxed as `local_label`.
  std::vector<Group> groups;
  std::string local_label = "hub (local process)";
};

std::string TopologyToSvg(const TopologyGraph& graph);

}  // namespace trainbus::report

#endif  // TRAINBUS_REPORT_TOPOLOGY_SVG_H_
