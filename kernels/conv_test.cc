#include "kernels/conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/conv_direct.h"
#include "kernels/test_util.h"

namespace trainbus::kernels {
namespace {

using testing::ForEachTarget;
using testing::Misaligned;
using testing::RandomFloats;

constexpr ConvMethod kMethods[] = {ConvMethod::kIm2col, ConvMethod::kDirect};

// Odd sizes, channel counts off the 4- and 3-channel blocks, planes narrower
// and wider than a vector, paddings from valid to more than same.
const ConvShape kShapes[] = {
    {1, 1, 7, 9, 3, 3},
    {3, 2, 6, 5, 6, 3},     // rows narrower than half a vector
    {3, 2, 8, 8, 5, 5},
    {2, 3, 12, 11, 17, 5},
    {4, 1, 28, 28, 8, 5},   // large: threaded
    {16, 2, 12, 12, 3, 5},  // padded col rows
    {12, 16, 12, 12, 3, 5}, // two im2col chunks (10 images each)
    {2, 5, 9, 19, 7, 3, 1},
    {2, 2, 7, 9, 3, 3, 1},
    {3, 1, 8, 6, 4, 5, 2},
    {2, 3, 5, 5, 2, 3, 2},
    {1, 2, 3, 4, 3, 5, 2},
    {2, 1, 1, 1, 2, 5, 2},  // 1x1 plane
    {4, 1, 28, 28, 16, 3, 1},   // threaded
    {3, 6, 14, 14, 10, 3, 1},   // the accuracy CNN's second layer, smaller
    {2, 3, 6, 33, 5, 1, 0},     // 1x1 kernel
    // Output-channel tiles (rows not whole vectors, 2N output channels):
    // forward, and backward data (16 input channels).
    {2, 8, 9, 11, 16, 3, 1},
    {3, 16, 7, 6, 8, 3, 1},
    {2, 4, 10, 13, 32, 5, 1},
};

// Every buffer starts `offset` floats past a vector boundary (0: aligned).
void CheckAgainstReference(const ConvShape& s, ConvMethod method,
                           const char* target, size_t offset) {
  const auto in0 = RandomFloats(s.InSize(), s.batch + s.channels);
  const auto weight0 = RandomFloats(s.WeightSize(), 2);
  const auto bias0 = RandomFloats(s.out_channels, 3);
  const auto dout0 = RandomFloats(s.OutSize(), 4);
  auto zeros = [&](size_t n, size_t extra) {
    return Misaligned(std::vector<float>(n), offset + extra);
  };
  Misaligned in(in0, offset), weight(weight0, offset + 1),
      bias(bias0, offset + 2), dout(dout0, offset + 3);
  std::vector<float> ref(s.OutSize()), dwr(s.WeightSize()),
      dbr(s.out_channels), dinr(s.InSize());
  Conv2dForwardReference(s, in0.data(), weight0.data(), bias0.data(),
                         ref.data());
  Conv2dBackwardReference(s, in0.data(), weight0.data(), dout0.data(),
                          dwr.data(), dbr.data(), dinr.data());
  const std::string what = std::string(target) + " " +
                           ConvMethodName(method) + " offset " +
                           std::to_string(offset);
  const float k = static_cast<float>(s.ColRows()) / 4 + 8;
  for (bool relu : {false, true}) {
    Misaligned out = zeros(s.OutSize(), 0);
    ConvForward(s, method, in.ptr, weight.ptr, bias.ptr, relu, out.ptr);
    for (size_t i = 0; i < ref.size(); ++i) {
      const float want = relu ? std::max(ref[i], 0.0f) : ref[i];
      ASSERT_NEAR(out.ptr[i], want, testing::Tolerance(k, s.ColRows() / 3.0f))
          << what << " relu " << relu << " i=" << i;
    }
  }
  Misaligned dw = zeros(s.WeightSize(), 2), din = zeros(s.InSize(), 4);
  ConvBackwardWeights(s, method, in.ptr, dout.ptr, dw.ptr);
  ConvBackwardData(s, method, weight.ptr, dout.ptr, din.ptr);
  const float kb = static_cast<float>(s.ColCols()) / 4 + 8;
  for (size_t i = 0; i < dwr.size(); ++i) {
    ASSERT_NEAR(dw.ptr[i], dwr[i], testing::Tolerance(kb, s.ColCols() / 3.0f))
        << what << " dweight i=" << i;
  }
  for (size_t i = 0; i < dinr.size(); ++i) {
    ASSERT_NEAR(din.ptr[i], dinr[i], testing::Tolerance(64, 25.0f))
        << what << " din i=" << i;
  }
}

TEST(ConvTest, BothMethodsMatchDirectReferenceOnEveryTargetAlignedOrNot) {
  const auto ran = ForEachTarget([&](const char* target) {
    for (size_t i = 0; i < sizeof(kShapes) / sizeof(kShapes[0]); ++i) {
      for (ConvMethod method : kMethods) {
        CheckAgainstReference(kShapes[i], method, target, 0);
        CheckAgainstReference(kShapes[i], method, target, 1 + i % 7);
      }
    }
  });
  EXPECT_EQ(ran, testing::ExpectedTargets());
}

// The direct kernels on images [1, 3) of a 4-image tensor touch only those
// images' planes and compute what they would on their own.
TEST(ConvTest, DirectKernelsHonourBatchSlices) {
  const ConvShape whole{4, 3, 9, 10, 5, 3, 1};
  ConvShape slice = whole;
  slice.batch = 2;
  slice.batch_begin = 1;
  slice.batch_total = 4;
  const auto in = RandomFloats(whole.InSize(), 1);
  const auto weight = RandomFloats(whole.WeightSize(), 2);
  const auto dout = RandomFloats(whole.OutSize(), 3);
  std::vector<float> out_all(whole.OutSize()), din_all(whole.InSize());
  DirectConvForward(whole, in.data(), weight.data(), nullptr, false,
                    out_all.data());
  DirectConvBackwardData(whole, weight.data(), dout.data(), din_all.data());
  std::vector<float> out(whole.OutSize(), -7.0f), din(whole.InSize(), -7.0f);
  DirectConvForward(slice, in.data(), weight.data(), nullptr, false,
                    out.data());
  DirectConvBackwardData(slice, weight.data(), dout.data(), din.data());
  auto check = [](const std::vector<float>& got,
                  const std::vector<float>& all, size_t channels,
                  size_t plane, const char* what) {
    for (size_t i = 0; i < got.size(); ++i) {
      const size_t b = i / plane % 4;
      const float want = (b == 1 || b == 2) ? all[i] : -7.0f;
      ASSERT_EQ(got[i], want) << what << " i=" << i;
    }
  };
  check(out, out_all, whole.out_channels,
        whole.OutHeight() * whole.OutWidth(), "out");
  check(din, din_all, whole.channels, whole.height * whole.width, "din");
}

// Every buffer ends right before a PROT_NONE page, then starts right after
// one: a read outside any of them faults every time.
TEST(ConvTest, ReadsNothingOutsideItsBuffers) {
  for (testing::Guard guard : {testing::Guard::kAfter, testing::Guard::kBefore}) {
    testing::GuardPages pages(guard);
    ForEachTarget([&](const char* target) {
      for (const ConvShape& s : kShapes) {
        for (ConvMethod method : kMethods) {
          CheckAgainstReference(s, method, target, 0);
        }
      }
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

// (pad, method): backward of each method against central differences of
// its own forward pass.
class ConvFiniteDifferences
    : public ::testing::TestWithParam<std::tuple<size_t, ConvMethod>> {};

TEST_P(ConvFiniteDifferences, BackwardMatches) {
  const auto [pad, method] = GetParam();
  const ConvShape s{2, 2, 6, 5, 3, 3, pad};
  auto in = RandomFloats(s.InSize(), 1);
  auto weight = RandomFloats(s.WeightSize(), 2);
  auto bias = RandomFloats(s.out_channels, 3);
  const auto r = RandomFloats(s.OutSize(), 4);
  std::vector<float> dw(s.WeightSize()), din(s.InSize());
  ConvBackwardWeights(s, method, in.data(), r.data(), dw.data());
  ConvBackwardData(s, method, weight.data(), r.data(), din.data());
  auto loss = [&]() {
    std::vector<float> o(s.OutSize());
    ConvForward(s, method, in.data(), weight.data(), bias.data(), false,
                o.data());
    return testing::WeightedSum(r, o.data());
  };
  testing::ExpectFiniteDifferences(weight, dw, loss, 1e-2f, 2e-3, "weight");
  testing::ExpectFiniteDifferences(in, din, loss, 1e-2f, 2e-3, "input");
}

INSTANTIATE_TEST_SUITE_P(
    PaddingAndMethod, ConvFiniteDifferences,
    ::testing::Combine(::testing::Values(0, 1, 2),
                       ::testing::ValuesIn(kMethods)));

TEST(ConvTest, BitwiseIdenticalForAnyThreadCount) {
  // Both CNN geometries, large enough to be threaded in every pass.
  const ConvShape shapes[] = {{40, 4, 12, 12, 8, 5}, {20, 8, 14, 14, 16, 3, 1}};
  for (const ConvShape& s : shapes) {
    const auto in = RandomFloats(s.InSize(), 1);
    const auto weight = RandomFloats(s.WeightSize(), 2);
    const auto bias = RandomFloats(s.out_channels, 3);
    const auto dout = RandomFloats(s.OutSize(), 4);
    for (ConvMethod method : kMethods) {
      std::vector<float> first;
      for (int threads : testing::kThreadCounts) {
        std::vector<float> out(s.OutSize()), dw(s.WeightSize()),
            din(s.InSize());
        testing::WithThreads(threads, [&] {
          ConvForward(s, method, in.data(), weight.data(), bias.data(), true,
                      out.data());
          ConvBackwardWeights(s, method, in.data(), dout.data(), dw.data());
          ConvBackwardData(s, method, weight.data(), dout.data(), din.data());
        });
        std::vector<float> all = out;
        all.insert(all.end(), dw.begin(), dw.end());
        all.insert(all.end(), din.begin(), din.end());
        if (threads == 1) first = all;
        ASSERT_EQ(all.size(), first.size());
        EXPECT_EQ(0, std::memcmp(all.data(), first.data(),
                                 all.size() * sizeof(float)))
            << ConvMethodName(method) << " " << threads << " threads";
      }
    }
  }
}

TEST(ConvTest, EmptyBatchGivesZeroWeightGradient) {
  const ConvShape s{0, 2, 5, 5, 3, 3, 1};
  for (ConvMethod method : kMethods) {
    std::vector<float> dw(s.WeightSize(), 7.0f);
    ConvBackwardWeights(s, method, nullptr, nullptr, dw.data());
    EXPECT_EQ(dw, std::vector<float>(s.WeightSize(), 0.0f))
        << ConvMethodName(method);
  }
}

TEST(ConvTest, RuleFallsBackToIm2colWhereDirectDoesNotApplyOrLoses) {
  const ConvShape wide_pad{2, 8, 4, 4, 2, 3, /*pad=*/3};
  EXPECT_EQ(ChooseConvMethods(wide_pad).backward_data, ConvMethod::kIm2col);
  // The CNNs' layers.
  const ConvShape valid2{64, 8, 12, 12, 16, 5}, same2{64, 32, 14, 14, 64, 3, 1},
      same1{64, 1, 28, 28, 32, 3, 1}, valid1{64, 1, 28, 28, 8, 5};
  EXPECT_EQ(ChooseConvMethods(valid2).backward_data, ConvMethod::kIm2col);
  EXPECT_EQ(ChooseConvMethods(same2).backward_data, ConvMethod::kDirect);
  EXPECT_EQ(ChooseConvMethods(same1).backward_weights, ConvMethod::kIm2col);
  EXPECT_EQ(ChooseConvMethods(valid1).backward_weights, ConvMethod::kDirect);
  EXPECT_EQ(ChooseConvMethods(valid1).forward, ConvMethod::kDirect);
}

}  // namespace
}  // namespace trainbus::kernels
