#include "topology/placement.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// The hub streams [mnist]; w1 trains m1 from [r1], w2 trains m2 from [r2];
// metrics and the console stay on the hub.
constexpr char kSpec[] = R"(
name: t
nodes:
  - {name: w1}
  - {name: w2, address: "127.0.0.1:4202"}
  - {name: idle}
sources:
  - {name: gen, kind: idx, data_dir: /d, output: mnist}
resources:
  - {name: mnist}
  - {name: metrics}
  - {name: r1, node: w1}
  - {name: r2, node: w2}
bindings:
  - {from: mnist, to: r1, filter: labelled}
  - {from: mnist, to: r2, filter: labelled}
models:
  - {name: m1, spec: softmax, input: r1, output: metrics, node: w1}
  - {name: m2, spec: softmax, input: r2, output: metrics, node: w2}
consumers:
  - {name: console, kind: console, inputs: [metrics]}
)";

TopologySpec Spec() {
  absl::StatusOr<TopologySpec> spec = ParseSpec(kSpec);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.value_or(TopologySpec{});
}

TEST(ParseNodesFlagTest, ReadsNamesAndAddresses) {
  absl::StatusOr<NodeAddresses> nodes =
      ParseNodesFlag("w1=127.0.0.1:4101, w2=localhost:4102");
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  EXPECT_THAT(*nodes, ElementsAre(Pair("w1", "127.0.0.1:4101"),
                                  Pair("w2", "localhost:4102")));
  EXPECT_TRUE(ParseNodesFlag("")->empty());
}

TEST(ParseNodesFlagTest, RefusesWhatIsNotNameEqualsHostPort) {
  // Each flag, and what its error says.
  const std::map<std::string, std::string> kErrors = {
      {"w1", "'w1' is not NAME=HOST:PORT"},
      {"=127.0.0.1:1", "is not NAME=HOST:PORT"},
      {"w1=127.0.0.1", "node 'w1': '127.0.0.1' is not host:port"},
      {"w1=h:0", "node 'w1'"},
      {"w1=h:1,w1=h:2", "names node 'w1' twice"},
  };
  for (const auto& [flag, error] : kErrors) {
    absl::StatusOr<NodeAddresses> nodes = ParseNodesFlag(flag);
    ASSERT_FALSE(nodes.ok()) << flag;
    EXPECT_EQ(nodes.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(nodes.status().message(), ::testing::HasSubstr(error))
        << flag;
  }
}

TEST(PlaceTest, WithoutNodesEverythingIsOnTheHub) {
  const TopologySpec spec = Spec();
  absl::StatusOr<Placement> p = Place(spec, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->distributed());
  EXPECT_THAT(p->Parts(), ElementsAre(""));
  EXPECT_EQ(p->OwnerOf("r1"), "");
  EXPECT_EQ(p->PartOf("w1"), "");
  EXPECT_TRUE(p->Imports(spec, "").empty());
}

TEST(PlaceTest, ComponentsGoToTheirNodesAndBindingsToTheirDestination) {
  const TopologySpec spec = Spec();
  // w2's address comes from the spec; `idle` has nothing and gets no part.
  absl::StatusOr<Placement> p = Place(spec, {{"w1", "127.0.0.1:4101"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->distributed());
  EXPECT_THAT(p->Parts(), ElementsAre("", "w1", "w2"));
  EXPECT_THAT(p->addresses(), ElementsAre(Pair("w1", "127.0.0.1:4101"),
                                          Pair("w2", "127.0.0.1:4202")));
  EXPECT_EQ(p->OwnerOf("mnist"), "");
  EXPECT_EQ(p->OwnerOf("r1"), "w1");
  EXPECT_EQ(p->OwnerOf("r2"), "w2");
  EXPECT_EQ(p->PartOf(spec.bindings[0]), "w1");
  EXPECT_EQ(p->PartOf(spec.bindings[1]), "w2");
  // Each worker imports the stream and the metrics from the hub; the hub
  // imports nothing (its console reads its own [metrics]).
  EXPECT_TRUE(p->Imports(spec, "").empty());
  EXPECT_THAT(p->Imports(spec, "w1"),
              ElementsAre(Pair("", ::testing::UnorderedElementsAre("mnist", "metrics"))));
  EXPECT_THAT(p->Imports(spec, "w2"),
              ElementsAre(Pair("", ::testing::UnorderedElementsAre("mnist", "metrics"))));
}

TEST(PlaceTest, AConsumerOnANodeImportsFromTheOwners) {
  TopologySpec spec = Spec();
  spec.consumers[0].node = "w2";
  spec.consumers[0].inputs = {"metrics", "r1"};
  absl::StatusOr<Placement> p = Place(spec, {{"w1", "127.0.0.1:4101"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->Imports(spec, "w2"),
              ElementsAre(Pair("", ::testing::UnorderedElementsAre("mnist", "metrics")),
                          Pair("w1", ElementsAre("r1"))));
}

TEST(PlaceTest, ANodeNotInTheSpecIsRefusedWithTheListedOnes) {
  absl::StatusOr<Placement> p =
      Place(Spec(), {{"w1", "h:1"}, {"w9", "h:2"}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(),
              ::testing::HasSubstr("--nodes names node 'w9', which the spec does not "
                        "list under 'nodes' (it lists: idle, w1, w2)"));
}

TEST(PlaceTest, ANodeWithComponentsButNoAddressIsNamed) {
  // w1 has no address in the spec; --nodes gives only w2.
  absl::StatusOr<Placement> p = Place(Spec(), {{"w2", "h:2"}});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(),
              ::testing::HasSubstr("node 'w1' has components but no address"));
  EXPECT_THAT(p.status().message(), ::testing::HasSubstr("trainbus node --name=w1"));
}

}  // namespace
}  // namespace trainbus::topology
