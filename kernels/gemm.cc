// GEMM: cache-blocked, with register-tiled microkernels.
//
// Paths, chosen per call from the shape (GemmDispatch / GemmPacked):
// - m == 1: GEMV; k == 1: rank-1 update (batch-1 training).
// - n <= one vector (10-class outputs):
//   - A * B^T on AVX-512 (GemmDotNarrow): dot products along k, where rows of
//     A and B are both contiguous and all 16 lanes do useful work; B is
//     packed so its kCols chunks sit at fixed offsets, 2 rows x n
//     accumulators, and one transposing reduction (TransposeSum16) per row
//     of C instead of a horizontal sum per element.
//   - otherwise (GemmNarrow): op(B) packed once into k x N (zero-padded), one
//     vector per row of C, 8-16 rows of A broadcast per k step, masked
//     stores for the row tail (no temporaries, no edge tiles along n).
// - A * B^T with small m and long k: dot products (DotTile).
// - m <= 128 (the MLP's batch-64 products): the tiled path: op(B) packed
//   just in time into L1-resident panels 2 vectors wide, op(A) read in place
//   (each element is one broadcast, so its stride does not matter), an 8 x
//   2-vector tile = 16 FMA chains (2 FMA ports x 4-cycle latency, 2 loads +
//   8 broadcasts per 16 FMAs). m of 9-10 uses 5 x 4.
// - m > 128 (GemmBlocked): GotoBLAS/BLIS blocking. Per 384-deep k block, op(B)
//   is packed into kc x 32 panels (48 KiB, about L1) and, per block of 196
//   rows, op(A) into 14-row slivers (L2); the 14 x 2-vector microkernel
//   keeps 28 accumulators in the 32 zmm registers and folds each A broadcast
//   into its FMA (one uop per FMA).
//
// Threads (TBB) split the output into tiles or row blocks; every output
// element sums over k in the same fixed order whatever the split, so results
// do not depend on the thread count. Every split uses TBB's
// static_partitioner (one contiguous range per thread): the default
// auto_partitioner's extra tasks and stealing cost ~30 us a call on a 2-vCPU
// VM, which made 10x64x784 Aᵀ·B run at 0.33x on 2 threads (1.28x now), and
// the row blocks of GemmBlocked are sized so that each thread gets as many
// (BalancedMc).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm.cc"
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <string>
#include <cstring>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "absl/strings/str_cat.h"
#include "hwy/highway.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_config.h"
#include "kernels/scratch.h"
#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/blocked_range2d.h"
#include "oneapi/tbb/global_control.h"
#include "oneapi/tbb/parallel_for.h"
#include "oneapi/tbb/partitioner.h"
#include "oneapi/tbb/task_arena.h"

#ifndef TRAINBUS_KERNELS_GEMM_ONCE_
#define TRAINBUS_KERNELS_GEMM_ONCE_
namespace trainbus::kernels::gemm_internal {

struct GemmArgs {
  bool trans_a, trans_b;
  size_t m, n, k;
  float alpha;
  const float* a;
  size_t lda;
  const float* b;
  size_t ldb;
  float beta;
  float* c;
  size_t ldc;
  bool parallel;
  const GemmConfig* cfg;  // tiles and blocking (gemm_config.h)
};

// Bound on any configured k-block: sizes the on-stack panels.
constexpr size_t kMaxKc = 512;

// Below this many multiply-adds the TBB fork/join costs more than it saves.
constexpr size_t kParallelGemvMacs = size_t{1} << 18;

// Set by ScopedGemmConfig (tests, tuning benchmarks); null: the target's own.
extern std::atomic<const GemmConfig*> g_config_override;

}  // namespace trainbus::kernels::gemm_internal
#endif  // TRAINBUS_KERNELS_GEMM_ONCE_

HWY_BEFORE_NAMESPACE();
namespace trainbus::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using gemm_internal::GemmArgs;
using gemm_internal::kMaxKc;


// count runs of `used` floats, `ld` apart in src, to dst as runs of `width`
// floats (used <= width), zero-padded: the partial panels and slivers.
static void CopyPadded(const float* HWY_RESTRICT src, size_t ld, size_t count,
                       size_t used, size_t width, float* HWY_RESTRICT dst) {
  for (size_t p = 0; p < count; ++p) {
    const float* in = src + p * ld;
    float* out = dst + p * width;
    for (size_t c = 0; c < used; ++c) out[c] = in[c];
    for (size_t c = used; c < width; ++c) out[c] = 0.0f;
  }
}

// An edge tile computed into tmp (rows x nr) goes to C: its first `cols`
// columns, plus beta * C unless beta is 0 (C may be uninitialised then).
static HWY_INLINE void StoreEdgeTile(const float* HWY_RESTRICT tmp, size_t nr,
                                     size_t rows, size_t cols, float beta,
                                     float* HWY_RESTRICT c, size_t ldc) {
  for (size_t r = 0; r < rows; ++r) {
    float* crow = c + r * ldc;
    const float* trow = tmp + r * nr;
    if (beta == 0.0f) {
      for (size_t j = 0; j < cols; ++j) crow[j] = trow[j];
    } else {
      for (size_t j = 0; j < cols; ++j) crow[j] = trow[j] + beta * crow[j];
    }
  }
}

// Packs op(A) rows [i0, i0 + rows) x k-range [pc, pc + kc) as
// dst[p * kMr + r], zero-padding rows up to kMr. Only the bottom edge of A is
// packed: full slivers are read in place by the microkernel.
static void PackAEdge(const GemmArgs& g, size_t i0, size_t rows, size_t mr,
                      size_t pc, size_t kc, float* HWY_RESTRICT dst) {
  for (size_t p = 0; p < kc; ++p) {
    for (size_t r = 0; r < mr; ++r) {
      float v = 0.0f;
      if (r < rows) {
        v = g.trans_a ? g.a[(pc + p) * g.lda + i0 + r]
                      : g.a[(i0 + r) * g.lda + pc + p];
      }
      dst[p * mr + r] = v;
    }
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// dst[q * ld_dst + r] = src[r * ld_src + q] for an 8 x 8 block: 8 loads, 24
// shuffles, 8 stores. (A gather per destination vector, as before, is split
// into one load per lane on Zen 3/4 and made the A * B^T products 0.6x
// OpenBLAS.)
static HWY_INLINE void Transpose8x8(const float* HWY_RESTRICT src,
                                    size_t ld_src, float* HWY_RESTRICT dst,
                                    size_t ld_dst) {
  const hn::Full256<float> d;
  const hn::Repartition<double, decltype(d)> dd;
  using V = hn::Vec256<float>;
  V r[8], t[8], s[8];
#pragma GCC unroll 8
  for (size_t i = 0; i < 8; ++i) r[i] = hn::LoadU(d, src + i * ld_src);
  // t[2i], t[2i+1]: rows 2i and 2i+1 interleaved (k 0,1,4,5 / 2,3,6,7).
#pragma GCC unroll 4
  for (size_t i = 0; i < 4; ++i) {
    t[2 * i] = hn::InterleaveLower(d, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = hn::InterleaveUpper(d, r[2 * i], r[2 * i + 1]);
  }
  // s[q] (rows 0-3) and s[q + 4] (rows 4-7): k = q in the lower 128-bit
  // block, k = q + 4 in the upper.
#pragma GCC unroll 2
  for (size_t h = 0; h < 2; ++h) {
    const auto a = hn::BitCast(dd, t[4 * h]), b = hn::BitCast(dd, t[4 * h + 2]);
    const auto c = hn::BitCast(dd, t[4 * h + 1]),
               e = hn::BitCast(dd, t[4 * h + 3]);
    s[4 * h + 0] = hn::BitCast(d, hn::InterleaveLower(dd, a, b));
    s[4 * h + 1] = hn::BitCast(d, hn::InterleaveUpper(dd, a, b));
    s[4 * h + 2] = hn::BitCast(d, hn::InterleaveLower(dd, c, e));
    s[4 * h + 3] = hn::BitCast(d, hn::InterleaveUpper(dd, c, e));
  }
#pragma GCC unroll 4
  for (size_t q = 0; q < 4; ++q) {
    hn::StoreU(hn::ConcatLowerLower(d, s[q + 4], s[q]), d, dst + q * ld_dst);
    hn::StoreU(hn::ConcatUpperUpper(d, s[q + 4], s[q]), d,
               dst + (q + 4) * ld_dst);
  }
}
#endif

// B stored n x k: columns [j0, j0 + cols) of op(B) are rows of B. Packs them
// transposed as dst[p * nr + c], zero past `cols`: 8 x 8 register
// transposes where the target has 256-bit vectors, else scalar copies in
// blocks of 16 k (the 16 source segments and destination rows stay in L1).
static void PackBTransposed(const GemmArgs& g, size_t j0, size_t nr,
                            size_t cols, size_t pc, size_t kc,
                            float* HWY_RESTRICT dst) {
  size_t c0 = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  const size_t kc8 = kc / 8 * 8;
  for (; c0 + 8 <= cols; c0 += 8) {
    const float* src = g.b + (j0 + c0) * g.ldb + pc;
    for (size_t p = 0; p < kc8; p += 8) {
      Transpose8x8(src + p, g.ldb, dst + p * nr + c0, nr);
    }
    for (size_t p = kc8; p < kc; ++p) {
      for (size_t c = 0; c < 8; ++c) dst[p * nr + c0 + c] = src[c * g.ldb + p];
    }
  }
#endif
  constexpr size_t kBlock = 16;
  for (size_t p0 = 0; p0 < kc; p0 += kBlock) {
    const size_t pe = std::min(kc, p0 + kBlock);
    for (size_t c = c0; c < cols; ++c) {
      const float* src = g.b + (j0 + c) * g.ldb + pc;
      for (size_t p = p0; p < pe; ++p) dst[p * nr + c] = src[p];
    }
    for (size_t c = cols; c < nr; ++c) {
      for (size_t p = p0; p < pe; ++p) dst[p * nr + c] = 0.0f;
    }
  }
}

// Packs columns [j0, j0 + nr) x k-range [pc, pc + kc) of op(B) as
// dst[p * nr + c]; columns past n are zero.
static void PackB(const GemmArgs& g, size_t j0, size_t nr, size_t pc,
                  size_t kc, float* HWY_RESTRICT dst) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t cols = std::min(nr, g.n - j0);
  if (!g.trans_b) {  // B stored k x n: rows are contiguous.
    if (cols == nr) {
      for (size_t p = 0; p < kc; ++p) {
        const float* src = g.b + (pc + p) * g.ldb + j0;
        for (size_t v = 0; v < nr; v += N) {
          hn::Store(hn::LoadU(d, src + v), d, dst + p * nr + v);
        }
      }
      return;
    }
    CopyPadded(g.b + pc * g.ldb + j0, g.ldb, kc, cols, nr, dst);
    return;
  }
  PackBTransposed(g, j0, nr, cols, pc, kc, dst);
}

// The C tile is touched only after the k loop; the microkernels prefetch it
// first so that its (often L2/L3) latency hides behind the FMAs.
template <size_t kRows, size_t kVecs>
HWY_INLINE void PrefetchTile(const float* c, size_t ldc, size_t lanes) {
#pragma GCC unroll 16
  for (size_t r = 0; r < kRows; ++r) {
    __builtin_prefetch(c + r * ldc, 1);
    __builtin_prefetch(c + r * ldc + kVecs * lanes - 1, 1);
  }
}

// C tile (kRows x kVecs vectors) = alpha * acc + beta * C; acc row-major.
// beta == 0 never reads C (it may be uninitialised).
template <size_t kRows, size_t kVecs, class D, class V>
HWY_INLINE void StoreTile(D d, const V* acc, float* c, size_t ldc, float alpha,
                          float beta) {
  const size_t N = hn::Lanes(d);
  const V va = hn::Set(d, alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (size_t r = 0; r < kRows; ++r) {
#pragma GCC unroll 4
      for (size_t v = 0; v < kVecs; ++v) {
        hn::StoreU(hn::Mul(va, acc[r * kVecs + v]), d, c + r * ldc + v * N);
      }
    }
    return;
  }
  const V vb = hn::Set(d, beta);
#pragma GCC unroll 16
  for (size_t r = 0; r < kRows; ++r) {
#pragma GCC unroll 4
    for (size_t v = 0; v < kVecs; ++v) {
      float* out = c + r * ldc + v * N;
      hn::StoreU(
          hn::MulAdd(va, acc[r * kVecs + v], hn::Mul(vb, hn::LoadU(d, out))), d,
          out);
    }
  }
}

// C tile (kRows x kVecs vectors) = alpha * A * Bpack + beta * C over kc
// steps. A is read in place: kRowMajorA: A(r, p) = a[r * lda + p] (kRows row
// streams); else A(r, p) = a[p * lda + r] (transposed A, or a packed edge
// sliver with lda = kRows). Each A value is one broadcast load. The loops
// over the tile are fully unrolled so the accumulators live in registers.
template <size_t kRows, size_t kVecs, bool kRowMajorA, class D>
HWY_INLINE void MicroKernel(D d, size_t kc, const float* HWY_RESTRICT a,
                            size_t lda, const float* HWY_RESTRICT bp,
                            size_t ldb, float* c, size_t ldc, float alpha,
                            float beta) {
  using V = decltype(hn::Zero(d));
  const size_t N = hn::Lanes(d);
  PrefetchTile<kRows, kVecs>(c, ldc, N);
  V acc[kRows][kVecs];
#pragma GCC unroll 16
  for (size_t r = 0; r < kRows; ++r) {
#pragma GCC unroll 4
    for (size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::Zero(d);
  }
  for (size_t p = 0; p < kc; ++p) {
    V b[kVecs];
#pragma GCC unroll 4
    for (size_t v = 0; v < kVecs; ++v) b[v] = hn::LoadU(d, bp + v * N);
#pragma GCC unroll 16
    for (size_t r = 0; r < kRows; ++r) {
      const V ar = hn::Set(d, kRowMajorA ? a[r * lda + p] : a[r]);
#pragma GCC unroll 4
      for (size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::MulAdd(ar, b[v], acc[r][v]);
    }
    if (!kRowMajorA) a += lda;
    bp += ldb;
#if HWY_TARGET == HWY_SCALAR
    // GCC 12 -O2 turns the scalar target's kVecs = 2 B loads (bp[0], bp[1])
    // into a 4-float vector built from this row AND the next (movq bp;
    // movhps bp + ldb), then uses only the low half: the last k step reads
    // one row past op(B), which faults when B is read in place and ends at
    // a page. Hiding bp's stride from the compiler keeps its loads to this
    // row. (SIMD targets load whole vectors and are not affected.)
    asm("" : "+r"(bp));
#endif
  }
  StoreTile<kRows, kVecs>(d, &acc[0][0], c, ldc, alpha, beta);
}

// Microkernel of the blocked path: both operands packed, A as kRows-float
// steps (one broadcast each), B as kVecs-vector steps; kRows * kVecs
// accumulators stay in registers. Writes alpha * acc + beta * C to the
// kRows x kVecs tile at c.
template <size_t kRows, size_t kVecs, class D>
HWY_INLINE void PackedKernel(D d, size_t kc, const float* HWY_RESTRICT a,
                             const float* HWY_RESTRICT b, float* c,
                             size_t ldc, float alpha, float beta) {
  using V = decltype(hn::Zero(d));
  const size_t N = hn::Lanes(d);
  PrefetchTile<kRows, kVecs>(c, ldc, N);
  V acc[kRows * kVecs];
#pragma GCC unroll 64
  for (size_t i = 0; i < kRows * kVecs; ++i) acc[i] = hn::Zero(d);
#pragma GCC unroll 2
  for (size_t p = 0; p < kc; ++p) {
    V bv[kVecs];
#pragma GCC unroll 4
    for (size_t v = 0; v < kVecs; ++v) bv[v] = hn::Load(d, b + v * N);
#if HWY_TARGET <= HWY_AVX3
    // Each FMA broadcasts its own A value from memory. Copies of the pointer
    // that the compiler cannot see through stop it from sharing one
    // broadcast register between the kVecs FMAs of a row; single-use
    // broadcasts fold into the FMA's memory operand (x86: {1to16}), one uop
    // instead of two, which matters when a hyperthread shares the front end.
    // (Only AVX-512 has broadcast memory operands.)
    const float* av[kVecs];
#pragma GCC unroll 4
    for (size_t v = 0; v < kVecs; ++v) {
      av[v] = a;
      asm volatile("" : "+r"(av[v]));
    }
#pragma GCC unroll 16
    for (size_t r = 0; r < kRows; ++r) {
#pragma GCC unroll 4
      for (size_t v = 0; v < kVecs; ++v) {
        acc[r * kVecs + v] =
            hn::MulAdd(hn::Set(d, av[v][r]), bv[v], acc[r * kVecs + v]);
      }
    }
#else
#pragma GCC unroll 16
    for (size_t r = 0; r < kRows; ++r) {
      const V ar = hn::Set(d, a[r]);
#pragma GCC unroll 4
      for (size_t v = 0; v < kVecs; ++v) {
        acc[r * kVecs + v] = hn::MulAdd(ar, bv[v], acc[r * kVecs + v]);
      }
    }
#endif
    a += kRows;
    b += kVecs * N;
  }
  StoreTile<kRows, kVecs>(d, acc, c, ldc, alpha, beta);
}

// Packs panels [jb0, jb1) (nr columns each) x k-range [pc, pc + kc) of op(B),
// panel q at dst + q * kc * nr. A non-transposed B is read row by row across
// all the panels: one panel at a time would read kc lines ldb apart, and a
// power-of-two ldb (4096 columns) maps them all to a few cache sets (the
// 16x200x4096 product spent 61% of its time in that pack).
static void PackBPanels(const GemmArgs& g, size_t jb0, size_t jb1, size_t nr,
                        size_t pc, size_t kc, float* HWY_RESTRICT dst) {
  if (g.trans_b) {
    for (size_t jb = jb0; jb < jb1; ++jb) {
      PackB(g, jb * nr, nr, pc, kc, dst + (jb - jb0) * kc * nr);
    }
    return;
  }
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t p = 0; p < kc; ++p) {
    const float* src = g.b + (pc + p) * g.ldb;
    for (size_t jb = jb0; jb < jb1; ++jb) {
      const size_t j0 = jb * nr, cols = std::min(nr, g.n - j0);
      float* out = dst + (jb - jb0) * kc * nr + p * nr;
      if (cols == nr) {
        for (size_t v = 0; v < nr; v += N) {
          hn::Store(hn::LoadU(d, src + j0 + v), d, out + v);
        }
      } else {
        CopyPadded(src + j0, 0, 1, cols, nr, out);
      }
    }
  }
}

// Runs the kRows x kVecs microkernel over m-blocks [ib0, ib1) x n-panels
// [jb0, jb1); panels are kVecs vectors wide. bpack holds every panel packed
// for all k, or is null: then per k-block, groups of panels (tiled_pack_bytes)
// are packed just in time (L2-resident), and each panel is used from L1 by all
// the m-blocks of this range (or, for tiny m, B is read in place).
template <size_t kRows, size_t kVecs>
static void ComputeTiles(const GemmArgs& g, const float* bpack, size_t ib0,
                         size_t ib1, size_t jb0, size_t jb1) {
  // With at most 2 blocks of A rows a packed panel is reused at most twice,
  // so a non-transposed B is read in place (callers with huge, 4 KiB-multiple
  // row strides should pad them; conv's im2col matrix does).
  const bool b_in_place = bpack == nullptr && !g.trans_b && g.m <= 2 * kRows;
  const hn::ScalableTag<float> d;
  const size_t nr = kVecs * hn::Lanes(d);
  HWY_ALIGN float tmp[kRows * kVecs * (HWY_MAX_BYTES / sizeof(float))];
  const size_t block_kc = std::min(g.cfg->tiled_kc, kMaxKc);
  HWY_ALIGN float edge[kRows * kMaxKc];
  const size_t group = std::clamp<size_t>(
      g.cfg->tiled_pack_bytes / (std::min(block_kc, g.k) * nr * sizeof(float)),
      1, 64);
  ScratchBuffer panels(bpack == nullptr ? group * block_kc * nr : 0);
  for (size_t pc = 0; pc < g.k; pc += block_kc) {
    const size_t kc = std::min(block_kc, g.k - pc);
    const float beta = pc == 0 ? g.beta : 1.0f;
    bool edge_packed = false;
    for (size_t jb = jb0; jb < jb1; ++jb) {
      const size_t j0 = jb * nr;
      const size_t cols = std::min(nr, g.n - j0);
      const size_t group_start = jb0 + (jb - jb0) / group * group;
      if (bpack == nullptr && !b_in_place && jb == group_start) {
        PackBPanels(g, jb, std::min(jb1, jb + group), nr, pc, kc,
                    panels.data());
      }
      const float* bp;
      size_t ldb = nr;
      if (bpack != nullptr) {
        bp = bpack + jb * nr * g.k + pc * nr;
      } else if (b_in_place && cols == nr) {
        bp = g.b + pc * g.ldb + j0;
        ldb = g.ldb;
      } else if (b_in_place) {  // the partial last panel
        PackB(g, j0, nr, pc, kc, panels.data());
        bp = panels.data();
      } else {
        bp = panels.data() + (jb - group_start) * kc * nr;
      }
      for (size_t ib = ib0; ib < ib1; ++ib) {
        const size_t i0 = ib * kRows;
        const size_t rows = std::min(kRows, g.m - i0);
        float* c = g.c + i0 * g.ldc + j0;
        const bool full = rows == kRows && cols == nr;
        float* out = full ? c : tmp;
        const size_t ldo = full ? g.ldc : nr;
        const float beta_o = full ? beta : 0.0f;
        if (rows < kRows) {
          if (!edge_packed) {
            PackAEdge(g, i0, rows, kRows, pc, kc, edge);
            edge_packed = true;
          }
          MicroKernel<kRows, kVecs, false>(d, kc, edge, kRows, bp, ldb, out,
                                           ldo, g.alpha, beta_o);
        } else if (g.trans_a) {
          MicroKernel<kRows, kVecs, false>(d, kc, g.a + pc * g.lda + i0, g.lda,
                                           bp, ldb, out, ldo, g.alpha, beta_o);
        } else {
          MicroKernel<kRows, kVecs, true>(d, kc, g.a + i0 * g.lda + pc, g.lda,
                                          bp, ldb, out, ldo, g.alpha, beta_o);
        }
        if (!full) StoreEdgeTile(tmp, nr, rows, cols, beta, c, g.ldc);
      }
    }
  }
}

template <size_t kRows, size_t kVecs>
static void GemmTiled(const GemmArgs& g) {
  const hn::ScalableTag<float> d;
  const size_t nr = kVecs * hn::Lanes(d);
  const size_t mblocks = (g.m + kRows - 1) / kRows;
  const size_t npanels = (g.n + nr - 1) / nr;
  // Up to jit_max_rows rows, threads split only the panels and pack B just
  // in time (each panel once per k-block, reused from L1 by all m-blocks);
  // above it, B is packed up front and the m x n tile grid is split.
  if (g.m <= g.cfg->jit_max_rows) {
    if (!g.parallel) {
      return ComputeTiles<kRows, kVecs>(g, nullptr, 0, mblocks, 0, npanels);
    }
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, npanels),
        [&](const tbb::blocked_range<size_t>& r) HWY_ATTR {
          ComputeTiles<kRows, kVecs>(g, nullptr, 0, mblocks, r.begin(),
                                     r.end());
        },
        tbb::static_partitioner());
    return;
  }
  ScratchBuffer bpack(npanels * nr * g.k);
  float* bp = bpack.data();
  if (!g.parallel) {
    for (size_t jb = 0; jb < npanels; ++jb) {
      PackB(g, jb * nr, nr, 0, g.k, bp + jb * nr * g.k);
    }
    return ComputeTiles<kRows, kVecs>(g, bp, 0, mblocks, 0, npanels);
  }
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, npanels),
      [&](const tbb::blocked_range<size_t>& r) HWY_ATTR {
        for (size_t jb = r.begin(); jb != r.end(); ++jb) {
          PackB(g, jb * nr, nr, 0, g.k, bp + jb * nr * g.k);
        }
      },
      tbb::static_partitioner());
  tbb::parallel_for(
      tbb::blocked_range2d<size_t>(0, mblocks, 0, npanels),
      [&](const tbb::blocked_range2d<size_t>& r) HWY_ATTR {
        ComputeTiles<kRows, kVecs>(g, bp, r.rows().begin(), r.rows().end(),
                                   r.cols().begin(), r.cols().end());
      },
      tbb::static_partitioner());
}

// Packs op(A) rows [i0, i0 + rows) x k-range [pc, pc + kc) into kMr-row
// slivers dst[p * kMr + r] (rows past `rows` are zero), for the blocked path.
template <size_t kMr>
static void PackASliver(const GemmArgs& g, size_t i0, size_t rows, size_t pc,
                        size_t kc, float* HWY_RESTRICT dst) {
  if (g.trans_a) {  // A stored k x m: each k step is a contiguous run.
    if (rows == kMr) {
      // Fixed size: inlined as a couple of vector moves, not a memcpy call.
      for (size_t p = 0; p < kc; ++p) {
        std::memcpy(dst + p * kMr, g.a + (pc + p) * g.lda + i0,
                    kMr * sizeof(float));
      }
      return;
    }
    CopyPadded(g.a + pc * g.lda + i0, g.lda, kc, rows, kMr, dst);
    return;
  }
  // A stored m x k: read each row along k (sequential), write with stride kMr
  // into the L1-resident sliver.
  for (size_t r = 0; r < rows; ++r) {
    const float* src = g.a + (i0 + r) * g.lda + pc;
    for (size_t p = 0; p < kc; ++p) dst[p * kMr + r] = src[p];
  }
  for (size_t r = rows; r < kMr; ++r) {
    for (size_t p = 0; p < kc; ++p) dst[p * kMr + r] = 0.0f;
  }
}

// GotoBLAS/BLIS blocking for large products. For each k-block of kc:
// op(B) is packed into kVecs-vector panels (kc x nr, contiguous); for each
// block of mc rows, op(A) is packed into kRows-row slivers (the block,
// mc x kc floats, stays in L2); then panel by panel, the panel (kc x nr) is
// reused by every sliver of the block. kc, mc and nc come from the config
// (cache sizes or a measured entry), rounded to whole slivers and panels.

template <size_t kRows, size_t kVecs>
static void BlockedRows(const GemmArgs& g, const float* bpack, size_t jc,
                        size_t nc, size_t pc, size_t kc, size_t ic,
                        size_t mc) {
  const hn::ScalableTag<float> d;
  const size_t nr = kVecs * hn::Lanes(d);
  const float beta = pc == 0 ? g.beta : 1.0f;
  const size_t slivers = (mc + kRows - 1) / kRows;
  ScratchBuffer apack_buf(slivers * kRows * kc);
  float* apack = apack_buf.data();
  for (size_t ib = 0; ib < slivers; ++ib) {
    const size_t i0 = ic + ib * kRows;
    PackASliver<kRows>(g, i0, std::min(kRows, ic + mc - i0), pc, kc,
                       apack + ib * kRows * kc);
  }
  HWY_ALIGN float tmp[kRows * kVecs * (HWY_MAX_BYTES / sizeof(float))];
  const size_t panels = (nc + nr - 1) / nr;
  for (size_t jb = 0; jb < panels; ++jb) {
    const size_t j0 = jc + jb * nr;
    const size_t cols = std::min(nr, g.n - j0);
    const float* bp = bpack + jb * nr * kc;
    for (size_t ib = 0; ib < slivers; ++ib) {
      const size_t i0 = ic + ib * kRows;
      const size_t rows = std::min(kRows, ic + mc - i0);
      float* c = g.c + i0 * g.ldc + j0;
      const bool full = rows == kRows && cols == nr;
      PackedKernel<kRows, kVecs>(d, kc, apack + ib * kRows * kc, bp,
                                 full ? c : tmp, full ? g.ldc : nr, g.alpha,
                                 full ? beta : 0.0f);
      if (!full) StoreEdgeTile(tmp, nr, rows, cols, beta, c, g.ldc);
    }
  }
}

// The blocked path's row block: the config's mc, or less when threads split
// the rows, so that every thread gets the same number of equal blocks. With
// m = 256 and mc = 252, two threads got one block of 252 rows and one of 4,
// and ran slower than one thread (0.86x). Only the grouping of rows changes,
// not any output's summation order, so results stay bitwise the same.
static size_t BalancedMc(const GemmArgs& g, size_t rows_per_tile) {
  size_t mc =
      std::max(rows_per_tile, g.cfg->mc / rows_per_tile * rows_per_tile);
  if (!g.parallel) return mc;
  const size_t threads = std::max<size_t>(
      1, std::min<size_t>(tbb::this_task_arena::max_concurrency(),
                          tbb::global_control::active_value(
                              tbb::global_control::max_allowed_parallelism)));
  const size_t blocks = (g.m + mc - 1) / mc;
  const size_t balanced = (blocks + threads - 1) / threads * threads;
  const size_t rows = (g.m + balanced - 1) / balanced;
  return std::min(mc,
                  (rows + rows_per_tile - 1) / rows_per_tile * rows_per_tile);
}

template <size_t kRows, size_t kVecs>
static void GemmBlocked(const GemmArgs& g) {
  const hn::ScalableTag<float> d;
  const size_t nr = kVecs * hn::Lanes(d);
  const size_t kBlockKc = std::max<size_t>(1, g.cfg->kc);
  const size_t kBlockMc = BalancedMc(g, kRows);
  const size_t kBlockNc = std::max(nr, g.cfg->nc / nr * nr);
  const size_t max_nc = std::min(g.n, kBlockNc);
  ScratchBuffer bpack_buf(((max_nc + nr - 1) / nr) * nr * std::min(g.k, kBlockKc));
  float* bpack = bpack_buf.data();
  const size_t mblocks = (g.m + kBlockMc - 1) / kBlockMc;
  for (size_t jc = 0; jc < g.n; jc += kBlockNc) {
    const size_t nc = std::min(kBlockNc, g.n - jc);
    const size_t panels = (nc + nr - 1) / nr;
    for (size_t pc = 0; pc < g.k; pc += kBlockKc) {
      const size_t kc = std::min(kBlockKc, g.k - pc);
      const auto pack = [&](size_t jb0, size_t jb1) HWY_ATTR {
        for (size_t jb = jb0; jb < jb1; ++jb) {
          PackB(g, jc + jb * nr, nr, pc, kc, bpack + jb * nr * kc);
        }
      };
      const auto rows = [&](size_t mb0, size_t mb1) HWY_ATTR {
        for (size_t mb = mb0; mb < mb1; ++mb) {
          const size_t ic = mb * kBlockMc;
          BlockedRows<kRows, kVecs>(g, bpack, jc, nc, pc, kc, ic,
                                    std::min(kBlockMc, g.m - ic));
        }
      };
      if (!g.parallel) {
        pack(0, panels);
        rows(0, mblocks);
        continue;
      }
      tbb::parallel_for(
          tbb::blocked_range<size_t>(0, panels),
          [&](const tbb::blocked_range<size_t>& r) HWY_ATTR {
            pack(r.begin(), r.end());
          },
          tbb::static_partitioner());
      tbb::parallel_for(
          tbb::blocked_range<size_t>(0, mblocks),
          [&](const tbb::blocked_range<size_t>& r) HWY_ATTR {
            rows(r.begin(), r.end());
          },
          tbb::static_partitioner());
    }
  }
}

// Narrow outputs (n <= kVecs vectors, e.g. 10 classes: one vector on
// AVX-512, two on AVX2): op(B) is packed once per k-block into k x kVecs
// vectors (columns past n zero) and each row of C is kVecs vectors. kRows
// rows of A are broadcast per k step: kRows x kVecs independent FMA chains
// and no edge tiles along n; the last vector of a row uses a masked store,
// so nothing goes through a temporary.
constexpr size_t kNarrowKc = 512;  // packed B block: 512 x 16 floats = 32 KiB

// Up to n floats from p (n <= Lanes(d)); the other lanes are zero.
template <class D>
HWY_INLINE hn::Vec<D> LoadPartial(D d, const float* p, size_t n) {
#if HWY_TARGET <= HWY_AVX2
  // AVX2/AVX-512 masked loads never touch the masked-off lanes.
  return hn::MaskedLoad(hn::FirstN(d, n), d, p);
#else
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)] = {};
  for (size_t j = 0; j < n; ++j) buf[j] = p[j];
  return hn::Load(d, buf);
#endif
}

template <size_t kVecs>
static void PackBNarrow(const GemmArgs& g, size_t pc, size_t kc,
                        float* HWY_RESTRICT dst) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d), nr = kVecs * N;
  if (g.trans_b) return PackBTransposed(g, 0, nr, g.n, pc, kc, dst);
  // B stored k x n: one partial row per k step (n > (kVecs - 1) * N).
  for (size_t p = 0; p < kc; ++p) {
    const float* src = g.b + (pc + p) * g.ldb;
#pragma GCC unroll 2
    for (size_t v = 0; v < kVecs; ++v) {
      hn::Store(LoadPartial(d, src + v * N, std::min(N, g.n - v * N)), d,
                dst + p * nr + v * N);
    }
  }
}

template <size_t kRows, size_t kVecs>
static void NarrowRows(const GemmArgs& g, const float* HWY_RESTRICT bp,
                       size_t i0, size_t pc, size_t kc, float beta) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d), nr = kVecs * N;
  V acc[kRows][kVecs];
#pragma GCC unroll 16
  for (size_t r = 0; r < kRows; ++r) {
#pragma GCC unroll 2
    for (size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::Zero(d);
  }
  // One k step: B's kVecs vectors against kRows broadcasts of A(r, p).
  const auto step = [&](const float* HWY_RESTRICT b_row, auto a_at) HWY_ATTR {
    V b[kVecs];
#pragma GCC unroll 2
    for (size_t v = 0; v < kVecs; ++v) b[v] = hn::Load(d, b_row + v * N);
#pragma GCC unroll 16
    for (size_t r = 0; r < kRows; ++r) {
      const V ar = hn::Set(d, a_at(r));
#pragma GCC unroll 2
      for (size_t v = 0; v < kVecs; ++v) {
        acc[r][v] = hn::MulAdd(ar, b[v], acc[r][v]);
      }
    }
  };
  if (g.trans_a) {  // A stored k x m: the kRows values of a k step are adjacent.
    const float* a = g.a + pc * g.lda + i0;
    for (size_t p = 0; p < kc; ++p) {
      step(bp + p * nr, [a](size_t r) { return a[r]; });
      a += g.lda;
    }
  } else {
    const float* a = g.a + i0 * g.lda + pc;
    const size_t lda = g.lda;
#pragma GCC unroll 2
    for (size_t p = 0; p < kc; ++p) {
      step(bp + p * nr, [a, lda, p](size_t r) { return a[r * lda + p]; });
    }
  }
  const V va = hn::Set(d, g.alpha);
  const size_t last = g.n - (kVecs - 1) * N;  // lanes used in the last vector
  const auto mask = hn::FirstN(d, last);
#pragma GCC unroll 16
  for (size_t r = 0; r < kRows; ++r) {
    float* c = g.c + (i0 + r) * g.ldc;
#pragma GCC unroll 2
    for (size_t v = 0; v < kVecs; ++v) {
      const bool full = v + 1 < kVecs || last == N;
      V out = hn::Mul(va, acc[r][v]);
      if (beta != 0.0f) {
        const V old = full ? hn::LoadU(d, c + v * N)
                           : LoadPartial(d, c + v * N, last);
        out = hn::MulAdd(hn::Set(d, beta), old, out);
      }
      if (full) {
        hn::StoreU(out, d, c + v * N);
      } else {
        hn::BlendedStore(out, mask, d, c + v * N);
      }
    }
  }
}

// Rows [r0, r1) of C for one packed k-block: blocks of as many rows as the
// registers hold, then the tail in 4/2/1-row blocks.
template <size_t kVecs>
static void NarrowBlock(const GemmArgs& g, const float* bp, size_t r0,
                        size_t r1, size_t pc, size_t kc) {
  const float beta = pc == 0 ? g.beta : 1.0f;
  size_t i = r0;
  if (kVecs == 1) {
    // 16 row streams of a row-major A would need more pointers than there
    // are general registers; 8 chains still cover 2 FMA ports x 4-cycle
    // latency.
    if (HWY_TARGET <= HWY_AVX3 && g.trans_a) {
      for (; i + 16 <= r1; i += 16) NarrowRows<16, 1>(g, bp, i, pc, kc, beta);
    }
    for (; i + 8 <= r1; i += 8) NarrowRows<8, 1>(g, bp, i, pc, kc, beta);
  } else {
    // 6 x 2 accumulators + 2 B vectors + a broadcast: 15 of 16 registers.
    for (; i + 6 <= r1; i += 6) NarrowRows<6, kVecs>(g, bp, i, pc, kc, beta);
  }
  if (i + 4 <= r1) { NarrowRows<4, kVecs>(g, bp, i, pc, kc, beta); i += 4; }
  if (i + 2 <= r1) { NarrowRows<2, kVecs>(g, bp, i, pc, kc, beta); i += 2; }
  if (i < r1) NarrowRows<1, kVecs>(g, bp, i, pc, kc, beta);
}

template <size_t kVecs>
static void GemmNarrow(const GemmArgs& g) {
  const hn::ScalableTag<float> d;
  const size_t nr = kVecs * hn::Lanes(d);
  const size_t block_kc = kNarrowKc / kVecs;
  ScratchBuffer bpack(std::min(g.k, block_kc) * nr);
  for (size_t pc = 0; pc < g.k; pc += block_kc) {
    const size_t kc = std::min(block_kc, g.k - pc);
    PackBNarrow<kVecs>(g, pc, kc, bpack.data());
    if (!g.parallel) {
      NarrowBlock<kVecs>(g, bpack.data(), 0, g.m, pc, kc);
      continue;
    }
    // Chunks of 16 rows; each row sums over k alone, so any row blocking
    // gives the serial path's bits.
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, (g.m + 15) / 16),
        [&](const tbb::blocked_range<size_t>& r) HWY_ATTR {
          NarrowBlock<kVecs>(g, bpack.data(), r.begin() * 16,
                             std::min(g.m, r.end() * 16), pc, kc);
        },
        tbb::static_partitioner());
  }
}

#if HWY_TARGET <= HWY_AVX3
// A * B^T with n <= 16 on AVX-512: dot products along k (rows of A and B are
// both contiguous, all 16 lanes busy, no packing), kRows x kCols
// accumulators, then one transposing reduction per row of C instead of a
// horizontal sum per element.

// Lane j of the result = sum of the lanes of v[j]. 8 + 4 + 2 + 1 shuffle/add
// rounds (about 3 instructions per sum instead of ~8 for SumOfLanes).
HWY_INLINE hn::Vec512<float> TransposeSum16(const hn::Vec512<float>* v) {
  const hn::Full512<float> d;
  const hn::Repartition<double, decltype(d)> dd;
  using V = hn::Vec512<float>;
  // Within each 128-bit block: even lanes hold v[2i], odd lanes v[2i+1].
  V u[8];
#pragma GCC unroll 8
  for (size_t i = 0; i < 8; ++i) {
    u[i] = hn::Add(hn::InterleaveLower(d, v[2 * i], v[2 * i + 1]),
                   hn::InterleaveUpper(d, v[2 * i], v[2 * i + 1]));
  }
  // Lane l of each block of w[q]: partial sum of v[4q + l].
  V w[4];
#pragma GCC unroll 4
  for (size_t q = 0; q < 4; ++q) {
    const auto lo = hn::BitCast(dd, u[2 * q]);
    const auto hi = hn::BitCast(dd, u[2 * q + 1]);
    w[q] = hn::Add(hn::BitCast(d, hn::InterleaveLower(dd, lo, hi)),
                   hn::BitCast(d, hn::InterleaveUpper(dd, lo, hi)));
  }
  // Blocks [w0 b0+b2, w0 b1+b3, w1 b0+b2, w1 b1+b3].
  const V x01 = hn::Add(hn::ConcatLowerLower(d, w[1], w[0]),
                        hn::ConcatUpperUpper(d, w[1], w[0]));
  const V x23 = hn::Add(hn::ConcatLowerLower(d, w[3], w[2]),
                        hn::ConcatUpperUpper(d, w[3], w[2]));
  // Reorder blocks to [0, 2, 1, 3], then add the halves pairwise.
  alignas(64) static constexpr int32_t kBlocks0213[16] = {
      0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15};
  const auto idx = hn::SetTableIndices(d, kBlocks0213);
  const V p01 = hn::TableLookupLanes(x01, idx);
  const V p23 = hn::TableLookupLanes(x23, idx);
  return hn::Add(hn::ConcatLowerLower(d, p23, p01),
                 hn::ConcatUpperUpper(d, p23, p01));
}

// B packed as [k / 16][kCols][16]: for each 16-long k chunk, the chunks of
// all kCols rows side by side (rows past n and the k tail are zero), so the
// kernel loads them at fixed offsets from one pointer.
template <size_t kCols>
static void PackBDotNarrow(const GemmArgs& g, float* HWY_RESTRICT dst) {
  const hn::Full512<float> d;
  constexpr size_t N = 16;
  for (size_t p = 0; p < g.k; p += N) {
    const auto m = hn::FirstN(d, std::min(N, g.k - p));
    for (size_t j = 0; j < kCols; ++j) {
      const auto v = j < g.n ? hn::MaskedLoad(m, d, g.b + j * g.ldb + p)
                             : hn::Zero(d);
      hn::Store(v, d, dst + j * N);
    }
    dst += kCols * N;
  }
}

// Rows [i0, i0 + kRows) of C against the packed B.
template <size_t kRows, size_t kCols>
static void DotNarrowRows(const GemmArgs& g, const float* HWY_RESTRICT bp,
                          size_t i0) {
  const hn::Full512<float> d;
  using V = hn::Vec512<float>;
  constexpr size_t N = 16;
  const float* a0 = g.a + i0 * g.lda;
  const size_t lda = g.lda;
  V acc[kRows][kCols];
#pragma GCC unroll 2
  for (size_t r = 0; r < kRows; ++r) {
#pragma GCC unroll 16
    for (size_t j = 0; j < kCols; ++j) acc[r][j] = hn::Zero(d);
  }
  size_t p = 0;
  for (; p + N <= g.k; p += N) {
    V a[kRows];
#pragma GCC unroll 2
    for (size_t r = 0; r < kRows; ++r) a[r] = hn::LoadU(d, a0 + r * lda + p);
#pragma GCC unroll 16
    for (size_t j = 0; j < kCols; ++j) {
      V b = hn::Load(d, bp + j * N);
      // Keep b in a register for both rows (the compiler would otherwise
      // fold the load into each FMA: twice the loads).
      if (kRows > 1) asm("" : "+v"(b.raw));
#pragma GCC unroll 2
      for (size_t r = 0; r < kRows; ++r) acc[r][j] = hn::MulAdd(a[r], b, acc[r][j]);
    }
    bp += kCols * N;
  }
  if (p < g.k) {  // k tail: the masked load reads nothing past the row.
    const auto m = hn::FirstN(d, g.k - p);
    V a[kRows];
    for (size_t r = 0; r < kRows; ++r) {
      a[r] = hn::MaskedLoad(m, d, a0 + r * lda + p);
    }
#pragma GCC unroll 16
    for (size_t j = 0; j < kCols; ++j) {
      const V b = hn::Load(d, bp + j * N);
      for (size_t r = 0; r < kRows; ++r) acc[r][j] = hn::MulAdd(a[r], b, acc[r][j]);
    }
  }
  const V va = hn::Set(d, g.alpha);
  const auto mask = hn::FirstN(d, g.n);
  for (size_t r = 0; r < kRows; ++r) {
    V v[16];
#pragma GCC unroll 16
    for (size_t j = 0; j < 16; ++j) v[j] = j < kCols ? acc[r][j] : hn::Zero(d);
    V out = hn::Mul(va, TransposeSum16(v));
    float* c = g.c + (i0 + r) * g.ldc;
    if (g.beta != 0.0f) {
      out = hn::MulAdd(hn::Set(d, g.beta), hn::MaskedLoad(mask, d, c), out);
    }
    hn::BlendedStore(out, mask, d, c);
  }
}

template <size_t kCols>
static void DotNarrowBlock(const GemmArgs& g, const float* bp, size_t r0,
                           size_t r1) {
  // 2 rows share each B load while 2 x kCols accumulators fit in registers.
  constexpr size_t kRows = kCols <= 12 ? 2 : 1;
  size_t i = r0;
  for (; i + kRows <= r1; i += kRows) DotNarrowRows<kRows, kCols>(g, bp, i);
  for (; i < r1; ++i) DotNarrowRows<1, kCols>(g, bp, i);
}

template <size_t kCols>
static void GemmDotNarrowCols(const GemmArgs& g) {
  ScratchBuffer bpack((g.k + 15) / 16 * kCols * 16);
  PackBDotNarrow<kCols>(g, bpack.data());
  const float* bp = bpack.data();
  if (!g.parallel) return DotNarrowBlock<kCols>(g, bp, 0, g.m);
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, (g.m + 15) / 16),
      [&](const tbb::blocked_range<size_t>& r) HWY_ATTR {
        DotNarrowBlock<kCols>(g, bp, r.begin() * 16,
                              std::min(g.m, r.end() * 16));
      },
      tbb::static_partitioner());
}

// kCols = n rounded up to even: a padding column costs a full FMA per k
// chunk, so 10 outputs get exactly 10 accumulators per row.
static void GemmDotNarrow(const GemmArgs& g) {
  switch ((g.n + 1) / 2) {
    case 1: return GemmDotNarrowCols<2>(g);
    case 2: return GemmDotNarrowCols<4>(g);
    case 3: return GemmDotNarrowCols<6>(g);
    case 4: return GemmDotNarrowCols<8>(g);
    case 5: return GemmDotNarrowCols<10>(g);
    case 6: return GemmDotNarrowCols<12>(g);
    case 7: return GemmDotNarrowCols<14>(g);
    default: return GemmDotNarrowCols<16>(g);
  }
}
#endif  // HWY_TARGET <= HWY_AVX3

// C = alpha A B^T + beta C as dot products: rows of A and of B are both
// contiguous along k, so nothing is packed. A kI x kJ block keeps kI*kJ
// vector accumulators (16 for 4x4: 8 loads per 16 FMAs) and reduces each
// once at the end. Used when M or N is small, where packing B would cost
// more than the multiply (conv weight gradients, 10-class output layers).
template <size_t kI, size_t kJ>
static void DotTile(const GemmArgs& g, size_t i0, size_t j0) {
  const hn::ScalableTag<float> d;
  using V = decltype(hn::Zero(d));
  const size_t N = hn::Lanes(d);
  V acc[kI][kJ];
#pragma GCC unroll 4
  for (size_t i = 0; i < kI; ++i) {
#pragma GCC unroll 4
    for (size_t j = 0; j < kJ; ++j) acc[i][j] = hn::Zero(d);
  }
  const float* arow = g.a + i0 * g.lda;
  const float* brow = g.b + j0 * g.ldb;
  size_t p = 0;
  for (; p + N <= g.k; p += N) {
    V av[kI];
#pragma GCC unroll 4
    for (size_t i = 0; i < kI; ++i) av[i] = hn::LoadU(d, arow + i * g.lda + p);
#pragma GCC unroll 4
    for (size_t j = 0; j < kJ; ++j) {
      const V bv = hn::LoadU(d, brow + j * g.ldb + p);
#pragma GCC unroll 4
      for (size_t i = 0; i < kI; ++i) acc[i][j] = hn::MulAdd(av[i], bv, acc[i][j]);
    }
  }
  for (size_t i = 0; i < kI; ++i) {
    for (size_t j = 0; j < kJ; ++j) {
      float s = hn::GetLane(hn::SumOfLanes(d, acc[i][j]));
      for (size_t q = p; q < g.k; ++q) s += arow[i * g.lda + q] * brow[j * g.ldb + q];
      float* c = g.c + (i0 + i) * g.ldc + j0 + j;
      *c = g.beta == 0.0f ? g.alpha * s : g.alpha * s + g.beta * *c;
    }
  }
}

template <size_t kI>
static void DotTileRows(const GemmArgs& g, size_t i0, size_t j0, size_t cols) {
  switch (cols) {
    case 1: return DotTile<kI, 1>(g, i0, j0);
    case 2: return DotTile<kI, 2>(g, i0, j0);
    case 3: return DotTile<kI, 3>(g, i0, j0);
    default: return DotTile<kI, 4>(g, i0, j0);
  }
}

static void DotTiles(const GemmArgs& g, size_t ib0, size_t ib1, size_t jb0,
                     size_t jb1) {
  // B rows outer: the 4 rows of B (long, k floats each) are reused from
  // cache by every block of A rows; A is the small operand here.
  for (size_t jb = jb0; jb < jb1; ++jb) {
    const size_t j0 = jb * 4, cols = std::min<size_t>(4, g.n - j0);
    for (size_t ib = ib0; ib < ib1; ++ib) {
      const size_t i0 = ib * 4, rows = std::min<size_t>(4, g.m - i0);
      switch (rows) {
        case 1: DotTileRows<1>(g, i0, j0, cols); break;
        case 2: DotTileRows<2>(g, i0, j0, cols); break;
        case 3: DotTileRows<3>(g, i0, j0, cols); break;
        default: DotTileRows<4>(g, i0, j0, cols); break;
      }
    }
  }
}

static void GemmDotNT(const GemmArgs& g) {
  const size_t iblocks = (g.m + 3) / 4, jblocks = (g.n + 3) / 4;
  if (!g.parallel) return DotTiles(g, 0, iblocks, 0, jblocks);
  tbb::parallel_for(
      tbb::blocked_range2d<size_t>(0, iblocks, 0, jblocks),
      [&](const tbb::blocked_range2d<size_t>& r) HWY_ATTR {
        DotTiles(g, r.rows().begin(), r.rows().end(), r.cols().begin(),
                 r.cols().end());
      },
      tbb::static_partitioner());
}

// Vector registers of this target: the tiles that fit (gemm_config.h).
constexpr size_t kVectorRegisters =
    (HWY_ARCH_X86 && HWY_TARGET > HWY_AVX3) || HWY_TARGET == HWY_SCALAR ? 16
                                                                        : 32;

static VectorUnit ThisVectorUnit() {
  return {hn::Lanes(hn::ScalableTag<float>()), kVectorRegisters};
}

// This target's configuration for this CPU, chosen once.
static const GemmConfig& TargetConfig() {
  static const GemmConfig* config =
      new GemmConfig(ChooseGemmConfig(HostCpu(), ThisVectorUnit()));
  return *config;
}

static const GemmConfig& ActiveConfig() {
  const GemmConfig* o =
      gemm_internal::g_config_override.load(std::memory_order_acquire);
  return o != nullptr ? *o : TargetConfig();
}

// The configured tile, if this target has it (TilesFor); else 6 x 2.
template <template <size_t, size_t> class Path>
static void WithTile(GemmTile t, const GemmArgs& g) {
#if HWY_TARGET <= HWY_AVX3 || !HWY_ARCH_X86
  if (t == GemmTile{8, 2}) return Path<8, 2>::Run(g);
  if (t == GemmTile{14, 2}) return Path<14, 2>::Run(g);
  if (t == GemmTile{6, 4}) return Path<6, 4>::Run(g);
#endif
  if (t == GemmTile{4, 3}) return Path<4, 3>::Run(g);
  Path<6, 2>::Run(g);
}

template <size_t kRows, size_t kVecs>
struct TiledPath {
  static void Run(const GemmArgs& g) { GemmTiled<kRows, kVecs>(g); }
};
template <size_t kRows, size_t kVecs>
struct BlockedPath {
  static void Run(const GemmArgs& g) { GemmBlocked<kRows, kVecs>(g); }
};

void GemmPacked(GemmArgs g) {
  const GemmConfig& cfg = ActiveConfig();
  g.cfg = &cfg;
  g.parallel = g.parallel && g.m * g.n * g.k >= cfg.parallel_macs;
  const size_t lanes = hn::Lanes(hn::ScalableTag<float>());
#if HWY_TARGET <= HWY_AVX3
  if (g.trans_b && !g.trans_a && g.n <= 16 && g.k >= 32) {
    return GemmDotNarrow(g);
  }
#endif
  const bool long_nt = g.trans_b && !g.trans_a && g.k >= 64;
  if (g.n <= lanes && !long_nt) return GemmNarrow<1>(g);
  // 10 outputs on AVX2: two vectors per row, the second masked.
  if (kVectorRegisters < 32 && g.n <= 2 * lanes && !long_nt) {
    return GemmNarrow<2>(g);
  }
  // Dot products pay one reduction per output, so they need a long k.
  if (g.trans_b && !g.trans_a &&
      ((g.m <= 32 && g.k >= 256) || (g.n <= 16 && g.k >= 64))) {
    return GemmDotNT(g);
  }
  // Short outputs (10 rows): a tile shaped to waste less (2 exact blocks).
  if (g.m > 8 && g.m <= 10) {
    if (kVectorRegisters >= 32) return GemmTiled<5, 4>(g);
    return GemmTiled<5, 2>(g);
  }
  if (g.m > cfg.jit_max_rows) return WithTile<BlockedPath>(cfg.blocked_tile, g);
  WithTile<TiledPath>(cfg.tile, g);
}

VectorUnit VectorUnitImpl() { return ThisVectorUnit(); }

std::string ConfigDescriptionImpl() {
  return DescribeGemmConfig(TargetConfig());
}

// y[i] = alpha * dot(A row i, x) + beta * y[i] for rows [r0, r1).
static void GemvRows(size_t r0, size_t r1, size_t n, float alpha,
                     const float* HWY_RESTRICT a, size_t lda,
                     const float* HWY_RESTRICT x, float beta,
                     float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = r0;
  // 4 rows share each x load; 2 accumulators per row = 8 FMA chains.
  for (; i + 4 <= r1; i += 4) {
    const float* a0 = a + i * lda;
    const float* a1 = a0 + lda;
    const float* a2 = a1 + lda;
    const float* a3 = a2 + lda;
    auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d),
         s3 = hn::Zero(d), t0 = hn::Zero(d), t1 = hn::Zero(d),
         t2 = hn::Zero(d), t3 = hn::Zero(d);
    size_t j = 0;
    for (; j + 2 * N <= n; j += 2 * N) {
      const auto x0 = hn::LoadU(d, x + j);
      const auto x1 = hn::LoadU(d, x + j + N);
      s0 = hn::MulAdd(hn::LoadU(d, a0 + j), x0, s0);
      s1 = hn::MulAdd(hn::LoadU(d, a1 + j), x0, s1);
      s2 = hn::MulAdd(hn::LoadU(d, a2 + j), x0, s2);
      s3 = hn::MulAdd(hn::LoadU(d, a3 + j), x0, s3);
      t0 = hn::MulAdd(hn::LoadU(d, a0 + j + N), x1, t0);
      t1 = hn::MulAdd(hn::LoadU(d, a1 + j + N), x1, t1);
      t2 = hn::MulAdd(hn::LoadU(d, a2 + j + N), x1, t2);
      t3 = hn::MulAdd(hn::LoadU(d, a3 + j + N), x1, t3);
    }
    for (; j + N <= n; j += N) {
      const auto x0 = hn::LoadU(d, x + j);
      s0 = hn::MulAdd(hn::LoadU(d, a0 + j), x0, s0);
      s1 = hn::MulAdd(hn::LoadU(d, a1 + j), x0, s1);
      s2 = hn::MulAdd(hn::LoadU(d, a2 + j), x0, s2);
      s3 = hn::MulAdd(hn::LoadU(d, a3 + j), x0, s3);
    }
    float r[4] = {hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, t0))),
                  hn::GetLane(hn::SumOfLanes(d, hn::Add(s1, t1))),
                  hn::GetLane(hn::SumOfLanes(d, hn::Add(s2, t2))),
                  hn::GetLane(hn::SumOfLanes(d, hn::Add(s3, t3)))};
    for (; j < n; ++j) {
      r[0] += a0[j] * x[j];
      r[1] += a1[j] * x[j];
      r[2] += a2[j] * x[j];
      r[3] += a3[j] * x[j];
    }
    for (size_t q = 0; q < 4; ++q) {
      y[i + q] = beta == 0.0f ? alpha * r[q] : alpha * r[q] + beta * y[i + q];
    }
  }
  for (; i < r1; ++i) {
    const float* a0 = a + i * lda;
    auto s0 = hn::Zero(d);
    size_t j = 0;
    for (; j + N <= n; j += N) {
      s0 = hn::MulAdd(hn::LoadU(d, a0 + j), hn::LoadU(d, x + j), s0);
    }
    float r = hn::GetLane(hn::SumOfLanes(d, s0));
    for (; j < n; ++j) r += a0[j] * x[j];
    y[i] = beta == 0.0f ? alpha * r : alpha * r + beta * y[i];
  }
}

// y[j] = alpha * sum_i x[i] * A[i, j] + beta * y[j] for columns [c0, c1).
static void GemvCols(size_t c0, size_t c1, size_t m, float alpha,
                     const float* HWY_RESTRICT a, size_t lda,
                     const float* HWY_RESTRICT x, float beta,
                     float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto va = hn::Set(d, alpha);
  const auto vb = hn::Set(d, beta);
  size_t j = c0;
  // 4 vectors of columns stay in registers while we stream over the rows.
  for (; j + 4 * N <= c1; j += 4 * N) {
    auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d),
         s3 = hn::Zero(d);
    for (size_t i = 0; i < m; ++i) {
      const float* row = a + i * lda + j;
      const auto xi = hn::Set(d, x[i]);
      s0 = hn::MulAdd(xi, hn::LoadU(d, row), s0);
      s1 = hn::MulAdd(xi, hn::LoadU(d, row + N), s1);
      s2 = hn::MulAdd(xi, hn::LoadU(d, row + 2 * N), s2);
      s3 = hn::MulAdd(xi, hn::LoadU(d, row + 3 * N), s3);
    }
    if (beta == 0.0f) {
      hn::StoreU(hn::Mul(va, s0), d, y + j);
      hn::StoreU(hn::Mul(va, s1), d, y + j + N);
      hn::StoreU(hn::Mul(va, s2), d, y + j + 2 * N);
      hn::StoreU(hn::Mul(va, s3), d, y + j + 3 * N);
    } else {
      hn::StoreU(hn::MulAdd(va, s0, hn::Mul(vb, hn::LoadU(d, y + j))), d,
                 y + j);
      hn::StoreU(
          hn::MulAdd(va, s1, hn::Mul(vb, hn::LoadU(d, y + j + N))), d,
          y + j + N);
      hn::StoreU(
          hn::MulAdd(va, s2, hn::Mul(vb, hn::LoadU(d, y + j + 2 * N))), d,
          y + j + 2 * N);
      hn::StoreU(
          hn::MulAdd(va, s3, hn::Mul(vb, hn::LoadU(d, y + j + 3 * N))), d,
          y + j + 3 * N);
    }
  }
  for (; j + N <= c1; j += N) {
    auto s0 = hn::Zero(d);
    for (size_t i = 0; i < m; ++i) {
      s0 = hn::MulAdd(hn::Set(d, x[i]), hn::LoadU(d, a + i * lda + j), s0);
    }
    if (beta == 0.0f) {
      hn::StoreU(hn::Mul(va, s0), d, y + j);
    } else {
      hn::StoreU(hn::MulAdd(va, s0, hn::Mul(vb, hn::LoadU(d, y + j))), d,
                 y + j);
    }
  }
  for (; j < c1; ++j) {
    float s = 0.0f;
    for (size_t i = 0; i < m; ++i) s += x[i] * a[i * lda + j];
    y[j] = beta == 0.0f ? alpha * s : alpha * s + beta * y[j];
  }
}

void GemvImpl(bool trans, size_t m, size_t n, float alpha, const float* a,
              size_t lda, const float* x, float beta, float* y,
              bool parallel) {
  if (!trans) {
    if (!parallel) return GemvRows(0, m, n, alpha, a, lda, x, beta, y);
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, (m + 15) / 16),
        [&](const tbb::blocked_range<size_t>& r) HWY_ATTR {
          GemvRows(r.begin() * 16, std::min(m, r.end() * 16), n, alpha, a, lda,
                   x, beta, y);
        },
        tbb::static_partitioner());
    return;
  }
  if (!parallel) return GemvCols(0, n, m, alpha, a, lda, x, beta, y);
  // Chunks of 64 columns keep the column blocking (and so the rounding)
  // identical to the serial path.
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, (n + 63) / 64),
      [&](const tbb::blocked_range<size_t>& r) HWY_ATTR {
        GemvCols(r.begin() * 64, std::min(n, r.end() * 64), m, alpha, a, lda, x,
                 beta, y);
      },
      tbb::static_partitioner());
}

// C (m x n) = alpha * u v^T + beta * C, u and v contiguous.
static void GerRows(size_t r0, size_t r1, size_t n, float alpha,
                    const float* HWY_RESTRICT u, const float* HWY_RESTRICT v,
                    float beta, float* c, size_t ldc) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vb = hn::Set(d, beta);
  for (size_t i = r0; i < r1; ++i) {
    const float s = alpha * u[i];
    const auto vs = hn::Set(d, s);
    float* crow = c + i * ldc;
    size_t j = 0;
    if (beta == 0.0f) {
      for (; j + N <= n; j += N) {
        hn::StoreU(hn::Mul(vs, hn::LoadU(d, v + j)), d, crow + j);
      }
      for (; j < n; ++j) crow[j] = s * v[j];
    } else {
      for (; j + N <= n; j += N) {
        hn::StoreU(hn::MulAdd(vs, hn::LoadU(d, v + j),
                              hn::Mul(vb, hn::LoadU(d, crow + j))),
                   d, crow + j);
      }
      for (; j < n; ++j) crow[j] = s * v[j] + beta * crow[j];
    }
  }
}

void GerImpl(size_t m, size_t n, float alpha, const float* u, const float* v,
             float beta, float* c, size_t ldc, bool parallel) {
  if (!parallel) return GerRows(0, m, n, alpha, u, v, beta, c, ldc);
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, m, 8),
      [&](const tbb::blocked_range<size_t>& r) HWY_ATTR {
        GerRows(r.begin(), r.end(), n, alpha, u, v, beta, c, ldc);
      },
      tbb::static_partitioner());
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace trainbus::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace trainbus::kernels {

HWY_EXPORT(GemmPacked);
HWY_EXPORT(GemvImpl);
HWY_EXPORT(GerImpl);
HWY_EXPORT(TargetNameImpl);
HWY_EXPORT(ConfigDescriptionImpl);
HWY_EXPORT(VectorUnitImpl);

namespace gemm_internal {
std::atomic<const GemmConfig*> g_config_override{nullptr};
}  // namespace gemm_internal

namespace {

using gemm_internal::GemmArgs;

void ScaleC(size_t m, size_t n, float beta, float* c, size_t ldc) {
  for (size_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else {
      for (size_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

void GemmDispatch(Transpose trans_a, Transpose trans_b, size_t m, size_t n,
                  size_t k, float alpha, const float* a, size_t lda,
                  const float* b, size_t ldb, float beta, float* c,
                  size_t ldc, bool allow_parallel) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) return ScaleC(m, n, beta, c, ldc);
  const bool ta = trans_a == Transpose::kYes;
  const bool tb = trans_b == Transpose::kYes;
  const size_t macs = m * n * k;
  if (m == 1) {
    // The row of op(A) as a contiguous vector.
    const float* x = a;
    ScratchBuffer copy(ta && lda != 1 ? k : 0);
    if (ta && lda != 1) {
      for (size_t p = 0; p < k; ++p) copy.data()[p] = a[p * lda];
      x = copy.data();
    }
    const bool parallel =
        allow_parallel && macs >= gemm_internal::kParallelGemvMacs;
    if (tb) {  // B stored n x k: c = B x.
      HWY_DYNAMIC_DISPATCH(GemvImpl)(false, n, k, alpha, b, ldb, x, beta, c,
                                     parallel);
    } else {  // B stored k x n: c = B^T x.
      HWY_DYNAMIC_DISPATCH(GemvImpl)(true, k, n, alpha, b, ldb, x, beta, c,
                                     parallel);
    }
    return;
  }
  if (k == 1) {
    // Rank-1 update: column of op(A) times row of op(B).
    ScratchBuffer u_copy(ta ? 0 : m);
    const float* u = a;
    if (!ta) {
      for (size_t i = 0; i < m; ++i) u_copy.data()[i] = a[i * lda];
      u = u_copy.data();
    }
    ScratchBuffer v_copy(tb ? n : 0);
    const float* v = b;
    if (tb) {
      for (size_t j = 0; j < n; ++j) v_copy.data()[j] = b[j * ldb];
      v = v_copy.data();
    }
    const bool parallel =
        allow_parallel && macs >= gemm_internal::kParallelGemvMacs;
    HWY_DYNAMIC_DISPATCH(GerImpl)(m, n, alpha, u, v, beta, c, ldc, parallel);
    return;
  }
  const GemmArgs args{ta,   tb, m,   n,     k, alpha, a, lda, b, ldb,
                      beta, c,  ldc, allow_parallel, nullptr};
  HWY_DYNAMIC_DISPATCH(GemmPacked)(args);
}

}  // namespace

void Gemm(Transpose trans_a, Transpose trans_b, size_t m, size_t n, size_t k,
          float alpha, const float* a, size_t lda, const float* b, size_t ldb,
          float beta, float* c, size_t ldc) {
  GemmDispatch(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
               /*allow_parallel=*/true);
}

void GemmSerial(Transpose trans_a, Transpose trans_b, size_t m, size_t n,
                size_t k, float alpha, const float* a, size_t lda,
                const float* b, size_t ldb, float beta, float* c,
                size_t ldc) {
  GemmDispatch(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
               /*allow_parallel=*/false);
}

void GemmReference(Transpose trans_a, Transpose trans_b, size_t m, size_t n,
                   size_t k, float alpha, const float* a, size_t lda,
                   const float* b, size_t ldb, float beta, float* c,
                   size_t ldc) {
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (size_t p = 0; p < k; ++p) {
        const float av =
            trans_a == Transpose::kYes ? a[p * lda + i] : a[i * lda + p];
        const float bv =
            trans_b == Transpose::kYes ? b[j * ldb + p] : b[p * ldb + j];
        s += static_cast<double>(av) * bv;
      }
      const double prev = beta == 0.0f ? 0.0 : double{beta} * c[i * ldc + j];
      c[i * ldc + j] = static_cast<float>(alpha * s + prev);
    }
  }
}

void Gemv(Transpose trans, size_t m, size_t n, float alpha, const float* a,
          size_t lda, const float* x, float beta, float* y) {
  const size_t out = trans == Transpose::kYes ? n : m;
  if (out == 0) return;
  if (m == 0 || n == 0 || alpha == 0.0f) return ScaleC(1, out, beta, y, out);
  HWY_DYNAMIC_DISPATCH(GemvImpl)(trans == Transpose::kYes, m, n, alpha, a, lda,
                                 x, beta, y,
                                 m * n >= gemm_internal::kParallelGemvMacs);
}

void GemvReference(Transpose trans, size_t m, size_t n, float alpha,
                   const float* a, size_t lda, const float* x, float beta,
                   float* y) {
  const bool t = trans == Transpose::kYes;
  const size_t out = t ? n : m;
  const size_t len = t ? m : n;
  for (size_t o = 0; o < out; ++o) {
    double s = 0.0;
    for (size_t q = 0; q < len; ++q) {
      s += static_cast<double>(t ? a[q * lda + o] : a[o * lda + q]) * x[q];
    }
    const double prev = beta == 0.0f ? 0.0 : double{beta} * y[o];
    y[o] = static_cast<float>(alpha * s + prev);
  }
}

const char* GemmTargetName() {
  return HWY_DYNAMIC_DISPATCH(TargetNameImpl)();
}

VectorUnit GemmVectorUnit() { return HWY_DYNAMIC_DISPATCH(VectorUnitImpl)(); }

std::string GemmConfigDescription() {
  return absl::StrCat(GemmTargetName(), ": ",
                      HWY_DYNAMIC_DISPATCH(ConfigDescriptionImpl)(), "; ",
                      CpuDescription(HostCpu()));
}

ScopedGemmConfig::ScopedGemmConfig(const GemmConfig& config)
    : config_(config),
      previous_(gemm_internal::g_config_override.exchange(&config_)) {}

ScopedGemmConfig::~ScopedGemmConfig() {
  gemm_internal::g_config_override.store(previous_);
}

}  // namespace trainbus::kernels
#endif  // HWY_ONCE
