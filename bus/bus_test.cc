// Bus semantics: idempotent declare, filters, fan-out, zero copy, credit,
// backpressure policies, cycles and unknown resources. Deterministic: every
// test runs on CAF's test_coordinator.
#include <memory>
#include <set>

#include "base/status_error.h"
#include "base/test_dir.h"
#include "bus/bus.h"
#include "bus/bus_test_util.h"
#include "bus/codec.h"
#include "bus/message.h"
#include "bus/protocol.h"
#include "bus/sequence.h"
#include "bus/subscribe.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::bus {
namespace {

using testing::BusTestSystem;
using testing::Collector;
using testing::MakeSample;
using testing::Received;

// Publishes samples [first, first + n) to `resource` and records each
// acknowledged offset, in the order the acknowledgements arrive.
caf::behavior Publisher(caf::event_based_actor* self, resource_actor resource,
                        uint64_t first, uint64_t n,
                        std::shared_ptr<std::vector<uint64_t>> acked) {
  for (uint64_t i = first; i < first + n; ++i) {
    self->request(resource, caf::infinite, publish_atom::value,
                  MakeSample(i, 1))
        .then([=](uint64_t offset) { acked->push_back(offset); });
  }
  return {};
}

class BusTest : public ::testing::Test {
 protected:
  resource_actor Declare(const std::string& name, uint32_t max_queue = 256) {
    ResourceOptions options;
    options.name = name;
    options.max_queue = max_queue;
    auto r = t.Ask<resource_actor>(t.directory, declare_atom::value, options);
    EXPECT_TRUE(r) << base::ErrorToString(r.error());
    return r ? *r : resource_actor{};
  }

  caf::expected<binding_actor> Bind(const std::string& from, const std::string& to,
                                 Filter filter = Filter::All(),
                                 Policy policy = Policy::kBlock) {
    BindingOptions options;
    options.from = from;
    options.to = to;
    options.filter = filter;
    options.policy = policy;
    return t.Ask<binding_actor>(t.directory, bind_atom::value, options);
  }

  // A collector subscribed to `resource` with `credit` to start with.
  std::shared_ptr<Received> Subscribe(const resource_actor& resource,
                                      uint32_t credit,
                                      Policy policy = Policy::kBlock,
                                      uint32_t max_queue = 0,
                                      subscriber_actor* out = nullptr) {
    auto received = std::make_shared<Received>();
    subscriber_actor collector = t.Spawn(Collector, received);
    SubscribeOptions options;
    options.name = "collector";
    options.policy = policy;
    options.max_queue = max_queue;
    options.initial_credit = credit;
    auto r = t.Ask<uint64_t>(resource, subscribe_atom::value, collector,
                             options);
    EXPECT_TRUE(r) << base::ErrorToString(r.error());
    if (out != nullptr) *out = collector;
    return received;
  }

  caf::expected<uint64_t> Publish(const resource_actor& resource, Sample s) {
    return t.Ask<uint64_t>(resource, publish_atom::value, std::move(s));
  }

  ResourceMetrics Metrics(const resource_actor& resource) {
    auto m = t.Ask<ResourceMetrics>(resource, metrics_atom::value);
    EXPECT_TRUE(m);
    return m ? *m : ResourceMetrics{};
  }

  BusTestSystem t;
};

TEST_F(BusTest, DeclareTwiceReturnsTheSameResource) {
  resource_actor a = Declare("mnist");
  resource_actor b = Declare("mnist");
  EXPECT_EQ(a, b);
  auto looked_up = t.Ask<resource_actor>(t.directory, lookup_atom::value,
                                     std::string("mnist"));
  ASSERT_TRUE(looked_up);
  EXPECT_EQ(*looked_up, a);
}

TEST_F(BusTest, BindTwiceReturnsTheSameBinding) {
  Declare("mnist");
  Declare("model1");
  auto first = Bind("mnist", "model1", Filter::Labelled());
  auto second = Bind("mnist", "model1", Filter::Labelled());
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);
  auto conflicting = Bind("mnist", "model1", Filter::Unlabelled());
  ASSERT_FALSE(conflicting);
  EXPECT_EQ(base::ToStatus(conflicting.error()).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(BusTest, UnknownResourceIsAClearError) {
  Declare("mnist");
  auto bound = Bind("mnist", "nope");
  ASSERT_FALSE(bound);
  EXPECT_EQ(base::ToStatus(bound.error()).code(), absl::StatusCode::kNotFound);
  const std::string text = base::ErrorToString(bound.error());
  EXPECT_NE(text.find("'nope' not declared"), std::string::npos) << text;
  EXPECT_NE(text.find("mnist"), std::string::npos) << text;
  auto looked_up = t.Ask<resource_actor>(t.directory, lookup_atom::value,
                                     std::string("ghost"));
  EXPECT_FALSE(looked_up);
}

TEST_F(BusTest, BindingCyclesAreRejected) {
  Declare("a");
  Declare("b");
  Declare("c");
  ASSERT_TRUE(Bind("a", "b"));
  ASSERT_TRUE(Bind("b", "c"));
  auto cycle = Bind("c", "a");
  ASSERT_FALSE(cycle);
  EXPECT_EQ(base::ToStatus(cycle.error()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_NE(base::ErrorToString(cycle.error()).find("cycle"),
            std::string::npos);
  auto self_loop = Bind("a", "a");
  ASSERT_FALSE(self_loop);
  EXPECT_NE(base::ErrorToString(self_loop.error()).find("cycle"),
            std::string::npos);
}

TEST_F(BusTest, FanOutReachesEveryBoundResourceWithoutCopying) {
  resource_actor mnist = Declare("mnist");
  std::vector<std::shared_ptr<Received>> models;
  for (int i = 0; i < 4; ++i) {
    const std::string name = "model" + std::to_string(i + 1);
    resource_actor model = Declare(name);
    ASSERT_TRUE(Bind("mnist", name));
    models.push_back(Subscribe(model, 100));
  }
  std::vector<const uint8_t*> published;
  for (uint64_t i = 0; i < 10; ++i) {
    Sample s = MakeSample(i, static_cast<int32_t>(i % 10), uint8_t(i));
    published.push_back(s.pixels.data());
    ASSERT_TRUE(Publish(mnist, std::move(s)));
  }
  t.Run();
  for (const auto& got : models) {
    ASSERT_EQ(got->samples.size(), 10u);
    for (size_t i = 0; i < 10; ++i) {
      EXPECT_EQ(got->samples[i].seq, i);
      // The very buffer the generator filled, through two hops.
      EXPECT_EQ(got->samples[i].pixels.data(), published[i]);
    }
  }
  // One buffer, four holders (plus nothing else left in flight).
  EXPECT_EQ(models[0]->samples[3].pixels.use_count(), 4);
}

TEST_F(BusTest, FiltersSplitLabelledFromUnlabelled) {
  resource_actor mnist = Declare("mnist");
  resource_actor train = Declare("train");
  resource_actor live = Declare("live");
  ASSERT_TRUE(Bind("mnist", "train", Filter::Labelled()));
  ASSERT_TRUE(Bind("mnist", "live", Filter::Unlabelled()));
  auto train_got = Subscribe(train, 100);
  auto live_got = Subscribe(live, 100);
  for (uint64_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(Publish(mnist, MakeSample(i, i % 2 ? kNoLabel : 1)));
  }
  t.Run();
  ASSERT_EQ(train_got->samples.size(), 5u);
  ASSERT_EQ(live_got->samples.size(), 5u);
  for (const Sample& s : train_got->samples) EXPECT_TRUE(s.has_label());
  for (const Sample& s : live_got->samples) EXPECT_FALSE(s.has_label());
  ResourceMetrics m = Metrics(mnist);
  ASSERT_EQ(m.subscriptions.size(), 2u);
  EXPECT_EQ(m.subscriptions[0].filtered + m.subscriptions[1].filtered, 10u);
}

TEST_F(BusTest, BatchesAreFilteredPerSample) {
  resource_actor mnist = Declare("mnist");
  resource_actor train = Declare("train");
  ASSERT_TRUE(Bind("mnist", "train", Filter::Labelled()));
  auto got = Subscribe(train, 100);
  SampleBatch batch;
  batch.first_seq = 0;
  batch.shape = {1, 2};
  batch.count = 3;
  batch.pixels = Bytes(std::vector<uint8_t>{1, 1, 2, 2, 3, 3});
  batch.labels = {4, kNoLabel, 6};
  ASSERT_TRUE(t.Ask<uint64_t>(mnist, publish_atom::value, batch));
  t.Run();
  ASSERT_EQ(got->batches.size(), 1u);
  EXPECT_EQ(got->batches[0].count, 2u);
  EXPECT_EQ(got->batches[0].labels, (std::vector<int32_t>{4, 6}));
  EXPECT_EQ(got->batches[0].pixels,
            Bytes(std::vector<uint8_t>{1, 1, 3, 3}));
}

TEST_F(BusTest, NoCreditMeansNoDeliveryAndTheQueueIsBounded) {
  resource_actor r = Declare("r");
  subscriber_actor collector;
  auto got = Subscribe(r, 0, Policy::kDropOldest, 4, &collector);
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(Publish(r, MakeSample(i, 1)));
  t.Run();
  EXPECT_TRUE(got->samples.empty());
  ResourceMetrics m = Metrics(r);
  ASSERT_EQ(m.subscriptions.size(), 1u);
  EXPECT_EQ(m.subscriptions[0].queue_depth, 4u);
  EXPECT_EQ(m.subscriptions[0].dropped, 6u);
  caf::send_as(collector, r, credit_atom::value, uint32_t{3});
  t.Run();
  // The oldest survivors, in order, and no more than the credit.
  ASSERT_EQ(got->samples.size(), 3u);
  EXPECT_EQ(got->samples[0].seq, 6u);
  EXPECT_EQ(got->samples[2].seq, 8u);
}

TEST_F(BusTest, BlockPolicyHoldsPublishersBackUntilCreditArrives) {
  resource_actor r = Declare("r");
  subscriber_actor collector;
  auto got = Subscribe(r, 0, Policy::kBlock, 2, &collector);
  auto acked = std::make_shared<std::vector<uint64_t>>();
  t.Spawn(Publisher, r, 0, 5, acked);
  t.Run();
  // Two fit the queue; three publishes wait for room.
  EXPECT_EQ(*acked, (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(Metrics(r).blocked, 3u);
  caf::send_as(collector, r, credit_atom::value, uint32_t{5});
  t.Run();
  EXPECT_EQ(*acked, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  ASSERT_EQ(got->samples.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(got->samples[i].seq, i);
}

TEST_F(BusTest, ASlowDropOldestSubscriberNeverStallsItsSiblings) {
  resource_actor r = Declare("r");
  auto fast = Subscribe(r, 1000, Policy::kBlock);
  auto slow = Subscribe(r, 0, Policy::kDropOldest, 8);
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(Publish(r, MakeSample(i, 1)));
  t.Run();
  EXPECT_EQ(fast->samples.size(), 100u);
  EXPECT_TRUE(slow->samples.empty());
  EXPECT_EQ(Metrics(r).subscriptions[1].dropped, 92u);
}

TEST_F(BusTest, CatchUpNeedsADurableResource) {
  Declare("a");
  Declare("b");
  auto bound = Bind("a", "b", Filter::All(), Policy::kCatchUp);
  ASSERT_FALSE(bound);
  EXPECT_NE(base::ErrorToString(bound.error()).find("durable"), std::string::npos)
      << base::ErrorToString(bound.error());
}

// What an untyped subscriber heard besides deliveries.
struct Heard {
  std::vector<uint64_t> replies;
  std::vector<std::string> errors;
  size_t samples = 0;
};

caf::behavior Listener(caf::event_based_actor* self,
                       std::shared_ptr<Heard> heard) {
  self->set_error_handler([=](caf::error& err) {
    heard->errors.push_back(base::ErrorToString(err));
  });
  return {
      [=](uint64_t offset) { heard->replies.push_back(offset); },
      [=](deliver_atom, uint64_t, const Sample&) { ++heard->samples; },
  };
}

TEST_F(BusTest, SubscribeNowGetsNoReplyButHearsARefusal) {
  resource_actor r = Declare("r");
  auto heard = std::make_shared<Heard>();
  caf::actor listener = t.Spawn(Listener, heard);
  SubscribeOptions ok;
  ok.initial_credit = 10;
  SubscribeNow(listener, r, ok);
  t.Run();
  ASSERT_TRUE(Publish(r, MakeSample(0, 1)));
  t.Run();
  EXPECT_EQ(heard->samples, 1u);
  EXPECT_TRUE(heard->replies.empty()) << "a reply arrived as a message";
  EXPECT_TRUE(heard->errors.empty());

  SubscribeOptions catch_up;
  catch_up.policy = Policy::kCatchUp;
  SubscribeNow(listener, r, catch_up);
  t.Run();
  ASSERT_EQ(heard->errors.size(), 1u);
  EXPECT_NE(heard->errors[0].find("durable"), std::string::npos)
      << heard->errors[0];
  EXPECT_TRUE(heard->replies.empty());
}

TEST_F(BusTest, SubscriberThatDiesIsForgottenAndUnblocksPublishers) {
  resource_actor r = Declare("r");
  subscriber_actor collector;
  Subscribe(r, 0, Policy::kBlock, 1, &collector);
  ASSERT_TRUE(Publish(r, MakeSample(0, 1)));
  auto acked = std::make_shared<std::vector<uint64_t>>();
  t.Spawn(Publisher, r, 1, 1, acked);
  t.Run();
  EXPECT_TRUE(acked->empty());  // blocked
  caf::anon_send_exit(collector, caf::exit_reason::kill);
  t.Run();
  EXPECT_EQ(*acked, (std::vector<uint64_t>{1}));  // accepted now
  EXPECT_TRUE(Metrics(r).subscriptions.empty());
}

// Sets *down when `watched` terminates.
caf::behavior DownWatcher(caf::event_based_actor* self, caf::actor watched,
                          std::shared_ptr<bool> down) {
  self->monitor(watched);
  self->set_down_handler([=](const caf::down_msg&) { *down = true; });
  return {[](int) {}};
}

TEST_F(BusTest, UnbindRemovesTheBindingAndStopsItsActor) {
  resource_actor mnist = Declare("mnist");
  Declare("model1");
  Declare("model2");
  auto bound = Bind("mnist", "model1", Filter::All(), Policy::kBlock);
  ASSERT_TRUE(bound);
  ASSERT_TRUE(Bind("mnist", "model2", Filter::All(), Policy::kBlock));
  auto down = std::make_shared<bool>(false);
  t.Spawn(DownWatcher, caf::actor_cast<caf::actor>(*bound), down);
  t.Run();
  auto removed = t.Ask<bool>(t.directory, unbind_atom::value,
                             std::string("mnist"), std::string("model1"));
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  auto d = t.Ask<TopologyDescription>(t.directory, describe_atom::value);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->bindings.size(), 1u);
  EXPECT_EQ(d->bindings[0].to, "model2");
  // The binding's actor is gone and the source no longer serves it.
  EXPECT_TRUE(*down);
  std::vector<std::string> subscribers;
  for (const SubscriptionMetrics& s : Metrics(mnist).subscriptions) {
    subscribers.push_back(s.name);
  }
  EXPECT_EQ(subscribers, (std::vector<std::string>{"mnist->model2"}));
  // Unbinding again is harmless; and the edge can be bound again.
  removed = t.Ask<bool>(t.directory, unbind_atom::value, std::string("mnist"),
                        std::string("model1"));
  ASSERT_TRUE(removed);
  EXPECT_FALSE(*removed);
  EXPECT_TRUE(Bind("mnist", "model1", Filter::All(), Policy::kBlock));
}

TEST_F(BusTest, DescribeListsResourcesAndBindings) {
  Declare("mnist");
  Declare("model1");
  ASSERT_TRUE(Bind("mnist", "model1", Filter::Labelled()));
  auto d = t.Ask<TopologyDescription>(t.directory, describe_atom::value);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->resources.size(), 2u);
  ASSERT_EQ(d->bindings.size(), 1u);
  const std::string dot = d->ToDot();
  EXPECT_NE(dot.find("\"mnist\" -> \"model1\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("labelled / block"), std::string::npos) << dot;
}

resource_actor DeclareDurableIn(BusTestSystem& sys, const std::string& name,
                                const std::string& dir,
                                uint32_t max_queue = 256) {
  ResourceOptions options;
  options.name = name;
  options.log_dir = dir;
  options.max_queue = max_queue;
  auto r = sys.Ask<resource_actor>(sys.directory, declare_atom::value, options);
  EXPECT_TRUE(r) << base::ErrorToString(r.error());
  return r ? *r : resource_actor{};
}

class DurableBusTest : public BusTest {
 protected:
  resource_actor DeclareDurable(const std::string& name, const std::string& dir,
                                uint32_t max_queue = 256) {
    return DeclareDurableIn(t, name, dir, max_queue);
  }

  std::shared_ptr<Received> SubscribeFrom(const resource_actor& resource,
                                          StartFrom start, uint64_t offset,
                                          uint32_t credit) {
    auto received = std::make_shared<Received>();
    SubscribeOptions options;
    options.start = start;
    options.offset = offset;
    options.initial_credit = credit;
    auto r = t.Ask<uint64_t>(resource, subscribe_atom::value,
                             t.Spawn(Collector, received), options);
    EXPECT_TRUE(r) << base::ErrorToString(r.error());
    return received;
  }
};

TEST_F(DurableBusTest, ReplaysFromEarliestOrAnOffsetThenGoesLive) {
  resource_actor r = DeclareDurable("r", base::NewTestDir("replay"));
  for (uint64_t i = 0; i < 10; ++i) {
    auto offset = Publish(r, MakeSample(i, int32_t(i % 10), uint8_t(i)));
    ASSERT_TRUE(offset);
    EXPECT_EQ(*offset, i);
  }
  auto all = SubscribeFrom(r, StartFrom::kEarliest, 0, 100);
  auto tail = SubscribeFrom(r, StartFrom::kOffset, 7, 100);
  auto live = SubscribeFrom(r, StartFrom::kLatest, 0, 100);
  t.Run();
  ASSERT_EQ(all->samples.size(), 10u);
  ASSERT_EQ(tail->samples.size(), 3u);
  EXPECT_TRUE(live->samples.empty());
  for (uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(all->offsets[i], i);
    EXPECT_EQ(all->samples[i].pixels, MakeSample(i, 0, uint8_t(i)).pixels);
  }
  EXPECT_EQ(tail->offsets.front(), 7u);
  ASSERT_TRUE(Publish(r, MakeSample(10, 1)));
  t.Run();
  EXPECT_EQ(all->samples.size(), 11u);
  EXPECT_EQ(tail->samples.size(), 4u);
  EXPECT_EQ(live->samples.size(), 1u);
  EXPECT_EQ(Metrics(r).subscriptions[0].replayed, 10u);
}

// A sequenced binding (every binding of a placed run) stamps the source
// offset into what it forwards, and drops a redelivery of an offset it has
// already forwarded; a replay from an offset starts exactly there.
TEST_F(DurableBusTest, ASequencedBindingStampsOffsetsAndDropsRedeliveries) {
  resource_actor src = DeclareDurable("src", base::NewTestDir("seq"));
  resource_actor dst = Declare("dst");
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(Publish(src, MakeSample(i, 1)));
  auto received = Subscribe(dst, 100);
  BindingOptions options;
  options.from = "src";
  options.to = "dst";
  options.start = StartFrom::kOffset;
  options.offset = 2;
  options.sequenced = true;
  auto binding = t.Ask<binding_actor>(t.directory, bind_atom::value, options);
  ASSERT_TRUE(binding) << base::ErrorToString(binding.error());
  t.Run();
  // A link that came back delivers 3 and 4 again, then something new.
  for (uint64_t offset : {3, 4, 5}) {
    caf::anon_send(*binding, deliver_atom::value, offset,
                   MakeSample(offset, 1));
  }
  t.Run();
  ASSERT_EQ(received->samples.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(received->samples[i].seq, i + 2);
    EXPECT_EQ(StampedOffsets(received->samples[i]),
              (Offsets{{"src", i + 2}}));
  }
}

TEST_F(DurableBusTest, CatchUpSubscriberDetachesAndCatchesUpFromTheLog) {
  resource_actor r = DeclareDurable("r", base::NewTestDir("catchup"));
  auto fast = Subscribe(r, 1000, Policy::kBlock);
  subscriber_actor slow_actor;
  auto slow = Subscribe(r, 0, Policy::kCatchUp, 4, &slow_actor);
  for (uint64_t i = 0; i < 50; ++i) ASSERT_TRUE(Publish(r, MakeSample(i, 1)));
  t.Run();
  EXPECT_EQ(fast->samples.size(), 50u);  // never stalled by its sibling
  EXPECT_TRUE(slow->samples.empty());
  ResourceMetrics m = Metrics(r);
  EXPECT_EQ(m.subscriptions[1].detached, 1u);
  EXPECT_EQ(m.subscriptions[1].queue_depth, 0u);
  // Credit in dribs and drabs: every message arrives, in order, once.
  for (int round = 0; round < 20; ++round) {
    caf::send_as(slow_actor, r, credit_atom::value, uint32_t{3});
    t.Run();
  }
  ASSERT_TRUE(Publish(r, MakeSample(50, 1)));
  caf::send_as(slow_actor, r, credit_atom::value, uint32_t{100});
  t.Run();
  ASSERT_EQ(slow->samples.size(), 51u);
  for (uint64_t i = 0; i < 51; ++i) EXPECT_EQ(slow->samples[i].seq, i);
  EXPECT_EQ(Metrics(r).subscriptions[1].dropped, 0u);
}

TEST_F(DurableBusTest, ARestartedResourceRecoversItsLog) {
  const std::string dir = base::NewTestDir("restart");
  {
    BusTestSystem first;
    resource_actor r = DeclareDurableIn(first, "r", dir);
    for (uint64_t i = 0; i < 5; ++i) {
      ASSERT_TRUE(first.Ask<uint64_t>(r, publish_atom::value,
                                      MakeSample(i, 2, uint8_t(i))));
    }
  }  // the first system and its resource are gone; the log stays
  resource_actor r = DeclareDurable("r", dir);
  auto offset = Publish(r, MakeSample(5, 2, 5));
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset, 5u);  // continues where it left off
  auto all = SubscribeFrom(r, StartFrom::kEarliest, 0, 100);
  t.Run();
  ASSERT_EQ(all->samples.size(), 6u);
  for (uint64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(all->samples[i].seq, i);
    EXPECT_EQ(all->samples[i].label, 2);
  }
}

// Every payload type is stored, read back from disk after a restart and
// replayed intact (the codec's tags and the log's framing together).
TEST_F(DurableBusTest, EveryPayloadTypeSurvivesTheLogAndARestart) {
  const std::string dir = base::NewTestDir("payloads");
  const SampleBatch batch = testing::MakeBatch();
  const Prediction prediction = testing::MakePrediction();
  const Metric metric = testing::MakeMetric();
  {
    BusTestSystem first;
    resource_actor r = DeclareDurableIn(first, "r", dir);
    ASSERT_TRUE(first.Ask<uint64_t>(r, publish_atom::value, MakeSample(0, 4)));
    ASSERT_TRUE(first.Ask<uint64_t>(r, publish_atom::value, batch));
    ASSERT_TRUE(first.Ask<uint64_t>(r, publish_atom::value, prediction));
    ASSERT_TRUE(first.Ask<uint64_t>(r, publish_atom::value, metric));
  }
  resource_actor r = DeclareDurable("r", dir);
  auto got = SubscribeFrom(r, StartFrom::kEarliest, 0, 100);
  t.Run();
  EXPECT_EQ(got->offsets, (std::vector<uint64_t>{0, 1, 2, 3}));
  ASSERT_EQ(got->samples.size(), 1u);
  EXPECT_EQ(got->samples[0].pixels, MakeSample(0, 4).pixels);
  // Equal encodings: every field came back.
  ASSERT_EQ(got->batches.size(), 1u);
  EXPECT_EQ(Encode(got->batches[0]), Encode(batch));
  ASSERT_EQ(got->predictions.size(), 1u);
  EXPECT_EQ(Encode(got->predictions[0]), Encode(prediction));
  ASSERT_EQ(got->metrics.size(), 1u);
  EXPECT_EQ(Encode(got->metrics[0]), Encode(metric));
  EXPECT_EQ(got->metrics[0].values, metric.values);
}

TEST(FilterTest, ParsesAndFormats) {
  auto f = ParseFilter("labelled;labels=0,3;ratio=0.5");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->kind, Filter::Kind::kLabelled);
  EXPECT_EQ(f->labels, (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(FormatFilter(*f), "labelled;labels=0,3;ratio=0.5");
  EXPECT_FALSE(ParseFilter("labeled;ratio=2").ok());
  EXPECT_FALSE(ParseFilter("sometimes").ok());
  EXPECT_FALSE(ParseFilter("unlabelled;labels=1").ok());
  EXPECT_FALSE(ParseFilter("all;color=red").ok());
}

TEST(FilterTest, RatioKeepsAboutThatFractionDeterministically) {
  Filter f = *ParseFilter("all;ratio=0.25");
  int kept = 0;
  for (uint64_t seq = 0; seq < 10000; ++seq) kept += f.Accepts(1, seq);
  EXPECT_NEAR(kept, 2500, 150);
  // The choice depends on the sequence number alone: another filter, asked
  // in another order and about other labels, keeps the same samples...
  Filter again = *ParseFilter("all;ratio=0.25");
  for (uint64_t seq = 100; seq-- > 0;) {
    EXPECT_EQ(again.Accepts(int32_t(seq % 10), seq), f.Accepts(1, seq)) << seq;
  }
  // ...the same ones in every build and run (a replay relies on it)...
  std::vector<uint64_t> kept_below_32;
  for (uint64_t seq = 0; seq < 32; ++seq) {
    if (f.Accepts(1, seq)) kept_below_32.push_back(seq);
  }
  EXPECT_EQ(kept_below_32, (std::vector<uint64_t>{3, 10, 18, 20, 21}));
  // ...and a larger ratio keeps a superset.
  Filter half = *ParseFilter("all;ratio=0.5");
  for (uint64_t seq = 0; seq < 1000; ++seq) {
    EXPECT_TRUE(!f.Accepts(1, seq) || half.Accepts(1, seq)) << seq;
  }
  EXPECT_FALSE(Filter::Labelled().Accepts(kNoLabel, 0));
  EXPECT_TRUE(Filter::Unlabelled().Accepts(kNoLabel, 0));
}

}  // namespace
}  // namespace trainbus::bus
