// Replay: a model trained from a durable resource at offset 0 ends with the
// same weights and the same accuracy curve every time, including after the
// bus (and its log) has been restarted.
//
//   generator --> [mnist (durable)] --start=earliest--> [replayK] --> model
#include <memory>
#include <string>
#include <vector>

#include "actors/generator/generator.h"
#include "actors/model/model_actor.h"
#include "base/status_error.h"
#include "actors/model/model_actor_testing.h"
#include "base/test_dir.h"
#include "bus/atoms.h"
#include "bus/bus_test_util.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"
#include "tests/test_topology.h"

namespace trainbus {
namespace {

using actors::ModelSummary;
using bus::testing::BusTestSystem;

constexpr uint64_t kSamples = 600;

bus::resource_actor Declare(BusTestSystem& t, const std::string& name,
                   const std::string& log_dir = "") {
  bus::ResourceOptions r;
  r.name = name;
  r.log_dir = log_dir;
  auto a = t.Ask<bus::resource_actor>(t.directory, bus::declare_atom::value, r);
  EXPECT_TRUE(a) << base::ErrorToString(a.error());
  return a ? *a : bus::resource_actor{};
}

// Trains a fresh model on everything `mnist` holds, from offset 0.
ModelSummary TrainFromTheLog(BusTestSystem& t, const std::string& name,
                             const data::Dataset& eval) {
  bus::resource_actor input = Declare(t, name);
  auto summaries = std::make_shared<std::vector<ModelSummary>>();
  auto m = actors::testing::TestModelOptions(
      name,
      "mlp:input=1x4x4,classes=4,hidden=8,opt=momentum,lr=0.05,batch=8,seed=3",
      input, t.Spawn(testing::SummaryListener, summaries),
      testing::EvalOf(eval));
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return ModelSummary{};
  auto model = actors::SpawnModelActor(t.system(), *m);
  EXPECT_TRUE(model.ok()) << name << ": " << model.status();
  if (!model.ok()) return ModelSummary{};
  t.Run();  // subscribed before anything flows
  bus::BindingOptions b;
  b.from = "mnist";
  b.to = name;
  b.filter = bus::Filter::Labelled();
  b.start = bus::StartFrom::kEarliest;
  auto bound = t.Ask<bus::binding_actor>(t.directory, bus::bind_atom::value, b);
  EXPECT_TRUE(bound) << base::ErrorToString(bound.error());
  t.Run();
  EXPECT_EQ(summaries->size(), 1u) << name << " did not reach the end marker";
  // Everything the log holds reached the model: each sample and the marker.
  auto metrics = t.Ask<bus::ResourceMetrics>(input, bus::metrics_atom::value);
  EXPECT_TRUE(metrics) << name;
  if (metrics) {
    EXPECT_EQ(metrics->published, kSamples + 1) << name;
  }
  return summaries->empty() ? ModelSummary{} : summaries->front();
}

void ExpectSameRun(const ModelSummary& a, const ModelSummary& b) {
  SCOPED_TRACE(a.name + " vs " + b.name);
  EXPECT_EQ(b.rejected_shape + b.rejected_label, 0u);
  EXPECT_TRUE(b.error.empty()) << b.error;
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.test_accuracy, b.test_accuracy);
  EXPECT_EQ(a.prequential_accuracy, b.prequential_accuracy);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) {
    EXPECT_EQ(a.curve[i].step, b.curve[i].step) << i;
    EXPECT_EQ(a.curve[i].test_accuracy, b.curve[i].test_accuracy) << i;
    EXPECT_EQ(a.curve[i].prequential_accuracy, b.curve[i].prequential_accuracy)
        << i;
    EXPECT_EQ(a.curve[i].loss, b.curve[i].loss) << i;  // bit for bit
  }
  EXPECT_FALSE(a.checkpoint.empty());
  EXPECT_TRUE(a.checkpoint == b.checkpoint) << "weights differ";
}

TEST(ReplayTest, TrainingFromOffsetZeroIsBitIdenticalEveryTime) {
  const std::string log_dir = base::NewTestDir("replay_log");
  auto data = testing::RowsDataset(kSamples, /*salt=*/7);
  auto eval = testing::RowsDataset(100, /*salt=*/99);
  ModelSummary first, second, after_restart;
  {
    BusTestSystem t;
    bus::resource_actor mnist = Declare(t, "mnist", log_dir);
    auto done = std::make_shared<testing::SourceDone>();
    actors::GeneratorOptions g;
    g.source = "rows";
    g.data = data;
    g.output = mnist;
    g.seed = 11;  // shuffled: the order matters and must be replayed exactly
    g.listener = t.Spawn(testing::DoneListener, done);
    actors::SpawnGenerator(t.system(), g);
    t.Run();
    ASSERT_EQ(done->published, kSamples);
    first = TrainFromTheLog(t, "replay1", *eval);
    second = TrainFromTheLog(t, "replay2", *eval);
  }
  {
    BusTestSystem t;  // a new bus: the log is recovered from disk
    Declare(t, "mnist", log_dir);
    after_restart = TrainFromTheLog(t, "replay3", *eval);
  }
  EXPECT_TRUE(first.error.empty()) << first.error;
  EXPECT_EQ(first.rejected_shape + first.rejected_label, 0u);
  EXPECT_EQ(first.samples, kSamples);
  EXPECT_EQ(first.steps, kSamples / 8);
  EXPECT_GT(first.test_accuracy, 0.9);  // it did learn something
  EXPECT_GE(first.curve.size(), 7u);
  ExpectSameRun(first, second);
  ExpectSameRun(first, after_restart);
}

}  // namespace
}  // namespace trainbus
