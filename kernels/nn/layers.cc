#include "kernels/nn/layers.h"

#include <cstring>

#include "kernels/activation.h"
#include "kernels/gemm.h"
#include "kernels/optim.h"
#include "kernels/pool.h"

namespace trainbus::nn::internal {

using kernels::Gemm;
using kernels::Transpose;  // GEMM operand flag

void Dense::Forward(const float* in, float* out, size_t batch) {
  // out (B, OUT) = in (B, IN) * W^T; at B = 1 this is a GEMV over W's rows.
  Gemm(Transpose::kNo, Transpose::kYes, batch, out_, in_, 1.0f, in, in_, w_,
       in_, 0.0f, out, out_);
  kernels::BiasForward(out, b_, batch, out_, relu_);
}

void Dense::Backward(const float* in, const float* out, float* dout,
                     float* din, size_t batch) {
  if (relu_) kernels::ReluBackward(out, dout, dout, batch * out_);
  // din (B, IN) = dout (B, OUT) * W (OUT, IN), before W changes.
  if (din != nullptr) {
    Gemm(Transpose::kNo, Transpose::kNo, batch, in_, out_, 1.0f, dout, out_,
         w_, in_, 0.0f, din, in_);
  }
  // dW (OUT, IN) = dout^T (OUT, B) * in (B, IN); a rank-1 update at B = 1.
  Gemm(Transpose::kYes, Transpose::kNo, out_, in_, batch, 1.0f, dout, out_, in,
       in_, 0.0f, dw_, in_);
  kernels::BiasBackward(dout, batch, out_, db_);
}

bool Dense::BackwardSgd(const float* in, const float* out, float* dout,
                        float* din, float lr) {
  if (relu_) kernels::ReluBackward(out, dout, dout, out_);
  if (din != nullptr) {  // din = W^T dout, with W before the update.
    kernels::Gemv(Transpose::kYes, out_, in_, 1.0f, w_, in_, dout, 0.0f, din);
  }
  kernels::SgdOuterProductStep(w_, out_, in_, dout, in, lr);
  for (size_t o = 0; o < out_; ++o) b_[o] -= lr * dout[o];
  return true;
}

kernels::ConvShape Conv::Chunk(size_t batch, size_t begin) const {
  kernels::ConvShape s = shape_;
  s.batch = std::min(chunk_, batch - begin);
  s.batch_begin = begin;
  s.batch_total = batch;
  return s;
}

void Conv::Reserve(size_t batch) {
  kernels::ConvShape s = shape_;
  s.batch = std::min(batch, chunk_);
  if (col_.size() < s.ColSize()) {
    col_ = kernels::AlignedFloats(s.ColSize());
    dcol_ = kernels::AlignedFloats(s.ColSize());
  }
}

void Conv::Forward(const float* in, float* out, size_t batch) {
  const size_t ohw = shape_.OutHeight() * shape_.OutWidth();
  const size_t ldo = batch * ohw;  // out (OC, B*OH*OW)
  for (size_t b0 = 0; b0 < batch; b0 += chunk_) {
    const kernels::ConvShape s = Chunk(batch, b0);
    kernels::Im2Col(s, in, col_.data());
    // out[:, chunk] (OC, cols) = weight (OC, kk) * col (kk, cols)
    Gemm(Transpose::kNo, Transpose::kNo, s.out_channels, s.ColCols(),
         s.ColRows(), 1.0f, w_, s.ColRows(), col_.data(), s.ColStride(), 0.0f,
         out + b0 * ohw, ldo);
  }
  kernels::ChannelBiasForward(out, b_, shape_.out_channels, ldo,
                              /*relu=*/true);
}

void Conv::Backward(const float* in, const float* out, float* dout, float* din,
                    size_t batch) {
  const size_t ohw = shape_.OutHeight() * shape_.OutWidth();
  const size_t ldo = batch * ohw;
  const size_t oc = shape_.out_channels, kk = shape_.ColRows();
  kernels::ReluBackward(out, dout, dout, oc * ldo);
  kernels::ChannelBiasBackward(dout, oc, ldo, db_);
  for (size_t b0 = 0; b0 < batch; b0 += chunk_) {
    const kernels::ConvShape s = Chunk(batch, b0);
    const float* dchunk = dout + b0 * ohw;
    kernels::Im2Col(s, in, col_.data());
    // dW (OC, kk) (+)= dout[:, chunk] * col^T, chunks summed in order.
    Gemm(Transpose::kNo, Transpose::kYes, oc, kk, s.ColCols(), 1.0f, dchunk,
         ldo, col_.data(), s.ColStride(), b0 == 0 ? 0.0f : 1.0f, dw_, kk);
    if (din == nullptr) continue;
    // dcol (kk, cols) = W^T (kk, OC) * dout[:, chunk] (OC, cols)
    Gemm(Transpose::kYes, Transpose::kNo, kk, s.ColCols(), oc, 1.0f, w_, kk,
         dchunk, ldo, 0.0f, dcol_.data(), s.ColStride());
    kernels::Col2Im(s, dcol_.data(), din);
  }
}

void MaxPool::Reserve(size_t batch) {
  const size_t need = out_size() * batch;
  if (argmax_.size() < need) argmax_.resize(need);
}

void MaxPool::Forward(const float* in, float* out, size_t batch) {
  kernels::MaxPool2x2Forward(in, channels_ * batch, height_, width_, out,
                             argmax_.data());
}

void MaxPool::Backward(const float* in, const float* out, float* dout,
                       float* din, size_t batch) {
  if (din == nullptr) return;
  kernels::MaxPool2x2Backward(dout, argmax_.data(), channels_ * batch,
                              height_, width_, din);
}

namespace {
// dst[(c, b)] = src[(b, c)] for planes of `plane` floats.
void SwapMajor(const float* src, float* dst, size_t outer, size_t inner,
               size_t plane) {
  for (size_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < inner; ++i) {
      std::memcpy(dst + (i * outer + o) * plane, src + (o * inner + i) * plane,
                  plane * sizeof(float));
    }
  }
}
}  // namespace

void Relayout::Forward(const float* in, float* out, size_t batch) {
  if (to_cm_) {
    SwapMajor(in, out, batch, channels_, plane_);  // (B, C) -> (C, B)
  } else {
    SwapMajor(in, out, channels_, batch, plane_);  // (C, B) -> (B, C)
  }
}

void Relayout::Backward(const float* in, const float* out, float* dout,
                         float* din, size_t batch) {
  if (din == nullptr) return;
  if (to_cm_) {
    SwapMajor(dout, din, channels_, batch, plane_);
  } else {
    SwapMajor(dout, din, batch, channels_, plane_);
  }
}

void Dropout::Reserve(size_t batch) {
  if (mask_.size() < features_ * batch) {
    mask_ = kernels::AlignedFloats(features_ * batch);
  }
}

void Dropout::Forward(const float* in, float* out, size_t batch) {
  const size_t n = features_ * batch;
  if (!training_) {
    std::memcpy(out, in, n * sizeof(float));
    return;
  }
  kernels::DropoutMask(mask_.data(), n, rate_, seed_);
  kernels::Multiply(in, mask_.data(), out, n);
}

void Dropout::Backward(const float* in, const float* out, float* dout,
                       float* din, size_t batch) {
  if (din == nullptr) return;
  const size_t n = features_ * batch;
  if (!training_) {
    std::memcpy(din, dout, n * sizeof(float));
    return;
  }
  kernels::Multiply(dout, mask_.data(), din, n);
}

}  // namespace trainbus::nn::internal
