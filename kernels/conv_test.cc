#include "kernels/conv.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/test_util.h"
#include "oneapi/tbb/global_control.h"

namespace trainbus::kernels {
namespace {

using testing::ForEachTarget;
using testing::RandomFloats;

void CheckAgainstReference(const ConvShape& s, const char* target) {
  const auto in = RandomFloats(s.InSize(), s.batch + s.channels);
  const auto weight = RandomFloats(s.WeightSize(), 2);
  const auto bias = RandomFloats(s.out_channels, 3);
  std::vector<float> out(s.OutSize()), ref(s.OutSize()), col(s.ColSize());
  Conv2dForward(s, in.data(), weight.data(), bias.data(), out.data(), col.data());
  Conv2dForwardReference(s, in.data(), weight.data(), bias.data(), ref.data());
  const float k = static_cast<float>(s.ColRows()) / 4 + 8;
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_NEAR(out[i], ref[i], testing::Tolerance(k, s.ColRows() / 3.0f))
        << target << " i=" << i;
  }
  const auto dout = RandomFloats(s.OutSize(), 4);
  std::vector<float> dw(s.WeightSize()), db(s.out_channels), din(s.InSize()),
      dcol(s.ColSize());
  std::vector<float> dwr(dw.size()), dbr(db.size()), dinr(din.size());
  Conv2dBackward(s, col.data(), weight.data(), dout.data(), dw.data(), db.data(),
                 din.data(), dcol.data());
  Conv2dBackwardReference(s, in.data(), weight.data(), dout.data(), dwr.data(),
                          dbr.data(), dinr.data());
  const float kb = static_cast<float>(s.ColCols()) / 4 + 8;
  for (size_t i = 0; i < dw.size(); ++i) {
    ASSERT_NEAR(dw[i], dwr[i], testing::Tolerance(kb, s.ColCols() / 3.0f)) << target;
  }
  for (size_t i = 0; i < db.size(); ++i) {
    ASSERT_NEAR(db[i], dbr[i], testing::Tolerance(kb, s.ColCols() / 3.0f)) << target;
  }
  for (size_t i = 0; i < din.size(); ++i) {
    ASSERT_NEAR(din[i], dinr[i], testing::Tolerance(64, 25.0f)) << target;
  }
}

TEST(ConvTest, MatchesDirectReferenceOnEveryTarget) {
  ForEachTarget([](const char* target) {
    CheckAgainstReference({1, 1, 7, 9, 3, 3}, target);
    CheckAgainstReference({3, 2, 8, 8, 5, 5}, target);
    CheckAgainstReference({2, 3, 12, 11, 17, 5}, target);
    CheckAgainstReference({4, 1, 28, 28, 8, 5}, target);  // large: threaded
    CheckAgainstReference({16, 2, 12, 12, 3, 5}, target);  // padded col rows
    // Zero padding: "same" (pad = (k - 1) / 2), more than that, and planes
    // smaller than the kernel.
    CheckAgainstReference({2, 2, 7, 9, 3, 3, 1}, target);
    CheckAgainstReference({3, 1, 8, 6, 4, 5, 2}, target);
    CheckAgainstReference({2, 3, 5, 5, 2, 3, 2}, target);
    CheckAgainstReference({1, 2, 3, 4, 3, 5, 2}, target);
    CheckAgainstReference({2, 1, 1, 1, 2, 5, 2}, target);  // 1x1 plane
    CheckAgainstReference({4, 1, 28, 28, 16, 3, 1}, target);  // threaded
  });
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
    double l = 0;
    for (size_t j = 0; j < o.size(); ++j) l += double{r[j]} * o[j];
    return l;
  };
  const float h = 1e-2f;
  auto check = [&](std::vector<float>& param, const std::vector<float>& grad,
                   const char* name) {
    for (size_t i = 0; i < param.size(); ++i) {
      const float saved = param[i];
      param[i] = saved + h;
      const double lp = loss();
      param[i] = saved - h;
      const double lm = loss();
      param[i] = saved;
      EXPECT_NEAR(grad[i], (lp - lm) / (2 * h), 2e-3) << name << " " << i;
    }
  };
  check(weight, dw, "weight");
  check(bias, db, "bias");
  check(in, din, "input");
}

INSTANTIATE_TEST_SUITE_P(Padding, ConvFiniteDifferences,
                         ::testing::Values(0, 1, 2));

TEST(ConvTest, BitwiseIdenticalForOneOrTwoThreads) {
  const ConvShape s{16, 4, 12, 12, 8, 5};
  const auto in = RandomFloats(s.InSize(), 1);
  const auto weight = RandomFloats(s.WeightSize(), 2);
  const auto bias = RandomFloats(s.out_channels, 3);
  const auto dout = RandomFloats(s.OutSize(), 4);
  std::vector<float> results[2];
  for (int threads : {1, 2}) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    std::vector<float> out(s.OutSize()), col(s.ColSize()), dcol(s.ColSize());
    std::vector<float> dw(s.WeightSize()), db(s.out_channels), din(s.InSize());
    Conv2dForward(s, in.data(), weight.data(), bias.data(), out.data(), col.data());
    Conv2dBackward(s, col.data(), weight.data(), dout.data(), dw.data(), db.data(),
                   din.data(), dcol.data());
    auto& r = results[threads - 1];
    r.insert(r.end(), out.begin(), out.end());
    r.insert(r.end(), dw.begin(), dw.end());
    r.insert(r.end(), db.begin(), db.end());
    r.insert(r.end(), din.begin(), din.end());
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  EXPECT_EQ(0, std::memcmp(results[0].data(), results[1].data(),
                           results[0].size() * sizeof(float)));
}

}  // namespace
}  // namespace trainbus::kernels
