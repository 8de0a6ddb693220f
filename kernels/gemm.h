// Single-precision matrix multiply (GEMM) and matrix-vector (GEMV) kernels.
//
// Row-major, with the transposes that forward and backward passes need:
//
//   // Linear forward: in (B, IN), weight (OUT, IN), out (B, OUT)
//   Gemm(Transpose::kNo, Transpose::kYes, B, OUT, IN, 1.0f, in, IN,
//        weight, IN, 0.0f, out, OUT);
//
// C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, where op(X)
// is X or its transpose and lda/ldb/ldc are the row strides of A, B and C as
// stored. beta == 0 never reads C (so C may hold NaN or garbage).
//
// Results are bitwise independent of the TBB thread count: threads split the
// m x n output into tiles and every output element sums over k in the same
// fixed order. m == 1 uses GEMV and k == 1 a rank-1 update (batch-1 paths).
#ifndef TRAINBUS_KERNELS_GEMM_H_
#define TRAINBUS_KERNELS_GEMM_H_

#include <cstddef>
#include <string>

#include "kernels/gemm_config.h"

namespace trainbus::kernels {

enum class Transpose { kNo, kYes };

// Multi-threaded (TBB) once m*n*k is large enough to pay for it.
void Gemm(Transpose trans_a, Transpose trans_b, size_t m, size_t n, size_t k,
          float alpha, const float* a, size_t lda, const float* b, size_t ldb,
          float beta, float* c, size_t ldc);

// Same result as Gemm, always on the calling thread.
void GemmSerial(Transpose trans_a, Transpose trans_b, size_t m, size_t n,
                size_t k, float alpha, const float* a, size_t lda,
                const float* b, size_t ldb, float beta, float* c, size_t ldc);

// Scalar reference (double accumulation), for tests.
void GemmReference(Transpose trans_a, Transpose trans_b, size_t m, size_t n,
                   size_t k, float alpha, const float* a, size_t lda,
                   const float* b, size_t ldb, float beta, float* c,
                   size_t ldc);

// y (m) = alpha * A (m x n) * x (n) + beta * y         trans == kNo
// y (n) = alpha * A^T (n x m) * x (m) + beta * y       trans == kYes
// A is stored m x n with row stride lda. beta == 0 never reads y.
void Gemv(Transpose trans, size_t m, size_t n, float alpha, const float* a,
          size_t lda, const float* x, float beta, float* y);
void GemvReference(Transpose trans, size_t m, size_t n, float alpha,
                   const float* a, size_t lda, const float* x, float beta,
                   float* y);

// Name of the Highway target Gemm dispatches to, e.g. "AVX3".
const char* GemmTargetName();

// Float lanes and vector registers of the target Gemm dispatches to: what
// its configuration is chosen for (ChooseGemmConfig, GemmTestConfigs).
VectorUnit GemmVectorUnit();

// The target, the tiles and blocking Gemm chose for it on this CPU, and the
// CPU, as one line for benchmark output and run manifests: "AVX2: tile 6x2v
// kc 256 ..., blocked ...; AuthenticAMD zen3 (family 25 model 1), L1d ...".
std::string GemmConfigDescription();

// Tests and tuning benchmarks: Gemm uses `config` while this lives (a tile
// the target lacks falls back to 6x2). Not for concurrent use with Gemm
// calls on other threads; nest in scope order.
class ScopedGemmConfig {
 public:
  explicit ScopedGemmConfig(const GemmConfig& config);
  ~ScopedGemmConfig();
  ScopedGemmConfig(const ScopedGemmConfig&) = delete;
  ScopedGemmConfig& operator=(const ScopedGemmConfig&) = delete;

 private:
  GemmConfig config_;
  const GemmConfig* previous_;
};

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_GEMM_H_
