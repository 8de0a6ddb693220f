#include "base/hash.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace trainbus::base {
namespace {

// The first two outputs of the SplitMix64 generator seeded with 0: ratio
// filters and epoch shuffles stay the same across releases only while these do.
TEST(SplitMix64Test, MatchesTheReferenceSequence) {
  EXPECT_EQ(SplitMix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(SplitMix64(0x9e3779b97f4a7c15ULL), 0x6e789e6aa1b965f4ULL);
}

TEST(SplitMix64Test, NeighboursDiffer) {
  EXPECT_NE(SplitMix64(1), SplitMix64(2));
  EXPECT_EQ(SplitMix64(1), 0x910a2dec89025cc1ULL);
}

}  // namespace
}  // namespace trainbus::base
