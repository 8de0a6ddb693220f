#include "data/mnist28.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace trainbus::data {
namespace {

// Area weights along one axis: output index o covers source indices
// first[o] .. first[o] + count[o] - 1 with weights (overlap / scale) that sum
// to 1, stored back to back from offset[o].
struct Taps {
  std::vector<uint32_t> first, count, offset;
  std::vector<float> weights;
};

Taps AreaTaps(uint32_t in, uint32_t out) {
  Taps t;
  const double scale = static_cast<double>(in) / out;
  for (uint32_t o = 0; o < out; ++o) {
    const double lo = o * scale, hi = (o + 1) * scale;
    const uint32_t first = static_cast<uint32_t>(std::floor(lo));
    const uint32_t last =
        std::min<uint32_t>(in - 1, static_cast<uint32_t>(std::ceil(hi)) - 1);
    t.first.push_back(first);
    t.count.push_back(last - first + 1);
    t.offset.push_back(static_cast<uint32_t>(t.weights.size()));
    for (uint32_t s = first; s <= last; ++s) {
      const double overlap =
          std::min<double>(hi, s + 1.0) - std::max<double>(lo, s);
      t.weights.push_back(static_cast<float>(overlap / scale));
    }
  }
  return t;
}

// Area resize of the w x h window at `src` (rows `stride` bytes apart).
// Horizontal pass over every source row, then vertical: each source pixel is
// read once, which is what matters for multi-megapixel photos.
Image ResizeWindow(const uint8_t* src, size_t stride, uint32_t w, uint32_t h,
                   uint32_t out_w, uint32_t out_h) {
  const Taps xt = AreaTaps(w, out_w);
  const Taps yt = AreaTaps(h, out_h);
  std::vector<float> rows(size_t{h} * out_w);
  for (uint32_t y = 0; y < h; ++y) {
    const uint8_t* row = src + y * stride;
    float* dst = &rows[size_t{y} * out_w];
    for (uint32_t o = 0; o < out_w; ++o) {
      const float* wt = &xt.weights[xt.offset[o]];
      const uint8_t* px = row + xt.first[o];
      float sum = 0;
      for (uint32_t k = 0; k < xt.count[o]; ++k) sum += wt[k] * px[k];
      dst[o] = sum;
    }
  }
  Image out(out_w, out_h);
  std::vector<float> acc(out_w);
  for (uint32_t o = 0; o < out_h; ++o) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (uint32_t k = 0; k < yt.count[o]; ++k) {
      const float wt = yt.weights[yt.offset[o] + k];
      const float* row = &rows[size_t{yt.first[o] + k} * out_w];
      for (uint32_t x = 0; x < out_w; ++x) acc[x] += wt * row[x];
    }
    for (uint32_t x = 0; x < out_w; ++x) {
      out.at(x, o) =
          static_cast<uint8_t>(std::clamp(std::lround(acc[x]), 0L, 255L));
    }
  }
  return out;
}

uint8_t MedianOfBorder(const Image& img) {
  std::array<uint32_t, 256> hist{};
  uint32_t count = 0;
  auto add = [&](uint32_t x, uint32_t y) {
    ++hist[img.at(x, y)];
    ++count;
  };
  for (uint32_t x = 0; x < img.width; ++x) {
    add(x, 0);
    if (img.height > 1) add(x, img.height - 1);
  }
  for (uint32_t y = 1; y + 1 < img.height; ++y) {
    add(0, y);
    if (img.width > 1) add(img.width - 1, y);
  }
  uint32_t seen = 0;
  for (int v = 0; v < 256; ++v) {
    seen += hist[v];
    if (2 * seen >= count) return static_cast<uint8_t>(v);
  }
  return 0;
}

}  // namespace

Image ResizeArea(const Image& in, uint32_t out_w, uint32_t out_h) {
  return ResizeWindow(in.pixels.data(), in.width, in.width, in.height, out_w,
                      out_h);
}

absl::StatusOr<Image> ToMnist28(const Image& image,
                                const MnistOptions& options) {
  if (image.width == 0 || image.height == 0 ||
      image.pixels.size() != size_t{image.width} * image.height) {
    return absl::InvalidArgumentError(
        absl::StrCat("ToMnist28: image is ", image.width, " x ", image.height,
                     " with ", image.pixels.size(),
                     " pixel bytes; it must be non-empty and complete"));
  }
  if (options.box == 0 || options.box > kMnistSide) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ToMnist28: box is ", options.box, "; it must be 1..", kMnistSide));
  }
  const uint8_t border = MedianOfBorder(image);
  const bool invert = options.invert == Inversion::kAlways ||
                      (options.invert == Inversion::kAuto && border > 127);
  auto invert_all = [invert](Image& img) {
    if (!invert) return;
    for (uint8_t& p : img.pixels) p = static_cast<uint8_t>(255 - p);
  };
  // Already a 28x28 sample (e.g. an exported Fashion-MNIST image): trimming
  // would re-centre and re-scale it by a pixel or two, so leave it be.
  if (image.width == kMnistSide && image.height == kMnistSide) {
    Image out = image;
    invert_all(out);
    return out;
  }

  // Trim, resize and pad in the source's polarity and invert the 28x28
  // result: |p - border| and area means do not care, and the big image is
  // neither copied nor inverted.
  uint32_t x0 = 0, y0 = 0, x1 = image.width, y1 = image.height;  // [x0, x1)
  if (options.trim) {
    uint32_t bx0 = image.width, by0 = image.height, bx1 = 0, by1 = 0;
    for (uint32_t y = 0; y < image.height; ++y) {
      const uint8_t* row = &image.pixels[size_t{y} * image.width];
      uint32_t first = image.width, last = 0;
      for (uint32_t x = 0; x < image.width; ++x) {
        if (std::abs(int{row[x]} - int{border}) > options.trim_threshold) {
          first = std::min(first, x);
          last = x + 1;
        }
      }
      if (last > 0) {
        bx0 = std::min(bx0, first);
        bx1 = std::max(bx1, last);
        by0 = std::min(by0, y);
        by1 = y + 1;
      }
    }
    if (bx1 > bx0) {  // else: nothing stands out; keep the whole image
      x0 = bx0, x1 = bx1, y0 = by0, y1 = by1;
    }
  }
  const uint32_t cw = x1 - x0, ch = y1 - y0;

  // Longer side -> box, aspect kept (at least one pixel on the short side).
  const double scale = static_cast<double>(options.box) / std::max(cw, ch);
  const uint32_t w = std::clamp<uint32_t>(
      static_cast<uint32_t>(std::lround(cw * scale)), 1, options.box);
  const uint32_t h = std::clamp<uint32_t>(
      static_cast<uint32_t>(std::lround(ch * scale)), 1, options.box);
  Image small = ResizeWindow(&image.pixels[size_t{y0} * image.width + x0],
                             image.width, cw, ch, w, h);

  Image out(kMnistSide, kMnistSide, border);
  const uint32_t ox = (kMnistSide - w) / 2, oy = (kMnistSide - h) / 2;
  for (uint32_t y = 0; y < h; ++y) {
    for (uint32_t x = 0; x < w; ++x) out.at(ox + x, oy + y) = small.at(x, y);
  }
  invert_all(out);

  if (options.stretch_contrast) {
    const int background = invert ? 255 - border : border;
    const int top = *std::max_element(out.pixels.begin(), out.pixels.end());
    if (top > background) {
      const int range = top - background;
      for (uint8_t& p : out.pixels) {
        const int v = std::max(0, int{p} - background);
        p = static_cast<uint8_t>((v * 255 + range / 2) / range);
      }
    }
  }
  return out;
}

absl::StatusOr<Image> DecodeToMnist28(absl::Span<const uint8_t> bytes,
                                      const MnistOptions& options) {
  DecodeOptions decode;
  decode.jpeg_min_long_side = options.decode_min_long_side;
  TB_ASSIGN_OR_RETURN(Image image, DecodeImage(bytes, decode));
  return ToMnist28(image, options);
}

}  // namespace trainbus::data
