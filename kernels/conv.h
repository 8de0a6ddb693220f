// 2-D convolution (stride 1, zero padding; shapes in conv_shape.h) forward
// and backward, each pass by one of two methods chosen per shape:
// im2col + GEMM (below), or the direct kernels of conv_direct.h.
//
// Activations are channel-major, (C, B, H, W): one GEMM covers the whole
// batch and its output (OC, B, OH, OW) is already the next layer's input
// layout. Weights are (OC, C, K, K) = (OC, C*K*K).
//
//   ConvShape s{/*batch=*/64, /*channels=*/1, 28, 28, /*out_channels=*/16, 5};
//   const ConvMethods m = ChooseConvMethods(s);
//   ConvForward(s, m.forward, in, weight, bias, /*relu=*/true, out);
//   ConvBackwardWeights(s, m.backward_weights, in, dout, dweight);
//   ConvBackwardData(s, m.backward_data, weight, dout, din);
#ifndef TRAINBUS_KERNELS_CONV_H_
#define TRAINBUS_KERNELS_CONV_H_

#include <cstddef>

#include "kernels/conv_shape.h"

namespace trainbus::kernels {

// in (C, B, H, W) -> col (C*K*K, B*OH*OW), row stride ColStride().
void Im2Col(const ConvShape& s, const float* in, float* col);
// din (C, B, H, W) = the sum of col entries that read each input (overwrites
// the slice's planes only).
void Col2Im(const ConvShape& s, const float* col, float* din);

enum class ConvMethod { kIm2col, kDirect };
const char* ConvMethodName(ConvMethod method);  // "im2col", "direct"

struct ConvMethods {
  ConvMethod forward, backward_data, backward_weights;
};
// The rule, from single-thread interleaved runs of conv_benchmark on AMD EPYC
// (Zen 3, AVX2; see BENCHMARKS.md): forward always direct (1.6-3.6x
// im2col); backward data direct only with >= 4 input channels and "same"-
// like padding (else im2col, 1.1-1.7x faster); backward weights direct
// (1.3-1.7x) except one input channel with output rows that are not whole
// vectors. Depends on the shape only, so a run is reproducible.
ConvMethods ChooseConvMethods(const ConvShape& s);

// The passes on a whole batch (s.batch_begin = 0, s.batch_total = 0 or
// s.batch). im2col works in batch chunks whose matrix stays under 1 MiB
// (half of L2), with scratch from the kernels' pool: no step allocates
// after the first.
//
// out (OC, B, OH, OW) = conv(in (C, B, H, W), weight) + bias, ReLU'd if relu.
void ConvForward(const ConvShape& s, ConvMethod method, const float* in,
                 const float* weight, const float* bias, bool relu,
                 float* out);
// din (C, B, H, W) = input gradient for dout (OC, B, OH, OW); overwritten.
void ConvBackwardData(const ConvShape& s, ConvMethod method,
                      const float* weight, const float* dout, float* din);
// dweight (OC, C, K, K) = weight gradient for dout; overwritten.
void ConvBackwardWeights(const ConvShape& s, ConvMethod method,
                         const float* in, const float* dout, float* dweight);

// An upper bound of the scratch floats the passes take from the kernels'
// pool for shape s (memory estimates).
size_t ConvScratchFloats(const ConvShape& s);

// Direct loops (double accumulation), for tests.
void Conv2dForwardReference(const ConvShape& s, const float* in,
                            const float* weight, const float* bias,
                            float* out);
void Conv2dBackwardReference(const ConvShape& s, const float* in,
                             const float* weight, const float* dout,
                             float* dweight, float* dbias, float* din);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_CONV_H_
