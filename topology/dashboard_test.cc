#include "topology/dashboard.h"

#include <map>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

using Json = nlohmann::json;

TopologySpec Load(const std::string& path) {
  absl::StatusOr<TopologySpec> spec = LoadSpecFile(path);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : TopologySpec{};
}

// "FROM -> TO" of every edge, to its JSON.
std::map<std::string, Json> EdgesOf(const Json& graph) {
  std::map<std::string, Json> out;
  for (const Json& e : graph["edges"]) {
    out[e["from"].get<std::string>() + " -> " + e["to"].get<std::string>()] =
        e;
  }
  return out;
}

TEST(TopologyGraphJson, EveryComponentAndTheSubscriptionOfEachEdge) {
  const Json g = TopologyGraphJson(Load("experiments/production_routing.yaml"));
  std::map<std::string, Json> nodes;
  for (const Json& n : g["nodes"]) nodes[n["id"].get<std::string>()] = n;
  ASSERT_EQ(nodes.count("source:images"), 1u);
  EXPECT_EQ(nodes["source:images"]["kind"], "source");
  EXPECT_EQ(nodes["source:images"]["subtitle"], "image_dir");
  // The page brackets resource names and finds their figures by them.
  EXPECT_EQ(nodes["resource:live"]["title"], "live");
  EXPECT_EQ(nodes["model:model4"]["kind"], "model");
  EXPECT_EQ(nodes["consumer:aggregator"]["kind"], "consumer");
  EXPECT_EQ(nodes.size(), 3u + 9u + 4u + 4u);

  std::map<std::string, Json> edges = EdgesOf(g);
  const Json& binding = edges["resource:live -> resource:model2"];
  EXPECT_EQ(binding["label"], "unlabelled / block");
  EXPECT_EQ(binding["subscription"],
            Json({{"resource", "live"}, {"name", "live->model2"}}));
  EXPECT_EQ(edges["resource:model2 -> model:model2"]["subscription"],
            Json({{"resource", "model2"}, {"name", "model2"}}));
  EXPECT_EQ(edges["resource:predictions -> consumer:jsonl"]["subscription"],
            Json({{"resource", "predictions"}, {"name", "jsonl"}}));
  // Publishing carries no subscription.
  EXPECT_FALSE(edges["model:model1 -> resource:predictions"].contains(
      "subscription"));
  EXPECT_TRUE(edges["source:images -> resource:dead_letter"]["dashed"]);
  EXPECT_TRUE(g["groups"].empty());
}

TEST(TopologyGraphJson, EachNodeIsAGroupOfItsComponents) {
  const Json g = TopologyGraphJson(Load("experiments/cluster.yaml"));
  std::set<std::string> groups;
  for (const Json& group : g["groups"]) groups.insert(group["id"]);
  EXPECT_EQ(groups, (std::set<std::string>{"worker1", "worker2"}));
  for (const Json& n : g["nodes"]) {
    if (n["id"] == "model:worker2/model1") {
      EXPECT_EQ(n["group"], "worker2");
    }
    if (n["id"] == "resource:mnist") {
      EXPECT_EQ(n["group"], "");
    }
  }
}

TEST(DashboardOptionsFor, FlagsThenTheSpecThenDefaults) {
  TopologySpec spec;
  spec.auth_token = "from-spec";
  DashboardOptions o = DashboardOptionsFor(spec, ":0", std::nullopt,
                                           std::string("/tmp/r"));
  EXPECT_EQ(o.address, ":0");
  EXPECT_EQ(o.auth_token, "from-spec");
  EXPECT_EQ(o.registry_dir, "/tmp/r");
  o = DashboardOptionsFor(spec, ":1", std::string("flag"), std::nullopt);
  EXPECT_EQ(o.auth_token, "flag");
  EXPECT_EQ(o.registry_dir, registry::Store::DefaultRoot());
}

}  // namespace
}  // namespace trainbus::topology
