// Test helpers shared by the kernel tests: run a check on every Highway target
// compiled into the binary and supported by this CPU, or under several thread
// counts; random and misaligned data, optionally against guard pages
// (GuardPages: out-of-bounds reads fault every time); the relative tolerance
// k * eps * max(|ref|, 1).
//
//   ForEachTarget([&](const char* target) { ... EXPECT_...() << target; });
//   for (int threads : kThreadCounts) {
//     WithThreads(threads, [&] { ... });
//   }
#ifndef TRAINBUS_KERNELS_TEST_UTIL_H_
#define TRAINBUS_KERNELS_TEST_UTIL_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "oneapi/tbb/global_control.h"
#include "oneapi/tbb/task_arena.h"

namespace trainbus::kernels::testing {

// Calls fn(target_name) once per compiled and supported target, with dynamic
// dispatch pinned to that target, and returns the names of the targets that
// ran (also logged, and recorded as the test property "targets"). Fails the
// test if the pin did not hold or if fn made no dynamically dispatched call,
// since then the target loop tested nothing.
template <class Fn>
std::vector<std::string> ForEachTarget(const Fn& fn) {
  std::vector<std::string> ran;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);  // also resets the dispatch cache
    fn(hwy::TargetName(target));
    EXPECT_TRUE(hwy::GetChosenTarget().IsInitialized())
        << "no HWY_DYNAMIC_DISPATCH call under " << hwy::TargetName(target);
    EXPECT_EQ(hwy::SupportedTargets() & HWY_TARGETS, target)
        << "dispatch was not pinned to " << hwy::TargetName(target);
    ran.push_back(hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
  std::string names;
  for (const std::string& n : ran) names += (names.empty() ? "" : " ") + n;
  std::printf("[ targets  ] %s\n", names.c_str());
  ::testing::Test::RecordProperty("targets", names);
  return ran;
}

// Every target compiled in and supported here, by name: what ForEachTarget
// must have run.
inline std::vector<std::string> ExpectedTargets() {
  std::vector<std::string> names;
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    names.push_back(hwy::TargetName(t));
  }
  return names;
}

// Thread counts for determinism tests: more than the 2 cores CI has, so that
// chunks land on threads in more ways.
inline constexpr int kThreadCounts[] = {1, 2, 3, 4};

// Runs fn in an arena of exactly `threads` threads.
template <class Fn>
void WithThreads(int threads, const Fn& fn) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            threads);
  tbb::task_arena arena(threads);
  arena.execute([&] {
    EXPECT_EQ(tbb::this_task_arena::max_concurrency(), threads);
    fn();
  });
}

// Deterministic uniform floats in [lo, hi) (splitmix64).
inline std::vector<float> RandomFloats(size_t n, uint64_t seed, float lo = -1,
                                       float hi = 1) {
  std::vector<float> v(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    s += 0x9E3779B97F4A7C15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) / static_cast<float>(1 << 24);
    v[i] = lo + (hi - lo) * u;
  }
  return v;
}

inline float Tolerance(float k, float ref) {
  return k * std::numeric_limits<float>::epsilon() *
         std::fmax(std::fabs(ref), 1.0f);
}

// Checks grad against central differences of loss() in every element of
// param (changed and restored in turn): (L(p + h) - L(p - h)) / 2h.
template <class Loss>
void ExpectFiniteDifferences(std::vector<float>& param,
                             const std::vector<float>& grad, const Loss& loss,
                             float h, double tolerance, const char* what) {
  ASSERT_EQ(param.size(), grad.size()) << what;
  for (size_t i = 0; i < param.size(); ++i) {
    const float saved = param[i];
    param[i] = saved + h;
    const double plus = loss();
    param[i] = saved - h;
    const double minus = loss();
    param[i] = saved;
    EXPECT_NEAR(grad[i], (plus - minus) / (2 * h), tolerance) << what << " " << i;
  }
}

// sum r[i] * y[i] in double: the loss whose gradient in y is r.
inline double WeightedSum(const std::vector<float>& r, const float* y) {
  double sum = 0;
  for (size_t i = 0; i < r.size(); ++i) sum += double{r[i]} * y[i];
  return sum;
}

// Where Misaligned places its buffers: in ordinary heap memory, or against a
// PROT_NONE guard page so that reading even one float outside the data
// faults (SIGSEGV) every time instead of depending on the heap layout.
enum class Guard {
  kNone,    // heap, `offset` floats into the buffer, slack after the data
  kAfter,   // the data ends exactly where a guard page starts
  kBefore,  // the data starts exactly where a guard page ends
};

// The current placement: GuardPages scopes change it; it starts as the
// environment variable TRAINBUS_GUARD_PAGES says ("after" or "before"; else
// kNone), so any kernel test can be rerun with guards without a code change:
//   TRAINBUS_GUARD_PAGES=after bazel-bin/kernels/conv_test
inline Guard& GuardMode() {
  static Guard mode = [] {
    const char* env = std::getenv("TRAINBUS_GUARD_PAGES");
    const std::string value = env == nullptr ? "" : env;
    if (value == "after") return Guard::kAfter;
    if (value == "before") return Guard::kBefore;
    return Guard::kNone;
  }();
  return mode;
}

// While alive, every Misaligned created (on any thread) is placed as `guard`
// says; `offset` is then ignored: the guard fixes the data's position.
//
//   for (Guard g : {Guard::kAfter, Guard::kBefore}) {
//     GuardPages guard(g);
//     CheckSomething(...);  // makes its buffers with Misaligned
//   }
class GuardPages {
 public:
  explicit GuardPages(Guard guard) : saved_(GuardMode()) { GuardMode() = guard; }
  ~GuardPages() { GuardMode() = saved_; }
  GuardPages(const GuardPages&) = delete;
  GuardPages& operator=(const GuardPages&) = delete;

 private:
  Guard saved_;
};

// A copy of `v`: by default starting `offset` floats into a fresh buffer, so
// that the data is misaligned relative to vector boundaries when
// offset % 16 != 0; under GuardPages, right against a guard page.
class Misaligned {
 public:
  Misaligned(const std::vector<float>& v, size_t offset) {
    const Guard guard = GuardMode();
    if (guard == Guard::kNone) {
      storage_.resize(v.size() + offset + 16);
      ptr = storage_.data() + offset;
    } else {
      ptr = MapGuarded(v.size(), guard);
    }
    for (size_t i = 0; i < v.size(); ++i) ptr[i] = v[i];
  }
  ~Misaligned() {
    if (map_ != nullptr) munmap(map_, map_bytes_);
  }
  // ptr points into this object's memory: a copy would point into the
  // original.
  Misaligned(const Misaligned&) = delete;
  Misaligned& operator=(const Misaligned&) = delete;

  float* ptr;

 private:
  // Maps the pages for n floats plus one guard page, makes the guard
  // PROT_NONE and returns where the data goes.
  float* MapGuarded(size_t n, Guard guard) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = n * sizeof(float);
    const size_t data_pages = (bytes + page - 1) / page;
    map_bytes_ = (data_pages + 1) * page;
    void* map = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
      std::fprintf(stderr, "Misaligned: mmap of %zu bytes failed: %s\n",
                   map_bytes_, std::strerror(errno));
      std::abort();
    }
    map_ = static_cast<char*>(map);
    char* guard_page = guard == Guard::kAfter ? map_ + data_pages * page : map_;
    if (mprotect(guard_page, page, PROT_NONE) != 0) {
      std::fprintf(stderr, "Misaligned: mprotect of the guard page failed: %s\n",
                   std::strerror(errno));
      std::abort();
    }
    char* data = guard == Guard::kAfter ? guard_page - bytes : map_ + page;
    return reinterpret_cast<float*>(data);
  }

  std::vector<float> storage_;
  char* map_ = nullptr;
  size_t map_bytes_ = 0;
};

}  // namespace trainbus::kernels::testing

#endif  // TRAINBUS_KERNELS_TEST_UTIL_H_
