#include "actors/data/mnist28.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace trainbus::data {
namespace {

// For each output index along one axis, the source indices it covers and
// their weights (overlap length / scale), which sum to 1.
struct Tap {
  uint32_t first;  // first source index
  std::vector<float> weights;
};

std::vector<Tap> AreaTaps(uint32_t in, uint32_t out) {
  std::vector<Tap> taps(out);
  const double scale = static_cast<double>(in) / out;
  for (uint32_t o = 0; o < out; ++o) {
    const double lo = o * scale, hi = (o + 1) * scale;
    uint32_t first = static_cast<uint32_t>(std::floor(lo));
    uint32_t last = std::min<uint32_t>(
        in - 1, static_cast<uint32_t>(std::ceil(hi)) - 1);
    taps[o].first = first;
    for (uint32_t s = first; s <= last; ++s) {
      const double overlap =
          std::min<double>(hi, s + 1.0) - std::max<double>(lo, s);
      taps[o].weights.push_back(static_cast<float>(overlap / scale));
    }
  }
  return taps;
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
  std::vector<Tap> xt = AreaTaps(in.width, out_w);
  std::vector<Tap> yt = AreaTaps(in.height, out_h);
  // Horizontal pass over every source row, then vertical: each source pixel
  // is touched once, which matters for multi-megapixel photos.
  std::vector<float> rows(size_t{in.height} * out_w);
  for (uint32_t y = 0; y < in.height; ++y) {
    const uint8_t* src = &in.pixels[size_t{y} * in.width];
    float* dst = &rows[size_t{y} * out_w];
    for (uint32_t o = 0; o < out_w; ++o) {
      const Tap& t = xt[o];
      float sum = 0;
      for (size_t k = 0; k < t.weights.size(); ++k) {
        sum += t.weights[k] * src[t.first + k];
      }
      dst[o] = sum;
    }
  }
  Image out(out_w, out_h);
  std::vector<float> acc(out_w);
  for (uint32_t o = 0; o < out_h; ++o) {
    const Tap& t = yt[o];
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (size_t k = 0; k < t.weights.size(); ++k) {
      const float w = t.weights[k];
      const float* row = &rows[size_t{t.first + k} * out_w];
      for (uint32_t x = 0; x < out_w; ++x) acc[x] += w * row[x];
    }
    for (uint32_t x = 0; x < out_w; ++x) {
      out.at(x, o) = static_cast<uint8_t>(
          std::clamp(std::lround(acc[x]), 0L, 255L));
    }
  }
  return out;
}

absl::StatusOr<Image> ToMnist28(const Image& image,
                                const MnistOptions& options) {
  if (image.width == 0 || image.height == 0 ||
      image.pixels.size() != size_t{image.width} * image.height) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ToMnist28: image is ", image.width, " x ", image.height, " with ",
        image.pixels.size(), " pixel bytes; it must be non-empty and complete"));
  }
  if (options.box == 0 || options.box > kMnistSide) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ToMnist28: box is ", options.box, "; it must be 1..", kMnistSide));
  }
  const uint8_t border = MedianOfBorder(image);
  const bool invert = options.invert == Inversion::kAlways ||
                      (options.invert == Inversion::kAuto && border > 127);
  Image work = image;
  if (invert) {
    for (uint8_t& p : work.pixels) p = static_cast<uint8_t>(255 - p);
  }
  const int background = invert ? 255 - border : border;
  // Already a 28x28 sample (e.g. an exported Fashion-MNIST image): trimming
  // would re-centre and re-scale it by a pixel or two, so leave it be.
  if (work.width == kMnistSide && work.height == kMnistSide) return work;

  // Bounding box of the content.
  uint32_t x0 = 0, y0 = 0, x1 = work.width, y1 = work.height;  // [x0, x1)
  if (options.trim) {
    uint32_t bx0 = work.width, by0 = work.height, bx1 = 0, by1 = 0;
    for (uint32_t y = 0; y < work.height; ++y) {
      for (uint32_t x = 0; x < work.width; ++x) {
        if (std::abs(int{work.at(x, y)} - background) > options.trim_threshold) {
          bx0 = std::min(bx0, x);
          bx1 = std::max(bx1, x + 1);
          by0 = std::min(by0, y);
          by1 = std::max(by1, y + 1);
        }
      }
    }
    if (bx1 > bx0) {  // else: nothing stands out; keep the whole image
      x0 = bx0, x1 = bx1, y0 = by0, y1 = by1;
    }
  }
  Image crop(x1 - x0, y1 - y0);
  for (uint32_t y = y0; y < y1; ++y) {
    std::copy(&work.pixels[size_t{y} * work.width + x0],
              &work.pixels[size_t{y} * work.width + x1],
              &crop.pixels[size_t{y - y0} * crop.width]);
  }

  // Longer side -> box, aspect kept (at least one pixel on the short side).
  const double scale =
      static_cast<double>(options.box) / std::max(crop.width, crop.height);
  const uint32_t w = std::clamp<uint32_t>(
      static_cast<uint32_t>(std::lround(crop.width * scale)), 1, options.box);
  const uint32_t h = std::clamp<uint32_t>(
      static_cast<uint32_t>(std::lround(crop.height * scale)), 1, options.box);
  Image small = ResizeArea(crop, w, h);

  Image out(kMnistSide, kMnistSide, static_cast<uint8_t>(background));
  const uint32_t ox = (kMnistSide - w) / 2, oy = (kMnistSide - h) / 2;
  for (uint32_t y = 0; y < h; ++y) {
    for (uint32_t x = 0; x < w; ++x) out.at(ox + x, oy + y) = small.at(x, y);
  }

  if (options.stretch_contrast) {
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
  absl::StatusOr<Image> image = DecodeImage(bytes);
  if (!image.ok()) return image.status();
  return ToMnist28(*image, options);
}

}  // namespace trainbus::data
