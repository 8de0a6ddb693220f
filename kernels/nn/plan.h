// A network's layer plan: the layers and parameter tensors a spec asks for,
// before anything is allocated (internal to nn). The architecture planners in
// arch.h fill it; Network binds it to weights, and EstimateModelCost prices it.
//
//   NetworkPlan plan(spec);
//   plan.AddDense("fc1", 784, 256, /*relu=*/true);
//   plan.parameter_count();  // 784 * 256 + 256
#ifndef TRAINBUS_KERNELS_NN_PLAN_H_
#define TRAINBUS_KERNELS_NN_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/conv.h"
#include "kernels/nn/model.h"

namespace trainbus::nn::internal {

enum class Init { kHe, kXavier, kZero, kOne };

// LayerPlan::bias of a layer without one (batch norm follows it).
inline constexpr size_t kNoTensor = ~size_t{0};

struct TensorInfo {
  std::string name;             // e.g. "fc1.weight"
  std::vector<uint32_t> shape;  // e.g. {256, 784}
  size_t offset = 0;            // into the flat parameter array
  size_t size = 0;
  bool decay = false;           // weight decay applies (weights, not biases)
  Init init = Init::kZero;
  size_t fan_in = 0, fan_out = 0;
};

// One layer of the architecture, before it is bound to weights.
struct LayerPlan {
  enum Kind { kDense, kConv, kPool, kTranspose, kDropout, kBatchNorm } kind;
  size_t a = 0, b = 0, c = 0;  // dense: in, out; pool: C, H, W; bn: C, plane
  bool flag = false;           // dense, conv, bn: relu; transpose: to
                               // channel-major
  bool channel_major = false;  // bn: (C, B, plane) input, else (B, C)
  float rate = 0.0f;           // dropout
  kernels::ConvShape conv{};
  size_t weight = 0, bias = 0;  // tensor indices (bn: gamma, beta)
  size_t buffer = 0;            // bn: running mean; running var is next
  size_t out_size = 0;          // floats per sample of the output
};

class NetworkPlan {
 public:
  // `spec` must already carry its architecture's defaults.
  explicit NetworkPlan(const ModelSpec& spec) : spec_(spec) {}

  // in (B, in) -> (B, out). Inserts a dropout layer first when the spec asks
  // for dropout and the previous dense layer was a hidden one.
  void AddDense(const std::string& name, size_t in, size_t out, bool relu);
  // (C, B, H, W) conv -> ReLU; shape.batch is ignored.
  void AddConv(const std::string& name, const kernels::ConvShape& shape);
  void AddPool(size_t channels, size_t height, size_t width);
  void AddTranspose(size_t channels, size_t plane, bool to_channel_major);
  // spec.hidden as ReLU dense layers fc1, fc2, ... on `features` inputs, then
  // the classes-way output layer (named "fc" when there is no hidden layer).
  void AddClassifier(size_t features);

  const ModelSpec& spec() const { return spec_; }
  const std::vector<LayerPlan>& layers() const { return layers_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // Non-trained state saved with the weights (batch norm's running
  // statistics), offsets into their own flat array.
  const std::vector<TensorInfo>& buffers() const { return buffers_; }
  size_t buffer_count() const { return buffer_count_; }
  size_t parameter_count() const { return parameter_count_; }
  // Optimizer state arrays the spec's optimizer keeps per parameter.
  size_t optimizer_states() const;
  // Every state array Network keeps per parameter: the optimizer's, then the
  // averaged weights when spec().average > 0.
  size_t state_count() const;
  // "momentum", "adam_m", "adam_v" or "average": the suffix of state i's
  // tensors in a checkpoint.
  const char* state_name(size_t i) const;
  ModelCost Cost() const;

 private:
  size_t AddTensor(std::string name, std::vector<uint32_t> shape, Init init,
                   size_t fan_in, size_t fan_out, bool decay);

  ModelSpec spec_;
  std::vector<LayerPlan> layers_;
  // Batch norm (and its ReLU) on the previous layer's output.
  void AddBatchNorm(const std::string& name, size_t channels, size_t plane,
                    bool channel_major);

  std::vector<TensorInfo> tensors_, buffers_;
  size_t parameter_count_ = 0, buffer_count_ = 0;
  bool after_hidden_dense_ = false;
};

// Validates the spec, applies its architecture's defaults (plan.spec() holds
// the result) and plans its layers. Does not check the parameter budget.
absl::StatusOr<NetworkPlan> PlanNetwork(const ModelSpec& spec);

}  // namespace trainbus::nn::internal

#endif  // TRAINBUS_KERNELS_NN_PLAN_H_
