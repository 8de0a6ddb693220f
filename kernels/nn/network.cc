#include "kernels/nn/network.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "kernels/gemm.h"
#include "kernels/optim.h"
#include "kernels/random.h"
#include "kernels/softmax_xent.h"

namespace trainbus::nn {
namespace internal {
namespace {

constexpr size_t kMaxPredictChunk = 256;

}  // namespace

absl::StatusOr<std::unique_ptr<Network>> Network::Create(
    const ModelSpec& spec) {
  auto net = std::unique_ptr<Network>(new Network(spec));
  // The budget keeps weights bounded; activations of a huge input or batch
  // can still exceed memory, and that is an error too, not an abort.
  try {
    TB_RETURN_IF_ERROR(net->Build());
  } catch (const std::bad_alloc&) {
    absl::StatusOr<ModelCost> cost = EstimateModelCost(spec);
    return absl::ResourceExhaustedError(absl::StrCat(
        "out of memory building model '", FormatModelSpec(spec), "'",
        cost.ok() ? absl::StrCat(" (", cost->Summary(), ")") : std::string(),
        "; use a smaller batch, input or fewer/narrower layers"));
  }
  return net;
}

absl::Status Network::Build() {
  TB_ASSIGN_OR_RETURN(NetworkPlan plan, PlanNetwork(spec_));
  spec_ = plan.spec();  // with the architecture's defaults
  const ModelCost cost = plan.Cost();
  if (cost.over_budget()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", FormatModelSpec(spec_), "' is too large: ",
        cost.BudgetError()));
  }
  // Weights fit the budget; activations of a huge input or batch may still
  // not fit in memory: refuse rather than wait for the OOM killer.
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  const uint64_t memory = pages > 0 && page > 0 ? uint64_t(pages) * page : 0;
  if (memory != 0 && cost.training_bytes > memory) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "model '", FormatModelSpec(spec_), "' does not fit in this machine's ",
        memory >> 20, " MiB of memory: ", cost.Summary(),
        "; use a smaller batch, a smaller input or fewer or narrower layers"));
  }
  const ModelSpec& s = spec_;
  plans_ = plan.layers();
  tensors_ = plan.tensors();
  param_count_ = plan.parameter_count();
  buffer_tensors_ = plan.buffers();
  buffers_ = kernels::AlignedFloats(plan.buffer_count());
  for (const TensorInfo& t : buffer_tensors_) {
    if (t.init == Init::kOne) {
      std::fill(buffers_.data() + t.offset,
                buffers_.data() + t.offset + t.size, 1.0f);
    }
  }

  params_ = kernels::AlignedFloats(param_count_);
  grads_ = kernels::AlignedFloats(param_count_);
  for (size_t i = 0; i < plan.state_count(); ++i) {
    state_.emplace_back(param_count_);
  }
  // Seeded init: each tensor gets its own stream derived from the seed.
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorInfo& t = tensors_[i];
    const uint64_t seed = s.seed * 0x9E3779B97F4A7C15ull + i + 1;
    float* w = params_.data() + t.offset;
    switch (t.init) {
      case Init::kHe:
        kernels::HeNormalInit(w, t.size, t.fan_in, seed);
        break;
      case Init::kXavier:
        kernels::XavierUniformInit(w, t.size, t.fan_in, t.fan_out, seed);
        break;
      case Init::kOne:
        std::fill(w, w + t.size, 1.0f);
        break;
      case Init::kZero:
        break;  // AlignedFloats is zeroed
    }
  }
  layers_ = BindLayers(params_.data(), grads_.data());
  bool params_below = false;
  for (size_t i = 0; i < plans_.size(); ++i) {
    const LayerPlan& p = plans_[i];
    needs_din_.push_back(params_below);
    if (p.kind == LayerPlan::kDense || p.kind == LayerPlan::kConv ||
        p.kind == LayerPlan::kBatchNorm) {
      layer_of_tensor_.resize(tensors_.size());
      layer_of_tensor_[p.weight] = i;
      if (p.bias != kNoTensor) layer_of_tensor_[p.bias] = i;
    }
    params_below = params_below || layers_[i]->has_params();
  }
  if (s.average > 0.0f) {
    float* avg = state_.back().data();
    std::memcpy(avg, params_.data(), param_count_ * sizeof(float));
    average_layers_ = BindLayers(avg, nullptr);
  }
  fused_.assign(layers_.size(), false);
  return absl::OkStatus();
}

std::vector<std::unique_ptr<Layer>> Network::BindLayers(float* params,
                                                        float* grads) {
  std::vector<std::unique_ptr<Layer>> layers;
  for (size_t i = 0; i < plans_.size(); ++i) {
    const LayerPlan& p = plans_[i];
    const TensorInfo& wt = tensors_[p.weight];
    const bool has_bias = p.bias != kNoTensor;
    const size_t bias_at = has_bias ? tensors_[p.bias].offset : 0;
    float* w = params + wt.offset;
    float* b = has_bias ? params + bias_at : nullptr;
    float* dw = grads ? grads + wt.offset : nullptr;
    float* db = grads && has_bias ? grads + bias_at : nullptr;
    switch (p.kind) {
      case LayerPlan::kDense:
        layers.push_back(std::make_unique<Dense>(p.a, p.b, p.flag, w, b, dw, db));
        break;
      case LayerPlan::kConv:
        layers.push_back(std::make_unique<Conv>(p.conv, p.flag, w, b, dw, db));
        break;
      case LayerPlan::kBatchNorm: {
        float* running = buffers_.data();
        const BatchNorm::Tensors t{
            w, b, dw, db, running + buffer_tensors_[p.buffer].offset,
            running + buffer_tensors_[p.buffer + 1].offset};
        layers.push_back(std::make_unique<BatchNorm>(
            p.a, p.b, p.channel_major, spec_.bn_momentum, t));
        break;
      }
      case LayerPlan::kPool:
        layers.push_back(std::make_unique<MaxPool>(p.a, p.b, p.c));
        break;
      case LayerPlan::kTranspose:
        layers.push_back(std::make_unique<Relayout>(p.a, p.b, p.flag));
        break;
      case LayerPlan::kDropout:
        layers.push_back(std::make_unique<Dropout>(p.a, p.rate, i + 1));
        break;
    }
  }
  return layers;
}

const char* Network::state_name(size_t i) const {
  return NetworkPlan(spec_).state_name(i);
}

absl::Status Network::EnsureCapacity(size_t batch) const {
  if (batch <= capacity_) return absl::OkStatus();
  // Activations are sized by the batch of the call, on first use: a model
  // loaded only to predict never holds its training batch's activations.
  try {
    GrowScratch(batch);
  } catch (const std::bad_alloc&) {
    capacity_ = 0;
    acts_.clear();
    return absl::ResourceExhaustedError(absl::StrCat(
        "out of memory for the activations of a batch of ", batch,
        " in model '", FormatModelSpec(spec_),
        "'; use a smaller batch or a smaller model"));
  }
  return absl::OkStatus();
}

void Network::GrowScratch(size_t batch) const {
  capacity_ = 0;
  size_t widest = spec_.InputSize();
  acts_.clear();
  for (const auto& layer : layers_) {
    layer->Reserve(batch);
    acts_.emplace_back(layer->out_size() * batch);
    widest = std::max(widest, layer->out_size());
  }
  for (const auto& layer : average_layers_) layer->Reserve(batch);
  grad_a_ = kernels::AlignedFloats(widest * batch);
  grad_b_ = kernels::AlignedFloats(widest * batch);
  probs_ = kernels::AlignedFloats(size_t{spec_.classes} * batch);
  capacity_ = batch;
}

absl::Status Network::Validate(const float* x, const int32_t* labels,
                               size_t batch) const {
  if (batch == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(ArchName(spec_.arch), ": batch is 0; pass at least one sample"));
  }
  if (x == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        ArchName(spec_.arch), ": x is null; pass (batch, ", spec_.InputSize(),
        ") floats"));
  }
  if (labels != nullptr) {
    for (size_t i = 0; i < batch; ++i) {
      if (labels[i] < 0 || static_cast<uint32_t>(labels[i]) >= spec_.classes) {
        return absl::InvalidArgumentError(absl::StrCat(
            ArchName(spec_.arch), ": label ", labels[i], " of sample ", i,
            " is outside [0, ", spec_.classes,
            "); unlabelled samples must not be trained on"));
      }
    }
  }
  return absl::OkStatus();
}

const float* Network::Forward(
    const std::vector<std::unique_ptr<Layer>>& layers, const float* x,
    size_t batch, bool training) const {
  const uint64_t step_seed =
      kernels::Mix64(spec_.seed * 0xD1B54A32D192ED03ull + steps_);
  for (const auto& layer : layers) layer->SetMode(training, step_seed);
  const float* in = x;
  for (size_t i = 0; i < layers.size(); ++i) {
    layers[i]->Forward(in, acts_[i].data(), batch);
    in = acts_[i].data();
  }
  return in;
}

absl::StatusOr<float> Network::ForwardLoss(const float* x,
                                           const int32_t* labels,
                                           size_t batch) {
  if (labels == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(ArchName(spec_.arch), ": labels are null; training needs labels"));
  }
  absl::Status v = Validate(x, labels, batch);
  if (!v.ok()) return v;
  TB_RETURN_IF_ERROR(EnsureCapacity(batch));
  const float* logits = Forward(layers_, x, batch, /*training=*/true);
  const float loss = kernels::SoftmaxCrossEntropyForward(
      logits, labels, batch, spec_.classes, probs_.data(),
      spec_.label_smoothing);
  if (!std::isfinite(loss)) {
    return absl::InvalidArgumentError(absl::StrCat(
        ArchName(spec_.arch), " model '", FormatModelSpec(spec_), "': non-finite loss (",
        loss, ") at step ", steps_ + 1,
        "; weights left unchanged. Check the inputs for NaN/inf or lower lr"));
  }
  return loss;
}

void Network::Backward(const float* x, const int32_t* labels, size_t batch,
                       float fused_lr) {
  float* dcur = grad_a_.data();
  float* dnext = grad_b_.data();
  kernels::SoftmaxCrossEntropyBackward(
      probs_.data(), labels, batch, spec_.classes,
      1.0f / static_cast<float>(batch), dcur, spec_.label_smoothing);
  for (size_t i = layers_.size(); i-- > 0;) {
    const float* in = i == 0 ? x : acts_[i - 1].data();
    float* din = needs_din_[i] ? dnext : nullptr;
    fused_[i] = fused_lr > 0.0f &&
                layers_[i]->BackwardSgd(in, acts_[i].data(), dcur, din, fused_lr);
    if (!fused_[i]) layers_[i]->Backward(in, acts_[i].data(), dcur, din, batch);
    std::swap(dcur, dnext);
  }
}

void Network::Step() {
  const float lr = CurrentLearningRate();
  const float wd = spec_.weight_decay;
  float* w = params_.data();
  const float* g = grads_.data();
  bool any_fused = false;
  for (bool f : fused_) any_fused = any_fused || f;
  if (spec_.optimizer == "sgd" && wd == 0.0f && !any_fused) {
    kernels::SgdStep(w, g, param_count_, lr, 0.0f);
    return;
  }
  kernels::AdamParams adam;
  adam.lr = lr;
  adam.beta1 = spec_.momentum;
  for (size_t ti = 0; ti < tensors_.size(); ++ti) {
    const TensorInfo& t = tensors_[ti];
    if (fused_[layer_of_tensor_[ti]]) continue;  // updated during Backward
    const float decay = t.decay ? wd : 0.0f;
    const size_t o = t.offset;
    if (spec_.optimizer == "sgd") {
      kernels::SgdStep(w + o, g + o, t.size, lr, decay);
    } else if (spec_.optimizer == "momentum") {
      kernels::MomentumStep(w + o, g + o, state_[0].data() + o, t.size, lr,
                            spec_.momentum, decay);
    } else {
      adam.weight_decay = decay;
      kernels::AdamStep(w + o, g + o, state_[0].data() + o,
                        state_[1].data() + o, t.size, adam, steps_ + 1);
    }
  }
}

const float* Network::Augment(const float* x, size_t batch) {
  if ((spec_.hflip <= 0.0f && spec_.shift == 0) || x == nullptr) return x;
  const size_t in = spec_.InputSize();
  const size_t h = spec_.height, w = spec_.width;
  if (augmented_.size() < batch * in) {
    augmented_ = kernels::AlignedFloats(batch * in);
  }
  const uint64_t seed =
      kernels::Mix64(spec_.seed * 0x9E6C63D0676A9A99ull + steps_);
  const int64_t span = 2 * int64_t{spec_.shift} + 1;
  for (size_t b = 0; b < batch; ++b) {
    const float* src = x + b * in;
    float* dst = augmented_.data() + b * in;
    const uint64_t r = kernels::Mix64(seed + b);
    const bool flip = kernels::UnitInterval(r) < spec_.hflip;
    // Independent bits of r for the two offsets, in [-shift, shift].
    const int64_t dy = static_cast<int64_t>((r >> 8) % span) - spec_.shift;
    const int64_t dx = static_cast<int64_t>((r >> 32) % span) - spec_.shift;
    if (!flip && dx == 0 && dy == 0) {
      std::memcpy(dst, src, in * sizeof(float));
      continue;
    }
    // dst(y, x) = src(y - dy, x' - dx), x' mirrored if flip; zero outside.
    for (size_t c = 0; c < spec_.channels; ++c) {
      const float* plane = src + c * h * w;
      float* out = dst + c * h * w;
      for (int64_t y = 0; y < static_cast<int64_t>(h); ++y) {
        const int64_t sy = y - dy;
        float* row = out + y * w;
        if (sy < 0 || sy >= static_cast<int64_t>(h)) {
          std::fill(row, row + w, 0.0f);
          continue;
        }
        const float* srow = plane + sy * w;
        for (int64_t xx = 0; xx < static_cast<int64_t>(w); ++xx) {
          const int64_t sx0 = xx - dx;
          const int64_t sx = flip ? static_cast<int64_t>(w) - 1 - sx0 : sx0;
          row[xx] = sx0 < 0 || sx0 >= static_cast<int64_t>(w) ? 0.0f : srow[sx];
        }
      }
    }
  }
  return augmented_.data();
}

void Network::Average() {
  if (average_layers_.empty()) return;
  // Early on the average would be dominated by the random init; ramp the
  // decay up as (1 + t) / (10 + t) until it reaches the configured one.
  const float t = static_cast<float>(steps_);
  const float decay = std::min(spec_.average, (1.0f + t) / (10.0f + t));
  kernels::AverageStep(state_.back().data(), params_.data(), param_count_,
                       1.0f - decay);
}

absl::StatusOr<float> Network::TrainStep(const float* x, const int32_t* labels,
                                         size_t batch) {
  return TrainStepWithPredictions(x, labels, batch, nullptr);
}

absl::StatusOr<float> Network::TrainStepWithPredictions(const float* x,
                                                        const int32_t* labels,
                                                        size_t batch,
                                                        float* probs) {
  x = Augment(x, batch);
  absl::StatusOr<float> loss = ForwardLoss(x, labels, batch);
  if (!loss.ok()) return loss;
  for (const auto& layer : layers_) layer->CommitStatistics();
  if (probs != nullptr) {
    std::memcpy(probs, probs_.data(),
                batch * spec_.classes * sizeof(float));
  }
  // Batch-1 plain SGD takes the fused path (see Dense::BackwardSgd).
  const bool fuse = batch == 1 && spec_.optimizer == "sgd" &&
                    spec_.weight_decay == 0.0f;
  Backward(x, labels, batch, fuse ? CurrentLearningRate() : 0.0f);
  Step();
  Average();
  ++steps_;
  return loss;
}

absl::StatusOr<float> Network::ComputeGradients(const float* x,
                                                const int32_t* labels,
                                                size_t batch) {
  absl::StatusOr<float> loss = ForwardLoss(x, labels, batch);
  if (!loss.ok()) return loss;
  Backward(x, labels, batch, 0.0f);
  return loss;
}

absl::StatusOr<float> Network::Loss(const float* x, const int32_t* labels,
                                    size_t batch) const {
  return const_cast<Network*>(this)->ForwardLoss(x, labels, batch);
}

absl::Status Network::Predict(const float* x, size_t batch,
                              float* probs) const {
  absl::Status v = Validate(x, nullptr, batch);
  if (!v.ok()) return v;
  if (probs == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        ArchName(spec_.arch), ": probs is null; pass room for (batch, ", spec_.classes,
        ") floats"));
  }
  const size_t chunk =
      std::max(capacity_, std::min(batch, kMaxPredictChunk));
  TB_RETURN_IF_ERROR(EnsureCapacity(chunk));
  const size_t in = spec_.InputSize();
  for (size_t start = 0; start < batch; start += chunk) {
    PredictChunk(average_layers_.empty() ? layers_ : average_layers_,
                 x + start * in, std::min(chunk, batch - start),
                 probs + start * spec_.classes);
  }
  return absl::OkStatus();
}

void Network::PredictChunk(const std::vector<std::unique_ptr<Layer>>& layers,
                           const float* x, size_t n, float* probs) const {
  const size_t classes = spec_.classes;
  kernels::Softmax(Forward(layers, x, n, /*training=*/false), n, classes,
                   probs);
  if (!spec_.tta_flip) return;
  const size_t w = spec_.width, rows = n * spec_.channels * spec_.height;
  if (mirrored_.size() < rows * w) {
    mirrored_ = kernels::AlignedFloats(capacity_ * spec_.InputSize());
    mirrored_probs_ = kernels::AlignedFloats(capacity_ * classes);
  }
  for (size_t r = 0; r < rows; ++r) {
    std::reverse_copy(x + r * w, x + (r + 1) * w, mirrored_.data() + r * w);
  }
  float* flipped = mirrored_probs_.data();
  kernels::Softmax(Forward(layers, mirrored_.data(), n, /*training=*/false), n,
                   classes, flipped);
  for (size_t i = 0; i < n * classes; ++i) {
    probs[i] = 0.5f * (probs[i] + flipped[i]);
  }
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<Model>> MakeModel(const ModelSpec& spec) {
  absl::StatusOr<std::unique_ptr<internal::Network>> net =
      internal::Network::Create(spec);
  if (!net.ok()) return net.status();
  return std::unique_ptr<Model>(std::move(*net));
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(std::string_view checkpoint) {
  absl::StatusOr<std::unique_ptr<internal::Network>> net =
      internal::LoadNetwork(checkpoint);
  if (!net.ok()) return net.status();
  return std::unique_ptr<Model>(std::move(*net));
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(std::string_view checkpoint,
                                                 const ModelSpec& spec) {
  absl::StatusOr<std::unique_ptr<internal::Network>> net =
      internal::LoadNetwork(checkpoint, &spec);
  if (!net.ok()) return net.status();
  return std::unique_ptr<Model>(std::move(*net));
}

// Gemm carries most of the arithmetic, and every kernel dispatches alike.
const char* KernelTargetName() { return kernels::GemmTargetName(); }

std::string KernelConfigDescription() {
  return kernels::GemmConfigDescription();
}

}  // namespace trainbus::nn
