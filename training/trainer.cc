#include "training/trainer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "data/shuffle.h"
#include "kernels/reduce.h"

namespace trainbus::training {

FloatSplit ToFloatSplit(const data::Dataset& d, uint64_t limit) {
  FloatSplit s;
  s.count = limit == 0 ? d.count : std::min<size_t>(d.count, limit);
  s.size = d.image_size();
  s.x.resize(s.count * s.size);
  s.labels.resize(s.count);
  // A division, not a multiplication by 1/255: the two differ in the last
  // bit for half the values, and the recorded accuracies come from this.
  for (size_t i = 0; i < s.count * s.size; ++i) s.x[i] = d.pixels[i] / 255.0f;
  for (size_t i = 0; i < s.count; ++i) s.labels[i] = d.labels[i];
  return s;
}

absl::StatusOr<double> Accuracy(const nn::Model& model,
                                const FloatSplit& split,
                                std::vector<float>* probs) {
  if (split.count == 0) {
    return absl::InvalidArgumentError(
        "accuracy of an empty split; pass at least one sample");
  }
  const size_t classes = model.spec().classes;
  probs->resize(split.count * classes);
  TB_RETURN_IF_ERROR(model.Predict(split.x.data(), split.count, probs->data()));
  return static_cast<double>(kernels::CountCorrect(
             probs->data(), split.labels.data(), split.count, classes)) /
         static_cast<double>(split.count);
}

absl::Status CheckFits(const nn::ModelSpec& spec, const FloatSplit& train) {
  if (spec.InputSize() != train.size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "spec '", nn::FormatModelSpec(spec), "' expects ", spec.InputSize(),
        " inputs, the data has ", train.size,
        " pixels per image; set input="));
  }
  if (spec.batch_size > train.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch ", spec.batch_size, " is larger than the ",
                     train.count, " training samples; lower batch="));
  }
  return absl::OkStatus();
}

absl::Status TrainAndEvaluate(nn::Model& model, const FloatSplit& train,
                              const FloatSplit& test,
                              const TrainOptions& options,
                              std::vector<EpochResult>* history) {
  TB_RETURN_IF_ERROR(CheckFits(model.spec(), train));
  using Clock = std::chrono::steady_clock;
  const size_t b = model.spec().batch_size;
  const size_t in = train.size;
  std::vector<float> xb(b * in), probs;
  std::vector<int32_t> yb(b);
  data::EpochShuffler shuffler(train.count, options.shuffle_seed);
  const size_t batches = train.count / b;
  const size_t progress_every = std::max<size_t>(1, batches / 20);
  for (uint64_t epoch = 1; epoch <= options.epochs; ++epoch) {
    const Clock::time_point start = Clock::now();
    double loss_sum = 0;
    for (size_t step = 0; step < batches; ++step) {
      for (size_t j = 0; j < b; ++j) {
        const size_t i = shuffler.Next().index;
        std::memcpy(xb.data() + j * in, train.x.data() + i * in,
                    in * sizeof(float));
        yb[j] = train.labels[i];
      }
      TB_ASSIGN_OR_RETURN(const float loss,
                          model.TrainStep(xb.data(), yb.data(), b));
      loss_sum += loss;
      if (options.on_progress && (step + 1) % progress_every == 0) {
        options.on_progress(
            {epoch, step + 1, batches, (step + 1) * b,
             std::chrono::duration<double>(Clock::now() - start).count()});
      }
    }
    while (shuffler.position() != 0) shuffler.Next();
    EpochResult r;
    r.epoch = epoch;
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.samples = batches * b;
    r.loss = batches ? loss_sum / batches : 0;
    r.evaluated = epoch == options.epochs ||
                  (options.evaluate_every != 0 &&
                   epoch % options.evaluate_every == 0);
    if (r.evaluated) {
      TB_ASSIGN_OR_RETURN(r.accuracy, Accuracy(model, test, &probs));
    }
    history->push_back(r);
    if (options.on_epoch) options.on_epoch(r);
  }
  return absl::OkStatus();
}

}  // namespace trainbus::training
