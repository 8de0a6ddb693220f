// Argmax: vector max over the row, then the first lane equal to it.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/reduce.cc"
#include <cstddef>
#include <cstdint>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/reduce.h"

HWY_BEFORE_NAMESPACE();
namespace trainbus::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

static int32_t ArgmaxRow(const float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  if (n == 0) return -1;
  float best = x[0];
  size_t j = 0;
  if (n >= N) {
    auto vmax = hn::LoadU(d, x);
    for (j = N; j + N <= n; j += N) vmax = hn::Max(vmax, hn::LoadU(d, x + j));
    best = hn::GetLane(hn::MaxOfLanes(d, vmax));
  }
  for (; j < n; ++j) best = x[j] > best ? x[j] : best;
  // First index holding the maximum (NaN rows fall through to 0).
  const auto vb = hn::Set(d, best);
  j = 0;
  for (; j + N <= n; j += N) {
    const intptr_t lane = hn::FindFirstTrue(d, hn::Eq(hn::LoadU(d, x + j), vb));
    if (lane >= 0) return static_cast<int32_t>(j + static_cast<size_t>(lane));
  }
  for (; j < n; ++j) {
    if (x[j] == best) return static_cast<int32_t>(j);
  }
  return 0;
}

void ArgmaxRowsImpl(const float* x, size_t rows, size_t n, int32_t* out) {
  for (size_t i = 0; i < rows; ++i) out[i] = ArgmaxRow(x + i * n, n);
}

size_t CountCorrectImpl(const float* x, const int32_t* labels, size_t rows,
                        size_t n) {
  size_t correct = 0;
  for (size_t i = 0; i < rows; ++i) correct += ArgmaxRow(x + i * n, n) == labels[i];
  return correct;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace trainbus::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace trainbus::kernels {

HWY_EXPORT(ArgmaxRowsImpl);
HWY_EXPORT(CountCorrectImpl);

void ArgmaxRows(const float* x, size_t rows, size_t n, int32_t* out) {
  HWY_DYNAMIC_DISPATCH(ArgmaxRowsImpl)(x, rows, n, out);
}

size_t CountCorrect(const float* x, const int32_t* labels, size_t rows,
                    size_t n) {
  return HWY_DYNAMIC_DISPATCH(CountCorrectImpl)(x, labels, rows, n);
}

void ArgmaxRowsReference(const float* x, size_t rows, size_t n, int32_t* out) {
  for (size_t i = 0; i < rows; ++i) {
    int32_t best = n == 0 ? -1 : 0;
    for (size_t j = 1; j < n; ++j) {
      if (x[i * n + j] > x[i * n + best]) best = static_cast<int32_t>(j);
    }
    out[i] = best;
  }
}

}  // namespace trainbus::kernels
#endif  // HWY_ONCE
