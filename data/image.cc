#include "data/image.h"

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace trainbus::data {
namespace {

bool StartsWith(absl::Span<const uint8_t> bytes, const char* magic, size_t n) {
  return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
}

// Names the formats people most often feed us by mistake.
std::string GuessUnsupported(absl::Span<const uint8_t> b) {
  if (StartsWith(b, "GIF8", 4)) return "GIF";
  if (StartsWith(b, "BM", 2)) return "BMP";
  if (b.size() >= 12 && StartsWith(b, "RIFF", 4) &&
      std::memcmp(b.data() + 8, "WEBP", 4) == 0) {
    return "WebP";
  }
  if (StartsWith(b, "II*\0", 4) || StartsWith(b, "MM\0*", 4)) return "TIFF";
  if (b.size() >= 12 && std::memcmp(b.data() + 4, "ftyp", 4) == 0) {
    return "HEIF/AVIF (ISO media)";
  }
  if (StartsWith(b, "P1", 2) || StartsWith(b, "P4", 2)) return "PBM (bitmap)";
  if (StartsWith(b, "P3", 2) || StartsWith(b, "P6", 2)) return "PPM (colour)";
  if (StartsWith(b, "\x1f\x8b", 2)) return "gzip";
  return "";
}

}  // namespace

ImageFormat DetectImageFormat(absl::Span<const uint8_t> b) {
  if (StartsWith(b, "\x89PNG\r\n\x1a\n", 8)) return ImageFormat::kPng;
  if (StartsWith(b, "\xff\xd8\xff", 3)) return ImageFormat::kJpeg;
  if (StartsWith(b, "P5", 2) || StartsWith(b, "P2", 2))
    return ImageFormat::kPgm;
  return ImageFormat::kUnknown;
}

absl::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPgm:
      return "PGM";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

absl::StatusOr<Image> DecodeImage(absl::Span<const uint8_t> bytes,
                                  const DecodeOptions& options) {
  switch (DetectImageFormat(bytes)) {
    case ImageFormat::kPng:
      return DecodePng(bytes);
    case ImageFormat::kJpeg:
      return DecodeJpeg(bytes, options);
    case ImageFormat::kPgm:
      return DecodePgm(bytes);
    case ImageFormat::kUnknown:
      break;
  }
  if (bytes.empty()) {
    return absl::InvalidArgumentError(
        "empty image (0 bytes); supply PNG, JPEG or PGM data");
  }
  std::string first;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    // One constant format: clang refuses a format chosen at run time.
    absl::StrAppendFormat(&first, "%s%02x", i == 0 ? "" : " ", bytes[i]);
  }
  const std::string guess = GuessUnsupported(bytes);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown image format (first bytes ", first, ")",
      guess.empty() ? "" : absl::StrCat(", looks like ", guess),
      "; supported are PNG, JPEG and PGM (P5/P2): convert the image, e.g. ",
      "`convert in.gif out.png`"));
}

Image ToGray(uint32_t width, uint32_t height, int channels,
             absl::Span<const uint8_t> px) {
  Image out(width, height);
  const size_t n = size_t{width} * height;
  if (channels == 1) {
    out.pixels.assign(px.begin(), px.begin() + n);
    return out;
  }
  const bool color = channels >= 3;
  const bool alpha = channels == 2 || channels == 4;
  // Rec. 601 luma on the encoded values; 77 + 150 + 29 = 256 keeps gray
  // inputs exact.
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &px[i * channels];
    out.pixels[i] =
        color ? static_cast<uint8_t>(
                    (77u * p[0] + 150u * p[1] + 29u * p[2] + 128u) >> 8)
              : p[0];
  }
  if (!alpha) return out;
  // Composite onto the background that contrasts with the opaque content.
  uint64_t weighted = 0, weight = 0;
  bool any_transparent = false;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t a = px[i * channels + channels - 1];
    weighted += uint64_t{out.pixels[i]} * a;
    weight += a;
    any_transparent |= a != 255;
  }
  if (!any_transparent) return out;
  const uint32_t background =
      (weight == 0 || weighted < 128 * weight) ? 255 : 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t a = px[i * channels + channels - 1];
    out.pixels[i] = static_cast<uint8_t>(
        (out.pixels[i] * a + background * (255 - a) + 127) / 255);
  }
  return out;
}

}  // namespace trainbus::data
