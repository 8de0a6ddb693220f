// PNG through libpng's simplified API (png_image), which handles palette,
// gray, 16-bit, interlace and tRNS itself and reports errors in
// png_image::message instead of longjmp-ing through our frames.
#include <png.h>

#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/image.h"

namespace trainbus::data {

absl::StatusOr<Image> DecodePng(absl::Span<const uint8_t> bytes) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
    absl::Status s = absl::InvalidArgumentError(
        absl::StrCat("PNG header unreadable (libpng: ", png.message,
                     "); the file is damaged or not a PNG, re-export it"));
    png_image_free(&png);
    return s;
  }
  // 16-bit files without gAMA/sRGB are almost always sRGB-encoded in
  // practice; libpng would otherwise treat them as linear and brighten them.
  png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  const uint64_t pixels = uint64_t{png.width} * png.height;
  if (pixels == 0 || pixels > kMaxImagePixels) {
    png_image_free(&png);
    return absl::InvalidArgumentError(absl::StrCat(
        "PNG is ", png.width, " x ", png.height, " pixels; accepted are 1 to ",
        kMaxImagePixels, " pixels, scale the image down first"));
  }
  // Opaque gray files (MNIST-like images, the common case when serving) are
  // read straight into the result; every other colour type goes through
  // RGBA and one conversion path (ToGray), which is exact for gray.
  const bool opaque_gray =
      (png.format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)) == 0;
  png.format = opaque_gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGBA;
  Image gray;
  std::vector<uint8_t> rgba;
  if (opaque_gray) {
    gray = Image(png.width, png.height);
  } else {
    rgba.resize(PNG_IMAGE_SIZE(png));
  }
  if (!png_image_finish_read(&png, /*background=*/nullptr,
                             opaque_gray ? gray.pixels.data() : rgba.data(),
                             /*row_stride=*/0, /*colormap=*/nullptr)) {
    absl::Status s = absl::DataLossError(
        absl::StrCat("PNG data of a ", png.width, " x ", png.height,
                     " image is damaged or truncated (libpng: ", png.message,
                     "); re-export or re-download the file"));
    png_image_free(&png);
    return s;
  }
  png_image_free(&png);
  if (opaque_gray) return gray;
  return ToGray(png.width, png.height, 4, rgba);
}

absl::StatusOr<std::vector<uint8_t>> EncodePng(
    uint32_t width, uint32_t height, int channels,
    absl::Span<const uint8_t> pixels) {
  static constexpr png_uint_32 kFormats[] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA,
                                             PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
  if (channels < 1 || channels > 4 ||
      pixels.size() != size_t{width} * height * channels || width == 0 ||
      height == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EncodePng: ", width, " x ", height, " x ", channels, " needs ",
        size_t{width} * height * channels, " bytes (1..4 channels, non-empty)",
        " but got ", pixels.size()));
  }
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  png.width = width;
  png.height = height;
  png.format = kFormats[channels - 1];
  png_alloc_size_t size = 0;
  if (!png_image_write_get_memory_size(png, size, 0, pixels.data(), 0,
                                       nullptr)) {
    absl::Status s =
        absl::InternalError(absl::StrCat("EncodePng: libpng: ", png.message));
    png_image_free(&png);
    return s;
  }
  std::vector<uint8_t> out(size);
  if (!png_image_write_to_memory(&png, out.data(), &size, 0, pixels.data(), 0,
                                 nullptr)) {
    absl::Status s =
        absl::InternalError(absl::StrCat("EncodePng: libpng: ", png.message));
    png_image_free(&png);
    return s;
  }
  out.resize(size);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> EncodePng(const Image& image) {
  return EncodePng(image.width, image.height, 1, image.pixels);
}

}  // namespace trainbus::data
