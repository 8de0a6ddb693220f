// Turning an arbitrary grayscale image into a Fashion-MNIST-like 28x28 one.
//
// Fashion-MNIST shows a light garment on a black background, trimmed to the
// garment, its longer side scaled to 28 pixels and centred. Product photos
// are mostly the opposite (dark garment, white background), so:
//   1. Background: the median of the outermost ring of pixels.
//   2. Inversion (kAuto): if that background is light (> 127) the image is
//      inverted, so the background becomes dark and the object light.
//   3. Trim: crop to the bounding box of pixels that differ from the
//      background by more than `trim_threshold`.
//   4. Resize by area averaging (each output pixel is the mean of the source
//      area it covers, with fractional edge weights), keeping the aspect
//      ratio: the longer side becomes `box` pixels, centred in 28x28, the
//      rest padded with the background.
//   5. Contrast: background -> 0 and the brightest pixel -> 255, linearly.
// Steps 3 and 5 can be switched off; with all options off this is a plain
// aspect-preserving area resize. An image that is already 28x28 only gets
// step 2: it is a sample as it stands (trimming an exported Fashion-MNIST
// image would shift or enlarge it by a pixel or two).
//
//   absl::StatusOr<trainbus::data::Image> x =
//       trainbus::data::DecodeToMnist28(absl::MakeConstSpan(file_bytes));
//   // x->pixels: 784 bytes, ready to be a Sample
#ifndef TRAINBUS_DATA_MNIST28_H_
#define TRAINBUS_DATA_MNIST28_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "data/image.h"

namespace trainbus::data {

inline constexpr uint32_t kMnistSide = 28;

enum class Inversion { kAuto, kNever, kAlways };

struct MnistOptions {
  Inversion invert = Inversion::kAuto;
  bool trim = true;
  int trim_threshold = 32;  // gray levels away from the background
  bool stretch_contrast = true;
  // The longer side of the content in the 28x28 output; 28 for
  // Fashion-MNIST, 20 to mimic MNIST digits' margin.
  uint32_t box = kMnistSide;
  // DecodeToMnist28 only: decode JPEGs at reduced scale down to this longer
  // side (see DecodeOptions). 8 x 28 keeps the content sharp even when it
  // fills only an eighth of the photo's longer side; 0 decodes at full size.
  uint32_t decode_min_long_side = 8 * kMnistSide;
};

// A 28x28 image from any non-empty image.
absl::StatusOr<Image> ToMnist28(const Image& image,
                                const MnistOptions& options = {});

// DecodeImage, then ToMnist28.
absl::StatusOr<Image> DecodeToMnist28(absl::Span<const uint8_t> bytes,
                                      const MnistOptions& options = {});

// Area-averaging resize to exactly out_width x out_height (no aspect
// handling). Exposed for tests and for callers with their own framing.
Image ResizeArea(const Image& image, uint32_t out_width, uint32_t out_height);

}  // namespace trainbus::data

#endif  // TRAINBUS_DATA_MNIST28_H_
