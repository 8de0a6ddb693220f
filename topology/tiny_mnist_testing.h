// Test data for runs: a tiny MNIST-layout directory of deterministic
// patterns (labels cycle 0..9), so a test trains in milliseconds.
//
//   ASSERT_TRUE(WriteTinyMnist(dir + "/data", 96, 20).ok());
#ifndef TRAINBUS_TOPOLOGY_TINY_MNIST_TESTING_H_
#define TRAINBUS_TOPOLOGY_TINY_MNIST_TESTING_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "base/file.h"
#include "data/idx.h"

namespace trainbus::topology {

// `count` 28x28 images whose stripes depend on the label and the index.
inline data::Dataset TinyMnistSplit(size_t count, uint32_t salt) {
  data::Dataset d;
  d.rows = d.cols = 28;
  d.count = count;
  d.pixels.resize(count * 28 * 28);
  d.labels.resize(count);
  for (size_t i = 0; i < count; ++i) {
    d.labels[i] = static_cast<uint8_t>(i % 10);
    for (size_t p = 0; p < 28 * 28; ++p) {
      d.pixels[i * 784 + p] = static_cast<uint8_t>(
          (p / 28 + d.labels[i] * 3 + i + salt) % 7 * 36);
    }
  }
  return d;
}

// Creates `dir` with train and t10k IDX files of `train` and `test` samples.
inline absl::Status WriteTinyMnist(const std::string& dir, size_t train,
                                   size_t test) {
  absl::Status made = base::CreateDirectories(dir);
  if (!made.ok()) return made;
  return data::WriteMnistDir(dir, TinyMnistSplit(train, 0),
                             TinyMnistSplit(test, 1));
}

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_TINY_MNIST_TESTING_H_
