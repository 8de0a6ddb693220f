// Convolution by im2col + GEMM. The GEMMs carry >95% of the flops and are
// threaded and deterministic; im2col/col2im are copies, threaded over rows
// (forward) or input channels (backward, so no two tasks add into the same
// input element and the sum order is fixed).
#include "kernels/conv.h"

#include <algorithm>
#include <cstring>

#include "kernels/activation.h"
#include "kernels/gemm.h"
#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/parallel_for.h"

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

void Im2Col(const ConvShape& s, const float* in, float* col) {
  const size_t oh = s.OutHeight(), ow = s.OutWidth();
  const size_t k = s.kernel;
  const size_t cols = s.ColCols();
  Over(s.ColRows(), cols, [&](size_t r0, size_t r1) {
    for (size_t row = r0; row < r1; ++row) {
      const size_t c = row / (k * k);
      const size_t kh = (row / k) % k;
      const size_t kw = row % k;
      float* dst = col + row * cols;
      for (size_t b = 0; b < s.batch; ++b) {
        const float* plane = in + (c * s.batch + b) * s.height * s.width;
        for (size_t y = 0; y < oh; ++y) {
          std::memcpy(dst, plane + (y + kh) * s.width + kw, ow * sizeof(float));
          dst += ow;
        }
      }
    }
  });
}

void Col2Im(const ConvShape& s, const float* col, float* din) {
  const size_t oh = s.OutHeight(), ow = s.OutWidth();
  const size_t k = s.kernel;
  const size_t cols = s.ColCols();
  const size_t plane_size = s.height * s.width;
  Over(s.channels, s.batch * plane_size * k * k, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      float* chan = din + c * s.batch * plane_size;
      std::memset(chan, 0, s.batch * plane_size * sizeof(float));
      for (size_t kh = 0; kh < k; ++kh) {
        for (size_t kw = 0; kw < k; ++kw) {
          const float* src = col + ((c * k + kh) * k + kw) * cols;
          for (size_t b = 0; b < s.batch; ++b) {
            float* plane = chan + b * plane_size;
            for (size_t y = 0; y < oh; ++y) {
              float* dst = plane + (y + kh) * s.width + kw;
              for (size_t x = 0; x < ow; ++x) dst[x] += src[x];
              src += ow;
            }
          }
        }
      }
    }
  });
}

void Conv2dForward(const ConvShape& s, const float* in, const float* weight,
                   const float* bias, float* out, float* col) {
  Im2Col(s, in, col);
  const size_t kk = s.ColRows(), cols = s.ColCols();
  // out (OC, cols) = weight (OC, kk) * col (kk, cols)
  Gemm(Transpose::kNo, Transpose::kNo, s.out_channels, cols, kk, 1.0f, weight,
       kk, col, cols, 0.0f, out, cols);
  ChannelBiasForward(out, bias, s.out_channels, cols, /*relu=*/false);
}

void Conv2dBackward(const ConvShape& s, const float* col, const float* weight,
                    const float* dout, float* dweight, float* dbias,
                    float* din, float* dcol) {
  const size_t kk = s.ColRows(), cols = s.ColCols();
  // dweight (OC, kk) = dout (OC, cols) * col^T (cols, kk)
  Gemm(Transpose::kNo, Transpose::kYes, s.out_channels, kk, cols, 1.0f, dout,
       cols, col, cols, 0.0f, dweight, kk);
  ChannelBiasBackward(dout, s.out_channels, cols, dbias);
  if (din == nullptr) return;
  // dcol (kk, cols) = weight^T (kk, OC) * dout (OC, cols)
  Gemm(Transpose::kYes, Transpose::kNo, kk, cols, s.out_channels, 1.0f,
       weight, kk, dout, cols, 0.0f, dcol, cols);
  Col2Im(s, dcol, din);
}

void Conv2dForwardReference(const ConvShape& s, const float* in,
                            const float* weight, const float* bias,
                            float* out) {
  const size_t oh = s.OutHeight(), ow = s.OutWidth(), k = s.kernel;
  for (size_t o = 0; o < s.out_channels; ++o) {
    for (size_t b = 0; b < s.batch; ++b) {
      for (size_t y = 0; y < oh; ++y) {
        for (size_t x = 0; x < ow; ++x) {
          double sum = bias[o];
          for (size_t c = 0; c < s.channels; ++c) {
            for (size_t kh = 0; kh < k; ++kh) {
              for (size_t kw = 0; kw < k; ++kw) {
                sum += double{weight[((o * s.channels + c) * k + kh) * k + kw]} *
                       in[((c * s.batch + b) * s.height + y + kh) * s.width +
                          x + kw];
              }
            }
          }
          out[((o * s.batch + b) * oh + y) * ow + x] = static_cast<float>(sum);
        }
      }
    }
  }
}

void Conv2dBackwardReference(const ConvShape& s, const float* in,
                             const float* weight, const float* dout,
                             float* dweight, float* dbias, float* din) {
  const size_t oh = s.OutHeight(), ow = s.OutWidth(), k = s.kernel;
  for (size_t i = 0; i < s.WeightSize(); ++i) dweight[i] = 0.0f;
  for (size_t o = 0; o < s.out_channels; ++o) dbias[o] = 0.0f;
  if (din != nullptr) {
    for (size_t i = 0; i < s.InSize(); ++i) din[i] = 0.0f;
  }
  for (size_t o = 0; o < s.out_channels; ++o) {
    for (size_t b = 0; b < s.batch; ++b) {
      for (size_t y = 0; y < oh; ++y) {
        for (size_t x = 0; x < ow; ++x) {
          const float g = dout[((o * s.batch + b) * oh + y) * ow + x];
          dbias[o] += g;
          for (size_t c = 0; c < s.channels; ++c) {
            for (size_t kh = 0; kh < k; ++kh) {
              for (size_t kw = 0; kw < k; ++kw) {
                const size_t wi = ((o * s.channels + c) * k + kh) * k + kw;
                const size_t ii =
                    ((c * s.batch + b) * s.height + y + kh) * s.width + x + kw;
                dweight[wi] += g * in[ii];
                if (din != nullptr) din[ii] += g * weight[wi];
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace trainbus::kernels
