// Decoding images and converting them to 28x28.
//   bazel run -c opt //data:image_benchmark
#include <cstdint>
#include <vector>

#include "data/image.h"
#include "data/mnist28.h"
#include "benchmark/benchmark.h"

namespace trainbus::data {
namespace {

Image Photo(uint32_t w, uint32_t h) {
  Image img(w, h, 245);
  for (uint32_t y = h / 8; y < h * 7 / 8; ++y) {
    for (uint32_t x = w / 4; x < w * 3 / 4; ++x) {
      img.at(x, y) = static_cast<uint8_t>(40 + (x * 7 + y * 3) % 60);
    }
  }
  return img;
}

void Decode(benchmark::State& state, const std::vector<uint8_t>& bytes) {
  for (auto _ : state) {
    absl::StatusOr<Image> img = DecodeImage(bytes);
    if (!img.ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(img->pixels.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DecodePng28(benchmark::State& state) {
  Decode(state, *EncodePng(Photo(28, 28)));
}
BENCHMARK(BM_DecodePng28);

void BM_DecodeJpeg28(benchmark::State& state) {
  Decode(state, *EncodeJpeg(Photo(28, 28)));
}
BENCHMARK(BM_DecodeJpeg28);

void BM_DecodePgm28(benchmark::State& state) {
  Decode(state, EncodePgm(Photo(28, 28)));
}
BENCHMARK(BM_DecodePgm28);

// A camera-sized colour JPEG all the way to a 28x28 sample.
void BM_DecodeToMnist28Jpeg640x480(benchmark::State& state) {
  Image gray = Photo(640, 480);
  std::vector<uint8_t> rgb;
  for (uint8_t p : gray.pixels) rgb.insert(rgb.end(), {p, p, uint8_t(p / 2)});
  std::vector<uint8_t> jpg = *EncodeJpeg(640, 480, 3, rgb, 90);
  for (auto _ : state) {
    absl::StatusOr<Image> img = DecodeToMnist28(jpg);
    benchmark::DoNotOptimize(img->pixels.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeToMnist28Jpeg640x480)->Unit(benchmark::kMicrosecond);

void BM_ToMnist28(benchmark::State& state) {
  Image img = Photo(state.range(0), state.range(0) * 3 / 4);
  for (auto _ : state) {
    absl::StatusOr<Image> out = ToMnist28(img);
    benchmark::DoNotOptimize(out->pixels.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ToMnist28)->Arg(56)->Arg(640)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace trainbus::data

BENCHMARK_MAIN();
