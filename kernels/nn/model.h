// Trainable classifiers (softmax regression, MLP, CNN) behind one interface.
//
// The model actor, the serving gateway and the registry only see this file:
//
//   auto spec = trainbus::nn::ParseModelSpec("mlp:hidden=256,lr=0.05,batch=32");
//   auto model = trainbus::nn::MakeModel(*spec);
//   absl::StatusOr<float> loss = (*model)->TrainStep(x, labels, 32);
//   (*model)->Predict(x, 32, probs);  // probs: (32, 10)
//
// Inputs are float pixels in [0, 1], row-major (batch, channels*height*width).
#ifndef TRAINBUS_KERNELS_NN_MODEL_H_
#define TRAINBUS_KERNELS_NN_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbus::nn {

// The architectures. To add one, add an enumerator here, then its planner
// (defaults, accepted keys, layer plan) and a row of kArchitectures in
// kernels/nn/arch.cc; nothing else compares architectures.
enum class Arch { kSoftmax, kMlp, kCnn };

// "softmax", "mlp", "cnn": the names specs, reports and checkpoints use.
absl::string_view ArchName(Arch arch);
// The inverse of ArchName; nullopt for an unknown name.
std::optional<Arch> ArchFromName(absl::string_view name);
// "softmax, mlp or cnn", for error messages.
std::string ArchNameList();

// Specs whose parameter count exceeds ModelSpec::max_params are refused by
// MakeModel (before anything is allocated); raise it with max_params=N.
inline constexpr uint64_t kDefaultMaxParams = 50'000'000;

struct ModelSpec {
  Arch arch = Arch::kSoftmax;
  std::vector<uint32_t> hidden;      // mlp: hidden widths, e.g. {256}
  std::string optimizer = "sgd";     // "sgd", "momentum" or "adam"
  float learning_rate = 0.01f;
  float momentum = 0.9f;             // "momentum"; beta1 for "adam"
  float weight_decay = 0.0f;
  uint32_t batch_size = 1;           // training mini-batch (1 = online SGD)
  // Weight averaging: 0 = off, else the decay of an exponential moving
  // average of the weights (e.g. 0.999, about the last 1000 steps). Predict
  // and checkpoints' served weights use the average; training continues on
  // the raw iterate. Removes most of SGD's step-to-step noise.
  float average = 0.0f;
  // Learning-rate schedule: 0 = constant, else the rate halves every
  // lr_halflife steps, smoothly: lr_t = lr * 2^(-t / lr_halflife). An
  // exponential schedule needs no total step count, so it suits streams.
  uint64_t lr_halflife = 0;
  // Regularisation and augmentation, training only (Predict is unaffected):
  // inverted dropout with this rate on the output of every hidden dense
  // layer (mlp, or cnn with hidden=...); and the probability of
  // mirroring a training image left-right (for mirror-symmetric classes such
  // as Fashion-MNIST's clothes, not for digits).
  float dropout = 0.0f;
  float hflip = 0.0f;
  // Translate each training image by a random offset in [-shift, shift]
  // pixels in both directions (zero fill).
  uint32_t shift = 0;
  // Batch norm (key bn=1) after every conv and hidden dense layer, before
  // its ReLU (such layers then have no bias: the norm's shift replaces it).
  // Training normalises by the batch's statistics and moves running ones by
  // bn_momentum (running += m * (batch - running)); Predict uses the running
  // ones, and checkpoints carry them. Needs batch >= 2.
  bool batch_norm = false;
  float bn_momentum = 0.1f;
  // Learning-rate schedule over the run's schedule_steps training steps
  // (key steps; runners that know the run's length fill it in):
  //   "constant"  lr (or halved every lr_halflife steps, see above);
  //   "onecycle"  linear from lr/25 up to lr over the first `warmup`
  //               fraction of the steps, then linear down to 0;
  //   "cosine"    linear from 0 up to lr over `warmup`, then cosine to 0.
  // After schedule_steps the rate stays at its final value (0).
  std::string schedule = "constant";
  uint64_t schedule_steps = 0;
  float warmup = 0.25f;
  // Label smoothing: the training target is (1 - eps) on the label plus
  // eps / classes on every class (the loss reported is the smoothed one).
  float label_smoothing = 0.0f;
  // Test-time augmentation: Predict averages the probabilities of each
  // image and its left-right mirror (key tta=flip). Off by default: it is
  // right for mirror-symmetric classes (clothes), wrong for digits/letters.
  bool tta_flip = false;
  uint64_t seed = 1;                 // weight initialisation
  uint32_t channels = 1, height = 28, width = 28, classes = 10;
  // cnn: output channels of the 5x5 conv layers (each conv -> ReLU -> 2x2
  // max-pool); empty means the planner's default (arch.cc). `hidden` lists the
  // fully connected ReLU layers between the last pool and the 10-way output.
  std::vector<uint32_t> conv;
  // cnn: the conv kernel size (odd), and zero padding: "valid" (none; each
  // conv shrinks the plane by kernel - 1) or "same" (keeps the plane size).
  uint32_t kernel = 5;
  bool same_padding = false;
  // The parameter budget (see kDefaultMaxParams).
  uint64_t max_params = kDefaultMaxParams;

  size_t InputSize() const { return size_t{channels} * height * width; }
};

// Parses "arch[:key=value,...]", keys: hidden (e.g. 256 or 256x128), opt, lr,
// momentum, wd, batch, seed, avg, halflife, dropout, hflip, shift, bn,
// bn_momentum, sched, steps, warmup, smooth, tta, plus conv
// (cnn, e.g. 8x16), kernel, padding, input (CxHxW, e.g. 1x28x28), classes and
// max_params. Unknown keys and bad values are errors that name the key and
// list the accepted ones. "mlp" without hidden means hidden=256.
absl::StatusOr<ModelSpec> ParseModelSpec(std::string_view text);
// The inverse of ParseModelSpec (round-trips).
std::string FormatModelSpec(const ModelSpec& spec);

// What a spec costs, from its layer plan (nothing is allocated).
struct ModelCost {
  uint64_t parameters = 0;
  uint64_t weight_bytes = 0;    // the parameters as float32
  // Weights, gradients, optimizer state and averaged weights, plus the
  // activations of one training batch.
  uint64_t training_bytes = 0;
  uint64_t forward_macs = 0;    // multiply-adds per sample, forward
  uint64_t training_macs = 0;   // forward and backward, per sample
  uint64_t max_params = kDefaultMaxParams;

  bool over_budget() const { return parameters > max_params; }
  // Over 1 G multiply-adds per training sample: a few samples/s per core.
  bool very_costly() const { return training_macs >= 1'000'000'000; }
  // One line for runners to print at start, e.g. "6.0 k parameters (23 KiB),
  // 0.33 M multiply-adds per sample forward, 0.9 M per training step".
  std::string Summary() const;
  // Why an over-budget spec is refused, and how to raise the budget.
  std::string BudgetError() const;
};
// Errors are the spec's (e.g. an input too small for its convs), not the
// budget's: an over-budget spec is described too.
absl::StatusOr<ModelCost> EstimateModelCost(const ModelSpec& spec);

class Model {
 public:
  virtual ~Model() = default;

  virtual const ModelSpec& spec() const = 0;
  virtual size_t ParameterCount() const = 0;
  // Training steps taken so far.
  virtual uint64_t steps() const = 0;
  // The learning rate the next step uses (spec().learning_rate under the
  // spec's schedule, see LearningRateAt).
  float CurrentLearningRate() const;

  // Forward, backward and one optimizer step on a mini-batch.
  // x (batch, InputSize()), labels (batch) in [0, classes).
  // Returns the mean cross-entropy loss before the step. A non-finite loss is
  // an error naming the arch and the step; the weights are left unchanged.
  virtual absl::StatusOr<float> TrainStep(const float* x,
                                          const int32_t* labels,
                                          size_t batch) = 0;

  // x (batch, InputSize()) -> probs (batch, classes), softmax probabilities.
  // With spec().average > 0 this scores with the averaged weights.
  virtual absl::Status Predict(const float* x, size_t batch,
                               float* probs) const = 0;

  // Checkpoint bytes: versioned header, spec, shapes, float32 weights, and a
  // checksum. LoadModel(model.SaveCheckpoint()) reproduces the model exactly.
  virtual std::string SaveCheckpoint() const = 0;

  // Test-then-train in one forward pass: probs (batch, classes) receives the
  // predictions made before the update (prequential evaluation), then the
  // step is taken as in TrainStep. probs may be null. They come from the
  // training forward pass: the raw (not averaged) weights, and with dropout
  // and augmentation applied when the spec asks for them.
  virtual absl::StatusOr<float> TrainStepWithPredictions(const float* x,
                                                         const int32_t* labels,
                                                         size_t batch,
                                                         float* probs) {
    if (probs != nullptr) {
      absl::Status s = Predict(x, batch, probs);
      if (!s.ok()) return s;
    }
    return TrainStep(x, labels, batch);
  }
};

// The learning rate of `spec` at training step `step` (0-based): its
// schedule, or the halflife decay under the constant schedule.
float LearningRateAt(const ModelSpec& spec, uint64_t step);

// Refuses a spec above its parameter budget with its size and how to raise it.
absl::StatusOr<std::unique_ptr<Model>> MakeModel(const ModelSpec& spec);
// Corrupt, truncated or mismatched bytes give an error, never a crash.
absl::StatusOr<std::unique_ptr<Model>> LoadModel(std::string_view checkpoint);
// The checkpoint's weights, optimizer state and step count under `spec`
// instead of the spec it was saved with: new hyperparameters (lr, momentum,
// wd, ...) for a trained model. `spec` must give the same tensors (layers,
// optimizer and averaging), else it is an error naming the first mismatch.
absl::StatusOr<std::unique_ptr<Model>> LoadModel(std::string_view checkpoint,
                                                 const ModelSpec& spec);

// The Highway target the kernels dispatch to on this machine (e.g. "AVX2").
// Weights trained on different targets may differ in their last bits, so run
// manifests record it.
const char* KernelTargetName();

// The tiles and blocking Gemm chose for this CPU and target (e.g. "AVX2:
// tile 6x2v kc 256 ...; AuthenticAMD zen3 ..."). They fix the summation
// order, so run manifests record them next to the target.
std::string KernelConfigDescription();

// Where two checkpoints of the same architecture differ the most.
struct CheckpointDifference {
  bool identical = false;        // every byte equal
  double max_abs_difference = 0; // over every tensor, optimizer state too
  std::string tensor;            // where it is, e.g. "fc1.weight"
  size_t index = 0;              // element index inside `tensor`
  uint64_t steps_a = 0, steps_b = 0;
};
// Error when either is not a valid checkpoint or their tensors' names and
// shapes differ (different architectures cannot be compared weight by weight).
absl::StatusOr<CheckpointDifference> CompareCheckpoints(std::string_view a,
                                                        std::string_view b);

}  // namespace trainbus::nn

#endif  // TRAINBUS_KERNELS_NN_MODEL_H_
