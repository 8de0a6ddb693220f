// Message types that travel on the bus.
//
// A message enters the bus once and is shared by reference from then on: the
// pixel payload of a Sample or SampleBatch is an immutable, reference-counted
// buffer, so a resource that fans one sample out to N bound models hands each
// of them the same bytes (see bus_test's "no per-model copy" check).
//
//   trainbus::bus::Sample s;
//   s.seq = 7;
//   s.source = "fashion-mnist/train";
//   s.shape = {28, 28};
//   s.pixels = trainbus::bus::Bytes::Copy(image, 784);
//   s.label = 3;  // kNoLabel for production data
#ifndef TRAINBUS_BUS_MESSAGE_H_
#define TRAINBUS_BUS_MESSAGE_H_

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "caf/error.hpp"
#include "caf/meta/load_callback.hpp"
#include "caf/meta/type_name.hpp"

namespace trainbus::bus {

// An immutable byte buffer with shared ownership. Copying a Bytes copies a
// pointer; the bytes themselves are written once, when it is made. Serialised
// (for remote nodes and the durable log) as a plain byte vector.
class Bytes {
 public:
  Bytes() = default;
  explicit Bytes(std::vector<uint8_t> data)
      : data_(std::make_shared<const std::vector<uint8_t>>(std::move(data))) {}
  static Bytes Copy(const uint8_t* data, size_t size) {
    return Bytes(std::vector<uint8_t>(data, data + size));
  }

  const uint8_t* data() const { return data_ ? data_->data() : nullptr; }
  size_t size() const { return data_ ? data_->size() : 0; }
  bool empty() const { return size() == 0; }
  // How many holders share this buffer (0 for an empty Bytes).
  long use_count() const { return data_.use_count(); }

  friend bool operator==(const Bytes& a, const Bytes& b) {
    return a.size() == b.size() &&
           (a.data_ == b.data_ ||
            std::equal(a.data(), a.data() + a.size(), b.data()));
  }

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, Bytes& x) {
    std::vector<uint8_t> tmp;
    if constexpr (Inspector::reads_state) {
      if (x.data_) tmp = *x.data_;
    }
    auto load = caf::meta::load_callback([&]() -> caf::error {
      x = Bytes(std::move(tmp));
      return caf::none;
    });
    return f(caf::meta::type_name("trainbus.Bytes"), tmp, load);
  }

 private:
  std::shared_ptr<const std::vector<uint8_t>> data_;
};

inline constexpr int32_t kNoLabel = -1;

// A source ends its stream with a marker: a Sample without pixels whose meta
// holds this key (the value names the source). Filters always pass it, so
// every model downstream learns that the stream is over.
inline constexpr char kEndOfStreamKey[] = "trainbus.eos";

// Where a sample came from within its source, in its meta: the file name for
// an image directory, "test:<index>" for a test replay. Predictions carry it
// on (Prediction::origin).
inline constexpr char kOriginKey[] = "origin";

// One example: an image (or any tensor of bytes) plus metadata.
struct Sample {
  uint64_t seq = 0;                 // per-source sequence number
  std::string source;               // e.g. "fashion-mnist/train"
  std::vector<uint32_t> shape;      // e.g. {28, 28}; product == pixels.size()
  Bytes pixels;                     // uint8 intensities, row-major
  int32_t label = kNoLabel;         // kNoLabel: production (unlabelled) data
  std::map<std::string, std::string> meta;
  int64_t publish_ns = 0;           // steady-clock time of first publish

  bool has_label() const { return label != kNoLabel; }
  bool end_of_stream() const { return meta.count(kEndOfStreamKey) > 0; }

  static Sample EndOfStream(std::string source, uint64_t seq) {
    Sample s;
    s.seq = seq;
    s.meta[kEndOfStreamKey] = source;
    s.source = std::move(source);
    return s;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Sample& x) {
  return f(caf::meta::type_name("trainbus.Sample"), x.seq, x.source, x.shape,
           x.pixels, x.label, x.meta, x.publish_ns);
}

// `count` samples of one shape in one shared buffer: sample i occupies bytes
// [i * SampleSize(), (i + 1) * SampleSize()). labels.size() == count.
struct SampleBatch {
  uint64_t first_seq = 0;
  std::string source;
  std::vector<uint32_t> shape;      // shape of one sample
  uint32_t count = 0;
  Bytes pixels;
  std::vector<int32_t> labels;      // kNoLabel entries for unlabelled samples
  int64_t publish_ns = 0;

  size_t SampleSize() const {
    size_t n = 1;
    for (uint32_t d : shape) n *= d;
    return n;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SampleBatch& x) {
  return f(caf::meta::type_name("trainbus.SampleBatch"), x.first_seq,
           x.source, x.shape, x.count, x.pixels, x.labels, x.publish_ns);
}

// What a model says about an unlabelled sample.
struct Prediction {
  uint64_t sample_seq = 0;
  std::string source;               // the sample's source
  std::string origin;               // the sample's meta[kOriginKey], if any
  std::string model;                // model name, e.g. "model1"
  uint32_t model_version = 0;
  int32_t label = kNoLabel;         // predicted class
  std::vector<float> scores;        // softmax probabilities, one per class
  int64_t publish_ns = 0;           // when the sample entered the bus
  int64_t predicted_ns = 0;         // when the prediction was made
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Prediction& x) {
  return f(caf::meta::type_name("trainbus.Prediction"), x.sample_seq,
           x.source, x.origin, x.model, x.model_version, x.label, x.scores,
           x.publish_ns, x.predicted_ns);
}

// A training or evaluation figure, e.g. {"test_acc": 0.81} at step 1200.
struct Metric {
  std::string model;
  std::string split;                // "train", "validation" or "test"
  uint64_t step = 0;
  std::map<std::string, double> values;
  int64_t time_ns = 0;              // wall clock (unix epoch)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Metric& x) {
  return f(caf::meta::type_name("trainbus.Metric"), x.model, x.split, x.step,
           x.values, x.time_ns);
}

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_MESSAGE_H_
