// Direct 2-D convolution on channel-major (C, B, H, W) tensors: no im2col
// matrix, so the input is read a few times from L1 instead of being copied
// K*K times through L2. Same shapes and layouts as conv.h (ConvShape,
// weights (OC, C, K, K)); the slice fields (batch_begin, batch_total) are
// honoured.
//
//   DirectConvForward(s, in, weight, bias, /*relu=*/true, out);
//   DirectConvBackwardData(s, weight, dout, din);       // din overwritten
//   DirectConvBackwardWeights(s, in, dout, dweight);    // dweight overwritten
//
// Each image's planes are copied once into zero-padded scratch whose rows
// hold a whole number of vectors plus the kernel's reach, so every tap is
// one unaligned load and padding costs no branches. Threads split images
// (forward, backward data) or fixed (output-channel block, image chunk)
// pairs summed in chunk order (backward weights), so results are bitwise
// the same for any thread count.
#ifndef TRAINBUS_KERNELS_CONV_DIRECT_H_
#define TRAINBUS_KERNELS_CONV_DIRECT_H_

#include "kernels/conv_shape.h"

namespace trainbus::kernels {

// out (OC, B, OH, OW) = conv(in (C, B, H, W), weight) + bias (OC; may be
// null: zero), then max(0, .) if relu.
void DirectConvForward(const ConvShape& s, const float* in,
                       const float* weight, const float* bias, bool relu,
                       float* out);

// din (C, B, H, W) = the input gradient of the convolution for dout
// (OC, B, OH, OW): a forward convolution of dout, padded by K - 1 - pad,
// with the weights flipped and transposed. Needs pad < kernel.
void DirectConvBackwardData(const ConvShape& s, const float* weight,
                            const float* dout, float* din);

// dweight (OC, C, K, K) = sum over images and output pixels of
// dout (OC, B, OH, OW) times the input pixels each weight reads.
void DirectConvBackwardWeights(const ConvShape& s, const float* in,
                               const float* dout, float* dweight);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_CONV_DIRECT_H_
