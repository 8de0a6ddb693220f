// MNIST-format IDX files: read (raw or gzip), validate, slice, write.
//
// The reader detects gzip by its magic bytes (1f 8b), not by the file name,
// and checks everything a broken download or a wrong path can get wrong: the
// magic numbers, the dimensions, that images and labels agree in count, that
// the file holds exactly the bytes its header promises, and that every label
// is a valid class. Each error names the file and the numbers.
//
//   TB_ASSIGN_OR_RETURN(
//       trainbus::data::MnistSplits splits,
//       trainbus::data::LoadMnistDir("/usr/share/datasets/fashion-mnist"));
//   const trainbus::data::Dataset& train = splits.train;  // 60000 x 28x28
//   const uint8_t* first = train.image(0);                // 784 bytes
//   int label = train.labels[0];
//
// The pixel buffer is a plain vector so this library stays free of CAF; a
// caller that publishes on the bus can move it into a bus::Bytes without a
// copy: `bus::Bytes all(std::move(dataset.pixels));`.
#ifndef TRAINBUS_DATA_IDX_H_
#define TRAINBUS_DATA_IDX_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace trainbus::data {

// IDX magic numbers: 0x0000 then type 0x08 (unsigned byte) then the number of
// dimensions.
inline constexpr uint32_t kIdxImagesMagic = 0x00000803;  // N x rows x cols
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // N

// Where the Debian package dataset-fashion-mnist installs the files.
inline constexpr absl::string_view kDefaultMnistDir =
    "/usr/share/datasets/fashion-mnist";

// Fashion-MNIST's ten classes, indexed by label.
inline constexpr std::array<absl::string_view, 10> kFashionMnistClassNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// A set of labelled grayscale images, row-major, one byte per pixel.
struct Dataset {
  uint32_t rows = 0;
  uint32_t cols = 0;
  size_t count = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols
  std::vector<uint8_t> labels;  // count

  size_t image_size() const { return size_t{rows} * cols; }
  const uint8_t* image(size_t i) const {
    return pixels.data() + i * image_size();
  }
};

// The two splits of an MNIST-layout directory.
struct MnistSplits {
  std::string dir;
  Dataset train;  // train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz]
  Dataset test;   // t10k-images-idx3-ubyte[.gz],  t10k-labels-idx1-ubyte[.gz]
};

// Reads one images file and one labels file and checks them against each
// other. Labels must lie in [0, num_classes). An empty file pair (count 0) is
// an error: nothing downstream can train on it.
absl::StatusOr<Dataset> LoadIdxPair(absl::string_view images_path,
                                    absl::string_view labels_path,
                                    int num_classes = 10);

// Reads an images file alone (for inference): `labels` stays empty.
absl::StatusOr<Dataset> LoadIdxImages(absl::string_view images_path);

// Loads both splits from `dir`. Each file is looked up as NAME, then NAME.gz
// (and the older "train-images.idx3-ubyte" spelling); whichever exists is
// read, its compression found from its content.
absl::StatusOr<MnistSplits> LoadMnistDir(absl::string_view dir,
                                         int num_classes = 10);

// The first min(n, d.count) samples of `d`, copied.
Dataset Slice(const Dataset& d, size_t n);
// Samples [begin, begin + n) of `d`, clamped to the end, copied.
Dataset SliceRange(const Dataset& d, size_t begin, size_t n);

// The number of samples per label (labels >= size are not counted).
std::vector<size_t> LabelHistogram(const Dataset& d, int num_classes = 10);

enum class IdxCompression { kRaw, kGzip };

// Writes an unsigned-byte IDX file with the given dimensions; `data` must
// hold the product of `dims` bytes. Used by tests and tools to make fixtures.
absl::Status WriteIdx(absl::string_view path, absl::Span<const uint32_t> dims,
                      absl::Span<const uint8_t> data,
                      IdxCompression compression = IdxCompression::kRaw);

// Writes `d` as an images file (N x rows x cols) and a labels file (N).
absl::Status WriteIdxPair(absl::string_view images_path,
                          absl::string_view labels_path, const Dataset& d,
                          IdxCompression compression = IdxCompression::kRaw);

// Writes both splits into `dir` (which must exist) under the standard MNIST
// names, with ".gz" appended when compressed: a fixture for LoadMnistDir.
absl::Status WriteMnistDir(absl::string_view dir, const Dataset& train,
                           const Dataset& test,
                           IdxCompression compression = IdxCompression::kRaw);

}  // namespace trainbus::data

#endif  // TRAINBUS_DATA_IDX_H_
