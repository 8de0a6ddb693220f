// The one Model implementation: a stack of layers (layers.h) with parameters,
// gradients and optimizer state in flat arrays, and every activation buffer
// allocated up front for the spec's batch size (a larger batch grows them
// once; no step allocates otherwise). The layers come from the
// architecture's planner (arch.cc); with the default cnn (8x16) on 28x28:
// 28 -> 24 -> 12 -> 8 -> 4, so the classifier sees 16 x 4 x 4 = 256
// features; 6.0 k parameters, about 0.33 M multiply-adds per sample forward.
//
// Not thread-safe: one model per actor (Predict reuses scratch buffers).
#ifndef TRAINBUS_KERNELS_NN_NETWORK_H_
#define TRAINBUS_KERNELS_NN_NETWORK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/nn/layers.h"
#include "kernels/nn/model.h"
#include "kernels/nn/plan.h"
#include "kernels/scratch.h"

namespace trainbus::nn::internal {

class Network final : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<Network>> Create(const ModelSpec& spec);

  const ModelSpec& spec() const override { return spec_; }
  size_t ParameterCount() const override { return param_count_; }
  uint64_t steps() const override { return steps_; }
  absl::StatusOr<float> TrainStep(const float* x, const int32_t* labels,
                                  size_t batch) override;
  absl::StatusOr<float> TrainStepWithPredictions(const float* x,
                                                 const int32_t* labels,
                                                 size_t batch,
                                                 float* probs) override;
  absl::Status Predict(const float* x, size_t batch,
                       float* probs) const override;
  std::string SaveCheckpoint() const override;

  // Forward and backward without the optimizer step: gradients() then holds
  // d(mean loss)/d(params). For gradient checks.
  absl::StatusOr<float> ComputeGradients(const float* x, const int32_t* labels,
                                         size_t batch);
  // Mean loss, forward only.
  absl::StatusOr<float> Loss(const float* x, const int32_t* labels,
                             size_t batch) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  float* mutable_params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  const float* gradients() const { return grads_.data(); }
  // State arrays (ParameterCount() floats each): none for sgd, velocity for
  // momentum, m and v for adam; then the averaged weights if spec().average.
  size_t state_count() const { return state_.size(); }
  float* mutable_state(size_t i) { return state_[i].data(); }
  const float* state(size_t i) const { return state_[i].data(); }
  const char* state_name(size_t i) const;
  // Batch norm's running statistics (saved in checkpoints, not trained).
  const std::vector<TensorInfo>& buffer_tensors() const {
    return buffer_tensors_;
  }
  float* mutable_buffers() { return buffers_.data(); }
  const float* buffers() const { return buffers_.data(); }
  void set_steps(uint64_t steps) { steps_ = steps; }

 private:
  explicit Network(const ModelSpec& spec) : spec_(spec) {}
  absl::Status Build();
  // Layers reading weights from `params` (grads may be null: inference only).
  // Batch norm layers share the one set of running statistics.
  std::vector<std::unique_ptr<Layer>> BindLayers(float* params, float* grads);
  // Grows the activations and scratch to `batch` samples; ResourceExhausted
  // (nothing kept) when they do not fit.
  absl::Status EnsureCapacity(size_t batch) const;
  void GrowScratch(size_t batch) const;  // may throw std::bad_alloc
  absl::Status Validate(const float* x, const int32_t* labels,
                        size_t batch) const;
  // Returns the logits (batch, classes).
  const float* Forward(const std::vector<std::unique_ptr<Layer>>& layers,
                       const float* x, size_t batch, bool training) const;
  // spec().hflip / shift: returns the batch with each image mirrored
  // left-right with probability hflip and translated by a random offset in
  // [-shift, shift]^2 (zero fill), in augmented_; or x itself. Seeded by
  // (seed, step, sample).
  const float* Augment(const float* x, size_t batch);
  // Predict's softmax of one chunk, averaged with its mirror's under
  // spec().tta_flip.
  void PredictChunk(const std::vector<std::unique_ptr<Layer>>& layers,
                    const float* x, size_t n, float* probs) const;
  // fused_lr > 0: layers that can fuse backward with plain SGD do so and
  // are marked in fused_; Step() skips their tensors.
  void Backward(const float* x, const int32_t* labels, size_t batch,
                float fused_lr);
  void Step();
  // Folds the new iterate into the averaged weights (spec().average > 0).
  void Average();
  absl::StatusOr<float> ForwardLoss(const float* x, const int32_t* labels,
                                    size_t batch);

  ModelSpec spec_;
  std::vector<TensorInfo> tensors_;
  size_t param_count_ = 0;
  kernels::AlignedFloats params_, grads_;
  std::vector<kernels::AlignedFloats> state_;
  std::vector<TensorInfo> buffer_tensors_;
  kernels::AlignedFloats buffers_;
  std::vector<LayerPlan> plans_;
  std::vector<std::unique_ptr<Layer>> layers_;
  // Bound to the averaged weights (the last state array); empty if off.
  std::vector<std::unique_ptr<Layer>> average_layers_;
  std::vector<bool> needs_din_;
  std::vector<size_t> layer_of_tensor_;  // tensor index -> layer index
  std::vector<bool> fused_;              // per layer, this step
  // Scratch, grown by EnsureCapacity (also from const Predict).
  mutable size_t capacity_ = 0;
  mutable std::vector<kernels::AlignedFloats> acts_;
  mutable kernels::AlignedFloats grad_a_, grad_b_, probs_;
  mutable kernels::AlignedFloats mirrored_, mirrored_probs_;  // tta_flip
  kernels::AlignedFloats augmented_;
  uint64_t steps_ = 0;
};

// Parses checkpoint bytes (see checkpoint.cc for the format); with `respec`,
// builds the network from it instead of the stored spec.
absl::StatusOr<std::unique_ptr<Network>> LoadNetwork(
    std::string_view bytes, const ModelSpec* respec = nullptr);

}  // namespace trainbus::nn::internal

#endif  // TRAINBUS_KERNELS_NN_NETWORK_H_
