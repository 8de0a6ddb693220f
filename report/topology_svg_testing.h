// Reads back what TopologyToSvg drew, for structural tests: every node's and
// group's box by its title, every edge's ends and label, and whether the
// file is well-formed XML (parsed by /usr/bin/python3's xml.dom.minidom).
//
//   DrawnTopology drawn = ReadTopologySvg(svg);
//   EXPECT_TRUE(drawn.groups["node w1"].Contains(drawn.nodes["model:m"]));
#ifndef TRAINBUS_REPORT_TOPOLOGY_SVG_TESTING_H_
#define TRAINBUS_REPORT_TOPOLOGY_SVG_TESTING_H_

#include <map>
#include <string>
#include <vector>

namespace trainbus::report {

struct DrawnBox {
  double x = 0, y = 0, w = 0, h = 0;
  bool Contains(const DrawnBox& b) const;
  bool Overlaps(const DrawnBox& b) const;
};

struct DrawnTopology {
  struct Edge {
    std::string from, to, label;
  };
  std::map<std::string, DrawnBox> nodes;   // by id (its <title>)
  std::map<std::string, int> node_count;   // how often each id was drawn
  std::map<std::string, DrawnBox> groups;  // by label
  std::vector<Edge> edges;
};

DrawnTopology ReadTopologySvg(const std::string& svg);

// "" when `svg` parses as XML, else where and why it does not.
std::string XmlProblems(const std::string& svg);

}  // namespace trainbus::report

#endif  // TRAINBUS_REPORT_TOPOLOGY_SVG_TESTING_H_
