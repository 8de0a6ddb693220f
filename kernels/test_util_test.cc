// ForEachTarget must notice a check that never reaches a dispatched kernel,
// and report every target it ran.
#include "kernels/test_util.h"

#include <string>
#include <vector>

#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "kernels/reduce.h"

namespace trainbus::kernels {
namespace {

TEST(ForEachTargetTest, RunsAndReportsEveryTarget) {
  std::vector<std::string> seen;
  const auto ran = testing::ForEachTarget([&](const char* target) {
    seen.push_back(target);
    const float x[3] = {0.0f, 2.0f, 1.0f};
    int32_t out = -1;
    ArgmaxRows(x, 1, 3, &out);  // dynamically dispatched
    EXPECT_EQ(out, 1) << target;
  });
  EXPECT_EQ(ran, seen);
  EXPECT_EQ(ran, testing::ExpectedTargets());
  // The baseline and at least one SIMD target on any x86-64 CI machine.
  EXPECT_GE(ran.size(), 2u);
}

TEST(ForEachTargetTest, FailsWhenTheCheckDispatchesNothing) {
  ::testing::TestPartResultArray failures;
  std::vector<std::string> ran;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::
            INTERCEPT_ONLY_CURRENT_THREAD,
        &failures);
    ran = testing::ForEachTarget([](const char*) {});
  }
  ASSERT_EQ(static_cast<size_t>(failures.size()), ran.size());
  for (int i = 0; i < failures.size(); ++i) {
    EXPECT_NE(std::string(failures.GetTestPartResult(i).message())
                  .find("no HWY_DYNAMIC_DISPATCH call under " + ran[i]),
              std::string::npos)
        << failures.GetTestPartResult(i).message();
  }
}

TEST(WithThreadsTest, RunsInAnArenaOfThatSize) {
  for (int threads : testing::kThreadCounts) {
    int seen = 0;
    testing::WithThreads(threads, [&] {
      seen = tbb::this_task_arena::max_concurrency();
    });
    EXPECT_EQ(seen, threads);
  }
}

// Reads one float through a volatile pointer, so the compiler keeps it.
float ReadAt(const float* p) { return *static_cast<const volatile float*>(p); }

TEST(GuardPagesTest, DataIsCopiedAndTheFloatPastItFaults) {
  const std::vector<float> v = {1, 2, 3, 4, 5};
  testing::GuardPages pages(testing::Guard::kAfter);
  testing::Misaligned m(v, 3);
  EXPECT_EQ(std::vector<float>(m.ptr, m.ptr + v.size()), v);
  EXPECT_DEATH(ReadAt(m.ptr + v.size()), "");
}

TEST(GuardPagesTest, TheFloatBeforeTheDataFaults) {
  const std::vector<float> v = {1, 2, 3};
  testing::GuardPages pages(testing::Guard::kBefore);
  testing::Misaligned m(v, 3);
  EXPECT_EQ(std::vector<float>(m.ptr, m.ptr + v.size()), v);
  EXPECT_DEATH(ReadAt(m.ptr - 1), "");
}

TEST(GuardPagesTest, ScopeRestoresThePlacement) {
  const testing::Guard outer = testing::GuardMode();
  {
    testing::GuardPages pages(testing::Guard::kBefore);
    EXPECT_EQ(testing::GuardMode(), testing::Guard::kBefore);
  }
  EXPECT_EQ(testing::GuardMode(), outer);
}

}  // namespace
}  // namespace trainbus::kernels
