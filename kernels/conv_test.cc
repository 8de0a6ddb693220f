#include "kernels/conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/test_util.h"

namespace trainbus::kernels {
namespace {

using testing::ForEachTarget;
using testing::Misaligned;
using testing::RandomFloats;

// Every buffer starts `offset` floats past a vector boundary (0: aligned).
void CheckAgainstReference(const ConvShape& s, const char* target,
                           size_t offset) {
  const auto in0 = RandomFloats(s.InSize(), s.batch + s.channels);
  const auto weight0 = RandomFloats(s.WeightSize(), 2);
  const auto bias0 = RandomFloats(s.out_channels, 3);
  const auto dout0 = RandomFloats(s.OutSize(), 4);
  auto zeros = [&](size_t n, size_t extra) {
    return Misaligned(std::vector<float>(n), offset + extra);
  };
  Misaligned in(in0, offset), weight(weight0, offset + 1),
      bias(bias0, offset + 2), dout(dout0, offset + 3);
  Misaligned out = zeros(s.OutSize(), 0), col = zeros(s.ColSize(), 1);
  std::vector<float> ref(s.OutSize());
  Conv2dForward(s, in.ptr, weight.ptr, bias.ptr, out.ptr, col.ptr);
  Conv2dForwardReference(s, in0.data(), weight0.data(), bias0.data(),
                         ref.data());
  const float k = static_cast<float>(s.ColRows()) / 4 + 8;
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_NEAR(out.ptr[i], ref[i], testing::Tolerance(k, s.ColRows() / 3.0f))
        << target << " offset " << offset << " i=" << i;
  }
  Misaligned dw = zeros(s.WeightSize(), 2), db = zeros(s.out_channels, 3),
             din = zeros(s.InSize(), 4), dcol = zeros(s.ColSize(), 5);
  std::vector<float> dwr(s.WeightSize()), dbr(s.out_channels),
      dinr(s.InSize());
  Conv2dBackward(s, col.ptr, weight.ptr, dout.ptr, dw.ptr, db.ptr, din.ptr,
                 dcol.ptr);
  Conv2dBackwardReference(s, in0.data(), weight0.data(), dout0.data(),
                          dwr.data(), dbr.data(), dinr.data());
  const float kb = static_cast<float>(s.ColCols()) / 4 + 8;
  for (size_t i = 0; i < dwr.size(); ++i) {
    ASSERT_NEAR(dw.ptr[i], dwr[i], testing::Tolerance(kb, s.ColCols() / 3.0f))
        << target << " offset " << offset;
  }
  for (size_t i = 0; i < dbr.size(); ++i) {
    ASSERT_NEAR(db.ptr[i], dbr[i], testing::Tolerance(kb, s.ColCols() / 3.0f))
        << target << " offset " << offset;
  }
  for (size_t i = 0; i < dinr.size(); ++i) {
    ASSERT_NEAR(din.ptr[i], dinr[i], testing::Tolerance(64, 25.0f))
        << target << " offset " << offset;
  }
}

const ConvShape kShapes[] = {
    {1, 1, 7, 9, 3, 3},
    {3, 2, 8, 8, 5, 5},
    {2, 3, 12, 11, 17, 5},
    {4, 1, 28, 28, 8, 5},   // large: threaded
    {16, 2, 12, 12, 3, 5},  // padded col rows
    // Zero padding: "same" (pad = (k - 1) / 2), more than that, and planes
    // smaller than the kernel.
    {2, 2, 7, 9, 3, 3, 1},
    {3, 1, 8, 6, 4, 5, 2},
    {2, 3, 5, 5, 2, 3, 2},
    {1, 2, 3, 4, 3, 5, 2},
    {2, 1, 1, 1, 2, 5, 2},  // 1x1 plane
    {4, 1, 28, 28, 16, 3, 1},  // threaded
};

TEST(ConvTest, MatchesDirectReferenceOnEveryTargetAlignedOrNot) {
  const auto ran = ForEachTarget([&](const char* target) {
    for (size_t i = 0; i < sizeof(kShapes) / sizeof(kShapes[0]); ++i) {
      CheckAgainstReference(kShapes[i], target, 0);
      CheckAgainstReference(kShapes[i], target, 1 + i % 7);
    }
  });
  EXPECT_EQ(ran, testing::ExpectedTargets());
}

// Every buffer ends right before a PROT_NONE page, then starts right after
// one: a read outside any of them faults every time.
TEST(ConvTest, ReadsNothingOutsideItsBuffers) {
  for (testing::Guard guard : {testing::Guard::kAfter, testing::Guard::kBefore}) {
    testing::GuardPages pages(guard);
    ForEachTarget([&](const char* target) {
      for (const ConvShape& s : kShapes) CheckAgainstReference(s, target, 0);
    });
  }
}

// Col2Im is the adjoint of Im2Col: with L = <r, Im2Col(x)>, dL/dx = Col2Im(r).
TEST(ConvTest, Col2ImMatchesFiniteDifferencesOfIm2Col) {
  for (size_t pad : {0, 1, 2}) {
    const ConvShape s{2, 2, 5, 6, 1, 3, pad};
    auto x = RandomFloats(s.InSize(), 21);
    auto r = RandomFloats(s.ColSize(), 22);
    // Only the ColCols() entries of each row are columns; the stride's tail
    // is not part of the matrix.
    for (size_t row = 0; row < s.ColRows(); ++row) {
      std::fill(r.begin() + row * s.ColStride() + s.ColCols(),
                r.begin() + (row + 1) * s.ColStride(), 0.0f);
    }
    std::vector<float> dx(s.InSize());
    Col2Im(s, r.data(), dx.data());
    auto loss = [&]() {
      std::vector<float> col(s.ColSize(), 0.0f);
      Im2Col(s, x.data(), col.data());
      return testing::WeightedSum(r, col.data());
    };
    testing::ExpectFiniteDifferences(x, dx, loss, 1e-2f, 1e-3, "Col2Im");
  }
}

class ConvFiniteDifferences : public ::testing::TestWithParam<size_t> {};

TEST_P(ConvFiniteDifferences, BackwardMatches) {
  const ConvShape s{2, 2, 6, 5, 3, 3, /*pad=*/GetParam()};
  auto in = RandomFloats(s.InSize(), 1);
  auto weight = RandomFloats(s.WeightSize(), 2);
  auto bias = RandomFloats(s.out_channels, 3);
  const auto r = RandomFloats(s.OutSize(), 4);
  std::vector<float> out(s.OutSize()), col(s.ColSize()), dcol(s.ColSize());
  std::vector<float> dw(s.WeightSize()), db(s.out_channels), din(s.InSize());
  Conv2dForward(s, in.data(), weight.data(), bias.data(), out.data(), col.data());
  Conv2dBackward(s, col.data(), weight.data(), r.data(), dw.data(), db.data(),
                 din.data(), dcol.data());
  auto loss = [&]() {
    std::vector<float> o(s.OutSize()), c(s.ColSize());
    Conv2dForward(s, in.data(), weight.data(), bias.data(), o.data(), c.data());
    return testing::WeightedSum(r, o.data());
  };
  testing::ExpectFiniteDifferences(weight, dw, loss, 1e-2f, 2e-3, "weight");
  testing::ExpectFiniteDifferences(bias, db, loss, 1e-2f, 2e-3, "bias");
  testing::ExpectFiniteDifferences(in, din, loss, 1e-2f, 2e-3, "input");
}

INSTANTIATE_TEST_SUITE_P(Padding, ConvFiniteDifferences,
                         ::testing::Values(0, 1, 2));

TEST(ConvTest, BitwiseIdenticalForAnyThreadCount) {
  const ConvShape s{16, 4, 12, 12, 8, 5};
  const auto in = RandomFloats(s.InSize(), 1);
  const auto weight = RandomFloats(s.WeightSize(), 2);
  const auto bias = RandomFloats(s.out_channels, 3);
  const auto dout = RandomFloats(s.OutSize(), 4);
  std::vector<float> first;
  for (int threads : testing::kThreadCounts) {
    std::vector<float> out(s.OutSize()), col(s.ColSize()), dcol(s.ColSize());
    std::vector<float> dw(s.WeightSize()), db(s.out_channels), din(s.InSize());
    testing::WithThreads(threads, [&] {
      Conv2dForward(s, in.data(), weight.data(), bias.data(), out.data(),
                    col.data());
      Conv2dBackward(s, col.data(), weight.data(), dout.data(), dw.data(),
                     db.data(), din.data(), dcol.data());
    });
    std::vector<float> all = out;
    all.insert(all.end(), dw.begin(), dw.end());
    all.insert(all.end(), db.begin(), db.end());
    all.insert(all.end(), din.begin(), din.end());
    if (threads == 1) first = all;
    ASSERT_EQ(all.size(), first.size());
    EXPECT_EQ(0, std::memcmp(all.data(), first.data(),
                             all.size() * sizeof(float)))
        << threads << " threads";
  }
}

}  // namespace
}  // namespace trainbus::kernels
