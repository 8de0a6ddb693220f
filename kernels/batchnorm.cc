// Batch normalisation. Each row (channel) is independent, so TBB splits
// rows and the result does not depend on the thread count. Sums run in
// float vectors over blocks of 1024 values, and the block sums add up in
// double: rows are up to B*H*W = 50k long, where one float accumulator per
// lane would lose about 3 digits.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/batchnorm.cc"
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/batchnorm.h"
#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/parallel_for.h"

HWY_BEFORE_NAMESPACE();
namespace trainbus::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr size_t kBlock = 1024;

// Two sums over a row of n values: vec(j, &a, &b) adds vector j's terms to
// the float accumulators, tail(j, &s, &t) adds scalar j's to the doubles.
template <class Vec, class Tail>
static HWY_INLINE void BlockSums(size_t n, const Vec& vec, const Tail& tail,
                                 double* sum0, double* sum1) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  double s = 0, t = 0;
  size_t j = 0;
  while (j + N <= n) {
    const size_t end = std::min(n, j + kBlock);
    auto a = hn::Zero(d), b = hn::Zero(d);
    for (; j + N <= end; j += N) vec(j, &a, &b);
    s += hn::GetLane(hn::SumOfLanes(d, a));
    t += hn::GetLane(hn::SumOfLanes(d, b));
  }
  for (; j < n; ++j) tail(j, &s, &t);
  *sum0 = s;
  *sum1 = t;
}

// sum (x - shift) and sum (x - shift)^2 of one row.
static void RowMoments(const float* HWY_RESTRICT x, size_t n, float shift,
                       double* sum, double* sq) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const V vshift = hn::Set(d, shift);
  BlockSums(
      n,
      [&](size_t j, V* a, V* b) HWY_ATTR {
        const V v = hn::Sub(hn::LoadU(d, x + j), vshift);
        *a = hn::Add(*a, v);
        *b = hn::MulAdd(v, v, *b);
      },
      [&](size_t j, double* s, double* t) {
        const double v = double{x[j]} - shift;
        *s += v;
        *t += v * v;
      },
      sum, sq);
}

void StatisticsImpl(const float* x, size_t c0, size_t c1, size_t n, float eps,
                    float* mean, float* var, float* inv_std) {
  for (size_t c = c0; c < c1; ++c) {
    const float* row = x + c * n;
    double sum = 0, sq = 0;
    RowMoments(row, n, 0.0f, &sum, &sq);
    const float m = static_cast<float>(sum / static_cast<double>(n));
    // Second pass about the mean: no cancellation for large means.
    RowMoments(row, n, m, &sum, &sq);
    const double v = std::max(0.0, sq / n - (sum / n) * (sum / n));
    mean[c] = m;
    var[c] = static_cast<float>(v);
    inv_std[c] = static_cast<float>(1.0 / std::sqrt(v + double{eps}));
  }
}

void ForwardImpl(const float* x, size_t c0, size_t c1, size_t n,
                 const float* mean, const float* inv_std, const float* gamma,
                 const float* beta, bool relu, float* y) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto zero = hn::Zero(d);
  for (size_t c = c0; c < c1; ++c) {
    // Centre first: folding the mean into the shift would cancel digits
    // when |mean| is large against the spread.
    const float scale = gamma[c] * inv_std[c];
    const auto vscale = hn::Set(d, scale), vbeta = hn::Set(d, beta[c]);
    const auto vmean = hn::Set(d, mean[c]);
    const float* xr = x + c * n;
    float* yr = y + c * n;
    size_t j = 0;
    for (; j + N <= n; j += N) {
      auto v = hn::MulAdd(hn::Sub(hn::LoadU(d, xr + j), vmean), vscale, vbeta);
      if (relu) v = hn::Max(zero, v);
      hn::StoreU(v, d, yr + j);
    }
    for (; j < n; ++j) {
      const float v = (xr[j] - mean[c]) * scale + beta[c];
      yr[j] = relu ? std::max(v, 0.0f) : v;
    }
  }
}

// The upstream gradient of one vector: dy, or zero where y <= 0 with relu.
template <class D, class V>
static HWY_INLINE V Upstream(D d, const float* HWY_RESTRICT y,
                             const float* HWY_RESTRICT dy, size_t j,
                             bool relu) {
  const V g = hn::LoadU(d, dy + j);
  if (!relu) return g;
  return hn::IfThenElseZero(hn::Gt(hn::LoadU(d, y + j), hn::Zero(d)), g);
}

// sum g and sum g * (x - mean) of one row.
static void BackwardSums(const float* HWY_RESTRICT x,
                         const float* HWY_RESTRICT y,
                         const float* HWY_RESTRICT dy, size_t n, float mean,
                         bool relu, double* sum_g, double* sum_gx) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const V vmean = hn::Set(d, mean);
  BlockSums(
      n,
      [&](size_t j, V* a, V* b) HWY_ATTR {
        const V g = Upstream<decltype(d), V>(d, y, dy, j, relu);
        *a = hn::Add(*a, g);
        *b = hn::MulAdd(g, hn::Sub(hn::LoadU(d, x + j), vmean), *b);
      },
      [&](size_t j, double* s, double* t) {
        const float g = relu && !(y[j] > 0.0f) ? 0.0f : dy[j];
        *s += g;
        *t += double{g} * (double{x[j]} - mean);
      },
      sum_g, sum_gx);
}

void BackwardImpl(const float* x, const float* y, const float* dy, size_t c0,
                  size_t c1, size_t n, const float* mean, const float* inv_std,
                  const float* gamma, bool relu, float* dx, float* dgamma,
                  float* dbeta) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  for (size_t c = c0; c < c1; ++c) {
    const float* xr = x + c * n;
    const float* yr = y + c * n;
    const float* dyr = dy + c * n;
    double sum_g = 0, sum_gx = 0;
    BackwardSums(xr, yr, dyr, n, mean[c], relu, &sum_g, &sum_gx);
    const double is = inv_std[c];
    dbeta[c] = static_cast<float>(sum_g);
    dgamma[c] = static_cast<float>(sum_gx * is);
    if (dx == nullptr) continue;
    // dx = a * (g - sum_g / n - xhat * sum(g * xhat) / n), a = gamma * is,
    // xhat = (x - mean) * is: dx = a * g + k * (x - mean) + b.
    const double a = double{gamma[c]} * is;
    const float fa = static_cast<float>(a);
    const float fb = static_cast<float>(-a * sum_g / n);
    const float fk = static_cast<float>(-a * is * is * sum_gx / n);
    const float m = mean[c];
    const auto va = hn::Set(d, fa), vb = hn::Set(d, fb), vk = hn::Set(d, fk);
    const auto vm = hn::Set(d, m);
    float* dxr = dx + c * n;
    size_t j = 0;
    for (; j + N <= n; j += N) {
      const V g = Upstream<decltype(d), V>(d, yr, dyr, j, relu);
      const auto centred = hn::Sub(hn::LoadU(d, xr + j), vm);
      hn::StoreU(hn::MulAdd(va, g, hn::MulAdd(vk, centred, vb)), d, dxr + j);
    }
    for (; j < n; ++j) {
      const float g = relu && !(yr[j] > 0.0f) ? 0.0f : dyr[j];
      dxr[j] = fa * g + (fk * (xr[j] - m) + fb);
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace trainbus::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace trainbus::kernels {

HWY_EXPORT(StatisticsImpl);
HWY_EXPORT(ForwardImpl);
HWY_EXPORT(BackwardImpl);

namespace {

// Rows in parallel when the whole is worth a fork/join (>= 64 Ki floats).
template <class Fn>
void ForRows(size_t channels, size_t n, const Fn& fn) {
  if (channels * n < (size_t{1} << 16) || channels == 1) {
    fn(0, channels);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<size_t>(0, channels),
                    [&](const tbb::blocked_range<size_t>& r) {
                      fn(r.begin(), r.end());
                    });
}

}  // namespace

void BatchNormStatistics(const float* x, size_t channels, size_t n, float eps,
                         float* mean, float* var, float* inv_std) {
  if (n == 0) return;
  ForRows(channels, n, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(StatisticsImpl)(x, c0, c1, n, eps, mean, var,
                                         inv_std);
  });
}

void BatchNormForward(const float* x, size_t channels, size_t n,
                      const float* mean, const float* inv_std,
                      const float* gamma, const float* beta, bool relu,
                      float* y) {
  ForRows(channels, n, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(ForwardImpl)(x, c0, c1, n, mean, inv_std, gamma,
                                      beta, relu, y);
  });
}

void BatchNormBackward(const float* x, const float* y, const float* dy,
                       size_t channels, size_t n, const float* mean,
                       const float* inv_std, const float* gamma, bool relu,
                       float* dx, float* dgamma, float* dbeta) {
  if (n == 0) return;
  ForRows(channels, n, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(BackwardImpl)(x, y, dy, c0, c1, n, mean, inv_std,
                                       gamma, relu, dx, dgamma, dbeta);
  });
}

void BatchNormUpdateRunning(const float* mean, const float* var,
                            size_t channels, size_t n, float momentum,
                            float* running_mean, float* running_var) {
  const float unbias = n > 1 ? static_cast<float>(n) / (n - 1) : 1.0f;
  for (size_t c = 0; c < channels; ++c) {
    running_mean[c] += momentum * (mean[c] - running_mean[c]);
    running_var[c] += momentum * (var[c] * unbias - running_var[c]);
  }
}

void BatchNormStatisticsReference(const float* x, size_t channels, size_t n,
                                  float eps, float* mean, float* var,
                                  float* inv_std) {
  for (size_t c = 0; c < channels; ++c) {
    double s = 0;
    for (size_t j = 0; j < n; ++j) s += x[c * n + j];
    const double m = s / n;
    double s2 = 0;
    for (size_t j = 0; j < n; ++j) {
      s2 += (x[c * n + j] - m) * (x[c * n + j] - m);
    }
    mean[c] = static_cast<float>(m);
    var[c] = static_cast<float>(s2 / n);
    inv_std[c] = static_cast<float>(1.0 / std::sqrt(s2 / n + eps));
  }
}

void BatchNormForwardReference(const float* x, size_t channels, size_t n,
                               const float* mean, const float* inv_std,
                               const float* gamma, const float* beta,
                               bool relu, float* y) {
  for (size_t c = 0; c < channels; ++c) {
    for (size_t j = 0; j < n; ++j) {
      const double v = double{gamma[c]} * (double{x[c * n + j]} - mean[c]) *
                           inv_std[c] +
                       beta[c];
      y[c * n + j] = static_cast<float>(relu ? std::max(v, 0.0) : v);
    }
  }
}

void BatchNormBackwardReference(const float* x, const float* y,
                                const float* dy, size_t channels, size_t n,
                                const float* mean, const float* inv_std,
                                const float* gamma, bool relu, float* dx,
                                float* dgamma, float* dbeta) {
  for (size_t c = 0; c < channels; ++c) {
    double sg = 0, sgx = 0;
    for (size_t j = 0; j < n; ++j) {
      const size_t i = c * n + j;
      const double g = relu && !(y[i] > 0.0f) ? 0.0 : dy[i];
      sg += g;
      sgx += g * (double{x[i]} - mean[c]) * inv_std[c];
    }
    dbeta[c] = static_cast<float>(sg);
    dgamma[c] = static_cast<float>(sgx);
    if (dx == nullptr) continue;
    for (size_t j = 0; j < n; ++j) {
      const size_t i = c * n + j;
      const double g = relu && !(y[i] > 0.0f) ? 0.0 : dy[i];
      const double xhat = (double{x[i]} - mean[c]) * inv_std[c];
      dx[i] = static_cast<float>(double{gamma[c]} * inv_std[c] *
                                 (g - sg / n - xhat * sgx / n));
    }
  }
}

}  // namespace trainbus::kernels
#endif  // HWY_ONCE
