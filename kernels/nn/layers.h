// Layers that the networks in network.h are built from (internal to nn).
//
// A layer maps a batch of inputs to outputs and back. Parameters and their
// gradients live in the network's flat arrays; a layer holds pointers into
// them. Scratch (pool argmax, dropout masks) is sized by Reserve() so that
// no step allocates (conv scratch comes from the kernels' pool). Backward overwrites (does not accumulate) gradients and
// may modify dout in place.
//
// Layouts: dense layers use (B, features); conv and pool layers use
// channel-major (C, B, H, W), see kernels/conv.h; Relayout converts.
#ifndef TRAINBUS_KERNELS_NN_LAYERS_H_
#define TRAINBUS_KERNELS_NN_LAYERS_H_

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/conv.h"
#include "kernels/random.h"
#include "kernels/scratch.h"

namespace trainbus::nn::internal {

class Layer {
 public:
  virtual ~Layer() = default;
  // Floats per sample of the output.
  virtual size_t out_size() const = 0;
  // Grows scratch to hold `batch` samples.
  virtual void Reserve(size_t batch) {}
  virtual void Forward(const float* in, float* out, size_t batch) = 0;
  // in/out as in Forward; din may be null (no input gradient needed).
  virtual void Backward(const float* in, const float* out, float* dout,
                        float* din, size_t batch) = 0;
  virtual bool has_params() const { return false; }
  // Called before each forward pass: training or inference, and a seed
  // unique to this training step (for layers that draw random numbers).
  virtual void SetMode(bool training, uint64_t step_seed) {}
  // Batch 1, plain SGD: backward fused with the weight update (no gradient
  // buffer pass). Returns false if the layer has no such path; then the
  // caller runs Backward and the optimizer as usual.
  virtual bool BackwardSgd(const float* in, const float* out, float* dout,
                           float* din, float lr) {
    return false;
  }
  // Called once after each training step's forward pass: layers with
  // running statistics (batch norm) fold in the batch's.
  virtual void CommitStatistics() {}
};

// out (B, OUT) = in (B, IN) * weight^T (OUT, IN) + bias, optional ReLU.
// b (and db) null: no bias (a batch norm follows).
class Dense : public Layer {
 public:
  Dense(size_t in, size_t out, bool relu, float* w, float* b, float* dw,
        float* db)
      : in_(in), out_(out), relu_(relu), w_(w), b_(b), dw_(dw), db_(db) {}
  size_t out_size() const override { return out_; }
  void Forward(const float* in, float* out, size_t batch) override;
  void Backward(const float* in, const float* out, float* dout, float* din,
                size_t batch) override;
  bool BackwardSgd(const float* in, const float* out, float* dout, float* din,
                   float lr) override;
  bool has_params() const override { return true; }

 private:
  size_t in_, out_;
  bool relu_;
  float *w_, *b_, *dw_, *db_;
};

// k x k conv (valid or same) + bias + ReLU, channel-major in and out. Each
// pass uses the method kernels::ChooseConvMethods picks for the shape
// (direct or im2col + GEMM); the choice depends only on the shape, so results
// are independent of the thread count and reproducible. Without relu and
// with b null (a batch norm follows) it is the bare convolution.
class Conv : public Layer {
 public:
  Conv(const kernels::ConvShape& shape, bool relu, float* w, float* b,
       float* dw, float* db)
      : shape_(shape), relu_(relu), w_(w), b_(b), dw_(dw), db_(db),
        zero_bias_(b == nullptr ? shape.out_channels : 0, 0.0f) {}
  size_t out_size() const override {
    return shape_.out_channels * shape_.OutHeight() * shape_.OutWidth();
  }
  void Forward(const float* in, float* out, size_t batch) override;
  void Backward(const float* in, const float* out, float* dout, float* din,
                size_t batch) override;
  bool has_params() const override { return true; }

 private:
  kernels::ConvShape Batch(size_t batch) const;

  kernels::ConvShape shape_;  // batch is set per call
  bool relu_;
  float *w_, *b_, *dw_, *db_;
  std::vector<float> zero_bias_;  // the kernels' bias when b_ is null
};

// Batch norm and ReLU, per channel of channel-major (C, B, plane) input
// (after a conv) or per feature of (B, C) input (after a dense layer;
// transposed to (C, B) around the kernels). Training normalises by the
// batch's statistics and CommitStatistics folds them into the running mean
// and variance; inference normalises by the running ones.
class BatchNorm : public Layer {
 public:
  struct Tensors {
    float *gamma, *beta, *dgamma, *dbeta;  // dgamma, dbeta null: inference
    float *running_mean, *running_var;
  };
  BatchNorm(size_t channels, size_t plane, bool channel_major, float momentum,
            const Tensors& t)
      : channels_(channels), plane_(plane), channel_major_(channel_major),
        momentum_(momentum), t_(t), mean_(channels), var_(channels),
        inv_std_(channels) {}
  size_t out_size() const override { return channels_ * plane_; }
  void Reserve(size_t batch) override;
  void SetMode(bool training, uint64_t) override { training_ = training; }
  void Forward(const float* in, float* out, size_t batch) override;
  void Backward(const float* in, const float* out, float* dout, float* din,
                size_t batch) override;
  bool has_params() const override { return true; }
  void CommitStatistics() override;

  static constexpr float kEpsilon = 1e-5f;

 private:
  size_t channels_, plane_;
  bool channel_major_;
  float momentum_;
  Tensors t_;
  bool training_ = false;
  size_t batch_ = 0;  // of the last training forward pass
  std::vector<float> mean_, var_, inv_std_;
  // (C, B) copies of the input, output and gradient when not channel-major.
  kernels::AlignedFloats in_t_, out_t_, grad_t_;
};

// 2x2 max-pool over channel-major planes.
class MaxPool : public Layer {
 public:
  MaxPool(size_t channels, size_t height, size_t width)
      : channels_(channels), height_(height), width_(width) {}
  size_t out_size() const override {
    return channels_ * (height_ / 2) * (width_ / 2);
  }
  void Reserve(size_t batch) override;
  void Forward(const float* in, float* out, size_t batch) override;
  void Backward(const float* in, const float* out, float* dout, float* din,
                size_t batch) override;

 private:
  size_t channels_, height_, width_;
  std::vector<uint8_t> argmax_;
};

// Inverted dropout on (B, features): in training each value is zeroed with
// probability `rate` and the rest scaled by 1 / (1 - rate); in inference it
// is the identity. The mask is a function of (step seed, index), so training
// is reproducible whatever the thread count.
class Dropout : public Layer {
 public:
  // salt tells the dropout layers of one network apart (their masks must
  // not be correlated).
  Dropout(size_t features, float rate, uint64_t salt)
      : features_(features), rate_(rate), salt_(salt) {}
  size_t out_size() const override { return features_; }
  void Reserve(size_t batch) override;
  void SetMode(bool training, uint64_t step_seed) override {
    training_ = training;
    seed_ = kernels::Mix64(step_seed ^ (salt_ * 0x9E3779B97F4A7C15ull));
  }
  void Forward(const float* in, float* out, size_t batch) override;
  void Backward(const float* in, const float* out, float* dout, float* din,
                size_t batch) override;

 private:
  size_t features_;
  float rate_;
  uint64_t salt_;
  bool training_ = false;
  uint64_t seed_ = 0;
  kernels::AlignedFloats mask_;
};

// (B, C, P) <-> (C, B, P): to_channel_major converts sample-major input to
// the conv layout; the reverse flattens conv features for dense layers.
class Relayout : public Layer {
 public:
  Relayout(size_t channels, size_t plane, bool to_channel_major)
      : channels_(channels), plane_(plane), to_cm_(to_channel_major) {}
  size_t out_size() const override { return channels_ * plane_; }
  void Forward(const float* in, float* out, size_t batch) override;
  void Backward(const float* in, const float* out, float* dout, float* din,
                size_t batch) override;

 private:
  size_t channels_, plane_;
  bool to_cm_;
};

}  // namespace trainbus::nn::internal

#endif  // TRAINBUS_KERNELS_NN_LAYERS_H_
