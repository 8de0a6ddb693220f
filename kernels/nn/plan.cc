// NetworkPlan, PlanNetwork (the checks every architecture shares) and the
// cost of a plan.
#include "kernels/nn/plan.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kernels/nn/arch.h"
#include "base/status_macros.h"
#include "kernels/nn/layers.h"

namespace trainbus::nn {
namespace internal {

size_t NetworkPlan::AddTensor(std::string name, std::vector<uint32_t> shape,
                              Init init, size_t fan_in, size_t fan_out,
                              bool decay) {
  TensorInfo t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.size = 1;
  for (uint32_t d : t.shape) t.size *= d;
  t.offset = parameter_count_;
  t.decay = decay;
  t.init = init;
  t.fan_in = fan_in;
  t.fan_out = fan_out;
  parameter_count_ += t.size;
  tensors_.push_back(std::move(t));
  return tensors_.size() - 1;
}

void NetworkPlan::AddBatchNorm(const std::string& name, size_t channels,
                               size_t plane, bool channel_major) {
  LayerPlan p;
  p.kind = LayerPlan::kBatchNorm;
  p.a = channels;
  p.b = plane;
  p.flag = true;
  p.channel_major = channel_major;
  p.out_size = channels * plane;
  const uint32_t c = static_cast<uint32_t>(channels);
  p.weight = AddTensor(name + ".bn_gamma", {c}, Init::kOne, 0, 0, false);
  p.bias = AddTensor(name + ".bn_beta", {c}, Init::kZero, 0, 0, false);
  p.buffer = buffers_.size();
  for (const char* stat : {".bn_running_mean", ".bn_running_var"}) {
    TensorInfo t;
    t.name = name + stat;
    t.shape = {c};
    t.offset = buffer_count_;
    t.size = channels;
    t.init = buffers_.size() == p.buffer ? Init::kZero : Init::kOne;
    buffer_count_ += channels;
    buffers_.push_back(std::move(t));
  }
  layers_.push_back(p);
}

void NetworkPlan::AddDense(const std::string& name, size_t in, size_t out,
                           bool relu) {
  // Dropout goes on the output of every hidden dense layer (the classic
  // place; conv features are left alone).
  if (spec_.dropout > 0.0f && after_hidden_dense_) {
    LayerPlan d;
    d.kind = LayerPlan::kDropout;
    d.a = in;
    d.rate = spec_.dropout;
    d.out_size = in;
    layers_.push_back(d);
  }
  LayerPlan p;
  p.kind = LayerPlan::kDense;
  p.a = in;
  p.b = out;
  const bool norm = relu && spec_.batch_norm;  // hidden layers only
  p.flag = relu && !norm;
  p.out_size = out;
  p.weight = AddTensor(name + ".weight",
                       {static_cast<uint32_t>(out), static_cast<uint32_t>(in)},
                       relu ? Init::kHe : Init::kXavier, in, out, true);
  p.bias = norm ? kNoTensor
                : AddTensor(name + ".bias", {static_cast<uint32_t>(out)},
                            Init::kZero, in, out, false);
  layers_.push_back(p);
  if (norm) AddBatchNorm(name, out, 1, /*channel_major=*/false);
  after_hidden_dense_ = relu;
}

void NetworkPlan::AddConv(const std::string& name,
                          const kernels::ConvShape& shape) {
  LayerPlan p;
  p.kind = LayerPlan::kConv;
  p.conv = shape;
  p.conv.batch = 0;
  const uint32_t oc = static_cast<uint32_t>(shape.out_channels);
  const uint32_t k = static_cast<uint32_t>(shape.kernel);
  const size_t fan_in = shape.channels * k * k;
  p.weight = AddTensor(name + ".weight",
                       {oc, static_cast<uint32_t>(shape.channels), k, k},
                       Init::kHe, fan_in, oc * k * k, true);
  const bool norm = spec_.batch_norm;
  p.flag = !norm;
  p.bias = norm ? kNoTensor
                : AddTensor(name + ".bias", {oc}, Init::kZero, fan_in, 0, false);
  p.out_size = oc * shape.OutHeight() * shape.OutWidth();
  layers_.push_back(p);
  if (norm) {
    AddBatchNorm(name, oc, shape.OutHeight() * shape.OutWidth(),
                 /*channel_major=*/true);
  }
}

void NetworkPlan::AddPool(size_t channels, size_t height, size_t width) {
  LayerPlan p;
  p.kind = LayerPlan::kPool;
  p.a = channels;
  p.b = height;
  p.c = width;
  p.out_size = channels * (height / 2) * (width / 2);
  layers_.push_back(p);
}

void NetworkPlan::AddTranspose(size_t channels, size_t plane,
                               bool to_channel_major) {
  LayerPlan p;
  p.kind = LayerPlan::kTranspose;
  p.a = channels;
  p.b = plane;
  p.flag = to_channel_major;
  p.out_size = channels * plane;
  layers_.push_back(p);
}

void NetworkPlan::AddClassifier(size_t features) {
  for (size_t i = 0; i < spec_.hidden.size(); ++i) {
    AddDense(absl::StrCat("fc", i + 1), features, spec_.hidden[i], true);
    features = spec_.hidden[i];
  }
  AddDense(spec_.hidden.empty() ? std::string("fc")
                                : absl::StrCat("fc", spec_.hidden.size() + 1),
           features, spec_.classes, false);
}

size_t NetworkPlan::optimizer_states() const {
  if (spec_.optimizer == "adam") return 2;
  return spec_.optimizer == "momentum" ? 1 : 0;
}

size_t NetworkPlan::state_count() const {
  return optimizer_states() + (spec_.average > 0.0f ? 1 : 0);
}

const char* NetworkPlan::state_name(size_t i) const {
  if (i >= optimizer_states()) return "average";
  if (spec_.optimizer == "momentum") return "momentum";
  return i == 0 ? "adam_m" : "adam_v";
}

ModelCost NetworkPlan::Cost() const {
  ModelCost cost;
  cost.parameters = parameter_count_;
  cost.weight_bytes = uint64_t{4} * parameter_count_;
  cost.max_params = spec_.max_params;
  const uint64_t batch = std::max<uint32_t>(spec_.batch_size, 1);
  // Activations and scratch of one training batch, as Network allocates them.
  uint64_t activations = 0, widest = spec_.InputSize(), scratch = 0;
  bool params_below = false;
  for (const LayerPlan& p : layers_) {
    activations += p.out_size * batch;
    widest = std::max<uint64_t>(widest, p.out_size);
    uint64_t macs = 0;
    if (p.kind == LayerPlan::kDense) macs = uint64_t{p.a} * p.b;
    if (p.kind == LayerPlan::kConv) {
      const uint64_t per_image =
          p.conv.ColRows() * p.conv.OutHeight() * p.conv.OutWidth();
      macs = per_image * p.conv.out_channels;
      kernels::ConvShape shape = p.conv;
      shape.batch = batch;
      scratch = std::max<uint64_t>(scratch, kernels::ConvScratchFloats(shape));
    }
    if (p.kind == LayerPlan::kPool || p.kind == LayerPlan::kDropout) {
      scratch += p.out_size * batch;  // argmax bytes, dropout mask
    }
    cost.forward_macs += macs;
    // Backward: the weight gradient, and the input gradient unless no
    // layer below has parameters.
    cost.training_macs += macs * (params_below ? 3 : 2);
    params_below = params_below || macs > 0;
  }
  const uint64_t states = state_count();
  cost.training_bytes =
      4 * (parameter_count_ * (2 + states) + buffer_count_ + activations +
           2 * widest * batch +
           scratch + uint64_t{spec_.classes} * batch);
  return cost;
}

namespace {

// Batch norm, the schedule, label smoothing and test-time flips.
absl::Status CheckRecipeKeys(const ModelSpec& s, const std::string& text) {
  if (s.batch_norm && (s.batch_size < 2 || !(s.bn_momentum > 0.0f) ||
                       s.bn_momentum > 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bn=1 in '", text, "' needs batch >= 2 (batch statistics) and "
        "bn_momentum in (0, 1]; raise batch= or drop bn"));
  }
  if (s.schedule != "constant" && s.schedule != "onecycle" &&
      s.schedule != "cosine") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown schedule '", s.schedule, "' in '", text,
        "'; use sched=constant, onecycle or cosine"));
  }
  if (s.schedule != "constant" && (s.schedule_steps == 0 || s.lr_halflife != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sched=", s.schedule, " in '", text, "' needs steps=N, the run's "
        "total training steps (epochs x samples / batch), and no halflife"));
  }
  if (!(s.warmup >= 0.0f && s.warmup < 1.0f) ||
      !(s.label_smoothing >= 0.0f && s.label_smoothing < 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid warmup or smooth in '", text,
        "': need warmup in [0, 1) and smooth in [0, 1)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<NetworkPlan> PlanNetwork(const ModelSpec& in) {
  ModelSpec s = in;
  const std::string text = FormatModelSpec(s);
  const ArchPlanner* found = FindPlanner(s.arch);
  if (found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown arch ", static_cast<int>(s.arch), "; use ",
                     ArchNameList()));
  }
  const ArchPlanner& planner = *found;
  if (s.optimizer != "sgd" && s.optimizer != "momentum" &&
      s.optimizer != "adam") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown optimizer '", s.optimizer, "' in '", text,
        "'; use sgd, momentum or adam"));
  }
  if (!(s.average >= 0.0f && s.average < 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid avg in '", text, "': need a decay in [0, 1), e.g. 0.999"));
  }
  if (!(s.learning_rate > 0.0f) || !std::isfinite(s.learning_rate) ||
      !(s.momentum >= 0.0f && s.momentum < 1.0f) || !(s.weight_decay >= 0.0f) ||
      s.batch_size == 0 || s.classes < 2 || s.InputSize() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid hyperparameters in '", text,
        "': need lr > 0, momentum in [0, 1), wd >= 0, batch >= 1, "
        "classes >= 2 and a non-empty input"));
  }
  if (!(s.dropout >= 0.0f && s.dropout < 1.0f) ||
      !(s.hflip >= 0.0f && s.hflip <= 1.0f) ||
      s.shift >= std::min(s.height, s.width)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid dropout, hflip or shift in '", text,
        "': need dropout in [0, 1), hflip in [0, 1] and shift smaller than "
        "the image"));
  }
  TB_RETURN_IF_ERROR(CheckRecipeKeys(s, text));
  if (planner.takes_conv() && (s.kernel % 2 == 0 || s.kernel > 15)) {
    return absl::InvalidArgumentError(absl::StrCat(
        ArchName(s.arch), " '", text, "': kernel ", s.kernel,
        " is not an odd size in [1, 15]; use e.g. kernel=3 or kernel=5"));
  }
  planner.ApplyDefaults(&s);
  if (s.dropout > 0.0f && s.hidden.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dropout applies to hidden dense layers and '", text,
        "' has none; add hidden=N (", ArchNamesWhere(&ArchPlanner::takes_hidden),
        ") or drop the dropout key"));
  }
  if (!planner.takes_hidden() && !s.hidden.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "arch '", ArchName(s.arch), "' takes no hidden layers ('", text,
        "'); use arch ", ArchNamesWhere(&ArchPlanner::takes_hidden)));
  }
  if (!planner.takes_conv() && !s.conv.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("conv layers need arch ",
                     ArchNamesWhere(&ArchPlanner::takes_conv), " ('", text, "')"));
  }
  NetworkPlan plan(s);
  TB_RETURN_IF_ERROR(planner.Plan(text, &plan));
  return plan;
}

}  // namespace internal

namespace {

// 1234 -> "1.2 k", 4.3e9 -> "4.3 G".
std::string Count(double v) {
  static constexpr const char* kUnits[] = {"", " k", " M", " G", " T", " P"};
  size_t u = 0;
  while (v >= 1000 && u + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f", v)
                : absl::StrFormat("%.1f%s", v, kUnits[u]);
}

std::string Bytes(double v) {
  static constexpr const char* kUnits[] = {" B", " KiB", " MiB", " GiB",
                                           " TiB", " PiB"};
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f%s", v, kUnits[u])
                : absl::StrFormat("%.1f%s", v, kUnits[u]);
}

}  // namespace

std::string ModelCost::BudgetError() const {
  return absl::StrCat(
      Count(parameters), " parameters (", Bytes(weight_bytes),
      " of weights) is above the budget of ", Count(max_params),
      " parameters; use fewer or narrower layers, or raise the budget by "
      "adding max_params=", parameters, " to the model spec");
}

std::string ModelCost::Summary() const {
  std::string out = absl::StrCat(
      Count(parameters), " parameters (", Bytes(weight_bytes),
      " of weights, about ", Bytes(training_bytes), " to train), ",
      Count(forward_macs), " multiply-adds per sample forward, ",
      Count(training_macs), " per training sample");
  if (over_budget()) {
    absl::StrAppend(&out, "; above the budget of ", Count(max_params),
                    " parameters");
  }
  if (very_costly()) {
    absl::StrAppend(&out,
                    "; very costly: expect a few samples/s per core, use "
                    "fewer or narrower layers for a quick run");
  }
  return out;
}

absl::StatusOr<ModelCost> EstimateModelCost(const ModelSpec& spec) {
  TB_ASSIGN_OR_RETURN(internal::NetworkPlan plan, internal::PlanNetwork(spec));
  return plan.Cost();
}

}  // namespace trainbus::nn
