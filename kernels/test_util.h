// Test helpers shared by the kernel tests: run a check on every Highway target
// compiled into the binary and supported by this CPU, random data, and the
// relative tolerance k * eps * max(|ref|, 1).
//
//   ForEachTarget([&](const char* target) { ... EXPECT_...() << target; });
#ifndef TRAINBUS_KERNELS_TEST_UTIL_H_
#define TRAINBUS_KERNELS_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "hwy/targets.h"

namespace trainbus::kernels::testing {

// Calls fn(target_name) once per compiled and supported target, with dynamic
// dispatch pinned to that target.
template <class Fn>
void ForEachTarget(const Fn& fn) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    fn(hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
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

// A copy of `v` starting `offset` floats into a fresh buffer, so that the data
// is misaligned relative to vector boundaries when offset % 16 != 0.
struct Misaligned {
  Misaligned(const std::vector<float>& v, size_t offset)
      : storage(v.size() + offset + 16), ptr(storage.data() + offset) {
    for (size_t i = 0; i < v.size(); ++i) ptr[i] = v[i];
  }
  std::vector<float> storage;
  float* ptr;
};

}  // namespace trainbus::kernels::testing

#endif  // TRAINBUS_KERNELS_TEST_UTIL_H_
