// The model actor, driven deterministically: given these messages in, these
// metrics, predictions and summary come out.
#include "actors/model/model_actor.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/model/model_actor_testing.h"
#include "base/status_error.h"
#include "bus/atoms.h"
#include "bus/bus_test_util.h"
#include "bus/sequence.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::actors {
namespace {

using bus::testing::BusTestSystem;
using bus::testing::Collector;
using bus::testing::Received;

using testing::Pattern;
using testing::PatternEvalSet;

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
    auto m = testing::TestModelOptions(
        "model1", "softmax:input=1x2x2,classes=2,lr=0.5", input,
        t.Spawn(SummaryListener, summaries), PatternEvalSet());
    ASSERT_TRUE(m.ok()) << m.status();
    options = *m;
    options.metrics = metrics_resource;
    options.predictions = predictions_resource;
  }

  void Publish(bus::Sample s) {
    ASSERT_TRUE(t.Ask<uint64_t>(input, bus::publish_atom::value, std::move(s)));
  }

  // Spawns the model from `options` and lets it subscribe.
  void Start() {
    auto actor = SpawnModelActor(t.system(), options);
    ASSERT_TRUE(actor.ok()) << actor.status();
    t.Run();
  }

  // The end-of-stream marker after `seq` samples of `source`, and its effect.
  void EndStream(uint64_t seq, const std::string& source = "patterns") {
    Publish(bus::Sample::EndOfStream(source, seq));
    t.Run();
  }

  BusTestSystem t;
  bus::resource_actor input, metrics_resource, predictions_resource;
  std::shared_ptr<Received> metrics, predictions;
  std::shared_ptr<std::vector<ModelSummary>> summaries =
      std::make_shared<std::vector<ModelSummary>>();
  ModelActorOptions options;
};

TEST_F(ModelActorTest, ReportsEveryNStepsAndSummarisesAtTheEnd) {
  ASSERT_NO_FATAL_FAILURE(Start());
  for (uint64_t i = 0; i < 30; ++i) Publish(Pattern(i, i % 2));
  EndStream(30);
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
  ASSERT_NO_FATAL_FAILURE(Start());
  for (uint64_t i = 0; i < 23; ++i) Publish(Pattern(i, i % 2));
  EndStream(23);
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
  ASSERT_NO_FATAL_FAILURE(Start());
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

TEST_F(ModelActorTest, WrongShapesAndLabelsAreCountedNotTrainedOn) {
  ASSERT_NO_FATAL_FAILURE(Start());
  bus::Sample short_pixels = Pattern(0, 0);  // says 2x2, holds 7 bytes
  short_pixels.pixels = bus::Bytes(std::vector<uint8_t>(7, 1));
  Publish(short_pixels);
  bus::Sample flat = Pattern(1, 0);  // 4 bytes, but a flat {4}
  flat.shape = {4};
  Publish(flat);
  bus::Sample no_shape = Pattern(2, 1);
  no_shape.shape.clear();
  Publish(no_shape);
  bus::Sample unlabelled_flat = Pattern(3, 1, /*labelled=*/false);
  unlabelled_flat.shape = {4, 1};
  Publish(unlabelled_flat);
  bus::Sample out_of_range = Pattern(4, 0);
  out_of_range.label = 9;  // only 2 classes
  Publish(out_of_range);
  bus::Sample negative = Pattern(5, 0);
  negative.label = -7;
  Publish(negative);
  for (uint64_t i = 6; i < 16; ++i) Publish(Pattern(i, i % 2));
  EndStream(16);
  ASSERT_EQ(summaries->size(), 1u);
  const ModelSummary& s = summaries->front();
  EXPECT_EQ(s.samples, 10u);
  EXPECT_EQ(s.steps, 10u);
  EXPECT_EQ(s.predictions, 0u);
  EXPECT_EQ(s.rejected_shape, 4u);
  EXPECT_EQ(s.rejected_label, 2u);
  EXPECT_TRUE(s.error.empty());
  EXPECT_TRUE(predictions->predictions.empty());
  // The counters are in every metric too, so a dashboard sees them.
  ASSERT_FALSE(metrics->metrics.empty());
  EXPECT_EQ(metrics->metrics.back().values.at("rejected_shape"), 4.0);
  EXPECT_EQ(metrics->metrics.back().values.at("rejected_label"), 2.0);
}

TEST_F(ModelActorTest, AStreamThatIsAllRefusedStillReportsTheCounts) {
  ASSERT_NO_FATAL_FAILURE(Start());
  for (uint64_t i = 0; i < 5; ++i) {
    bus::Sample s = Pattern(i, 0);
    s.shape = {4};
    Publish(s);
  }
  EndStream(5);
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_EQ(summaries->front().steps, 0u);
  EXPECT_EQ(summaries->front().rejected_shape, 5u);
  ASSERT_EQ(metrics->metrics.size(), 1u);  // the final report
  EXPECT_EQ(metrics->metrics[0].values.at("rejected_shape"), 5.0);
}

TEST_F(ModelActorTest, BatchesOfTheWrongShapeAreCounted) {
  ASSERT_NO_FATAL_FAILURE(Start());
  bus::SampleBatch b;
  b.source = "patterns";
  b.shape = {1, 4};  // 4 bytes a sample, but not 2x2
  b.count = 3;
  b.pixels = bus::Bytes(std::vector<uint8_t>(12, 9));
  b.labels = {0, 1, 0};
  ASSERT_TRUE(t.Ask<uint64_t>(input, bus::publish_atom::value, b));
  for (uint64_t i = 0; i < 4; ++i) Publish(Pattern(i, i % 2));
  EndStream(4);
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_EQ(summaries->front().rejected_shape, 3u);
  EXPECT_EQ(summaries->front().samples, 4u);
}

// A SampleBatch trains exactly as its samples would one by one, whatever
// its size against the model's mini-batch: same steps, same weights.
TEST_F(ModelActorTest, BatchesTrainAsTheirSamplesWould) {
  options.spec.batch_size = 5;
  ASSERT_NO_FATAL_FAILURE(Start());
  bus::resource_actor batched = Declare("batched");
  ModelActorOptions o = options;
  o.name = "model2";
  o.input = batched;
  ASSERT_TRUE(SpawnModelActor(t.system(), o).ok());
  t.Run();
  for (uint64_t i = 0; i < 23; ++i) Publish(Pattern(i, i % 2));
  EndStream(23);
  // The same 23 samples in messages of 7, 7, 7 and 2.
  for (uint64_t first = 0; first < 23; first += 7) {
    bus::SampleBatch b;
    b.first_seq = first;
    b.source = "patterns";
    b.shape = {2, 2};
    b.count = static_cast<uint32_t>(std::min<uint64_t>(7, 23 - first));
    std::vector<uint8_t> pixels;
    for (uint64_t i = first; i < first + b.count; ++i) {
      bus::Sample s = Pattern(i, i % 2);
      pixels.insert(pixels.end(), s.pixels.data(), s.pixels.data() + 4);
      b.labels.push_back(s.label);
    }
    b.pixels = bus::Bytes(std::move(pixels));
    ASSERT_TRUE(t.Ask<uint64_t>(batched, bus::publish_atom::value, b));
  }
  ASSERT_TRUE(t.Ask<uint64_t>(batched, bus::publish_atom::value,
                              bus::Sample::EndOfStream("patterns", 23)));
  t.Run();
  ASSERT_EQ(summaries->size(), 2u);
  const ModelSummary& one = (*summaries)[0];
  const ModelSummary& batch = (*summaries)[1];
  EXPECT_EQ(batch.steps, 5u);
  EXPECT_EQ(batch.samples, one.samples);
  EXPECT_EQ(batch.prequential_accuracy, one.prequential_accuracy);
  EXPECT_EQ(batch.checkpoint, one.checkpoint);  // bit-identical weights
}

// Spawning refuses held-out data the model cannot read, naming both shapes.
class ModelInputCheckTest : public ModelActorTest {
 protected:
  absl::Status SpawnWith(const std::string& spec_text,
                         std::vector<uint32_t> shape, size_t count = 2,
                         uint8_t label = 1) {
    auto spec = nn::ParseModelSpec(spec_text);
    EXPECT_TRUE(spec.ok()) << spec.status();
    options.spec = *spec;
    const std::vector<uint8_t> pixels(count * ShapeSize(shape), 7);
    const std::vector<uint8_t> labels(count, label);
    options.eval = std::make_shared<EvalSet>(EvalSet::FromBytes(
        pixels.data(), labels.data(), count, std::move(shape)));
    return SpawnModelActor(t.system(), options).status();
  }
};

TEST_F(ModelInputCheckTest, SmallerLargerAndReshapedDataAreRefused) {
  struct Case {
    const char* spec;
    std::vector<uint32_t> data_shape;
    const char* model_text;
    const char* data_text;
  };
  const Case cases[] = {
      {"softmax", {4, 4}, "1x28x28", "4x4"},            // smaller
      {"mlp:hidden=8", {32, 32}, "1x28x28", "32x32"},   // larger
      {"softmax:input=3x32x32", {28, 28}, "3x32x32", "28x28"},
      {"softmax", {784}, "1x28x28", "784"},             // same size, flat
      {"cnn:conv=2", {4, 14, 14}, "1x28x28", "4x14x14"},  // same size
  };
  for (const Case& c : cases) {
    absl::Status s = SpawnWith(c.spec, c.data_shape);
    ASSERT_FALSE(s.ok()) << c.spec << " on " << c.data_text;
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.model_text), std::string::npos) << s;
    EXPECT_NE(s.message().find(std::string(c.data_text) + " samples"),
              std::string::npos)
        << s;
    EXPECT_NE(s.message().find("input="), std::string::npos) << s;
    EXPECT_NE(s.message().find("model1"), std::string::npos) << s;
  }
}

TEST_F(ModelInputCheckTest, FittingShapesAreAccepted) {
  EXPECT_TRUE(SpawnWith("softmax", {28, 28}).ok());
  EXPECT_TRUE(SpawnWith("softmax", {1, 28, 28}).ok());
  EXPECT_TRUE(SpawnWith("softmax:input=1x4x4", {4, 4}).ok());
  EXPECT_TRUE(SpawnWith("softmax:input=1x1x784", {784}).ok());
  EXPECT_TRUE(SpawnWith("softmax:input=3x8x8", {3, 8, 8}).ok());
}

TEST_F(ModelInputCheckTest, LabelsBeyondTheClassesAreRefused) {
  absl::Status s = SpawnWith("softmax:input=1x2x2,classes=2", {2, 2},
                             /*count=*/3, /*label=*/9);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("classes=2"), std::string::npos) << s;
  EXPECT_NE(s.message().find("classes=10"), std::string::npos) << s;
  EXPECT_TRUE(SpawnWith("softmax:input=1x2x2,classes=10", {2, 2}, 3, 9).ok());
}

TEST_F(ModelInputCheckTest, AMalformedEvalSetIsRefused) {
  auto set = std::make_shared<EvalSet>(*PatternEvalSet());
  set->count = 40;  // claims more than it holds
  options.eval = set;
  absl::Status s = SpawnModelActor(t.system(), options).status();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("malformed"), std::string::npos) << s;
}

TEST_F(ModelActorTest, WarnsOnceWhenTrainingStaysAtChance) {
  // Labels that do not depend on the pixels: nothing can beat chance.
  options.eval_every = 0;
  ASSERT_NO_FATAL_FAILURE(Start());
  const uint64_t n = 4 * kChanceBlockSamples;
  for (uint64_t i = 0; i < n; ++i) {
    bus::Sample s = Pattern(i, 0);
    s.label = static_cast<int32_t>((i * 2654435761u >> 7) % 2);
    Publish(std::move(s));
  }
  EndStream(n);
  ASSERT_EQ(summaries->size(), 1u);
  ASSERT_EQ(summaries->front().warnings.size(), 1u);
  EXPECT_NE(summaries->front().warnings[0].find("chance"), std::string::npos);
  EXPECT_NE(summaries->front().warnings[0].find("lr="), std::string::npos);
  int warnings = 0;
  for (const bus::Metric& m : metrics->metrics) {
    if (m.split != "warning") continue;
    ++warnings;
    EXPECT_EQ(m.values.at("chance_accuracy"), 0.5);
    EXPECT_EQ(m.values.at("samples"), 2.0 * kChanceBlockSamples);
  }
  EXPECT_EQ(warnings, 1);
}

TEST_F(ModelActorTest, NoWarningWhenTheModelLearns) {
  options.eval_every = 0;
  ASSERT_NO_FATAL_FAILURE(Start());
  const uint64_t n = 3 * kChanceBlockSamples;
  for (uint64_t i = 0; i < n; ++i) Publish(Pattern(i, i % 2));
  EndStream(n);
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_TRUE(summaries->front().warnings.empty());
  for (const bus::Metric& m : metrics->metrics) EXPECT_NE(m.split, "warning");
}

TEST_F(ModelActorTest, PredictionsNameTheSamplesOrigin) {
  ASSERT_NO_FATAL_FAILURE(Start());
  bus::Sample a = Pattern(100, 0, /*labelled=*/false);
  a.meta[bus::kOriginKey] = "cat.png";
  Publish(a);
  Publish(Pattern(101, 1, /*labelled=*/false));  // no origin: left empty
  t.Run();
  ASSERT_EQ(predictions->predictions.size(), 2u);
  EXPECT_EQ(predictions->predictions[0].origin, "cat.png");
  EXPECT_EQ(predictions->predictions[0].source, "patterns");
  EXPECT_EQ(predictions->predictions[1].origin, "");
}

TEST_F(ModelActorTest, FinishesAfterTheLastOfSeveralStreams) {
  options.end_markers = 2;
  options.eval_every = 1000;  // no periodic reports
  ASSERT_NO_FATAL_FAILURE(Start());
  for (uint64_t i = 0; i < 7; ++i) Publish(Pattern(i, i % 2));
  EndStream(0, "production");
  EXPECT_TRUE(summaries->empty());  // one stream is still open
  for (uint64_t i = 7; i < 10; ++i) Publish(Pattern(i, i % 2));
  EndStream(10);
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


// Population control: a second model on its own input, steered by messages.
class SteeredModelTest : public ModelActorTest {
 protected:
  caf::actor Spawn(const std::string& name, bus::resource_actor input) {
    ModelActorOptions o = options;
    o.name = name;
    o.input = std::move(input);
    absl::StatusOr<caf::actor> actor = SpawnModelActor(t.system(), o);
    EXPECT_TRUE(actor.ok()) << actor.status();
    t.Run();
    return actor.ok() ? *actor : caf::actor{};
  }
};

TEST_F(SteeredModelTest, ACopiedCheckpointGivesBitIdenticalWeights) {
  caf::actor donor = Spawn("donor", input);
  bus::resource_actor other = Declare("other");
  caf::actor receiver = Spawn("receiver", other);
  for (uint64_t i = 0; i < 20; ++i) Publish(Pattern(i, i % 2));
  ASSERT_TRUE(t.Ask<uint64_t>(other, bus::publish_atom::value, Pattern(0, 0)));
  t.Run();
  auto from = t.Ask<ModelCheckpoint>(donor, checkpoint_atom::value);
  ASSERT_TRUE(from);
  EXPECT_EQ(from->model, "donor");
  EXPECT_EQ(from->samples, 20u);
  EXPECT_EQ(from->steps, 20u);
  auto before = t.Ask<ModelCheckpoint>(receiver, checkpoint_atom::value);
  ASSERT_TRUE(before);
  EXPECT_NE(before->bytes, from->bytes);

  auto set = t.Ask<uint64_t>(receiver, checkpoint_atom::value, from->bytes);
  ASSERT_TRUE(set);
  EXPECT_EQ(*set, 1u);  // the receiver's own sample count stays
  auto after = t.Ask<ModelCheckpoint>(receiver, checkpoint_atom::value);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->bytes, from->bytes);  // weights, optimizer state, steps

  auto bad = t.Ask<uint64_t>(receiver, checkpoint_atom::value,
                             std::string("not a checkpoint"));
  ASSERT_FALSE(bad);
  EXPECT_NE(base::ErrorToString(bad.error()).find("receiver"),
            std::string::npos);
}

TEST_F(SteeredModelTest, NewHyperparametersKeepTheWeights) {
  caf::actor model = Spawn("m", input);
  for (uint64_t i = 0; i < 5; ++i) Publish(Pattern(i, i % 2));
  auto before = t.Ask<ModelCheckpoint>(model, checkpoint_atom::value);
  ASSERT_TRUE(before);
  nn::ModelSpec faster = options.spec;
  faster.learning_rate = 0.25f;
  auto spec = t.Ask<std::string>(model, hyper_atom::value,
                                 nn::FormatModelSpec(faster));
  ASSERT_TRUE(spec) << base::ErrorToString(spec.error());
  EXPECT_NE(spec->find("lr=0.25"), std::string::npos) << *spec;
  auto after = t.Ask<ModelCheckpoint>(model, checkpoint_atom::value);
  ASSERT_TRUE(after);
  auto back = nn::LoadModel(after->bytes, options.spec);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->SaveCheckpoint(), before->bytes);

  nn::ModelSpec mlp = options.spec;
  mlp.arch = nn::Arch::kMlp;
  mlp.hidden = {4};
  auto refused =
      t.Ask<std::string>(model, hyper_atom::value, nn::FormatModelSpec(mlp));
  EXPECT_FALSE(refused);  // other layers: not a hyperparameter change
}

TEST_F(SteeredModelTest, StopSendsTheSummaryAndQuits) {
  caf::actor model = Spawn("m", input);
  for (uint64_t i = 0; i < 7; ++i) Publish(Pattern(i, i % 2));
  auto down = std::make_shared<bool>(false);
  t.Spawn(
      [](caf::event_based_actor* self, caf::actor watched,
         std::shared_ptr<bool> out) -> caf::behavior {
        self->monitor(watched);
        self->set_down_handler([=](const caf::down_msg&) { *out = true; });
        return {[](int) {}};
      },
      model, down);
  t.Run();
  caf::anon_send(model, stop_atom::value, std::string("pruned at 7"));
  t.Run();
  EXPECT_TRUE(*down);
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_EQ(summaries->front().stopped, "pruned at 7");
  EXPECT_EQ(summaries->front().samples, 7u);
}


// Recovery from a dead node: periodic checkpoints carry the offsets trained
// up to, and a model resumed from one drops the replayed prefix.
struct Heard {
  std::vector<ModelSummary> summaries;
  std::vector<ModelCheckpoint> checkpoints;
};

caf::behavior CheckpointListener(caf::event_based_actor*,
                                 std::shared_ptr<Heard> out) {
  return {[=](ModelSummary& s) { out->summaries.push_back(std::move(s)); },
          [=](ModelCheckpoint& c) {
            out->checkpoints.push_back(std::move(c));
          }};
}

// Pattern `offset` as a sequenced binding from [mnist] forwards it.
bus::Sample FromMnist(uint64_t offset) {
  bus::Sample s = Pattern(offset, offset % 2);
  bus::StampOffset(bus::OffsetKey("mnist"), offset, &s);
  return s;
}

class RecoveredModelTest : public SteeredModelTest {
 protected:
  // A model on a fresh input resource that reports to `heard`; it trains on
  // FromMnist(first .. last-1) and the end marker.
  void Train(const std::string& name, ModelActorOptions o, uint64_t first,
             uint64_t last, std::shared_ptr<Heard> heard) {
    o.name = name;
    o.input = Declare(name);
    o.listener = t.Spawn(CheckpointListener, heard);
    ASSERT_TRUE(SpawnModelActor(t.system(), o).ok());
    t.Run();
    for (uint64_t i = first; i < last; ++i) {
      ASSERT_TRUE(t.Ask<uint64_t>(o.input, bus::publish_atom::value,
                                  FromMnist(i)));
    }
    bus::Sample end = bus::Sample::EndOfStream("patterns", last);
    bus::StampOffset(bus::OffsetKey("mnist"), last, &end);
    ASSERT_TRUE(t.Ask<uint64_t>(o.input, bus::publish_atom::value, end));
    t.Run();
  }
};

TEST_F(RecoveredModelTest, CheckpointsEveryNSamplesAtTheEndOfAMiniBatch) {
  options.spec.batch_size = 4;
  options.checkpoint_every = 10;
  auto heard = std::make_shared<Heard>();
  ASSERT_NO_FATAL_FAILURE(Train("m", options, 0, 30, heard));
  // Batches end at 4, 8, 12, ...: the first past 10 is 12, then 20. At the
  // end (30) the summary is the checkpoint.
  ASSERT_EQ(heard->checkpoints.size(), 2u);
  const uint64_t samples[] = {12, 20};
  for (size_t i = 0; i < 2; ++i) {
    const ModelCheckpoint& c = heard->checkpoints[i];
    EXPECT_EQ(c.model, "m");
    EXPECT_EQ(c.samples, samples[i]);
    EXPECT_EQ(c.steps, (samples[i] + 3) / 4);
    EXPECT_EQ(c.offsets, (bus::Offsets{{"mnist", samples[i] - 1}}));
    EXPECT_EQ(c.scored, samples[i]);
    EXPECT_TRUE(nn::LoadModel(c.bytes).ok());
  }
}

TEST_F(RecoveredModelTest, AResumedModelSkipsTheReplayAndEndsBitIdentical) {
  options.checkpoint_every = 10;
  auto straight = std::make_shared<Heard>();
  ASSERT_NO_FATAL_FAILURE(Train("straight", options, 0, 30, straight));
  // The node died after 17 samples; its last checkpoint is at 10.
  auto died = std::make_shared<Heard>();
  ASSERT_NO_FATAL_FAILURE(Train("died", options, 0, 17, died));
  ASSERT_FALSE(died->checkpoints.empty());
  const ModelCheckpoint& last = died->checkpoints.front();
  ASSERT_EQ(last.samples, 10u);
  // Resumed elsewhere and fed the whole durable log again.
  ModelActorOptions resumed = options;
  resumed.resume = std::make_shared<const ModelCheckpoint>(last);
  auto heard = std::make_shared<Heard>();
  ASSERT_NO_FATAL_FAILURE(Train("resumed", resumed, 0, 30, heard));
  ASSERT_EQ(heard->summaries.size(), 1u);
  ASSERT_EQ(straight->summaries.size(), 1u);
  const ModelSummary& s = heard->summaries.front();
  EXPECT_EQ(s.duplicates, 10u);
  EXPECT_EQ(s.resumed_at, 10u);
  EXPECT_EQ(s.samples, 30u);
  EXPECT_EQ(s.steps, 30u);
  EXPECT_EQ(s.checkpoint, straight->summaries.front().checkpoint);
  EXPECT_EQ(s.prequential_accuracy,
            straight->summaries.front().prequential_accuracy);
}

}  // namespace
}  // namespace trainbus::actors
