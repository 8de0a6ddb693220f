#include "kernels/nn/layers.h"

#include <cmath>
#include <cstring>

#include "kernels/activation.h"
#include "kernels/batchnorm.h"
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
  if (b_ != nullptr || relu_) kernels::BiasForward(out, b_, batch, out_, relu_);
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
  if (b_ != nullptr) kernels::BiasBackward(dout, batch, out_, db_);
}

bool Dense::BackwardSgd(const float* in, const float* out, float* dout,
                        float* din, float lr) {
  if (relu_) kernels::ReluBackward(out, dout, dout, out_);
  if (din != nullptr) {  // din = W^T dout, with W before the update.
    kernels::Gemv(Transpose::kYes, out_, in_, 1.0f, w_, in_, dout, 0.0f, din);
  }
  kernels::SgdOuterProductStep(w_, out_, in_, dout, in, lr);
  if (b_ != nullptr) {
    for (size_t o = 0; o < out_; ++o) b_[o] -= lr * dout[o];
  }
  return true;
}

kernels::ConvShape Conv::Batch(size_t batch) const {
  kernels::ConvShape s = shape_;
  s.batch = batch;
  return s;
}

void Conv::Forward(const float* in, float* out, size_t batch) {
  const kernels::ConvShape s = Batch(batch);
  kernels::ConvForward(s, kernels::ChooseConvMethods(s).forward, in, w_,
                       b_ != nullptr ? b_ : zero_bias_.data(), relu_, out);
}

void Conv::Backward(const float* in, const float* out, float* dout, float* din,
                    size_t batch) {
  const kernels::ConvShape s = Batch(batch);
  const kernels::ConvMethods m = kernels::ChooseConvMethods(s);
  const size_t n = s.out_channels * batch * s.OutHeight() * s.OutWidth();
  if (relu_) kernels::ReluBackward(out, dout, dout, n);
  if (b_ != nullptr) {
    kernels::ChannelBiasBackward(dout, s.out_channels, n / s.out_channels, db_);
  }
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

void BatchNorm::Reserve(size_t batch) {
  if (channel_major_ || in_t_.size() >= channels_ * batch) return;
  in_t_ = kernels::AlignedFloats(channels_ * batch);
  out_t_ = kernels::AlignedFloats(channels_ * batch);
  grad_t_ = kernels::AlignedFloats(channels_ * batch);
}

void BatchNorm::Forward(const float* in, float* out, size_t batch) {
  const size_t n = batch * plane_;
  const float* x = in;
  float* y = out;
  if (!channel_major_) {  // (B, C) -> (C, B)
    SwapMajor(in, in_t_.data(), batch, channels_, 1);
    x = in_t_.data();
    y = out_t_.data();
  }
  const float* mean = mean_.data();
  if (training_) {
    kernels::BatchNormStatistics(x, channels_, n, kEpsilon, mean_.data(),
                                 var_.data(), inv_std_.data());
    batch_ = batch;
  } else {
    mean = t_.running_mean;
    for (size_t c = 0; c < channels_; ++c) {
      inv_std_[c] = 1.0f / std::sqrt(t_.running_var[c] + kEpsilon);
    }
  }
  kernels::BatchNormForward(x, channels_, n, mean, inv_std_.data(), t_.gamma,
                            t_.beta, /*relu=*/true, y);
  if (!channel_major_) SwapMajor(y, out, channels_, batch, 1);
}

void BatchNorm::Backward(const float* in, const float* out, float* dout,
                         float* din, size_t batch) {
  const size_t n = batch * plane_;
  const float* x = in;
  const float* y = out;
  float* g = dout;
  if (!channel_major_) {  // forward left (C, B) copies of x and y
    x = in_t_.data();
    y = out_t_.data();
    SwapMajor(dout, grad_t_.data(), batch, channels_, 1);
    g = grad_t_.data();
  }
  // Transposed, the gradient is computed in place and transposed back.
  float* dx = channel_major_ || din == nullptr ? din : g;
  kernels::BatchNormBackward(x, y, g, channels_, n, mean_.data(),
                             inv_std_.data(), t_.gamma, /*relu=*/true, dx,
                             t_.dgamma, t_.dbeta);
  if (!channel_major_ && din != nullptr) SwapMajor(g, din, channels_, batch, 1);
}

void BatchNorm::CommitStatistics() {
  if (batch_ == 0) return;
  kernels::BatchNormUpdateRunning(mean_.data(), var_.data(), channels_,
                                  batch_ * plane_, momentum_, t_.running_mean,
                                  t_.running_var);
  batch_ = 0;
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
