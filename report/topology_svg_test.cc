#include "report/topology_svg.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "report/topology_svg_testing.h"

namespace trainbus::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A placed fan-out: source -> [in] -> two bindings -> models on a worker.
TopologyGraph Placed() {
  TopologyGraph g;
  g.groups = {{"w1", "node w1 (127.0.0.1:4101)"}};
  g.nodes = {{"source:pics", "source", "pics", "image_dir"},
             {"resource:in", "resource", "[in]", "durable", "", true},
             {"resource:a", "resource", "[a]", "", "w1"},
             {"resource:b", "resource", "[b]", "", "w1"},
             {"model:a", "model", "a", "mlp:hidden=64", "w1"},
             {"model:b", "model", "b", "softmax", "w1"},
             {"resource:metrics", "resource", "[metrics]"},
             {"consumer:file", "consumer", "file", "jsonl"}};
  g.edges = {{"source:pics", "resource:in"},
             {"resource:in", "resource:a", "labelled / block"},
             {"resource:in", "resource:b", "labelled / drop_oldest"},
             {"resource:a", "model:a"},
             {"resource:b", "model:b"},
             {"model:a", "resource:metrics"},
             {"model:b", "resource:metrics"},
             {"resource:metrics", "consumer:file"}};
  return g;
}

TEST(TopologySvgTest, DrawsEveryNodeOnceAndEveryEdgeWithItsLabel) {
  const TopologyGraph g = Placed();
  const std::string svg = TopologyToSvg(g);
  EXPECT_EQ(XmlProblems(svg), "");
  const DrawnTopology drawn = ReadTopologySvg(svg);
  for (const auto& n : g.nodes) {
    EXPECT_EQ(drawn.node_count.at(n.id), 1) << n.id;
  }
  ASSERT_EQ(drawn.edges.size(), g.edges.size());
  for (size_t i = 0; i < g.edges.size(); ++i) {
    EXPECT_EQ(drawn.edges[i].from, g.edges[i].from);
    EXPECT_EQ(drawn.edges[i].to, g.edges[i].to);
    EXPECT_EQ(drawn.edges[i].label, g.edges[i].label);
  }
  EXPECT_THAT(svg, HasSubstr(">durable</text>"));
  // The checker itself refuses what is not XML.
  EXPECT_THAT(XmlProblems("<svg><g>a & b</svg>"), HasSubstr("not well-formed"));
}

TEST(TopologySvgTest, ColumnsRunLeftToRightAndBoxesNeverOverlap) {
  const DrawnTopology d = ReadTopologySvg(TopologyToSvg(Placed()));
  auto x = [&](const std::string& id) { return d.nodes.at(id).x; };
  EXPECT_LT(x("source:pics"), x("resource:in"));
  EXPECT_LT(x("resource:in"), x("resource:a"));
  EXPECT_LT(x("resource:a"), x("model:a"));
  EXPECT_LT(x("model:a"), x("resource:metrics"));
  EXPECT_LT(x("resource:metrics"), x("consumer:file"));
  for (const auto& [a, box_a] : d.nodes) {
    for (const auto& [b, box_b] : d.nodes) {
      if (a < b) {
        EXPECT_FALSE(box_a.Overlaps(box_b)) << a << " and " << b;
      }
    }
  }
}

TEST(TopologySvgTest, EachGroupBoxHoldsItsComponentsAndNoOthers) {
  const DrawnTopology d = ReadTopologySvg(TopologyToSvg(Placed()));
  ASSERT_EQ(d.groups.size(), 2u);
  const DrawnBox& w1 = d.groups.at("node w1 (127.0.0.1:4101)");
  const DrawnBox& hub = d.groups.at("hub (local process)");
  EXPECT_FALSE(w1.Overlaps(hub));
  for (const char* id : {"resource:a", "resource:b", "model:a", "model:b"}) {
    EXPECT_TRUE(w1.Contains(d.nodes.at(id))) << id;
    EXPECT_FALSE(hub.Overlaps(d.nodes.at(id))) << id;
  }
  for (const char* id : {"source:pics", "resource:in", "resource:metrics",
                         "consumer:file"}) {
    EXPECT_TRUE(hub.Contains(d.nodes.at(id))) << id;
  }
}

TEST(TopologySvgTest, WithoutGroupsNothingIsBoxed) {
  TopologyGraph g = Placed();
  g.groups.clear();
  for (auto& n : g.nodes) n.group.clear();
  const DrawnTopology d = ReadTopologySvg(TopologyToSvg(g));
  EXPECT_TRUE(d.groups.empty());
  EXPECT_EQ(d.nodes.size(), g.nodes.size());
}

TEST(TopologySvgTest, EscapesEveryNameLabelAndGroup) {
  TopologyGraph g;
  g.groups = {{"n", "node <n> & \"co\""}};
  g.nodes = {{"source:a<b", "source", "a<b", "x&y"},
             {"resource:'q'", "resource", "[\"q\"]", "", "n"}};
  g.edges = {{"source:a<b", "resource:'q'", "labels=1 & <2>"}};
  const std::string svg = TopologyToSvg(g);
  EXPECT_EQ(XmlProblems(svg), "") << svg;
  EXPECT_THAT(svg, Not(HasSubstr("a<b")));
  const DrawnTopology d = ReadTopologySvg(svg);
  EXPECT_EQ(d.node_count.at("source:a<b"), 1);
  EXPECT_EQ(d.node_count.at("resource:'q'"), 1);
  EXPECT_EQ(d.groups.count("node <n> & \"co\""), 1u);
  ASSERT_EQ(d.edges.size(), 1u);
  EXPECT_EQ(d.edges[0].label, "labels=1 & <2>");
}

TEST(TopologySvgTest, EmptyGraphsUnknownEndsAndCyclesStillDraw) {
  EXPECT_EQ(XmlProblems(TopologyToSvg(TopologyGraph{})), "");
  TopologyGraph g;
  g.nodes = {{"a", "resource", "[a]"}, {"b", "resource", "[b]"}};
  g.edges = {{"a", "b"}, {"b", "a"}, {"a", "nowhere"}};
  const std::string svg = TopologyToSvg(g);
  EXPECT_EQ(XmlProblems(svg), "");
  const DrawnTopology d = ReadTopologySvg(svg);
  EXPECT_EQ(d.nodes.size(), 2u);
  EXPECT_EQ(d.edges.size(), 2u);  // the edge to an unknown node is skipped
  // An empty node still gets its box.
  TopologyGraph lonely;
  lonely.groups = {{"w", "node w"}};
  EXPECT_EQ(ReadTopologySvg(TopologyToSvg(lonely)).groups.count("node w"), 1u);
}

}  // namespace
}  // namespace trainbus::report
