// Element-wise layer ops. Memory-bound: one pass, full vectors plus a scalar
// tail; TBB only for arrays big enough (>= 64 Ki floats) to beat fork/join.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activation.cc"
#include <algorithm>
#include <cstddef>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/activation.h"
#include "kernels/random.h"
#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/parallel_for.h"

HWY_BEFORE_NAMESPACE();
namespace trainbus::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// x[j] = (relu ? max : id)(x[j] + b[j]) with b a vector or a broadcast.
static HWY_INLINE void AddRow(float* HWY_RESTRICT x,
                              const float* HWY_RESTRICT b, float scalar_b,
                              size_t n, bool relu) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto zero = hn::Zero(d);
  const auto vs = hn::Set(d, scalar_b);
  size_t j = 0;
  for (; j + N <= n; j += N) {
    auto v = hn::Add(hn::LoadU(d, x + j), b ? hn::LoadU(d, b + j) : vs);
    if (relu) v = hn::Max(zero, v);  // x86 max returns operand 2 for NaN
    hn::StoreU(v, d, x + j);
  }
  for (; j < n; ++j) {
    const float v = x[j] + (b ? b[j] : scalar_b);
    x[j] = relu ? std::max(v, 0.0f) : v;
  }
}

void BiasRowsImpl(float* x, const float* bias, size_t r0, size_t r1, size_t n,
                  bool relu) {
  for (size_t i = r0; i < r1; ++i) AddRow(x + i * n, bias, 0.0f, n, relu);
}

void ChannelBiasImpl(float* x, const float* bias, size_t c0, size_t c1,
                     size_t len, bool relu) {
  for (size_t c = c0; c < c1; ++c) {
    AddRow(x + c * len, nullptr, bias[c], len, relu);
  }
}

// dbias[j0, j1) = column sums, rows in order (deterministic).
void ColumnSumImpl(const float* dout, size_t rows, size_t n, size_t j0,
                   size_t j1, float* dbias) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t j = j0;
  for (; j + N <= j1; j += N) {
    auto s = hn::Zero(d);
    for (size_t i = 0; i < rows; ++i) s = hn::Add(s, hn::LoadU(d, dout + i * n + j));
    hn::StoreU(s, d, dbias + j);
  }
  for (; j < j1; ++j) {
    float s = 0.0f;
    for (size_t i = 0; i < rows; ++i) s += dout[i * n + j];
    dbias[j] = s;
  }
}

void RowSumImpl(const float* dout, size_t c0, size_t c1, size_t len,
                float* dbias) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t c = c0; c < c1; ++c) {
    const float* row = dout + c * len;
    auto s0 = hn::Zero(d), s1 = hn::Zero(d);
    size_t j = 0;
    for (; j + 2 * N <= len; j += 2 * N) {
      s0 = hn::Add(s0, hn::LoadU(d, row + j));
      s1 = hn::Add(s1, hn::LoadU(d, row + j + N));
    }
    for (; j + N <= len; j += N) s0 = hn::Add(s0, hn::LoadU(d, row + j));
    float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
    for (; j < len; ++j) s += row[j];
    dbias[c] = s;
  }
}

void ReluForwardImpl(const float* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto zero = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Max(zero, hn::LoadU(d, x + i)), d, y + i);
  for (; i < n; ++i) y[i] = std::max(x[i], 0.0f);
}

void ReluBackwardImpl(const float* y, const float* dy, float* dx, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto zero = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto mask = hn::Gt(hn::LoadU(d, y + i), zero);
    hn::StoreU(hn::IfThenElseZero(mask, hn::LoadU(d, dy + i)), d, dx + i);
  }
  for (; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void MultiplyImpl(const float* a, const float* b, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::Mul(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  }
  for (; i < n; ++i) out[i] = a[i] * b[i];
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace trainbus::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace trainbus::kernels {

HWY_EXPORT(BiasRowsImpl);
HWY_EXPORT(ChannelBiasImpl);
HWY_EXPORT(ColumnSumImpl);
HWY_EXPORT(RowSumImpl);
HWY_EXPORT(ReluForwardImpl);
HWY_EXPORT(ReluBackwardImpl);
HWY_EXPORT(MultiplyImpl);

namespace {
constexpr size_t kParallelFloats = size_t{1} << 16;
constexpr size_t kChunk = size_t{1} << 14;  // floats per task

// Runs body(begin, end) over [0, count) units of `unit` floats each, in
// parallel only when the total is large.
template <class Body>
void Split(size_t count, size_t unit, const Body& body) {
  if (count * unit < kParallelFloats || count < 2) return body(0, count);
  const size_t grain = std::max<size_t>(1, kChunk / std::max<size_t>(unit, 1));
  tbb::parallel_for(tbb::blocked_range<size_t>(0, count, grain),
                    [&](const tbb::blocked_range<size_t>& r) {
                      body(r.begin(), r.end());
                    });
}
}  // namespace

void BiasForward(float* x, const float* bias, size_t rows, size_t n,
                 bool relu) {
  Split(rows, n, [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(BiasRowsImpl)(x, bias, r0, r1, n, relu);
  });
}

void ChannelBiasForward(float* x, const float* bias, size_t channels,
                        size_t len, bool relu) {
  Split(channels, len, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(ChannelBiasImpl)(x, bias, c0, c1, len, relu);
  });
}

void BiasBackward(const float* dout, size_t rows, size_t n, float* dbias) {
  HWY_DYNAMIC_DISPATCH(ColumnSumImpl)(dout, rows, n, 0, n, dbias);
}

void ChannelBiasBackward(const float* dout, size_t channels, size_t len,
                         float* dbias) {
  Split(channels, len, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(RowSumImpl)(dout, c0, c1, len, dbias);
  });
}

void ReluForward(const float* x, float* y, size_t n) {
  Split((n + kChunk - 1) / kChunk, kChunk, [&](size_t b0, size_t b1) {
    const size_t e = std::min(n, b1 * kChunk);
    HWY_DYNAMIC_DISPATCH(ReluForwardImpl)(x + b0 * kChunk, y + b0 * kChunk,
                                          e - b0 * kChunk);
  });
}

void ReluBackward(const float* y, const float* dy, float* dx, size_t n) {
  Split((n + kChunk - 1) / kChunk, kChunk, [&](size_t b0, size_t b1) {
    const size_t s = b0 * kChunk;
    const size_t e = std::min(n, b1 * kChunk);
    HWY_DYNAMIC_DISPATCH(ReluBackwardImpl)(y + s, dy + s, dx + s, e - s);
  });
}

void DropoutMask(float* mask, size_t n, float rate, uint64_t seed) {
  const float keep = 1.0f / (1.0f - rate);
  for (size_t i = 0; i < n; ++i) {
    mask[i] = UnitInterval(Mix64(seed + i)) < rate ? 0.0f : keep;
  }
}

void Multiply(const float* a, const float* b, float* out, size_t n) {
  Split((n + kChunk - 1) / kChunk, kChunk, [&](size_t b0, size_t b1) {
    const size_t s = b0 * kChunk;
    const size_t e = std::min(n, b1 * kChunk);
    HWY_DYNAMIC_DISPATCH(MultiplyImpl)(a + s, b + s, out + s, e - s);
  });
}

void MultiplyReference(const float* a, const float* b, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void BiasForwardReference(float* x, const float* bias, size_t rows, size_t n,
                          bool relu) {
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const float v = x[i * n + j] + bias[j];
      x[i * n + j] = relu && v < 0.0f ? 0.0f : v;
    }
  }
}

void ChannelBiasForwardReference(float* x, const float* bias, size_t channels,
                                 size_t len, bool relu) {
  for (size_t c = 0; c < channels; ++c) {
    for (size_t j = 0; j < len; ++j) {
      const float v = x[c * len + j] + bias[c];
      x[c * len + j] = relu && v < 0.0f ? 0.0f : v;
    }
  }
}

void BiasBackwardReference(const float* dout, size_t rows, size_t n,
                           float* dbias) {
  for (size_t j = 0; j < n; ++j) {
    double s = 0.0;
    for (size_t i = 0; i < rows; ++i) s += dout[i * n + j];
    dbias[j] = static_cast<float>(s);
  }
}

void ChannelBiasBackwardReference(const float* dout, size_t channels,
                                  size_t len, float* dbias) {
  for (size_t c = 0; c < channels; ++c) {
    double s = 0.0;
    for (size_t j = 0; j < len; ++j) s += dout[c * len + j];
    dbias[c] = static_cast<float>(s);
  }
}

void ReluForwardReference(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ReluBackwardReference(const float* y, const float* dy, float* dx,
                           size_t n) {
  for (size_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace trainbus::kernels
#endif  // HWY_ONCE
