#include "kernels/batchnorm.h"

#include <cmath>
#include <cstddef>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/test_util.h"

namespace trainbus::kernels {
namespace {

using testing::ForEachTarget;
using testing::Misaligned;
using testing::RandomFloats;

struct Case {
  size_t channels, n;
};
// Odd lengths (scalar tails), one value, one vector and a few, and rows long
// enough for several 1024-value blocks and the parallel path.
constexpr Case kCases[] = {{1, 1}, {3, 7}, {5, 33}, {2, 3001}, {17, 4100}};

TEST(BatchNormTest, MatchesReferenceOnEveryTarget) {
  ForEachTarget([](const char* target) {
    for (const Case& k : kCases) {
      const size_t total = k.channels * k.n;
      // An offset mean, so the second pass about the mean matters.
      const auto x = RandomFloats(total, k.n, 2.0f, 5.0f);
      const auto dy = RandomFloats(total, k.n + 1);
      const auto gamma = RandomFloats(k.channels, 3, 0.5f, 1.5f);
      const auto beta = RandomFloats(k.channels, 4);
      Misaligned mx(x, 1);
      std::vector<float> mean(k.channels), var(k.channels), is(k.channels);
      std::vector<float> rmean(k.channels), rvar(k.channels), ris(k.channels);
      BatchNormStatistics(mx.ptr, k.channels, k.n, 1e-5f, mean.data(),
                          var.data(), is.data());
      BatchNormStatisticsReference(x.data(), k.channels, k.n, 1e-5f,
                                   rmean.data(), rvar.data(), ris.data());
      for (size_t c = 0; c < k.channels; ++c) {
        ASSERT_NEAR(mean[c], rmean[c], testing::Tolerance(8, rmean[c]))
            << target;
        ASSERT_NEAR(var[c], rvar[c], testing::Tolerance(64, rvar[c]))
            << target;
        ASSERT_NEAR(is[c], ris[c], testing::Tolerance(64, ris[c])) << target;
      }
      for (bool relu : {false, true}) {
        std::vector<float> y(total), ry(total);
        BatchNormForward(mx.ptr, k.channels, k.n, rmean.data(), ris.data(),
                         gamma.data(), beta.data(), relu, y.data());
        BatchNormForwardReference(x.data(), k.channels, k.n, rmean.data(),
                                  ris.data(), gamma.data(), beta.data(), relu,
                                  ry.data());
        for (size_t i = 0; i < total; ++i) {
          ASSERT_NEAR(y[i], ry[i], testing::Tolerance(8, ry[i])) << target;
        }
        std::vector<float> dx(total), dg(k.channels), db(k.channels);
        std::vector<float> rdx(total), rdg(k.channels), rdb(k.channels);
        BatchNormBackward(mx.ptr, ry.data(), dy.data(), k.channels, k.n,
                          rmean.data(), ris.data(), gamma.data(), relu,
                          dx.data(), dg.data(), db.data());
        BatchNormBackwardReference(x.data(), ry.data(), dy.data(), k.channels,
                                   k.n, rmean.data(), ris.data(), gamma.data(),
                                   relu, rdx.data(), rdg.data(), rdb.data());
        for (size_t c = 0; c < k.channels; ++c) {
          // Sums of n terms of size ~1: tolerance grows with sqrt(n).
          const float scale = std::sqrt(static_cast<float>(k.n));
          ASSERT_NEAR(db[c], rdb[c], testing::Tolerance(16 * scale, rdb[c]))
              << target;
          ASSERT_NEAR(dg[c], rdg[c], testing::Tolerance(16 * scale, rdg[c]))
              << target;
        }
        for (size_t i = 0; i < total; ++i) {
          ASSERT_NEAR(dx[i], rdx[i], testing::Tolerance(256, rdx[i]))
              << target << " relu " << relu << " i " << i;
        }
      }
    }
  });
}

// dx may alias dy (the layer backpropagates in place).
TEST(BatchNormTest, BackwardInPlace) {
  const size_t channels = 3, n = 37;
  const auto x = RandomFloats(channels * n, 5);
  auto dy = RandomFloats(channels * n, 6);
  const std::vector<float> gamma(channels, 1.5f), beta(channels, 0.1f);
  std::vector<float> mean(channels), var(channels), is(channels);
  BatchNormStatistics(x.data(), channels, n, 1e-5f, mean.data(), var.data(),
                      is.data());
  std::vector<float> y(x.size());
  BatchNormForward(x.data(), channels, n, mean.data(), is.data(), gamma.data(),
                   beta.data(), true, y.data());
  std::vector<float> dx(x.size()), dg(channels), db(channels);
  BatchNormBackward(x.data(), y.data(), dy.data(), channels, n, mean.data(),
                    is.data(), gamma.data(), true, dx.data(), dg.data(),
                    db.data());
  BatchNormBackward(x.data(), y.data(), dy.data(), channels, n, mean.data(),
                    is.data(), gamma.data(), true, dy.data(), dg.data(),
                    db.data());
  EXPECT_EQ(dx, dy);
}

// The training-mode backward (statistics depend on x) against central
// differences of L = sum r * y, in x, gamma and beta.
TEST(BatchNormTest, BackwardMatchesFiniteDifferences) {
  const size_t channels = 3, n = 11;
  std::vector<float> x = RandomFloats(channels * n, 7, -2.0f, 2.0f);
  std::vector<float> gamma = RandomFloats(channels, 8, 0.5f, 1.5f);
  std::vector<float> beta = RandomFloats(channels, 9);
  const std::vector<float> r = RandomFloats(channels * n, 10);
  std::vector<float> mean(channels), var(channels), is(channels);
  std::vector<float> y(x.size());
  auto loss = [&] {
    BatchNormStatisticsReference(x.data(), channels, n, 1e-5f, mean.data(),
                                 var.data(), is.data());
    BatchNormForwardReference(x.data(), channels, n, mean.data(), is.data(),
                              gamma.data(), beta.data(), false, y.data());
    return testing::WeightedSum(r, y.data());
  };
  loss();
  std::vector<float> dx(x.size()), dg(channels), db(channels);
  BatchNormBackward(x.data(), y.data(), r.data(), channels, n, mean.data(),
                    is.data(), gamma.data(), false, dx.data(), dg.data(),
                    db.data());
  testing::ExpectFiniteDifferences(x, dx, loss, 1e-2f, 2e-3, "dx");
  testing::ExpectFiniteDifferences(gamma, dg, loss, 1e-2f, 2e-3, "dgamma");
  testing::ExpectFiniteDifferences(beta, db, loss, 1e-2f, 2e-3, "dbeta");
}

TEST(BatchNormTest, RunningStatisticsMoveByMomentum) {
  const float mean[2] = {1.0f, -2.0f}, var[2] = {3.0f, 0.5f};
  float rm[2] = {0.0f, 0.0f}, rv[2] = {1.0f, 1.0f};
  BatchNormUpdateRunning(mean, var, 2, 4, 0.25f, rm, rv);
  EXPECT_FLOAT_EQ(rm[0], 0.25f);
  EXPECT_FLOAT_EQ(rm[1], -0.5f);
  // Unbiased: 3 * 4/3 = 4 -> 1 + 0.25 * 3; 0.5 * 4/3 -> 1 + 0.25 * (2/3 - 1).
  EXPECT_FLOAT_EQ(rv[0], 1.75f);
  EXPECT_FLOAT_EQ(rv[1], 1.0f + 0.25f * (2.0f / 3.0f - 1.0f));
}

}  // namespace
}  // namespace trainbus::kernels
