// The controller on real model actors and a real directory, driven by the
// deterministic test scheduler: samples in, then check what was unbound,
// stopped and copied.
#include "actors/population/controller.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/model/model_actor.h"
#include "actors/model/model_actor_testing.h"
#include "bus/atoms.h"
#include "bus/bus_test_util.h"
#include "bus/subscribe.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"

namespace trainbus::actors {
namespace {

using bus::testing::BusTestSystem;

// Sets *down when `watched` terminates.
caf::behavior DownWatcher(caf::event_based_actor* self, caf::actor watched,
                          std::shared_ptr<bool> down) {
  self->monitor(watched);
  self->set_down_handler([=](const caf::down_msg&) { *down = true; });
  return {[](int) {}};
}

caf::behavior SummaryListener(caf::event_based_actor*,
                              std::shared_ptr<std::vector<ModelSummary>> out) {
  return {[=](ModelSummary& s) { out->push_back(std::move(s)); }};
}

caf::behavior DoneFlag(caf::event_based_actor*, std::shared_ptr<bool> done) {
  return {[=](bus::done_atom) { *done = true; }};
}

class ControllerTest : public ::testing::Test {
 protected:
  bus::resource_actor Declare(const std::string& name) {
    bus::ResourceOptions r;
    r.name = name;
    auto a =
        t.Ask<bus::resource_actor>(t.directory, bus::declare_atom::value, r);
    EXPECT_TRUE(a);
    return a ? *a : bus::resource_actor{};
  }

  // Four softmax models on "stream", learning at different rates, reporting
  // every 8 samples to "metrics", under a controller with `population`.
  void Start(topology::PopulationOptions population) {
    stream = Declare("stream");
    bus::resource_actor metrics = Declare("metrics");
    PopulationControllerOptions c;
    c.population = population;
    c.directory = t.directory;
    c.metrics = metrics;
    c.print = false;
    c.waiter = t.Spawn(DoneFlag, done);
    c.result = result;
    const std::vector<std::string> rates = {"0.5", "0.001", "0.2", "0.0001"};
    for (size_t i = 0; i < rates.size(); ++i) {
      const std::string name = "m" + std::to_string(i + 1);
      specs.push_back("softmax:input=1x2x2,classes=2,lr=" + rates[i]);
      PopulationMember m;
      m.name = name;
      m.feeds = {"stream"};
      m.resource = name;
      m.spec = *nn::ParseModelSpec(specs.back());
      c.members.push_back(m);
    }
    controller = SpawnPopulationController(t.system(), c);
    caf::actor listener = t.Spawn(SummaryListener, summaries);
    bus::SubscribeOptions sub;
    sub.initial_credit = 64;
    bus::SubscribeNow(controller, metrics, sub);
    for (const PopulationMember& m : c.members) {
      bus::resource_actor input = Declare(m.name);
      bus::BindingOptions b;
      b.from = "stream";
      b.to = m.name;
      b.filter = bus::Filter::Labelled();
      ASSERT_TRUE(t.Ask<bus::binding_actor>(t.directory, bus::bind_atom::value, b));
      absl::StatusOr<ModelActorOptions> o = testing::TestModelOptions(
          m.name, nn::FormatModelSpec(m.spec), input, listener,
          testing::PatternEvalSet(), /*eval_every=*/8);
      ASSERT_TRUE(o.ok()) << o.status();
      o->metrics = metrics;
      absl::StatusOr<caf::actor> actor = SpawnModelActor(t.system(), *o);
      ASSERT_TRUE(actor.ok()) << actor.status();
      actors.push_back(*actor);
      downs.push_back(std::make_shared<bool>(false));
      t.Spawn(DownWatcher, *actor, downs.back());
      caf::anon_send(controller, join_atom::value, m.name, *actor);
    }
    t.Run();
  }

  void Publish(bus::Sample s) {
    ASSERT_TRUE(t.Ask<uint64_t>(stream, bus::publish_atom::value, std::move(s)));
    t.Run();
  }

  std::vector<std::string> BoundModels() {
    auto d = t.Ask<bus::TopologyDescription>(t.directory,
                                             bus::describe_atom::value);
    std::vector<std::string> out;
    if (d) {
      for (const bus::BindingOptions& b : d->bindings) out.push_back(b.to);
    }
    return out;
  }

  BusTestSystem t;
  bus::resource_actor stream;
  caf::actor controller;
  std::vector<std::string> specs;
  std::vector<caf::actor> actors;
  std::vector<std::shared_ptr<bool>> downs;
  std::shared_ptr<bool> done = std::make_shared<bool>(false);
  std::shared_ptr<PopulationResult> result =
      std::make_shared<PopulationResult>();
  std::shared_ptr<std::vector<ModelSummary>> summaries =
      std::make_shared<std::vector<ModelSummary>>();
};

TEST_F(ControllerTest, APrunedModelIsUnboundAndStopped) {
  topology::PopulationOptions p;
  p.asha = topology::AshaOptions{8, 2};
  ASSERT_NO_FATAL_FAILURE(Start(p));
  for (uint64_t i = 0; i < 8; ++i) Publish(testing::Pattern(i, i % 2));
  // Every model reported at sample 8: the rung decides two of four.
  ASSERT_EQ(result->events.size(), 2u);
  std::vector<std::string> pruned;
  for (const PopulationEvent& e : result->events) {
    EXPECT_EQ(e.decision.kind, topology::Decision::Kind::kPrune);
    EXPECT_EQ(e.decision.point, 8u);
    EXPECT_EQ(e.error, "");
    pruned.push_back(e.decision.model);
  }
  std::vector<std::string> bound = BoundModels();
  EXPECT_EQ(bound.size(), 2u);
  for (size_t i = 0; i < actors.size(); ++i) {
    const std::string name = "m" + std::to_string(i + 1);
    const bool was_pruned =
        std::find(pruned.begin(), pruned.end(), name) != pruned.end();
    EXPECT_EQ(*downs[i], was_pruned) << name;
    EXPECT_EQ(std::find(bound.begin(), bound.end(), name) != bound.end(),
              !was_pruned)
        << name;
  }
  // The survivors train on; the run ends when they reach the end.
  Publish(testing::Pattern(8, 0));
  EXPECT_FALSE(*done);
  Publish(bus::Sample::EndOfStream("patterns", 9));
  ASSERT_TRUE(*done);
  ASSERT_EQ(summaries->size(), 4u);
  for (const ModelSummary& s : *summaries) {
    const bool was_pruned =
        std::find(pruned.begin(), pruned.end(), s.name) != pruned.end();
    EXPECT_EQ(s.samples, was_pruned ? 8u : 9u) << s.name;
    EXPECT_EQ(s.stopped.empty(), !was_pruned) << s.name << ": " << s.stopped;
  }
  ASSERT_EQ(result->fates.size(), 4u);
  for (const topology::Fate& f : result->fates) {
    const bool was_pruned =
        std::find(pruned.begin(), pruned.end(), f.model) != pruned.end();
    EXPECT_EQ(f.pruned_at, was_pruned ? 8u : 0u) << f.model;
  }
}

TEST_F(ControllerTest, APbtCopyGivesTheReceiverTheDonorsWeightsBitForBit) {
  topology::PopulationOptions p;
  p.pbt = topology::PbtOptions{8, 0.25, 5};
  ASSERT_NO_FATAL_FAILURE(Start(p));
  for (uint64_t i = 0; i < 8; ++i) Publish(testing::Pattern(i, i % 2));
  ASSERT_EQ(result->events.size(), 1u);  // 4 x 0.25
  const topology::Decision& d = result->events[0].decision;
  ASSERT_EQ(d.kind, topology::Decision::Kind::kCopy);
  EXPECT_EQ(result->events[0].error, "");
  EXPECT_NE(d.model, d.donor);
  const size_t donor = d.donor[1] - '1', receiver = d.model[1] - '1';
  // Nothing was published since the copy point: the donor still holds the
  // weights it sent.
  auto from = t.Ask<ModelCheckpoint>(actors[donor], checkpoint_atom::value);
  auto to = t.Ask<ModelCheckpoint>(actors[receiver], checkpoint_atom::value);
  ASSERT_TRUE(from);
  ASSERT_TRUE(to);
  absl::StatusOr<std::unique_ptr<nn::Model>> receiver_model =
      nn::LoadModel(to->bytes);
  ASSERT_TRUE(receiver_model.ok()) << receiver_model.status();
  // It trains with the perturbed spec ...
  EXPECT_EQ(nn::FormatModelSpec((*receiver_model)->spec()),
            nn::FormatModelSpec(d.spec));
  EXPECT_NE(nn::FormatModelSpec(d.spec),
            nn::FormatModelSpec(*nn::ParseModelSpec(specs[donor])));
  // ... on the donor's weights and optimizer state, bit for bit.
  absl::StatusOr<std::unique_ptr<nn::Model>> as_donor =
      nn::LoadModel(to->bytes, *nn::ParseModelSpec(specs[donor]));
  ASSERT_TRUE(as_donor.ok()) << as_donor.status();
  EXPECT_EQ((*as_donor)->SaveCheckpoint(), from->bytes);
  Publish(bus::Sample::EndOfStream("patterns", 8));
  ASSERT_TRUE(*done);
  ASSERT_EQ(result->fates[receiver].copies.size(), 1u);
  EXPECT_EQ(result->fates[receiver].copies[0].donor, d.donor);
}

}  // namespace
}  // namespace trainbus::actors
