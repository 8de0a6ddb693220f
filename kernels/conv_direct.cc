// Direct convolution kernels (see conv_direct.h).
//
// Forward (and backward data, which is a forward convolution of dout): a
// register tile of 4 output channels x R row vectors (R = 3: 12
// accumulators + 3 inputs + 1 broadcast weight = the 16 AVX2 registers)
// sums over (c, kh, kw); each tap is R unaligned loads, 4 broadcasts and
// 4R FMAs. Weights are packed per 4-channel block as (tap, 4) so the
// broadcasts stream through one cache line per 4 taps. Where rows are not
// whole vectors and there are 2N output channels, tiles of 6 pixels x 2
// channel vectors (2 weight loads, 6 input broadcasts per 12 FMAs) waste no
// lanes; both tiles sum in the same order, so they give the same bits.
//
// Backward weights: a tile of M = 3 output channels x 3 taps (9
// accumulators) walks every output pixel of an L1-sized chunk of images,
// then sums its lanes in order; chunks (fixed by the shape) are summed in
// order at the end. 3x3 kernels take the three tap rows of one column and
// walk down the columns, reusing two input rows per step; other sizes take
// 3 horizontal taps.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/conv_direct.cc"
#include <algorithm>
#include <cstring>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/conv_direct.h"
#include "kernels/scratch.h"
#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/parallel_for.h"

// Plain helpers shared by every target (compiled once).
#ifndef TRAINBUS_KERNELS_CONV_DIRECT_SHARED_
#define TRAINBUS_KERNELS_CONV_DIRECT_SHARED_
namespace trainbus::kernels::direct_internal {

constexpr size_t kOcBlock = 4;     // forward tile's output channels
constexpr size_t kWeightM = 3;     // backward-weights tile's output channels
// Backward weights: floats of dout and input per image chunk (24 KiB, in L1).
constexpr size_t kChunkFloats = 6 * 1024;

inline size_t CeilDiv(size_t a, size_t b) { return (a + b - 1) / b; }

// One image's zero-padded planes: `rows` x `width`, the input at (pad, pad).
// Rows are wide enough for every vector of an output row plus the kernel's
// reach, so loads never leave the plane.
struct PadGeometry {
  size_t rows, width;
  size_t Plane() const { return rows * width; }
};

inline PadGeometry PadFor(const ConvShape& s, size_t lanes) {
  const size_t vectors = CeilDiv(s.OutWidth(), lanes);
  return {s.height + 2 * s.pad,
          std::max(s.width + 2 * s.pad, vectors * lanes + s.kernel - 1)};
}

// Valid convolutions whose rows already fit the vectors (28 -> 24 and
// 12 -> 8 with 8 lanes) read the input where it is.
inline bool NeedsCopy(const ConvShape& s, const PadGeometry& g) {
  return s.pad != 0 || g.width != s.width;
}

// Copies `count` planes of h x w floats, `stride` floats apart, into padded
// planes (zeros around), one after another.
inline void PadPlanes(const float* src, size_t count, size_t stride, size_t h,
                      size_t w, size_t pad, const PadGeometry& g, float* dst) {
  for (size_t i = 0; i < count; ++i) {
    float* p = dst + i * g.Plane();
    std::memset(p, 0, g.Plane() * sizeof(float));
    for (size_t y = 0; y < h; ++y) {
      std::memcpy(p + (y + pad) * g.width + pad, src + i * stride + y * w,
                  w * sizeof(float));
    }
  }
}

// Weights as (ceil(out/block), in*K*K, block), zeros past `out`. flip: the
// backward-data convolution, out = C and in = OC, w'[c][oc][kh][kw] =
// w[oc][c][K-1-kh][K-1-kw].
inline void PackWeights(const float* w, size_t out, size_t in, size_t k,
                        bool flip, size_t block, float* dst) {
  const size_t taps = in * k * k;
  for (size_t o = 0; o < CeilDiv(out, block) * block; ++o) {
    for (size_t i = 0; i < in; ++i) {
      for (size_t t = 0; t < k * k; ++t) {
        float v = 0.0f;
        if (o < out && flip) {
          v = w[(i * out + o) * k * k + (k * k - 1 - t)];
        } else if (o < out) {
          v = w[(o * in + i) * k * k + t];
        }
        dst[((o / block) * taps + i * k * k + t) * block + o % block] = v;
      }
    }
  }
}

// What a backward-weights tile walks: `images` images, each `in_image`
// floats apart in the padded input (rows of in_width) and `dout_image` apart
// in the padded dout (oh rows of dout_width, a whole number of vectors,
// zero past the output's width).
struct WeightSpan {
  size_t images, in_image, in_width, dout_image, oh, dout_width;
};

// Forward tiles over output channels (two vectors of them x 6 pixels)
// instead of along rows, where rows are not whole vectors (14 or 28 wide:
// 1/8 of the row tiles' lanes idle; 1.2x on 32 -> 64 at 14x14, 0.7x on
// 8-wide rows). Their stores are lane by lane, so they need enough taps per
// output to pay for that.
inline bool UseChannelTiles(const ConvShape& s, size_t lanes) {
  return lanes > 1 && s.out_channels % (2 * lanes) == 0 &&
         s.OutWidth() % lanes != 0 && s.channels * s.kernel * s.kernel >= 64;
}

// Plane (c, b) of a (C, B, H, W) slice.
inline size_t PlaneOffset(const ConvShape& s, size_t c, size_t b,
                          size_t plane) {
  return (c * s.TotalBatch() + s.batch_begin + b) * plane;
}

}  // namespace trainbus::kernels::direct_internal
#endif  // TRAINBUS_KERNELS_CONV_DIRECT_SHARED_

HWY_BEFORE_NAMESPACE();
namespace trainbus::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace di = direct_internal;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// Where the vectors of a forward tile read and write.
struct TileSpots {
  size_t in_off[3];   // in the padded plane
  float* out[3];      // output channel 0 of the block
  size_t lanes[3];    // valid lanes (the row's tail is partial)
  bool whole[3];      // a full-vector store is safe (see ForwardImage)
};

// The first `lanes` lanes of v to p. (Masked stores are microcoded and slow
// on AMD; this is only for the plane's last vector.)
HWY_INLINE void StorePartial(V v, size_t lanes, float* p) {
  const D d;
  HWY_ALIGN float tmp[hn::MaxLanes(D())];
  hn::Store(v, d, tmp);
  for (size_t i = 0; i < lanes; ++i) p[i] = tmp[i];
}

// K: the kernel size if fixed at compile time (3, 5: the taps unroll),
// else 0 and k_any.
template <size_t R, size_t K>
HWY_INLINE void ForwardTile(const float* HWY_RESTRICT img, size_t channel,
                            const di::PadGeometry& g, size_t channels,
                            size_t k_any, const float* HWY_RESTRICT w,
                            const TileSpots& at, size_t out_stride,
                            size_t m_count, const float* bias, bool relu) {
  const D d;
  const size_t k = K != 0 ? K : k_any;
  V acc[di::kOcBlock][R];
#pragma GCC unroll 4
  for (size_t m = 0; m < di::kOcBlock; ++m) {
    const float b0 = bias != nullptr && m < m_count ? bias[m] : 0.0f;
#pragma GCC unroll 3
    for (size_t r = 0; r < R; ++r) acc[m][r] = hn::Set(d, b0);
  }
  for (size_t c = 0; c < channels; ++c) {
    const float* plane = img + c * channel;
#pragma GCC unroll 5
    for (size_t kh = 0; kh < k; ++kh) {
      const float* row = plane + kh * g.width;
#pragma GCC unroll 5
      for (size_t kw = 0; kw < k; ++kw, w += di::kOcBlock) {
        V v[R];
#pragma GCC unroll 3
        for (size_t r = 0; r < R; ++r) {
          v[r] = hn::LoadU(d, row + at.in_off[r] + kw);
        }
#pragma GCC unroll 4
        for (size_t m = 0; m < di::kOcBlock; ++m) {
          const V wm = hn::Set(d, w[m]);
#pragma GCC unroll 3
          for (size_t r = 0; r < R; ++r) {
            acc[m][r] = hn::MulAdd(wm, v[r], acc[m][r]);
          }
        }
      }
    }
  }
  const V zero = hn::Zero(d);
  for (size_t m = 0; m < m_count; ++m) {
#pragma GCC unroll 3
    for (size_t r = 0; r < R; ++r) {
      const V o = relu ? hn::Max(acc[m][r], zero) : acc[m][r];
      float* p = at.out[r] + m * out_stride;
      if (at.whole[r]) {
        hn::StoreU(o, d, p);
      } else {
        StorePartial(o, at.lanes[r], p);
      }
    }
  }
}

// P pixels (input offsets in_off, output offsets out_off in the plane) x
// two vectors of output channels: 2P accumulators, per tap 2 weight loads
// and P broadcasts for 2P FMAs. w: the block's packed weights (tap, 2N).
template <size_t P, size_t K>
HWY_INLINE void ChannelTile(const float* HWY_RESTRICT img, size_t channel,
                            size_t width, size_t channels, size_t k_any,
                            const float* HWY_RESTRICT w, const size_t* in_off,
                            const size_t* out_off, float* out0,
                            size_t out_stride, V bias0, V bias1, bool relu) {
  const D d;
  const size_t n = hn::Lanes(d);
  const size_t k = K != 0 ? K : k_any;
  V acc[P][2];
#pragma GCC unroll 6
  for (size_t p = 0; p < P; ++p) {
    acc[p][0] = bias0;
    acc[p][1] = bias1;
  }
  for (size_t c = 0; c < channels; ++c) {
    const float* plane = img + c * channel;
#pragma GCC unroll 5
    for (size_t kh = 0; kh < k; ++kh) {
      const float* row = plane + kh * width;
#pragma GCC unroll 5
      for (size_t kw = 0; kw < k; ++kw, w += 2 * n) {
        const V w0 = hn::Load(d, w), w1 = hn::Load(d, w + n);
#pragma GCC unroll 6
        for (size_t p = 0; p < P; ++p) {
          const V x = hn::Set(d, row[in_off[p] + kw]);
          acc[p][0] = hn::MulAdd(w0, x, acc[p][0]);
          acc[p][1] = hn::MulAdd(w1, x, acc[p][1]);
        }
      }
    }
  }
  const V zero = hn::Zero(d);
  HWY_ALIGN float lanes[hn::MaxLanes(D())];
  for (size_t p = 0; p < P; ++p) {
    for (size_t v = 0; v < 2; ++v) {
      hn::Store(relu ? hn::Max(acc[p][v], zero) : acc[p][v], d, lanes);
      float* dst = out0 + v * n * out_stride + out_off[p];
      for (size_t l = 0; l < n; ++l) dst[l * out_stride] = lanes[l];
    }
  }
}

// One image by channel tiles: every 2N-channel block x every 6 pixels.
template <size_t K>
void ForwardImageByChannels(const ConvShape& s, const float* img,
                            size_t channel, const di::PadGeometry& g,
                            const float* wpack, const float* bias, bool relu,
                            float* out, size_t b) {
  const D d;
  const size_t n = hn::Lanes(d);
  const size_t oh = s.OutHeight(), ow = s.OutWidth(), pixels = oh * ow;
  const size_t taps = s.channels * s.kernel * s.kernel;
  const size_t out_stride = s.TotalBatch() * oh * ow;
  for (size_t ob = 0; ob < s.out_channels / (2 * n); ++ob) {
    const size_t o0 = ob * 2 * n;
    float* out0 = out + di::PlaneOffset(s, o0, b, pixels);
    const float* w = wpack + ob * taps * 2 * n;
    const V bias0 = bias == nullptr ? hn::Zero(d) : hn::LoadU(d, bias + o0);
    const V bias1 =
        bias == nullptr ? hn::Zero(d) : hn::LoadU(d, bias + o0 + n);
    size_t y = 0, x = 0;
    for (size_t p0 = 0; p0 < pixels; p0 += 6) {
      size_t in_off[6], out_off[6];
      const size_t count = std::min<size_t>(6, pixels - p0);
      for (size_t p = 0; p < count; ++p) {
        in_off[p] = y * g.width + x;
        out_off[p] = y * ow + x;
        if (++x == ow) {
          x = 0;
          ++y;
        }
      }
#define TRAINBUS_CHANNEL_TILE(P)                                          \
  ChannelTile<P, K>(img, channel, g.width, s.channels, s.kernel, w, in_off, \
                    out_off, out0, out_stride, bias0, bias1, relu)
      switch (count) {
        case 6: TRAINBUS_CHANNEL_TILE(6); break;
        case 5: TRAINBUS_CHANNEL_TILE(5); break;
        case 4: TRAINBUS_CHANNEL_TILE(4); break;
        case 3: TRAINBUS_CHANNEL_TILE(3); break;
        case 2: TRAINBUS_CHANNEL_TILE(2); break;
        default: TRAINBUS_CHANNEL_TILE(1); break;
      }
#undef TRAINBUS_CHANNEL_TILE
    }
  }
}

// One image: every 4-channel block x every run of R row vectors.
template <size_t K>
void ForwardImage(const ConvShape& s, const float* img, size_t channel,
                  const di::PadGeometry& g, const float* wpack,
                  const float* bias, bool relu, float* out, size_t b) {
  const D d;
  const size_t n = hn::Lanes(d);
  const size_t oh = s.OutHeight(), ow = s.OutWidth();
  const size_t per_row = di::CeilDiv(ow, n), count = oh * per_row;
  const size_t taps = s.channels * s.kernel * s.kernel;
  const size_t out_stride = s.TotalBatch() * oh * ow;  // next channel
  for (size_t ob = 0; ob < di::CeilDiv(s.out_channels, di::kOcBlock); ++ob) {
    const size_t o0 = ob * di::kOcBlock;
    const size_t m_count = std::min(di::kOcBlock, s.out_channels - o0);
    float* out0 = out + di::PlaneOffset(s, o0, b, oh * ow);
    const float* w = wpack + ob * taps * di::kOcBlock;
    const float* b0 = bias == nullptr ? nullptr : bias + o0;
    size_t y = 0, x = 0;  // the next position (counters: no divisions)
    for (size_t p0 = 0; p0 < count; p0 += 3) {
      TileSpots at;
      const size_t r_count = std::min<size_t>(3, count - p0);
      for (size_t r = 0; r < r_count; ++r) {
        at.in_off[r] = y * g.width + x;
        at.out[r] = out0 + y * ow + x;
        at.lanes[r] = std::min(n, ow - x);
        // A row's partial tail vector may spill into the following rows,
        // which this block stores later (positions run in order), but not
        // past the plane.
        at.whole[r] = y * ow + x + n <= oh * ow;
        x += n;
        if (x >= ow) {
          x = 0;
          ++y;
        }
      }
      if (r_count == 3) {
        ForwardTile<3, K>(img, channel, g, s.channels, s.kernel, w, at,
                           out_stride, m_count, b0, relu);
      } else if (r_count == 2) {
        ForwardTile<2, K>(img, channel, g, s.channels, s.kernel, w, at,
                           out_stride, m_count, b0, relu);
      } else {
        ForwardTile<1, K>(img, channel, g, s.channels, s.kernel, w, at,
                           out_stride, m_count, b0, relu);
      }
    }
  }
}

void ForwardImageAnyK(const ConvShape& s, const float* img, size_t channel,
                      const di::PadGeometry& g, const float* wpack,
                      const float* bias, bool relu, float* out, size_t b) {
  if (di::UseChannelTiles(s, hn::Lanes(D()))) {
    if (s.kernel == 3) {
      return ForwardImageByChannels<3>(s, img, channel, g, wpack, bias, relu,
                                       out, b);
    }
    if (s.kernel == 5) {
      return ForwardImageByChannels<5>(s, img, channel, g, wpack, bias, relu,
                                       out, b);
    }
    return ForwardImageByChannels<0>(s, img, channel, g, wpack, bias, relu,
                                     out, b);
  }
  if (s.kernel == 3) {
    return ForwardImage<3>(s, img, channel, g, wpack, bias, relu, out, b);
  }
  if (s.kernel == 5) {
    return ForwardImage<5>(s, img, channel, g, wpack, bias, relu, out, b);
  }
  ForwardImage<0>(s, img, channel, g, wpack, bias, relu, out, b);
}

// Images [b0, b1) of the slice; wpack from PackWeights.
void ForwardImages(const ConvShape& s, const float* in, const float* wpack,
                   const float* bias, bool relu, float* out, size_t b0,
                   size_t b1) {
  const di::PadGeometry g = di::PadFor(s, hn::Lanes(D()));
  const bool copy = di::NeedsCopy(s, g);
  ScratchBuffer img(copy ? s.channels * g.Plane() : 0);
  const size_t plane = s.height * s.width;
  for (size_t b = b0; b < b1; ++b) {
    const float* src = in + di::PlaneOffset(s, 0, b, plane);
    if (!copy) {
      ForwardImageAnyK(s, src, s.TotalBatch() * plane, g, wpack, bias, relu,
                       out, b);
      continue;
    }
    di::PadPlanes(src, s.channels, s.TotalBatch() * plane, s.height, s.width,
                  s.pad, g, img.data());
    ForwardImageAnyK(s, img.data(), g.Plane(), g, wpack, bias, relu, out, b);
  }
}

size_t LanesOfTarget() { return hn::Lanes(D()); }


// sums[m * m_stride + j] = the span's sum of dout (channel m) x the input
// shifted by j columns: M x KB vector accumulators over every image and
// output pixel, then the lanes in order.
template <size_t M, size_t KB>
HWY_INLINE void WeightTile(const float* HWY_RESTRICT in,
                           const float* const* dout, const di::WeightSpan& w,
                           float* HWY_RESTRICT sums, size_t m_stride) {
  const D d;
  const size_t n = hn::Lanes(d);
  V acc[M][KB];
#pragma GCC unroll 3
  for (size_t m = 0; m < M; ++m) {
#pragma GCC unroll 3
    for (size_t j = 0; j < KB; ++j) acc[m][j] = hn::Zero(d);
  }
  for (size_t b = 0; b < w.images; ++b) {
    const float* ib = in + b * w.in_image;
    const size_t db = b * w.dout_image;
    for (size_t y = 0; y < w.oh; ++y) {
      for (size_t x = 0; x < w.dout_width; x += n) {
        V g[M];
#pragma GCC unroll 3
        for (size_t m = 0; m < M; ++m) {
          g[m] = hn::LoadU(d, dout[m] + db + y * w.dout_width + x);
        }
#pragma GCC unroll 3
        for (size_t j = 0; j < KB; ++j) {
          const V v = hn::LoadU(d, ib + y * w.in_width + x + j);
#pragma GCC unroll 3
          for (size_t m = 0; m < M; ++m) {
            acc[m][j] = hn::MulAdd(g[m], v, acc[m][j]);
          }
        }
      }
    }
  }
  HWY_ALIGN float lanes[hn::MaxLanes(D())];
  for (size_t m = 0; m < M; ++m) {
    for (size_t j = 0; j < KB; ++j) {
      hn::Store(acc[m][j], d, lanes);
      float sum = 0.0f;
      for (size_t l = 0; l < n; ++l) sum += lanes[l];
      sums[m * m_stride + j] = sum;
    }
  }
}

// 3x3 kernels: sums[m * m_stride + 3 * kh] for the three tap rows kh at
// one column. Walking down a column, two of the three input rows a pixel
// needs were loaded for the pixel above, so each step is M dout loads and
// one input load for 3M FMAs (against M + 3 loads across a row).
template <size_t M>
HWY_INLINE void WeightTileRows3(const float* HWY_RESTRICT in,
                                const float* const* dout,
                                const di::WeightSpan& w,
                                float* HWY_RESTRICT sums, size_t m_stride) {
  const D d;
  const size_t n = hn::Lanes(d);
  V acc[M][3];
#pragma GCC unroll 3
  for (size_t m = 0; m < M; ++m) {
    acc[m][0] = acc[m][1] = acc[m][2] = hn::Zero(d);
  }
  for (size_t b = 0; b < w.images; ++b) {
    const float* ib = in + b * w.in_image;
    const size_t db = b * w.dout_image;
    for (size_t x = 0; x < w.dout_width; x += n) {
      V r0 = hn::LoadU(d, ib + x);
      V r1 = hn::LoadU(d, ib + w.in_width + x);
      for (size_t y = 0; y < w.oh; ++y) {
        const V r2 = hn::LoadU(d, ib + (y + 2) * w.in_width + x);
#pragma GCC unroll 3
        for (size_t m = 0; m < M; ++m) {
          const V g = hn::LoadU(d, dout[m] + db + y * w.dout_width + x);
          acc[m][0] = hn::MulAdd(g, r0, acc[m][0]);
          acc[m][1] = hn::MulAdd(g, r1, acc[m][1]);
          acc[m][2] = hn::MulAdd(g, r2, acc[m][2]);
        }
        r0 = r1;
        r1 = r2;
      }
    }
  }
  HWY_ALIGN float lanes[hn::MaxLanes(D())];
  for (size_t m = 0; m < M; ++m) {
    for (size_t kh = 0; kh < 3; ++kh) {
      hn::Store(acc[m][kh], d, lanes);
      float sum = 0.0f;
      for (size_t l = 0; l < n; ++l) sum += lanes[l];
      sums[m * m_stride + 3 * kh] = sum;
    }
  }
}

template <size_t M>
HWY_INLINE void WeightTileKb(size_t kb, const float* in,
                             const float* const* dout, const di::WeightSpan& w,
                             float* sums, size_t m_stride) {
  if (kb == 3) return WeightTile<M, 3>(in, dout, w, sums, m_stride);
  if (kb == 2) return WeightTile<M, 2>(in, dout, w, sums, m_stride);
  WeightTile<M, 1>(in, dout, w, sums, m_stride);
}

// dweight of m_count output channels summed over `images` images, as
// (m_count, C, K, K) in `part`. in: channel 0 of the first image, padded
// (rows of w.in_width), channels in_channel floats apart; dout: the first
// output channel's plane for that image, channels dout_channel apart.
void WeightPartials(const ConvShape& s, const float* in, size_t in_channel,
                    const float* dout, size_t dout_channel,
                    const di::WeightSpan& w, size_t m_count, float* part) {
  const size_t k = s.kernel;
  const float* rows[di::kWeightM];
  for (size_t m = 0; m < m_count; ++m) rows[m] = dout + m * dout_channel;
  const size_t m_stride = s.channels * k * k;
  for (size_t c = 0; c < s.channels; ++c) {
    const float* img = in + c * in_channel;
    if (k == 3) {
      for (size_t kw = 0; kw < 3; ++kw) {
        float* sums = part + c * 9 + kw;
        if (m_count == 3) {
          WeightTileRows3<3>(img + kw, rows, w, sums, m_stride);
        } else if (m_count == 2) {
          WeightTileRows3<2>(img + kw, rows, w, sums, m_stride);
        } else {
          WeightTileRows3<1>(img + kw, rows, w, sums, m_stride);
        }
      }
      continue;
    }
    for (size_t kh = 0; kh < k; ++kh) {
      for (size_t kw = 0; kw < k; kw += 3) {
        const size_t kb = std::min<size_t>(3, k - kw);
        const float* tap = img + kh * w.in_width + kw;
        float* sums = part + c * k * k + kh * k + kw;
        if (m_count == 3) {
          WeightTileKb<3>(kb, tap, rows, w, sums, m_stride);
        } else if (m_count == 2) {
          WeightTileKb<2>(kb, tap, rows, w, sums, m_stride);
        } else {
          WeightTileKb<1>(kb, tap, rows, w, sums, m_stride);
        }
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace trainbus::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace trainbus::kernels {
HWY_EXPORT(ForwardImages);
HWY_EXPORT(LanesOfTarget);
HWY_EXPORT(WeightPartials);

namespace {
namespace di = direct_internal;

// Below this many multiply-adds a call stays on the calling thread.
constexpr double kParallelMacs = 1 << 18;

template <class Body>
void Over(size_t count, double macs, const Body& body) {
  if (macs < kParallelMacs || count < 2) return body(0, count);
  tbb::parallel_for(tbb::blocked_range<size_t>(0, count, 1),
                    [&](const tbb::blocked_range<size_t>& r) {
                      body(r.begin(), r.end());
                    });
}

double Macs(const ConvShape& s) {
  return static_cast<double>(s.OutSize()) * s.channels * s.kernel * s.kernel;
}

void Forward(const ConvShape& s, const float* in, const float* weight,
             bool flip, const float* bias, bool relu, float* out) {
  const size_t taps = s.channels * s.kernel * s.kernel;
  const size_t n = HWY_DYNAMIC_DISPATCH(LanesOfTarget)();
  const size_t block = di::UseChannelTiles(s, n) ? 2 * n : di::kOcBlock;
  ScratchBuffer wpack(di::CeilDiv(s.out_channels, block) * block * taps);
  di::PackWeights(weight, s.out_channels, s.channels, s.kernel, flip, block,
                  wpack.data());
  Over(s.batch, Macs(s), [&](size_t b0, size_t b1) {
    HWY_DYNAMIC_DISPATCH(ForwardImages)(s, in, wpack.data(), bias, relu, out,
                                        b0, b1);
  });
}

}  // namespace

void DirectConvForward(const ConvShape& s, const float* in,
                       const float* weight, const float* bias, bool relu,
                       float* out) {
  Forward(s, in, weight, /*flip=*/false, bias, relu, out);
}

void DirectConvBackwardData(const ConvShape& s, const float* weight,
                            const float* dout, float* din) {
  // din = dout (OC, B, OH, OW) convolved with the flipped, transposed
  // weights under padding K - 1 - pad: an (OC -> C) forward convolution.
  ConvShape t = s;
  t.channels = s.out_channels;
  t.out_channels = s.channels;
  t.height = s.OutHeight();
  t.width = s.OutWidth();
  t.pad = s.kernel - 1 - s.pad;
  Forward(t, dout, weight, /*flip=*/true, nullptr, false, din);
}

void DirectConvBackwardWeights(const ConvShape& s, const float* in,
                               const float* dout, float* dweight) {
  const size_t n = HWY_DYNAMIC_DISPATCH(LanesOfTarget)();
  const di::PadGeometry g = di::PadFor(s, n);
  const size_t plane = s.height * s.width, k = s.kernel;
  // The input and dout as they are where their rows fit the vectors, else
  // copies with padded rows, in (channel, image) order.
  const size_t oh = s.OutHeight(), ow = s.OutWidth();
  const di::PadGeometry gd{oh, di::CeilDiv(ow, n) * n};
  const bool copy_in = di::NeedsCopy(s, g), copy_dout = gd.width != ow;
  ScratchBuffer padded(copy_in ? s.channels * s.batch * g.Plane() : 0);
  ScratchBuffer dout_padded(copy_dout ? s.out_channels * s.batch * gd.Plane()
                                      : 0);
  const size_t in_planes = copy_in ? s.channels * s.batch : 0;
  const size_t planes = in_planes + (copy_dout ? s.out_channels * s.batch : 0);
  Over(planes, Macs(s), [&](size_t p0, size_t p1) {
    for (size_t p = p0; p < p1; ++p) {
      if (p < in_planes) {
        di::PadPlanes(in + di::PlaneOffset(s, p / s.batch, p % s.batch, plane),
                      1, 0, s.height, s.width, s.pad, g,
                      padded.data() + p * g.Plane());
      } else {
        const size_t q = p - in_planes;
        di::PadPlanes(dout + di::PlaneOffset(s, q / s.batch, q % s.batch,
                                             oh * ow),
                      1, 0, oh, ow, 0, gd, dout_padded.data() + q * gd.Plane());
      }
    }
  });
  // Plane (o, b) of the dout the tiles read, and the channel stride.
  const size_t dout_channel =
      copy_dout ? s.batch * gd.Plane() : s.TotalBatch() * oh * ow;
  auto dout_plane = [&](size_t o, size_t b) {
    return copy_dout ? dout_padded.data() + (o * s.batch + b) * gd.Plane()
                     : dout + di::PlaneOffset(s, o, b, oh * ow);
  };
  const size_t in_channel =
      copy_in ? s.batch * g.Plane() : s.TotalBatch() * plane;
  auto in_plane = [&](size_t b) {
    return copy_in ? padded.data() + b * g.Plane()
                   : in + di::PlaneOffset(s, 0, b, plane);
  };
  // Tasks: (3-channel block, chunk of images), a chunk's data sized for
  // L1; the chunking depends on the shape (and vector width) only, so the
  // sums do not depend on the thread count.
  const size_t per_image = di::kWeightM * gd.Plane() + g.Plane();
  const size_t chunk_images =
      std::max<size_t>(1, di::kChunkFloats / per_image);
  const size_t blocks = di::CeilDiv(s.out_channels, di::kWeightM);
  const size_t chunks = di::CeilDiv(s.batch, chunk_images);
  const size_t per_block = di::kWeightM * s.channels * k * k;
  ScratchBuffer partial(blocks * chunks * per_block);
  Over(blocks * chunks, Macs(s), [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      const size_t ob = t / chunks, chunk = t % chunks;
      const size_t o0 = ob * di::kWeightM;
      const size_t b0 = chunk * chunk_images;
      const size_t images = std::min(s.batch, b0 + chunk_images) - b0;
      const di::WeightSpan w{images, g.Plane(), g.width, oh * gd.width, oh,
                         gd.width};
      HWY_DYNAMIC_DISPATCH(WeightPartials)(
          s, in_plane(b0), in_channel, dout_plane(o0, b0), dout_channel, w,
          std::min(di::kWeightM, s.out_channels - o0),
          partial.data() + t * per_block);
    }
  });
  // Chunks summed in order.
  const size_t per_oc = s.channels * k * k;
  for (size_t o = 0; o < s.out_channels; ++o) {
    const size_t ob = o / di::kWeightM, m = o % di::kWeightM;
    float* dst = dweight + o * per_oc;
    for (size_t chunk = 0; chunk < chunks; ++chunk) {
      const float* p =
          partial.data() + (ob * chunks + chunk) * per_block + m * per_oc;
      for (size_t i = 0; i < per_oc; ++i) {
        dst[i] = chunk == 0 ? p[i] : dst[i] + p[i];
      }
    }
  }
}

}  // namespace trainbus::kernels
#endif  // HWY_ONCE
