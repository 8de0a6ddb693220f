#include "topology/describe.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

using ::testing::HasSubstr;

TopologySpec Example() {
  absl::StatusOr<TopologySpec> spec =
      LoadSpecFile("experiments/parallel_models.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  return spec.ok() ? *spec : TopologySpec{};
}

TEST(Describe, SummaryCountsEverySection) {
  EXPECT_EQ(Summary(Example()),
            "1 source, 6 resources, 4 bindings, 4 models, 0 consumers, 0 nodes");
  EXPECT_EQ(Summary(TopologySpec{}),
            "0 sources, 0 resources, 0 bindings, 0 models, 0 consumers, "
            "0 nodes");
}

TEST(Describe, TableOfTheExampleSpec) {
  EXPECT_EQ(DescribeTable(Example()),
      "topology parallel_models: 1 source, 6 resources, 4 bindings, 4 models, 0 consumers, 0 nodes\n"
      "one Fashion-MNIST training stream fanned out to four models\n"
      "\n"
      "SOURCES\n"
      "  name                 kind  output  node  details\n"
      "  fashion-mnist/train  idx   mnist   -     data_dir=/usr/share/datasets/fashion-mnist epochs=1 seed=1 rate=max\n"
      "\n"
      "RESOURCES\n"
      "  name     durable  max_queue  node  log\n"
      "  mnist    no       1024       -     -\n"
      "  model1   no       1024       -     -\n"
      "  model2   no       1024       -     -\n"
      "  model3   no       1024       -     -\n"
      "  model4   no       1024       -     -\n"
      "  metrics  no       1024       -     -\n"
      "\n"
      "BINDINGS\n"
      "  from   to      filter    policy  window\n"
      "  mnist  model1  labelled  block   256\n"
      "  mnist  model2  labelled  block   256\n"
      "  mnist  model3  labelled  block   256\n"
      "  mnist  model4  labelled  block   256\n"
      "\n"
      "MODELS\n"
      "  name    input   output   eval_every  node  spec\n"
      "  model1  model1  metrics  100         -     softmax:opt=sgd,lr=0.05,batch=1,avg=0.9999\n"
      "  model2  model2  metrics  100         -     mlp:hidden=128,opt=momentum,lr=0.02,batch=16,avg=0.999\n"
      "  model3  model3  metrics  100         -     mlp:hidden=256,opt=adam,lr=0.001,batch=64,avg=0.99\n"
      "  model4  model4  metrics  100         -     cnn:conv=8x16,opt=momentum,lr=0.02,batch=32,avg=0.998\n"
      "\n"
      "CONSUMERS\n"
      "  (none)\n"
      "\n"
      "NODES\n"
      "  (none)\n");
}

TEST(Describe, ProductionRoutingShowsPredictionsAndDeadLetters) {
  absl::StatusOr<TopologySpec> spec =
      LoadSpecFile("experiments/production_routing.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  const std::string dot = DescribeDot(*spec);
  EXPECT_THAT(dot,
              HasSubstr("\"model:model1\" -> \"resource:predictions\";"));
  EXPECT_THAT(dot, HasSubstr("\"source:images\" -> \"resource:dead_letter\" "
                             "[style=dashed];"));
  const std::string table = DescribeTable(*spec);
  EXPECT_THAT(table, HasSubstr("first=2000 limit=2000"));
  EXPECT_THAT(table, HasSubstr("dead_letter=dead_letter export=48+2 from"));
}

TEST(Describe, DotOfTheExampleSpec) {
  EXPECT_EQ(DescribeDot(Example()),
      "digraph \"parallel_models\" {\n"
      "  rankdir=LR;\n"
      "  node [fontname=\"Helvetica\", fontsize=10];\n"
      "  edge [fontname=\"Helvetica\", fontsize=9];\n"
      "  \"source:fashion-mnist/train\" [shape=house, label=\"fashion-mnist/train\\nidx\"];\n"
      "  \"resource:mnist\" [shape=cylinder, label=\"[mnist]\"];\n"
      "  \"resource:model1\" [shape=cylinder, label=\"[model1]\"];\n"
      "  \"resource:model2\" [shape=cylinder, label=\"[model2]\"];\n"
      "  \"resource:model3\" [shape=cylinder, label=\"[model3]\"];\n"
      "  \"resource:model4\" [shape=cylinder, label=\"[model4]\"];\n"
      "  \"resource:metrics\" [shape=cylinder, label=\"[metrics]\"];\n"
      "  \"model:model1\" [shape=box, style=rounded, label=\"model1\\nsoftmax:opt=sgd,lr=0.05,batch=1,avg=0.9999\"];\n"
      "  \"model:model2\" [shape=box, style=rounded, label=\"model2\\nmlp:hidden=128,opt=momentum,lr=0.02,batch=16,avg=0.999\"];\n"
      "  \"model:model3\" [shape=box, style=rounded, label=\"model3\\nmlp:hidden=256,opt=adam,lr=0.001,batch=64,avg=0.99\"];\n"
      "  \"model:model4\" [shape=box, style=rounded, label=\"model4\\ncnn:conv=8x16,opt=momentum,lr=0.02,batch=32,avg=0.998\"];\n"
      "  \"source:fashion-mnist/train\" -> \"resource:mnist\";\n"
      "  \"resource:mnist\" -> \"resource:model1\" [label=\"labelled\\nblock\"];\n"
      "  \"resource:mnist\" -> \"resource:model2\" [label=\"labelled\\nblock\"];\n"
      "  \"resource:mnist\" -> \"resource:model3\" [label=\"labelled\\nblock\"];\n"
      "  \"resource:mnist\" -> \"resource:model4\" [label=\"labelled\\nblock\"];\n"
      "  \"resource:model1\" -> \"model:model1\";\n"
      "  \"model:model1\" -> \"resource:metrics\";\n"
      "  \"resource:model2\" -> \"model:model2\";\n"
      "  \"model:model2\" -> \"resource:metrics\";\n"
      "  \"resource:model3\" -> \"model:model3\";\n"
      "  \"model:model3\" -> \"resource:metrics\";\n"
      "  \"resource:model4\" -> \"model:model4\";\n"
      "  \"model:model4\" -> \"resource:metrics\";\n"
      "}\n");
}

constexpr char kPlaced[] = R"(name: placed
nodes:
  - {name: hub, address: "127.0.0.1:4000"}
  - {name: w1}
registry: {dir: /tmp/reg}
resources:
  - {name: in, durable: true, log: {dir: /tmp/log}, node: hub}
  - {name: out, node: w1}
  - {name: metrics}
bindings:
  - {from: in, to: out, filter: "labelled;labels=1,2", policy: drop_oldest, window: 8}
sources:
  - {name: pics, kind: image_dir, dir: /pics, output: in, rate: 2, node: hub}
models:
  - {name: m, spec: "mlp:hidden=64", input: out, output: metrics, node: w1}
consumers:
  - {name: file, kind: jsonl, inputs: [metrics, out], path: /tmp/m.jsonl}
)";

TEST(Describe, TableShowsPlacementLogsFiltersAndTheRegistry) {
  absl::StatusOr<TopologySpec> spec = ParseSpec(kPlaced);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  const std::string table = DescribeTable(*spec);
  EXPECT_THAT(table, HasSubstr("pics  image_dir  in      hub   dir=/pics rate=2/s"));
  EXPECT_THAT(table, HasSubstr("in       yes      256        hub   /tmp/log"));
  EXPECT_THAT(table, HasSubstr("in    out  labelled;labels=1,2  drop_oldest  8"));
  EXPECT_THAT(table, HasSubstr("file  jsonl  metrics,out  -     /tmp/m.jsonl"));
  EXPECT_THAT(table, HasSubstr("hub   127.0.0.1:4000"));
  EXPECT_THAT(table, HasSubstr("w1    (command line)"));
  EXPECT_THAT(table, HasSubstr("REGISTRY\n  dir\n  /tmp/reg\n"));
  EXPECT_THAT(DescribeTable(TopologySpec{}), HasSubstr("SOURCES\n  (none)\n"));
}

TEST(Describe, DotPutsEachPlacedComponentInItsNodesCluster) {
  absl::StatusOr<TopologySpec> spec = ParseSpec(kPlaced);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  const std::string dot = DescribeDot(*spec);
  // The cluster for hub holds its resource and source, w1's its resource and
  // model; the unplaced ones come before the clusters.
  const size_t hub = dot.find("subgraph cluster_0 {");
  const size_t w1 = dot.find("subgraph cluster_1 {");
  ASSERT_NE(hub, std::string::npos) << dot;
  ASSERT_NE(w1, std::string::npos) << dot;
  EXPECT_THAT(dot, HasSubstr("label=\"node hub (127.0.0.1:4000)\""));
  auto in_block = [&](const std::string& id, size_t begin, size_t end) {
    const size_t at = dot.find(id + " [");
    return at != std::string::npos && at > begin && at < end;
  };
  EXPECT_TRUE(in_block("\"resource:in\"", hub, w1)) << dot;
  EXPECT_TRUE(in_block("\"source:pics\"", hub, w1)) << dot;
  EXPECT_TRUE(in_block("\"resource:out\"", w1, dot.size())) << dot;
  EXPECT_TRUE(in_block("\"model:m\"", w1, dot.size())) << dot;
  EXPECT_TRUE(in_block("\"consumer:file\"", 0, hub)) << dot;
  EXPECT_TRUE(in_block("\"resource:metrics\"", 0, hub)) << dot;
  EXPECT_THAT(dot, HasSubstr("\"resource:in\" -> \"resource:out\" "
                             "[label=\"labelled;labels=1,2\\ndrop_oldest\"];"));
  EXPECT_THAT(dot, HasSubstr("\"resource:out\" -> \"consumer:file\";"));
  EXPECT_THAT(dot, HasSubstr("label=\"[in]\\ndurable\""));
}

TEST(Describe, DotEscapesQuotesInLabels) {
  TopologySpec spec;
  spec.name = "say \"hi\"";
  const std::string dot = DescribeDot(spec);
  EXPECT_THAT(dot, HasSubstr("digraph \"say \\\"hi\\\"\" {"));
}

}  // namespace
}  // namespace trainbus::topology
