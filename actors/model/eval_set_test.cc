// Which data shapes fit which model inputs, and how an EvalSet is built.
#include "actors/model/eval_set.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace trainbus::actors {
namespace {

TEST(ShapeFitsTest, LeadingOnesDoNotMatter) {
  EXPECT_TRUE(ShapeFits({28, 28}, 1, 28, 28));
  EXPECT_TRUE(ShapeFits({1, 28, 28}, 1, 28, 28));
  EXPECT_TRUE(ShapeFits({1, 1, 28, 28}, 1, 28, 28));
  EXPECT_TRUE(ShapeFits({3, 32, 32}, 3, 32, 32));
  EXPECT_TRUE(ShapeFits({784}, 1, 1, 784));
}

TEST(ShapeFitsTest, EqualSizeButDifferentLayoutDoesNotFit) {
  EXPECT_FALSE(ShapeFits({784}, 1, 28, 28));
  EXPECT_FALSE(ShapeFits({4, 14, 14}, 1, 28, 28));
  EXPECT_FALSE(ShapeFits({28, 28, 1}, 1, 28, 28));
  EXPECT_FALSE(ShapeFits({28, 28}, 1, 1, 784));
}

TEST(ShapeFitsTest, OtherSizesAndEmptyShapesDoNotFit) {
  EXPECT_FALSE(ShapeFits({4, 4}, 1, 28, 28));
  EXPECT_FALSE(ShapeFits({32, 32}, 1, 28, 28));
  EXPECT_FALSE(ShapeFits({28, 28}, 3, 32, 32));
  EXPECT_FALSE(ShapeFits({}, 1, 28, 28));
  EXPECT_FALSE(ShapeFits({}, 1, 1, 1));
}

TEST(EvalSetTest, FromBytesKeepsTheShapeAndScalesPixels) {
  const std::vector<uint8_t> pixels = {0, 255, 51, 102, 0, 0, 255, 255};
  const std::vector<uint8_t> labels = {3, 7};
  EvalSet set = EvalSet::FromBytes(pixels.data(), labels.data(), 2, {2, 2});
  EXPECT_EQ(set.count, 2u);
  EXPECT_EQ(set.input_size, 4u);
  EXPECT_EQ(set.shape, (std::vector<uint32_t>{2, 2}));
  ASSERT_EQ(set.x.size(), 8u);
  EXPECT_FLOAT_EQ(set.x[1], 1.0f);
  EXPECT_FLOAT_EQ(set.x[2], 0.2f);
  EXPECT_EQ(set.labels, (std::vector<int32_t>{3, 7}));
  EXPECT_EQ(FormatShape(set.shape), "2x2");
  EXPECT_EQ(FormatShape({}), "(none)");
}

// The blocked conversion equals the plain one, x * (1/255), for every
// length around the block size and any start offset.
TEST(BytesToUnitFloatsTest, MatchesThePlainLoopAtOddLengthsAndOffsets) {
  std::vector<uint8_t> in(100);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i * 37);
  for (size_t offset : {0u, 1u, 3u}) {
    for (size_t n : {0u, 1u, 15u, 16u, 17u, 33u, 63u, 97u}) {
      std::vector<float> out(n + 1, -1.0f);
      BytesToUnitFloats(in.data() + offset, n, out.data());
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(out[i], static_cast<float>(in[offset + i]) * (1.0f / 255.0f))
            << "n " << n << " offset " << offset << " at " << i;
      }
      EXPECT_EQ(out[n], -1.0f);  // nothing written past n
    }
  }
}

}  // namespace
}  // namespace trainbus::actors
