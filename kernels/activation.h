// Layer element-wise ops: bias add (per column or per channel) fused with an
// optional ReLU, ReLU forward/backward, the bias gradients, and dropout.
//
//   // Dense layer output (B, OUT) after the GEMM:
//   BiasForward(out, bias, B, OUT, /*relu=*/true);
//   ...
//   ReluBackward(out, dout, dout, B * OUT);   // in place
//   BiasBackward(dout, B, OUT, dbias);        // dbias = column sums
//
// Sums run in a fixed order, so results do not depend on thread count.
#ifndef TRAINBUS_KERNELS_ACTIVATION_H_
#define TRAINBUS_KERNELS_ACTIVATION_H_

#include <cstddef>
#include <cstdint>

namespace trainbus::kernels {

// x (rows, n): x[i, j] += bias[j], then max(x, 0) if relu.
void BiasForward(float* x, const float* bias, size_t rows, size_t n,
                 bool relu);
// x (channels, len): x[c, j] += bias[c], then max(x, 0) if relu.
void ChannelBiasForward(float* x, const float* bias, size_t channels,
                        size_t len, bool relu);
// dbias[j] = sum_i dout[i, j] (overwrites dbias).
void BiasBackward(const float* dout, size_t rows, size_t n, float* dbias);
// dbias[c] = sum_j dout[c, j] (overwrites dbias).
void ChannelBiasBackward(const float* dout, size_t channels, size_t len,
                         float* dbias);
// y = max(x, 0); y may alias x.
void ReluForward(const float* x, float* y, size_t n);
// dx = dy where y > 0 else 0, y the forward output; dx may alias dy.
void ReluBackward(const float* y, const float* dy, float* dx, size_t n);

// Inverted dropout: mask[i] = 0 with probability `rate`, else 1 / (1 - rate),
// drawn from Mix64(seed + i) so the mask depends only on (seed, i), not on
// threads. rate in [0, 1).
void DropoutMask(float* mask, size_t n, float rate, uint64_t seed);
// out[i] = a[i] * b[i]; out may alias a or b. Applies a dropout mask forward
// (out = x * mask) and backward (dx = dy * mask).
void Multiply(const float* a, const float* b, float* out, size_t n);

void MultiplyReference(const float* a, const float* b, float* out, size_t n);
void BiasForwardReference(float* x, const float* bias, size_t rows, size_t n,
                          bool relu);
void ChannelBiasForwardReference(float* x, const float* bias, size_t channels,
                                 size_t len, bool relu);
void BiasBackwardReference(const float* dout, size_t rows, size_t n,
                           float* dbias);
void ChannelBiasBackwardReference(const float* dout, size_t channels,
                                  size_t len, float* dbias);
void ReluForwardReference(const float* x, float* y, size_t n);
void ReluBackwardReference(const float* y, const float* dy, float* dx,
                           size_t n);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_ACTIVATION_H_
