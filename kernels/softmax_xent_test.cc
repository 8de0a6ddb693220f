#include "kernels/softmax_xent.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/reduce.h"
#include "kernels/test_util.h"

namespace trainbus::kernels {
namespace {

using testing::ForEachTarget;
using testing::Misaligned;
using testing::RandomFloats;

std::vector<int32_t> Labels(size_t batch, size_t classes) {
  std::vector<int32_t> labels(batch);
  for (size_t i = 0; i < batch; ++i) labels[i] = static_cast<int32_t>((i * 7 + 3) % classes);
  return labels;
}

TEST(SoftmaxXentTest, ForwardBackwardMatchReference) {
  ForEachTarget([](const char* target) {
    for (size_t batch : {1, 3, 64}) {
      for (size_t classes : {2, 10, 16, 17, 100}) {
        auto logits = RandomFloats(batch * classes, batch + classes, -20, 20);
        const auto labels = Labels(batch, classes);
        Misaligned z(logits, 1);
        std::vector<float> p(batch * classes), pref(batch * classes);
        const float loss = SoftmaxCrossEntropyForward(z.ptr, labels.data(),
                                                      batch, classes, p.data());
        const float lref = SoftmaxCrossEntropyForwardReference(
            logits.data(), labels.data(), batch, classes, pref.data());
        ASSERT_NEAR(loss, lref, testing::Tolerance(64, lref)) << target;
        for (size_t i = 0; i < p.size(); ++i) {
          ASSERT_NEAR(p[i], pref[i], testing::Tolerance(16, pref[i])) << target;
        }
        std::vector<float> d(p.size()), dref(p.size());
        SoftmaxCrossEntropyBackward(p.data(), labels.data(), batch, classes,
                                    1.0f / batch, d.data());
        SoftmaxCrossEntropyBackwardReference(pref.data(), labels.data(), batch,
                                             classes, 1.0f / batch,
                                             dref.data());
        for (size_t i = 0; i < d.size(); ++i) {
          ASSERT_NEAR(d[i], dref[i], testing::Tolerance(16, 1.0f)) << target;
        }
      }
    }
  });
}

// Softmax alone, against the reference's probabilities, misaligned and in
// place, on every target.
TEST(SoftmaxTest, MatchesReferenceOnEveryTarget) {
  const auto ran = ForEachTarget([](const char* target) {
    for (size_t batch : {1, 3, 64}) {
      for (size_t classes : {1, 2, 10, 16, 17, 100}) {
        const auto logits =
            RandomFloats(batch * classes, 3 * batch + classes, -30, 30);
        const std::vector<int32_t> labels(batch, 0);
        std::vector<float> ref(batch * classes);
        SoftmaxCrossEntropyForwardReference(logits.data(), labels.data(), batch,
                                            classes, ref.data());
        Misaligned in(logits, 1 + classes % 5);
        Misaligned out(std::vector<float>(batch * classes), 2);
        Softmax(in.ptr, batch, classes, out.ptr);
        Softmax(in.ptr, batch, classes, in.ptr);  // aliased
        for (size_t i = 0; i < ref.size(); ++i) {
          ASSERT_NEAR(out.ptr[i], ref[i], testing::Tolerance(16, ref[i]))
              << target << " " << batch << "x" << classes << " i=" << i;
          ASSERT_EQ(in.ptr[i], out.ptr[i]) << target << " in place, i=" << i;
        }
      }
    }
    // Huge logits stay finite and sum to one.
    const std::vector<float> huge = {1e30f, -1e30f, 0.0f, 88.0f, 1000.0f, 999.0f};
    std::vector<float> p(6);
    Softmax(huge.data(), 2, 3, p.data());
    EXPECT_FLOAT_EQ(p[0], 1.0f) << target;
    EXPECT_NEAR(p[4], 1.0f / (1.0f + std::exp(-1.0f)), 1e-6) << target;
  });
  EXPECT_EQ(ran, testing::ExpectedTargets());
}

TEST(SoftmaxXentTest, StableForHugeLogits) {
  const std::vector<float> logits = {1e30f, -1e30f, 0.0f, 88.0f, 1000.0f, 999.0f};
  const std::vector<int32_t> labels = {0, 1};
  std::vector<float> p(6);
  const float loss = SoftmaxCrossEntropyForward(logits.data(), labels.data(), 2, 3, p.data());
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_FLOAT_EQ(p[0], 1.0f);
  EXPECT_NEAR(p[4], 1.0f / (1.0f + std::exp(-1.0f)), 1e-6);
}

TEST(SoftmaxXentTest, NonFiniteLogitGivesNonFiniteLoss) {
  const std::vector<float> logits = {1.0f, NAN, 0.0f};
  const std::vector<int32_t> labels = {0};
  std::vector<float> p(3);
  EXPECT_FALSE(std::isfinite(
      SoftmaxCrossEntropyForward(logits.data(), labels.data(), 1, 3, p.data())));
}

TEST(SoftmaxXentTest, BackwardMatchesFiniteDifferences) {
  const size_t batch = 4, classes = 10;
  auto z = RandomFloats(batch * classes, 5, -3, 3);
  const auto labels = Labels(batch, classes);
  std::vector<float> p(z.size()), d(z.size());
  SoftmaxCrossEntropyForward(z.data(), labels.data(), batch, classes, p.data());
  SoftmaxCrossEntropyBackward(p.data(), labels.data(), batch, classes,
                              1.0f / batch, d.data());
  auto loss = [&]() {
    std::vector<float> pp(z.size());
    return double{SoftmaxCrossEntropyForward(z.data(), labels.data(), batch,
                                             classes, pp.data())};
  };
  testing::ExpectFiniteDifferences(z, d, loss, 1e-2f, 1e-3, "dlogits");
}

// Label smoothing: the loss and gradient against the reference on every
// target, and the gradient against central differences of the loss.
TEST(SoftmaxXentTest, SmoothedMatchesReferenceOnEveryTarget) {
  ForEachTarget([](const char* target) {
    for (size_t classes : {2, 10, 17}) {
      const size_t batch = 5;
      const auto logits = RandomFloats(batch * classes, classes, -5, 5);
      const auto labels = Labels(batch, classes);
      std::vector<float> p(logits.size()), pref(logits.size());
      const float loss = SoftmaxCrossEntropyForward(
          logits.data(), labels.data(), batch, classes, p.data(), 0.1f);
      const float lref = SoftmaxCrossEntropyForwardReference(
          logits.data(), labels.data(), batch, classes, pref.data(), 0.1f);
      ASSERT_NEAR(loss, lref, testing::Tolerance(64, lref)) << target;
      std::vector<float> d(p.size()), dref(p.size());
      SoftmaxCrossEntropyBackward(p.data(), labels.data(), batch, classes,
                                  0.2f, d.data(), 0.1f);
      SoftmaxCrossEntropyBackwardReference(pref.data(), labels.data(), batch,
                                           classes, 0.2f, dref.data(), 0.1f);
      for (size_t i = 0; i < d.size(); ++i) {
        ASSERT_NEAR(d[i], dref[i], testing::Tolerance(16, 1.0f)) << target;
      }
    }
  });
}

TEST(SoftmaxXentTest, SmoothedBackwardMatchesFiniteDifferences) {
  const size_t batch = 4, classes = 10;
  auto z = RandomFloats(batch * classes, 6, -3, 3);
  const auto labels = Labels(batch, classes);
  std::vector<float> p(z.size()), d(z.size());
  SoftmaxCrossEntropyForward(z.data(), labels.data(), batch, classes, p.data(),
                             0.2f);
  SoftmaxCrossEntropyBackward(p.data(), labels.data(), batch, classes,
                              1.0f / batch, d.data(), 0.2f);
  auto loss = [&]() {
    std::vector<float> pp(z.size());
    return double{SoftmaxCrossEntropyForward(z.data(), labels.data(), batch,
                                             classes, pp.data(), 0.2f)};
  };
  testing::ExpectFiniteDifferences(z, d, loss, 1e-2f, 1e-3, "dlogits");
  // The smoothed loss is minimal, not zero, at the smoothed target.
  EXPECT_GT(loss(), 0.0);
}

TEST(ReduceTest, ArgmaxAndAccuracyMatchReference) {
  ForEachTarget([](const char* target) {
    for (size_t n : {1, 10, 16, 17, 40}) {
      const size_t rows = 33;
      auto x = RandomFloats(rows * n, n);
      x[5 % (rows * n)] = 5.0f;  // a clear winner somewhere
      if (n > 3) x[n + 1] = x[n + 2] = 9.0f;  // tie: first index wins
      Misaligned xm(x, 3);
      std::vector<int32_t> got(rows), ref(rows);
      ArgmaxRows(xm.ptr, rows, n, got.data());
      ArgmaxRowsReference(x.data(), rows, n, ref.data());
      ASSERT_EQ(got, ref) << target << " n=" << n;
      std::vector<int32_t> labels = ref;
      labels[0] = (labels[0] + 1) % static_cast<int32_t>(n);
      EXPECT_EQ(CountCorrect(xm.ptr, labels.data(), rows, n),
                n == 1 ? rows : rows - 1);
    }
  });
}

}  // namespace
}  // namespace trainbus::kernels
