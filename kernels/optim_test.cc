#include "kernels/optim.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/test_util.h"

namespace trainbus::kernels {
namespace {

using testing::ForEachTarget;
using testing::Misaligned;
using testing::RandomFloats;

TEST(OptimTest, StepsMatchReferenceOnEveryTarget) {
  ForEachTarget([](const char* target) {
    for (size_t n : {1, 15, 17, 1000, 100001}) {
      for (float wd : {0.0f, 0.01f}) {
        const auto w0 = RandomFloats(n, n);
        const auto g = RandomFloats(n, n + 1);
        const auto s0 = RandomFloats(n, n + 2);
        const auto s1 = RandomFloats(n, n + 3, 0, 1);
        {
          Misaligned w(w0, 1);
          std::vector<float> ref = w0;
          SgdStep(w.ptr, g.data(), n, 0.1f, wd);
          SgdStepReference(ref.data(), g.data(), n, 0.1f, wd);
          for (size_t i = 0; i < n; ++i) {
            ASSERT_NEAR(w.ptr[i], ref[i], testing::Tolerance(4, ref[i])) << target;
          }
        }
        {
          Misaligned w(w0, 2), v(s0, 3);
          std::vector<float> ref = w0, vref = s0;
          MomentumStep(w.ptr, g.data(), v.ptr, n, 0.1f, 0.9f, wd);
          MomentumStepReference(ref.data(), g.data(), vref.data(), n, 0.1f, 0.9f, wd);
          for (size_t i = 0; i < n; ++i) {
            ASSERT_NEAR(w.ptr[i], ref[i], testing::Tolerance(8, ref[i])) << target;
            ASSERT_NEAR(v.ptr[i], vref[i], testing::Tolerance(8, vref[i])) << target;
          }
        }
        for (uint64_t step : {1, 2, 100}) {
          Misaligned w(w0, 1), m(s0, 2), v(s1, 3);
          std::vector<float> ref = w0, mref = s0, vref = s1;
          AdamParams p;
          p.lr = 0.01f;
          p.weight_decay = wd;
          AdamStep(w.ptr, g.data(), m.ptr, v.ptr, n, p, step);
          AdamStepReference(ref.data(), g.data(), mref.data(), vref.data(), n, p, step);
          for (size_t i = 0; i < n; ++i) {
            ASSERT_NEAR(w.ptr[i], ref[i], testing::Tolerance(16, ref[i])) << target;
            ASSERT_NEAR(m.ptr[i], mref[i], testing::Tolerance(8, mref[i])) << target;
            ASSERT_NEAR(v.ptr[i], vref[i], testing::Tolerance(8, vref[i])) << target;
          }
        }
      }
    }
  });
}

TEST(OptimTest, AverageStepMatchesReferenceOnEveryTarget) {
  ForEachTarget([](const char* target) {
    for (size_t n : {1, 15, 17, 1000, 100001}) {
      const auto a0 = RandomFloats(n, n + 7);
      const auto w = RandomFloats(n, n + 8);
      for (float alpha : {0.001f, 0.5f, 1.0f}) {
        Misaligned a(a0, 1);
        std::vector<float> ref = a0;
        AverageStep(a.ptr, w.data(), n, alpha);
        AverageStepReference(ref.data(), w.data(), n, alpha);
        for (size_t i = 0; i < n; ++i) {
          ASSERT_NEAR(a.ptr[i], ref[i], testing::Tolerance(4, ref[i])) << target;
        }
      }
    }
  });
}

TEST(OptimTest, OuterProductStepMatchesReference) {
  ForEachTarget([](const char* target) {
    for (size_t rows : {1, 3, 128}) {
      for (size_t cols : {1, 17, 784}) {
        const auto w0 = RandomFloats(rows * cols, rows);
        auto dout = RandomFloats(rows, cols);
        dout[0] = 0.0f;  // a dead ReLU unit: row left untouched
        const auto x = RandomFloats(cols, 3);
        Misaligned w(w0, 1);
        std::vector<float> ref = w0;
        SgdOuterProductStep(w.ptr, rows, cols, dout.data(), x.data(), 0.1f);
        SgdOuterProductStepReference(ref.data(), rows, cols, dout.data(),
                                     x.data(), 0.1f);
        for (size_t i = 0; i < ref.size(); ++i) {
          ASSERT_NEAR(w.ptr[i], ref[i], testing::Tolerance(4, ref[i])) << target;
        }
        for (size_t j = 0; j < cols; ++j) ASSERT_EQ(w.ptr[j], w0[j]);
      }
    }
  });
}

TEST(OptimTest, AdamFirstStepMovesByLearningRate) {
  // With zero state, the bias-corrected first step is lr * sign(g).
  std::vector<float> w = {1.0f, 1.0f}, g = {0.5f, -2.0f}, m(2), v(2);
  AdamStep(w.data(), g.data(), m.data(), v.data(), 2, AdamParams{}, 1);
  EXPECT_NEAR(w[0], 1.0f - 1e-3f, 1e-6);
  EXPECT_NEAR(w[1], 1.0f + 1e-3f, 1e-6);
}

TEST(InitTest, SeededAndWithTheRightScale) {
  const size_t n = 200000, fan_in = 784, fan_out = 256;
  std::vector<float> a(n), b(n), c(n);
  HeNormalInit(a.data(), n, fan_in, 42);
  HeNormalInit(b.data(), n, fan_in, 42);
  HeNormalInit(c.data(), n, fan_in, 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  double mean = 0, var = 0;
  for (float x : a) mean += x;
  mean /= n;
  for (float x : a) var += (x - mean) * (x - mean);
  var /= n;
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(var, 2.0 / fan_in, 0.02 * 2.0 / fan_in);
  XavierUniformInit(a.data(), n, fan_in, fan_out, 7);
  const double limit = std::sqrt(6.0 / (fan_in + fan_out));
  double sq = 0;
  for (float x : a) {
    ASSERT_LE(std::fabs(x), limit);
    sq += double{x} * x;
  }
  EXPECT_NEAR(sq / n, limit * limit / 3, 0.02 * limit * limit / 3);
}

}  // namespace
}  // namespace trainbus::kernels
