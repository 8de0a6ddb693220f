// User feedback for a served model: `POST /v1/models/{m}:feedback` turns
// {"image":{"b64":...},"label":7} or {"prediction_id":...,"label":7} into a
// labelled sample and hands it to a publisher (serving/continual.h puts it
// on the bus resource feedback/{m}). No CAF here: the REST layer calls it.
//
//   RecentPredictions recent(4096);
//   Feedback feedback(&recent, publish);      // publish: LabelledExample ->
//   offset RestApi api(models, &feedback);           // :classify/:predict
//   answers
//                                             // carry "prediction_ids"
//   feedback.FromPrediction(id, spec, 7);     // what the :feedback route does
//
// Prediction ids count up from the server's start time in microseconds, so
// an id from before a restart does not name a new prediction by accident.
// The ring keeps the last `capacity` inputs; an older id is NotFound.
#ifndef TRAINBUS_SERVING_FEEDBACK_H_
#define TRAINBUS_SERVING_FEEDBACK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kernels/nn/model.h"

namespace trainbus::serving {

// A sample a user labelled. Pixels are bytes (value * 255, rounded), the
// form of a bus Sample.
struct LabelledExample {
  std::vector<uint8_t> pixels;
  std::vector<uint32_t> shape;  // {height, width}, or {c, h, w} for c > 1
  int32_t label = 0;
  uint64_t prediction_id = 0;  // 0: posted as an image
  int64_t predicted_by = 0;    // the version that made that prediction
};

// Publishes one example; returns its offset in the feedback resource.
using FeedbackPublisher =
    std::function<absl::StatusOr<uint64_t>(LabelledExample)>;

class RecentPredictions {
 public:
  explicit RecentPredictions(size_t capacity);

  // Remembers each input of x (batch, input_size) made by `version`;
  // returns their ids in order.
  std::vector<uint64_t> Remember(int64_t version, const float* x, size_t batch,
                                 size_t input_size);

  struct Entry {
    uint64_t id = 0;
    int64_t version = 0;
    std::vector<uint8_t> pixels;
  };
  // NotFound for an id never issued or already evicted.
  absl::StatusOr<Entry> Find(uint64_t id) const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_);
  std::vector<Entry> ring_ ABSL_GUARDED_BY(mu_);  // id % capacity_
};

class Feedback {
 public:
  // `recent` must outlive this.
  Feedback(RecentPredictions* recent, FeedbackPublisher publish)
      : recent_(recent), publish_(std::move(publish)) {}

  RecentPredictions* recent() const { return recent_; }

  // x holds spec.InputSize() floats in [0, 1].
  absl::StatusOr<uint64_t> FromPixels(const std::vector<float>& x,
                                      const nn::ModelSpec& spec,
                                      int64_t label) const;
  // The input of a recent prediction, with the user's label.
  absl::StatusOr<uint64_t> FromPrediction(uint64_t id,
                                          const nn::ModelSpec& spec,
                                          int64_t label) const;

 private:
  absl::StatusOr<uint64_t> Publish(LabelledExample example,
                                   const nn::ModelSpec& spec,
                                   int64_t label) const;

  RecentPredictions* recent_;
  FeedbackPublisher publish_;
};

// Floats in [0, 1] to bytes (round to nearest, clamped).
std::vector<uint8_t> ToBytes(const float* x, size_t n);

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_FEEDBACK_H_
