#include "kernels/activation.h"

#include <vector>

#include "gtest/gtest.h"
#include "kernels/test_util.h"

namespace trainbus::kernels {
namespace {

using testing::ForEachTarget;
using testing::Misaligned;
using testing::RandomFloats;

TEST(ActivationTest, BiasForwardMatchesReference) {
  ForEachTarget([](const char* target) {
    for (size_t rows : {1, 3, 64}) {
      for (size_t n : {1, 10, 17, 256, 1000}) {
        for (bool relu : {false, true}) {
          const auto x0 = RandomFloats(rows * n, n);
          const auto bias = RandomFloats(n, rows);
          Misaligned x(x0, 1 + n % 5);
          std::vector<float> ref = x0;
          BiasForward(x.ptr, bias.data(), rows, n, relu);
          BiasForwardReference(ref.data(), bias.data(), rows, n, relu);
          for (size_t i = 0; i < rows * n; ++i) {
            ASSERT_EQ(x.ptr[i], ref[i]) << target << " " << rows << "x" << n;
          }
          Misaligned y(x0, 3);
          std::vector<float> ref2 = x0;
          ChannelBiasForward(y.ptr, bias.data(), n, rows, relu);
          ChannelBiasForwardReference(ref2.data(), bias.data(), n, rows, relu);
          for (size_t i = 0; i < rows * n; ++i) ASSERT_EQ(y.ptr[i], ref2[i]);
        }
      }
    }
  });
}

TEST(ActivationTest, MultiplyMatchesReference) {
  ForEachTarget([](const char* target) {
    for (size_t n : {1, 15, 17, 1000, 70001}) {
      const auto a = RandomFloats(n, n);
      const auto b = RandomFloats(n, n + 1);
      Misaligned out(std::vector<float>(n), 1 + n % 3);
      std::vector<float> ref(n);
      Multiply(a.data(), b.data(), out.ptr, n);
      MultiplyReference(a.data(), b.data(), ref.data(), n);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(out.ptr[i], ref[i]) << target;
    }
  });
}

TEST(ActivationTest, DropoutMaskKeepsTheRateAndScales) {
  const size_t n = 100000;
  std::vector<float> mask(n), again(n), other(n);
  DropoutMask(mask.data(), n, 0.25f, 42);
  DropoutMask(again.data(), n, 0.25f, 42);
  DropoutMask(other.data(), n, 0.25f, 43);
  EXPECT_EQ(mask, again);  // a function of (seed, index) only
  EXPECT_NE(mask, other);
  size_t zeros = 0;
  for (float m : mask) {
    if (m == 0.0f) {
      ++zeros;
    } else {
      ASSERT_FLOAT_EQ(m, 1.0f / 0.75f);
    }
  }
  // 25% dropped, within 5 standard deviations (sd = 137).
  EXPECT_NEAR(static_cast<double>(zeros), 25000.0, 700.0);
  DropoutMask(mask.data(), n, 0.0f, 1);
  for (float m : mask) ASSERT_EQ(m, 1.0f);
}

TEST(ActivationTest, BiasBackwardMatchesReference) {
  ForEachTarget([](const char* target) {
    for (size_t rows : {1, 7, 64, 300}) {
      for (size_t n : {1, 10, 33, 128, 70000}) {
        const auto g = RandomFloats(rows * n, rows + n);
        Misaligned gm(g, 2);
        std::vector<float> db(n), ref(n);
        BiasBackward(gm.ptr, rows, n, db.data());
        BiasBackwardReference(g.data(), rows, n, ref.data());
        for (size_t j = 0; j < n; ++j) {
          ASSERT_NEAR(db[j], ref[j], testing::Tolerance(rows, rows / 2.0f))
              << target;
        }
        std::vector<float> dc(rows), refc(rows);
        ChannelBiasBackward(gm.ptr, rows, n, dc.data());
        ChannelBiasBackwardReference(g.data(), rows, n, refc.data());
        for (size_t c = 0; c < rows; ++c) {
          ASSERT_NEAR(dc[c], refc[c], testing::Tolerance(n / 8.0f + 8, n / 2.0f))
              << target << " rows=" << rows << " n=" << n;
        }
      }
    }
  });
}

TEST(ActivationTest, ReluForwardBackwardMatchReference) {
  ForEachTarget([](const char* target) {
    for (size_t n : {0, 1, 15, 16, 17, 100, 100000}) {
      const auto x = RandomFloats(n, n + 1);
      const auto dy = RandomFloats(n, n + 2);
      Misaligned xm(x, 1), dym(dy, 3);
      std::vector<float> y(n), ref(n), dx(n), dref(n);
      ReluForward(xm.ptr, y.data(), n);
      ReluForwardReference(x.data(), ref.data(), n);
      ASSERT_EQ(y, ref) << target;
      ReluBackward(y.data(), dym.ptr, dx.data(), n);
      ReluBackwardReference(ref.data(), dy.data(), dref.data(), n);
      ASSERT_EQ(dx, dref) << target;
    }
  });
}

TEST(ActivationTest, ReluBackwardMatchesFiniteDifferences) {
  // L = sum r_i relu(x_i); dL/dx_i = r_i [x_i > 0]. Inputs kept away from 0.
  const size_t n = 37;
  auto x = RandomFloats(n, 11);
  for (float& v : x) v += v >= 0 ? 0.1f : -0.1f;
  const auto r = RandomFloats(n, 12);
  std::vector<float> y(n), dx(n);
  ReluForward(x.data(), y.data(), n);
  ReluBackward(y.data(), r.data(), dx.data(), n);
  auto loss = [&]() {
    std::vector<float> yy(n);
    ReluForward(x.data(), yy.data(), n);
    return testing::WeightedSum(r, yy.data());
  };
  testing::ExpectFiniteDifferences(x, dx, loss, 1e-2f, 1e-3, "relu");
}

// L = sum r * (x + bias) over (rows, n) or (channels, len): dL/dbias is what
// BiasBackward / ChannelBiasBackward compute from dout = r.
TEST(ActivationTest, BiasBackwardsMatchFiniteDifferences) {
  const size_t rows = 5, n = 19;
  const auto x = RandomFloats(rows * n, 31);
  const auto r = RandomFloats(rows * n, 32);
  struct Case {
    const char* name;
    size_t bias_size;
    void (*forward)(float*, const float*, size_t, size_t, bool);
    void (*backward)(const float*, size_t, size_t, float*);
  } cases[] = {{"BiasBackward", n, BiasForward, BiasBackward},
               {"ChannelBiasBackward", rows, ChannelBiasForward,
                ChannelBiasBackward}};
  for (const Case& c : cases) {
    auto bias = RandomFloats(c.bias_size, 33);
    std::vector<float> db(c.bias_size);
    c.backward(r.data(), rows, n, db.data());
    auto loss = [&]() {
      std::vector<float> y = x;
      c.forward(y.data(), bias.data(), rows, n, /*relu=*/false);
      return testing::WeightedSum(r, y.data());
    };
    testing::ExpectFiniteDifferences(bias, db, loss, 1e-2f, 1e-3, c.name);
  }
}

}  // namespace
}  // namespace trainbus::kernels
