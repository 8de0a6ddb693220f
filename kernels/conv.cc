// Convolution: the method rule, the passes by either method, and im2col +
// GEMM. With im2col the GEMMs carry >95% of the flops and are threaded and
// deterministic; im2col/col2im are copies, threaded over rows
// (forward) or input channels (backward, so no two tasks add into the same
// input element and the sum order is fixed). Their rows are short (OW = 24
// or 8 floats here), so the per-target copy/add uses 8-lane vectors where a
// 16-lane one would not fit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/conv.cc"
#include <algorithm>
#include <cstring>
#include <vector>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/conv_direct.h"
#include "kernels/gemm.h"
#include "kernels/scratch.h"
#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/parallel_for.h"

HWY_BEFORE_NAMESPACE();
namespace trainbus::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

static HWY_INLINE void CopyRow(float* HWY_RESTRICT dst,
                               const float* HWY_RESTRICT src, size_t n) {
  const hn::CappedTag<float, 8> d;
  const size_t N = hn::Lanes(d);
  size_t x = 0;
  for (; x + N <= n; x += N) hn::StoreU(hn::LoadU(d, src + x), d, dst + x);
  for (; x < n; ++x) dst[x] = src[x];
}

static HWY_INLINE void AddRow(float* HWY_RESTRICT dst,
                              const float* HWY_RESTRICT src, size_t n) {
  const hn::CappedTag<float, 8> d;
  const size_t N = hn::Lanes(d);
  size_t x = 0;
  for (; x + N <= n; x += N) {
    hn::StoreU(hn::Add(hn::LoadU(d, dst + x), hn::LoadU(d, src + x)), d,
               dst + x);
  }
  for (; x < n; ++x) dst[x] += src[x];
}

// Output columns x in [lo, hi) read input column x + kw - pad inside the
// plane; the others read padding.
static HWY_INLINE void ValidColumns(const ConvShape& s, size_t kw, size_t* lo,
                                    size_t* hi) {
  const size_t ow = s.OutWidth();
  *lo = std::min(ow, s.pad > kw ? s.pad - kw : 0);
  const size_t end = s.width + s.pad > kw ? s.width + s.pad - kw : 0;
  *hi = std::max(*lo, std::min(ow, end));
}

void Im2ColRows(const ConvShape& s, const float* in, float* col, size_t r0,
                size_t r1) {
  const size_t oh = s.OutHeight(), ow = s.OutWidth();
  const size_t k = s.kernel;
  const size_t cols = s.ColStride();
  for (size_t row = r0; row < r1; ++row) {
    const size_t c = row / (k * k);
    const size_t kh = (row / k) % k;
    const size_t kw = row % k;
    size_t lo, hi;
    ValidColumns(s, kw, &lo, &hi);
    float* dst = col + row * cols;
    for (size_t b = 0; b < s.batch; ++b) {
      const float* plane =
          in + (c * s.TotalBatch() + s.batch_begin + b) * s.height * s.width;
      for (size_t y = 0; y < oh; ++y) {
        const size_t iy = y + kh;  // row in the padded plane
        if (s.pad == 0) {
          CopyRow(dst, plane + iy * s.width + kw, ow);
        } else if (iy < s.pad || iy >= s.height + s.pad) {
          std::fill(dst, dst + ow, 0.0f);
        } else {
          std::fill(dst, dst + lo, 0.0f);
          CopyRow(dst + lo, plane + (iy - s.pad) * s.width + lo + kw - s.pad,
                  hi - lo);
          std::fill(dst + hi, dst + ow, 0.0f);
        }
        dst += ow;
      }
    }
  }
}

void Col2ImChannels(const ConvShape& s, const float* col, float* din,
                    size_t c0, size_t c1) {
  const size_t oh = s.OutHeight(), ow = s.OutWidth();
  const size_t k = s.kernel;
  const size_t cols = s.ColStride();
  const size_t plane_size = s.height * s.width;
  for (size_t c = c0; c < c1; ++c) {
    float* chan = din + (c * s.TotalBatch() + s.batch_begin) * plane_size;
    std::memset(chan, 0, s.batch * plane_size * sizeof(float));
    for (size_t kh = 0; kh < k; ++kh) {
      for (size_t kw = 0; kw < k; ++kw) {
        const float* src = col + ((c * k + kh) * k + kw) * cols;
        size_t lo, hi;
        ValidColumns(s, kw, &lo, &hi);
        for (size_t b = 0; b < s.batch; ++b) {
          float* plane = chan + b * plane_size;
          for (size_t y = 0; y < oh; ++y) {
            const size_t iy = y + kh;
            if (s.pad == 0) {
              AddRow(plane + iy * s.width + kw, src, ow);
            } else if (iy >= s.pad && iy < s.height + s.pad) {
              AddRow(plane + (iy - s.pad) * s.width + lo + kw - s.pad,
                     src + lo, hi - lo);
            }
            src += ow;
          }
        }
      }
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace trainbus::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace trainbus::kernels {
namespace {

constexpr size_t kParallelFloats = size_t{1} << 16;

template <class Body>
void Over(size_t count, size_t unit, const Body& body) {
  if (count * unit < kParallelFloats || count < 2) return body(0, count);
  tbb::parallel_for(tbb::blocked_range<size_t>(0, count),
                    [&](const tbb::blocked_range<size_t>& r) {
                      body(r.begin(), r.end());
                    });
}

}  // namespace

HWY_EXPORT(Im2ColRows);
HWY_EXPORT(Col2ImChannels);

void Im2Col(const ConvShape& s, const float* in, float* col) {
  Over(s.ColRows(), s.ColCols(), [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(Im2ColRows)(s, in, col, r0, r1);
  });
}

void Col2Im(const ConvShape& s, const float* col, float* din) {
  const size_t k = s.kernel;
  Over(s.channels, s.batch * s.height * s.width * k * k,
       [&](size_t c0, size_t c1) {
         HWY_DYNAMIC_DISPATCH(Col2ImChannels)(s, col, din, c0, c1);
       });
}

const char* ConvMethodName(ConvMethod method) {
  return method == ConvMethod::kDirect ? "direct" : "im2col";
}

ConvMethods ChooseConvMethods(const ConvShape& s) {
  ConvMethods m{ConvMethod::kDirect, ConvMethod::kIm2col,
                ConvMethod::kDirect};
  // Backward data is a forward convolution over dout padded by K - 1 - pad:
  // it multiplies zeros unless the output is about the input's size, and
  // its 4-channel blocks idle on a 1-3 channel input.
  const size_t in_pixels = s.height * s.width;
  const size_t out_pixels = s.OutHeight() * s.OutWidth();
  if (s.pad < s.kernel && s.channels >= 4 && 4 * in_pixels <= 5 * out_pixels) {
    m.backward_data = ConvMethod::kDirect;
  }
  // With one input channel and output rows that are not whole 8-float
  // vectors, the direct kernel first copies dout into padded rows: a pass
  // as long as the K*K multiply-adds per element it then saves.
  if (s.channels == 1 && s.OutWidth() % 8 != 0) {
    m.backward_weights = ConvMethod::kIm2col;
  }
  return m;
}

namespace {

// im2col matrices stay under 1 MiB (half of L2): im2col, the GEMMs and
// col2im then run out of L2 instead of streaming a 3-4 MiB matrix through
// memory several times. Chunks depend on the shape only.
constexpr size_t kColFloats = size_t{1} << 18;

size_t ImagesPerChunk(const ConvShape& s) {
  const size_t per_image = s.ColRows() * s.OutHeight() * s.OutWidth();
  return std::max<size_t>(1, kColFloats / std::max<size_t>(per_image, 1));
}

// Calls body(chunk shape, first image, col scratch) for each batch chunk.
template <class Body>
void ForEachChunk(const ConvShape& s, const Body& body) {
  const size_t chunk = ImagesPerChunk(s);
  ConvShape c = s;
  c.batch = std::min(chunk, s.batch);
  c.batch_total = s.batch;
  ScratchBuffer col(c.ColSize());
  for (size_t b0 = 0; b0 < s.batch; b0 += chunk) {
    c.batch = std::min(chunk, s.batch - b0);
    c.batch_begin = b0;
    body(c, b0, col.data());
  }
}

void Im2colForward(const ConvShape& s, const float* in, const float* weight,
                   float* out) {
  const size_t ohw = s.OutHeight() * s.OutWidth(), ldo = s.batch * ohw;
  ForEachChunk(s, [&](const ConvShape& c, size_t b0, float* col) {
    Im2Col(c, in, col);
    // out[:, chunk] (OC, cols) = weight (OC, kk) * col (kk, cols)
    Gemm(Transpose::kNo, Transpose::kNo, c.out_channels, c.ColCols(),
         c.ColRows(), 1.0f, weight, c.ColRows(), col, c.ColStride(), 0.0f,
         out + b0 * ohw, ldo);
  });
}

void Im2colBackwardWeights(const ConvShape& s, const float* in,
                           const float* dout, float* dweight) {
  const size_t ohw = s.OutHeight() * s.OutWidth(), ldo = s.batch * ohw;
  ForEachChunk(s, [&](const ConvShape& c, size_t b0, float* col) {
    Im2Col(c, in, col);
    // dW (OC, kk) (+)= dout[:, chunk] * col^T, chunks summed in order.
    Gemm(Transpose::kNo, Transpose::kYes, c.out_channels, c.ColRows(),
         c.ColCols(), 1.0f, dout + b0 * ohw, ldo, col, c.ColStride(),
         b0 == 0 ? 0.0f : 1.0f, dweight, c.ColRows());
  });
}

void Im2colBackwardData(const ConvShape& s, const float* weight,
                        const float* dout, float* din) {
  const size_t ohw = s.OutHeight() * s.OutWidth(), ldo = s.batch * ohw;
  ForEachChunk(s, [&](const ConvShape& c, size_t b0, float* dcol) {
    // dcol (kk, cols) = W^T (kk, OC) * dout[:, chunk] (OC, cols)
    Gemm(Transpose::kYes, Transpose::kNo, c.ColRows(), c.ColCols(),
         c.out_channels, 1.0f, weight, c.ColRows(), dout + b0 * ohw, ldo,
         0.0f, dcol, c.ColStride());
    Col2Im(c, dcol, din);
  });
}

}  // namespace

size_t ConvScratchFloats(const ConvShape& s) {
  ConvShape chunk = s;
  chunk.batch = std::min(s.batch, ImagesPerChunk(s));
  // Direct backward weights: padded copies of the input and dout (rows at
  // most a vector and the kernel's reach wider) and per-chunk partial sums.
  const size_t wide = 16 + s.kernel;
  const size_t padded = s.channels * s.batch * (s.height + 2 * s.pad) *
                        (s.width + 2 * s.pad + wide);
  const size_t dout = s.out_channels * s.batch * s.OutHeight() *
                      (s.OutWidth() + wide);
  const size_t partials = (s.out_channels + 2) * s.batch * s.ColRows();
  return std::max(chunk.ColSize(), padded + dout + partials);
}

void ConvForward(const ConvShape& s, ConvMethod method, const float* in,
                 const float* weight, const float* bias, bool relu,
                 float* out) {
  if (method == ConvMethod::kDirect) {
    return DirectConvForward(s, in, weight, bias, relu, out);
  }
  Im2colForward(s, in, weight, out);
  ChannelBiasForward(out, bias, s.out_channels, s.batch * s.OutHeight() *
                     s.OutWidth(), relu);
}

void ConvBackwardData(const ConvShape& s, ConvMethod method,
                      const float* weight, const float* dout, float* din) {
  if (method == ConvMethod::kDirect && s.pad < s.kernel) {
    return DirectConvBackwardData(s, weight, dout, din);
  }
  Im2colBackwardData(s, weight, dout, din);
}

void ConvBackwardWeights(const ConvShape& s, ConvMethod method,
                         const float* in, const float* dout, float* dweight) {
  if (s.batch == 0) {  // no images: no chunk would write the sum
    std::fill(dweight, dweight + s.WeightSize(), 0.0f);
    return;
  }
  if (method == ConvMethod::kDirect) {
    return DirectConvBackwardWeights(s, in, dout, dweight);
  }
  Im2colBackwardWeights(s, in, dout, dweight);
}

// The direct loops: calls tap(out_index, weight_index, in_index) for every
// output pixel and every kernel tap that reads inside the input (padding
// reads zero, so it contributes nothing), outputs in order.
template <class Tap>
static void ForEachTap(const ConvShape& s, const Tap& tap) {
  const size_t oh = s.OutHeight(), ow = s.OutWidth(), k = s.kernel;
  for (size_t o = 0; o < s.out_channels; ++o) {
    for (size_t b = 0; b < s.batch; ++b) {
      for (size_t y = 0; y < oh; ++y) {
        for (size_t x = 0; x < ow; ++x) {
          const size_t oi = ((o * s.batch + b) * oh + y) * ow + x;
          for (size_t c = 0; c < s.channels; ++c) {
            for (size_t kh = 0; kh < k; ++kh) {
              for (size_t kw = 0; kw < k; ++kw) {
                // Input (y + kh - pad, x + kw - pad).
                if (y + kh < s.pad || x + kw < s.pad) continue;
                const size_t iy = y + kh - s.pad, ix = x + kw - s.pad;
                if (iy >= s.height || ix >= s.width) continue;
                tap(oi, ((o * s.channels + c) * k + kh) * k + kw,
                    ((c * s.batch + b) * s.height + iy) * s.width + ix);
              }
            }
          }
        }
      }
    }
  }
}

void Conv2dForwardReference(const ConvShape& s, const float* in,
                            const float* weight, const float* bias,
                            float* out) {
  // Double sums, one per output (taps of an output arrive together).
  std::vector<double> sum(s.OutSize());
  const size_t plane = s.batch * s.OutHeight() * s.OutWidth();
  for (size_t i = 0; i < sum.size(); ++i) sum[i] = bias[i / plane];
  ForEachTap(s, [&](size_t oi, size_t wi, size_t ii) {
    sum[oi] += double{weight[wi]} * in[ii];
  });
  for (size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<float>(sum[i]);
}

void Conv2dBackwardReference(const ConvShape& s, const float* in,
                             const float* weight, const float* dout,
                             float* dweight, float* dbias, float* din) {
  for (size_t i = 0; i < s.WeightSize(); ++i) dweight[i] = 0.0f;
  const size_t plane = s.batch * s.OutHeight() * s.OutWidth();
  for (size_t o = 0; o < s.out_channels; ++o) {
    dbias[o] = 0.0f;
    for (size_t i = 0; i < plane; ++i) dbias[o] += dout[o * plane + i];
  }
  if (din != nullptr) {
    for (size_t i = 0; i < s.InSize(); ++i) din[i] = 0.0f;
  }
  ForEachTap(s, [&](size_t oi, size_t wi, size_t ii) {
    dweight[wi] += dout[oi] * in[ii];
    if (din != nullptr) din[ii] += dout[oi] * weight[wi];
  });
}

}  // namespace trainbus::kernels
#endif  // HWY_ONCE
