// The model actor, driven deterministically: given these messages in, these
// metrics, predictions and summary come out.
#include "actors/model/model_actor.h"

#include <memory>

#include "bus/atoms.h"
#include "bus/bus_test_util.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::actors {
namespace {

using bus::testing::BusTestSystem;
using bus::testing::Collector;
using bus::testing::Received;

// Two 2x2 patterns: class 0 lights the left column, class 1 the right one.
bus::Sample Pattern(uint64_t seq, int32_t cls, bool labelled = true) {
  bus::Sample s;
  s.seq = seq;
  s.source = "patterns";
  s.shape = {2, 2};
  s.pixels = bus::Bytes(cls == 0 ? std::vector<uint8_t>{255, 0, 255, 0}
                                 : std::vector<uint8_t>{0, 255, 0, 255});
  s.label = labelled ? cls : bus::kNoLabel;
  return s;
}

std::shared_ptr<const EvalSet> PatternEvalSet() {
  auto set = std::make_shared<EvalSet>();
  set->count = 4;
  set->input_size = 4;
  for (int i = 0; i < 4; ++i) {
    bus::Sample s = Pattern(i, i % 2);
    for (size_t p = 0; p < 4; ++p) set->x.push_back(s.pixels.data()[p] / 255.f);
    set->labels.push_back(i % 2);
  }
  return set;
}

caf::behavior SummaryListener(caf::event_based_actor*,
                              std::shared_ptr<std::vector<ModelSummary>> out) {
  return {[=](ModelSummary& s) { out->push_back(std::move(s)); }};
}

class ModelActorTest : public ::testing::Test {
 protected:
  bus::resource_actor Declare(const std::string& name) {
    bus::ResourceOptions r;
    r.name = name;
    auto a = t.Ask<bus::resource_actor>(t.directory, bus::declare_atom::value, r);
    EXPECT_TRUE(a);
    return *a;
  }

  std::shared_ptr<Received> Watch(const bus::resource_actor& resource) {
    auto got = std::make_shared<Received>();
    bus::SubscribeOptions sub;
    sub.initial_credit = 100000;
    EXPECT_TRUE(t.Ask<uint64_t>(resource, bus::subscribe_atom::value,
                                t.Spawn(Collector, got), sub));
    return got;
  }

  void SetUp() override {
    input = Declare("model1");
    metrics_resource = Declare("metrics");
    predictions_resource = Declare("predictions");
    metrics = Watch(metrics_resource);
    predictions = Watch(predictions_resource);
    options.name = "model1";
    auto spec = nn::ParseModelSpec("softmax:input=1x2x2,classes=2,lr=0.5");
    ASSERT_TRUE(spec.ok()) << spec.status();
    options.spec = *spec;
    options.eval_every = 10;
    options.eval_subset = 0;
    options.print = false;
    options.detached = false;
    options.input = input;
    options.metrics = metrics_resource;
    options.predictions = predictions_resource;
    options.listener = t.Spawn(SummaryListener, summaries);
    options.eval = PatternEvalSet();
  }

  void Publish(bus::Sample s) {
    ASSERT_TRUE(t.Ask<uint64_t>(input, bus::publish_atom::value, std::move(s)));
  }

  BusTestSystem t;
  bus::resource_actor input, metrics_resource, predictions_resource;
  std::shared_ptr<Received> metrics, predictions;
  std::shared_ptr<std::vector<ModelSummary>> summaries =
      std::make_shared<std::vector<ModelSummary>>();
  ModelActorOptions options;
};

TEST_F(ModelActorTest, ReportsEveryNStepsAndSummarisesAtTheEnd) {
  auto actor = SpawnModelActor(t.system(), options);
  ASSERT_TRUE(actor.ok()) << actor.status();
  t.Run();
  for (uint64_t i = 0; i < 30; ++i) Publish(Pattern(i, i % 2));
  Publish(bus::Sample::EndOfStream("patterns", 30));
  t.Run();
  ASSERT_EQ(metrics->metrics.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const bus::Metric& m = metrics->metrics[i];
    EXPECT_EQ(m.model, "model1");
    EXPECT_EQ(m.step, 10 * (i + 1));
    EXPECT_EQ(m.values.count("test_accuracy"), 1u);
    EXPECT_EQ(m.values.count("prequential_accuracy"), 1u);
  }
  EXPECT_DOUBLE_EQ(metrics->metrics.back().values.at("test_accuracy"), 1.0);
  ASSERT_EQ(summaries->size(), 1u);
  const ModelSummary& s = summaries->front();
  EXPECT_EQ(s.steps, 30u);
  EXPECT_EQ(s.samples, 30u);
  EXPECT_DOUBLE_EQ(s.test_accuracy, 1.0);
  // Test-then-train: the very first sample is scored by untrained weights,
  // so prequential accuracy is high but need not be perfect.
  EXPECT_GT(s.prequential_accuracy, 0.8);
  EXPECT_EQ(s.curve.size(), 3u);
  EXPECT_FALSE(s.checkpoint.empty());
  auto reloaded = nn::LoadModel(s.checkpoint);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ((*reloaded)->steps(), 30u);
}

TEST_F(ModelActorTest, MiniBatchesStepOncePerBatch) {
  options.spec.batch_size = 5;
  options.eval_every = 2;
  ASSERT_TRUE(SpawnModelActor(t.system(), options).ok());
  t.Run();
  for (uint64_t i = 0; i < 23; ++i) Publish(Pattern(i, i % 2));
  Publish(bus::Sample::EndOfStream("patterns", 23));
  t.Run();
  ASSERT_EQ(summaries->size(), 1u);
  // 4 full batches, then the partial batch of 3 at the end of the stream.
  EXPECT_EQ(summaries->front().steps, 5u);
  EXPECT_EQ(summaries->front().samples, 23u);
  // Reports at steps 2 and 4, plus a final one for the partial window.
  ASSERT_EQ(metrics->metrics.size(), 3u);
  EXPECT_EQ(metrics->metrics[0].step, 2u);
  EXPECT_EQ(metrics->metrics[1].step, 4u);
}

TEST_F(ModelActorTest, UnlabelledSamplesArePredictedAndForwarded) {
  ASSERT_TRUE(SpawnModelActor(t.system(), options).ok());
  t.Run();
  for (uint64_t i = 0; i < 40; ++i) Publish(Pattern(i, i % 2));
  Publish(Pattern(100, 0, /*labelled=*/false));
  Publish(Pattern(101, 1, /*labelled=*/false));
  t.Run();
  ASSERT_EQ(predictions->predictions.size(), 2u);
  const bus::Prediction& p0 = predictions->predictions[0];
  EXPECT_EQ(p0.sample_seq, 100u);
  EXPECT_EQ(p0.model, "model1");
  EXPECT_EQ(p0.label, 0);
  EXPECT_EQ(p0.scores.size(), 2u);
  EXPECT_EQ(predictions->predictions[1].label, 1);
}

TEST_F(ModelActorTest, WrongShapesAreSkippedNotFatal) {
  ASSERT_TRUE(SpawnModelActor(t.system(), options).ok());
  t.Run();
  bus::Sample bad = Pattern(0, 0);
  bad.pixels = bus::Bytes(std::vector<uint8_t>(7, 1));
  Publish(bad);
  bus::Sample out_of_range = Pattern(1, 0);
  out_of_range.label = 9;  // only 2 classes
  Publish(out_of_range);
  for (uint64_t i = 2; i < 12; ++i) Publish(Pattern(i, i % 2));
  Publish(bus::Sample::EndOfStream("patterns", 12));
  t.Run();
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_EQ(summaries->front().samples, 10u);
  EXPECT_TRUE(summaries->front().error.empty());
}

TEST_F(ModelActorTest, FinishesAfterTheLastOfSeveralStreams) {
  options.end_markers = 2;
  options.eval_every = 1000;  // no periodic reports
  ASSERT_TRUE(SpawnModelActor(t.system(), options).ok());
  t.Run();
  for (uint64_t i = 0; i < 7; ++i) Publish(Pattern(i, i % 2));
  Publish(bus::Sample::EndOfStream("production", 0));
  t.Run();
  EXPECT_TRUE(summaries->empty());  // one stream is still open
  for (uint64_t i = 7; i < 10; ++i) Publish(Pattern(i, i % 2));
  Publish(bus::Sample::EndOfStream("patterns", 10));
  t.Run();
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_EQ(summaries->front().samples, 10u);
  EXPECT_EQ(summaries->front().steps, 10u);
}

TEST_F(ModelActorTest, CreditBoundsWhatIsInFlight) {
  options.credit = 4;
  options.quit_at_end = false;  // keep the subscription to look at
  absl::StatusOr<caf::actor> model = SpawnModelActor(t.system(), options);
  ASSERT_TRUE(model.ok()) << model.status();
  t.Run();
  // Metrics as the resource sees them, running only the resource, so the
  // model takes nothing meanwhile.
  caf::scoped_actor self{t.system()};
  auto run_resource_only = [&] {
    while (t.sched().prioritize(input)) t.sched().run_once();
  };
  auto subscription = [&] {
    bus::SubscriptionMetrics got;
    auto reply = self->request(input, caf::infinite, bus::metrics_atom::value);
    run_resource_only();
    reply.receive(
        [&](bus::ResourceMetrics& m) {
          if (m.subscriptions.size() == 1) got = m.subscriptions[0];
        },
        [&](caf::error& e) { ADD_FAILURE() << to_string(e); });
    return got;
  };
  EXPECT_EQ(subscription().credit, 4u);

  // 20 publishes while the model is busy: 4 go out, 16 wait for credit.
  for (uint64_t i = 0; i < 20; ++i) {
    self->send(input, bus::publish_atom::value, Pattern(i, i % 2));
  }
  run_resource_only();
  bus::SubscriptionMetrics busy = subscription();
  EXPECT_EQ(busy.delivered, 4u);
  EXPECT_EQ(busy.queue_depth, 16u);
  EXPECT_EQ(busy.credit, 0u);

  // The model takes them; each credit it returns lets one more go, and all
  // of it comes back once it is done.
  Publish(bus::Sample::EndOfStream("patterns", 20));
  t.Run();
  bus::SubscriptionMetrics done = subscription();
  EXPECT_EQ(done.delivered, 21u);
  EXPECT_EQ(done.queue_depth, 0u);
  EXPECT_EQ(done.credit, 4u);
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_EQ(summaries->front().samples, 20u);
}

}  // namespace
}  // namespace trainbus::actors
