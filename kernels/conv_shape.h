// The shape of a 2-D convolution (stride 1, zero padding of `pad` pixels on
// every side: 0 = "valid", (kernel - 1) / 2 = "same") on channel-major
// (C, B, H, W) activations with (OC, C, K, K) weights; shared by the im2col
// (conv.h) and direct (conv_direct.h) kernels.
#ifndef TRAINBUS_KERNELS_CONV_SHAPE_H_
#define TRAINBUS_KERNELS_CONV_SHAPE_H_

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

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_CONV_SHAPE_H_
