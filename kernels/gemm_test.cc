#include "kernels/gemm.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu.h"
#include "kernels/gemm_config.h"
#include "kernels/test_util.h"

namespace trainbus::kernels {
namespace {

using testing::ForEachTarget;
using testing::Misaligned;
using testing::RandomFloats;

struct Case {
  size_t m, n, k;
};

// Checks C = alpha op(A) op(B) + beta C against the double reference with an
// error bound that grows with the sum of |a*b| terms.
void CheckGemm(Transpose ta, Transpose tb, Case s, float alpha, float beta,
               size_t offset, bool serial, const char* target) {
  const size_t lda = (ta == Transpose::kYes ? s.m : s.k) + offset % 3;
  const size_t ldb = (tb == Transpose::kYes ? s.k : s.n) + offset % 2;
  const size_t ldc = s.n + offset % 5;
  const size_t a_rows = ta == Transpose::kYes ? s.k : s.m;
  const size_t b_rows = tb == Transpose::kYes ? s.n : s.k;
  Misaligned a(RandomFloats(a_rows * lda, 1 + s.m), offset);
  Misaligned b(RandomFloats(b_rows * ldb, 2 + s.n), offset + 1);
  std::vector<float> c0 = RandomFloats(s.m * ldc, 3 + s.k);
  Misaligned c(c0, offset + 2);
  std::vector<float> ref = c0;
  if (beta == 0.0f) {  // beta == 0 must not read C: poison it.
    for (size_t i = 0; i < s.m * ldc; ++i) c.ptr[i] = std::nanf("");
  }
  GemmReference(ta, tb, s.m, s.n, s.k, alpha, a.ptr, lda, b.ptr, ldb, beta,
                ref.data(), ldc);
  if (serial) {
    GemmSerial(ta, tb, s.m, s.n, s.k, alpha, a.ptr, lda, b.ptr, ldb, beta,
               c.ptr, ldc);
  } else {
    Gemm(ta, tb, s.m, s.n, s.k, alpha, a.ptr, lda, b.ptr, ldb, beta, c.ptr,
         ldc);
  }
  // Bound: (k + 2) eps * sum |alpha a b| + |beta c|; rounding errors of a
  // random-sign sum grow like sqrt(k), so k/4 + 8 is still a tight check.
  for (size_t i = 0; i < s.m; ++i) {
    for (size_t j = 0; j < s.n; ++j) {
      double abs_sum = 0;
      for (size_t p = 0; p < s.k; ++p) {
        const float av = ta == Transpose::kYes ? a.ptr[p * lda + i]
                                               : a.ptr[i * lda + p];
        const float bv = tb == Transpose::kYes ? b.ptr[j * ldb + p]
                                               : b.ptr[p * ldb + j];
        abs_sum += std::fabs(double{av} * bv);
      }
      abs_sum = std::fabs(alpha) * abs_sum + std::fabs(beta * c0[i * ldc + j]);
      const float tol = testing::Tolerance(static_cast<float>(s.k) / 4 + 8,
                                           static_cast<float>(abs_sum));
      ASSERT_NEAR(c.ptr[i * ldc + j], ref[i * ldc + j], tol)
          << target << " ta=" << (ta == Transpose::kYes) << " tb="
          << (tb == Transpose::kYes) << " m=" << s.m << " n=" << s.n
          << " k=" << s.k << " i=" << i << " j=" << j;
    }
    // Padding between rows is untouched.
    for (size_t j = s.n; j < ldc; ++j) {
      if (beta == 0.0f) {
        ASSERT_TRUE(std::isnan(c.ptr[i * ldc + j]));
      } else {
        ASSERT_EQ(c.ptr[i * ldc + j], c0[i * ldc + j]);
      }
    }
  }
}

void CheckOddShapes() {
  const Case cases[] = {{1, 1, 1},   {1, 17, 33},  {5, 1, 9},   {7, 3, 1},
                        {8, 32, 16}, {9, 33, 17},  {13, 47, 300},
                        {64, 10, 128}, {31, 65, 257}, {100, 70, 5}};
  ForEachTarget([&](const char* target) {
    for (const Case& s : cases) {
      for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
        for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
          CheckGemm(ta, tb, s, 1.0f, 0.0f, s.m % 7, true, target);
          CheckGemm(ta, tb, s, -0.5f, 1.0f, 3, true, target);
          CheckGemm(ta, tb, s, 2.0f, 0.25f, 1, false, target);
        }
      }
    }
  });
}

TEST(GemmTest, MatchesReferenceOnEveryTargetTransposeAndOddShape) { CheckOddShapes(); }

TEST(GemmTest, LargeParallelMatchesReference) {
  ForEachTarget([&](const char* target) {
    CheckGemm(Transpose::kNo, Transpose::kYes, {67, 130, 600}, 1.0f, 0.0f, 1,
              false, target);
    CheckGemm(Transpose::kYes, Transpose::kNo, {129, 93, 333}, 1.0f, 1.0f, 0,
              false, target);
  });
}

// Outputs at most one vector wide (the 10-class layers): every n from 1 to 17
// against odd m and k, including k tails shorter than a vector, k across the
// 512-long packing block, and misaligned operands.
void CheckNarrowOutputs() {
  const size_t ms[] = {1, 2, 3, 7, 17, 33};
  const size_t ks[] = {2, 15, 16, 33, 130, 515};
  ForEachTarget([&](const char* target) {
    for (size_t n = 1; n <= 17; ++n) {
      for (size_t mi = 0; mi < 6; ++mi) {
        const size_t m = ms[(mi + n) % 6], k = ks[mi];
        for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
          for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
            CheckGemm(ta, tb, {m, n, k}, 1.0f, 0.0f, n + mi, true, target);
            CheckGemm(ta, tb, {m, n, k}, -0.5f, 0.75f, n, true, target);
          }
        }
      }
    }
    // Narrow outputs of the MLP's shapes, threaded.
    for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
      for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
        CheckGemm(ta, tb, {64, 10, 128}, 1.0f, 0.0f, 1, false, target);
        CheckGemm(ta, tb, {70, 10, 784}, 1.0f, 0.5f, 2, false, target);
      }
    }
  });
}

TEST(GemmTest, NarrowOutputsMatchReference) { CheckNarrowOutputs(); }

// m > 128 goes through the blocked path: row blocks of 196 (m = 200), k
// blocks of 384 (k = 400), column blocks of 2048 (n = 2050), and edges of
// the 14-row x 32-column register tile on every side.
void CheckBlockedPath() {
  const Case cases[] = {{129, 33, 17}, {200, 47, 400}, {141, 2050, 3}};
  ForEachTarget([&](const char* target) {
    for (const Case& s : cases) {
      for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
        for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
          CheckGemm(ta, tb, s, 1.0f, 0.0f, 5, true, target);
          CheckGemm(ta, tb, s, 0.5f, -1.0f, 2, false, target);
        }
      }
    }
  });
}

TEST(GemmTest, BlockedPathMatchesReference) { CheckBlockedPath(); }

// The same checks with every operand ending right before a PROT_NONE page,
// then starting right after one: a read of even one float outside A, B or C
// faults here every time (on the heap it faulted only with some layouts).
TEST(GemmTest, ReadsNothingOutsideTheOperands) {
  for (testing::Guard guard : {testing::Guard::kAfter, testing::Guard::kBefore}) {
    testing::GuardPages pages(guard);
    CheckOddShapes();
    CheckNarrowOutputs();
    CheckBlockedPath();
  }
}

// Gemm on 1 to 4 threads gives GemmSerial's bits for every transpose of s.
void ExpectSameBitsOnAnyThreadCount(Case s, uint64_t seed,
                                    const std::string& what) {
  for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
    for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
      const size_t lda = ta == Transpose::kYes ? s.m : s.k;
      const size_t ldb = tb == Transpose::kYes ? s.k : s.n;
      const auto a = RandomFloats(s.m * s.k, seed);
      const auto b = RandomFloats(s.k * s.n, seed + 1);
      std::vector<float> serial(s.m * s.n), c(s.m * s.n);
      GemmSerial(ta, tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb,
                 0.0f, serial.data(), s.n);
      for (int threads : testing::kThreadCounts) {
        testing::WithThreads(threads, [&] {
          Gemm(ta, tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
               c.data(), s.n);
        });
        EXPECT_EQ(0,
                  std::memcmp(c.data(), serial.data(), c.size() * sizeof(float)))
            << what << " " << s.m << "x" << s.n << "x" << s.k << " ta="
            << (ta == Transpose::kYes) << " tb=" << (tb == Transpose::kYes)
            << " on " << threads << " threads";
      }
    }
  }
}

// Every path gives the same bits on 1 to 4 threads and in GemmSerial.
TEST(GemmTest, EveryPathBitwiseIdenticalForAnyThreadCount) {
  const Case cases[] = {{97, 10, 300},  {300, 211, 403}, {64, 128, 784},
                        {10, 784, 64},  {1, 300, 500},   {300, 200, 1},
                        {97, 211, 403}};
  for (const Case& s : cases) ExpectSameBitsOnAnyThreadCount(s, 11, "default");
}

// Every tile the target has, with blocks short enough that these shapes
// cross k-, m- and n-block edges on both the tiled path (m <= 24 in the test
// configs) and the blocked one, serial and threaded.
TEST(GemmTest, EveryConfigMatchesReference) {
  const Case cases[] = {{23, 37, 85}, {50, 101, 150}, {30, 17, 9}, {64, 40, 81}};
  ForEachTarget([&](const char* target) {
    for (const GemmConfig& config :
         GemmTestConfigs(HostCpu(), GemmVectorUnit())) {
      ScopedGemmConfig scoped(config);
      const std::string where =
          std::string(target) + " " + DescribeGemmConfig(config);
      for (const Case& s : cases) {
        for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
          for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
            CheckGemm(ta, tb, s, 1.0f, 0.0f, 1, true, where.c_str());
            CheckGemm(ta, tb, s, 0.5f, -1.0f, 2, false, where.c_str());
          }
        }
      }
    }
  });
}

// Bitwise identical on 1 to 4 threads and in GemmSerial under every config.
TEST(GemmTest, EveryConfigBitwiseIdenticalForAnyThreadCount) {
  for (const GemmConfig& config :
       GemmTestConfigs(HostCpu(), GemmVectorUnit())) {
    ScopedGemmConfig scoped(config);
    for (const Case& s : {Case{23, 37, 85}, Case{50, 101, 150}}) {
      ExpectSameBitsOnAnyThreadCount(s, 21, DescribeGemmConfig(config));
    }
  }
}

TEST(GemmTest, ConfigDescriptionNamesTargetTilesAndCpu) {
  const std::string d = GemmConfigDescription();
  EXPECT_NE(d.find(GemmTargetName()), std::string::npos) << d;
  EXPECT_NE(d.find("tile "), std::string::npos) << d;
  EXPECT_NE(d.find(UarchName(HostCpu().uarch)), std::string::npos) << d;
}

TEST(GemmTest, ZeroKScalesByBeta) {
  std::vector<float> c = {1, 2, 3, 4};
  Gemm(Transpose::kNo, Transpose::kNo, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2,
       0.5f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{0.5f, 1, 1.5f, 2}));
}

TEST(GemvTest, MatchesReferenceOnEveryTarget) {
  const size_t shapes[][2] = {{1, 1}, {3, 17}, {10, 784}, {33, 65}, {600, 700}};
  ForEachTarget([&](const char* target) {
    for (const auto& s : shapes) {
      for (Transpose t : {Transpose::kNo, Transpose::kYes}) {
        const size_t m = s[0], n = s[1];
        const size_t lda = n + 1;
        Misaligned a(RandomFloats(m * lda, m), 1);
        const size_t xn = t == Transpose::kYes ? m : n;
        const size_t yn = t == Transpose::kYes ? n : m;
        Misaligned x(RandomFloats(xn, 5), 3);
        const auto y0 = RandomFloats(yn, 6);
        Misaligned y(y0, 2);
        std::vector<float> ref = y0;
        GemvReference(t, m, n, 0.5f, a.ptr, lda, x.ptr, 2.0f, ref.data());
        Gemv(t, m, n, 0.5f, a.ptr, lda, x.ptr, 2.0f, y.ptr);
        for (size_t i = 0; i < yn; ++i) {
          ASSERT_NEAR(y.ptr[i], ref[i],
                      testing::Tolerance(xn / 4.0f + 8, xn / 2.0f))
              << target << " m=" << m << " n=" << n << " i=" << i;
        }
      }
    }
  });
}

}  // namespace
}  // namespace trainbus::kernels
