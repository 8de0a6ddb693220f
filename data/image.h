// Decoding images of any supported format to 8-bit grayscale.
//
// DecodeImage looks at the first bytes (never a file name) and hands the
// buffer to the PNG (libpng), JPEG (libjpeg) or PGM (P5/P2) decoder. Every
// decoder returns a Status for damaged input, never aborts or longjmps out.
//
//   absl::StatusOr<trainbus::data::Image> img = trainbus::data::DecodeImage(
//       absl::MakeConstSpan(bytes));
//   if (!img.ok()) return DeadLetter(path, img.status());
//   // img->width x img->height gray pixels in img->pixels (row-major)
//
// Colour becomes gray with the Rec. 601 luma weights that JPEG itself uses,
// Y = (77 R + 150 G + 29 B) / 256 on the encoded values, so a colour PNG and
// the same picture as a colour JPEG give the same gray. Alpha is composited
// onto a background that contrasts with the image's opaque pixels (white
// behind dark content, black behind light content), so a cut-out garment keeps
// its outline; ToMnist28 (mnist28.h) then makes the background black.
#ifndef TRAINBUS_DATA_IMAGE_H_
#define TRAINBUS_DATA_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace trainbus::data {

// An 8-bit grayscale image, row-major, width * height bytes.
struct Image {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> pixels;

  Image() = default;
  Image(uint32_t w, uint32_t h, uint8_t fill = 0)
      : width(w), height(h), pixels(size_t{w} * h, fill) {}
  uint8_t at(uint32_t x, uint32_t y) const {
    return pixels[size_t{y} * width + x];
  }
  uint8_t& at(uint32_t x, uint32_t y) { return pixels[size_t{y} * width + x]; }
};

// Decoders refuse images with more pixels than this (a 16-bit header field
// can otherwise ask for 4 GiB): 64 Mpx, well above any camera photo.
inline constexpr uint64_t kMaxImagePixels = uint64_t{1} << 26;

enum class ImageFormat { kUnknown, kPng, kJpeg, kPgm };

// The format from the magic bytes: PNG "\x89PNG\r\n\x1a\n", JPEG FF D8 FF,
// PGM "P5" or "P2".
ImageFormat DetectImageFormat(absl::Span<const uint8_t> bytes);
absl::string_view ImageFormatName(ImageFormat format);

struct DecodeOptions {
  // JPEG only: decode at the smallest libjpeg scale (1/2, 1/4 or 1/8) whose
  // longer side still has at least this many pixels; 0 keeps full size.
  // Decoding a camera photo for a 28x28 sample this way is several times
  // faster. PNG and PGM always decode at full size.
  uint32_t jpeg_min_long_side = 0;
};

// Decodes PNG, JPEG or PGM to grayscale. Unknown formats get an error that
// says what the bytes look like (GIF, BMP, WebP, ...) and what is supported.
absl::StatusOr<Image> DecodeImage(absl::Span<const uint8_t> bytes,
                                  const DecodeOptions& options = {});

// The individual decoders (DecodeImage picks one). Each accepts only its own
// format.
absl::StatusOr<Image> DecodePng(absl::Span<const uint8_t> bytes);
absl::StatusOr<Image> DecodeJpeg(absl::Span<const uint8_t> bytes,
                                 const DecodeOptions& options = {});
absl::StatusOr<Image> DecodePgm(absl::Span<const uint8_t> bytes);

// Encoders, for tests, tools and demos. `channels` is 1 (gray), 2 (gray +
// alpha), 3 (RGB) or 4 (RGBA) for PNG, and 1 or 3 for JPEG; `pixels` holds
// width * height * channels bytes, row-major and interleaved.
absl::StatusOr<std::vector<uint8_t>> EncodePng(const Image& image);
absl::StatusOr<std::vector<uint8_t>> EncodePng(
    uint32_t width, uint32_t height, int channels,
    absl::Span<const uint8_t> pixels);
absl::StatusOr<std::vector<uint8_t>> EncodeJpeg(const Image& image,
                                                int quality = 95);
absl::StatusOr<std::vector<uint8_t>> EncodeJpeg(
    uint32_t width, uint32_t height, int channels,
    absl::Span<const uint8_t> pixels, int quality = 95);
// Binary P5 by default, ASCII P2 if `plain`.
std::vector<uint8_t> EncodePgm(const Image& image, bool plain = false);

// Gray from interleaved 8-bit samples with 1..4 channels (see the banner for
// the weights and the alpha rule). Shared by the decoders; exposed for tests.
Image ToGray(uint32_t width, uint32_t height, int channels,
             absl::Span<const uint8_t> pixels);

}  // namespace trainbus::data

#endif  // TRAINBUS_DATA_IMAGE_H_
