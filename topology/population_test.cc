#include "topology/population.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::topology {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::pair<std::string, nn::ModelSpec>> Models(
    const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, nn::ModelSpec>> out;
  float lr = 0.01f;
  for (const std::string& n : names) {
    nn::ModelSpec spec;
    spec.optimizer = "momentum";
    spec.learning_rate = lr;
    lr *= 2;
    out.emplace_back(n, spec);
  }
  return out;
}

std::vector<std::string> Pruned(const std::vector<Decision>& ds) {
  std::vector<std::string> out;
  for (const Decision& d : ds) {
    if (d.kind == Decision::Kind::kPrune) out.push_back(d.model);
  }
  return out;
}

PopulationOptions AshaOnly(uint64_t grace, uint32_t eta) {
  PopulationOptions o;
  o.asha = AshaOptions{grace, eta};
  return o;
}

TEST(PopulationTest, AshaRungsAreGraceTimesEtaToTheK) {
  EXPECT_EQ(Population::AshaRung({100, 3}, 0), 100u);
  EXPECT_EQ(Population::AshaRung({100, 3}, 1), 300u);
  EXPECT_EQ(Population::AshaRung({100, 3}, 3), 2700u);
  EXPECT_EQ(Population::AshaRung({100, 3}, 200), UINT64_MAX);  // saturates
}

TEST(PopulationTest, AshaPrunesAllButTheTopOneOverEtaOnceAllReachTheRung) {
  Population pop(AshaOnly(100, 2), Models({"a", "b", "c", "d"}));
  EXPECT_THAT(pop.Report("a", 50, 0.9), IsEmpty());  // before the rung
  EXPECT_THAT(pop.Report("a", 100, 0.5), IsEmpty());
  EXPECT_THAT(pop.Report("b", 100, 0.7), IsEmpty());
  EXPECT_THAT(pop.Report("c", 110, 0.6), IsEmpty());  // waits for d
  std::vector<Decision> ds = pop.Report("d", 100, 0.4);
  EXPECT_THAT(Pruned(ds), ElementsAre("a", "d"));  // keeps b, c (4 / 2)
  EXPECT_EQ(ds[0].point, 100u);
  EXPECT_DOUBLE_EQ(ds[0].accuracy, 0.5);
  // A pruned model's late reports change nothing.
  EXPECT_THAT(pop.Report("a", 200, 0.99), IsEmpty());
  // Rung 200: only b and c take part.
  EXPECT_THAT(pop.Report("b", 200, 0.8), IsEmpty());
  EXPECT_THAT(Pruned(pop.Report("c", 205, 0.9)), ElementsAre("b"));
  // One model left: it is never pruned.
  EXPECT_THAT(pop.Report("c", 400, 0.1), IsEmpty());
  EXPECT_THAT(pop.Report("c", 800, 0.1), IsEmpty());

  const std::vector<Fate>& fates = pop.fates();
  ASSERT_EQ(fates.size(), 4u);
  EXPECT_EQ(fates[0].pruned_at, 100u);
  EXPECT_EQ(fates[1].pruned_at, 200u);
  EXPECT_EQ(fates[2].pruned_at, 0u);
  EXPECT_EQ(fates[3].pruned_at, 100u);
  EXPECT_THAT(FormatFates(fates), HasSubstr("pruned at 100 (acc 0.5000)"));
  EXPECT_THAT(FormatFates(fates), HasSubstr("survived"));
}

TEST(PopulationTest, AshaEtaThreeKeepsTheFloorAndTiesGoToTheListedFirst) {
  Population pop(AshaOnly(10, 3), Models({"a", "b", "c", "d", "e", "f", "g"}));
  std::vector<Decision> ds;
  for (const char* m : {"a", "b", "c", "d", "e", "f", "g"}) {
    ds = pop.Report(m, 10, 0.5);  // all tied
  }
  // 7 / 3 = 2 kept: the first two listed.
  EXPECT_THAT(Pruned(ds), ElementsAre("c", "d", "e", "f", "g"));
}

TEST(PopulationTest, AReportPastSeveralRungsStandsForEach) {
  Population pop(AshaOnly(100, 2), Models({"a", "b", "c", "d"}));
  EXPECT_THAT(pop.Report("a", 450, 0.9), IsEmpty());  // rungs 100, 200, 400
  EXPECT_THAT(pop.Report("b", 450, 0.8), IsEmpty());
  EXPECT_THAT(pop.Report("c", 450, 0.7), IsEmpty());
  std::vector<Decision> ds = pop.Report("d", 450, 0.6);
  // Rung 100 keeps a, b; rung 200 keeps a; rung 400 has one model.
  EXPECT_THAT(Pruned(ds), ElementsAre("c", "d", "b"));
  EXPECT_EQ(ds[2].point, 200u);
}

TEST(PopulationTest, AFinishedModelDoesNotHoldARungBack) {
  Population pop(AshaOnly(100, 2), Models({"a", "b", "c"}));
  EXPECT_THAT(pop.Report("a", 100, 0.9), IsEmpty());
  EXPECT_THAT(pop.Report("b", 100, 0.8), IsEmpty());
  // c's stream ended before the rung: the rung is decided without it.
  EXPECT_THAT(Pruned(pop.Finished("c")), ElementsAre("b"));
}

PopulationOptions PbtOnly(uint64_t interval, double quantile, uint64_t seed) {
  PopulationOptions o;
  o.pbt = PbtOptions{interval, quantile, seed};
  return o;
}

TEST(PopulationTest, PbtBottomQuantileCopiesTheTopAndPerturbs) {
  Population pop(PbtOnly(100, 0.25, 7), Models({"a", "b", "c", "d"}));
  EXPECT_THAT(pop.Report("a", 100, 0.6), IsEmpty());
  EXPECT_THAT(pop.Report("b", 100, 0.9), IsEmpty());
  EXPECT_THAT(pop.Report("c", 100, 0.7), IsEmpty());
  std::vector<Decision> ds = pop.Report("d", 120, 0.5);
  ASSERT_EQ(ds.size(), 1u);  // 4 x 0.25: one receiver, one donor
  const Decision& d = ds[0];
  EXPECT_EQ(d.kind, Decision::Kind::kCopy);
  EXPECT_EQ(d.model, "d");
  EXPECT_EQ(d.donor, "b");
  EXPECT_EQ(d.point, 100u);
  EXPECT_DOUBLE_EQ(d.donor_accuracy, 0.9);
  // b's spec (lr 0.02, momentum 0.9), each value x0.8 or x1.2 (4 digits).
  EXPECT_TRUE(d.spec.learning_rate == 0.016f ||
              d.spec.learning_rate == 0.024f)
      << d.spec.learning_rate;
  EXPECT_TRUE(d.spec.momentum == 0.92f || d.spec.momentum == 0.88f)
      << d.spec.momentum;
  EXPECT_EQ(nn::FormatModelSpec(d.spec).find("00000"), std::string::npos)
      << nn::FormatModelSpec(d.spec);
  EXPECT_EQ(pop.spec("d")->learning_rate, d.spec.learning_rate);
  ASSERT_EQ(pop.fates()[3].copies.size(), 1u);
  EXPECT_EQ(pop.fates()[3].copies[0].donor, "b");
  EXPECT_THAT(FormatFates(pop.fates()), HasSubstr("from b at 100"));
}

std::vector<Decision> RunPbt(uint64_t seed) {
  std::vector<std::string> names = {"a", "b", "c", "d", "e", "f", "g", "h"};
  Population pop(PbtOnly(100, 0.25, seed), Models(names));
  std::vector<Decision> all;
  for (uint64_t samples : {100, 200, 300}) {
    double acc = 0.1;
    for (const std::string& n : names) {
      for (Decision& d : pop.Report(n, samples, acc)) all.push_back(d);
      acc += 0.1;  // h is best, a worst
    }
  }
  return all;
}

TEST(PopulationTest, PbtIsSeededAndDonorsComeFromTheTopQuantile) {
  std::vector<Decision> one = RunPbt(3), again = RunPbt(3);
  ASSERT_EQ(one.size(), 6u);  // 8 x 0.25 = 2 per interval, 3 intervals
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_THAT(one[i].model, ::testing::AnyOf("a", "b"));
    EXPECT_THAT(one[i].donor, ::testing::AnyOf("g", "h"));
    EXPECT_EQ(one[i].donor, again[i].donor);
    EXPECT_EQ(one[i].spec.learning_rate, again[i].spec.learning_rate);
  }
}

TEST(PopulationTest, APrunedModelIsNeverAPbtDonor) {
  PopulationOptions o;
  o.asha = AshaOptions{100, 2};
  o.pbt = PbtOptions{100, 0.5, 1};
  Population pop(o, Models({"a", "b", "c", "d"}));
  std::vector<Decision> ds;
  for (auto [m, acc] : std::vector<std::pair<std::string, double>>{
           {"a", 0.9}, {"b", 0.8}, {"c", 0.7}, {"d", 0.6}}) {
    ds = pop.Report(m, 100, acc);
  }
  // ASHA prunes c and d; PBT then ranks a and b: b copies a.
  ASSERT_EQ(ds.size(), 3u);
  EXPECT_THAT(Pruned(ds), ElementsAre("c", "d"));
  EXPECT_EQ(ds[2].kind, Decision::Kind::kCopy);
  EXPECT_EQ(ds[2].model, "b");
  EXPECT_EQ(ds[2].donor, "a");
}

}  // namespace
}  // namespace trainbus::topology
