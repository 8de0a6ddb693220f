#include "bus/sequence.h"

#include "gtest/gtest.h"

namespace trainbus::bus {
namespace {

Sample Stamped(std::map<std::string, uint64_t> offsets) {
  Sample s;
  for (const auto& [resource, offset] : offsets) {
    StampOffset(OffsetKey(resource), offset, &s);
  }
  return s;
}

TEST(SequenceTest, StampsReadBackByResource) {
  Sample s = Stamped({{"mnist", 7}, {"a/b", 3}});
  s.meta["origin"] = "x";
  s.meta["trainbus.eos"] = "gen";
  EXPECT_EQ(StampedOffsets(s), (Offsets{{"mnist", 7}, {"a/b", 3}}));
}

TEST(SequenceTest, AStampThatIsNotANumberIsLeftOut) {
  Sample s = Stamped({{"mnist", 7}});
  s.meta[OffsetKey("bad")] = "12x";
  EXPECT_EQ(StampedOffsets(s), (Offsets{{"mnist", 7}}));
}

TEST(SequenceTest, DropsWhatIsAtOrBelowTheLastOffsetTaken) {
  DuplicateFilter seen;
  EXPECT_TRUE(seen.Admit(Stamped({{"mnist", 0}})));
  EXPECT_TRUE(seen.Admit(Stamped({{"mnist", 2}})));  // a gap: filtered out
  EXPECT_FALSE(seen.Admit(Stamped({{"mnist", 2}})));
  EXPECT_FALSE(seen.Admit(Stamped({{"mnist", 1}})));
  EXPECT_TRUE(seen.Admit(Stamped({{"mnist", 3}})));
  EXPECT_EQ(seen.duplicates(), 2u);
  EXPECT_EQ(seen.last(), (Offsets{{"mnist", 3}}));
}

TEST(SequenceTest, AResumedFilterDropsTheReplayedPrefix) {
  DuplicateFilter seen(Offsets{{"mnist", 99}});
  uint64_t admitted = 0;
  for (uint64_t offset = 90; offset < 110; ++offset) {
    admitted += seen.Admit(Stamped({{"mnist", offset}}));
  }
  EXPECT_EQ(admitted, 10u);
  EXPECT_EQ(seen.duplicates(), 10u);
}

TEST(SequenceTest, ResourcesAreCountedApartAndUnstampedSamplesPass) {
  DuplicateFilter seen;
  EXPECT_TRUE(seen.Admit(Stamped({{"mnist", 5}})));
  EXPECT_TRUE(seen.Admit(Stamped({{"live", 1}})));
  EXPECT_TRUE(seen.Admit(Sample{}));
  EXPECT_TRUE(seen.Admit(Sample{}));
  // Through a chain mnist -> a -> model both stamps grow; either one
  // repeating marks a duplicate.
  EXPECT_TRUE(seen.Admit(Stamped({{"mnist", 6}, {"a", 0}})));
  EXPECT_FALSE(seen.Admit(Stamped({{"mnist", 7}, {"a", 0}})));
  EXPECT_EQ(seen.last(), (Offsets{{"mnist", 6}, {"a", 0}, {"live", 1}}));
}

}  // namespace
}  // namespace trainbus::bus
