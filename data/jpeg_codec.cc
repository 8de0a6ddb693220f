// JPEG through libjpeg(-turbo). libjpeg reports fatal errors by calling
// error_exit, which by default prints and calls exit(); ours formats the
// message and longjmps back to the setjmp in Run(), so damaged input becomes
// a Status. Run() keeps every C++ object it needs in the decoder struct (none
// is created between setjmp and a possible longjmp), so nothing with a
// destructor is skipped by the jump.
#include <csetjmp>
#include <cstdio>

// jpeglib.h needs size_t and FILE declared first; jerror.h needs jpeglib.h.
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/image.h"

namespace trainbus::data {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first, so a j_common_ptr's err casts to us
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  // The first warning that means the data is damaged (libjpeg would go on and
  // fill the rest of the image with gray).
  char damage[JMSG_LENGTH_MAX];
};

[[noreturn]] void OnError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void OnMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  ++cinfo->err->num_warnings;
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
      if (err->damage[0] == '\0') {
        (*cinfo->err->format_message)(cinfo, err->damage);
      }
      break;
    default:  // e.g. extraneous bytes before a marker: the image is fine
      break;
  }
}

ErrorManager* InstallErrorManager(ErrorManager* err) {
  jpeg_std_error(&err->pub);
  err->pub.error_exit = OnError;
  err->pub.emit_message = OnMessage;
  err->message[0] = '\0';
  err->damage[0] = '\0';
  return err;
}

struct Decoder {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  std::vector<uint8_t> samples;    // decoded rows, `components` per pixel
  uint32_t width = 0, height = 0;  // as stored in the file
  uint32_t out_width = 0, out_height = 0;  // after DCT scaling
  int components = 0;
  bool cmyk = false, inverted_cmyk = false, too_large = false;

  // False on error, with the reason in err.message.
  bool Run(absl::Span<const uint8_t> bytes, uint32_t min_long_side) {
    cinfo.err = &InstallErrorManager(&err)->pub;
    if (setjmp(err.jump)) {
      jpeg_destroy_decompress(&cinfo);
      return false;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes.data(),
                 static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    width = cinfo.image_width;
    height = cinfo.image_height;
    if (uint64_t{width} * height > kMaxImagePixels) {
      too_large = true;
      jpeg_destroy_decompress(&cinfo);
      return false;
    }
    cmyk = cinfo.jpeg_color_space == JCS_CMYK ||
           cinfo.jpeg_color_space == JCS_YCCK;
    inverted_cmyk = cmyk && cinfo.saw_Adobe_marker;
    // libjpeg converts YCbCr, RGB and gray to gray itself (and skips the
    // chroma planes); it has no CMYK -> gray conversion, so that is ours.
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_GRAYSCALE;
    // Scaled IDCT: a 1/8 decode does an eighth of the IDCT work per side and
    // is a block average, the same filter a later area resize would apply.
    cinfo.scale_num = 1;
    cinfo.scale_denom = 1;
    if (min_long_side > 0) {
      const uint32_t long_side = width > height ? width : height;
      for (unsigned denom = 8; denom > 1; denom /= 2) {
        if (long_side / denom >= min_long_side) {
          cinfo.scale_denom = denom;
          break;
        }
      }
    }
    jpeg_start_decompress(&cinfo);
    out_width = cinfo.output_width;
    out_height = cinfo.output_height;
    components = cinfo.output_components;
    samples.resize(size_t{out_width} * out_height * components);
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW row = samples.data() +
                     size_t{cinfo.output_scanline} * out_width * components;
      jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return true;
  }
};

}  // namespace

absl::StatusOr<Image> DecodeJpeg(absl::Span<const uint8_t> bytes,
                                 const DecodeOptions& options) {
  auto decoder = std::make_unique<Decoder>();
  if (!decoder->Run(bytes, options.jpeg_min_long_side)) {
    if (decoder->too_large) {
      return absl::InvalidArgumentError(
          absl::StrCat("JPEG is ", decoder->width, " x ", decoder->height,
                       " pixels; accepted are up to ", kMaxImagePixels,
                       " pixels, scale the image down first"));
    }
    return absl::DataLossError(absl::StrCat(
        "JPEG cannot be decoded (libjpeg: ", decoder->err.message,
        "); the file is damaged or truncated, re-export or re-download it"));
  }
  if (decoder->err.damage[0] != '\0') {
    return absl::DataLossError(absl::StrCat(
        "JPEG data of a ", decoder->width, " x ", decoder->height,
        " image is damaged (libjpeg: ", decoder->err.damage,
        "); the file is truncated or corrupt, re-export or re-download it"));
  }
  if (!decoder->cmyk) {
    Image out;
    out.width = decoder->out_width;
    out.height = decoder->out_height;
    out.pixels = std::move(decoder->samples);
    return out;
  }
  // CMYK: ink -> RGB, then luma. Adobe files store the channels inverted.
  const size_t n = size_t{decoder->out_width} * decoder->out_height;
  std::vector<uint8_t> rgb(n * 3);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &decoder->samples[i * 4];
    uint32_t k = decoder->inverted_cmyk ? p[3] : 255 - p[3];
    for (int c = 0; c < 3; ++c) {
      uint32_t v = decoder->inverted_cmyk ? p[c] : 255 - p[c];
      rgb[i * 3 + c] = static_cast<uint8_t>((v * k + 127) / 255);
    }
  }
  return ToGray(decoder->out_width, decoder->out_height, 3, rgb);
}

namespace {

struct Encoder {
  jpeg_compress_struct cinfo;
  ErrorManager err;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;

  bool Run(uint32_t width, uint32_t height, int channels, const uint8_t* px,
           int quality) {
    cinfo.err = &InstallErrorManager(&err)->pub;
    if (setjmp(err.jump)) {
      jpeg_destroy_compress(&cinfo);
      return false;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
      // libjpeg's API is not const-correct; it only reads the row.
      JSAMPROW row = const_cast<uint8_t*>(px + size_t{cinfo.next_scanline} *
                                                   width * channels);
      jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return true;
  }
  ~Encoder() { std::free(buffer); }
};

}  // namespace

absl::StatusOr<std::vector<uint8_t>> EncodeJpeg(
    uint32_t width, uint32_t height, int channels,
    absl::Span<const uint8_t> pixels, int quality) {
  if ((channels != 1 && channels != 3) || width == 0 || height == 0 ||
      pixels.size() != size_t{width} * height * channels || quality < 1 ||
      quality > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EncodeJpeg: ", width, " x ", height, " x ", channels, " needs ",
        size_t{width} * height * channels,
        " bytes (1 or 3 channels, non-empty, quality 1..100) but got ",
        pixels.size(), " bytes, quality ", quality));
  }
  auto encoder = std::make_unique<Encoder>();
  if (!encoder->Run(width, height, channels, pixels.data(), quality)) {
    return absl::InternalError(
        absl::StrCat("EncodeJpeg: libjpeg: ", encoder->err.message));
  }
  return std::vector<uint8_t>(encoder->buffer, encoder->buffer + encoder->size);
}

absl::StatusOr<std::vector<uint8_t>> EncodeJpeg(const Image& image,
                                                int quality) {
  return EncodeJpeg(image.width, image.height, 1, image.pixels, quality);
}

}  // namespace trainbus::data
