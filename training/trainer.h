// Trains an nn::Model on an in-memory split for some epochs and evaluates it
// on another after each epoch: the models without the bus, so the numbers
// are the models' own (experiments/accuracy).
//
//   training::FloatSplit train = training::ToFloatSplit(splits->train, 0);
//   training::FloatSplit test = training::ToFloatSplit(splits->test, 0);
//   training::TrainOptions options;
//   options.epochs = 5;
//   std::vector<training::EpochResult> history;
//   absl::Status s = training::TrainAndEvaluate(**model, train, test, options,
//                                               &history);
#ifndef TRAINBUS_TRAINING_TRAINER_H_
#define TRAINBUS_TRAINING_TRAINER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/idx.h"
#include "kernels/nn/model.h"

namespace trainbus::training {

// A split as floats in [0, 1], x (count, size).
struct FloatSplit {
  size_t count = 0, size = 0;
  std::vector<float> x;
  std::vector<int32_t> labels;
};

// The first `limit` samples of `d` (all when 0), pixels / 255.
FloatSplit ToFloatSplit(const data::Dataset& d, uint64_t limit);

// Fraction of `split` the model classifies correctly, from one Predict over
// the whole split. `probs` is scratch (count * classes floats).
absl::StatusOr<double> Accuracy(const nn::Model& model,
                                const FloatSplit& split,
                                std::vector<float>* probs);

// Whether a model built from `spec` can train on `train`: the input size
// matches and one batch fits. The error says which key to change.
absl::Status CheckFits(const nn::ModelSpec& spec, const FloatSplit& train);

struct EpochResult {
  uint64_t epoch = 0;    // 1-based
  double loss = 0;       // mean training loss of the epoch's steps
  double accuracy = 0;   // on the test split, after the epoch (if evaluated)
  bool evaluated = true;  // false: an epoch TrainOptions::evaluate_every skips
  double seconds = 0;    // training time of the epoch (no evaluation)
  size_t samples = 0;    // trained on in the epoch
};

struct Progress {
  uint64_t epoch = 0;
  size_t steps = 0, steps_per_epoch = 0;
  size_t samples = 0;  // this epoch so far
  double seconds = 0;  // this epoch so far
};

struct TrainOptions {
  uint64_t epochs = 1;
  uint64_t shuffle_seed = 1;  // the order; initialisation is the spec's
  // Evaluate after every this many epochs, and always after the last one;
  // 0: only after the last.
  uint64_t evaluate_every = 1;
  // Called about 20 times per epoch, and after each epoch; may be empty.
  std::function<void(const Progress&)> on_progress;
  std::function<void(const EpochResult&)> on_epoch;
};

// Mini-batches of the model's batch size, drawn by a seeded EpochShuffler;
// an epoch's remainder (fewer than a batch) is skipped so that every epoch
// starts a fresh permutation. `history` gets one entry per finished epoch,
// so it holds the completed epochs when a step fails.
absl::Status TrainAndEvaluate(nn::Model& model, const FloatSplit& train,
                              const FloatSplit& test,
                              const TrainOptions& options,
                              std::vector<EpochResult>* history);

}  // namespace trainbus::training

#endif  // TRAINBUS_TRAINING_TRAINER_H_
