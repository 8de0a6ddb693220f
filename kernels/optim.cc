// Optimizer steps: one streaming pass over w, g (and state); memory-bound,
// so TBB splits only arrays of >= 64 Ki floats.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/optim.cc"
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/optim.h"
#include "kernels/random.h"
#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/parallel_for.h"

HWY_BEFORE_NAMESPACE();
namespace trainbus::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void SgdImpl(float* HWY_RESTRICT w, const float* HWY_RESTRICT g, size_t n,
             float lr, float wd) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vlr = hn::Set(d, -lr);
  const auto vwd = hn::Set(d, wd);
  size_t i = 0;
  if (wd == 0.0f) {
    for (; i + N <= n; i += N) {
      hn::StoreU(hn::MulAdd(vlr, hn::LoadU(d, g + i), hn::LoadU(d, w + i)), d,
                 w + i);
    }
  } else {
    for (; i + N <= n; i += N) {
      const auto wv = hn::LoadU(d, w + i);
      const auto gv = hn::MulAdd(vwd, wv, hn::LoadU(d, g + i));
      hn::StoreU(hn::MulAdd(vlr, gv, wv), d, w + i);
    }
  }
  for (; i < n; ++i) {
    const float gi = wd == 0.0f ? g[i] : std::fma(wd, w[i], g[i]);
    w[i] = std::fma(-lr, gi, w[i]);
  }
}

void OuterStepImpl(float* HWY_RESTRICT w, size_t r0, size_t r1, size_t cols,
                   const float* HWY_RESTRICT dout, const float* HWY_RESTRICT x,
                   float lr) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t r = r0; r < r1; ++r) {
    if (dout[r] == 0.0f) continue;
    const float coef = -lr * dout[r];
    const auto vc = hn::Set(d, coef);
    float* row = w + r * cols;
    size_t j = 0;
    for (; j + 2 * N <= cols; j += 2 * N) {
      hn::StoreU(hn::MulAdd(vc, hn::LoadU(d, x + j), hn::LoadU(d, row + j)), d,
                 row + j);
      hn::StoreU(hn::MulAdd(vc, hn::LoadU(d, x + j + N),
                            hn::LoadU(d, row + j + N)),
                 d, row + j + N);
    }
    for (; j + N <= cols; j += N) {
      hn::StoreU(hn::MulAdd(vc, hn::LoadU(d, x + j), hn::LoadU(d, row + j)), d,
                 row + j);
    }
    for (; j < cols; ++j) row[j] = std::fma(coef, x[j], row[j]);
  }
}

void MomentumImpl(float* HWY_RESTRICT w, const float* HWY_RESTRICT g,
                  float* HWY_RESTRICT vel, size_t n, float lr, float mu,
                  float wd) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vlr = hn::Set(d, -lr);
  const auto vmu = hn::Set(d, mu);
  const auto vwd = hn::Set(d, wd);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto wv = hn::LoadU(d, w + i);
    const auto gv = hn::MulAdd(vwd, wv, hn::LoadU(d, g + i));
    const auto v = hn::MulAdd(vmu, hn::LoadU(d, vel + i), gv);
    hn::StoreU(v, d, vel + i);
    hn::StoreU(hn::MulAdd(vlr, v, wv), d, w + i);
  }
  for (; i < n; ++i) {
    const float gi = std::fma(wd, w[i], g[i]);
    vel[i] = std::fma(mu, vel[i], gi);
    w[i] = std::fma(-lr, vel[i], w[i]);
  }
}

void AdamImpl(float* HWY_RESTRICT w, const float* HWY_RESTRICT g,
              float* HWY_RESTRICT m, float* HWY_RESTRICT v, size_t n,
              float step_size, float inv_sqrt_bc2, const AdamParams& p) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto b1 = hn::Set(d, p.beta1), c1 = hn::Set(d, 1.0f - p.beta1);
  const auto b2 = hn::Set(d, p.beta2), c2 = hn::Set(d, 1.0f - p.beta2);
  const auto vwd = hn::Set(d, p.weight_decay);
  const auto veps = hn::Set(d, p.epsilon);
  const auto vbc = hn::Set(d, inv_sqrt_bc2);
  const auto vstep = hn::Set(d, -step_size);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto wv = hn::LoadU(d, w + i);
    const auto gv = hn::MulAdd(vwd, wv, hn::LoadU(d, g + i));
    const auto mv = hn::MulAdd(b1, hn::LoadU(d, m + i), hn::Mul(c1, gv));
    const auto vv =
        hn::MulAdd(b2, hn::LoadU(d, v + i), hn::Mul(c2, hn::Mul(gv, gv)));
    hn::StoreU(mv, d, m + i);
    hn::StoreU(vv, d, v + i);
    const auto denom = hn::MulAdd(hn::Sqrt(vv), vbc, veps);
    hn::StoreU(hn::MulAdd(vstep, hn::Div(mv, denom), wv), d, w + i);
  }
  for (; i < n; ++i) {
    const float gi = std::fma(p.weight_decay, w[i], g[i]);
    m[i] = std::fma(p.beta1, m[i], (1.0f - p.beta1) * gi);
    v[i] = std::fma(p.beta2, v[i], (1.0f - p.beta2) * (gi * gi));
    const float denom = std::fma(std::sqrt(v[i]), inv_sqrt_bc2, p.epsilon);
    w[i] = std::fma(-step_size, m[i] / denom, w[i]);
  }
}

// avg += alpha * (w - avg)
void AverageImpl(float* HWY_RESTRICT avg, const float* HWY_RESTRICT w,
                 size_t n, float alpha) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto va = hn::Set(d, alpha);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto av = hn::LoadU(d, avg + i);
    hn::StoreU(hn::MulAdd(va, hn::Sub(hn::LoadU(d, w + i), av), av), d,
               avg + i);
  }
  for (; i < n; ++i) avg[i] = std::fma(alpha, w[i] - avg[i], avg[i]);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace trainbus::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace trainbus::kernels {

HWY_EXPORT(SgdImpl);
HWY_EXPORT(MomentumImpl);
HWY_EXPORT(AdamImpl);
HWY_EXPORT(OuterStepImpl);
HWY_EXPORT(AverageImpl);

namespace {
constexpr size_t kParallelFloats = size_t{1} << 16;
constexpr size_t kChunk = size_t{1} << 14;

template <class Body>
void Chunks(size_t n, const Body& body) {
  if (n < kParallelFloats) return body(0, n);
  tbb::parallel_for(tbb::blocked_range<size_t>(0, (n + kChunk - 1) / kChunk),
                    [&](const tbb::blocked_range<size_t>& r) {
                      const size_t s = r.begin() * kChunk;
                      body(s, std::min(n, r.end() * kChunk) - s);
                    });
}


}  // namespace

void SgdStep(float* w, const float* g, size_t n, float lr,
             float weight_decay) {
  Chunks(n, [&](size_t s, size_t len) {
    HWY_DYNAMIC_DISPATCH(SgdImpl)(w + s, g + s, len, lr, weight_decay);
  });
}

void SgdOuterProductStep(float* w, size_t rows, size_t cols, const float* dout,
                         const float* x, float lr) {
  if (rows * cols < kParallelFloats * 4 || rows < 2) {
    return HWY_DYNAMIC_DISPATCH(OuterStepImpl)(w, 0, rows, cols, dout, x, lr);
  }
  tbb::parallel_for(tbb::blocked_range<size_t>(0, rows, 8),
                    [&](const tbb::blocked_range<size_t>& r) {
                      HWY_DYNAMIC_DISPATCH(OuterStepImpl)(w, r.begin(), r.end(),
                                                          cols, dout, x, lr);
                    });
}

void SgdOuterProductStepReference(float* w, size_t rows, size_t cols,
                                  const float* dout, const float* x, float lr) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < cols; ++j) w[r * cols + j] -= lr * dout[r] * x[j];
  }
}

void MomentumStep(float* w, const float* g, float* velocity, size_t n,
                  float lr, float momentum, float weight_decay) {
  Chunks(n, [&](size_t s, size_t len) {
    HWY_DYNAMIC_DISPATCH(MomentumImpl)(w + s, g + s, velocity + s, len, lr,
                                       momentum, weight_decay);
  });
}

namespace {
void AdamScalars(const AdamParams& p, uint64_t step, float* step_size,
                 float* inv_sqrt_bc2) {
  const double t = static_cast<double>(step == 0 ? 1 : step);
  const double bc1 = 1.0 - std::pow(double{p.beta1}, t);
  const double bc2 = 1.0 - std::pow(double{p.beta2}, t);
  *step_size = static_cast<float>(p.lr / bc1);
  *inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
}
}  // namespace

void AdamStep(float* w, const float* g, float* m, float* v, size_t n,
              const AdamParams& p, uint64_t step) {
  float step_size, inv_sqrt_bc2;
  AdamScalars(p, step, &step_size, &inv_sqrt_bc2);
  Chunks(n, [&](size_t s, size_t len) {
    HWY_DYNAMIC_DISPATCH(AdamImpl)(w + s, g + s, m + s, v + s, len, step_size,
                                   inv_sqrt_bc2, p);
  });
}

void AverageStep(float* avg, const float* w, size_t n, float alpha) {
  Chunks(n, [&](size_t s, size_t len) {
    HWY_DYNAMIC_DISPATCH(AverageImpl)(avg + s, w + s, len, alpha);
  });
}

void AverageStepReference(float* avg, const float* w, size_t n, float alpha) {
  for (size_t i = 0; i < n; ++i) avg[i] += alpha * (w[i] - avg[i]);
}

void SgdStepReference(float* w, const float* g, size_t n, float lr,
                      float weight_decay) {
  for (size_t i = 0; i < n; ++i) w[i] -= lr * (g[i] + weight_decay * w[i]);
}

void MomentumStepReference(float* w, const float* g, float* velocity, size_t n,
                           float lr, float momentum, float weight_decay) {
  for (size_t i = 0; i < n; ++i) {
    velocity[i] = momentum * velocity[i] + g[i] + weight_decay * w[i];
    w[i] -= lr * velocity[i];
  }
}

void AdamStepReference(float* w, const float* g, float* m, float* v, size_t n,
                       const AdamParams& p, uint64_t step) {
  const double t = static_cast<double>(step == 0 ? 1 : step);
  const double bc1 = 1.0 - std::pow(double{p.beta1}, t);
  const double bc2 = 1.0 - std::pow(double{p.beta2}, t);
  for (size_t i = 0; i < n; ++i) {
    const double gi = double{g[i]} + double{p.weight_decay} * w[i];
    m[i] = static_cast<float>(p.beta1 * double{m[i]} + (1.0 - p.beta1) * gi);
    v[i] = static_cast<float>(p.beta2 * double{v[i]} + (1.0 - p.beta2) * gi * gi);
    const double denom = std::sqrt(double{v[i]}) / std::sqrt(bc2) + p.epsilon;
    w[i] = static_cast<float>(w[i] - p.lr / bc1 * m[i] / denom);
  }
}

void HeNormalInit(float* w, size_t n, size_t fan_in, uint64_t seed) {
  SplitMix64 rng{seed};
  const double stddev = std::sqrt(2.0 / static_cast<double>(std::max<size_t>(fan_in, 1)));
  // Box-Muller, two normals per pair of uniforms.
  for (size_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(rng.Uniform()));
    const double theta = 2.0 * M_PI * rng.Uniform();
    w[i] = static_cast<float>(stddev * r * std::cos(theta));
    if (i + 1 < n) w[i + 1] = static_cast<float>(stddev * r * std::sin(theta));
  }
}

void XavierUniformInit(float* w, size_t n, size_t fan_in, size_t fan_out,
                       uint64_t seed) {
  SplitMix64 rng{seed};
  const double a =
      std::sqrt(6.0 / static_cast<double>(std::max<size_t>(fan_in + fan_out, 1)));
  for (size_t i = 0; i < n; ++i) {
    w[i] = static_cast<float>(a * (2.0 * rng.Uniform() - 1.0));
  }
}

}  // namespace trainbus::kernels
#endif  // HWY_ONCE
