// 2-D convolution (stride 1, zero padding of `pad` pixels on every side:
// 0 = "valid", (kernel - 1) / 2 = "same"), forward and backward, by
// im2col + GEMM.
//
// Activations are channel-major, (C, B, H, W): then one GEMM covers the whole
// batch and its output (OC, B, OH, OW) is already the next layer's input
// layout. Weights are (OC, C, K, K) = (OC, C*K*K).
//
//   ConvShape s{/*batch=*/64, /*channels=*/1, 28, 28, /*out_channels=*/16, 5};
//   std::vector<float> col(s.ColSize());
//   Conv2dForward(s, in, weight, bias, out, col.data());
//   Conv2dBackward(s, col.data(), weight, dout, dweight, dbias, din, dcol);
#ifndef TRAINBUS_KERNELS_CONV_H_
#define TRAINBUS_KERNELS_CONV_H_

#include <cstddef>

namespace trainbus::kernels {

struct ConvShape {
  size_t batch, channels, height, width, out_channels, kernel;
  size_t pad = 0;  // zeros around each input plane
  // Im2Col/Col2Im on a slice of a larger batch: images [batch_begin,
  // batch_begin + batch) of tensors that hold batch_total images per channel
  // (0 = batch). Lets a caller keep the im2col matrix cache-sized.
  size_t batch_begin = 0, batch_total = 0;

  size_t TotalBatch() const { return batch_total == 0 ? batch : batch_total; }

  size_t OutHeight() const { return height + 2 * pad - kernel + 1; }
  size_t OutWidth() const { return width + 2 * pad - kernel + 1; }
  size_t InSize() const { return channels * batch * height * width; }
  size_t OutSize() const {
    return out_channels * batch * OutHeight() * OutWidth();
  }
  size_t WeightSize() const {
    return out_channels * channels * kernel * kernel;
  }
  // im2col matrix (C*K*K, B*OH*OW), rows ColStride() floats apart.
  size_t ColRows() const { return channels * kernel * kernel; }
  size_t ColCols() const { return batch * OutHeight() * OutWidth(); }
  // Rows start on a cache line, and the stride is never a multiple of 4 KiB:
  // GEMM streams many rows of this matrix at once, and 4 KiB-aliased rows
  // would all compete for the same L1 set.
  size_t ColStride() const {
    const size_t padded = (ColCols() + 15) / 16 * 16;
    return padded % 1024 == 0 ? padded + 16 : padded;
  }
  size_t ColSize() const { return ColRows() * ColStride(); }
};

// in (C, B, H, W) -> col (C*K*K, B*OH*OW), row stride ColStride().
void Im2Col(const ConvShape& s, const float* in, float* col);
// din (C, B, H, W) = the sum of col entries that read each input (overwrites
// the slice's planes only).
void Col2Im(const ConvShape& s, const float* col, float* din);

// out (OC, B, OH, OW) = weight * im2col(in) + bias. col: ColSize() scratch,
// left holding im2col(in) for the backward pass.
void Conv2dForward(const ConvShape& s, const float* in, const float* weight,
                   const float* bias, float* out, float* col);
// From col = im2col(in) and dout (OC, B, OH, OW): dweight and dbias are
// overwritten; din (C, B, H, W) too unless null. dcol: ColSize() scratch,
// unused when din is null.
void Conv2dBackward(const ConvShape& s, const float* col, const float* weight,
                    const float* dout, float* dweight, float* dbias,
                    float* din, float* dcol);

// Direct loops (double accumulation), for tests.
void Conv2dForwardReference(const ConvShape& s, const float* in,
                            const float* weight, const float* bias,
                            float* out);
void Conv2dBackwardReference(const ConvShape& s, const float* in,
                             const float* weight, const float* dout,
                             float* dweight, float* dbias, float* din);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_CONV_H_
