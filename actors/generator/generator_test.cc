// The generator, driven deterministically on CAF's test_coordinator.
#include "actors/generator/generator.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "actors/generator/source_testing.h"
#include "bus/atoms.h"
#include "bus/bus_test_util.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::actors {
namespace {

using bus::testing::BusTestSystem;
using bus::testing::Received;
using testing::Watch;
using testing::Watched;

std::shared_ptr<const data::Dataset> TinyDataset(size_t n) {
  auto d = std::make_shared<data::Dataset>();
  d->rows = 2;
  d->cols = 3;
  d->count = n;
  for (size_t i = 0; i < n; ++i) {
    for (int p = 0; p < 6; ++p) d->pixels.push_back(static_cast<uint8_t>(i));
    d->labels.push_back(static_cast<uint8_t>(i % 10));
  }
  return d;
}

struct Done {
  std::string source;
  uint64_t published = 0;
};

caf::behavior DoneListener(caf::event_based_actor*, std::shared_ptr<Done> out) {
  return {[=](bus::done_atom, const std::string& source, uint64_t n) {
    out->source = source;
    out->published = n;
  }};
}

class GeneratorTest : public ::testing::Test {
 protected:
  // Runs a generator into a fresh resource with one generous subscriber.
  std::shared_ptr<Received> Run(GeneratorOptions options,
                                const std::string& resource_name = "out") {
    Watched w =
        Watch(t, resource_name, /*credit=*/100000, /*max_queue=*/100000);
    options.output = w.resource;
    options.listener = t.Spawn(DoneListener, done);
    SpawnGenerator(t.system(), options);
    t.Run();
    return w.got;
  }

  BusTestSystem t;
  std::shared_ptr<Done> done = std::make_shared<Done>();
};

TEST_F(GeneratorTest, EachEpochIsAPermutationThenAnEndMarker) {
  GeneratorOptions g;
  g.source = "tiny";
  g.data = TinyDataset(20);
  g.epochs = 3;
  g.seed = 7;
  g.window = 4;
  auto got = Run(g);
  ASSERT_EQ(got->samples.size(), 61u);  // 3 epochs + end marker
  EXPECT_TRUE(got->samples.back().end_of_stream());
  std::vector<std::vector<uint8_t>> epochs(3);
  for (size_t i = 0; i < 60; ++i) {
    const bus::Sample& s = got->samples[i];
    EXPECT_EQ(s.seq, i);
    EXPECT_EQ(s.shape, (std::vector<uint32_t>{2, 3}));
    ASSERT_EQ(s.pixels.size(), 6u);
    EXPECT_EQ(s.label, s.pixels.data()[0] % 10);  // label travels with image
    epochs[i / 20].push_back(s.pixels.data()[0]);
  }
  for (const auto& e : epochs) {
    EXPECT_EQ(std::set<uint8_t>(e.begin(), e.end()).size(), 20u);  // no repeats
  }
  EXPECT_NE(epochs[0], epochs[1]);  // a new order every epoch
  EXPECT_EQ(done->source, "tiny");
  EXPECT_EQ(done->published, 60u);
}

TEST_F(GeneratorTest, SameSeedSameStream) {
  GeneratorOptions g;
  g.data = TinyDataset(15);
  g.seed = 3;
  auto first = Run(g, "first");
  auto second = Run(g, "second");
  ASSERT_EQ(first->samples.size(), second->samples.size());
  for (size_t i = 0; i < first->samples.size(); ++i) {
    EXPECT_EQ(first->samples[i].pixels, second->samples[i].pixels);
  }
}

TEST_F(GeneratorTest, UnlabelledReplayAndLimit) {
  GeneratorOptions g;
  g.data = TinyDataset(10);
  g.labels = false;
  g.epochs = 0;  // forever, but...
  g.limit = 25;  // ...stop after 25
  auto got = Run(g);
  ASSERT_EQ(got->samples.size(), 26u);
  for (size_t i = 0; i < 25; ++i) {
    EXPECT_FALSE(got->samples[i].has_label());
    EXPECT_EQ(got->samples[i].meta.count(bus::kOriginKey), 0u);  // not asked
  }
}

TEST_F(GeneratorTest, AnOriginPrefixNamesEachSamplesIndex) {
  GeneratorOptions g;
  g.data = TinyDataset(5);
  g.shuffle = false;
  g.origin_prefix = "test:";
  auto got = Run(g);
  ASSERT_EQ(got->samples.size(), 6u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(got->samples[i].meta.at(bus::kOriginKey),
              "test:" + std::to_string(i));
  }
}

// batch=N publishes the very stream of batch=1 in SampleBatches of N (the
// last one short), then the end marker as a Sample.
TEST_F(GeneratorTest, BatchesCarryTheSameStream) {
  GeneratorOptions g;
  g.data = TinyDataset(20);
  g.epochs = 2;
  g.seed = 5;
  g.window = 3;
  auto single = Run(g, "single");
  g.batch = 16;
  auto batched = Run(g, "batched");
  ASSERT_EQ(single->samples.size(), 41u);
  ASSERT_EQ(batched->batches.size(), 3u);  // 16 + 16 + 8
  ASSERT_EQ(batched->samples.size(), 1u);
  EXPECT_TRUE(batched->samples[0].end_of_stream());
  EXPECT_EQ(batched->samples[0].seq, 40u);
  size_t seq = 0;
  for (const bus::SampleBatch& b : batched->batches) {
    EXPECT_EQ(b.first_seq, seq);
    EXPECT_EQ(b.shape, (std::vector<uint32_t>{2, 3}));
    ASSERT_EQ(b.labels.size(), b.count);
    ASSERT_EQ(b.pixels.size(), b.count * 6u);
    for (uint32_t i = 0; i < b.count; ++i, ++seq) {
      const bus::Sample& s = single->samples[seq];
      EXPECT_EQ(b.labels[i], s.label);
      EXPECT_TRUE(std::equal(s.pixels.data(), s.pixels.data() + 6,
                             b.pixels.data() + i * 6));
    }
  }
  EXPECT_EQ(seq, 40u);
  EXPECT_EQ(batched->batches.back().count, 8u);
  EXPECT_EQ(done->published, 40u);
}

// Origins name single samples: asking for them publishes Samples whatever
// the batch (so does a rate, which counts samples).
TEST_F(GeneratorTest, OriginsPublishSamples) {
  GeneratorOptions g;
  g.data = TinyDataset(5);
  g.batch = 4;
  g.origin_prefix = "test:";
  auto got = Run(g);
  EXPECT_EQ(got->batches.size(), 0u);
  EXPECT_EQ(got->samples.size(), 6u);
}

TEST_F(GeneratorTest, ABlockingResourceHoldsTheWindow) {
  Watched w = Watch(t, "narrow", /*credit=*/0, /*max_queue=*/2);
  ASSERT_TRUE(w.resource);
  auto& resource = w.resource;
  auto& got = w.got;
  GeneratorOptions g;
  g.data = TinyDataset(50);
  g.window = 8;
  g.output = resource;
  SpawnGenerator(t.system(), g);
  t.Run();
  auto metrics =
      t.Ask<bus::ResourceMetrics>(resource, bus::metrics_atom::value);
  ASSERT_TRUE(metrics);
  // Two accepted into the queue; their acks let the generator refill its
  // window, so a full window of 8 publishes waits. Nothing is lost.
  EXPECT_EQ(metrics->published, 2u);
  EXPECT_EQ(metrics->blocked, 8u);
  caf::send_as(w.collector, resource, bus::credit_atom::value, uint32_t{1000});
  t.Run();
  EXPECT_EQ(got->samples.size(), 51u);
}

// rate=1000/s in 10 ms ticks: each tick lets exactly 10 samples go, and a
// long wait between ticks does not bank a burst.
TEST_F(GeneratorTest, RateLimitReleasesOneTicksWorthPerTick) {
  Watched w = Watch(t, "paced", /*credit=*/1000, /*max_queue=*/1000);
  ASSERT_TRUE(w.resource);
  auto& got = w.got;
  GeneratorOptions g;
  g.data = TinyDataset(35);
  g.rate = 1000;
  g.window = 64;
  g.output = w.resource;
  SpawnGenerator(t.system(), g);
  t.Run();
  EXPECT_EQ(got->samples.size(), 10u);  // the first tick
  t.sched().advance_time(std::chrono::seconds(5));  // fires one tick only
  t.Run();
  EXPECT_EQ(got->samples.size(), 20u);
  ASSERT_TRUE(t.sched().trigger_timeout());
  t.Run();
  EXPECT_EQ(got->samples.size(), 30u);
  ASSERT_TRUE(t.sched().trigger_timeout());
  t.Run();
  EXPECT_EQ(got->samples.size(), 36u);  // the last 5 and the end marker
  EXPECT_TRUE(got->samples.back().end_of_stream());
}

}  // namespace
}  // namespace trainbus::actors
