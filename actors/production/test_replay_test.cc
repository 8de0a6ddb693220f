#include "actors/production/test_replay.h"

#include <memory>
#include <string>

#include "actors/generator/source_testing.h"
#include "bus/atoms.h"
#include "bus/bus_test_util.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::actors {
namespace {

using bus::testing::BusTestSystem;

TEST(TestReplayTest, ReplaysTheSplitInOrderWithoutLabels) {
  auto d = std::make_shared<data::Dataset>();
  d->rows = 2;
  d->cols = 2;
  d->count = 6;
  for (size_t i = 0; i < d->count; ++i) {
    for (int p = 0; p < 4; ++p) d->pixels.push_back(static_cast<uint8_t>(i));
    d->labels.push_back(static_cast<uint8_t>(9 - i));
  }
  BusTestSystem t;
  testing::Watched live = testing::Watch(t, "live", /*credit=*/100);
  ASSERT_TRUE(live.resource);
  auto& got = live.got;
  TestReplayOptions o;
  o.data = d;
  o.output = live.resource;
  o.limit = 4;
  o.window = 2;
  o.first_index = 100;  // these six were cut from a split at 100
  GeneratorOptions g = ReplayGeneratorOptions(o);
  EXPECT_FALSE(g.labels);
  EXPECT_FALSE(g.shuffle);
  SpawnTestReplay(t.system(), o);
  t.Run();
  ASSERT_EQ(got->samples.size(), 5u);  // 4 + end marker
  for (uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(got->samples[i].seq, i);
    EXPECT_EQ(got->samples[i].source, "test-replay");
    EXPECT_FALSE(got->samples[i].has_label());
    EXPECT_EQ(got->samples[i].pixels.data()[0], i);
    EXPECT_EQ(got->samples[i].meta.at(bus::kOriginKey),
              "test:" + std::to_string(100 + i));
    EXPECT_EQ(TestReplayTruth(*d, i), static_cast<int32_t>(9 - i));
  }
  EXPECT_TRUE(got->samples[4].end_of_stream());
  EXPECT_EQ(TestReplayTruth(*d, 6), bus::kNoLabel);
}

}  // namespace
}  // namespace trainbus::actors
