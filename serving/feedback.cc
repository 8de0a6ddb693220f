#include "serving/feedback.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace trainbus::serving {

std::vector<uint8_t> ToBytes(const float* x, size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const float v = std::nearbyint(std::clamp(x[i], 0.0f, 1.0f) * 255.0f);
    out[i] = static_cast<uint8_t>(v);
  }
  return out;
}

RecentPredictions::RecentPredictions(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)),
      next_id_(static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()))),
      ring_(capacity_) {}

std::vector<uint64_t> RecentPredictions::Remember(int64_t version,
                                                  const float* x, size_t batch,
                                                  size_t input_size) {
  std::vector<uint64_t> ids(batch);
  // Convert outside the lock; only the ring update is serialised.
  std::vector<std::vector<uint8_t>> pixels(batch);
  for (size_t i = 0; i < batch; ++i) {
    pixels[i] = ToBytes(x + i * input_size, input_size);
  }
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < batch; ++i) {
    ids[i] = next_id_++;
    Entry& slot = ring_[ids[i] % capacity_];
    slot.id = ids[i];
    slot.version = version;
    slot.pixels = std::move(pixels[i]);
  }
  return ids;
}

absl::StatusOr<RecentPredictions::Entry> RecentPredictions::Find(
    uint64_t id) const {
  absl::MutexLock lock(&mu_);
  const Entry& slot = ring_[id % capacity_];
  if (slot.id != id || id == 0) {
    return absl::NotFoundError(absl::StrCat(
        "no recent prediction ", id, "; the server keeps the last ", capacity_,
        " (ids come with :classify and :predict answers); post the image "
        "instead: {\"image\":{\"b64\":...},\"label\":...}"));
  }
  return slot;
}

namespace {

absl::Status CheckLabel(const nn::ModelSpec& spec, int64_t label) {
  if (label >= 0 && label < static_cast<int64_t>(spec.classes)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"label\" is ", label, "; the model's classes are 0..",
                   spec.classes - 1));
}

}  // namespace

absl::StatusOr<uint64_t> Feedback::FromPixels(const std::vector<float>& x,
                                              const nn::ModelSpec& spec,
                                              int64_t label) const {
  if (absl::Status s = CheckLabel(spec, label); !s.ok()) return s;
  LabelledExample example;
  example.pixels = ToBytes(x.data(), x.size());
  return Publish(std::move(example), spec, label);
}

absl::StatusOr<uint64_t> Feedback::FromPrediction(uint64_t id,
                                                  const nn::ModelSpec& spec,
                                                  int64_t label) const {
  if (absl::Status s = CheckLabel(spec, label); !s.ok()) return s;
  absl::StatusOr<RecentPredictions::Entry> entry = recent_->Find(id);
  if (!entry.ok()) return entry.status();
  LabelledExample example;
  example.pixels = std::move(entry->pixels);
  example.prediction_id = id;
  example.predicted_by = entry->version;
  return Publish(std::move(example), spec, label);
}

absl::StatusOr<uint64_t> Feedback::Publish(LabelledExample example,
                                           const nn::ModelSpec& spec,
                                           int64_t label) const {
  if (example.pixels.size() != spec.InputSize()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the sample has ", example.pixels.size(),
                     " pixels; the model takes ", spec.InputSize()));
  }
  example.label = static_cast<int32_t>(label);
  example.shape =
      spec.channels == 1
          ? std::vector<uint32_t>{spec.height, spec.width}
          : std::vector<uint32_t>{spec.channels, spec.height, spec.width};
  return publish_(std::move(example));
}

}  // namespace trainbus::serving
