// One slow consumer among fast ones, under each backpressure policy, on a
// deterministic bus (CAF's test_coordinator: no threads, no timing).
//
//   generator --> [mnist] --block-->  [fast1] --> model actor
//                         --block-->  [fast2] --> model actor
//                         --POLICY--> [slow]  --> subscriber that stopped
//                         reading
//
// drop_oldest and catch_up: the fast models train on every sample, exactly
// as they do without the slow sibling (bit-identical weights), while the
// slow binding drops (and counts) or detaches and later catches up from the
// durable log. block: the slow subscriber holds everyone back, by design.
#include <memory>
#include <optional>
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

constexpr uint64_t kSamples = 400;

class Topology {
 public:
  // slow_policy empty: no slow branch at all (the baseline).
  explicit Topology(std::optional<bus::Policy> slow_policy,
                    const std::string& log_dir = "") {
    data_ = testing::RowsDataset(kSamples);
    mnist_ = Declare("mnist", log_dir, 256);
    for (const char* name : {"fast1", "fast2"}) {
      bus::resource_actor input = Declare(name, "", 256);
      Bind("mnist", name, bus::Policy::kBlock, 0, 64);
      auto m = actors::testing::TestModelOptions(
          name, "softmax:input=1x4x4,classes=4,lr=0.1", input,
          t_.Spawn(testing::SummaryListener, summaries_),
          testing::EvalOf(*data_), /*eval_every=*/50);
      EXPECT_TRUE(m.ok()) << m.status();
      if (!m.ok()) break;
      auto model = actors::SpawnModelActor(t_.system(), *m);
      EXPECT_TRUE(model.ok()) << name << ": " << model.status();
    }
    if (slow_policy) {
      // Small queues everywhere on this branch, so it fills up quickly.
      slow_ = Declare("slow", "", 4);
      Bind("mnist", "slow", *slow_policy, 8, 4);
      stalled_actor_ = t_.Spawn(testing::StalledSubscriber, slow_, stalled_);
    }
    t_.Run();
  }

  // Streams the dataset once, then an end marker, and runs until quiet.
  void Stream() {
    actors::GeneratorOptions g;
    g.source = "rows";
    g.data = data_;
    g.output = mnist_;
    g.window = 16;
    g.seed = 5;
    g.listener = t_.Spawn(testing::DoneListener, done_);
    actors::SpawnGenerator(t_.system(), g);
    t_.Run();
  }

  void Resume() {
    caf::anon_send(stalled_actor_, testing::resume_atom::value,
                   uint32_t{100000});
    t_.Run();
  }

  bus::SubscriptionMetrics MnistSubscription(const std::string& name) {
    auto m = t_.Ask<bus::ResourceMetrics>(mnist_, bus::metrics_atom::value);
    if (!m) {
      ADD_FAILURE() << "no metrics from mnist: "
                    << base::ErrorToString(m.error());
      return {};
    }
    for (const auto& s : m->subscriptions) {
      if (s.name == name) return s;
    }
    ADD_FAILURE() << "no subscription " << name;
    return {};
  }

  const ModelSummary* Summary(const std::string& name) const {
    for (const ModelSummary& s : *summaries_) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  // The model's final weights, or "" (and a failure) if it never finished.
  std::string Checkpoint(const std::string& name) const {
    const ModelSummary* s = Summary(name);
    if (s == nullptr) {
      ADD_FAILURE() << name << " has no summary";
      return "";
    }
    return s->checkpoint;
  }

  const std::vector<bus::Sample>& slow_samples() const {
    return stalled_->samples;
  }
  const testing::SourceDone& done() const { return *done_; }

 private:
  bus::resource_actor Declare(const std::string& name, const std::string& log_dir,
                     uint32_t max_queue) {
    bus::ResourceOptions r;
    r.name = name;
    r.log_dir = log_dir;
    r.max_queue = max_queue;
    auto a = t_.Ask<bus::resource_actor>(t_.directory, bus::declare_atom::value, r);
    EXPECT_TRUE(a) << base::ErrorToString(a.error());
    return a ? *a : bus::resource_actor{};
  }

  void Bind(const std::string& from, const std::string& to, bus::Policy policy,
            uint32_t max_queue, uint32_t window) {
    bus::BindingOptions b;
    b.from = from;
    b.to = to;
    b.filter = bus::Filter::Labelled();
    b.policy = policy;
    b.max_queue = max_queue;
    b.window = window;
    auto bound = t_.Ask<bus::binding_actor>(t_.directory, bus::bind_atom::value, b);
    EXPECT_TRUE(bound) << base::ErrorToString(bound.error());
  }

  BusTestSystem t_;
  std::shared_ptr<data::Dataset> data_;
  bus::resource_actor mnist_, slow_;
  caf::actor stalled_actor_;
  std::shared_ptr<std::vector<ModelSummary>> summaries_ =
      std::make_shared<std::vector<ModelSummary>>();
  std::shared_ptr<testing::Stalled> stalled_ =
      std::make_shared<testing::Stalled>();
  std::shared_ptr<testing::SourceDone> done_ =
      std::make_shared<testing::SourceDone>();
};

void ExpectFastModelsGotEverything(Topology& t) {
  EXPECT_EQ(t.done().calls, 1);  // the generator was never held up for good
  EXPECT_EQ(t.done().published, kSamples);
  for (const char* name : {"fast1", "fast2"}) {
    const ModelSummary* s = t.Summary(name);
    ASSERT_NE(s, nullptr) << name << " never saw the end of the stream";
    EXPECT_EQ(s->samples, kSamples) << name;
    EXPECT_EQ(s->steps, kSamples) << name;  // batch 1: a step per sample
    EXPECT_EQ(s->rejected_shape + s->rejected_label, 0u) << name;
    EXPECT_FALSE(s->checkpoint.empty()) << name;
    EXPECT_TRUE(s->error.empty()) << s->error;
    const bus::SubscriptionMetrics m =
        t.MnistSubscription(std::string("mnist->") + name);
    EXPECT_EQ(m.delivered, kSamples + 1) << name;  // + end marker
    EXPECT_EQ(m.dropped, 0u) << name;
  }
}

TEST(BackpressureTest, DropOldestSlowSiblingNeverStallsTheFastModels) {
  Topology baseline(std::nullopt);
  baseline.Stream();
  ExpectFastModelsGotEverything(baseline);

  Topology t(bus::Policy::kDropOldest);
  t.Stream();
  ExpectFastModelsGotEverything(t);
  // Same stream, same weights: the slow sibling changed nothing for them.
  for (const char* name : {"fast1", "fast2"}) {
    EXPECT_EQ(t.Checkpoint(name), baseline.Checkpoint(name)) << name;
  }
  EXPECT_TRUE(t.slow_samples().empty());  // it has not read anything yet
  const uint64_t dropped = t.MnistSubscription("mnist->slow").dropped;
  EXPECT_GT(dropped, kSamples / 2) << "the slow binding's drops are counted";

  // It reads again: what survived arrives, in order, ending with the marker.
  t.Resume();
  const auto& got = t.slow_samples();
  EXPECT_EQ(got.size() + dropped, kSamples + 1);
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(got.back().end_of_stream());
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_LT(got[i - 1].seq, got[i].seq);
  }
  // The oldest were dropped, so the newest sample survived.
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[got.size() - 2].seq, kSamples - 1);
}

TEST(BackpressureTest, BlockSlowSiblingHoldsEveryoneBackUntilItReads) {
  Topology t(bus::Policy::kBlock);
  t.Stream();
  // The contrast that makes the other tests meaningful: under block, the
  // generator and the fast models wait for the slow reader.
  EXPECT_EQ(t.done().calls, 0);
  EXPECT_EQ(t.Summary("fast1"), nullptr);
  EXPECT_LT(t.MnistSubscription("mnist->fast1").delivered, kSamples / 4);
  t.Resume();
  ExpectFastModelsGotEverything(t);
  EXPECT_EQ(t.slow_samples().size(), kSamples + 1);
  EXPECT_EQ(t.MnistSubscription("mnist->slow").dropped, 0u);
}

TEST(BackpressureTest, CatchUpSlowSiblingDetachesThenReadsAllFromTheLog) {
  Topology baseline(std::nullopt);
  baseline.Stream();

  Topology t(bus::Policy::kCatchUp, base::NewTestDir("catch_up_log"));
  t.Stream();
  ExpectFastModelsGotEverything(t);
  for (const char* name : {"fast1", "fast2"}) {
    EXPECT_EQ(t.Checkpoint(name), baseline.Checkpoint(name)) << name;
  }
  EXPECT_TRUE(t.slow_samples().empty());
  EXPECT_GE(t.MnistSubscription("mnist->slow").detached, 1u);

  t.Resume();
  const auto& got = t.slow_samples();
  ASSERT_EQ(got.size(), kSamples + 1);  // every message, once
  for (uint64_t i = 0; i < kSamples; ++i) {
    EXPECT_EQ(got[i].seq, i);
    EXPECT_EQ(got[i].pixels.size(), 16u) << i;  // the payload, not a stub
  }
  EXPECT_TRUE(got.back().end_of_stream());
  const bus::SubscriptionMetrics slow = t.MnistSubscription("mnist->slow");
  EXPECT_EQ(slow.dropped, 0u);
  EXPECT_GT(slow.replayed, 0u);
}

}  // namespace
}  // namespace trainbus
