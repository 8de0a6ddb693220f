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

kernels::ConvShape Conv::Batch(size_t batch) const {
  kernels::ConvShape s = shape_;
  s.batch = batch;
  return s;
}

void Conv::Forward(const float* in, float* out, size_t batch) {
  const kernels::ConvShape s = Batch(batch);
  kernels::ConvForward(s, kernels::ChooseConvMethods(s).forward, in, w_, b_,
                       /*relu=*/true, out);
}

void Conv::Backward(const float* in, const float* out, float* dout, float* din,
                    size_t batch) {
  const kernels::ConvShape s = Batch(batch);
  const kernels::ConvMethods m = kernels::ChooseConvMethods(s);
  const size_t n = s.out_channels * batch * s.OutHeight() * s.OutWidth();
  kernels::ReluBackward(out, dout, dout, n);
  kernels::ChannelBiasBackward(dout, s.out_channels, n / s.out_channels, db_);
  kernels::ConvBackwardWeights(s, m.backward_weights, in, dout, dw_);
  if (din != nullptr) {
    kernels::ConvBackwardData(s, m.backward_data, w_, dout, din);
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
