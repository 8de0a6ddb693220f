// PGM (Netpbm gray map): binary P5 and plain-text P2, 8 or 16 bits.
// http://netpbm.sourceforge.net/doc/pgm.html: "P5" or "P2", whitespace,
// width, height, maxval (1..65535) as decimal text with '#' comments, then one
// whitespace byte and the raster (P5: 1 byte per sample if maxval < 256, else
// 2 bytes big-endian; P2: decimal numbers).
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "data/image.h"

namespace trainbus::data {
namespace {

bool IsSpace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

class Reader {
 public:
  explicit Reader(absl::Span<const uint8_t> b) : b_(b) {}

  // Skips whitespace and comments, then reads a decimal number.
  absl::StatusOr<uint32_t> Number(const char* what) {
    while (pos_ < b_.size()) {
      if (IsSpace(b_[pos_])) {
        ++pos_;
      } else if (b_[pos_] == '#') {
        while (pos_ < b_.size() && b_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
    if (pos_ >= b_.size()) {
      return absl::DataLossError(
          absl::StrCat("PGM ends before its ", what, " (at byte ", pos_,
                       "); the file is truncated, re-export it"));
    }
    if (b_[pos_] < '0' || b_[pos_] > '9') {
      return absl::InvalidArgumentError(
          absl::StrCat("PGM has '", std::string(1, static_cast<char>(b_[pos_])),
                       "' at byte ", pos_, " where its ", what,
                       " should be a decimal number; the file is damaged"));
    }
    uint64_t v = 0;
    while (pos_ < b_.size() && b_[pos_] >= '0' && b_[pos_] <= '9') {
      v = v * 10 + (b_[pos_++] - '0');
      if (v > 0xffffffffULL) {
        return absl::InvalidArgumentError(
            absl::StrCat("PGM ", what, " at byte ", pos_,
                         " is too large; the file is damaged"));
      }
    }
    return static_cast<uint32_t>(v);
  }

  size_t pos() const { return pos_; }
  void Skip(size_t n) { pos_ += n; }
  size_t remaining() const { return b_.size() - pos_; }
  const uint8_t* here() const { return b_.data() + pos_; }
  bool AtSpace() const { return pos_ < b_.size() && IsSpace(b_[pos_]); }

 private:
  absl::Span<const uint8_t> b_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<Image> DecodePgm(absl::Span<const uint8_t> bytes) {
  if (bytes.size() < 2 || bytes[0] != 'P' ||
      (bytes[1] != '5' && bytes[1] != '2')) {
    return absl::InvalidArgumentError(
        "not a PGM: it must start with \"P5\" (binary) or \"P2\" (plain)");
  }
  const bool plain = bytes[1] == '2';
  Reader r(bytes);
  r.Skip(2);
  TB_ASSIGN_OR_RETURN(const uint32_t width, r.Number("width"));
  TB_ASSIGN_OR_RETURN(const uint32_t height, r.Number("height"));
  TB_ASSIGN_OR_RETURN(const uint32_t maxval, r.Number("maxval"));
  const uint64_t n = uint64_t{width} * height;
  if (n == 0 || n > kMaxImagePixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PGM is ", width, " x ", height, " pixels; accepted are 1 to ",
        kMaxImagePixels, " pixels"));
  }
  if (maxval == 0 || maxval > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("PGM maxval is ", maxval,
                     "; it must be 1..65535, the file is damaged"));
  }
  Image out(width, height);
  const uint32_t m = maxval;
  auto scale = [m](uint32_t v) {
    return static_cast<uint8_t>((v * 255u + m / 2) / m);
  };
  if (plain) {
    for (uint64_t i = 0; i < n; ++i) {
      absl::StatusOr<uint32_t> v = r.Number("sample");
      if (!v.ok()) {
        return absl::Status(
            v.status().code(),
            absl::StrCat(v.status().message(), " (sample ", i, " of ", n, ")"));
      }
      if (*v > m) {
        return absl::InvalidArgumentError(
            absl::StrCat("PGM sample ", i, " is ", *v, ", above maxval ", m,
                         "; the file is damaged"));
      }
      out.pixels[i] = scale(*v);
    }
    return out;
  }
  if (!r.AtSpace()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PGM header must end in one whitespace byte after maxval (byte ",
        r.pos(), "); the file is damaged"));
  }
  r.Skip(1);
  const size_t bytes_per_sample = m < 256 ? 1 : 2;
  const uint64_t need = n * bytes_per_sample;
  if (r.remaining() < need) {
    return absl::DataLossError(
        absl::StrCat("PGM is truncated: ", width, " x ", height, " x ",
                     bytes_per_sample, " bytes of raster needed, ",
                     r.remaining(), " present; re-export the file"));
  }
  const uint8_t* p = r.here();
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t v =
        bytes_per_sample == 1 ? p[i] : (uint32_t{p[2 * i]} << 8) | p[2 * i + 1];
    if (v > m) {
      return absl::InvalidArgumentError(absl::StrCat("PGM sample ", i, " is ",
                                                     v, ", above maxval ", m,
                                                     "; the file is damaged"));
    }
    out.pixels[i] = m == 255 ? static_cast<uint8_t>(v) : scale(v);
  }
  return out;
}

std::vector<uint8_t> EncodePgm(const Image& image, bool plain) {
  std::string s = absl::StrCat(plain ? "P2\n" : "P5\n", image.width, " ",
                               image.height, "\n255\n");
  if (plain) {
    for (uint32_t y = 0; y < image.height; ++y) {
      for (uint32_t x = 0; x < image.width; ++x) {
        absl::StrAppend(&s, x == 0 ? "" : " ", image.at(x, y));
      }
      s += '\n';
    }
    return std::vector<uint8_t>(s.begin(), s.end());
  }
  std::vector<uint8_t> out(s.begin(), s.end());
  out.insert(out.end(), image.pixels.begin(), image.pixels.end());
  return out;
}

}  // namespace trainbus::data
